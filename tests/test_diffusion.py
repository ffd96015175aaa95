import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import diffusion
from tests.conftest import assert_within_se, variance_se


def test_linear_schedule_endpoints_and_alphabar():
    s = diffusion.linear_schedule()
    assert s.num_levels == 1000
    np.testing.assert_allclose(s.betas[0], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(s.betas[-1], 0.02, rtol=1e-6)
    ab = np.asarray(s.alphabars)
    assert np.all(np.diff(ab) < 0) and 0 < ab[-1] < 1e-4
    np.testing.assert_allclose(ab, np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)), rtol=1e-5)
    assert float(diffusion.alphabar(s, 0)) == 1.0
    np.testing.assert_allclose(diffusion.alphabar(s, jnp.array([1, 10])), ab[[0, 9]])


def test_cosine_schedule_is_valid():
    s = diffusion.cosine_schedule(100)
    ab = np.asarray(s.alphabars)
    assert np.all((np.asarray(s.betas) > 0) & (np.asarray(s.betas) < 1))
    assert np.all(np.diff(ab) < 0) and ab[0] > 0.99
    assert diffusion.make_schedule("cosine", 100).num_levels == 100


@pytest.mark.parametrize("bad", [
    lambda: diffusion.linear_schedule(0),
    lambda: diffusion.linear_schedule(10, beta_min=0.1, beta_max=0.01),
    lambda: diffusion.make_schedule("quadratic"),
    lambda: diffusion.check_level_range(5, 2, diffusion.linear_schedule(10)),
    lambda: diffusion.check_level_range(1, 11, diffusion.linear_schedule(10)),
    lambda: diffusion.score_at_level(lambda x, t: x, diffusion.linear_schedule(10), 0),
    lambda: diffusion.ddpm_sampler(lambda x, t: x, diffusion.linear_schedule(10), start_level=11),
    lambda: diffusion.ddim_sampler(lambda x, t: x, diffusion.linear_schedule(10), 20),
])
def test_bad_arguments_raise_value_error(bad):
    with pytest.raises(ValueError):
        bad()


def test_add_noise_moments(key):
    s = diffusion.linear_schedule()
    n, t = 200_000, 300
    x0 = jnp.full((n, 1), 2.0)
    eps = jax.random.normal(key, (n, 1))
    xt = np.asarray(diffusion.add_noise(s, x0, t, eps))[:, 0]
    ab = float(s.alphabars[t - 1])
    assert_within_se(xt.mean(), 2 * np.sqrt(ab), np.sqrt((1 - ab) / n), what="mean")
    assert_within_se(xt.var(), 1 - ab, variance_se(1 - ab, n), what="var")


def test_score_of_exact_denoiser_is_score_of_noised_gaussian():
    s = diffusion.linear_schedule()
    m = jnp.array([1.0, -2.0, 0.5])
    c = jnp.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])
    eps_fn = diffusion.gaussian_eps_fn(s, m, c)
    x = jnp.array([0.3, 0.2, -1.0])
    for t in (1, 10, 500):
        ab = float(s.alphabars[t - 1])
        cov_t = ab * c + (1 - ab) * jnp.eye(3)
        expected = -jnp.linalg.solve(cov_t, x - np.sqrt(ab) * m)
        np.testing.assert_allclose(diffusion.score_at_level(eps_fn, s, t)(x), expected, rtol=2e-4)
        np.testing.assert_allclose(diffusion.score_from_eps(eps_fn, s)(x, t), expected, rtol=2e-4)
    # jit and vmap
    f = jax.jit(jax.vmap(diffusion.score_at_level(eps_fn, s, 10)))
    xs = jnp.stack([x, 2 * x])
    np.testing.assert_allclose(f(xs)[1], diffusion.score_at_level(eps_fn, s, 10)(2 * x), rtol=1e-5)


def _ddpm_exact_moments(s, m, lam):
    """Mean and variance per coordinate of DDPM's output with the exact denoiser (linear)."""
    betas, alphas, ab = (np.asarray(a, np.float64) for a in (s.betas, s.alphas, s.alphabars))
    mean, var = np.zeros_like(m), np.ones_like(m)
    for t in range(s.num_levels, 0, -1):
        b, a, abt = betas[t - 1], alphas[t - 1], ab[t - 1]
        denom = abt * lam + 1 - abt
        coef = (1 - b / denom) / np.sqrt(a)
        mean = coef * mean + b * np.sqrt(abt) * m / (denom * np.sqrt(a))
        var = coef**2 * var + (b if t > 1 else 0.0)
    return mean, var


def test_ddpm_with_exact_denoiser_recovers_gaussian_moments(key):
    s = diffusion.linear_schedule()
    m = np.array([1.0, -2.0, 0.5])
    lam = np.array([2.0, 1.0, 0.25])
    eps_fn = diffusion.gaussian_eps_fn(s, jnp.asarray(m, jnp.float32), jnp.diag(jnp.asarray(lam, jnp.float32)))
    n = 4000
    k0, k1 = jax.random.split(key)
    out = lj.run(k1, diffusion.ddpm_sampler(eps_fn, s), jax.random.normal(k0, (n, 3)), 1000)
    xs = np.asarray(out.positions, np.float64)
    assert out.info.num_nonfinite == 0
    exact_mean, exact_var = _ddpm_exact_moments(s, m, lam)
    # the discrete reverse chain with the exact denoiser is nearly exact for T = 1000
    np.testing.assert_allclose(exact_mean, m, atol=1e-3)
    np.testing.assert_allclose(exact_var, lam, rtol=1e-2)
    assert_within_se(xs.mean(0), exact_mean, np.sqrt(exact_var / n), what="ddpm mean")
    assert_within_se(xs.var(0, ddof=1), exact_var, variance_se(exact_var, n), what="ddpm var")


def test_ddim_deterministic_recovers_gaussian_moments(key):
    s = diffusion.linear_schedule()
    m = jnp.array([1.0, -1.0])
    lam = jnp.array([2.0, 0.5])
    eps_fn = diffusion.gaussian_eps_fn(s, m, jnp.diag(lam))
    n = 4000
    alg = diffusion.ddim_sampler(eps_fn, s, num_steps=100)
    x0 = jax.random.normal(key, (n, 2))
    out = lj.run(key, alg, x0, 100)
    xs = np.asarray(out.positions, np.float64)
    # deterministic ODE map: moments match up to Monte Carlo error of the start and a small
    # discretisation bias (100 of 1000 levels)
    assert_within_se(xs.mean(0), m, np.sqrt(np.asarray(lam) / n) + 0.02, what="ddim mean")
    np.testing.assert_allclose(xs.var(0), lam, rtol=5 * np.sqrt(2 / n) + 0.03)
    out2 = lj.run(jax.random.key(1), alg, x0, 100)  # eta = 0: no randomness
    np.testing.assert_array_equal(out.positions, out2.positions)


def test_samplers_check_shapes_eagerly():
    s = diffusion.linear_schedule(10)
    bad = lambda x, t: x[:1]
    with pytest.raises(ValueError, match="eps_fn"):
        lj.run(jax.random.key(0), diffusion.ddpm_sampler(bad, s), jnp.zeros((2, 3)), 5)
    with pytest.raises(ValueError, match="num_steps"):
        lj.run(jax.random.key(0), diffusion.ddpm_sampler(lambda x, t: x, s), jnp.zeros((2, 3)), 11)
