# Maintainers' note: these names are defined here, in the samplers' layer, because
# `langevin_jax.annealed_langevin` checks its schedule's levels against them too, and the
# samplers sit below the diffusion package.
"""Functions over integer levels that know which levels they were trained on (private).

The public home of these names is [`langevin_jax.diffusion`][langevin_jax.diffusion] (module
``denoisers``: [`LevelledFn`][langevin_jax.diffusion.LevelledFn],
[`with_levels`][langevin_jax.diffusion.with_levels], ...).
"""

from __future__ import annotations

import warnings
from typing import Callable, Optional, Sequence, Union

import jax
import numpy as np

from langevin_jax import _checks
from langevin_jax.samplers.base import as_pytree_fn

__all__ = ["UntrainedLevelWarning", "LevelledFn", "with_levels", "trained_levels", "check_trained_levels"]


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


def check_trained_levels(name: str, fn: Callable, used: Union[Sequence[int], np.ndarray, jax.Array], allow: bool,
                         what: str) -> dict:
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
      A dict for a sampler's ``metadata``,
      ``{"levels": [lo, hi], "trained_levels": [a, b] or None, "untrained_levels_allowed":
      allow, "untrained_levels_used": bool}``.

    Raises:
      ValueError: a level outside the trained range and ``allow`` is false.

    Warns:
      UntrainedLevelWarning: a level outside the trained range and ``allow`` is true.
    """
    if not isinstance(allow, (bool, np.bool_)):
        raise ValueError(f"allow_untrained_levels must be a bool, got {allow!r}")
    levels_used = [int(u) for u in np.asarray(used).ravel()]
    lo, hi = min(levels_used), max(levels_used)
    trained = trained_levels(fn)
    outside = False
    if trained is not None and (lo < trained[0] or hi > trained[1]):
        outside = True
        msg = (f"{name} was trained on levels {trained[0]}..{trained[1]} only, but {what} evaluates it at levels "
               f"{lo}..{hi}")
        if not allow:
            raise ValueError(f"{msg}: its output there is an extrapolation. Use levels inside "
                             f"{trained[0]}..{trained[1]} (e.g. a lower start_level), a network trained on "
                             "those levels, or pass allow_untrained_levels=True to run it anyway")
        warnings.warn(UntrainedLevelWarning(f"{msg} (allow_untrained_levels=True)"), stacklevel=3)
    return {"levels": [lo, hi], "trained_levels": None if trained is None else list(trained),
            "untrained_levels_allowed": bool(allow), "untrained_levels_used": bool(outside)}
