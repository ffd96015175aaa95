r"""Langevin with a time-dependent score (annealed Langevin, noise-level annealing).

$$
x_{k+1} = x_k + h_k\, s(x_k, t_k) + \sqrt{2 h_k}\, \xi_k
$$

with per-step times $t_k$ and step sizes $h_k$ given by a schedule. Used for diffusion annealed Langevin
(DALMC, Cordero-Encinar, Akyildiz & Duncan 2025) and for annealing over noise
levels (Song & Ermon 2019).

BlackJAX-style layers: [`init`][langevin_jax.samplers.annealed.init],
[`build_kernel`][langevin_jax.samplers.annealed.build_kernel] (``kernel(rng_key, state,
score_fn, schedule)``) and [`annealed_langevin`][langevin_jax.samplers.annealed.annealed_langevin], the pair for
[`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.samplers import base
from langevin_jax.samplers._levels import LevelledFn, check_trained_levels
from langevin_jax.samplers.base import LangevinState, SamplingAlgorithm, check_score_shape
from langevin_jax.types import ArrayLike, PRNGKey, PyTree

__all__ = ["AnnealedState", "AnnealedInfo", "ArraySchedule", "annealed_langevin", "array_schedule",
           "init", "build_kernel"]

Schedule = Callable[[jax.Array], Tuple[jax.Array, jax.Array]]

#: Annealed Langevin's state: [`langevin_jax.samplers.base.LangevinState`][langevin_jax.samplers.base.LangevinState].
AnnealedState = LangevinState


class AnnealedInfo(NamedTuple):
    is_finite: jax.Array
    time: jax.Array
    step_size: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ArraySchedule:
    r"""The schedule $k \mapsto$ ``(times[k], step_sizes[k])`` of two ``[num_steps]`` arrays.

    A pytree: its arrays are traced inputs of [`langevin_jax.run`][langevin_jax.run], so a new schedule of
    the same length re-uses the compiled program. Past the end the last entry is repeated.
    """

    times: jax.Array
    step_sizes: jax.Array

    @property
    def num_steps(self) -> int:
        return self.times.shape[0]

    def __call__(self, k):
        i = jnp.minimum(k, self.times.shape[0] - 1)
        return self.times[i], self.step_sizes[i]


def array_schedule(times: ArrayLike, step_sizes: ArrayLike) -> ArraySchedule:
    r"""Schedule $k \mapsto$ ``(times[k], step_sizes[k])`` from arrays ``[num_steps]``.

    ``step_sizes`` may be a scalar (broadcast). Both are kept in a floating dtype (integer
    ``times`` become float32; a step size is never rounded to an integer dtype).
    """
    times = _checks.check_rank("times", times, 1, "[num_steps]")
    if times.shape[0] < 1:
        raise ValueError("times must hold at least one step, got an empty array")
    _checks.check_real("times", times)
    if not jnp.issubdtype(times.dtype, jnp.floating):
        times = times.astype(jnp.float32)
    _checks.check_representable("step_sizes", step_sizes)  # before jnp.asarray rounds 1e-50 to 0
    step_sizes = jnp.asarray(step_sizes)
    _checks.check_real("step_sizes", step_sizes)
    if not jnp.issubdtype(step_sizes.dtype, jnp.floating):
        step_sizes = step_sizes.astype(times.dtype)
    if step_sizes.ndim > 1 or (step_sizes.ndim == 1 and step_sizes.shape != times.shape):
        raise ValueError(f"step_sizes must be a scalar or of shape {times.shape}, got {step_sizes.shape}")
    step_sizes = jnp.broadcast_to(step_sizes, times.shape)
    _checks.check_positive_finite("step_sizes", step_sizes)
    _checks.check_finite_array("times", times)
    return ArraySchedule(times, step_sizes)


def init(position: PyTree, rng_key: PRNGKey | None = None) -> AnnealedState:
    """The state at ``position`` (a pytree), step count 0."""
    return base.init(position, rng_key)


def _schedule_at(schedule: Schedule, count: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """``schedule(count)``, checked to be a pair ``(t, h)`` of real scalars. The checks read
    shapes and dtypes only, at trace time: they cost nothing in the compiled step."""
    out = schedule(count)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, (tuple, list)) else (
            f"{type(out).__name__} of shape {jnp.shape(out)}" if hasattr(out, "shape") else type(out).__name__)
        raise ValueError(f"schedule must return a pair (t, h) of scalars for each step k, got {got}")
    t, h = (jnp.asarray(v) for v in out)
    for v, what, name in ((t, "time t", "schedule time"), (h, "step size h", "schedule step size")):
        if v.shape != ():
            raise ValueError(f"schedule must return a scalar {what} per step, got shape {v.shape}")
        if not _checks.is_real_dtype(v.dtype):
            raise ValueError(f"{name} must be real, got dtype {v.dtype}")
    return t, h


def build_kernel():
    """``kernel(rng_key, state, score_fn, schedule) -> (AnnealedState, AnnealedInfo)``."""

    def kernel(rng_key: PRNGKey, state: AnnealedState, score_fn: Callable, schedule: Schedule):
        t, h = _schedule_at(schedule, state.count)
        x = state.position
        dtype = jax.tree_util.tree_leaves(x)[0].dtype
        h = jnp.asarray(h, dtype)
        t = jnp.asarray(t, dtype)
        new = base.euler_maruyama(x, score_fn(x, t), h, base.gaussian_noise(rng_key, x))
        return AnnealedState(new, state.count + 1), AnnealedInfo(base.tree_is_finite(new), t, h)

    return kernel


_KERNEL = build_kernel()


def _step(score_fn, schedule, rng_key, state):
    return _KERNEL(rng_key, state, score_fn, schedule)


def annealed_langevin(
    score_fn: Callable[[PyTree, jax.Array], PyTree],
    schedule: Union[Schedule, Tuple[ArrayLike, ArrayLike]],
    *,
    allow_untrained_levels: bool = False,
) -> SamplingAlgorithm:
    r"""Langevin with a time-dependent score as an ``init``/``step`` pair.

    Args:
      score_fn: $s(x, t)$: ``(position, []) -> position``.
      schedule: a callable $k \mapsto (t_k, h_k)$ of the step index, or a pair of arrays
        ``(times[num_steps], step_sizes[num_steps])`` (see
        [`array_schedule`][langevin_jax.samplers.annealed.array_schedule]; its
        values are then traced inputs of a run).
      allow_untrained_levels: when ``score_fn`` carries the levels it was trained on (a
        [`langevin_jax.diffusion.LevelledFn`][langevin_jax.diffusion.LevelledFn], e.g.
        [`score_from_eps`][langevin_jax.diffusion.score_from_eps] of a network), the schedule's
        times are levels and the eager check refuses one outside them; ``True`` warns instead.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.annealed.SamplingAlgorithm] with ``AnnealedState`` / ``AnnealedInfo``.
    """
    _checks.check_callable("score_fn", score_fn)
    if isinstance(schedule, tuple):
        if len(schedule) != 2:
            raise ValueError("schedule must be a callable k -> (t, h) or a pair (times, step_sizes)")
        schedule = array_schedule(*schedule)
    if not callable(schedule):
        raise ValueError(f"schedule must be callable or (times, step_sizes), got {schedule!r}")
    score_fn = base.as_pytree_fn(score_fn)

    def check(position: PyTree, num_steps: int) -> None:
        dtype = jax.tree_util.tree_leaves(position)[0].dtype
        check_score_shape("score_fn", score_fn, position, jax.ShapeDtypeStruct((), dtype))
        provided = getattr(schedule, "num_steps", None)
        if provided is not None and provided < num_steps:
            raise ValueError(
                f"num_steps={num_steps} exceeds the schedule's length {provided}"
            )
        ts, hs = jax.vmap(lambda k: _schedule_at(schedule, k))(jnp.arange(num_steps))
        _checks.check_schedule_values("schedule step size", hs)
        _checks.check_finite_array("schedule times", ts)
        if isinstance(score_fn, LevelledFn) and _checks.is_concrete(ts):
            # a network's score over integer levels: the times are levels (cast to int32 as
            # score_from_eps casts them)
            check_trained_levels("score_fn", score_fn, np.asarray(ts).astype(np.int32), allow_untrained_levels,
                                 "annealed Langevin's schedule")

    return SamplingAlgorithm(init, jax.tree_util.Partial(_step, score_fn, schedule), check)


# as in BlackJAX: ``lj.annealed_langevin.init`` and ``lj.annealed_langevin.build_kernel()``
annealed_langevin.init = init  # type: ignore[attr-defined]
annealed_langevin.build_kernel = build_kernel  # type: ignore[attr-defined]
