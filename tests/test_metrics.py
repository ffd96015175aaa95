import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import langevin_jax as lj
from langevin_jax import metrics
from langevin_jax.metrics import _clouds, sinkhorn as metrics_sinkhorn

# GeomLoss reference values (a copy of ../shared/reference/sinkhorn, vendored so CI always has it)
REF = Path(__file__).resolve().parent / "data" / "sinkhorn_reference"


def _reference_cases():
    if not (REF / "values.json").exists():
        return []
    cases = json.loads((REF / "values.json").read_text())["cases"]
    return [(name, float(b), v) for name, c in cases.items()
            for b, v in c["geomloss_value"].items()]


@pytest.mark.skipif(not (REF / "values.json").exists(), reason="reference data absent")
@pytest.mark.parametrize("name, blur, expected", _reference_cases())
def test_sinkhorn_matches_geomloss_reference(name, blur, expected):
    data = np.load(REF / f"{name}.npz")
    x, y = jnp.asarray(data["x"], jnp.float32), jnp.asarray(data["y"], jnp.float32)
    res = metrics.sinkhorn_divergence(x, y, blur=blur)
    assert bool(res.converged)
    assert abs(float(res.value) - expected) <= 5e-3 * abs(expected)


def test_sinkhorn_nonconvergence_is_visible():
    x = jax.random.normal(jax.random.key(0), (200, 5))
    y = jax.random.normal(jax.random.key(1), (200, 5)) + 1.0
    res = metrics.sinkhorn_divergence(x, y, blur=0.01, max_iterations=20, block=10)
    assert not bool(res.converged)
    with pytest.raises(RuntimeError, match="did not converge"):
        res.checked()
    ok = metrics.sinkhorn_divergence(x, y, blur=0.5)
    assert bool(ok.converged) and ok.checked() > 0


def test_sinkhorn_properties_and_batching():
    keys = jax.random.split(jax.random.key(2), 4)
    xs = jax.vmap(lambda k: jax.random.normal(k, (100, 3)))(keys)
    ys = xs[::-1] + 0.5
    loop = [metrics.sinkhorn_divergence(xs[i], ys[i], blur=0.1) for i in range(4)]
    for method in ("map", "vmap"):
        batched = metrics.sinkhorn_divergence_batched(xs, ys, method=method, blur=0.1)
        np.testing.assert_allclose(batched.value, [float(r.value) for r in loop], rtol=1e-3)
        assert bool(jnp.all(batched.converged)) and batched.value.shape == (4,)
    with pytest.raises(ValueError, match="num_pairs"):
        metrics.sinkhorn_divergence_batched(xs, ys[:2])
    # S(x, x) = 0 and S is symmetric
    same = metrics.sinkhorn_divergence(xs[0], xs[0], blur=0.1)
    assert abs(float(same.value)) < 1e-4
    sym = metrics.sinkhorn_divergence(ys[0], xs[0], blur=0.1)
    np.testing.assert_allclose(float(sym.value), float(loop[0].value), rtol=1e-3)
    # at large blur the divergence tends to the squared mean difference / 2 (MMD-like)
    big = metrics.sinkhorn_divergence(xs[0], xs[0] + 1.0, blur=100.0)
    np.testing.assert_allclose(float(big.value), 0.5 * 3 * 1.0**2, rtol=0.02)


def test_sinkhorn_weights():
    x = jnp.array([[0.0], [1.0], [5.0]])
    y = jnp.array([[0.0], [1.0]])
    # weight 0 (nearly) on the far point makes the clouds equal
    res = metrics.sinkhorn_divergence(x, y, blur=0.05, x_weights=jnp.array([1.0, 1.0, 1e-9]))
    assert abs(float(res.value)) < 1e-3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=jnp.full((4, 2), jnp.nan), y=jnp.zeros((4, 2))), "x contains NaN"),
        (dict(x=jnp.zeros((4, 2)), y=jnp.zeros((4, 3))), "same dimension"),
        (dict(x=jnp.zeros((1, 2)), y=jnp.zeros((4, 2))), "at least 2 points"),
        (dict(x=jnp.zeros(4), y=jnp.zeros((4, 2))), r"shape \[n, d\]"),
        (dict(x=jnp.zeros((4, 2)), y=jnp.zeros((4, 2)), blur=0.0), "blur"),
        (dict(x=jnp.zeros((4, 2)), y=jnp.zeros((4, 2)), x_weights=jnp.ones(3)), "x_weights"),
    ],
)
def test_sinkhorn_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.sinkhorn_divergence(**kwargs)


def _gauss_kernel_mean(m, s2, ell):
    # E exp(-|X - Y|^2 / (2 ell^2)) with X - Y ~ N(m, s2 I_d)
    d = m.shape[0]
    v = ell**2 + s2
    return (ell**2 / v) ** (d / 2) * math.exp(-float(m @ m) / (2 * v))


def test_mmd_unbiased_closed_form():
    d, n, reps, ell = 3, 200, 300, 1.5
    shift = jnp.array([0.5, 0.0, 0.0])
    keys = jax.random.split(jax.random.key(3), reps)

    def one(k):
        kx, ky = jax.random.split(k)
        x = jax.random.normal(kx, (n, d))
        y = 1.2 * jax.random.normal(ky, (n, d)) + shift
        return metrics.mmd_squared(x, y, ell)

    vals = np.asarray(jax.lax.map(one, keys))
    exact = (_gauss_kernel_mean(jnp.zeros(d), 2.0, ell)
             + _gauss_kernel_mean(jnp.zeros(d), 2 * 1.44, ell)
             - 2 * _gauss_kernel_mean(shift, 1.0 + 1.44, ell))
    assert abs(vals.mean() - exact) < 5 * vals.std() / math.sqrt(reps)


def _e_abs_normal(mu, s):
    return s * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * s**2)) + mu * (1 - 2 * norm.cdf(-mu / s))


def test_energy_distance_closed_form_1d():
    n, reps = 300, 200
    keys = jax.random.split(jax.random.key(4), reps)

    def one(k):
        kx, ky = jax.random.split(k)
        return metrics.energy_distance(jax.random.normal(kx, (n, 1)),
                                       2.0 * jax.random.normal(ky, (n, 1)) + 1.0)

    vals = np.asarray(jax.lax.map(one, keys))
    exact = (2 * _e_abs_normal(1.0, math.sqrt(5)) - _e_abs_normal(0, math.sqrt(2))
             - _e_abs_normal(0, math.sqrt(8)))
    assert abs(vals.mean() - exact) < 5 * vals.std() / math.sqrt(reps)


def test_gaussian_fit_w2_closed_form_and_bias():
    with jax.enable_x64(True):
        d, n = 4, 200_000
        x = 2.0 * jax.random.normal(jax.random.key(5), (n, d), jnp.float64) + 1.0
        w2 = metrics.gaussian_fit_w2(x, jnp.zeros(d), jnp.eye(d))
        # exact W2 between N(1, 4 I) and N(0, I) = sqrt(d * 1 + d * (2 - 1)^2)
        assert abs(float(w2) - math.sqrt(2 * d)) < 0.01
        reps, n_small = 300, 100
        keys = jax.random.split(jax.random.key(6), reps)
        w2sq = np.asarray(jax.vmap(lambda k: metrics.gaussian_fit_w2(
            jax.random.normal(k, (n_small, d), jnp.float64), jnp.zeros(d), jnp.eye(d)) ** 2)(keys))
        bias = metrics.gaussian_fit_w2_bias(d, n_small)
        assert abs(w2sq.mean() - bias) < 5 * w2sq.std() / math.sqrt(reps) + 0.15 * bias


def test_gaussian_fit_w2_bias_has_one_implementation():
    from langevin_jax import gaussian_dsm

    with jax.enable_x64(True):
        d, n = 5, 40
        # the general formula at Sigma = C = I is the isotropic closed form
        general = metrics.gaussian_fit_w2_bias(d, n, data_covariance=jnp.eye(d), sampled_covariance=jnp.eye(d))
        assert float(general) == pytest.approx(d / n + d * (d + 1) / (4 * (n - 1)), rel=1e-13)
        assert metrics.gaussian_fit_w2_bias(d, n) == pytest.approx(float(general), rel=1e-13)
        # paper 2's spelling calls it: equal, bit for bit, on an anisotropic pair
        sig = jnp.diag(jnp.linspace(0.5, 3.0, d))
        c = 0.7 * sig + 0.1 * jnp.ones((d, d))
        assert float(gaussian_dsm.gaussian_fit_w2_bias(sig, c, n)) == float(
            metrics.gaussian_fit_w2_bias(d, n, data_covariance=sig, sampled_covariance=c))
    # the general form traces (jit over vmap of the sampled covariance's scale)
    bias = lambda c: metrics.gaussian_fit_w2_bias(3, 20, data_covariance=jnp.eye(3),  # noqa: E731
                                                  sampled_covariance=c * jnp.eye(3))
    cs = jnp.array([0.5, 1.0])
    np.testing.assert_allclose(jax.jit(jax.vmap(bias))(cs), jnp.stack([bias(c) for c in cs]), rtol=1e-6)
    with pytest.raises(ValueError, match="both data_covariance and sampled_covariance"):
        metrics.gaussian_fit_w2_bias(d, n, data_covariance=jnp.eye(d))
    with pytest.raises(ValueError, match="data_covariance must have shape"):
        metrics.gaussian_fit_w2_bias(3, n, data_covariance=jnp.eye(d), sampled_covariance=jnp.eye(d))


def test_gaussian_fit_kl_of_collapsed_samples_is_inf():
    # 3 distinct points in d = 5: the fitted covariance is singular, so the KL is +inf, not NaN
    pts = jnp.repeat(jnp.eye(5)[:3], 4, axis=0)
    kl = metrics.gaussian_fit_kl(pts, jnp.zeros(5), jnp.eye(5))
    assert jnp.isinf(kl) and kl > 0


def test_batched_sinkhorn_reuses_its_compiled_program():
    xs = jax.random.normal(jax.random.key(0), (3, 20, 2))
    ys = xs + 1.0
    a = metrics.sinkhorn_divergence_batched(xs, ys, blur=0.5)
    fn = metrics_sinkhorn._batched_sinkhorn_fn("map" if jax.default_backend() == "cpu" else "vmap", (("blur", 0.5),))
    b = metrics.sinkhorn_divergence_batched(xs, ys, blur=0.5)
    assert fn._cache_size() == 1  # one compilation for both calls
    np.testing.assert_array_equal(np.asarray(a.value), np.asarray(b.value))


@pytest.mark.parametrize("bad_hat, match", [
    (lambda x: x * jnp.nan, "returned NaN .* at 1000 of 1000 sampled points"),
    (lambda x: jnp.where(x[0] > 0, jnp.nan, 1.0) * x, "returned NaN .* at [45][0-9][0-9] of 1000"),
])
def test_score_error_never_reads_nan_as_zero(bad_hat, match):
    # (issue 13, item 1) NaN scores used to give "0 (no sample hit ...)"
    t = lj.IsotropicGaussian.create(jnp.zeros(3))
    with pytest.raises(ValueError, match=match):
        metrics.score_error(jax.random.key(0), bad_hat, t.score, t, 1000)


def test_score_error_of_an_infinite_score_is_infinite():
    # (issue 13, item 1) an infinite score gave value 0.0 and log_value nan
    t = lj.IsotropicGaussian.create(jnp.zeros(3))
    est = metrics.score_error(jax.random.key(0), lambda x: jnp.full_like(x, jnp.inf), t.score, t, 1000)
    assert est.value == math.inf and est.log_value == math.inf


@pytest.mark.parametrize("fn", [metrics.gaussian_fit_kl, metrics.gaussian_fit_w2])
@pytest.mark.parametrize("mean, cov, match", [
    (jnp.zeros(2), -jnp.eye(2), "covariance must be positive definite, smallest eigenvalue -1"),
    (jnp.zeros(2), jnp.array([[1.0, 5.0], [-5.0, 1.0]]), "covariance must be symmetric"),
    (jnp.zeros(2), jnp.full((2, 2), jnp.nan), "covariance contains NaN"),
    (jnp.array([0.0, jnp.nan]), jnp.eye(2), "mean contains NaN"),
    (jnp.zeros(2), jnp.eye(3), r"covariance must have shape \(2, 2\)"),
    (jnp.zeros(3), jnp.eye(2), r"mean must have shape \(2,\)"),
])
def test_gaussian_fit_checks_the_reference(fn, mean, cov, match):
    # (issue 13, item 6) a bad reference gave KL = +inf (like a singular fit) or W2 = 0
    x = jax.random.normal(jax.random.key(0), (100, 2))
    with pytest.raises(ValueError, match=match):
        fn(x, mean, cov)


# --------------------------------------------------------------------------------------
# issue 13, item 11 (bad-input audit, lower-impact defects)
# --------------------------------------------------------------------------------------


@pytest.fixture
def no_sinkhorn_compile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("compiled before validating input")

    monkeypatch.setattr(metrics_sinkhorn, "_sinkhorn_impl", fail)


def test_sinkhorn_refuses_dense_costs_over_the_memory_limit(no_sinkhorn_compile):
    # 20000 x 20000 at d = 2 compiled, then died with XLA RESOURCE_EXHAUSTED asking 11.2 GB
    x = jnp.zeros((20_000, 2))
    with pytest.raises(ValueError, match=r"needs about 11\.2 GB .*max_memory_bytes.*batch_size"):
        metrics.sinkhorn_divergence(x, x + 1.0)
    # the limit is a setting; the dense estimate scales with n m, n^2 and m^2
    small = jnp.zeros((100, 2))
    with pytest.raises(ValueError, match="max_memory_bytes=1000"):
        metrics.sinkhorn_divergence(small, small, max_memory_bytes=1000)
    with pytest.raises(ValueError, match="max_memory_bytes"):
        metrics.sinkhorn_divergence_batched(jnp.zeros((2, 100, 2)), jnp.zeros((2, 100, 2)),
                                            max_memory_bytes=1000)
    for name, bad in [("max_memory_bytes", 0), ("max_memory_bytes", float("nan")), ("max_memory_bytes", True),
                      ("batch_size", 0), ("batch_size", 2.5)]:
        with pytest.raises(ValueError, match=name):
            metrics.sinkhorn_divergence(small, small, **{name: bad})


def test_batched_sinkhorn_auto_falls_back_to_map_when_vmap_does_not_fit():
    # 340 pairs of 500 points (the memorization experiment) fit under vmap; 1000 pairs do not
    limit = metrics.SINKHORN_MAX_MEMORY_BYTES
    assert metrics_sinkhorn._batched_method("auto", 340, 500, 500, 4, None, limit, "gpu") == "vmap"
    assert metrics_sinkhorn._batched_method("auto", 1000, 500, 500, 4, None, limit, "gpu") == "map"
    assert metrics_sinkhorn._batched_method("auto", 1000, 500, 500, 4, None, None, "gpu") == "vmap"
    assert metrics_sinkhorn._batched_method("auto", 1000, 500, 500, 4, None, limit, "cpu") == "map"
    with pytest.raises(ValueError, match=r"method='vmap', 1000 pairs\) of 500 x 500 points needs about 7 GB"):
        metrics_sinkhorn._batched_method("vmap", 1000, 500, 500, 4, None, limit, "gpu")


def test_sinkhorn_online_batch_size_matches_dense_and_passes_the_guard():
    x = jax.random.normal(jax.random.key(0), (120, 3))
    y = jax.random.normal(jax.random.key(1), (90, 3)) + 0.5
    dense = metrics.sinkhorn_divergence(x, y, blur=0.1)
    online = metrics.sinkhorn_divergence(x, y, blur=0.1, batch_size=32, max_memory_bytes=200_000)
    assert bool(online.converged)
    np.testing.assert_allclose(float(online.value), float(dense.value), rtol=1e-4)
    # the dense program would not fit in 200 kB: the guard counts the online blocks only
    with pytest.raises(ValueError, match="max_memory_bytes"):
        metrics.sinkhorn_divergence(x, y, blur=0.1, max_memory_bytes=200_000)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_sinkhorn_cost_matrices_use_full_float32_precision(batch_size):
    # on a GPU a DEFAULT-precision float32 matmul runs in TF32 (relative error 2.45e-3 against
    # the GeomLoss references, 9.2e-4 on the CPU); CI has no GPU, so check the lowered program
    x = jax.random.normal(jax.random.key(0), (40, 3))
    y = x + 1.0
    fn = jax.jit(lambda u, v: metrics.sinkhorn_divergence(u, v, blur=0.1, batch_size=batch_size).value)
    text = fn.lower(x, y).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots, "expected the cost as a matrix product"
    assert all("precision = [HIGHEST, HIGHEST]" in line for line in dots), dots
    # MMD and the energy distance share the squared-distance helper
    jaxpr = jax.make_jaxpr(_clouds._sq_dists)(x, y)
    precisions = [e.params["precision"] for e in jaxpr.eqns if e.primitive.name == "dot_general"]
    assert precisions and all(p == (jax.lax.Precision.HIGHEST,) * 2 for p in precisions)


@pytest.mark.parametrize("call, match", [
    (lambda t: metrics.score_error(0, t.score, t.score, t, 100), "key must be a PRNG key"),
    (lambda t: metrics.score_error(jnp.zeros(3, jnp.uint32), t.score, t.score, t, 100), "key must be a PRNG key"),
    (lambda t: metrics.score_error(jax.random.key(0), t.score, t.score, t, 100, batch_size=0),
     "batch_size must be >= 1"),
    (lambda t: metrics.score_error(jax.random.key(0), t.score, t.score, t, 100, batch_size=1.5),
     "batch_size must be an int"),
    (lambda t: metrics.lipschitz_estimate(0, t.score, jnp.zeros((3, 2))), "key must be a PRNG key"),
    (lambda t: metrics.lipschitz_estimate(jax.random.key(0), t.score, jnp.zeros((0, 2))),
     r"points must contain at least one point"),
    (lambda t: metrics.lipschitz_estimate(jax.random.key(0), t.score, jnp.zeros((3, 2)), num_pairs=0),
     "num_pairs must be >= 1"),
    (lambda t: metrics.lipschitz_estimate(jax.random.key(0), t.score, jnp.zeros((3, 2)), scale=0.0),
     "scale must be > 0"),
])
def test_metrics_name_a_bad_key_batch_size_or_empty_points(call, match):
    t = lj.IsotropicGaussian.create(jnp.zeros(2))
    with pytest.raises(ValueError, match=match):
        call(t)
    # a legacy uint32[2] key still works
    metrics.lipschitz_estimate(jax.random.PRNGKey(0), t.score, jnp.zeros((3, 2)), num_pairs=4)


def test_gaussian_fit_kl_report_drops_and_counts_nonfinite_chains():
    """Issue 15: the experiments' "drop non-finite chains, fit in float64, KL" is one library
    function, tested once: the count is reported and the value equals the fit on the rest."""
    x = np.asarray(jax.random.normal(jax.random.key(0), (400, 3)), np.float64)
    x[[3, 17], 1] = np.nan
    x[50, 0] = np.inf
    rep = metrics.gaussian_fit_kl_report(x, np.zeros(3), np.eye(3))
    assert (rep.num_used, rep.num_dropped) == (397, 3)
    keep = np.all(np.isfinite(x), axis=1)
    with jax.enable_x64(True):
        ref = float(metrics.gaussian_fit_kl(jnp.asarray(x[keep]), jnp.zeros(3), jnp.eye(3)))
    assert rep.value == ref
    few = metrics.gaussian_fit_kl_report(np.full((5, 3), np.nan), np.zeros(3), np.eye(3))
    assert few == (math.inf, 0, 5)


# --------------------------------------------------------------------------------------
# nearest_distance
# --------------------------------------------------------------------------------------


def _nearest_reference(x, points):
    """Brute force in float64: every pair's distance, then the minimum per row."""
    x, points = np.asarray(x, np.float64), np.asarray(points, np.float64)
    return np.sqrt(((x[:, None, :] - points[None, :, :]) ** 2).sum(-1)).min(1)


@pytest.mark.parametrize("n, m, d, block", [(50, 37, 3, 8), (10, 37, 3, 37), (10, 37, 3, 1000),
                                            (7, 1, 4, 16), (1, 5, 2, 2), (30, 64, 10, 16)])
def test_nearest_distance_matches_brute_force(n, m, d, block):
    x = np.asarray(jax.random.normal(jax.random.key(0), (n, d)))
    points = np.asarray(jax.random.normal(jax.random.key(1), (m, d)))
    got = metrics.nearest_distance(x, points, block=block)
    assert got.shape == (n,) and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), _nearest_reference(x, points), rtol=1e-5, atol=1e-6)


def test_nearest_distance_ties_and_points_on_the_reference_set():
    points = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [1.0, 0.0]], np.float32)  # a repeated point
    x = np.array([[0.0, 0.0],        # equidistant (1) from points 0 and 1: a tie
                  [1.0, 0.0],        # on points 0 and 3
                  [0.0, 1.5],        # point 2 (1.5) beats the tied pair 0, 1 (sqrt(3.25))
                  [100.0, 100.0]], np.float32)
    ref = _nearest_reference(x, points)
    for block in (1, 2, 3, 4):  # the tied points in one block, or split across blocks
        got = np.asarray(metrics.nearest_distance(x, points, block=block))
        np.testing.assert_allclose(got, ref, rtol=1e-6)
        assert got[1] == 0.0  # exactly 0 on a reference point, not sqrt(rounding)
    # a sample sitting on a point far from the origin: the |x|^2 + |p|^2 - 2 x.p form alone
    # would give ~sqrt(eps) |x|; the direct recomputation gives 0
    far = jnp.full((1, 50), 30.0)
    assert float(metrics.nearest_distance(far, jnp.concatenate([far + 1.0, far]), block=1)[0]) == 0.0


def test_nearest_distance_under_jit_and_vmap():
    x = jax.random.normal(jax.random.key(0), (3, 20, 4))
    points = jax.random.normal(jax.random.key(1), (33, 4))
    eager = np.stack([np.asarray(metrics.nearest_distance(xi, points, block=8)) for xi in x])
    jitted = jax.jit(jax.vmap(lambda xi: metrics.nearest_distance(xi, points, block=8)))(x)
    np.testing.assert_allclose(np.asarray(jitted), eager, rtol=1e-6)
    # integer inputs compute in float32
    got = metrics.nearest_distance(jnp.array([[0, 0]]), jnp.array([[3, 4], [6, 8]]))
    assert got.dtype == jnp.float32 and float(got[0]) == 5.0
    with jax.enable_x64(True):  # float64 in, float64 out
        x64 = np.asarray(x[0], np.float64)
        got = metrics.nearest_distance(x64, np.asarray(points, np.float64), block=8)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), _nearest_reference(x64, points), rtol=1e-12)


@pytest.mark.parametrize("x, points, kwargs, match", [
    (np.zeros(3), np.zeros((2, 3)), {}, r"x must have shape \[n, d\]"),
    (np.zeros((2, 3)), np.zeros((2, 3, 1)), {}, r"points must have shape \[m, d\]"),
    (np.zeros((0, 3)), np.zeros((2, 3)), {}, "x must contain at least one point"),
    (np.zeros((2, 3)), np.zeros((0, 3)), {}, "points must contain at least one point"),
    (np.zeros((2, 3)), np.zeros((2, 4)), {}, "same dimension d, got 3 and 4"),
    (np.array([[0.0, np.nan]]), np.zeros((2, 2)), {}, "x contains NaN"),
    (np.zeros((2, 2)), np.array([[np.inf, 0.0]]), {}, "points contains NaN or inf"),
    (np.zeros((2, 2), np.complex64), np.zeros((2, 2)), {}, "x must be real"),
    (np.zeros((2, 2)), np.zeros((2, 2)), {"block": 0}, "block must be >= 1"),
    (np.zeros((2, 2)), np.zeros((2, 2)), {"block": 2.0}, "block must be an int"),
])
def test_nearest_distance_names_bad_inputs(x, points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.nearest_distance(x, points, **kwargs)


def test_sinkhorn_with_floor_splits_one_batched_call():
    key = jax.random.key(11)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    samples = jax.random.normal(k1, (3, 60, 2)) + jnp.array([0.0, 1.0, 2.0])[:, None, None]
    refs = jax.random.normal(k2, (3, 60, 2))
    floor_x, floor_y = jax.random.normal(k3, (2, 60, 2)), jax.random.normal(k4, (2, 60, 2))
    res = metrics.sinkhorn_with_floor(samples, refs, floor_x, floor_y, blur=0.1)
    both = metrics.sinkhorn_divergence_batched(jnp.concatenate([samples, floor_x]),
                                               jnp.concatenate([refs, floor_y]), blur=0.1)
    np.testing.assert_array_equal(np.concatenate([res.divergence.value, res.floor.value]), both.value)
    assert res.divergence.value.shape == (3,) and res.floor.value.shape == (2,)
    assert bool(jnp.all(res.divergence.converged)) and bool(jnp.all(res.floor.converged))
    # shifted sample sets score above the floor, increasingly with the shift
    v = np.asarray(res.divergence.value)
    assert v[0] < v[1] < v[2] and v[1] > np.max(np.asarray(res.floor.value))
    # traced: the eager numbers inside jit
    jitted = jax.jit(lambda x: metrics.sinkhorn_with_floor(x, refs, floor_x, floor_y, blur=0.1))(samples)
    np.testing.assert_allclose(jitted.divergence.value, res.divergence.value, rtol=1e-6)
    np.testing.assert_allclose(jitted.floor.value, res.floor.value, rtol=1e-6)
    with pytest.raises(ValueError, match="pair up"):
        metrics.sinkhorn_with_floor(samples, refs[:2], floor_x, floor_y)
    with pytest.raises(ValueError, match="floor_samples must have the points and d of samples"):
        metrics.sinkhorn_with_floor(samples, refs, floor_x[:, :30], floor_y)
    with pytest.raises(ValueError, match="samples"):
        metrics.sinkhorn_with_floor(samples[0], refs, floor_x, floor_y)


# --------------------------------------------------------------------------------------
# issue 22: exact under translation and scale
# --------------------------------------------------------------------------------------


def _clouds_2d():
    x = jax.random.normal(jax.random.key(0), (300, 2))
    y = jax.random.normal(jax.random.key(1), (300, 2)) + 0.5
    return x, y


@pytest.mark.parametrize("shift, batch_size", [(1e3, None), (1e4, None), (1e4, 64)])
def test_sinkhorn_is_exact_under_translation(shift, batch_size):
    # before: 0.2357 at 1e3 and 5e-5 at 1e4 for 0.2846, "converged": the costs |x|^2 + |y|^2 -
    # 2 x.y of the uncentred clouds cancelled to ulp(|x|^2) ~ |x - y|^2
    x, y = _clouds_2d()
    xs, ys = x + shift, y + shift  # float32: the points are rounded to ulp(shift)
    # (x + s) - s is exact in float32 (Sterbenz): the very clouds that were shifted, at the origin
    ref = metrics.sinkhorn_divergence(xs - shift, ys - shift, blur=0.05, batch_size=batch_size)
    got = metrics.sinkhorn_divergence(xs, ys, blur=0.05, batch_size=batch_size)
    assert bool(ref.converged) and bool(got.converged)
    np.testing.assert_allclose(float(got.value), float(ref.value), rtol=2e-5)
    # and the unrounded clouds, to the rounding of the inputs (ulp(1e4) ~ 1e-3)
    orig = metrics.sinkhorn_divergence(x, y, blur=0.05, batch_size=batch_size)
    np.testing.assert_allclose(float(got.value), float(orig.value), rtol=5e-4)


@pytest.mark.parametrize("shift", [1e3, 1e4])
def test_nearest_distance_is_exact_far_from_the_origin(shift):
    # before: up to 9.2 at shift 1e4 (and 0.2 at 1e3) for true distances 0.01: the matrix form
    # |x|^2 + |p|^2 - 2 x.p of uncentred points cannot tell the points within ~2.5 apart, and
    # the wrong one was picked (its distance then recomputed exactly)
    points = shift + 10.0 * jax.random.uniform(jax.random.key(2), (200, 3))
    x = points[:50] + jnp.array([0.01, 0.0, 0.0])
    ref = _nearest_reference(x, points)  # float64 brute force on the float32 inputs
    assert np.all(np.abs(ref - 0.01) < 1e-3)  # 0.01 up to the rounding of 1e4 + 0.01
    for block in (1024, 16):
        got = np.asarray(metrics.nearest_distance(x, points, block=block))
        np.testing.assert_allclose(got, ref, rtol=1e-6)
    jitted = jax.jit(jax.vmap(lambda xi: metrics.nearest_distance(xi, points, block=16)))(x.reshape(5, 10, 3))
    np.testing.assert_allclose(np.asarray(jitted).reshape(-1), ref, rtol=1e-6)
    # the memorisation report (centred by the training mean) agrees
    rep = metrics.memorization_report(x, points)
    np.testing.assert_allclose(np.asarray(rep.per_sample.nearest_distance), ref, rtol=1e-6)


def _large_blur_limit(x, y, blur):
    """``|m_x - m_y|^2 / 2 + |Sigma_x - Sigma_y|_F^2 / (4 blur^2)`` in float64 (uniform weights):
    the debiased divergence (cost ``|x - y|^2 / 2``, ``eps = blur^2``) to ``O(blur^-4)``."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dm = x.mean(0) - y.mean(0)
    dcov = np.cov(x.T, bias=True) - np.cov(y.T, bias=True)
    return 0.5 * dm @ dm + np.sum(dcov**2) / (4 * blur**2)


def test_sinkhorn_large_blur_is_its_analytic_limit():
    # before: 0.859 at blur 1e3, -1.99 at 1e4, -1.5e5 at 1e6 for a limit of 1.5, "converged":
    # a float32 log-domain Sinkhorn loses ~ blur^2 ulp(log n) in every dual potential
    x = jax.random.normal(jax.random.key(3), (100, 3))
    y = 1.3 * jax.random.normal(jax.random.key(4), (80, 3)) + jnp.array([1.0, -0.5, 0.2])
    for blur in (1e3, 1e6, 1e18):
        res = metrics.sinkhorn_divergence(x, y, blur=blur)
        assert bool(res.converged)
        np.testing.assert_allclose(float(res.value), _large_blur_limit(x, y, blur), rtol=1e-5)
    # blur -> inf: half the squared distance between the means
    half_sq = 0.5 * float(np.sum((np.asarray(x, np.float64).mean(0) - np.asarray(y, np.float64).mean(0)) ** 2))
    np.testing.assert_allclose(float(metrics.sinkhorn_divergence(x, y, blur=1e6).value), half_sq, rtol=1e-5)
    # the closed form takes over from the Sinkhorn solve without a step: here at blur ~ 19.4
    # (2 blur^2 = 10 x the cost bound 75.3); the two agree to the float32 Sinkhorn's rounding
    below = metrics.sinkhorn_divergence(x, y, blur=19.0)
    above = metrics.sinkhorn_divergence(x, y, blur=19.8)
    assert int(below.num_iterations) > 0 and bool(below.converged) and int(above.num_iterations) == 0
    np.testing.assert_allclose(float(below.value), _large_blur_limit(x, y, 19.0), rtol=2e-4)
    np.testing.assert_allclose(float(above.value), _large_blur_limit(x, y, 19.8), rtol=1e-5)
    # traced: under jit, vmap and the batched forms, blur and clouds traced or not
    jitted = jax.jit(lambda u, v, b: metrics.sinkhorn_divergence(u, v, blur=b).value)(x, y, 1e6)
    np.testing.assert_allclose(float(jitted), half_sq, rtol=1e-5)
    ys = jnp.stack([y, y + 1.0])
    for method in ("map", "vmap"):
        batched = metrics.sinkhorn_divergence_batched(jnp.stack([x, x]), ys, method=method, blur=1e6)
        assert bool(jnp.all(batched.converged))
        np.testing.assert_allclose(np.asarray(batched.value),
                                   [_large_blur_limit(x, yi, 1e6) for yi in ys], rtol=1e-5)


def test_sinkhorn_refuses_a_blur_too_small_for_the_clouds():
    # before: -inf or NaN (converged False) or, at random, a number, from overflow in the solver
    x, y = _clouds_2d()
    with pytest.raises(ValueError, match=r"blur=1e-12 is too small .* A meaningful blur here is >= 1\.3"):
        metrics.sinkhorn_divergence(x, y, blur=1e-12)
    with pytest.raises(ValueError, match=r"blur=1e-12 is too small for pair 1 of the batch \(xs\[1\], ys\[1\]\)"):
        metrics.sinkhorn_divergence_batched(jnp.stack([x, 1e-3 * x]), jnp.stack([y, y]), blur=1e-12)
    # the limit scales with the clouds: 1e-6 is fine at unit scale, not at 1e4
    assert bool(metrics.sinkhorn_divergence(x, y, blur=1e-6).converged)
    with pytest.raises(ValueError, match="blur=1e-06 is too small"):
        metrics.sinkhorn_divergence(1e4 * x, 1e4 * y, blur=1e-6)
    # traced (no refusal possible): flagged as NaN, not converged, and checked() says why
    res = jax.jit(lambda u, v: metrics.sinkhorn_divergence(u, v, blur=1e-12))(x, y)
    assert np.isnan(float(res.value)) and not bool(res.converged) and int(res.num_iterations) == 0
    with pytest.raises(RuntimeError, match="blur is too small"):
        res.checked()


@pytest.mark.parametrize("shift", [1e3, 1e4])
def test_kernel_distances_are_exact_under_translation(shift):
    # issue 22: |x|^2 + |y|^2 - 2 x.y cancels in float32 far from the origin
    kx, ky = jax.random.split(jax.random.key(3))
    x = 0.3 * jax.random.normal(kx, (200, 2))
    y = 0.3 * jax.random.normal(ky, (150, 2)) + 0.2
    for f in (lambda u, v: metrics.mmd_squared(u, v, bandwidth=0.5), metrics.energy_distance):
        base = float(f(x, y))
        # the shifted inputs are rounded to float32 there: compare with those rounded points moved back
        xs, ys = x + shift, y + shift
        moved = float(f(xs - shift, ys - shift))
        assert abs(float(f(xs, ys)) - moved) <= 1e-3 * abs(base) + 1e-6, (shift, float(f(xs, ys)), moved)
