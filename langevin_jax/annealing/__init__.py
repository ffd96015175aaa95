r"""Diffusion annealed Langevin dynamics (paper 3): schedules, paths, the action and its bias
bound, exact Gaussian laws, time grids and DALMC.

Cattiaux, Cordero-Encinar & Guillin, *Diffusion annealed Langevin dynamics: a theoretical
study*; its Euler discretisation is DALMC (Cordero-Encinar, Akyildiz & Duncan 2025). The
setting is **our reconstruction** (only the abstract and Theorem 2.1 were available): the
formulas were derived here, are stated in ``docs/paper3_annealed_langevin.md`` and are
checked by the tests, not copied.

An annealing schedule $\lambda: [0, 1] \to [0, 1]$ (nondecreasing, $\lambda_1 = 1$) defines
the path

$$
\mu_t = \mathrm{Law}\bigl(\sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z\bigr), \qquad
X \sim \pi, \quad Z \sim \mathcal{N}(0, I).
$$

The dynamics $dY_s = \nabla \log \mu_{\kappa s}(Y_s)\, ds + \sqrt{2}\, dB_s$, $s \in [0, 1 / \kappa]$, satisfy

$$
\mathrm{KL}\bigl(\pi \,\|\, \mathrm{Law}(Y_{1/\kappa})\bigr) \le \mathrm{KL}\bigl(\mu_0 \,\|\, \mathrm{Law}(Y_0)\bigr)
+ \frac{\kappa A}{4}
$$

with the action $A = \int_0^1 |\mu'_t|^2\, dt$ (the target is the first argument
of every KL here). DALMC is their Euler scheme on a grid of path times. Our choices, not the
paper's: the OU horizon default $T = 3$, the adapted time grid and the quadrature sizes.

Two kinds of schedule live in the package: the annealing schedules here ($\lambda(t)$ of a
continuous path time $t \in [0, 1]$, [`get_schedule`][langevin_jax.annealing.get_schedule])
and the DDPM noise schedules of [`langevin_jax.diffusion`][langevin_jax.diffusion] ($\beta_k$
over discrete levels $k = 1, \dots, T$, [`langevin_jax.diffusion.make_schedule`][langevin_jax.diffusion.make_schedule]);
``linear`` and ``cosine`` name one of each. A level $k$ is the path time where
$\lambda_t = \bar\alpha_k$: [`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]
maps a network trained on the levels onto the path.

One module per part, every public name re-exported here:
``schedules`` ([`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule] and its
kinds), ``paths`` ([`DiffusionPath`][langevin_jax.annealing.DiffusionPath], closed-form and
learned), ``action_bound`` (the action and [`kl_bound`][langevin_jax.annealing.kl_bound]),
``gaussian_laws`` (exact laws of the dynamics and of DALMC for Gaussian targets) and
``time_grids``; the sampler [`dalmc`][langevin_jax.annealing.dalmc] and its step schedule
[`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule] live in
[`langevin_jax.samplers.dalmc`][langevin_jax.samplers.dalmc.dalmc] and are re-exported here.
"""

# Maintainers' note: `dalmc` and `dalmc_step_schedule` are defined in `langevin_jax.samplers.dalmc`
# because the samplers sit below this package: DALMC needs only a path's `score_fn`.

from langevin_jax._deprecation import alias_getattr
from langevin_jax.annealing.action_bound import (
    ActionEstimate,
    action,
    gaussian_action,
    gaussian_action_density,
    gaussian_initial_kl,
    kl_bound,
)
from langevin_jax.annealing.gaussian_laws import (
    GaussianLaw,
    default_ode_steps,
    gaussian_annealed_law,
    gaussian_bias_kl,
    gaussian_dalmc_law,
)
from langevin_jax.annealing.paths import (
    DiffusionPath,
    denoiser_path,
    diffusion_marginal,
    diffusion_path,
    eps_denoiser_path,
)
from langevin_jax.annealing.schedules import (
    AnnealingSchedule,
    CosineSchedule,
    CustomSchedule,
    LinearSchedule,
    OUSchedule,
    cosine_schedule,
    custom_schedule,
    get_schedule,
    linear_schedule,
    ou_schedule,
)
from langevin_jax.annealing.time_grids import adapted_time_grid, gaussian_speed_fn, uniform_time_grid
from langevin_jax.samplers.dalmc import dalmc, dalmc_step_schedule

__all__ = [
    # schedules
    "AnnealingSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "OUSchedule",
    "CustomSchedule",
    "linear_schedule",
    "cosine_schedule",
    "ou_schedule",
    "custom_schedule",
    "get_schedule",
    # paths
    "DiffusionPath",
    "diffusion_path",
    "diffusion_marginal",
    "denoiser_path",
    "eps_denoiser_path",
    # action_bound
    "gaussian_action_density",
    "gaussian_action",
    "ActionEstimate",
    "action",
    "kl_bound",
    "gaussian_initial_kl",
    # gaussian_laws
    "GaussianLaw",
    "gaussian_annealed_law",
    "default_ode_steps",
    "gaussian_dalmc_law",
    "gaussian_bias_kl",
    # time_grids
    "uniform_time_grid",
    "adapted_time_grid",
    "gaussian_speed_fn",
    # the sampler and its step schedule (langevin_jax.samplers.dalmc)
    "dalmc_step_schedule",
    "dalmc",
]

# ``make_schedule``, an earlier second name of ``get_schedule``: deprecated, warns
__getattr__ = alias_getattr(__name__, {"make_schedule": ("langevin_jax.annealing.get_schedule", get_schedule)})
