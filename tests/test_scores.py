import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import metrics, scores
from langevin_jax.scores import constructions as score_constructions


@jax.enable_x64(True)
def test_bump_values_and_lipschitz():
    a, c = 1.0, 3.0
    r = jnp.linspace(0.0, 4.0, 40001, dtype=jnp.float64)
    b = scores.bump(r, a, c)
    assert np.all(np.asarray(b[r <= a]) == 1.0) and np.all(np.asarray(b[r >= c]) == 0.0)
    assert np.all((np.asarray(b) >= 0) & (np.asarray(b) <= 1))
    assert np.all(np.diff(np.asarray(b)) <= 0)  # monotone
    slope = np.max(np.abs(np.diff(np.asarray(b)) / np.diff(np.asarray(r))))
    lip = scores.bump_lipschitz(a, c)
    assert slope <= lip * (1 + 1e-3)
    assert slope >= 0.99 * lip  # the bound is attained (at the midpoint)
    np.testing.assert_allclose(scores.bump(2.0, a, c), 0.5, atol=1e-7)
    # smooth: derivatives vanish at the edges, finite everywhere
    g = jax.vmap(jax.grad(lambda x: scores.bump(x, a, c)))(jnp.array([0.5, 1.0, 3.0, 3.5]))
    assert np.all(np.isfinite(g)) and np.all(np.abs(g) < 1e-6)


def _smooth_step_grad_f64(u):
    """``g'(u)`` of the exact smooth step, in float64 log space (0 outside (0, 1))."""
    u = np.asarray(u, np.float64)
    out = np.zeros_like(u)
    m = (u > 0) & (u < 1)
    ui = u[m]
    with np.errstate(divide="ignore", over="ignore"):
        z = 1.0 / (1.0 - ui) - 1.0 / ui
    log_s, log_1ms = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)  # z may be +-inf
    out[m] = np.exp(log_s + log_1ms + np.logaddexp(-2 * np.log(ui), -2 * np.log1p(-ui)))
    return out


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_bump_derivatives_finite_across_the_band(dtype):
    """Issue 13 (GPU): the trap score's Jacobian was ``inf`` next to ``r_out`` on an H100.

    The old ``exp(-1/u) / u**2`` derivative needs denormals; a GPU flushes them. The smooth
    step is now built so that every value and derivative stays in the normal range: check g,
    g' and g'' on a dense grid across the band, including the points where ``exp(-1/u)``
    underflows (u < 1/87 in float32, u < 1/708 in float64) and exact 0 / 1 edges.
    """
    with jax.enable_x64(dtype == jnp.float64):
        tiny = np.logspace(-45 if dtype == jnp.float32 else -320, -0.5, 4000)
        grid = np.concatenate([tiny, np.linspace(0, 1, 20001), 1 - tiny, [-1.0, 2.0]])
        u = jnp.asarray(grid, dtype)
        g = score_constructions._smooth_step(u)
        d1 = jax.vmap(jax.grad(score_constructions._smooth_step))(u)
        d2 = jax.vmap(jax.grad(jax.grad(score_constructions._smooth_step)))(u)
        for name, v in (("g", g), ("g'", d1), ("g''", d2)):
            assert np.all(np.isfinite(np.asarray(v))), name
        assert float(jnp.min(g)) == 0.0 and float(jnp.max(g)) == 1.0
        assert np.all(np.asarray(d1) >= 0) and float(jnp.max(d1)) <= 2.0 * (1 + 1e-5)
        # the derivative is the exact one wherever the exact one is a normal number
        exact = _smooth_step_grad_f64(np.asarray(u, np.float64))
        lo, _ = score_constructions._smooth_step_cutoff(dtype)
        normal = (grid > lo) & (grid < 1 - lo)
        rtol = 1e-4 if dtype == jnp.float32 else 1e-10
        np.testing.assert_allclose(np.asarray(d1, np.float64)[normal], exact[normal],
                                   rtol=rtol, atol=0)
        # where it is cut to 0, the exact derivative is below the smallest normal number
        cut = (np.asarray(d1) == 0) & (grid > 0) & (grid < 1)
        assert np.all(exact[cut] < float(jnp.finfo(dtype).tiny) * 1e8)


def test_trap_and_memorizing_jacobians_finite_near_the_band_edges():
    """The configuration that gave an infinite Jacobian on the GPU, on radii packed at
    ``r_out`` and ``r_in`` (float32 spacing), and the radius derivative the sweeps take."""
    d, alpha, r_in, r_out = 10, 2.0, 4.0, 6.0
    mu = jnp.full((d,), 7.0)
    s = scores.trap_score(mu, r_in, r_out, alpha)
    e = jnp.ones(d) / math.sqrt(d)
    steps = jnp.arange(-400, 401, dtype=jnp.float32) * 4.8e-7  # float32 ulps around 4 and 6
    radii = jnp.concatenate([r_out + steps, r_in + steps, jnp.linspace(3.0, 7.0, 4001)])
    jac = jax.vmap(jax.jacfwd(s))(radii[:, None] * e)
    jac_rev = jax.vmap(jax.jacrev(s))(radii[:, None] * e)
    assert np.all(np.isfinite(np.asarray(jac))) and np.all(np.isfinite(np.asarray(jac_rev)))
    bound = max(alpha, 1.0) + 2 * (abs(1 - alpha) * r_out + 7.0 * math.sqrt(d)) / (r_out - r_in)
    assert float(jnp.max(jnp.linalg.norm(jac, ord=2, axis=(1, 2)))) <= bound
    pts = jnp.eye(d)[:2] * 10.0
    dr = jax.vmap(jax.grad(lambda r, x: jnp.sum(
        scores.memorizing_score(pts, r_in=1.0, r_out=r, alpha=1.0, check=False)(x))), in_axes=(None, 0))(
        2.0, pts[0] + radii[:, None] * e / 3.0)
    assert np.all(np.isfinite(np.asarray(dr)))


def test_trap_score_regions_and_continuity():
    d = 4
    mu = jnp.full((d,), 3.0)
    s = scores.trap_score(mu, r_in=2.0, r_out=3.0, alpha=2.0)
    u = jnp.ones(d) / 2.0  # unit vector
    inside, outside = 1.5 * u, 3.5 * u
    np.testing.assert_allclose(s(inside), -2.0 * inside, rtol=1e-6)
    np.testing.assert_allclose(s(outside), -(outside - mu), rtol=1e-6)
    # continuity across r_in and r_out
    for r0 in (2.0, 3.0):
        np.testing.assert_allclose(s((r0 - 1e-4) * u), s((r0 + 1e-4) * u), atol=2e-3)
    # defaults are the theory radii
    d2 = 9
    s_default = scores.trap_score(jnp.zeros(d2).at[0].set(21.0))
    np.testing.assert_allclose(s_default(jnp.ones(d2) * 0.1), -0.1 * jnp.ones(d2), rtol=1e-6)
    assert scores.theory_trap_radii(d2) == (12.0, 15.0)


def test_trap_score_lipschitz_bound_on_random_pairs():
    d, alpha, r_in, r_out = 10, 2.0, 4.0, 6.0
    mu = jnp.full((d,), 7.0 / math.sqrt(d) * math.sqrt(d))
    s = scores.trap_score(mu, r_in, r_out, alpha)
    bound = max(alpha, 1.0) + 2 * (abs(1 - alpha) * r_out + float(jnp.linalg.norm(mu))) / (
        r_out - r_in)
    key = jax.random.key(0)
    dirs = jax.random.normal(key, (4000, d))
    dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)
    radii = jax.random.uniform(jax.random.key(1), (4000, 1), minval=3.0, maxval=7.0)
    pts = dirs * radii
    est = metrics.lipschitz_estimate(jax.random.key(2), s, pts, num_pairs=4000, scale=0.05)
    assert 1.0 < est <= bound


def test_trap_keeps_chains_inside():
    d = 20
    mu = jnp.full((d,), 7.0)
    r_in, r_out = 4.0 * math.sqrt(d), 5.0 * math.sqrt(d)
    s = scores.trap_score(mu, r_in, r_out, alpha=1.0)
    x0 = jax.random.normal(jax.random.key(0), (512, d))
    out = lj.run(jax.random.key(1), lj.ula(s, 0.01), x0, 3000)
    norms = np.linalg.norm(np.asarray(out.positions), axis=1)
    assert np.all(norms < r_in)
    # the true score leaves: it converges to N(mu, I)
    out_true = lj.run(jax.random.key(1), lj.ula(lambda x: -(x - mu), 0.01), x0, 3000)
    assert np.all(np.linalg.norm(np.asarray(out_true.positions), axis=1) > r_out)


@pytest.mark.parametrize("d, m, r_in, r_out, alpha", [(3, 2.0, 1.0, 2.0, 1.0),
                                                      (6, 3.0, 1.5, 2.5, 3.0)])
def test_trap_score_error_quadrature_matches_monte_carlo(d, m, r_in, r_out, alpha):
    mu = jnp.zeros(d).at[0].set(m)
    target = lj.IsotropicGaussian.create(mu, 1.0)
    s_hat = scores.trap_score(mu, r_in, r_out, alpha)
    mc = metrics.score_error(jax.random.key(0), s_hat, target.score, target, 400_000)
    exact = scores.trap_score_error_exact(m, d, r_in, r_out, alpha)
    assert abs(mc.log_value - exact) < 5 * mc.log_std_error + 1e-3
    assert exact <= scores.trap_score_error_log_bound(m, r_out, alpha)


def test_trap_score_error_is_exponentially_small_and_logscale():
    d = 50
    errs = []
    for c in (3.0, 5.0, 7.0):
        m = c * math.sqrt(d)
        errs.append(scores.trap_score_error_exact(m, d, 4 / 7 * m, 5 / 7 * m))
    assert errs[0] > errs[1] > errs[2] and errs[2] < -100  # exp(-129): far below float32
    m = 7 * math.sqrt(d)
    est = scores.trap_score_error(jax.random.key(3), jnp.full((d,), 7.0), 4 / 7 * m, 5 / 7 * m,
                                  1.0, 50_000)
    assert est.importance_sampled and np.isfinite(est.log_value)
    assert abs(est.log_value - errs[2]) < 5 * est.log_std_error + 0.05
    assert "exp(" in str(est)


def test_memorizing_score_regions_and_lookup():
    d, n = 30, 2000
    pts = jax.random.normal(jax.random.key(0), (n, d))
    r_in, r_out = 0.08 * math.sqrt(d), 0.16 * math.sqrt(d)
    s = scores.memorizing_score(pts, alpha=3.0)
    i = 1234
    near = pts[i] + 0.5 * r_in * jnp.ones(d) / math.sqrt(d)
    np.testing.assert_allclose(s(near), -3.0 * (near - pts[i]), rtol=1e-4, atol=1e-5)
    far = jnp.full((d,), 10.0)
    np.testing.assert_allclose(s(far), -far, rtol=1e-6)
    # continuity across r_out around a training point
    u = jnp.ones(d) / math.sqrt(d)
    np.testing.assert_allclose(s(pts[i] + (r_out - 1e-4) * u), s(pts[i] + (r_out + 1e-4) * u),
                               atol=1e-3)
    # vectorised over many chains
    batch = jax.jit(jax.vmap(s))(pts[:500] + 0.01)
    np.testing.assert_allclose(batch, -3.0 * 0.01 * jnp.ones((500, d)), atol=1e-4)


def test_memorizing_score_general_position_error():
    pts = jnp.array([[0.0, 0.0], [0.1, 0.0], [3.0, 3.0]])
    with pytest.raises(ValueError, match="not in general position"):
        scores.memorizing_score(pts, r_in=0.1, r_out=0.2)
    keep = scores.select_general_position(pts, 0.4)
    assert list(keep) == [0, 2]
    scores.memorizing_score(pts[keep], r_in=0.1, r_out=0.2)


def test_memorized_chains_stay_fresh_chains_leave():
    d, n = 40, 200
    pts = jax.random.normal(jax.random.key(0), (n, d))
    s = scores.memorizing_score(pts)
    out = lj.run(jax.random.key(1), lj.ula(s, 0.0025), pts, 1000)
    dist = np.linalg.norm(np.asarray(out.positions - pts), axis=1)
    assert np.all(dist < 0.16 * math.sqrt(d))  # within r_out of its training point: trapped
    assert np.median(dist) < 0.08 * math.sqrt(d)
    # with alpha = 1 the well is N(x_i, I): nothing is trapped
    loose = scores.memorizing_score(pts, alpha=1.0)
    out = lj.run(jax.random.key(1), lj.ula(loose, 0.0025), pts, 1000)
    assert np.all(np.linalg.norm(np.asarray(out.positions - pts), axis=1) > 0.16 * math.sqrt(d))
    fresh = jax.random.normal(jax.random.key(2), (n, d))
    out = lj.run(jax.random.key(1), lj.ula(s, 0.0025), fresh, 1000)
    var = float(np.var(np.asarray(out.positions)))
    assert abs(var - 1.0) < 0.1


def test_memorizing_score_error_quadrature_matches_monte_carlo():
    d = 20
    pts = np.asarray(jax.random.normal(jax.random.key(1), (300, d)))
    r_in, r_out = 0.15 * math.sqrt(d), 0.3 * math.sqrt(d)
    keep = scores.select_general_position(pts, 2 * r_out)
    pts = pts[keep]
    est = scores.memorizing_score_error(jax.random.key(2), pts, r_in, r_out, 2.0, 100_000)
    exact = scores.memorizing_score_error_exact(pts, r_in, r_out, 2.0)
    assert abs(est.log_value - exact) < 5 * est.log_std_error + 0.02


def test_cone_escape_score():
    target = lj.IsotropicGaussian.create(jnp.zeros(2))
    s = scores.cone_escape_score(target.score, jnp.array([1.0, 0.0]), start=2.0,
                                 half_angle=0.3, drift=1.5)
    np.testing.assert_allclose(s(jnp.array([3.0, 0.2])), jnp.array([1.5, 0.0]))
    np.testing.assert_allclose(s(jnp.array([3.0, 2.0])), -jnp.array([3.0, 2.0]))
    np.testing.assert_allclose(s(jnp.array([1.0, 0.0])), -jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="half_angle"):
        scores.cone_escape_score(target.score, jnp.ones(2), 1.0, 2.0)
    # 1-D: exact score error  E[(drift + x)^2 1{x >= R}] for x ~ N(0, 1)
    t1 = lj.IsotropicGaussian.create(jnp.zeros(1))
    R, drift = 1.5, 1.0
    s1 = scores.cone_escape_score(t1.score, jnp.ones(1), R, 0.1, drift)
    est = metrics.score_error(jax.random.key(0), s1, t1.score, t1, 400_000)
    from scipy.stats import norm

    exact = drift**2 * norm.sf(R) + 2 * drift * norm.pdf(R) + R * norm.pdf(R) + norm.sf(R)
    assert abs(est.value - exact) < 5 * est.std_error


def test_gaussian_fit_kl_bias_and_errors():
    d, n, reps = 5, 400, 400
    keys = jax.random.split(jax.random.key(0), reps)
    kls = jax.vmap(lambda k: metrics.gaussian_fit_kl(jax.random.normal(k, (n, d)), jnp.zeros(d),
                                                     jnp.eye(d)))(keys)
    bias = metrics.gaussian_fit_kl_bias(d, n)
    se = float(np.std(kls) / math.sqrt(reps))
    assert abs(float(np.mean(kls)) - bias) < 5 * se + 0.05 * bias
    with pytest.raises(ValueError, match="NaN"):
        metrics.gaussian_fit_kl(jnp.full((3, 2), jnp.nan), jnp.zeros(2), jnp.eye(2))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.gaussian_fit_kl(jnp.zeros((1, 2)), jnp.zeros(2), jnp.eye(2))
    with pytest.raises(ValueError, match="mean must have shape"):
        metrics.gaussian_fit_kl(jnp.zeros((4, 2)), jnp.zeros(3), jnp.eye(3))


def test_general_position_checks_both_conditions_of_definition_6():
    d = 16  # sqrt(d) = 4: separation 1.6, norms in [2, 8]
    base = np.zeros((3, d))
    base[0, 0], base[1, 1], base[2, 2] = 4.0, 4.0, 4.0  # norms 4, pairwise 4 sqrt(2)
    gp = scores.general_position(base)
    assert gp.dim == d and gp.definition_6()
    close = base.copy()
    close[1] = close[0] + 1.5 * np.eye(d)[3]  # pairwise 1.5 < 1.6, norms 4 and 4.27
    assert not scores.general_position(close).definition_6()
    assert scores.general_position(close).definition_6(separation=0.3)
    for norm, ok in ((1.99, False), (2.0, True), (8.0, True), (8.01, False)):
        pts = base.copy()
        pts[2] *= norm / 4.0
        assert scores.general_position(pts).definition_6() is ok, norm
    assert scores.general_position(base[:1]).definition_6()  # one point: no pair to separate
    with pytest.raises(ValueError, match="dimension"):
        scores.GeneralPosition(1.0, 1.0, 1.0).definition_6()
