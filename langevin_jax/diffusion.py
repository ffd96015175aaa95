"""Denoising diffusion (DDPM, Ho et al. 2020): noise schedules, forward noising, the score
of a denoiser, and reverse samplers (sampling algorithms for ``langevin_jax.run``).

Conventions (Ho, Jain & Abbeel 2020, *Denoising Diffusion Probabilistic Models*):

* Levels are integers ``t = 1, ..., T``; ``betas[t - 1] = beta_t``, ``alpha_t = 1 - beta_t``,
  ``alphabar_t = prod_{s <= t} alpha_s`` and ``alphabar_0 = 1``.
* Forward noising: ``x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps``, ``eps ~ N(0, I)``.
* A denoiser ``eps_fn(x, t)`` (``([d], []) -> [d]``, ``t`` an integer level) predicts ``eps``
  from ``x_t``; by Tweedie's formula the score of the noised law ``p_t`` is
  ``grad log p_t(x) = -E[eps | x_t = x] / sqrt(1 - alphabar_t)``, so
  ``s_hat(x, t) = -eps_fn(x, t) / sqrt(1 - alphabar_t)``.

This module knows nothing about neural networks (no Flax/Optax): it takes any ``eps_fn``.
The network and its training live in [`langevin_jax.nn`][langevin_jax.nn].

Its one pair of denoiser-to-score bridges is [`score_from_eps`][langevin_jax.diffusion.score_from_eps]
(``s(x, t)`` at any level) and [`score_at_level`][langevin_jax.diffusion.score_at_level] (``s(x)`` at
one level, for Langevin); ``nn.denoiser_score_fn`` / ``nn.denoiser_time_score_fn`` apply them to a
network, and [`langevin_jax.annealing.eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]
to DALMC's continuous path time. The noise schedules here (``beta_k`` over levels) are not the
annealing schedules ``lambda(t)`` of [`langevin_jax.annealing`][langevin_jax.annealing].
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.samplers.base import (
    LangevinState,
    SamplingAlgorithm,
    as_pytree_fn,
    check_score_shape,
    gaussian_noise,
)
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = [
    "NoiseSchedule",
    "linear_schedule",
    "cosine_schedule",
    "make_schedule",
    "alphabar",
    "check_level",
    "check_level_range",
    "add_noise",
    "sample_levels",
    "score_from_eps",
    "score_at_level",
    "gaussian_eps_fn",
    "ddpm_sampler",
    "ddim_sampler",
    "DDPMState",
    "DiffusionInfo",
]

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]


class NoiseSchedule(NamedTuple):
    """A discrete DDPM noise schedule (a pytree of ``[T]`` arrays).

    Attributes:
      betas: ``[T]``, ``beta_t`` at ``betas[t - 1]``, in ``(0, 1)``.
      alphas: ``[T]``, ``1 - beta_t``.
      alphabars: ``[T]``, ``prod_{s <= t} alpha_s``, decreasing.
    """

    betas: jax.Array
    alphas: jax.Array
    alphabars: jax.Array

    @property
    def num_levels(self) -> int:
        return int(self.betas.shape[0])


def _from_betas(betas: np.ndarray) -> NoiseSchedule:
    betas = np.asarray(betas, np.float64)
    if betas.ndim != 1 or betas.shape[0] < 1:
        raise ValueError(f"betas must have shape [T] with T >= 1, got {betas.shape}")
    if not np.all(np.isfinite(betas)) or np.any(betas <= 0) or np.any(betas >= 1):
        raise ValueError("betas must all lie in (0, 1)")
    alphas = 1.0 - betas
    # float64 product, then float32: alphabar_T of the linear schedule is ~4e-5 and would lose
    # digits if accumulated in float32
    alphabars = np.cumprod(alphas)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    return NoiseSchedule(f32(betas), f32(alphas), f32(alphabars))


def linear_schedule(
    num_levels: int = 1000, beta_min: float = 1e-4, beta_max: float = 0.02
) -> NoiseSchedule:
    """The linear schedule of Ho et al. (2020): ``beta_t`` linear from ``beta_min`` to ``beta_max``.

    Args:
      num_levels: ``T`` (1000 in Ho et al. and Cao et al. 2026).
      beta_min: ``beta_1``, ``0 < beta_min <= beta_max``. ``1e-4`` is Ho et al.'s value;
        Cao et al. (2026) do not print theirs (reconstruction).
      beta_max: ``beta_T < 1`` (Ho et al.'s ``0.02``).

    Returns:
      A [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule].
    """
    num_levels = _checks.check_int_at_least("num_levels", num_levels, 1)
    if not (0.0 < beta_min <= beta_max < 1.0):
        raise ValueError(
            f"beta_min, beta_max must satisfy 0 < beta_min <= beta_max < 1, got {beta_min}, {beta_max}"
        )
    return _from_betas(np.linspace(beta_min, beta_max, num_levels))


def cosine_schedule(num_levels: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """The cosine schedule of Nichol & Dhariwal (2021).

    ``alphabar_t = f(t) / f(0)`` with ``f(t) = cos^2(pi/2 (t/T + s) / (1 + s))``, and
    ``beta_t = min(1 - alphabar_t / alphabar_{t-1}, max_beta)``.

    Args:
      num_levels: ``T``.
      s: offset that keeps ``beta_1`` from being vanishingly small.
      max_beta: cap on ``beta_t`` (the last levels would otherwise reach 1).
    """
    num_levels = _checks.check_int_at_least("num_levels", num_levels, 1)
    if not s > 0 or not (0.0 < max_beta < 1.0):
        raise ValueError(f"s must be > 0 and max_beta in (0, 1), got s={s}, max_beta={max_beta}")
    grid = np.arange(num_levels + 1, dtype=np.float64) / num_levels
    f = np.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
    ab = f / f[0]
    betas = np.minimum(1.0 - ab[1:] / ab[:-1], max_beta)
    return _from_betas(betas)


def make_schedule(kind: str = "linear", num_levels: int = 1000, **kwargs) -> NoiseSchedule:
    """``linear_schedule`` or ``cosine_schedule`` by name (for configs)."""
    if kind == "linear":
        return linear_schedule(num_levels, **kwargs)
    if kind == "cosine":
        return cosine_schedule(num_levels, **kwargs)
    raise ValueError(f"schedule kind must be 'linear' or 'cosine', got {kind!r}")


def check_level(name: str, level: int, schedule: NoiseSchedule) -> int:
    """Eagerly check that ``level`` is an int in ``[1, T]``; return it."""
    level = _checks.check_int_at_least(name, level, 1)
    if level > schedule.num_levels:
        raise ValueError(f"{name} must be <= T = {schedule.num_levels}, got {level}")
    return level


def check_level_range(min_level: int, max_level: int, schedule: NoiseSchedule) -> tuple[int, int]:
    """Eagerly check ``1 <= min_level <= max_level <= T``."""
    lo = check_level("min_level", min_level, schedule)
    hi = check_level("max_level", max_level, schedule)
    if lo > hi:
        raise ValueError(f"min_level must be <= max_level, got {lo} > {hi}")
    return lo, hi


def alphabar(schedule: NoiseSchedule, t: ArrayLike) -> jax.Array:
    """``alphabar_t`` for integer levels ``t`` (any shape), with ``alphabar_0 = 1``."""
    t = jnp.asarray(t)
    padded = jnp.concatenate([jnp.ones((1,), schedule.alphabars.dtype), schedule.alphabars])
    return padded[t]


def add_noise(schedule: NoiseSchedule, x0: jax.Array, t: ArrayLike, eps: ArrayLike) -> jax.Array:
    """Forward noising ``x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps``.

    Args:
      schedule: the noise schedule.
      x0: ``[..., d]`` clean points.
      t: integer levels broadcastable to ``x0.shape[:-1]`` (e.g. ``[n]`` or ``[]``).
      eps: ``[..., d]`` standard normal noise.

    Returns:
      ``x_t`` ``[..., d]``.
    """
    ab = alphabar(schedule, t)[..., None].astype(x0.dtype)
    return jnp.sqrt(ab) * x0 + jnp.sqrt(1.0 - ab) * eps


def sample_levels(key: PRNGKey, shape: Sequence[int], min_level: int, max_level: int) -> jax.Array:
    """Integer levels uniform on ``{min_level, ..., max_level}``, ``int32`` of ``shape``."""
    _checks.check_key("key", key)
    if _checks.is_concrete(min_level) and _checks.is_concrete(max_level):
        if not 1 <= int(min_level) <= int(max_level):
            raise ValueError(f"need 1 <= min_level <= max_level, got min_level={min_level}, "
                             f"max_level={max_level}")
    return jax.random.randint(key, shape, min_level, max_level + 1, dtype=jnp.int32)


def score_from_eps(eps_fn: EpsFn, schedule: NoiseSchedule) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The time-dependent score ``s(x, t) = -eps_fn(x, t) / sqrt(1 - alphabar_t)``.

    Args:
      eps_fn: ``([d], []) -> [d]``, a noise predictor at integer level ``t``.
      schedule: the schedule it was trained with.

    Returns:
      ``score_fn(x[d], t[]) -> [d]`` (usable with [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin]).
    """
    _checks.check_callable("eps_fn", eps_fn)

    return jax.tree_util.Partial(_score_from_eps, as_pytree_fn(eps_fn), schedule)


def _score_from_eps(eps_fn, schedule, x, t):
    t = jnp.asarray(t).astype(jnp.int32)
    scale = jnp.sqrt(1.0 - alphabar(schedule, t)).astype(x.dtype)
    return -eps_fn(x, t) / scale


def score_at_level(eps_fn: EpsFn, schedule: NoiseSchedule, level: int) -> Callable[[jax.Array], jax.Array]:
    """The score at one fixed level, ``s_hat(x) = -eps_fn(x, level) / sqrt(1 - alphabar_level)``.

    This is how Cao et al. (2026, Section 9) turn a denoiser into a Langevin score
    (``level = 10``). Returns ``score_fn(x[d]) -> [d]`` for [`langevin_jax.ula`][langevin_jax.ula].

    Raises:
      ValueError: ``level`` not an int in ``[1, T]``.
    """
    _checks.check_callable("eps_fn", eps_fn)
    level = check_level("level", level, schedule)
    scale = float(np.sqrt(1.0 - float(schedule.alphabars[level - 1])))
    # a Partial: the denoiser's parameters (when eps_fn is a pytree, as nn.denoiser_eps_fn's
    # is) and the scale are traced inputs of a run, so new parameters re-use the program
    return jax.tree_util.Partial(_score_at_level, as_pytree_fn(eps_fn), scale, level)


def _score_at_level(eps_fn, scale, level, x):
    return -eps_fn(x, jnp.asarray(level, jnp.int32)) / jnp.asarray(scale, x.dtype)


def gaussian_eps_fn(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike) -> EpsFn:
    """The exact (Bayes-optimal) denoiser of a Gaussian data law ``N(m, C)``.

    ``x_t ~ N(sqrt(ab) m, ab C + (1 - ab) I)`` with ``ab = alphabar_t``, so
    ``E[eps | x_t = x] = sqrt(1 - ab) (ab C + (1 - ab) I)^{-1} (x - sqrt(ab) m)``,
    computed through the eigendecomposition ``C = U diag(lambda) U^T`` (done once).

    Args:
      schedule: the noise schedule.
      mean: ``[d]``.
      covariance: ``[d, d]`` symmetric positive semi-definite.

    Returns:
      ``eps_fn(x[d], t[]) -> [d]``.
    """
    mean = _checks.check_vector("mean", mean)
    d = mean.shape[0]
    covariance = _checks.check_covariance("covariance", covariance, d)
    lam, u = jnp.linalg.eigh(0.5 * (covariance + covariance.T))

    def eps_fn(x, t):
        ab = alphabar(schedule, jnp.asarray(t).astype(jnp.int32)).astype(x.dtype)
        z = u.T @ (x - jnp.sqrt(ab) * mean)
        return jnp.sqrt(1.0 - ab) * (u @ (z / (ab * lam + 1.0 - ab)))

    return eps_fn


# --------------------------------------------------------------------------------------
# Reverse samplers
# --------------------------------------------------------------------------------------


#: Position and the number of reverse steps taken: the shared
#: [`langevin_jax.samplers.base.LangevinState`][langevin_jax.samplers.base.LangevinState] ``(position, count)``.
DDPMState = LangevinState


class DiffusionInfo(NamedTuple):
    """``is_finite``: new position finite; ``level``: the level ``t`` the step started from."""

    is_finite: jax.Array
    level: jax.Array


def _check_eps_fn(eps_fn):
    _checks.check_callable("eps_fn", eps_fn)


def ddpm_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    *,
    start_level: int | None = None,
    variance: str = "beta",
) -> SamplingAlgorithm:
    """DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) as an ``init``/``step`` pair.

    Step ``k`` goes from level ``t = start_level - k`` to ``t - 1``:

    ``x_{t-1} = (x_t - beta_t / sqrt(1 - alphabar_t) eps_fn(x_t, t)) / sqrt(alpha_t) + sigma_t z``

    with ``z ~ N(0, I)``, ``sigma_t^2 = beta_t`` (``variance="beta"``) or the posterior
    variance ``(1 - alphabar_{t-1}) / (1 - alphabar_t) beta_t`` (``"posterior"``), and no
    noise at the last step (``t = 1``). Run it for ``start_level`` steps with
    [`langevin_jax.run`][langevin_jax.run] from ``N(0, I)`` (the law of ``x_T`` up to ``alphabar_T``, about
    ``4e-5`` for the linear schedule) to get samples of the data law.

    Args:
      eps_fn: ``([d], []) -> [d]`` noise predictor at integer level ``t``.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] it was trained with.
      start_level: the level of the initial positions (default ``T``).
      variance: ``"beta"`` or ``"posterior"``.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.diffusion.SamplingAlgorithm] with
      [`DDPMState`][langevin_jax.samplers.base.LangevinState] and
      [`DiffusionInfo`][langevin_jax.diffusion.DiffusionInfo];
      ``num_steps`` must be ``<= start_level``.
    """
    _check_eps_fn(eps_fn)
    start = check_level("start_level", schedule.num_levels if start_level is None else start_level,
                        schedule)
    if variance not in ("beta", "posterior"):
        raise ValueError(f"variance must be 'beta' or 'posterior', got {variance!r}")

    def init(position, rng_key=None):
        return DDPMState(jnp.asarray(position), jnp.zeros((), jnp.int32))

    def step(key, state):
        x = state.position
        t = start - state.count
        beta = schedule.betas[t - 1].astype(x.dtype)
        alpha = schedule.alphas[t - 1].astype(x.dtype)
        ab = alphabar(schedule, t).astype(x.dtype)
        ab_prev = alphabar(schedule, t - 1).astype(x.dtype)
        mean = (x - beta / jnp.sqrt(1.0 - ab) * eps_fn(x, t)) / jnp.sqrt(alpha)
        var = beta if variance == "beta" else beta * (1.0 - ab_prev) / (1.0 - ab)
        sigma = jnp.where(t > 1, jnp.sqrt(var), 0.0)
        new = mean + sigma * gaussian_noise(key, x)
        return DDPMState(new, state.count + 1), DiffusionInfo(jnp.all(jnp.isfinite(new)), t)

    def check(position, num_steps):
        check_score_shape("eps_fn", eps_fn, position, jax.ShapeDtypeStruct((), jnp.int32))
        if num_steps > start:
            raise ValueError(f"num_steps={num_steps} exceeds start_level={start}")

    return SamplingAlgorithm(init, step, check)


def ddim_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    num_steps: int | None = None,
    *,
    start_level: int | None = None,
    eta: float = 0.0,
) -> SamplingAlgorithm:
    """DDIM (Song, Meng & Ermon 2021) over a subsequence of levels.

    Levels ``tau_S = start_level > ... > tau_1 >= 1`` (evenly spaced, ``S = num_steps``),
    ``tau_0 = 0``. From ``x`` at level ``t = tau_i`` to ``s = tau_{i-1}``:

    ``x0_hat = (x - sqrt(1 - ab_t) eps) / sqrt(ab_t)``,
    ``x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps + sigma z``,
    ``sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s)``.

    ``eta = 0`` is deterministic: the probability-flow ODE discretised in the DDIM way;
    ``eta = 1`` with every level is DDPM with the posterior variance.

    Args:
      eps_fn: ``([d], []) -> [d]`` noise predictor.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule].
      num_steps: ``S`` (default: every level from ``start_level`` down).
      start_level: the level of the initial positions (default ``T``).
      eta: ``>= 0``, the stochasticity.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.diffusion.SamplingAlgorithm]
      ([`DDPMState`][langevin_jax.samplers.base.LangevinState],
      [`DiffusionInfo`][langevin_jax.diffusion.DiffusionInfo]); run it for
      ``S`` steps.
    """
    _check_eps_fn(eps_fn)
    start = check_level("start_level", schedule.num_levels if start_level is None else start_level,
                        schedule)
    num = start if num_steps is None else _checks.check_int_at_least("num_steps", num_steps, 1)
    if num > start:
        raise ValueError(f"num_steps={num} exceeds start_level={start}")
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite float >= 0, got {eta!r}")
    taus = np.unique(np.round(np.linspace(start, 1, num)).astype(np.int32))[::-1]
    if taus.shape[0] != num:  # rounding collided: fall back to integer steps from the top
        taus = np.arange(start, start - num, -1, dtype=np.int32)
    levels = jnp.asarray(np.concatenate([taus, [0]]).astype(np.int32))  # [S + 1], decreasing

    def init(position, rng_key=None):
        return DDPMState(jnp.asarray(position), jnp.zeros((), jnp.int32))

    def step(key, state):
        x = state.position
        t, s = levels[state.count], levels[state.count + 1]
        ab_t = alphabar(schedule, t).astype(x.dtype)
        ab_s = alphabar(schedule, s).astype(x.dtype)
        eps = eps_fn(x, t)
        x0 = (x - jnp.sqrt(1.0 - ab_t) * eps) / jnp.sqrt(ab_t)
        sigma = eta * jnp.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))
        direction = jnp.sqrt(jnp.maximum(1.0 - ab_s - sigma**2, 0.0))
        new = jnp.sqrt(ab_s) * x0 + direction * eps
        if eta > 0:
            new = new + sigma * gaussian_noise(key, x)
        return DDPMState(new, state.count + 1), DiffusionInfo(jnp.all(jnp.isfinite(new)), t)

    def check(position, n):
        check_score_shape("eps_fn", eps_fn, position, jax.ShapeDtypeStruct((), jnp.int32))
        if n > num:
            raise ValueError(f"num_steps={n} exceeds the sampler's {num} levels")

    return SamplingAlgorithm(init, step, check)
