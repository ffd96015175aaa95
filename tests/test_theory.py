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
