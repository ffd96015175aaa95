"""Score-based sampling over DDPM noise levels: noise schedules, denoisers and their scores,
and the reverse and annealed samplers ([`langevin_jax.run`][langevin_jax.run] drives each).

Conventions (Ho, Jain & Abbeel 2020, *Denoising Diffusion Probabilistic Models*): integer levels
``t = 1, ..., T``, ``x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps``, a denoiser
``eps_fn(x, t)`` predicts ``eps`` and ``s(x, t) = -eps_fn(x, t) / sqrt(1 - alphabar_t)``.

One module per concept, every public name re-exported here:

* ``schedules``: [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule],
  [`linear_schedule`][langevin_jax.diffusion.linear_schedule], forward noising;
* ``denoisers``: the score of a denoiser ([`score_from_eps`][langevin_jax.diffusion.score_from_eps],
  [`score_at_level`][langevin_jax.diffusion.score_at_level]), the exact Gaussian denoiser, and the
  levels a network was trained on ([`with_levels`][langevin_jax.diffusion.with_levels]);
* ``ddpm``, ``ddim``, ``predictor_corrector``: the reverse samplers
  [`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler] (Ho et al. 2020),
  [`ddim_sampler`][langevin_jax.diffusion.ddim_sampler] (Song, Meng & Ermon 2021) and
  [`pc_sampler`][langevin_jax.diffusion.pc_sampler] (Song et al. 2021), sharing the state of
  ``reverse``;
* ``ncsn``: annealed Langevin over noise levels ([`ncsn_sampler`][langevin_jax.diffusion.ncsn_sampler],
  Song & Ermon 2019);
* ``gaussian_laws``: each sampler's exact output law for a Gaussian data law and its exact
  denoiser.

Every sampler is a [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] whose
numbers (a network's parameters, the schedule, the levels) are traced inputs of a run: a new
network or start level re-uses the compiled program. This package knows nothing about neural
networks (no Flax/Optax): it takes any ``eps_fn``; the network lives in
[`langevin_jax.nn`][langevin_jax.nn].
"""

from langevin_jax.diffusion import denoisers, gaussian_laws, schedules
from langevin_jax.diffusion.ddim import ddim_levels, ddim_sampler
from langevin_jax.diffusion.ddpm import ddpm_sampler
from langevin_jax.diffusion.denoisers import *  # noqa: F401,F403 - listed in denoisers.__all__
from langevin_jax.diffusion.gaussian_laws import *  # noqa: F401,F403
from langevin_jax.diffusion.ncsn import ncsn_levels, ncsn_sampler, ncsn_schedule
from langevin_jax.diffusion.predictor_corrector import pc_sampler
from langevin_jax.diffusion.reverse import DiffusionInfo, DiffusionState
from langevin_jax.diffusion.schedules import *  # noqa: F401,F403

#: DDPM's state: [`DiffusionState`][langevin_jax.diffusion.DiffusionState] (the name of earlier releases).
DDPMState = DiffusionState

# the public names of the modules, each listed once (in its own ``__all__``)
__all__ = [
    *schedules.__all__,
    *denoisers.__all__,
    "ddpm_sampler",
    "ddim_sampler",
    "ddim_levels",
    "pc_sampler",
    "ncsn_sampler",
    "ncsn_schedule",
    "ncsn_levels",
    "DiffusionState",
    "DDPMState",
    "DiffusionInfo",
    *gaussian_laws.__all__,
]
