r"""What the reverse samplers share: their state, their info, ``init`` and the eager checks.

A reverse sampler ([`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler],
[`ddim_sampler`][langevin_jax.diffusion.ddim_sampler],
[`pc_sampler`][langevin_jax.diffusion.pc_sampler]) walks down the integer noise levels: its
step $k$ starts from a level fixed by the sampler's numbers ($\mathtt{start\_level} - k$, or the
$k$-th of a list), so the state is only the position and the number of steps taken. The state
is its own type, [`DiffusionState`][langevin_jax.diffusion.DiffusionState], not Langevin's, so
that [`langevin_jax.run`][langevin_jax.run] refuses to continue a Langevin chain with a reverse
sampler (or the reverse).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.diffusion.schedules import NoiseSchedule, check_level
from langevin_jax.samplers.base import check_score_shape
from langevin_jax.types import PRNGKey

__all__ = ["DiffusionState", "DiffusionInfo", "init"]


class DiffusionState(NamedTuple):
    """``position`` ``[d]`` and ``count``, the number of reverse steps taken (int32 scalar)."""

    position: jax.Array
    count: jax.Array  # type: ignore[assignment]  # the field shadows tuple.count (mypy); the public name stays


class DiffusionInfo(NamedTuple):
    """``is_finite``: new position finite; ``level``: the level $t$ the step started from."""

    is_finite: jax.Array
    level: jax.Array


def init(position: jax.Array, rng_key: Optional[PRNGKey] = None) -> DiffusionState:
    """The state at ``position`` (``[d]``, at the sampler's start level), no step taken yet.
    ``rng_key`` is unused."""
    del rng_key
    return DiffusionState(jnp.asarray(position), jnp.zeros((), jnp.int32))


def nan_where_invalid(valid: jax.Array, x: jax.Array) -> jax.Array:
    """``x`` where ``valid``, NaN elsewhere: a step past the sampler's last level (possible only
    inside a user's trace, where the eager step-count check cannot run) is counted as a
    diverged chain by [`langevin_jax.run`][langevin_jax.run] instead of reading a wrapped index."""
    return jnp.where(valid, x, jnp.asarray(jnp.nan, x.dtype))


def check_common(eps_fn, schedule) -> None:
    """``eps_fn`` callable and ``schedule`` a [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule]."""
    _checks.check_callable("eps_fn", eps_fn)
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule must be a diffusion.NoiseSchedule (e.g. diffusion.linear_schedule()), "
                         f"got {type(schedule).__name__}")


def check_eps_shape(eps_fn, position) -> None:
    """Trace ``eps_fn(position, level)`` abstractly; it must return ``position``'s shape."""
    if not hasattr(position, "shape"):
        raise ValueError("the reverse samplers take array positions [num_chains, d], got a "
                         f"{type(position).__name__}")
    check_score_shape("eps_fn", eps_fn, position, jax.ShapeDtypeStruct((), jnp.int32))


def resolve_start(schedule: NoiseSchedule, start_level) -> int:
    """``start_level`` checked to be an int in $[1, T]$ ($T$ when ``None``)."""
    return check_level("start_level", schedule.num_levels if start_level is None else start_level, schedule)


def make_check(eps_fn, available: int, what: str):
    """A reverse sampler's eager ``check(position, num_steps)``: ``eps_fn`` returns the
    position's shape, and the steps (earlier runs' included) stay within ``available`` levels."""

    def check(position, num_steps):
        check_eps_shape(eps_fn, position)
        check_num_steps(num_steps, available, what)

    return check


def check_num_steps(num_steps: int, available: int, what: str) -> None:
    """``num_steps`` (the steps from the sampler's first level, earlier runs included) must not
    exceed the ``available`` levels."""
    if num_steps > available:
        raise ValueError(f"num_steps={num_steps} exceeds {what}: the reverse process would go below "
                         "level 1 (steps already taken by a continued state count too)")
