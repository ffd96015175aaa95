"""memorization_report: exact constructed cases, a float64 brute force, shift invariance,
jit/vmap, the held-out baseline, the standard errors and the input checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import metrics

# p0..p4 with mean exactly 0 (so centring is exact); p2 and p3 are the same point
TRAIN = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 3.0], [-2.0, -6.0]], np.float32)


def _brute_force(x, points):
    """Float64 reference: every pair's distance, ordered by (distance, index)."""
    x, points = np.asarray(x, np.float64), np.asarray(points, np.float64)
    dist = np.sqrt(((x[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    order = np.argsort(dist, axis=1, kind="stable")  # stable: ties keep the lower index first
    first, second = order[:, 0], order[:, 1]
    rows = np.arange(x.shape[0])
    d1, d2 = dist[rows, first], dist[rows, second]
    ratio = np.where(d2 > 0, d1 / np.where(d2 > 0, d2, 1.0), 0.0)
    return d1, first, d2, ratio


def _assert_reports_equal(got, want, rtol=0.0):
    flat_got, tree_got = jax.tree.flatten(got)
    flat_want, tree_want = jax.tree.flatten(want)
    assert tree_got == tree_want
    for a, b in zip(flat_got, flat_want):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        if rtol and np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("block", [1, 2, 3, 1024])  # 2: p2, p3 in one block; 3: in two
def test_constructed_cases(block):
    x = np.array([[0.0, 0.0],    # on p0: a copy, distance 0, ratio 0
                  [1.0, 0.0],    # midpoint of p0, p1: ratio 1, a tie -> index 0
                  [0.5, 0.0],    # 0.5 / 1.5: exactly the float32 1/3, not a copy (strict <)
                  [0.0, 0.5],    # 0.5 / sqrt(4.25)
                  [0.0, 3.0],    # on the duplicated p2 = p3: 0 / 0 -> ratio 0, a copy
                  [0.0, 3.5],    # next to the duplicated point: both at 0.5, ratio 1
                  [-2.0, -5.0],  # 1 / sqrt(4 + 25) from p4, p0 (p4 is the last index)
                  [4.0, 0.0]],   # 2 / 4
                 np.float32)
    r = metrics.memorization_report(x, TRAIN, radius=0.5, block=block)
    s = r.per_sample
    np.testing.assert_array_equal(s.nearest_index, [0, 0, 0, 0, 2, 2, 4, 1])
    assert s.nearest_index.dtype == jnp.int32 and s.nearest_distance.dtype == jnp.float32
    np.testing.assert_array_equal(s.nearest_distance, [0, 1, 0.5, 0.5, 0, 0.5, 1, 2])
    np.testing.assert_allclose(s.second_distance, [2, 1, 1.5, math.sqrt(4.25), 0, 0.5, math.sqrt(29), 4], rtol=1e-7)
    np.testing.assert_allclose(s.ratio, [0, 1, 1 / 3, 0.5 / math.sqrt(4.25), 0, 1, 1 / math.sqrt(29), 0.5], rtol=1e-6)
    assert float(s.ratio[0]) == 0.0 and float(s.ratio[1]) == 1.0 and float(s.ratio[4]) == 0.0
    assert float(s.ratio[2]) == float(np.float32(1 / 3))
    np.testing.assert_array_equal(s.is_copy, [True, False, False, True, True, False, True, False])
    # radius 0.5 is inclusive
    np.testing.assert_array_equal(s.within_radius, [True, False, True, True, True, True, False, False])
    assert float(r.within_radius_fraction) == 5 / 8 and float(r.copy_fraction) == 4 / 8
    # copy_ratio = 1 flags everything strictly closer to one point than to any other
    loose = metrics.memorization_report(x, TRAIN, radius=0.5, copy_ratio=1.0, block=block).per_sample.is_copy
    np.testing.assert_array_equal(loose, [True, False, True, True, True, False, True, True])


def test_ties_pick_the_lowest_index():
    # x = (5, 5) at distance 1 from the four points 1..4; p0 is far (mean exactly 0)
    pts = np.array([[-20.0, -20.0], [6.0, 5.0], [5.0, 6.0], [4.0, 5.0], [5.0, 4.0]], np.float32)
    for block in (1, 3, 5):  # the tied points in four blocks, in two, in one
        s = metrics.memorization_report(np.full((1, 2), 5.0, np.float32), pts, block=block).per_sample
        assert int(s.nearest_index[0]) == 1
        assert float(s.nearest_distance[0]) == 1.0 and float(s.second_distance[0]) == 1.0


@pytest.mark.parametrize("block", [64, 1024])  # ragged blocks and sample chunks; one of each
def test_matches_float64_brute_force(block):
    n, m, d = 300, 257, 5
    k_train, k_x, k_pick, k_noise = jax.random.split(jax.random.key(0), 4)
    train = np.asarray(jax.random.normal(k_train, (m, d)))
    x = np.array(jax.random.normal(k_x, (n, d)))  # a writable copy
    # a third exact copies, a third near copies, a third fresh draws
    picks = np.asarray(jax.random.choice(k_pick, m, (200,), replace=False))
    x[:100] = train[picks[:100]]
    x[100:200] = train[picks[100:]] + 0.05 * np.asarray(jax.random.normal(k_noise, (100, d)))
    r = metrics.memorization_report(x, train, radius=0.1, block=block)
    s = r.per_sample
    d1, first, d2, ratio = _brute_force(x, train)
    np.testing.assert_array_equal(s.nearest_index, first)
    np.testing.assert_allclose(s.nearest_distance, d1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.second_distance, d2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.ratio, ratio, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(ratio - 1 / 3) > 1e-4)  # no case on the threshold: is_copy is exact
    np.testing.assert_array_equal(s.is_copy, ratio < 1 / 3)
    np.testing.assert_array_equal(s.within_radius, d1 <= 0.1)
    assert np.all(np.asarray(s.nearest_distance[:100]) == 0.0)  # exact zeros, not sqrt(rounding)
    assert 100 <= int(s.is_copy.sum()) < 300
    assert float(r.copy_fraction) == pytest.approx(np.mean(ratio < 1 / 3), rel=1e-6)


def test_float64_stays_float64():
    x = np.asarray(jax.random.normal(jax.random.key(1), (40, 3)), np.float64)
    train = np.asarray(jax.random.normal(jax.random.key(2), (33, 3)), np.float64)
    with jax.enable_x64(True):
        r = metrics.memorization_report(x, train, block=8)
        assert r.per_sample.nearest_distance.dtype == jnp.float64 and r.copy_fraction.dtype == jnp.float64
        assert r.per_sample.nearest_index.dtype == jnp.int32
        d1, first, d2, _ = _brute_force(x, train)
        np.testing.assert_array_equal(r.per_sample.nearest_index, first)
        np.testing.assert_allclose(r.per_sample.nearest_distance, d1, rtol=1e-12)
        np.testing.assert_allclose(r.per_sample.second_distance, d2, rtol=1e-12)
    # integer inputs compute in float32
    r = metrics.memorization_report(np.array([[0, 0]]), np.array([[3, 4], [6, 8]]))
    assert r.per_sample.nearest_distance.dtype == jnp.float32 and float(r.per_sample.ratio[0]) == 0.5


@pytest.mark.parametrize("shift", [1000.0, 1e4])
def test_a_shift_of_all_data_changes_nothing(shift):
    # training points on a grid of step 1/128 (~0.01 apart), samples at most one 1/512 step off
    # one of them per coordinate (so the nearest point is unique): all exact in float32 after
    # the shift, so the recomputed distances must agree bit for bit. Without centring, the
    # matrix form's rounding (~eps * shift^2, ~10 at 1e4) would pick arbitrary points.
    k_train, k_pick, k_off = jax.random.split(jax.random.key(3), 3)
    train = np.unique(np.asarray(jax.random.randint(k_train, (257, 3), -20, 20)), axis=0) / 128.0
    picks = np.asarray(jax.random.choice(k_pick, train.shape[0], (120,), replace=False))
    x = train[picks] + np.asarray(jax.random.randint(k_off, (120, 3), -1, 2)) / 512.0
    train, x = train.astype(np.float32), x.astype(np.float32)
    base = metrics.memorization_report(x, train, radius=0.002, block=64)
    moved = metrics.memorization_report(x + shift, train + shift, radius=0.002, block=64)
    _assert_reports_equal(moved, base)
    d1, first, d2, _ = _brute_force(x, train)
    np.testing.assert_array_equal(base.per_sample.nearest_index, first)
    np.testing.assert_allclose(base.per_sample.second_distance, d2, rtol=1e-6)
    assert 0 < float(base.copy_fraction) < 1 and 0 < float(base.within_radius_fraction) < 1


XS = jax.random.normal(jax.random.key(4), (3, 40, 3))
TRAIN_33 = jax.random.normal(jax.random.key(5), (33, 3))
HELDOUT = jax.random.normal(jax.random.key(6), (20, 3))
KWARGS = dict(heldout=HELDOUT, radius=0.5, block=8)


def test_jit_and_vmap_give_the_eager_numbers():
    eager = [metrics.memorization_report(xi, TRAIN_33, **KWARGS) for xi in XS]
    # vmap over the sample sets under jit, with everything traced: samples, training points,
    # held-out points, radius and copy_ratio
    fn = lambda x, t, h, r, c: metrics.memorization_report(x, t, heldout=h, radius=r, copy_ratio=c, block=8)
    batched = jax.jit(jax.vmap(fn, in_axes=(0, None, None, None, None)))(XS, TRAIN_33, HELDOUT, 0.5, 1 / 3)
    for i, want in enumerate(eager):
        _assert_reports_equal(jax.tree.map(lambda a, i=i: a[i], batched), want, rtol=1e-6)
    assert eager[0].summary()["num_samples"] == 40
    with pytest.raises(ValueError, match="batched"):
        batched.summary()
    with pytest.raises(ValueError, match="concrete"):
        jax.make_jaxpr(lambda x: metrics.memorization_report(x, TRAIN_33, **KWARGS).summary())(XS[0])


def test_heldout_baseline_is_the_report_of_the_heldout_points():
    r = metrics.memorization_report(XS[0], TRAIN_33, **KWARGS)
    direct = metrics.memorization_report(HELDOUT, TRAIN_33, radius=0.5, block=8)
    _assert_reports_equal(r.baseline, direct)
    assert r.baseline.baseline is None and r.baseline.per_sample.ratio.shape == (20,)
    plain = metrics.memorization_report(XS[0], TRAIN_33, block=8)
    _assert_reports_equal(plain.per_sample[:-1], r.per_sample[:-1])
    assert plain.baseline is None and plain.radius is None
    assert plain.per_sample.within_radius is None and plain.within_radius_fraction is None
    assert plain.within_radius_fraction_se is None
    summary = plain.summary()
    assert summary["baseline"] is None and summary["radius"] is None and summary["within_radius_fraction"] is None
    assert isinstance(r.summary()["baseline"]["copy_fraction"], float)


@pytest.mark.parametrize("which", ["samples", "baseline"])
def test_summary_statistics_and_standard_errors(which):
    r = metrics.memorization_report(XS[0], TRAIN_33, **{**KWARGS, "copy_ratio": 0.6})
    r = r if which == "samples" else r.baseline
    s = jax.tree.map(np.asarray, r.per_sample)
    n = s.ratio.shape[0]
    p, q = s.is_copy.mean(), s.within_radius.mean()
    assert 0 < p < 1 and 0 < q < 1
    np.testing.assert_allclose(r.copy_fraction, p, rtol=1e-6)
    np.testing.assert_allclose(r.copy_fraction_se, math.sqrt(p * (1 - p) / n), rtol=1e-5)
    np.testing.assert_allclose(r.within_radius_fraction, q, rtol=1e-6)
    np.testing.assert_allclose(r.within_radius_fraction_se, math.sqrt(q * (1 - q) / n), rtol=1e-5)
    np.testing.assert_allclose(r.nearest_distance_mean, s.nearest_distance.mean(), rtol=1e-5)
    np.testing.assert_allclose(r.nearest_distance_mean_se, s.nearest_distance.std(ddof=1) / math.sqrt(n), rtol=1e-5)
    np.testing.assert_allclose(r.nearest_distance_median, np.median(s.nearest_distance), rtol=1e-6)
    np.testing.assert_allclose(r.ratio_median, np.median(s.ratio), rtol=1e-6)
    summary = r.summary()
    assert summary["num_samples"] == n and type(summary["num_samples"]) is int
    assert all(type(v) is float for k, v in summary.items() if k not in ("num_samples", "baseline"))
    assert summary["copy_ratio"] == pytest.approx(0.6) and summary["radius"] == pytest.approx(0.5)


def test_one_sample():
    # fractions are 0 or 1 with standard error 0; the mean's standard error is undefined (NaN)
    one = metrics.memorization_report(TRAIN[:1], TRAIN)
    assert float(one.copy_fraction) == 1.0 and float(one.copy_fraction_se) == 0.0
    assert math.isnan(one.summary()["nearest_distance_mean_se"])


def test_memory_is_never_samples_times_training_points():
    """No array of the computation has n x m entries: it is blocked both ways."""
    n, m, block = 300, 257, 64
    jaxpr = jax.make_jaxpr(lambda x, t: metrics.memorization_report(x, t, block=block))(
        jnp.zeros((n, 4)), jnp.zeros((m, 4)))

    def sizes(jaxpr):
        for eqn in jaxpr.eqns:
            yield from (math.prod(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape"))
            for param in eqn.params.values():
                for sub in param if isinstance(param, (tuple, list)) else (param,):
                    sub = getattr(sub, "jaxpr", sub)
                    if hasattr(sub, "eqns"):
                        yield from sizes(sub)

    largest = max(sizes(jaxpr.jaxpr))
    assert largest <= block * block < n * m / 10, largest


GOOD = dict(samples=np.zeros((3, 2)), training_points=np.eye(2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(samples=np.zeros(3)), r"samples must have shape \[n, d\]"),
    (dict(training_points=np.zeros((2, 2, 1))), r"training_points must have shape \[m, d\]"),
    (dict(heldout=np.zeros(2)), r"heldout must have shape \[k, d\]"),
    (dict(samples=np.zeros((0, 2))), "samples must contain at least one point"),
    (dict(training_points=np.zeros((1, 2))), "training_points must contain at least 2 points"),
    (dict(heldout=np.zeros((0, 2))), "heldout must contain at least one point"),
    (dict(samples=np.zeros((3, 0)), training_points=np.zeros((2, 0))), "samples must contain"),
    (dict(samples=np.zeros((3, 3))), "samples and training_points must have the same dimension d, got 3 and 2"),
    (dict(heldout=np.zeros((2, 3))), "heldout and training_points must have the same dimension d, got 3 and 2"),
    (dict(samples=np.array([[0.0, np.nan]])), "samples contains NaN"),
    (dict(training_points=np.array([[0.0, 0.0], [np.inf, 0.0]])), "training_points contains NaN or inf"),
    (dict(heldout=np.array([[np.nan, 0.0]])), "heldout contains NaN"),
    (dict(samples=np.zeros((3, 2), np.complex64)), "samples must be real"),
    (dict(training_points=np.ones((2, 2), bool)), "training_points must be a real number"),
    (dict(radius=0.0), "radius must be finite and > 0"),
    (dict(radius=-1.0), "radius must be finite and > 0"),
    (dict(radius=math.inf), "radius must be finite and > 0"),
    (dict(radius=math.nan), "radius must be finite and > 0"),
    (dict(radius=1e-50), r"radius must be finite and > 0, got 1e-50 \(0.0 in float32\)"),
    (dict(radius=1e50), r"radius must be finite and > 0, got 1e\+50 \(inf in float32\)"),
    (dict(radius=np.ones(2)), "radius must be a scalar"),
    (dict(radius=1j), "radius must be real"),
    (dict(copy_ratio=0.0), r"copy_ratio must be in \(0, 1\]"),
    (dict(copy_ratio=-0.5), r"copy_ratio must be in \(0, 1\]"),
    (dict(copy_ratio=1.5), r"copy_ratio must be in \(0, 1\]"),
    (dict(copy_ratio=math.nan), r"copy_ratio must be in \(0, 1\]"),
    (dict(copy_ratio="1/3"), "copy_ratio must be a real number"),
    (dict(block=0), "block must be >= 1"),
    (dict(block=2.0), "block must be an int"),
    (dict(block=True), "block must be an int"),
])
def test_bad_inputs_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.memorization_report(**{**GOOD, **kwargs})
