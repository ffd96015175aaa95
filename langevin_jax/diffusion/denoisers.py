"""Noise predictors and the scores they define, and the levels where a predictor is valid.

A denoiser ``eps_fn(x, t)`` (``([d], []) -> [d]``, ``t`` an integer level) predicts the noise
``eps`` from ``x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps``. By Tweedie's formula
the score of the noised law ``p_t`` is ``grad log p_t(x) = -E[eps | x_t = x] / sqrt(1 -
alphabar_t)``, so ``s_hat(x, t) = -eps_fn(x, t) / sqrt(1 - alphabar_t)``.

The one pair of denoiser-to-score bridges is [`score_from_eps`][langevin_jax.diffusion.score_from_eps]
(``s(x, t)`` at any level) and [`score_at_level`][langevin_jax.diffusion.score_at_level] (``s(x)``
at one level, for Langevin); ``nn.denoiser_score_fn`` / ``nn.denoiser_time_score_fn`` apply them
to a network, and [`langevin_jax.annealing.eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]
to DALMC's continuous path time.

**Where a network is valid.** A network trained on the levels ``min_level..max_level`` only
(the memorisation networks of paper 1 are trained on ``1..100`` of ``T = 1000``) says nothing
about the others. [`with_levels`][langevin_jax.diffusion.with_levels] attaches those levels to
any ``eps_fn`` (the networks of [`langevin_jax.nn`][langevin_jax.nn] get them from their
training config), and every sampler and bridge of this package refuses, with a ``ValueError``
naming the levels, to evaluate it outside them, unless it is called with
``allow_untrained_levels=True`` (then an [`UntrainedLevelWarning`][langevin_jax.diffusion.UntrainedLevelWarning]
is issued and the sampler's ``metadata`` records it).
"""

from __future__ import annotations

import warnings
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar, check_level
from langevin_jax.samplers.base import as_pytree_fn
from langevin_jax.types import ArrayLike

__all__ = [
    "EpsFn",
    "LevelledFn",
    "UntrainedLevelWarning",
    "with_levels",
    "trained_levels",
    "check_trained_levels",
    "score_from_eps",
    "score_at_level",
    "gaussian_eps_fn",
]

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
"""``eps_fn(x [d], t [] int) -> [d]``: a noise predictor at an integer level."""


class UntrainedLevelWarning(UserWarning):
    """A sampler was built, with ``allow_untrained_levels=True``, to evaluate a denoiser at
    levels it was not trained on. The numbers there are an extrapolation of the network."""


@jax.tree_util.register_pytree_node_class
class LevelledFn:
    """A function of ``(x, t)`` over integer levels ``t`` that knows where it is valid.

    ``LevelledFn(fn, min_level, max_level)(x, t) == fn(x, t)``; the levels are the ones the
    function was trained on (inclusive). It is a pytree: ``fn``'s arrays (a network's
    parameters, when ``fn`` is a `jax.tree_util.Partial`) are its leaves and the two levels
    are static, so a sampler holding it re-uses its compiled program for new parameters.

    Attributes:
      fn: the function ``(x [d], t []) -> [d]``.
      min_level: the lowest level it was trained on (``>= 1``).
      max_level: the highest (``>= min_level``).
    """

    __slots__ = ("fn", "min_level", "max_level", "__weakref__")

    def __init__(self, fn: Callable, min_level: int, max_level: int):
        self.fn = fn
        self.min_level = min_level
        self.max_level = max_level

    def __call__(self, x, t):
        return self.fn(x, t)

    @property
    def levels(self) -> tuple[int, int]:
        """``(min_level, max_level)``."""
        return self.min_level, self.max_level

    def __repr__(self) -> str:
        return f"LevelledFn({self.fn!r}, levels {self.min_level}..{self.max_level})"

    def tree_flatten(self):
        return (self.fn,), (self.min_level, self.max_level)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)


def with_levels(fn: Callable, min_level: int, max_level: int) -> LevelledFn:
    """``fn`` (an ``eps_fn(x, t)`` or a score ``s(x, t)`` over levels) marked as trained on
    the levels ``min_level..max_level`` only.

    Args:
      fn: ``(x [d], t []) -> [d]``; a bound method of a pytree becomes a
        `jax.tree_util.Partial` (its arrays traced inputs of a run).
      min_level: an int ``>= 1``.
      max_level: an int ``>= min_level``.

    Returns:
      A [`LevelledFn`][langevin_jax.diffusion.LevelledFn].

    Raises:
      ValueError: ``fn`` not callable, or levels that are not ints with
        ``1 <= min_level <= max_level``.
    """
    _checks.check_callable("fn", fn)
    lo = _checks.check_int_at_least("min_level", min_level, 1)
    hi = _checks.check_int_at_least("max_level", max_level, 1)
    if lo > hi:
        raise ValueError(f"min_level must be <= max_level, got {lo} > {hi}")
    if isinstance(fn, LevelledFn):  # the narrower of the two ranges
        lo, hi = max(lo, fn.min_level), min(hi, fn.max_level)
        if lo > hi:
            raise ValueError(f"levels {min_level}..{max_level} do not overlap fn's own {fn.min_level}.."
                             f"{fn.max_level}")
        fn = fn.fn
    return LevelledFn(as_pytree_fn(fn), lo, hi)


def trained_levels(fn: Callable) -> Optional[tuple[int, int]]:
    """``(min_level, max_level)`` of a [`LevelledFn`][langevin_jax.diffusion.LevelledFn], or
    ``None`` for a function that does not say (it is then trusted at every level)."""
    return fn.levels if isinstance(fn, LevelledFn) else None


def check_trained_levels(name: str, fn: Callable, used: Sequence[int], allow: bool, what: str) -> dict:
    """Check that ``fn`` is evaluated only at levels it was trained on; return the record.

    Args:
      name: the argument's name (``"eps_fn"``, ``"score_fn"``).
      fn: the function (a [`LevelledFn`][langevin_jax.diffusion.LevelledFn] carries its levels;
        anything else passes).
      used: the integer levels the caller will evaluate it at (their minimum and maximum are
        compared with the trained range, which is an interval).
      allow: ``allow_untrained_levels``: warn instead of raising.
      what: the caller, for the message (``"DDPM from start_level=1000"``).

    Returns:
      ``{"levels": [lo, hi], "trained_levels": [a, b] or None, "untrained_levels_allowed":
      allow, "untrained_levels_used": bool}``, for a sampler's ``metadata``.

    Raises:
      ValueError: a level outside the trained range and ``allow`` is false.

    Warns:
      UntrainedLevelWarning: a level outside the trained range and ``allow`` is true.
    """
    if not isinstance(allow, (bool, np.bool_)):
        raise ValueError(f"allow_untrained_levels must be a bool, got {allow!r}")
    used = [int(u) for u in np.asarray(used).ravel()]
    lo, hi = min(used), max(used)
    trained = trained_levels(fn)
    outside = trained is not None and (lo < trained[0] or hi > trained[1])
    if outside:
        msg = (f"{name} was trained on levels {trained[0]}..{trained[1]} only, but {what} evaluates it at levels "
               f"{lo}..{hi}")
        if not allow:
            raise ValueError(f"{msg}: its output there is an extrapolation. Use levels inside "
                             f"{trained[0]}..{trained[1]} (e.g. a lower start_level), a network trained on "
                             "those levels, or pass allow_untrained_levels=True to run it anyway")
        warnings.warn(UntrainedLevelWarning(f"{msg} (allow_untrained_levels=True)"), stacklevel=3)
    return {"levels": [lo, hi], "trained_levels": None if trained is None else list(trained),
            "untrained_levels_allowed": bool(allow), "untrained_levels_used": bool(outside)}


def score_from_eps(eps_fn: EpsFn, schedule: NoiseSchedule) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The time-dependent score ``s(x, t) = -eps_fn(x, t) / sqrt(1 - alphabar_t)``.

    Args:
      eps_fn: ``([d], []) -> [d]``, a noise predictor at integer level ``t``.
      schedule: the schedule it was trained with.

    Returns:
      ``score_fn(x[d], t[]) -> [d]`` (usable with [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin]);
      a [`LevelledFn`][langevin_jax.diffusion.LevelledFn] with ``eps_fn``'s trained levels
      when it has them (so [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin]
      checks its schedule's levels against them).
    """
    _checks.check_callable("eps_fn", eps_fn)
    score = jax.tree_util.Partial(_score_from_eps, as_pytree_fn(eps_fn), schedule)
    levels = trained_levels(eps_fn)
    return score if levels is None else LevelledFn(score, *levels)


def _score_from_eps(eps_fn, schedule, x, t):
    t = jnp.asarray(t).astype(jnp.int32)
    scale = jnp.sqrt(1.0 - alphabar(schedule, t)).astype(x.dtype)
    return -eps_fn(x, t) / scale


def score_at_level(eps_fn: EpsFn, schedule: NoiseSchedule, level: int, *,
                   allow_untrained_levels: bool = False) -> Callable[[jax.Array], jax.Array]:
    """The score at one fixed level, ``s_hat(x) = -eps_fn(x, level) / sqrt(1 - alphabar_level)``.

    This is how Cao et al. (2026, Section 9) turn a denoiser into a Langevin score
    (``level = 10``). Returns ``score_fn(x[d]) -> [d]`` for [`langevin_jax.ula`][langevin_jax.ula].

    Args:
      eps_fn: the noise predictor.
      schedule: the schedule it was trained with.
      level: an int in ``[1, T]``, inside ``eps_fn``'s trained levels when it has them.
      allow_untrained_levels: use a level outside ``eps_fn``'s trained levels anyway (with an
        [`UntrainedLevelWarning`][langevin_jax.diffusion.UntrainedLevelWarning]).

    Raises:
      ValueError: ``level`` not an int in ``[1, T]``, or outside ``eps_fn``'s trained levels.
    """
    _checks.check_callable("eps_fn", eps_fn)
    level = check_level("level", level, schedule)
    check_trained_levels("eps_fn", eps_fn, [level], allow_untrained_levels, f"score_at_level(level={level})")
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
      ``eps_fn(x[d], t[]) -> [d]``: a `jax.tree_util.Partial` whose arrays (the schedule, ``m``,
      ``U``, ``lambda``) are traced inputs of a run, so the exact denoiser of another Gaussian
      of the same dimension re-uses the compiled sampler.
    """
    mean = _checks.check_vector("mean", mean)
    d = mean.shape[0]
    covariance = _checks.check_covariance("covariance", covariance, d)
    lam, u = jnp.linalg.eigh(0.5 * (covariance + covariance.T))
    return jax.tree_util.Partial(_gaussian_eps, schedule, mean, u, lam)


def _gaussian_eps(schedule, mean, u, lam, x, t):
    ab = alphabar(schedule, jnp.asarray(t).astype(jnp.int32)).astype(x.dtype)
    z = u.T @ (x - jnp.sqrt(ab) * mean)
    return jnp.sqrt(1.0 - ab) * (u @ (z / (ab * lam + 1.0 - ab)))
