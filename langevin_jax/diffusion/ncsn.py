r"""Annealed Langevin dynamics over noise levels (NCSN; Song & Ermon 2019, Algorithm 1).

For noise levels $\sigma_1 > \dots > \sigma_L$ and $T$ steps per level:
$\alpha_i = \epsilon\, \sigma_i^2 / \sigma_L^2$, then $T$ times

$$
x \leftarrow x + \frac{\alpha_i}{2}\, s(x, \sigma_i) + \sqrt{\alpha_i}\, z, \qquad z \sim \mathcal{N}(0, I).
$$

This is Langevin with a time-dependent score, one Euler-Maruyama step
$x + h\, s + \sqrt{2 h}\, z$ with $h = \alpha_i / 2$: the sampler *is*
[`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] with the schedule
[`ncsn_schedule`][langevin_jax.diffusion.ncsn_schedule] (step $k$ at level $i = \lfloor k / T \rfloor$), so
its layers are annealed Langevin's ([`init`][langevin_jax.samplers.annealed.init],
[`build_kernel`][langevin_jax.samplers.annealed.build_kernel], also reachable as
``ncsn_sampler.init`` / ``ncsn_sampler.build_kernel()``), as DALMC's are.

**On a DDPM network's levels** ([`ncsn_sampler`][langevin_jax.diffusion.ncsn_sampler]): the
score at level $t$ is [`score_from_eps`][langevin_jax.diffusion.score_from_eps]'s
$-\varepsilon(x, t) / \sqrt{1 - \bar\alpha_t}$ and the noise level of the rule is
$\sigma_t = \sqrt{1 - \bar\alpha_t}$, the standard deviation of the noise in $x_t$. Song & Ermon's levels are
variance-exploding ($x + \sigma z$); reading a variance-preserving level's $\sigma$ as the
noise's standard deviation is our reconstruction. For the linear schedule $\sigma_1 = 0.01$
and $\sigma_{1000} = 1.0$, Song & Ermon's own range, so their $\epsilon = 2 \cdot 10^{-5}$ carries over.
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.diffusion import reverse
from langevin_jax.diffusion.denoisers import EpsFn, LevelledFn, check_trained_levels, score_from_eps
from langevin_jax.diffusion.schedules import NoiseSchedule, check_level
from langevin_jax.samplers.annealed import ArraySchedule, annealed_langevin, array_schedule, build_kernel, init
from langevin_jax.samplers.base import SamplingAlgorithm
from langevin_jax.types import ArrayLike

__all__ = ["ncsn_sampler", "ncsn_schedule", "ncsn_levels"]


def ncsn_schedule(times: ArrayLike, sigmas: ArrayLike, steps_per_level: int, epsilon: float) -> ArraySchedule:
    r"""Song & Ermon's Algorithm 1 as an annealed-Langevin schedule $k \mapsto (t_k, h_k)$.

    Step $k$ runs at level $i = \lfloor k / T \rfloor$ ($T$ = ``steps_per_level``): time $t_k$ = ``times[i]``
    (what the score is called with: $\sigma_i$ for a variance-exploding score $s(x, \sigma)$, an integer
    level for a DDPM network) and $h_k = \alpha_i / 2 = \epsilon\, \sigma_i^2 / (2 \sigma_L^2)$.

    Args:
      times: ``[L]`` what the score takes at each level, from the noisiest.
      sigmas: ``[L]`` the noise levels $\sigma_1 > \dots > \sigma_L > 0$.
      steps_per_level: $T$, an int >= 1.
      epsilon: $\epsilon > 0$, the step at the last level is $\alpha_L = \epsilon$.

    Returns:
      An [`ArraySchedule`][langevin_jax.samplers.annealed.ArraySchedule] of $L T$ steps, for
      [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin].
    """
    times = _checks.check_rank("times", times, 1, "[L]")
    sigmas = _checks.check_rank("sigmas", sigmas, 1, "[L]")
    if sigmas.shape != times.shape or sigmas.shape[0] < 1:
        raise ValueError(f"sigmas must have the shape of times [L] with L >= 1, got {sigmas.shape} and "
                         f"{times.shape}")
    _checks.check_positive_finite("sigmas", sigmas)
    if _checks.is_concrete(sigmas) and bool(jnp.any(jnp.diff(sigmas) > 0)):
        raise ValueError("sigmas must be non-increasing (sigma_1 >= ... >= sigma_L, noisiest first), "
                         f"got {np.asarray(sigmas)}")
    steps_per_level = _checks.check_int_at_least("steps_per_level", steps_per_level, 1)
    _checks.check_positive_finite("epsilon", epsilon)
    sigmas = sigmas.astype(jnp.result_type(sigmas.dtype, jnp.float32))
    alphas = epsilon * sigmas**2 / sigmas[-1] ** 2
    return array_schedule(jnp.repeat(times, steps_per_level).astype(sigmas.dtype),
                          jnp.repeat(alphas / 2.0, steps_per_level))


def ncsn_levels(schedule: NoiseSchedule, num_noise_levels: int = 10, max_level: Optional[int] = None,
                min_level: int = 1) -> np.ndarray:
    r"""``[L]`` integer levels from ``max_level`` down to ``min_level`` whose noise
    $\sigma_t = \sqrt{1 - \bar\alpha_t}$ is as close as the levels allow to a geometric sequence
    (Song & Ermon's spacing); repeated levels are dropped, so $L \le$ ``num_noise_levels``.
    ``max_level`` defaults to $T$."""
    num = _checks.check_int_at_least("num_noise_levels", num_noise_levels, 1)
    hi = check_level("max_level", schedule.num_levels if max_level is None else max_level, schedule)
    lo = check_level("min_level", min_level, schedule)
    if lo > hi:
        raise ValueError(f"min_level must be <= max_level, got {lo} > {hi}")
    log_sigma = 0.5 * np.log1p(-np.asarray(schedule.alphabars, np.float64))  # level t at [t - 1]
    targets = np.linspace(log_sigma[hi - 1], log_sigma[lo - 1], num)
    candidates = np.arange(lo, hi + 1)
    picked = candidates[np.argmin(np.abs(log_sigma[candidates - 1][None, :] - targets[:, None]), axis=1)]
    return np.unique(picked)[::-1].astype(np.int32)


def ncsn_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    *,
    levels: Optional[ArrayLike] = None,
    steps_per_level: int = 100,
    epsilon: float = 2e-5,
    allow_untrained_levels: bool = False,
) -> SamplingAlgorithm:
    r"""NCSN's annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) on a DDPM noise
    predictor's levels.

    $\alpha_i = \epsilon\, \sigma_i^2 / \sigma_L^2$ with $\sigma_t = \sqrt{1 - \bar\alpha_t}$, then
    ``steps_per_level`` steps $x \leftarrow x + (\alpha_i / 2)\, s(x, t_i) + \sqrt{\alpha_i}\, z$ at each level
    $t_i$ (noisiest first), with the score $s(x, t) = -\mathtt{eps\_fn}(x, t) / \sqrt{1 - \bar\alpha_t}$
    of [`score_from_eps`][langevin_jax.diffusion.score_from_eps]. Run it for
    ``len(levels) * steps_per_level`` steps from $\mathcal{N}(0, I)$. No final denoising step (NCSNv2's
    addition) is taken: the output has the law of the lowest level's $x_t$, approximately.

    A pytree: the network's parameters, the schedule, the levels and the step sizes are traced
    inputs of a run (new values of the same number of steps re-use the compiled program).

    Args:
      eps_fn: ``([d], []) -> [d]``, the noise predictor; its trained levels, when it carries
        them, must include every level used.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] it was trained with.
      levels: the integer levels $t_1 > \dots > t_L$, each in $[1, T]$ (default:
        [`ncsn_levels`][langevin_jax.diffusion.ncsn_levels]``(schedule)``, 10 levels from $T$
        to 1 geometric in $\sigma$).
      steps_per_level: $T$ of Algorithm 1 (100 in Song & Ermon).
      epsilon: the step $\epsilon > 0$ at the lowest level ($2 \cdot 10^{-5}$ in Song & Ermon).
      allow_untrained_levels: as in [`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler].

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] with annealed
      Langevin's state and info (``info.time`` is the level).
    """
    reverse.check_common(eps_fn, schedule)
    if levels is None:
        levels = ncsn_levels(schedule)
    levels = np.asarray(levels)
    if levels.ndim != 1 or levels.shape[0] < 1 or not np.issubdtype(levels.dtype, np.integer):
        raise ValueError(f"levels must be a non-empty sequence of integer levels [L], got {levels!r}")
    for t in levels:
        check_level("levels", int(t), schedule)
    if np.any(np.diff(levels) >= 0):
        raise ValueError(f"levels must be strictly decreasing (noisiest first), got {levels.tolist()}")
    record = check_trained_levels("eps_fn", eps_fn, levels, allow_untrained_levels,
                                  f"NCSN over levels {levels.tolist()}")
    sigmas = jnp.sqrt(1.0 - jnp.asarray(schedule.alphabars)[levels - 1])
    sched = ncsn_schedule(jnp.asarray(levels, jnp.float32), sigmas, steps_per_level, epsilon)
    # the levels were checked here, once: the annealed sampler gets the score without them
    algorithm = annealed_langevin(score_from_eps(_without_levels(eps_fn), schedule), sched)
    metadata = dict(sampler="ncsn", noise_levels=levels.tolist(), steps_per_level=int(steps_per_level),
                    epsilon=float(epsilon), num_steps=int(levels.shape[0] * steps_per_level), **record)
    return SamplingAlgorithm(algorithm.init, algorithm.step, algorithm.check, metadata)


def _without_levels(fn):
    return fn.fn if isinstance(fn, LevelledFn) else fn


ncsn_sampler.init = init  # type: ignore[attr-defined]
ncsn_sampler.build_kernel = build_kernel  # type: ignore[attr-defined]
