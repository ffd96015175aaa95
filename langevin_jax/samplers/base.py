"""The sampler interface: a pair of pure functions, as in BlackJAX."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks

__all__ = ["SamplingAlgorithm", "StepSize", "resolve_step_size"]

StepSize = Any  # float, or a callable schedule ``k -> h_k`` of the (traced) step index.


class SamplingAlgorithm(NamedTuple):
    """A sampler as a pair of pure functions, plus an eager input check.

    Attributes:
      init: ``init(position[d]) -> State``.
      step: ``step(key, state) -> (State, Info)``; works on one chain, batch with ``vmap``.
      check: ``check(position[d], num_steps) -> None``, raises ``ValueError`` on bad
        input (wrong score shape, a schedule that goes non-positive) without compiling.
        Called by :func:`langevin_jax.run` before the run is compiled.
    """

    init: Callable[..., Any]
    step: Callable[..., Any]
    check: Optional[Callable[[jax.Array, int], None]] = None


def resolve_step_size(step_size: StepSize, count: jax.Array) -> jax.Array:
    """The step size at step ``count`` for a float or a schedule."""
    if callable(step_size):
        return jnp.asarray(step_size(count))
    return jnp.asarray(step_size)


def check_score_shape(name: str, fn: Callable, position: jax.Array, *extra: Any) -> None:
    """Trace ``fn(position, *extra)`` abstractly and check it returns ``position``'s shape."""
    spec = jax.ShapeDtypeStruct(position.shape, position.dtype)
    try:
        out = jax.eval_shape(fn, spec, *extra)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument named
        raise ValueError(
            f"{name} failed on a point of shape {position.shape}: {type(err).__name__}: {err}. "
            "Does the dimension d of initial_positions match the score's?"
        ) from err
    shape = getattr(out, "shape", None)
    if shape != position.shape:
        raise ValueError(
            f"{name} must return an array of the position's shape {position.shape}, got {shape}"
        )


def check_step_size_over_run(name: str, step_size: StepSize, num_steps: int) -> None:
    """Evaluate a schedule on every step index of the run, eagerly, and check it is > 0."""
    if not callable(step_size):
        return
    values = jax.vmap(lambda k: resolve_step_size(step_size, k))(jnp.arange(num_steps))
    if values.shape != (num_steps,):
        raise ValueError(f"{name} schedule must return a scalar per step, got shape "
                         f"{values.shape[1:]}")
    _checks.check_schedule_values(name, values)


def noise_like(key: jax.Array, position: jax.Array) -> jax.Array:
    return jax.random.normal(key, position.shape, position.dtype)
