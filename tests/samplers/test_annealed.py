import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj


def test_constant_schedule_equals_ula_bit_for_bit():
    score = lambda x: -(x - 1.0) / 2.0  # noqa: E731
    n = 40
    ann = lj.annealed_langevin(lambda x, t: score(x), (jnp.zeros(n), jnp.full(n, 0.1)))
    x0 = jax.random.normal(jax.random.key(0), (32, 3))
    a = lj.run(jax.random.key(7), ann, x0, n)
    b = lj.run(jax.random.key(7), lj.ula(score, 0.1), x0, n)
    np.testing.assert_array_equal(np.asarray(a.positions), np.asarray(b.positions))


def test_time_dependent_mean_follows_linear_recursion():
    # score(x, t) = -(x - t): mean recursion m_{k+1} = m_k + h (t_k - m_k), exactly.
    n, h = 30, 0.2
    times = jnp.linspace(0.0, 3.0, n)
    alg = lj.annealed_langevin(lambda x, t: -(x - t), lambda k: (times[k], h))
    out = lj.run(jax.random.key(1), alg, jnp.zeros((20_000, 1)), n)
    m = 0.0
    var = 0.0
    for k in range(n):
        m = m + h * (float(times[k]) - m)
        var = (1 - h) ** 2 * var + 2 * h
    se = np.sqrt(var / 20_000)
    assert abs(float(out.positions.mean()) - m) < 5 * se
    # the same for every chain, and still reported: every chain holds the mean time and step
    np.testing.assert_allclose(np.asarray(out.info.means["time"]), np.full(20_000, np.mean(times)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out.info.means["step_size"]), np.full(20_000, h), rtol=1e-6)


def test_schedule_errors():
    with pytest.raises(ValueError, match="step_sizes must be > 0"):
        lj.annealed_langevin(lambda x, t: -x, (jnp.zeros(3), jnp.array([0.1, -0.1, 0.1])))
    bad = lj.annealed_langevin(lambda x, t: -x, lambda k: (0.0, jnp.where(k >= 10, -1.0, 0.1)))
    with pytest.raises(ValueError, match="step 10"):
        lj.run(jax.random.key(0), bad, jnp.zeros((2, 2)), 20)
    short = lj.annealed_langevin(lambda x, t: -x, (jnp.zeros(3), jnp.full(3, 0.1)))
    with pytest.raises(ValueError, match="exceeds the schedule's length"):
        lj.run(jax.random.key(0), short, jnp.zeros((2, 2)), 5)


def test_array_schedule_keeps_step_sizes_float_with_integer_times():
    # (issue 13, item 4) integer times used to cast the step sizes: 1.5 ran as 1.0, 0.05 as 0
    sched = lj.array_schedule(jnp.arange(3), 1.5)
    np.testing.assert_allclose(np.asarray(sched.step_sizes), 1.5)
    sched = lj.array_schedule(jnp.arange(3), jnp.array([0.05, 0.1, 0.2]))
    np.testing.assert_allclose(np.asarray(sched.step_sizes), [0.05, 0.1, 0.2])
    assert jnp.issubdtype(sched.times.dtype, jnp.floating)


@pytest.mark.parametrize("schedule, match", [
    # (issue 13, item 11) a vector step size died in a raw broadcast error; a vector time ran,
    # broadcast silently into the score
    (lambda k: (0.0, jnp.full(3, 0.1)), r"schedule must return a scalar step size h per step, got shape \(3,\)"),
    (lambda k: (jnp.ones(2), 0.1), r"schedule must return a scalar time t per step, got shape \(2,\)"),
    (lambda k: 0.1, r"schedule must return a pair \(t, h\)"),
    (lambda k: (0.0, 0.1, 1.0), r"schedule must return a pair \(t, h\)"),
    (lambda k: (0.0, 0.1j), "schedule step size must be real"),
    (lambda k: (1j, 0.1), "schedule time must be real"),
    (lambda k: (0.0, True), "schedule step size must be real"),
])
def test_schedule_must_return_two_real_scalars(schedule, match):
    alg = lj.annealed_langevin(lambda x, t: -x * t, schedule)
    with pytest.raises(ValueError, match=match):
        lj.run(jax.random.key(0), alg, jnp.zeros((2, 2)), 5)


def test_array_schedule_rejects_complex_step_sizes():
    with pytest.raises(ValueError, match="step_sizes must be real"):
        lj.array_schedule(jnp.arange(3.0), 0.1j)
    with pytest.raises(ValueError, match="times must be real"):
        lj.array_schedule(jnp.arange(3.0) * 1j, 0.1)
