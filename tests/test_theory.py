import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import theory


def _spd(key, d):
    a = jax.random.normal(key, (d, d), jnp.float64)
    return a @ a.T / d + 0.3 * jnp.eye(d, dtype=jnp.float64)


def test_kl_closed_forms():
    with jax.enable_x64(True):
        d = 5
        k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        s0, s1 = _spd(k1, d), _spd(k2, d)
        m0 = jax.random.normal(k3, (d,), jnp.float64)
        np.testing.assert_allclose(theory.gaussian_kl(m0, s0, m0, s0), 0.0, atol=1e-12)
        # diagonal case: sum of 1-D KLs
        v0, v1 = jnp.array([0.5, 1.0, 2.0]), jnp.array([1.0, 3.0, 0.25])
        mu0, mu1 = jnp.array([0.0, 1.0, -1.0]), jnp.array([1.0, 0.0, 2.0])
        one_d = 0.5 * (v0 / v1 + (mu1 - mu0) ** 2 / v1 - 1 + jnp.log(v1 / v0))
        got = theory.gaussian_kl(mu0, jnp.diag(v0), mu1, jnp.diag(v1))
        np.testing.assert_allclose(got, jnp.sum(one_d), rtol=1e-12)
        assert theory.gaussian_kl(m0, s0, jnp.zeros(d), s1) > 0


def test_w2_commuting_and_invariance():
    with jax.enable_x64(True):
        l0, l1 = jnp.array([0.5, 1.0, 2.0, 7.0]), jnp.array([1.0, 3.0, 0.25, 7.0])
        q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(1), (4, 4), jnp.float64))
        m0, m1 = jnp.ones(4), jnp.array([0.0, 1.0, 2.0, 3.0])
        expected = jnp.sqrt(jnp.sum((m0 - m1) ** 2) + jnp.sum((jnp.sqrt(l0) - jnp.sqrt(l1)) ** 2))
        got = theory.gaussian_w2(m0, (q * l0) @ q.T, m1, (q * l1) @ q.T)
        np.testing.assert_allclose(got, expected, rtol=1e-10)
        # symmetric in its arguments even when covariances do not commute
        s0, s1 = _spd(jax.random.key(2), 4), _spd(jax.random.key(3), 4)
        np.testing.assert_allclose(theory.gaussian_w2(m0, s0, m1, s1),
                                   theory.gaussian_w2(m1, s1, m0, s0), rtol=1e-9)


def test_ula_stationary_variance_is_fixed_point_of_ar1():
    lam, h = jnp.array([0.5, 1.0, 4.0]), 0.3
    v = theory.ula_gaussian_stationary_variance(lam, h)
    rho = theory.ula_gaussian_mean_contraction(lam, h)
    np.testing.assert_allclose(rho**2 * v + 2 * h, v, rtol=1e-6)


@jax.enable_x64(True)
def test_ula_gaussian_law_is_the_ar1_recursion():
    """The one closed form of ULA's law on a Gaussian after k steps (issue 15): equal to
    iterating the mean/variance recursion, per eigen-direction, and stationary as k -> inf."""
    lam = jnp.array([0.3, 1.0, 4.0])
    m, h, m0, v0 = jnp.array([1.0, -2.0, 0.5]), 0.05, 0.0, 1.0
    mean, var = jnp.full(3, m0), jnp.full(3, v0)
    for k in range(1, 301):
        mean = mean - (h / lam) * (mean - m)
        var = (1 - h / lam) ** 2 * var + 2 * h
        if k in (1, 7, 300):
            got = theory.ula_gaussian_law(m, lam, h, k, m0, v0)
            np.testing.assert_allclose(got[0], mean, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(got[1], var, rtol=1e-12)
    far = theory.ula_gaussian_law(m, lam, h, 100_000, m0, v0)
    np.testing.assert_allclose(far[1], theory.ula_gaussian_stationary_variance(lam, h), rtol=1e-12)
    with pytest.raises(ValueError, match="h"):
        theory.ula_gaussian_law(m, lam, 1.0, 3)  # h >= 2 * 0.3: unstable


@jax.enable_x64(True)
def test_gaussian_w2_gradient_finite_for_repeated_eigenvalues():
    """One Bures implementation (issue 15), the gradient-safe one: no eigenvectors, so the
    derivative is finite where eigenvalues repeat. W2(N(0, 2I), N(0, I)) in d = 3 is
    sqrt(3) (sqrt(2) - 1); the gradient along S0 = s I matches finite differences."""
    d, m = 3, jnp.zeros(3)

    def w2_of(s):
        return theory.gaussian_w2(m, s * jnp.eye(d), m, jnp.eye(d))

    np.testing.assert_allclose(w2_of(2.0), math.sqrt(d) * (math.sqrt(2.0) - 1.0), rtol=1e-12)
    g = jax.grad(lambda c: theory.gaussian_w2(m, c, m, jnp.eye(d)))(2.0 * jnp.eye(d))
    assert np.all(np.isfinite(np.asarray(g)))
    fd = (w2_of(2.0 + 1e-6) - w2_of(2.0 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jnp.trace(g), fd, rtol=1e-6)


def test_new_closed_forms_trace_under_jit_and_vmap():
    """ula_gaussian_law, gaussian_w2 and gaussian_log_density give the eager numbers inside
    jit and vmap (their value checks skip tracers, shape checks still run)."""
    lam = jnp.array([0.5, 1.0, 2.0])
    law = lambda h: theory.ula_gaussian_law(1.0, lam, h, 50)  # noqa: E731
    hs = jnp.array([0.01, 0.05, 0.1])
    eager = [law(h) for h in hs]
    batched = jax.jit(jax.vmap(law))(hs)
    for i in range(3):
        np.testing.assert_allclose(batched[0][i], eager[i][0], rtol=1e-6)
        np.testing.assert_allclose(batched[1][i], eager[i][1], rtol=1e-6)
    m, s0, s1 = jnp.zeros(2), jnp.diag(jnp.array([1.0, 2.0])), jnp.eye(2)
    w2 = lambda c: theory.gaussian_w2(m, c * s0, m, s1)  # noqa: E731
    cs = jnp.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(jax.jit(jax.vmap(w2))(cs), jnp.stack([w2(c) for c in cs]), rtol=1e-6)
    dens = jax.jit(theory.gaussian_log_density)(jnp.float32(2.0), jnp.float32(0.5), 3)
    np.testing.assert_allclose(dens, -0.5 * (2.5 + 3 * math.log(2 * math.pi)), rtol=1e-6)


def test_ula_precision_variance_is_the_recursion_at_small_and_any_step():
    """The variance from a point start, for any precision a: the summed recursion
    2 h sum_j (1 - h a)^(2j), in float64 to 1e-13 and in float32 to 1e-6 relative even where
    h a = 1e-6 (the form v_inf (1 - rho^2k) is 1% off there in float32)."""
    a = np.array([1e-6, 1e-3, 0.5, 1.0, 1.9, 2.0, 3.0, 0.0, -0.5])
    h, k = 1.0, 50
    exact = np.array([2 * h * sum((1 - h * ai) ** (2 * j) for j in range(k)) for ai in a.astype(np.float64)])
    with jax.enable_x64(True):
        np.testing.assert_allclose(theory.ula_precision_variance(jnp.asarray(a), h, k), exact, rtol=1e-13)
    got32 = np.asarray(theory.ula_precision_variance(jnp.asarray(a[:4], jnp.float32), jnp.float32(h), k))
    np.testing.assert_allclose(got32, exact[:4], rtol=1e-6)
    a32 = np.float32(a[0])  # the cancelling form v_inf (1 - rho^2k), what the stable one avoids
    naive32 = (np.float32(1) - (np.float32(1) - a32) ** np.float32(2 * k)) / (a32 * (np.float32(1) - a32 / 2))
    assert abs(naive32 - exact[0]) > 1e-3 * exact[0]
    # stationary: 1 / (a (1 - h a / 2)) where 0 < h a < 2, +inf elsewhere
    stat = np.asarray(theory.ula_precision_variance(jnp.asarray([0.5, 2.0, 0.0, -1.0]), 1.0))
    np.testing.assert_allclose(stat[0], 1 / (0.5 * 0.75), rtol=1e-6)
    assert np.all(np.isinf(stat[1:]))


def test_ula_precision_variance_checks_and_traces():
    a = jnp.array([0.5, 1.0, 4.0])
    for bad, match in ((dict(h=0.0), "h must be > 0"), (dict(h=jnp.nan), "h must be finite"),
                       (dict(num_steps=-1), "num_steps must be an int >= 0"),
                       (dict(num_steps=2.5), "num_steps must be an int >= 0")):
        kwargs = dict(dict(h=0.1, num_steps=10), **bad)
        with pytest.raises(ValueError, match=match):
            theory.ula_precision_variance(a, **kwargs)
    with pytest.raises(ValueError, match="precision"):
        theory.ula_precision_variance(a + 1j, 0.1, 10)
    # inside jit and vmap (over h, and over a traced step count): the eager numbers
    hs = jnp.array([0.01, 0.1, 0.3])
    eager = jnp.stack([theory.ula_precision_variance(a, h, 10) for h in hs])
    np.testing.assert_allclose(jax.jit(jax.vmap(lambda h: theory.ula_precision_variance(a, h, 10)))(hs),
                               eager, rtol=1e-6)
    ks = jnp.array([0, 3, 10])
    traced_k = jax.jit(jax.vmap(lambda k: theory.ula_precision_variance(a, 0.1, k)))(ks)
    np.testing.assert_allclose(traced_k, jnp.stack([theory.ula_precision_variance(a, 0.1, int(k)) for k in ks]),
                               rtol=1e-5)
    np.testing.assert_allclose(jax.jit(lambda h: theory.ula_precision_variance(a, h))(0.1),
                               theory.ula_precision_variance(a, 0.1), rtol=1e-6)


# --------------------------------------------------------------------------- ball probabilities

def _log_normal_interval(lo, hi):
    """log(Phi(hi) - Phi(lo)) for lo < hi <= 0, finite however far in the tail (log_ndtr)."""
    from scipy import special

    a, b = special.log_ndtr(lo), special.log_ndtr(hi)
    return b + np.log1p(-np.exp(a - b))


def test_ball_probability_central_chi2_case():
    """lambda = 0: the chi-square cdf; d = 2 and 4 in closed form down to 1e-300 and below."""
    from scipy import stats

    for d, r, s in [(5, 2.0, 1.0), (50, 6.0, 1.3), (3, 0.1, 2.0)]:
        got = theory.gaussian_ball_log_probability(np.ones(d), r, np.ones(d), s)
        np.testing.assert_allclose(got, stats.chi2.logcdf((r / s) ** 2, d), rtol=1e-12)
    for r in [1.0, 1e-3, 1e-80, 1e-150]:  # P = 1 - exp(-r^2 / 2) in d = 2
        x = r * r / 2
        got = theory.gaussian_ball_log_probability(np.zeros(2), r, np.zeros(2))
        np.testing.assert_allclose(got, np.log(-np.expm1(-x)), rtol=1e-12)
        got4 = theory.gaussian_ball_log_probability(np.zeros(4), r, np.zeros(4))  # 1 - e^-x (1 + x)
        exact4 = np.log(-np.expm1(-x) - x * np.exp(-x)) if x > 1e-4 else 2 * np.log(x) - np.log(2) + np.log1p(-2 * x / 3)
        np.testing.assert_allclose(got4, exact4, rtol=1e-10)
        assert np.isfinite(got4)


def test_ball_probability_one_dimension_is_a_normal_interval_even_in_the_far_tail():
    """d = 1: P(|X - c| <= r) = Phi((c + r - m)/s) - Phi((c - r - m)/s), to 1e-10 relative in the
    log, including probabilities far below float64's smallest number (e^-1200 ~ 1e-520)."""
    for c, r, m, s in [(0.0, 1.0, 0.3, 1.0), (2.0, 0.5, -1.0, 0.7), (0.0, 1.0, 30.0, 1.0),
                       (0.0, 1.0, 50.0, 1.0), (5.0, 2.0, -60.0, 0.5), (0.0, 0.1, 20.0, 1.0)]:
        lo, hi = sorted([(c - r - m) / s, (c + r - m) / s], key=lambda v: -abs(v))
        lo, hi = -abs(lo), -abs(hi)  # by symmetry: the interval on the left side of 0
        if (c - r - m) * (c + r - m) < 0:  # straddles the mean
            from scipy import stats
            expected = np.log(stats.norm.cdf((c + r - m) / s) - stats.norm.cdf((c - r - m) / s))
        else:
            expected = _log_normal_interval(lo, hi)
        got = theory.gaussian_ball_log_probability([c], r, [m], s)
        assert np.isfinite(got)
        np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_ball_probability_three_dimensions_closed_form_and_monte_carlo():
    """d = 3: P = Phi(r - delta) - Phi(-r - delta) - (phi(r - delta) - phi(r + delta)) / delta;
    d = 5 against 400k Monte Carlo draws (5 standard errors)."""
    from scipy import stats

    for delta, r in [(0.5, 1.0), (2.0, 1.5), (4.0, 3.0)]:
        exact = (stats.norm.cdf(r - delta) - stats.norm.cdf(-r - delta)
                 - (stats.norm.pdf(r - delta) - stats.norm.pdf(r + delta)) / delta)
        got = theory.gaussian_ball_log_probability([delta, 0.0, 0.0], r, [0.0, 0.0, 0.0])
        np.testing.assert_allclose(got, np.log(exact), rtol=1e-10)
    rng = np.random.default_rng(0)
    d, n = 5, 400_000
    center, mean, scale, r = np.array([1.0, -0.5, 0.3, 0.0, 2.0]), np.full(d, 0.2), 1.4, 3.0
    x = mean + scale * rng.standard_normal((n, d))
    p_mc = np.mean(np.sum((x - center) ** 2, axis=1) <= r * r)
    p = math.exp(theory.gaussian_ball_log_probability(center, r, mean, scale))
    assert abs(p - p_mc) <= 5 * math.sqrt(p * (1 - p) / n), (p, p_mc)


def test_ball_probability_far_tail_is_finite_and_continuous():
    """Theorem 1's trap ball B(0, 4 sqrt(d)) under N(7 * 1, I_d): SciPy's own logcdf is -inf from
    d ~ 150; ours stays finite, near -(3 sqrt(d))^2 / 2 (the distance to the ball), agrees with
    SciPy where SciPy is finite, and is smooth in the radius across the switch to the series."""
    from scipy import stats

    d = 50
    got = theory.gaussian_ball_log_probability(np.zeros(d), 4 * math.sqrt(d), np.full(d, 7.0))
    np.testing.assert_allclose(got, stats.ncx2.logcdf(16.0 * d, d, 49.0 * d), rtol=1e-10)
    for d in (200, 1000):
        got = theory.gaussian_ball_log_probability(np.zeros(d), 4 * math.sqrt(d), np.full(d, 7.0))
        assert np.isfinite(got) and got < -700
        assert stats.ncx2.logcdf(16.0 * d, d, 49.0 * d) == -np.inf
        assert -4.9 * d < got < -4.5 * d  # 9 d / 2 plus the entropy of the sphere
    # across 1e-280 = e^-645: the log is smooth in r (second differences tiny)
    d = 50
    radii = np.linspace(14.0, 22.0, 41)
    logs = np.array([theory.gaussian_ball_log_probability(np.zeros(d), r, np.full(d, 7.0)) for r in radii])
    assert logs.min() < -645 < logs.max()
    assert np.all(np.diff(logs) > 0)
    second = np.diff(logs, 2)
    assert np.max(np.abs(np.diff(second))) < 0.05 * np.max(np.abs(second))


def test_union_bound_over_balls():
    """The union bound is the log of the sum of the exact terms, clipped at 0, vectorised over
    thousands of centres, and above a Monte Carlo estimate of the union."""
    from scipy import special

    rng = np.random.default_rng(1)
    d = 4
    centers = rng.standard_normal((20, d)) * 2
    mean, r, s = np.full(d, 0.5), 0.8, 1.2
    each = [theory.gaussian_ball_log_probability(c, r, mean, s) for c in centers]
    got = theory.gaussian_balls_log_probability_bound(centers, r, mean, s)
    np.testing.assert_allclose(got, min(0.0, special.logsumexp(each)), rtol=1e-12)
    np.testing.assert_allclose(theory.gaussian_balls_log_probability_bound(centers[3], r, mean, s), each[3],
                               rtol=1e-12)
    assert theory.gaussian_balls_log_probability_bound(centers, 10.0, mean, s) == 0.0  # clipped
    x = mean + s * rng.standard_normal((200_000, d))
    sq = np.min(((x[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    p_mc = np.mean(sq <= r * r)
    assert p_mc <= math.exp(got) + 5 * math.sqrt(p_mc * (1 - p_mc) / x.shape[0])
    # thousands of centres (Theorem 7's training points), some terms far below float64
    d = 300
    many = rng.standard_normal((3000, d))
    big = theory.gaussian_balls_log_probability_bound(many, 1.0, np.zeros(d))
    assert np.isfinite(big) and big < -700
    single = theory.gaussian_ball_log_probability(many[0], 1.0, np.zeros(d))
    assert single <= big <= single + math.log(3000) + 50


def test_mixture_union_bound():
    """Isotropic components: the exact mixture probability; a general covariance: a bound that
    holds against Monte Carlo and the isotropic case of the same eigenvalues."""
    w = np.array([0.3, 0.7])
    means = np.array([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    scales = np.array([1.0, 0.6])
    covs = np.stack([s * s * np.eye(3) for s in scales])
    c, r = np.array([[1.0, 0.0, 0.0]]), 1.2
    exact = np.log(sum(wk * math.exp(theory.gaussian_ball_log_probability(c[0], r, m, s))
                       for wk, m, s in zip(w, means, scales)))
    got = theory.gaussian_mixture_balls_log_probability_bound(c, r, w, means, covs)
    np.testing.assert_allclose(got, exact, rtol=1e-12)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 3))
    covs = np.einsum("kij,klj->kil", a, a) + 0.3 * np.eye(3)
    centers = rng.standard_normal((5, 3))
    bound = math.exp(theory.gaussian_mixture_balls_log_probability_bound(centers, r, w, means, covs))
    n = 200_000
    comp = rng.random(n) < w[1]
    chol = np.linalg.cholesky(covs)
    z = rng.standard_normal((n, 3))
    x = np.where(comp[:, None], means[1] + z @ chol[1].T, means[0] + z @ chol[0].T)
    p_mc = np.mean(np.min(((x[:, None] - centers[None]) ** 2).sum(-1), axis=1) <= r * r)
    assert p_mc <= bound + 5 * math.sqrt(p_mc * (1 - p_mc) / n) and bound <= 1.0


@pytest.mark.parametrize("call, name", [
    (lambda: theory.gaussian_ball_log_probability(np.zeros(3), 0.0, np.zeros(3)), "radius"),
    (lambda: theory.gaussian_ball_log_probability(np.zeros(3), 1.0, np.zeros(2)), "mean"),
    (lambda: theory.gaussian_ball_log_probability(np.zeros(3), 1.0, np.zeros(3), -1.0), "scale"),
    (lambda: theory.gaussian_ball_log_probability([np.nan, 0.0], 1.0, np.zeros(2)), "center"),
    (lambda: theory.gaussian_balls_log_probability_bound(np.zeros((4, 3)), 1.0, np.zeros(2)), "mean"),
    (lambda: theory.gaussian_balls_log_probability_bound(np.zeros((0, 3)), 1.0, np.zeros(3)), "centers"),
    (lambda: theory.gaussian_mixture_balls_log_probability_bound(np.zeros((2, 2)), 1.0, [0.5, 0.6],
                                                                 np.zeros((2, 2)), np.stack([np.eye(2)] * 2)),
     "weights"),
    (lambda: theory.gaussian_mixture_balls_log_probability_bound(np.zeros((2, 2)), 1.0, [0.5, 0.5],
                                                                 np.zeros((2, 2)), np.stack([np.eye(2), -np.eye(2)])),
     "covariances"),
    (lambda: theory.gaussian_mixture_balls_log_probability_bound(np.zeros((2, 2)), 1.0, [0.5, 0.5],
                                                                 np.zeros((3, 2)), np.stack([np.eye(2)] * 2)),
     "means"),
    (lambda: theory.ou_exit_time_mean(0, 1.0, 1.0), "dim"),
    (lambda: theory.ou_exit_time_mean(3, -1.0, 1.0), "alpha"),
    (lambda: theory.ou_exit_time_mean(3, 1.0, 1.0, start_radius=2.0), "start_radius"),
    (lambda: theory.ou_exit_time_mean(3, 1.0, 1.0, temperature=0.0), "temperature"),
    (lambda: theory.ou_exit_time_arrhenius(3, 1.0, 1.0), "radius"),
    (lambda: theory.ou_exit_growth_rate(0.0, 1.0), "alpha"),
    (lambda: theory.ou_exit_growth_rate(1.0, math.inf), "radius_factor"),
])
def test_ball_and_exit_time_bad_inputs_are_named(call, name):
    from tests._bad_inputs import assert_named

    assert_named(call, name)


# --------------------------------------------------------------------------- OU exit times

def test_exit_time_brownian_limit():
    """alpha -> 0: Brownian motion, E tau = (R^2 - r0^2) / (2 d T)."""
    for d, radius, r0, temperature in [(1, 1.0, 0.0, 1.0), (3, 2.0, 0.5, 1.0), (50, 3.0, 1.0, 2.0)]:
        expected = (radius**2 - r0**2) / (2 * d * temperature)
        for alpha in (0.0, 1e-10):
            got = theory.ou_exit_time_mean(d, alpha, radius, r0, temperature)
            np.testing.assert_allclose(got, expected, rtol=1e-8)
    assert theory.ou_exit_time_log_mean(3, 1.0, 2.0, start_radius=2.0) == -math.inf


def test_exit_time_one_dimension_is_the_green_function_of_the_interval():
    """d = 1: the OU exit time from [-a, a], by the Green's function of the interval with both
    ends absorbing (scale density s, speed density m), computed independently with quad."""
    from scipy import integrate

    def green(alpha, a, x0, temperature):
        s = lambda y: math.exp(alpha * y * y / (2 * temperature))  # noqa: E731
        scale = lambda x: integrate.quad(s, -a, x, epsabs=0, epsrel=1e-13)[0]  # noqa: E731
        speed = lambda y: 1.0 / (temperature * s(y))  # noqa: E731
        total, sx = scale(a), scale(x0)
        left = integrate.quad(lambda y: scale(y) * (total - sx) / total * speed(y), -a, x0,
                              epsabs=0, epsrel=1e-12)[0]
        right = integrate.quad(lambda y: sx * (total - scale(y)) / total * speed(y), x0, a,
                               epsabs=0, epsrel=1e-12)[0]
        return left + right

    for alpha, a, x0, temperature in [(1.0, 2.0, 0.0, 1.0), (1.0, 2.0, -0.7, 1.0), (2.0, 3.0, 1.0, 0.5)]:
        np.testing.assert_allclose(theory.ou_exit_time_mean(1, alpha, a, abs(x0), temperature),
                                   green(alpha, a, x0, temperature), rtol=1e-9)


def test_arrhenius_asymptotic_tends_to_the_exact_mean():
    ratios = [theory.ou_exit_time_arrhenius(5, 1.0, r) / theory.ou_exit_time_mean(5, 1.0, r)
              for r in (4.0, 6.0, 8.0, 10.0, 14.0)]
    errors = np.abs(np.array(ratios) - 1)
    assert np.all(np.diff(errors) < 0), ratios
    assert errors[-1] < 0.01
    # the log form where the time itself overflows float64
    log_a = theory.ou_exit_time_arrhenius(2000, 1.0, 2.0 * math.sqrt(2000), log=True)
    log_t = theory.ou_exit_time_log_mean(2000, 1.0, 2.0 * math.sqrt(2000))
    assert log_t > 709 and theory.ou_exit_time_mean(2000, 1.0, 2.0 * math.sqrt(2000)) == math.inf
    assert abs(log_a - log_t) < 1e-3


def test_exit_growth_rate_is_the_large_d_slope():
    """(1/d) log E tau for R = k sqrt(d): the slope of the exact log mean between d = 1600 and
    3200 is within 5e-4 + 0.1% of (x - 1 - log x) / 2 (x = alpha k^2 / T; the finite-d
    correction is O(log(d) / d)); 0 where x <= 1."""
    for alpha, k, temperature in [(1.0, math.sqrt(2.0), 1.0), (2.0, 1.0, 1.5), (1.0, 4.0, 1.0)]:
        rate = theory.ou_exit_growth_rate(alpha, k, temperature)
        x = alpha * k * k / temperature
        np.testing.assert_allclose(rate, (x - 1 - math.log(x)) / 2, rtol=1e-14)
        logs = [theory.ou_exit_time_log_mean(d, alpha, k * math.sqrt(d), temperature=temperature)
                for d in (1600, 3200)]
        slope = (logs[1] - logs[0]) / 1600
        np.testing.assert_allclose(slope, rate, rtol=1e-3, atol=5e-4)
    assert theory.ou_exit_growth_rate(1.0, 0.9) == 0.0
    # no barrier (x < 1): the exit time grows slower than any e^{c d}
    slope = (theory.ou_exit_time_log_mean(3200, 1.0, 0.9 * math.sqrt(3200))
             - theory.ou_exit_time_log_mean(1600, 1.0, 0.9 * math.sqrt(1600))) / 1600
    assert abs(slope) < 1e-3


def test_exit_time_matches_a_simulation():
    """d = 3, alpha = 1, R = 2: 4000 Euler (ULA) chains at h = 1e-3 leave the ball at the exact
    mean time of the diffusion at ULA's temperature 1 / (1 - h alpha / 2), with the boundary
    moved out by 0.5826 sqrt(2 T h) for the discrete monitoring (the Broadie-Glasserman-Kou
    shift); within 4 standard errors plus half that shift's effect."""
    d, alpha, radius, h, n = 3, 1.0, 2.0, 1e-3, 4000
    temperature = 1.0 / (1.0 - h * alpha / 2)
    max_steps = 60_000

    @jax.jit
    def simulate(key):
        def cond(state):
            _, _, alive, _, step = state
            return jnp.any(alive) & (step < max_steps)

        def body(state):
            x, t_exit, alive, key, step = state
            key, sub = jax.random.split(key)
            x = x - h * alpha * x + jnp.sqrt(2 * h) * jax.random.normal(sub, x.shape)
            out = alive & (jnp.sum(x * x, axis=1) > radius * radius)
            return x, jnp.where(out, step + 1, t_exit), alive & ~out, key, step + 1

        init = (jnp.zeros((n, d)), jnp.zeros(n, jnp.int32), jnp.ones(n, bool), key, jnp.int32(0))
        _, t_exit, alive, _, _ = jax.lax.while_loop(cond, body, init)
        return t_exit, alive

    t_exit, alive = simulate(jax.random.key(7))
    assert not bool(jnp.any(alive))
    times = np.asarray(t_exit, np.float64) * h
    se = times.std(ddof=1) / math.sqrt(n)
    shift = 0.5826 * math.sqrt(2 * temperature * h)
    plain = theory.ou_exit_time_mean(d, alpha, radius, temperature=temperature)
    corrected = theory.ou_exit_time_mean(d, alpha, radius + shift, temperature=temperature)
    assert abs(times.mean() - corrected) <= 4 * se + 0.5 * abs(corrected - plain), (times.mean(), corrected, se)
