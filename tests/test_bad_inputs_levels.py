"""Bad inputs, part 2 (issue 22, parts 7 and 8): diffusion levels and annealing times out of
range, and the low-level helpers (checkpoints, score shapes and dtypes, PSD square roots, padded
sweeps, counts past int32 or memory). Each must raise ``ValueError``/``TypeError`` naming the
argument, before anything long runs; never a silent result, never a raw JAX/Flax error.

One row per probe: ``(id, thunk, argument name the message must contain)``, as in
``tests/test_bad_inputs.py``. The thunks build their inputs lazily.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import langevin_jax as lj
from langevin_jax import annealing, diffusion, gaussian_dsm, metrics, nn, scores, sweeps, theory
from tests._bad_inputs import assert_named

K = jax.random.key(0)
D = 3
NAN = float("nan")
I2 = jnp.eye(2)
NON_SYM = jnp.array([[1.0, 5.0], [-5.0, 1.0]])


def _x(n=8, d=D):
    return jnp.zeros((n, d))


def _score(x):
    return -x


def _sched():
    return diffusion.linear_schedule(100)


def _eps(x, t):
    return jnp.zeros_like(x)


def _target():
    return lj.IsotropicGaussian.create(jnp.zeros(D), 1.0)


def _gaussian2():
    return lj.Gaussian.create(jnp.zeros(2), jnp.diag(jnp.array([1.0, 2.0])))


def _net(width=4):
    cfg = nn.DenoiserConfig(dim=2, width=width, depth=1, num_levels=100)
    return nn.init_denoiser(K, cfg), cfg


def _add_noise(t, x0=None, eps=None):
    x0 = jnp.ones((4, 2)) if x0 is None else x0
    return diffusion.add_noise(_sched(), x0, t, jnp.ones_like(x0) if eps is None else eps)


def _load_other_width():
    """A checkpoint of a width-4 network, loaded with a config of width 8."""
    data = jax.random.normal(K, (16, 2))
    small = nn.TrainConfig(model=nn.DenoiserConfig(dim=2, width=4, depth=1, num_levels=100),
                           num_levels=100, num_steps=1, batch_size=8)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ckpt.msgpack"
        nn.train_denoiser(K, data, small, checkpoint_path=path, chunk_size=1)
        wide = nn.TrainConfig(model=nn.DenoiserConfig(dim=2, width=8, depth=1, num_levels=100),
                              num_levels=100, num_steps=1, batch_size=8)
        return nn.load_checkpoint(path, wide)


def _with_free_memory(num_bytes, thunk):
    """``thunk()`` as if only ``num_bytes`` of memory were free (the memory checks read
    ``_checks.available_memory_bytes``)."""
    from langevin_jax import _checks

    saved = getattr(_checks, "available_memory_bytes", None)
    _checks.available_memory_bytes = lambda: num_bytes
    try:
        return jax.block_until_ready(thunk())
    finally:
        if saved is None:
            del _checks.available_memory_bytes
        else:
            _checks.available_memory_bytes = saved


def _padded(mask=(1.0, 1.0, 0.0)):
    return jnp.asarray(mask)


CASES = [
    # --- 7. diffusion levels: 1..T ------------------------------------------------------
    ("add_noise/level -1", lambda: _add_noise(-1), "t must"),
    ("add_noise/level > T", lambda: _add_noise(150), "t must"),
    ("add_noise/level 0", lambda: _add_noise(jnp.array([1, 0, 5, 7])), "t must"),
    ("add_noise/float level", lambda: _add_noise(1.5), "t must"),
    ("add_noise/t shape", lambda: _add_noise(jnp.ones(3, jnp.int32)), "t must"),
    ("add_noise/eps shape", lambda: _add_noise(3, eps=jnp.ones((4, 3))), "eps"),
    ("alphabar/level > T", lambda: diffusion.alphabar(_sched(), 101), "t must"),
    ("alphabar/level -1", lambda: diffusion.alphabar(_sched(), -1), "t must"),
    ("score_from_eps/level 0", lambda: diffusion.score_from_eps(_eps, _sched())(jnp.ones(2), 0),
     "t must"),
    ("score_from_eps/level > T", lambda: diffusion.score_from_eps(_eps, _sched())(
        jnp.ones(2), 101), "t must"),
    ("apply_denoiser/level 5000", lambda: nn.apply_denoiser(*_net(), jnp.ones((4, 2)), 5000),
     "t must"),
    ("apply_denoiser/level 0", lambda: nn.apply_denoiser(*_net(), jnp.ones((4, 2)),
                                                         jnp.array([1, 2, 0, 3])), "t must"),
    ("denoiser_eps_fn/level 5000", lambda: nn.denoiser_eps_fn(*_net())(jnp.ones(2), 5000), "t must"),
    # --- 7. annealing times: [0, 1] -----------------------------------------------------
    ("schedule.lam/t 1.5", lambda: annealing.cosine_schedule().lam(1.5), "t must"),
    ("schedule.lam/t -0.5", lambda: annealing.linear_schedule()(jnp.array([0.2, -0.5])), "t must"),
    ("schedule.rate/t 2", lambda: annealing.ou_schedule(2.0).rate(2.0), "t must"),
    ("schedule.lam_and_rate/NaN", lambda: annealing.cosine_schedule().lam_and_rate(NAN), "t must"),
    ("custom schedule/t 1.5", lambda: annealing.custom_schedule(
        lambda t: jnp.asarray(t) ** 2, "sq").lam(1.5), "t must"),
    ("diffusion_marginal/t 1.5", lambda: annealing.diffusion_marginal(_gaussian2(), "cosine",
                                                                      1.5), "t must"),
    ("diffusion_marginal/t -1", lambda: annealing.diffusion_marginal(_gaussian2(), "ou", -1.0),
     "t must"),
    ("action_density/t 2", lambda: annealing.gaussian_action_density(_gaussian2(), "cosine",
                                                                     2.0), "t must"),
    ("speed_fn/t -0.1", lambda: annealing.gaussian_speed_fn(_gaussian2(), "cosine")(-0.1), "t must"),
    ("path.score_fn/t 1.5", lambda: annealing.diffusion_path(_gaussian2(), "cosine").score_fn(
        jnp.ones(2), 1.5), "t must"),
    ("path.sample_fn/t -1", lambda: annealing.diffusion_path(_gaussian2(), "cosine").sample_fn(
        K, -1.0, 4), "t must"),
    # --- 8. low-level helpers -----------------------------------------------------------
    ("load_checkpoint/other width", _load_other_width, "config.model"),
    ("train_denoiser/key int", lambda: nn.train_denoiser(
        0, jnp.zeros((10, 2)), nn.TrainConfig(model=_net()[1], num_levels=100, num_steps=2)),
     "key"),
    ("TrainConfig/num_steps > int32", lambda: nn.TrainConfig(model=_net()[1], num_levels=100,
                                                             num_steps=2**40), "num_steps"),
    ("apply_denoiser/x dim", lambda: nn.apply_denoiser(*_net(), jnp.ones((4, 3)),
                                                       jnp.ones(4, jnp.int32)), "x must"),
    ("apply_denoiser/t shape", lambda: nn.apply_denoiser(*_net(), jnp.ones((4, 2)),
                                                         jnp.ones(3, jnp.int32)), "t must"),
    ("score_error/estimate shape", lambda: metrics.score_error(
        K, lambda x: x[:1], _score, _target(), 10), "score_hat_fn"),
    ("score_error/true score shape", lambda: metrics.score_error(
        K, _score, lambda x: jnp.sum(x), _target(), 10), "score_fn"),
    ("sqrtm_psd/non-symmetric", lambda: theory.sqrtm_psd(NON_SYM), "a must"),
    ("sqrtm_psd/negative eigenvalue", lambda: theory.sqrtm_psd(-I2), "a must"),
    ("sqrtm_psd/not square", lambda: theory.sqrtm_psd(jnp.ones((2, 3))), "a must"),
    ("sampling_w2/sampled -I", lambda: gaussian_dsm.sampling_w2(I2, -I2), "sampled_covariance"),
    ("sampling_w2/data not PD", lambda: gaussian_dsm.sampling_w2(-I2, I2), "data_covariance"),
    ("sampling_w2/sampled non-symmetric", lambda: gaussian_dsm.sampling_w2(I2, NON_SYM),
     "sampled_covariance"),
    ("annealed_law/initial -I", lambda: annealing.gaussian_annealed_law(
        _gaussian2(), "cosine", 1.0, num_ode_steps=10, initial_covariance=-I2),
     "initial_covariance"),
    ("dalmc_law/initial -I", lambda: annealing.gaussian_dalmc_law(
        _gaussian2(), "cosine", 1.0, annealing.uniform_time_grid(4), initial_covariance=-I2),
     "initial_covariance"),
    ("dalmc_law/initial mean NaN", lambda: annealing.gaussian_dalmc_law(
        _gaussian2(), "cosine", 1.0, annealing.uniform_time_grid(4),
        initial_mean=jnp.array([NAN, 0.0])), "initial_mean"),
    ("masked_ula/padding nonzero", lambda: sweeps.masked_ula(
        K, _score, 0.1, jnp.ones((4, 3)), 5, _padded()), "initial_positions"),
    ("masked_ula/score wrong shape", lambda: sweeps.masked_ula(
        K, lambda x: x[:2], 0.1, _x(4, 3), 5, jnp.ones(3)), "score_fn"),
    ("masked_gaussian_fit_kl/padding nonzero", lambda: sweeps.masked_gaussian_fit_kl(
        jax.random.normal(K, (50, 3)), jnp.zeros(3), _padded()), "samples"),
    ("masked_gaussian_fit_kl/mask shape", lambda: sweeps.masked_gaussian_fit_kl(
        jnp.ones((5, 3)), jnp.zeros(3), jnp.ones(4)), "mask"),
    ("masked_gaussian_fit_kl/samples rank 1", lambda: sweeps.masked_gaussian_fit_kl(
        jnp.ones(3), jnp.zeros(3), jnp.ones(3)), "samples"),
    ("pad_spectrum/mask shape", lambda: sweeps.pad_spectrum(jnp.ones(3), jnp.ones(4)), "mask"),
    ("ula_gaussian_w2_masked/mask shape", lambda: sweeps.ula_gaussian_w2_masked(
        0.1, jnp.ones(3), jnp.ones(4), 5), "mask"),
    ("diag_fit_w2_masked/mask shape", lambda: sweeps.diag_fit_w2_masked(
        jnp.ones((5, 3)), jnp.ones(3), jnp.ones(4)), "mask"),
    ("diag_fit_w2_masked/samples rank 1", lambda: sweeps.diag_fit_w2_masked(
        jnp.ones(3), jnp.ones(3), jnp.ones(3)), "samples"),
    ("prefix_normal/key int", lambda: sweeps.prefix_normal(0, 3), "key"),
    ("prefix_normal/d 0", lambda: sweeps.prefix_normal(K, 0), "d must"),
    ("sweep/fn not callable", lambda: sweeps.sweep(3, [2, 3]), "fn"),
    ("in_cone/x batch", lambda: scores.in_cone(jnp.ones((3, 2)), jnp.ones(2), 1.0, 0.3), "x must"),
    ("in_cone/axis dim", lambda: scores.in_cone(jnp.ones(3), jnp.ones(2), 1.0, 0.3), "x must"),
    ("in_cone/start string", lambda: scores.in_cone(jnp.ones(2), jnp.ones(2), "a", 0.3),
     "start"),
    ("run/score complex", lambda: lj.run(K, lj.ula(lambda x: x * 1j, 0.1), _x(4, 2), 5),
     "score_fn"),
    ("run/score float16", lambda: lj.run(K, lj.ula(lambda x: (-x).astype(jnp.float16), 0.1),
                                         _x(4, 2), 5), "score_fn"),
    ("annealed/score complex", lambda: lj.run(K, lj.annealed_langevin(
        lambda x, t: x * 1j, (jnp.linspace(0.0, 1.0, 5), jnp.full((5,), 0.1))), _x(4, 2), 5),
     "score_fn"),
    ("run/num_steps > int32", lambda: lj.run(K, lj.ula(_score, 0.1), _x(4, 2), 2**40),
     "num_steps"),
    # beyond memory: a machine with 4 kB free (a real one would crash or swap the old code)
    ("run/trajectory beyond memory", lambda: _with_free_memory(4096, lambda: lj.run(
        K, lj.ula(_score, 0.1), _x(8, D), 100, save_every=1)), "num_steps"),
    ("prefix_noise/beyond memory", lambda: _with_free_memory(4096, lambda: sweeps.prefix_noise(
        K, 100, 8, D)), "num_chains"),
    ("prefix_noise/num_steps > int32", lambda: sweeps.prefix_noise(K, 2**40, 2, 3),
     "num_steps"),
]


@pytest.mark.parametrize("thunk, argument", [pytest.param(t, a, id=i) for i, t, a in CASES])
def test_bad_input_is_named(thunk, argument):
    assert_named(thunk, argument)


def test_levels_and_times_inside_the_range_still_work():
    """The range checks refuse only what is outside: both ends of the ranges are accepted, and
    traced levels and times (inside ``jit``, a sampler's scan) are not read."""
    sched = _sched()
    x0 = jnp.ones((2, 2))
    assert diffusion.add_noise(sched, x0, jnp.array([1, 100]), x0).shape == (2, 2)
    assert float(diffusion.alphabar(sched, 0)) == 1.0
    score = diffusion.score_from_eps(_eps, sched)
    assert jax.jit(score)(jnp.ones(2), 0).shape == (2,)  # traced: not read (no added work)
    params, cfg = _net()
    assert nn.apply_denoiser(params, cfg, jnp.ones((2, 2)), jnp.array([1, 100])).shape == (2, 2)
    for sched_name in ("linear", "cosine", "ou"):
        s = annealing.get_schedule(sched_name)
        assert s.lam(jnp.array([0.0, 1.0])).shape == (2,)
        assert jax.jit(s.lam)(2.0).shape == ()  # traced: not read
    assert float(theory.sqrtm_psd(jnp.array([[1.0, 1.0], [1.0, 1.0]]))[0, 0]) == pytest.approx(
        0.5**0.5, rel=1e-5)  # singular PSD, rounding-level negative eigenvalue clipped
