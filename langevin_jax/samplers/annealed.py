"""Langevin with a time-dependent score (annealed Langevin, noise-level annealing).

``x_{k+1} = x_k + h_k s(x_k, t_k) + sqrt(2 h_k) xi_k`` with per-step times ``t_k``
and step sizes ``h_k`` given by a schedule. Used for diffusion annealed Langevin
(DALMC, Cordero-Encinar, Akyildiz & Duncan 2025) and for annealing over noise
levels (Song & Ermon 2019).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Tuple, Union

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.samplers.base import (
    SamplingAlgorithm,
    check_score_shape,
    noise_like,
)

__all__ = ["AnnealedState", "AnnealedInfo", "annealed_langevin", "array_schedule"]

Schedule = Callable[[jax.Array], Tuple[jax.Array, jax.Array]]


class AnnealedState(NamedTuple):
    position: jax.Array
    count: jax.Array


class AnnealedInfo(NamedTuple):
    is_finite: jax.Array
    time: jax.Array
    step_size: jax.Array


def array_schedule(times, step_sizes) -> Schedule:
    """Schedule ``k -> (times[k], step_sizes[k])`` from arrays ``[num_steps]``.

    Past the end of the arrays the last entry is repeated.
    """
    times = _checks.check_rank("times", times, 1, "[num_steps]")
    step_sizes = jnp.broadcast_to(jnp.asarray(step_sizes, times.dtype), times.shape)
    _checks.check_positive_finite("step_sizes", step_sizes)
    _checks.check_finite_array("times", times)
    last = times.shape[0] - 1

    def schedule(k):
        i = jnp.minimum(k, last)
        return times[i], step_sizes[i]

    schedule.num_steps = times.shape[0]  # type: ignore[attr-defined]
    return schedule


def annealed_langevin(
    score_fn: Callable[[jax.Array, jax.Array], jax.Array],
    schedule: Union[Schedule, Tuple[jax.Array, jax.Array]],
) -> SamplingAlgorithm:
    """Langevin with a time-dependent score as an ``init``/``step`` pair.

    Args:
      score_fn: ``s(x, t)``: ``([d], []) -> [d]``.
      schedule: a callable ``k -> (t_k, h_k)`` of the step index, or a pair of arrays
        ``(times[num_steps], step_sizes[num_steps])`` (see :func:`array_schedule`).

    Returns:
      A :class:`SamplingAlgorithm` with ``AnnealedState`` / ``AnnealedInfo``.
    """
    if not callable(score_fn):
        raise ValueError(f"score_fn must be callable, got {type(score_fn).__name__}")
    if isinstance(schedule, tuple):
        if len(schedule) != 2:
            raise ValueError("schedule must be a callable k -> (t, h) or a pair (times, step_sizes)")
        schedule = array_schedule(*schedule)
    if not callable(schedule):
        raise ValueError(f"schedule must be callable or (times, step_sizes), got {schedule!r}")

    def init(position: jax.Array) -> AnnealedState:
        return AnnealedState(jnp.asarray(position), jnp.zeros((), jnp.int32))

    def step(key: jax.Array, state: AnnealedState):
        t, h = schedule(state.count)
        x = state.position
        h = jnp.asarray(h, x.dtype)
        t = jnp.asarray(t, x.dtype)
        new = x + h * score_fn(x, t) + jnp.sqrt(2.0 * h) * noise_like(key, x)
        return AnnealedState(new, state.count + 1), AnnealedInfo(jnp.all(jnp.isfinite(new)), t, h)

    def check(position: jax.Array, num_steps: int) -> None:
        t0, _ = schedule(jnp.zeros((), jnp.int32))
        check_score_shape("score_fn", score_fn, position, jax.ShapeDtypeStruct((), position.dtype))
        ts, hs = jax.vmap(schedule)(jnp.arange(num_steps))
        hs = jnp.broadcast_to(hs, (num_steps,))
        _checks.check_schedule_values("schedule step size", hs)
        _checks.check_finite_array("schedule times", ts)
        provided = getattr(schedule, "num_steps", None)
        if provided is not None and provided < num_steps:
            raise ValueError(
                f"num_steps={num_steps} exceeds the schedule's length {provided}"
            )

    return SamplingAlgorithm(init, step, check)
