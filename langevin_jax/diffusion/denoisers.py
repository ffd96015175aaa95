r"""Noise predictors and the scores they define, and the levels where a predictor is valid.

A denoiser ``eps_fn(x, t)`` (``([d], []) -> [d]``, $t$ an integer level) predicts the noise
$\varepsilon$ from $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$. By Tweedie's formula
the score of the noised law $p_t$ is
$\nabla \log p_t(x) = -\mathbb{E}[\varepsilon \mid x_t = x] / \sqrt{1 - \bar\alpha_t}$, so

$$
\hat s(x, t) = -\frac{\mathtt{eps\_fn}(x, t)}{\sqrt{1 - \bar\alpha_t}}.
$$

The one pair of denoiser-to-score bridges is [`score_from_eps`][langevin_jax.diffusion.score_from_eps]
($s(x, t)$ at any level) and [`score_at_level`][langevin_jax.diffusion.score_at_level] ($s(x)$
at one level, for Langevin); ``nn.denoiser_score_fn`` / ``nn.denoiser_time_score_fn`` apply them
to a network, and [`langevin_jax.annealing.eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]
to DALMC's continuous path time.

**Where a network is valid.** A network trained on the levels ``min_level..max_level`` only
(the memorisation networks of paper 1 are trained on $1, \dots, 100$ of $T = 1000$) says nothing
about the others. [`with_levels`][langevin_jax.diffusion.with_levels] attaches those levels to
any ``eps_fn`` (the networks of [`langevin_jax.nn`][langevin_jax.nn] get them from their
training config), and every sampler and bridge of this package refuses, with a ``ValueError``
naming the levels, to evaluate it outside them, unless it is called with
``allow_untrained_levels=True`` (then an [`UntrainedLevelWarning`][langevin_jax.diffusion.UntrainedLevelWarning]
is issued and the sampler's ``metadata`` records it).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar, check_level
from langevin_jax.samplers._levels import (
    LevelledFn,
    UntrainedLevelWarning,
    check_trained_levels,
    trained_levels,
    with_levels,
)
from langevin_jax.samplers.base import as_pytree_fn
from langevin_jax.types import ArrayLike

__all__ = [
    "EpsFn",
    "LevelledFn",
    "UntrainedLevelWarning",
    "with_levels",
    "trained_levels",
    "check_trained_levels",
    "score_from_eps",
    "score_at_level",
    "gaussian_eps_fn",
]

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
"""``eps_fn(x [d], t [] int) -> [d]``: a noise predictor at an integer level."""


def score_from_eps(eps_fn: EpsFn, schedule: NoiseSchedule) -> Callable[[jax.Array, jax.Array], jax.Array]:
    r"""The time-dependent score $s(x, t) = -\mathtt{eps\_fn}(x, t) / \sqrt{1 - \bar\alpha_t}$.

    Args:
      eps_fn: ``([d], []) -> [d]``, a noise predictor at integer level $t$.
      schedule: the schedule it was trained with.

    Returns:
      ``score_fn(x[d], t[]) -> [d]`` (usable with [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin]),
      for levels $t$ in $1, \dots, T$ (a concrete level outside them raises ``ValueError``: at 0 the
      score is ``-inf``);
      a [`LevelledFn`][langevin_jax.diffusion.LevelledFn] with ``eps_fn``'s trained levels
      when it has them (so [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin]
      checks its schedule's levels against them).
    """
    _checks.check_callable("eps_fn", eps_fn)
    score = jax.tree_util.Partial(_score_from_eps, as_pytree_fn(eps_fn), schedule)
    levels = trained_levels(eps_fn)
    return score if levels is None else LevelledFn(score, *levels)


def _score_from_eps(eps_fn, schedule, x, t):
    t = jnp.asarray(t).astype(jnp.int32)
    # eager calls only: a level under a sampler's scan is traced and not read (no added work)
    _checks.check_level_values("t", t, schedule.num_levels)
    scale = jnp.sqrt(1.0 - alphabar(schedule, t)).astype(x.dtype)
    return -eps_fn(x, t) / scale


def score_at_level(eps_fn: EpsFn, schedule: NoiseSchedule, level: int, *,
                   allow_untrained_levels: bool = False) -> Callable[[jax.Array], jax.Array]:
    r"""The score at one fixed level, $\hat s(x) = -\mathtt{eps\_fn}(x, \ell) / \sqrt{1 - \bar\alpha_\ell}$,
    $\ell$ = ``level``.

    This is how Cao et al. (2026, Section 9) turn a denoiser into a Langevin score
    (``level = 10``). Returns ``score_fn(x[d]) -> [d]`` for [`langevin_jax.ula`][langevin_jax.ula].

    Args:
      eps_fn: the noise predictor.
      schedule: the schedule it was trained with.
      level: an int in $[1, T]$, inside ``eps_fn``'s trained levels when it has them.
      allow_untrained_levels: use a level outside ``eps_fn``'s trained levels anyway (with an
        [`UntrainedLevelWarning`][langevin_jax.diffusion.UntrainedLevelWarning]).

    Raises:
      ValueError: ``level`` not an int in $[1, T]$, or outside ``eps_fn``'s trained levels.
    """
    _checks.check_callable("eps_fn", eps_fn)
    level = check_level("level", level, schedule)
    check_trained_levels("eps_fn", eps_fn, [level], allow_untrained_levels, f"score_at_level(level={level})")
    scale = float(np.sqrt(1.0 - float(schedule.alphabars[level - 1])))
    # a Partial: the denoiser's parameters (when eps_fn is a pytree, as nn.denoiser_eps_fn's
    # is) and the scale are traced inputs of a run, so new parameters re-use the program
    return jax.tree_util.Partial(_score_at_level, as_pytree_fn(eps_fn), scale, level)


def _score_at_level(eps_fn, scale, level, x):
    return -eps_fn(x, jnp.asarray(level, jnp.int32)) / jnp.asarray(scale, x.dtype)


def gaussian_eps_fn(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike) -> EpsFn:
    r"""The exact (Bayes-optimal) denoiser of a Gaussian data law $\mathcal{N}(m, C)$.

    $x_t \sim \mathcal{N}\bigl(\sqrt{\bar\alpha_t}\, m,\, \bar\alpha_t C + (1 - \bar\alpha_t) I\bigr)$, so

    $$
    \mathbb{E}[\varepsilon \mid x_t = x] = \sqrt{1 - \bar\alpha_t}\, \bigl(\bar\alpha_t C + (1 - \bar\alpha_t) I\bigr)^{-1}
    \bigl(x - \sqrt{\bar\alpha_t}\, m\bigr),
    $$

    computed through the eigendecomposition $C = U \operatorname{diag}(\lambda) U^\top$ (done once).

    Args:
      schedule: the noise schedule.
      mean: ``[d]``, $m$.
      covariance: ``[d, d]``, $C$, symmetric positive semi-definite.

    Returns:
      ``eps_fn(x[d], t[]) -> [d]``, a `jax.tree_util.Partial` whose arrays (the schedule, $m$,
      $U$, $\lambda$) are traced inputs of a run, so the exact denoiser of another Gaussian
      of the same dimension re-uses the compiled sampler.
    """
    mean = _checks.check_vector("mean", mean)
    d = mean.shape[0]
    covariance = _checks.check_covariance("covariance", covariance, d)
    lam, u = jnp.linalg.eigh(0.5 * (covariance + covariance.T))
    return jax.tree_util.Partial(_gaussian_eps, schedule, mean, u, lam)


def _gaussian_eps(schedule, mean, u, lam, x, t):
    ab = alphabar(schedule, jnp.asarray(t).astype(jnp.int32)).astype(x.dtype)
    z = u.T @ (x - jnp.sqrt(ab) * mean)
    return jnp.sqrt(1.0 - ab) * (u @ (z / (ab * lam + 1.0 - ab)))
