r"""Score-based sampling over DDPM noise levels: noise schedules, denoisers and their scores,
and the reverse and annealed samplers ([`langevin_jax.run`][langevin_jax.run] drives each).

Conventions (Ho, Jain & Abbeel 2020, *Denoising Diffusion Probabilistic Models*): integer levels
$t = 1, \dots, T$,

$$
x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon, \qquad
\varepsilon \sim \mathcal{N}(0, I),
$$

a denoiser ``eps_fn(x, t)`` predicts $\varepsilon$ and $s(x, t) = -\mathtt{eps\_fn}(x, t) / \sqrt{1 - \bar\alpha_t}$.

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

from langevin_jax._deprecation import alias_getattr
from langevin_jax.diffusion.ddim import ddim_levels, ddim_sampler
from langevin_jax.diffusion.ddpm import ddpm_sampler
from langevin_jax.diffusion.denoisers import (
    EpsFn,
    LevelledFn,
    UntrainedLevelWarning,
    check_trained_levels,
    gaussian_eps_fn,
    score_at_level,
    score_from_eps,
    trained_levels,
    with_levels,
)
from langevin_jax.diffusion.gaussian_laws import (
    GaussianLaw,
    ddim_gaussian_law,
    ddpm_gaussian_law,
    ncsn_gaussian_law,
    pc_gaussian_law,
)
from langevin_jax.diffusion.ncsn import ncsn_levels, ncsn_sampler, ncsn_schedule
from langevin_jax.diffusion.predictor_corrector import pc_sampler
from langevin_jax.diffusion.reverse import DiffusionInfo, DiffusionState
from langevin_jax.diffusion.schedules import (
    NoiseSchedule,
    add_noise,
    alphabar,
    check_level,
    check_level_range,
    cosine_schedule,
    linear_schedule,
    make_schedule,
    sample_levels,
)

__all__ = [
    # schedules
    "NoiseSchedule",
    "linear_schedule",
    "cosine_schedule",
    "make_schedule",
    "alphabar",
    "check_level",
    "check_level_range",
    "add_noise",
    "sample_levels",
    # denoisers
    "EpsFn",
    "LevelledFn",
    "UntrainedLevelWarning",
    "with_levels",
    "trained_levels",
    "check_trained_levels",
    "score_from_eps",
    "score_at_level",
    "gaussian_eps_fn",
    # the samplers and their state
    "ddpm_sampler",
    "ddim_sampler",
    "ddim_levels",
    "pc_sampler",
    "ncsn_sampler",
    "ncsn_schedule",
    "ncsn_levels",
    "DiffusionState",
    "DiffusionInfo",
    # gaussian_laws
    "GaussianLaw",
    "ddpm_gaussian_law",
    "ddim_gaussian_law",
    "ncsn_gaussian_law",
    "pc_gaussian_law",
]

# ``DDPMState``, DDPM's state under the name of earlier releases: deprecated, warns
__getattr__ = alias_getattr(__name__, {"DDPMState": ("langevin_jax.diffusion.DiffusionState", DiffusionState)})
