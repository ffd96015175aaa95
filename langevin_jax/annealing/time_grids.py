r"""Time grids $0 = t_0 < \dots < t_N = 1$ of path times for DALMC, the Euler scheme of the
annealed dynamics (paper 3's discrete algorithm, from Cordero-Encinar, Akyildiz & Duncan
2025): step $k$ evaluates the score at $t_k$ and moves by $h_k = (t_{k+1} - t_k) / \kappa$
([`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule], defined with the
sampler and re-exported here). Uniform grids,
and an adapted grid of our own construction, denser where the path moves fast in $W_2$
([`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid]). The sampler itself is
[`langevin_jax.samplers.dalmc`][langevin_jax.samplers.dalmc.dalmc].
"""

from __future__ import annotations

from typing import Callable, Union

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from langevin_jax import _checks
from langevin_jax.annealing.action_bound import gaussian_action_density
from langevin_jax.annealing.schedules import AnnealingSchedule, get_schedule
from langevin_jax.samplers.dalmc import dalmc_step_schedule
from langevin_jax.types import ArrayLike

__all__ = [
    "uniform_time_grid",
    "adapted_time_grid",
    "gaussian_speed_fn",
    "dalmc_step_schedule",
]


def uniform_time_grid(num_steps: int, dtype: DTypeLike | None = None) -> jax.Array:
    r"""$t_k = k / N$, $k = 0, \dots, N$ ($N$ = ``num_steps``): ``[num_steps + 1]``."""
    num_steps = _checks.check_int_at_least("num_steps", num_steps, 1)
    return jnp.linspace(0.0, 1.0, num_steps + 1, dtype=dtype or jnp.result_type(float))


def adapted_time_grid(speed_fn: Callable[[jax.Array], jax.Array], num_steps: int, *,
                      uniform_fraction: float = 0.5, num_points: int = 4096) -> jax.Array:
    r"""A time grid denser where the path moves fast (our construction).

    Points are equally spaced in the cumulative density of
    $\rho(t) = (1 - \beta)\, \mathrm{speed}(t) / \int \mathrm{speed} + \beta$ with $\beta$ = ``uniform_fraction``:
    equal $W_2$ arc length per step when $\beta = 0$; the uniform part bounds the largest step by
    $1 / (\beta N)$, which keeps DALMC's Euler steps stable where the path is nearly still.

    Args:
      speed_fn: $t \mapsto |\mu'_t|$, ``[n] -> [n]`` (e.g.
        [`gaussian_speed_fn`][langevin_jax.annealing.gaussian_speed_fn]), evaluated at the
        midpoints of ``num_points`` cells (never at 0 or 1).
      num_steps: $N$.
      uniform_fraction: $\beta \in (0, 1]$.
      num_points: resolution of the cumulative density.

    Returns:
      ``[N + 1]`` times from 0 to 1.
    """
    num_steps = _checks.check_int_at_least("num_steps", num_steps, 1)
    num_points = _checks.check_int_at_least("num_points", num_points, 2)
    if not 0.0 < uniform_fraction <= 1.0:
        raise ValueError(f"uniform_fraction must be in (0, 1], got {uniform_fraction}")
    _checks.check_callable("speed_fn", speed_fn)
    dtype = jnp.result_type(float)
    mid = (jnp.arange(num_points, dtype=dtype) + 0.5) / num_points
    speed = jnp.asarray(speed_fn(mid), dtype)
    if speed.shape != mid.shape:
        raise ValueError(f"speed_fn must map times [n] to speeds [n], got shape {speed.shape}")
    _checks.check_finite_array("speed_fn(t)", speed)
    speed = jnp.maximum(speed, 0.0)
    rho = (1.0 - uniform_fraction) * speed / jnp.maximum(jnp.mean(speed), 1e-30) + uniform_fraction
    cum = jnp.concatenate([jnp.zeros((1,), dtype), jnp.cumsum(rho) / jnp.sum(rho)])
    edges = jnp.linspace(0.0, 1.0, num_points + 1, dtype=dtype)
    grid = jnp.interp(jnp.linspace(0.0, 1.0, num_steps + 1, dtype=dtype), cum, edges)
    return grid.at[0].set(0.0).at[-1].set(1.0)


def gaussian_speed_fn(target, schedule: Union[str, AnnealingSchedule, Callable]) -> Callable[[ArrayLike], jax.Array]:
    r"""$t \mapsto |\mu'_t|$ for a Gaussian target (square root of
    [`gaussian_action_density`][langevin_jax.annealing.gaussian_action_density])."""
    schedule = get_schedule(schedule)
    return lambda t: jnp.sqrt(gaussian_action_density(target, schedule, t))
