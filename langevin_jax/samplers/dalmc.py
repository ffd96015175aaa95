"""DALMC: diffusion annealed Langevin Monte Carlo (Cordero-Encinar, Akyildiz & Duncan 2025),
the Euler scheme of the diffusion annealed Langevin dynamics of paper 3.

``Y_{k+1} = Y_k + h_k grad log mu_{t_k}(Y_k) + sqrt(2 h_k) xi_k``, ``h_k = (t_{k+1} - t_k) /
kappa``, on a grid ``0 = t_0 < ... < t_N = 1`` of path times of a
[`DiffusionPath`][langevin_jax.annealing.DiffusionPath] ``mu_t`` (see
[`langevin_jax.annealing`][langevin_jax.annealing]). It is annealed Langevin with the
schedule ``k -> (t_k, h_k)``, so its layers are those of
[`langevin_jax.samplers.annealed`][langevin_jax.samplers.annealed]:
[`init`][langevin_jax.samplers.annealed.init] and
[`build_kernel`][langevin_jax.samplers.annealed.build_kernel] (also reachable as
``dalmc.init`` and ``dalmc.build_kernel()``), and [`dalmc`][langevin_jax.samplers.dalmc.dalmc],
the pair for [`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langevin_jax.samplers.annealed import annealed_langevin, build_kernel, init
from langevin_jax.samplers.base import SamplingAlgorithm
from langevin_jax.types import ArrayLike

if TYPE_CHECKING:  # the annealing package imports this module: no import at run time here
    from langevin_jax.annealing import DiffusionPath

__all__ = ["dalmc"]


def dalmc(path: DiffusionPath, kappa: ArrayLike, time_grid: ArrayLike) -> SamplingAlgorithm:
    """DALMC: the Euler scheme of diffusion annealed Langevin, as a sampler.

    ``Y_{k+1} = Y_k + h_k grad log mu_{t_k}(Y_k) + sqrt(2 h_k) xi_k``,
    ``h_k = (t_{k+1} - t_k) / kappa``: [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] on
    ``path.score_fn`` with the pair from
    [`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule]. Run it for
    ``len(time_grid) - 1`` steps (one score evaluation per step) from ``Y_0 ~ N(0, I)``.
    Also exported as ``langevin_jax.annealing.dalmc``.

    Args:
      path: a [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] (e.g. from
        [`diffusion_path`][langevin_jax.annealing.diffusion_path] or, for a trained
        noise predictor, [`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]).
      kappa: ``> 0``; total Langevin time ``1 / kappa``.
      time_grid: ``[N + 1]`` path times
        ([`uniform_time_grid`][langevin_jax.annealing.uniform_time_grid],
        [`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid]).

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] for
      [`langevin_jax.run`][langevin_jax.run], with annealed Langevin's state and info.
    """
    from langevin_jax.annealing import DiffusionPath, dalmc_step_schedule

    if not isinstance(path, DiffusionPath):
        raise ValueError(f"path must be a DiffusionPath, got {type(path).__name__}")
    return annealed_langevin(path.score_fn, dalmc_step_schedule(time_grid, kappa))


# as in BlackJAX: ``lj.samplers.dalmc.init`` and ``lj.samplers.dalmc.build_kernel()``
dalmc.init = init  # type: ignore[attr-defined]
dalmc.build_kernel = build_kernel  # type: ignore[attr-defined]
