"""Diffusion annealed Langevin dynamics (paper 3): schedules, paths, the action and its bias
bound, exact Gaussian laws, time grids and DALMC.

Cattiaux, Cordero-Encinar & Guillin, *Diffusion annealed Langevin dynamics: a theoretical
study*; its Euler discretisation is DALMC (Cordero-Encinar, Akyildiz & Duncan 2025). The
setting is **our reconstruction** (only the abstract and Theorem 2.1 were available): the
formulas were derived here, are stated in ``docs/paper3_annealed_langevin.md`` and are
checked by the tests, not copied.

An annealing schedule ``lambda: [0, 1] -> [0, 1]`` (nondecreasing, ``lambda_1 = 1``) defines
the path ``mu_t = Law(sqrt(lambda_t) X + sqrt(1 - lambda_t) Z)``, ``X ~ pi``,
``Z ~ N(0, I)``. The dynamics ``dY_s = grad log mu_{kappa s}(Y_s) ds + sqrt(2) dB_s``,
``s in [0, 1 / kappa]``, satisfy ``KL(pi || Law(Y_{1/kappa})) <= KL(mu_0 || Law(Y_0)) +
kappa A / 4`` with the action ``A = int_0^1 |mu'_t|^2 dt`` (the target is the first argument
of every KL here). DALMC is their Euler scheme on a grid of path times. Our choices, not the
paper's: the OU horizon default ``T = 3``, the adapted time grid and the quadrature sizes.

Two kinds of schedule live in the package: the annealing schedules here (``lambda(t)`` of a
continuous path time ``t in [0, 1]``, [`make_schedule`][langevin_jax.annealing.make_schedule])
and the DDPM noise schedules of [`langevin_jax.diffusion`][langevin_jax.diffusion] (``beta_k``
over discrete levels ``k = 1..T``, [`langevin_jax.diffusion.make_schedule`][langevin_jax.diffusion.make_schedule]);
``linear`` and ``cosine`` name one of each. A level ``k`` is the path time where
``lambda_t = alphabar_k``: [`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]
maps a network trained on the levels onto the path.

One module per part, every public name re-exported here:
``schedules`` ([`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule] and its
kinds), ``paths`` ([`DiffusionPath`][langevin_jax.annealing.DiffusionPath], closed-form and
learned), ``action_bound`` (the action and [`kl_bound`][langevin_jax.annealing.kl_bound]),
``gaussian_laws`` (exact laws of the dynamics and of DALMC for Gaussian targets) and
``time_grids``; the sampler [`dalmc`][langevin_jax.annealing.dalmc] lives in
[`langevin_jax.samplers.dalmc`][langevin_jax.samplers.dalmc.dalmc].
"""

from langevin_jax.annealing import action_bound, gaussian_laws, paths, schedules, time_grids
from langevin_jax.annealing.action_bound import *  # noqa: F401,F403 - re-exported, listed in __all__
from langevin_jax.annealing.gaussian_laws import *  # noqa: F401,F403
from langevin_jax.annealing.paths import *  # noqa: F401,F403
from langevin_jax.annealing.schedules import *  # noqa: F401,F403
from langevin_jax.annealing.time_grids import *  # noqa: F401,F403
from langevin_jax.samplers.dalmc import dalmc

# the public names of the five modules, listed once each (their own ``__all__``), and DALMC
__all__ = [
    *schedules.__all__,
    *paths.__all__,
    *action_bound.__all__,
    *gaussian_laws.__all__,
    *time_grids.__all__,
    "dalmc",
]
