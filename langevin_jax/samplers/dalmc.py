r"""DALMC: diffusion annealed Langevin Monte Carlo (Cordero-Encinar, Akyildiz & Duncan 2025),
the Euler scheme of the diffusion annealed Langevin dynamics of paper 3.

$$
Y_{k+1} = Y_k + h_k \nabla \log \mu_{t_k}(Y_k) + \sqrt{2 h_k}\, \xi_k, \qquad
h_k = \frac{t_{k+1} - t_k}{\kappa},
$$

on a grid $0 = t_0 < \dots < t_N = 1$ of path times of a
[`DiffusionPath`][langevin_jax.annealing.DiffusionPath] $\mu_t$ (see
[`langevin_jax.annealing`][langevin_jax.annealing]). It is annealed Langevin with the
schedule $k \mapsto (t_k, h_k)$, so its layers are those of
[`langevin_jax.samplers.annealed`][langevin_jax.samplers.annealed]:
[`init`][langevin_jax.samplers.annealed.init] and
[`build_kernel`][langevin_jax.samplers.annealed.build_kernel] (also reachable as
``dalmc.init`` and ``dalmc.build_kernel()``), and [`dalmc`][langevin_jax.samplers.dalmc.dalmc],
the pair for [`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.samplers.annealed import annealed_langevin, build_kernel, init
from langevin_jax.samplers.base import SamplingAlgorithm
from langevin_jax.types import ArrayLike

if TYPE_CHECKING:  # annotation only: the annealing package sits above the samplers
    from langevin_jax.annealing import DiffusionPath

__all__ = ["dalmc", "dalmc_step_schedule"]


def _check_time_grid(time_grid: ArrayLike) -> jax.Array:
    grid = _checks.check_rank("time_grid", time_grid, 1, "[num_steps + 1]")
    if grid.shape[0] < 2:
        raise ValueError(f"time_grid must have at least 2 points, got {grid.shape[0]}")
    if _checks.is_concrete(grid):
        g = np.asarray(grid, np.float64)
        if not np.all(np.isfinite(g)) or np.any(np.diff(g) < 0) or g[0] < 0 or g[-1] > 1 + 1e-6:
            raise ValueError("time_grid must be finite, nondecreasing, within [0, 1]")
    if not jnp.issubdtype(grid.dtype, jnp.floating):
        grid = grid.astype(jnp.result_type(float))
    return grid


def dalmc_step_schedule(time_grid: ArrayLike, kappa: ArrayLike) -> Tuple[jax.Array, jax.Array]:
    r"""DALMC's per-step path times and Langevin step sizes from a time grid.

    Step $k$ evaluates the score at $t_k$ and moves by $h_k = (t_{k+1} - t_k) / \kappa$.

    Args:
      time_grid: ``[N + 1]`` nondecreasing path times, normally from 0 to 1. A repeated
        point is a step with $h_k = 0$: a no-op for
        [`gaussian_dalmc_law`][langevin_jax.annealing.gaussian_dalmc_law] (so grids of
        different lengths can be padded to share one compiled function) but rejected by
        [`langevin_jax.run`][langevin_jax.run] for the sampler.
      kappa: $\kappa > 0$.

    Returns:
      ``(times [N], step_sizes [N])``, the pair [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] takes.
    """
    grid = _check_time_grid(time_grid)
    _checks.check_positive_finite("kappa", kappa, grid.dtype)
    return grid[:-1], jnp.diff(grid) / jnp.asarray(kappa, grid.dtype)


def dalmc(path: DiffusionPath, kappa: ArrayLike, time_grid: ArrayLike) -> SamplingAlgorithm:
    r"""DALMC: the Euler scheme of diffusion annealed Langevin, as a sampler.

    $Y_{k+1} = Y_k + h_k \nabla \log \mu_{t_k}(Y_k) + \sqrt{2 h_k}\, \xi_k$,
    $h_k = (t_{k+1} - t_k) / \kappa$: [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] on
    ``path.score_fn`` with the pair from
    [`dalmc_step_schedule`][langevin_jax.samplers.dalmc.dalmc_step_schedule]. Run it for
    ``len(time_grid) - 1`` steps (one score evaluation per step) from $Y_0 \sim \mathcal{N}(0, I)$.
    Also exported as ``langevin_jax.annealing.dalmc``.

    Args:
      path: a [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] (e.g. from
        [`diffusion_path`][langevin_jax.annealing.diffusion_path] or, for a trained
        noise predictor, [`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]);
        only its ``score_fn(x, t)`` is used, so any object with one is accepted.
      kappa: $\kappa > 0$; total Langevin time $1 / \kappa$.
      time_grid: ``[N + 1]`` path times
        ([`uniform_time_grid`][langevin_jax.annealing.uniform_time_grid],
        [`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid]).

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] for
      [`langevin_jax.run`][langevin_jax.run], with annealed Langevin's state and info.
    """
    if not callable(getattr(path, "score_fn", None)):
        raise ValueError(f"path must be a DiffusionPath (an object with a score_fn(x, t)), got "
                         f"{type(path).__name__}")
    return annealed_langevin(path.score_fn, dalmc_step_schedule(time_grid, kappa))


# as in BlackJAX: ``lj.samplers.dalmc.init`` and ``lj.samplers.dalmc.build_kernel()``
dalmc.init = init  # type: ignore[attr-defined]
dalmc.build_kernel = build_kernel  # type: ignore[attr-defined]
