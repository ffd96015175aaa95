r"""DDIM (Song, Meng & Ermon 2021) over a decreasing subsequence of levels.

Levels $\tau_S > \dots > \tau_1 \ge 1$, $\tau_0 = 0$. From $x$ at level $t = \tau_i$ to
$s = \tau_{i-1}$, with $\varepsilon = \mathtt{eps\_fn}(x, t)$, $z \sim \mathcal{N}(0, I)$ and
$\bar\alpha$ the schedule's cumulative products:

$$
\begin{aligned}
\hat x_0 &= \bigl(x - \sqrt{1 - \bar\alpha_t}\, \varepsilon\bigr) / \sqrt{\bar\alpha_t}, \\
x_s &= \sqrt{\bar\alpha_s}\, \hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\, \varepsilon + \sigma z, \\
\sigma &= \eta \sqrt{(1 - \bar\alpha_s) / (1 - \bar\alpha_t)}\, \sqrt{1 - \bar\alpha_t / \bar\alpha_s}.
\end{aligned}
$$

BlackJAX-style layers: [`init`][langevin_jax.diffusion.reverse.init],
[`build_kernel`][langevin_jax.diffusion.ddim.build_kernel] (``kernel(rng_key, state, eps_fn,
schedule, levels, eta)``) and [`ddim_sampler`][langevin_jax.diffusion.ddim.ddim_sampler].
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.diffusion import reverse
from langevin_jax.diffusion.denoisers import EpsFn, check_trained_levels
from langevin_jax.diffusion.reverse import DiffusionInfo, DiffusionState, init
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar
from langevin_jax.samplers.base import SamplingAlgorithm, as_pytree_fn, gaussian_noise
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = ["ddim_sampler", "ddim_levels", "init", "build_kernel"]


def build_kernel(stochastic: bool = False):
    r"""DDIM's kernel ``kernel(rng_key, state, eps_fn, schedule, levels, eta)``.

    Args:
      stochastic: draw the noise $\sigma z$ ($\eta > 0$); ``False`` builds the deterministic
        kernel ($\eta = 0$: no random numbers drawn). A structural choice.

    ``levels`` is the ``[S + 1]`` int32 array $\tau_S, \dots, \tau_1, 0$; step ``k`` goes from
    ``levels[k]`` to ``levels[k + 1]`` (NaN past the last level).
    """

    def kernel(rng_key: PRNGKey, state: DiffusionState, eps_fn: EpsFn, schedule: NoiseSchedule,
               levels: jax.Array, eta: ArrayLike):
        x = state.position
        t, s = levels[state.count], levels[state.count + 1]
        ab_t = alphabar(schedule, t).astype(x.dtype)
        ab_s = alphabar(schedule, s).astype(x.dtype)
        eps = eps_fn(x, t)
        x0 = (x - jnp.sqrt(1.0 - ab_t) * eps) / jnp.sqrt(ab_t)
        sigma = eta * jnp.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))
        direction = jnp.sqrt(jnp.maximum(1.0 - ab_s - sigma**2, 0.0))
        new = jnp.sqrt(ab_s) * x0 + direction * eps
        if stochastic:
            new = new + sigma * gaussian_noise(rng_key, x)
        new = reverse.nan_where_invalid(state.count < levels.shape[0] - 1, new)
        return DiffusionState(new, state.count + 1), DiffusionInfo(jnp.all(jnp.isfinite(new)), t)

    return kernel


_KERNELS = {False: build_kernel(False), True: build_kernel(True)}


def _step_deterministic(eps_fn, schedule, levels, eta, rng_key, state):
    return _KERNELS[False](rng_key, state, eps_fn, schedule, levels, eta)


def _step_stochastic(eps_fn, schedule, levels, eta, rng_key, state):
    return _KERNELS[True](rng_key, state, eps_fn, schedule, levels, eta)


def ddim_levels(start_level: int, num_steps: int) -> np.ndarray:
    r"""DDIM's ``[S + 1]`` levels $\tau_S = \mathtt{start\_level} > \dots > \tau_1 \ge 1$, then 0: evenly spaced
    (rounded), or consecutive from the top where rounding would repeat a level."""
    taus = np.unique(np.round(np.linspace(start_level, 1, num_steps)).astype(np.int32))[::-1]
    if taus.shape[0] != num_steps:  # rounding collided: fall back to integer steps from the top
        taus = np.arange(start_level, start_level - num_steps, -1, dtype=np.int32)
    return np.concatenate([taus, [0]]).astype(np.int32)


def ddim_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    num_steps: Optional[int] = None,
    *,
    start_level: Optional[int] = None,
    eta: float = 0.0,
    allow_untrained_levels: bool = False,
) -> SamplingAlgorithm:
    r"""DDIM (Song, Meng & Ermon 2021) over a subsequence of levels, as an ``init``/``step`` pair.

    Levels $\tau_S = \mathtt{start\_level} > \dots > \tau_1 \ge 1$ (evenly spaced, $S$ = ``num_steps``,
    [`ddim_levels`][langevin_jax.diffusion.ddim.ddim_levels]), $\tau_0 = 0$. From $x$ at
    level $t = \tau_i$ to $s = \tau_{i-1}$, with $\varepsilon = \mathtt{eps\_fn}(x, t)$ and
    $z \sim \mathcal{N}(0, I)$:

    $$
    \begin{aligned}
    \hat x_0 &= \bigl(x - \sqrt{1 - \bar\alpha_t}\, \varepsilon\bigr) / \sqrt{\bar\alpha_t}, \\
    x_s &= \sqrt{\bar\alpha_s}\, \hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\, \varepsilon + \sigma z, \\
    \sigma &= \eta \sqrt{(1 - \bar\alpha_s) / (1 - \bar\alpha_t)}\, \sqrt{1 - \bar\alpha_t / \bar\alpha_s}.
    \end{aligned}
    $$

    $\eta = 0$ is deterministic: the probability-flow ODE discretised in the DDIM way;
    $\eta = 1$ with every level is DDPM with the posterior variance.

    A pytree: ``eps_fn``'s arrays, the schedule, the levels and ``eta`` are traced inputs of a
    run (a new start level, network or $\eta > 0$ of the same number of steps re-uses the
    compiled program; $\eta = 0$ and $\eta > 0$ are two programs, the first drawing no noise).

    Args:
      eps_fn: ``([d], []) -> [d]`` noise predictor; its trained levels, when it carries them,
        must include every $\tau_i$.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule].
      num_steps: $S$ (default: every level from ``start_level`` down).
      start_level: the level of the initial positions (default $T$).
      eta: $\eta \ge 0$, the stochasticity.
      allow_untrained_levels: as in [`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler].

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm]
      ([`DiffusionState`][langevin_jax.diffusion.DiffusionState],
      [`DiffusionInfo`][langevin_jax.diffusion.DiffusionInfo]); run it for $S$ steps (in one
      run or several continued ones).
    """
    reverse.check_common(eps_fn, schedule)
    start = reverse.resolve_start(schedule, start_level)
    num = start if num_steps is None else _checks.check_int_at_least("num_steps", num_steps, 1)
    if num > start:
        raise ValueError(f"num_steps={num} exceeds start_level={start}")
    if not (isinstance(eta, (int, float)) and not isinstance(eta, bool) and math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite float >= 0, got {eta!r}")
    levels = ddim_levels(start, num)
    record = check_trained_levels("eps_fn", eps_fn, levels[:-1], allow_untrained_levels,
                                  f"DDIM over {num} levels from start_level={start}")
    eps_fn = as_pytree_fn(eps_fn)
    check = reverse.make_check(eps_fn, num, f"the sampler's {num} levels")
    fn = _step_stochastic if eta > 0 else _step_deterministic
    step = jax.tree_util.Partial(fn, eps_fn, schedule, jnp.asarray(levels), float(eta))
    metadata = dict(sampler="ddim", start_level=start, num_steps=num, eta=float(eta), **record)
    return SamplingAlgorithm(init, step, check, metadata)


ddim_sampler.init = init  # type: ignore[attr-defined]
ddim_sampler.build_kernel = build_kernel  # type: ignore[attr-defined]
