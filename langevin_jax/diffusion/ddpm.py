r"""DDPM ancestral sampling (Ho, Jain & Abbeel 2020, Algorithm 2).

Step $k$ goes from level $t = \mathtt{start\_level} - k$ to $t - 1$:

$$
x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \mathtt{eps\_fn}(x_t, t)\Bigr)
+ \sigma_t z
$$

with $z \sim \mathcal{N}(0, I)$, $\sigma_t^2 = \beta_t$ (``variance="beta"``) or the posterior variance
$\frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t$ (``"posterior"``), and no noise at the last
step ($t = 1$).

BlackJAX-style layers: [`init`][langevin_jax.diffusion.reverse.init],
[`build_kernel`][langevin_jax.diffusion.ddpm.build_kernel] (``kernel(rng_key, state, eps_fn,
schedule, start_level)``, every number per call) and
[`ddpm_sampler`][langevin_jax.diffusion.ddpm.ddpm_sampler], the pair for
[`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.diffusion import reverse
from langevin_jax.diffusion.denoisers import EpsFn, check_trained_levels
from langevin_jax.diffusion.reverse import DiffusionInfo, DiffusionState, init
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar
from langevin_jax.samplers.base import SamplingAlgorithm, as_pytree_fn, gaussian_noise
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = ["ddpm_sampler", "init", "build_kernel", "VARIANCES"]

#: the choices of ``variance``
VARIANCES = ("beta", "posterior")


def build_kernel(variance: str = "beta"):
    r"""DDPM's kernel ``kernel(rng_key, state, eps_fn, schedule, start_level) -> (DiffusionState,
    DiffusionInfo)``.

    Args:
      variance: ``"beta"`` ($\sigma_t^2 = \beta_t$) or ``"posterior"``; a structural choice,
        fixed when the kernel is built (as BlackJAX's integrators are).

    The kernel's ``start_level`` is an int32 scalar (it may be traced); a step that would start
    below level 1 returns NaN (see [`nan_where_invalid`][langevin_jax.diffusion.reverse.nan_where_invalid]).
    """
    _checks.check_choice("variance", variance, VARIANCES)
    posterior = variance == "posterior"

    def kernel(rng_key: PRNGKey, state: DiffusionState, eps_fn: EpsFn, schedule: NoiseSchedule,
               start_level: ArrayLike):
        x = state.position
        t = jnp.asarray(start_level, jnp.int32) - state.count
        beta = schedule.betas[t - 1].astype(x.dtype)
        alpha = schedule.alphas[t - 1].astype(x.dtype)
        ab = alphabar(schedule, t).astype(x.dtype)
        mean = (x - beta / jnp.sqrt(1.0 - ab) * eps_fn(x, t)) / jnp.sqrt(alpha)
        if posterior:
            ab_prev = alphabar(schedule, t - 1).astype(x.dtype)
            var = beta * (1.0 - ab_prev) / (1.0 - ab)
        else:
            var = beta
        sigma = jnp.where(t > 1, jnp.sqrt(var), 0.0)
        new = reverse.nan_where_invalid(t >= 1, mean + sigma * gaussian_noise(rng_key, x))
        return DiffusionState(new, state.count + 1), DiffusionInfo(jnp.all(jnp.isfinite(new)), t)

    return kernel


_KERNELS = {v: build_kernel(v) for v in VARIANCES}


# one module-level step per variance: a jax.tree_util.Partial over it keeps its function (static,
# the same object for every sampler) apart from its numbers (traced leaves)
def _step_beta(eps_fn, schedule, start_level, rng_key, state):
    return _KERNELS["beta"](rng_key, state, eps_fn, schedule, start_level)


def _step_posterior(eps_fn, schedule, start_level, rng_key, state):
    return _KERNELS["posterior"](rng_key, state, eps_fn, schedule, start_level)


_STEPS = {"beta": _step_beta, "posterior": _step_posterior}


def ddpm_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    *,
    start_level: Optional[int] = None,
    variance: str = "beta",
    allow_untrained_levels: bool = False,
) -> SamplingAlgorithm:
    r"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) as an ``init``/``step`` pair.

    $x_{t-1} = \bigl(x_t - \beta_t / \sqrt{1 - \bar\alpha_t}\; \mathtt{eps\_fn}(x_t, t)\bigr) / \sqrt{\alpha_t} +
    \sigma_t z$ from $t$ = ``start_level`` down to $t = 1$ (no noise at $t = 1$). Run it for
    ``start_level`` steps with [`langevin_jax.run`][langevin_jax.run] from $\mathcal{N}(0, I)$ (the law of
    $x_T$ up to $\bar\alpha_T$, about $4 \cdot 10^{-5}$ for the linear schedule) to get samples of the
    data law; a run of fewer steps can be continued
    (``run(..., initial_state=out.state)``) down to level 1.

    The sampler is a pytree: ``eps_fn``'s arrays (a network's parameters), the schedule and the
    start level are traced inputs of a run, so a new network, schedule or start level of the
    same shapes re-uses the compiled program.

    Args:
      eps_fn: ``([d], []) -> [d]`` noise predictor at integer level $t$. When it carries the
        levels it was trained on (a [`LevelledFn`][langevin_jax.diffusion.LevelledFn], as the
        networks of [`langevin_jax.nn`][langevin_jax.nn] do), every level $1, \dots,$ ``start_level``
        must be among them.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] it was trained with.
      start_level: the level of the initial positions (default $T$).
      variance: ``"beta"`` or ``"posterior"``.
      allow_untrained_levels: run ``eps_fn`` at levels outside its trained ones anyway (an
        [`UntrainedLevelWarning`][langevin_jax.diffusion.UntrainedLevelWarning] is issued and
        ``metadata`` records it).

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] with
      [`DiffusionState`][langevin_jax.diffusion.DiffusionState] and
      [`DiffusionInfo`][langevin_jax.diffusion.DiffusionInfo]; ``num_steps`` (with the steps
      of a continued state) must be ``<= start_level``. Its ``metadata`` says which levels it
      uses and which the network was trained on.

    Raises:
      ValueError: ``eps_fn`` not callable, ``schedule`` not a ``NoiseSchedule``, ``start_level``
        not an int in $[1, T]$, an unknown ``variance``, or levels outside ``eps_fn``'s
        trained ones.

    Examples:
      >>> import jax, jax.numpy as jnp, langevin_jax as lj
      >>> from langevin_jax import diffusion
      >>> schedule = diffusion.linear_schedule(100, beta_max=0.2)  # alphabar_100 ~ 4e-5
      >>> eps_fn = diffusion.gaussian_eps_fn(schedule, jnp.ones(2), jnp.eye(2))
      >>> out = lj.run(jax.random.key(0), diffusion.ddpm_sampler(eps_fn, schedule),
      ...              jax.random.normal(jax.random.key(1), (4000, 2)), 100)
      >>> bool(jnp.allclose(out.positions.mean(0), 1.0, atol=0.1))
      True
    """
    reverse.check_common(eps_fn, schedule)
    start = reverse.resolve_start(schedule, start_level)
    _checks.check_choice("variance", variance, VARIANCES)
    record = check_trained_levels("eps_fn", eps_fn, [1, start], allow_untrained_levels,
                                  f"DDPM from start_level={start}")
    eps_fn = as_pytree_fn(eps_fn)
    check = reverse.make_check(eps_fn, start, f"start_level={start}")
    step = jax.tree_util.Partial(_STEPS[variance], eps_fn, schedule, jnp.asarray(start, jnp.int32))
    metadata = dict(sampler="ddpm", start_level=start, variance=variance, **record)
    return SamplingAlgorithm(init, step, check, metadata)


# as in BlackJAX: ``diffusion.ddpm_sampler.init`` and ``diffusion.ddpm_sampler.build_kernel()``
ddpm_sampler.init = init  # type: ignore[attr-defined]
ddpm_sampler.build_kernel = build_kernel  # type: ignore[attr-defined]
