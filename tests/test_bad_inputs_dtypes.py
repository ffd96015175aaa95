"""Bad inputs judged in the dtype the computation uses (issue 22): a step size, variance or scale
that rounds to 0 (or to a subnormal, which XLA flushes to 0) or to inf in float32 is refused, and
so are low-precision (float16/bfloat16) and complex positions. Each error names the argument and
says why (``step_size = 1e-50 rounds to 0 in float32``), before anything runs.

One row per probe, as in ``tests/test_bad_inputs.py``: ``(id, thunk, argument name the message
must contain)``; the message must also give the reason (rounding, resolution, complex).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import annealing, sweeps, theory
from tests._bad_inputs import assert_named

K = jax.random.key(0)
D = 3
TINY = 1e-50  # 0 in float32
HUGE = 1e39  # inf in float32


def _x(n=8, d=D, dtype=jnp.float32):
    return jnp.zeros((n, d), dtype)


def _score(x):
    return -x


def _logdensity(x):
    return -0.5 * jnp.sum(x * x)


def _times(n=5):
    return jnp.linspace(0.0, 1.0, n)


def _pair_with(value, n=5):
    """``(times, step_sizes)`` as plain floats (as a user writes them), one step ``value``."""
    return _times(n), [0.1] * (n - 1) + [value]


CASES = [
    # --- step sizes: Python floats that are 0 / inf in float32 ----------------------------
    ("ula/step 1e-50", lambda: lj.ula(_score, TINY), "step_size"),
    ("ula/step 1e39", lambda: lj.ula(_score, HUGE), "step_size"),
    ("ula/step np.float64 1e-50", lambda: lj.ula(_score, np.float64(TINY)), "step_size"),
    ("ula/step float32 subnormal", lambda: lj.ula(_score, jnp.float32(1e-40)), "step_size"),
    ("mala/step 1e-50", lambda: lj.mala(_logdensity, TINY), "step_size"),
    ("mala/step 1e39", lambda: lj.mala(_logdensity, HUGE), "step_size"),
    ("annealed/step 1e-50", lambda: lj.annealed_langevin(lambda x, t: -x, _pair_with(TINY)),
     "step_sizes"),
    ("annealed/step 1e39", lambda: lj.annealed_langevin(lambda x, t: -x, _pair_with(HUGE)),
     "step_sizes"),
    ("array_schedule/step 1e-50", lambda: lj.array_schedule(*_pair_with(TINY)), "step_sizes"),
    ("dalmc_step_schedule/kappa 1e-50", lambda: annealing.dalmc_step_schedule(_times(), TINY),
     "kappa"),
    ("masked_ula/step 1e-50", lambda: sweeps.masked_ula(K, _score, TINY, _x(4, 3), 5,
                                                       jnp.ones(3)), "step_size"),
    ("stationary variance/h 1e-50", lambda: theory.ula_gaussian_stationary_variance(1.0, TINY),
     "h"),
    # --- step-size schedules holding a value that is 0 in float32 -------------------------
    ("ula/schedule with 1e-50", lambda: lj.run(
        K, lj.ula(_score, lambda k: jnp.where(k == 2, TINY, 0.1)), _x(), 5), "step_size"),
    ("ula/schedule with a subnormal", lambda: lj.run(
        K, lj.ula(_score, lambda k: jnp.where(k == 2, 1e-40, 0.1)), _x(), 5), "step_size"),
    ("mala/schedule with 1e-50", lambda: lj.run(
        K, lj.mala(_logdensity, lambda k: jnp.where(k == 1, TINY, 0.1)), _x(), 5), "step_size"),
    ("annealed/schedule with 1e-50", lambda: lj.run(K, lj.annealed_langevin(
        lambda x, t: -x, lambda k: (0.5, jnp.where(k == 3, TINY, 0.1))), _x(), 5), "step size"),
    # --- variances and scales of targets ----------------------------------------------------
    ("Isotropic/variance 1e-50", lambda: lj.IsotropicGaussian.create(jnp.zeros(2), TINY),
     "variance"),
    ("Isotropic/variance 1e39", lambda: lj.IsotropicGaussian.create(jnp.zeros(2), HUGE),
     "variance"),
    ("from_spectrum/eigenvalue 1e-50", lambda: lj.Gaussian.from_spectrum(
        jnp.zeros(2), [1.0, TINY]), "eigenvalues"),
    ("Gaussian/covariance 1e39", lambda: lj.Gaussian.create(
        jnp.zeros(2), [[HUGE, 0.0], [0.0, 1.0]]), "covariance"),
    ("Mixture/variance 1e-50", lambda: lj.GaussianMixture.create(
        jnp.array([0.5, 0.5]), jnp.zeros((2, 2)), [1.0, TINY]), "covariances"),
    # --- positions: low precision and complex -----------------------------------------------
    ("run/positions bfloat16", lambda: lj.run(K, lj.ula(_score, 0.1), _x(dtype=jnp.bfloat16), 5),
     "initial_positions"),
    ("run/positions float16", lambda: lj.run(K, lj.ula(_score, 0.1), _x(dtype=jnp.float16), 5),
     "initial_positions"),
    ("run/positions complex", lambda: lj.run(K, lj.ula(_score, 0.1), _x(dtype=jnp.complex64), 5),
     "initial_positions"),
    ("run/positions complex NumPy", lambda: lj.run(K, lj.ula(_score, 0.1),
                                                   np.zeros((8, D), np.complex128), 5),
     "initial_positions"),
    ("run/mala positions bfloat16", lambda: lj.run(K, lj.mala(_logdensity, 0.1),
                                                   _x(dtype=jnp.bfloat16), 5), "initial_positions"),
    ("ula.init/bfloat16", lambda: lj.ula(_score, 0.1).init(jnp.zeros(D, jnp.bfloat16)),
     "position"),
    ("ula.init/complex", lambda: lj.ula(_score, 0.1).init(jnp.zeros(D, jnp.complex64)),
     "position"),
    ("mala.init/complex", lambda: lj.mala(_logdensity, 0.1).init(jnp.zeros(D, jnp.complex64)),
     "position"),
    ("annealed.init/float16", lambda: lj.annealed_langevin(
        lambda x, t: -x, (_times(), jnp.full(5, 0.1))).init(jnp.zeros(D, jnp.float16)),
     "position"),
]

REASONS = ("rounds to", "resolution", "complex")


@pytest.mark.parametrize("thunk, argument", [pytest.param(t, a, id=i) for i, t, a in CASES])
def test_bad_input_is_named(thunk, argument):
    assert_named(thunk, argument, REASONS)


class _Stop(Exception):
    """Raised in place of the experiment's run: the flag was accepted."""


def test_cli_step_size_that_is_0_in_float32_is_a_flag_error(tmp_path, capsys, monkeypatch):
    from experiments import ula_bias

    def fake_run(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(ula_bias, "run", fake_run)
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--quick", "--out", str(tmp_path), "--step-sizes", "0.1", "1e-50"])
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--step-sizes" in err and "rounds to 0 in float32" in err, err


def test_the_dtype_decides_and_traced_values_are_not_read():
    # float64 under x64: 1e-50 is a (tiny) number there, not 0
    with jax.enable_x64(True):
        lj.ula(_score, TINY)
        lj.IsotropicGaussian.create(jnp.zeros(2, jnp.float64), TINY)
    # inside a user's jit the step size is a tracer: only its dtype is checked, no value read
    run = jax.jit(lambda h: lj.run(K, lj.ula(_score, h), _x(), 3).positions)
    assert run(0.1).shape == (8, D)
