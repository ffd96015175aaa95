import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import theory
from tests.conftest import assert_within_se, variance_se

LAMBDA = jnp.array([0.5, 1.0, 2.0, 4.0])


def _target():
    return lj.Gaussian.from_spectrum(jnp.zeros(4), LAMBDA)


@pytest.mark.parametrize("h", [0.05, 0.2, 0.5])
def test_ula_converges_to_discrete_stationary_law(h):
    num_chains = 20_000
    # enough steps that (1 - h/lambda)^(2k) < 1e-10 for the slowest direction
    num_steps = int(np.ceil(23.0 / (2 * h / float(LAMBDA.max()))))
    out = lj.run(jax.random.key(0), lj.ula(_target().score, h), jnp.zeros((num_chains, 4)),
                 num_steps)
    xs = np.asarray(out.positions, np.float64)
    emp_var = xs.var(axis=0, ddof=1)
    expected = theory.ula_gaussian_stationary_variance(LAMBDA, h)
    np.testing.assert_allclose(expected, LAMBDA / (1 - h / (2 * LAMBDA)), rtol=1e-6)
    assert_within_se(emp_var, expected, variance_se(expected, num_chains), what=f"h={h}")
    assert_within_se(xs.mean(0), 0.0, np.sqrt(expected / num_chains), what="mean")
    if h >= 0.2:
        # the test has the power to see ULA's bias: the target's own variance is rejected
        z = np.abs(emp_var - np.asarray(LAMBDA)) / variance_se(LAMBDA, num_chains)
        assert z[0] > 5, "ULA's bias should be visible in the stiffest direction"


def test_ula_mean_contracts_at_rate():
    h, x0, num_chains, every = 0.1, 3.0, 20_000, 5
    out = lj.run(jax.random.key(1), lj.ula(_target().score, h), jnp.full((num_chains, 4), x0),
                 60, save_every=every)
    traj = np.asarray(out.trajectory, np.float64)  # [12, n, 4]
    ks = every * np.arange(1, traj.shape[0] + 1)[:, None]
    rho = np.asarray(theory.ula_gaussian_mean_contraction(LAMBDA, h), np.float64)
    expected_mean = x0 * rho**ks
    v = np.asarray(theory.ula_gaussian_stationary_variance(LAMBDA, h), np.float64)
    var_k = v * (1 - rho ** (2 * ks))
    assert_within_se(traj.mean(1), expected_mean, np.sqrt(var_k / num_chains), what="mean(k)")
    assert_within_se(traj.var(1, ddof=1), var_k, variance_se(var_k, num_chains), what="var(k)")


def test_step_size_schedule_is_used():
    # score -x (lambda = 1) from x0 = 3: mean m_{k+1} = (1 - h_k) m_k and variance
    # v_{k+1} = (1 - h_k)^2 v_k + 2 h_k, exactly, for h_k = 0.1 / (1 + k)
    schedule = lambda k: 0.1 / (1.0 + k)  # noqa: E731
    n, num_steps = 20_000, 10
    out = lj.run(jax.random.key(0), lj.ula(lambda x: -x, schedule), jnp.full((n, 1), 3.0), num_steps)
    m, v = 3.0, 0.0
    for k in range(num_steps):
        h = 0.1 / (1.0 + k)
        m, v = (1 - h) * m, (1 - h) ** 2 * v + 2 * h
    xs = np.asarray(out.positions[:, 0], np.float64)
    assert_within_se(xs.mean(), m, np.sqrt(v / n), what="mean under the schedule")
    assert_within_se(xs.var(ddof=1), v, variance_se(v, n), what="variance under the schedule")
    # a constant step of the schedule's first value would be visibly off
    assert abs(xs.mean() - 3.0 * 0.9**num_steps) > 10 * np.sqrt(v / n)
    # the same for every chain, and still reported: every chain holds the schedule's mean
    np.testing.assert_allclose(np.asarray(out.info.means["step_size"]),
                               np.full(n, np.mean(0.1 / (1.0 + np.arange(num_steps)))), rtol=1e-6)


def test_kernel_under_jit_and_vmap_matches_eager():
    alg = lj.ula(_target().score, 0.1)
    xs = jax.random.normal(jax.random.key(0), (5, 4))
    keys = jax.random.split(jax.random.key(1), 5)
    states = jax.vmap(alg.init)(xs)
    batched, _ = jax.jit(jax.vmap(alg.step))(keys, states)
    for i in range(5):
        single, _ = alg.step(keys[i], alg.init(xs[i]))
        np.testing.assert_allclose(batched.position[i], single.position, rtol=1e-6, atol=1e-6)


def test_ula_update_rule_exact():
    h = 0.3
    alg = lj.ula(lambda x: -2.0 * x, h)
    x = jnp.array([1.0, -2.0])
    key = jax.random.key(5)
    state, info = alg.step(key, alg.init(x))
    xi = jax.random.normal(key, (2,))
    np.testing.assert_allclose(state.position, x + h * (-2.0 * x) + jnp.sqrt(2 * h) * xi,
                               rtol=1e-6)
    assert bool(info.is_finite)
