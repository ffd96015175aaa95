r"""DDPM noise schedules over integer levels and the forward noising (Ho et al. 2020).

* Levels are integers $t = 1, \dots, T$; ``betas[t - 1]`` $= \beta_t$, $\alpha_t = 1 - \beta_t$,
  $\bar\alpha_t = \prod_{s \le t} \alpha_s$ and $\bar\alpha_0 = 1$.
* Forward noising: $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$,
  $\varepsilon \sim \mathcal{N}(0, I)$.

These noise schedules ($\beta_t$ over levels) are not the annealing schedules $\lambda(t)$
of [`langevin_jax.annealing`][langevin_jax.annealing].
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
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
]



class NoiseSchedule(NamedTuple):
    r"""A discrete DDPM noise schedule (a pytree of ``[T]`` arrays).

    Attributes:
      betas: ``[T]``, $\beta_t$ at ``betas[t - 1]``, in $(0, 1)$.
      alphas: ``[T]``, $\alpha_t = 1 - \beta_t$.
      alphabars: ``[T]``, $\bar\alpha_t = \prod_{s \le t} \alpha_s$, decreasing.
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
    r"""The linear schedule of Ho et al. (2020): $\beta_t$ linear from ``beta_min`` to ``beta_max``.

    Args:
      num_levels: $T$ (1000 in Ho et al. and Cao et al. 2026).
      beta_min: $\beta_1$, ``0 < beta_min <= beta_max``. ``1e-4`` is Ho et al.'s value;
        Cao et al. (2026) do not print theirs (reconstruction).
      beta_max: $\beta_T < 1$ (Ho et al.'s ``0.02``).

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
    r"""The cosine schedule of Nichol & Dhariwal (2021).

    $\bar\alpha_t = f(t) / f(0)$ with $f(t) = \cos^2\bigl(\frac{\pi}{2} (t/T + s) / (1 + s)\bigr)$, and
    $\beta_t = \min(1 - \bar\alpha_t / \bar\alpha_{t-1}, \mathtt{max\_beta})$.

    Args:
      num_levels: $T$.
      s: offset $s$ that keeps $\beta_1$ from being vanishingly small.
      max_beta: cap on $\beta_t$ (the last levels would otherwise reach 1).
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
    """Eagerly check that ``level`` is an int in $[1, T]$; return it."""
    level = _checks.check_int_at_least(name, level, 1)
    if level > schedule.num_levels:
        raise ValueError(f"{name} must be <= T = {schedule.num_levels}, got {level}")
    return level


def check_level_range(min_level: int, max_level: int, schedule: NoiseSchedule) -> tuple[int, int]:
    """Eagerly check ``1 <= min_level <= max_level <= T`` ($T$ the schedule's number of levels)."""
    lo = check_level("min_level", min_level, schedule)
    hi = check_level("max_level", max_level, schedule)
    if lo > hi:
        raise ValueError(f"min_level must be <= max_level, got {lo} > {hi}")
    return lo, hi


def alphabar(schedule: NoiseSchedule, t: ArrayLike) -> jax.Array:
    r"""$\bar\alpha_t$ for integer levels $t$ (any shape) in $0, \dots, T$, with $\bar\alpha_0 = 1$.

    Raises:
      ValueError: ``t`` not of an integer dtype, or (when concrete) outside $0, \dots, T$ (an
        index past either end would wrap or be clamped).
    """
    _checks.check_level_values("t", t, schedule.num_levels, lowest=0, integer=True)
    return _alphabar(schedule, t)


def _alphabar(schedule: NoiseSchedule, t: ArrayLike) -> jax.Array:
    t = jnp.asarray(t)
    padded = jnp.concatenate([jnp.ones((1,), schedule.alphabars.dtype), schedule.alphabars])
    return padded[t]


def add_noise(schedule: NoiseSchedule, x0: jax.Array, t: ArrayLike, eps: ArrayLike) -> jax.Array:
    r"""Forward noising $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$.

    Args:
      schedule: the noise schedule.
      x0: ``[..., d]`` clean points $x_0$.
      t: integer levels in $1, \dots, T$ broadcastable to ``x0.shape[:-1]`` (e.g. ``[n]`` or ``[]``).
      eps: ``[..., d]`` standard normal noise $\varepsilon$.

    Returns:
      $x_t$, ``[..., d]``.

    Raises:
      ValueError: ``eps`` not of ``x0``'s shape, ``t`` not integer or not broadcastable to
        ``x0.shape[:-1]``, or (when concrete) a level outside $1, \dots, T$.
    """
    x0 = jnp.asarray(x0)
    if x0.ndim < 1:
        raise ValueError(f"x0 must have shape [..., d], got {x0.shape}")
    if jnp.shape(eps) != x0.shape:
        raise ValueError(f"eps must have x0's shape {x0.shape}, got {jnp.shape(eps)}")
    try:
        fits = jnp.broadcast_shapes(jnp.shape(t), x0.shape[:-1]) == x0.shape[:-1]
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"t must be levels broadcastable to x0.shape[:-1] = {x0.shape[:-1]}, "
                         f"got shape {jnp.shape(t)}")
    _checks.check_level_values("t", t, schedule.num_levels, integer=True)
    ab = _alphabar(schedule, t)[..., None].astype(x0.dtype)
    return jnp.sqrt(ab) * x0 + jnp.sqrt(1.0 - ab) * eps


def sample_levels(key: PRNGKey, shape: Sequence[int], min_level: int, max_level: int) -> jax.Array:
    r"""Integer levels uniform on $\{\mathtt{min\_level}, \dots, \mathtt{max\_level}\}$, ``int32`` of ``shape``."""
    _checks.check_key("key", key)
    if _checks.is_concrete(min_level) and _checks.is_concrete(max_level):
        if not 1 <= int(min_level) <= int(max_level):
            raise ValueError(f"need 1 <= min_level <= max_level, got min_level={min_level}, "
                             f"max_level={max_level}")
    return jax.random.randint(key, shape, min_level, max_level + 1, dtype=jnp.int32)
