r"""Diffusion paths $\mu_t = \mathrm{Law}\bigl(\sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z\bigr)$ and their scores
(paper 3, Section 2: the path from $\mu_0 = \mathcal{N}(0, I)$ to $\mu_1 = \pi$ that the annealed
dynamics follow). In closed form for Gaussian and Gaussian-mixture targets
([`diffusion_path`][langevin_jax.annealing.diffusion_path]), and for any target through a
learned denoiser by Tweedie's formula: an $x_0$-prediction at continuous $\lambda$
([`denoiser_path`][langevin_jax.annealing.denoiser_path]) or a DDPM noise predictor at
integer levels, the convention of [`langevin_jax.nn`][langevin_jax.nn]
([`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path]).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp

from langevin_jax import _checks, diffusion, targets, theory
from langevin_jax.annealing.schedules import AnnealingSchedule, get_schedule
from langevin_jax.types import ArrayLike

__all__ = [
    "DiffusionPath",
    "diffusion_path",
    "diffusion_marginal",
    "denoiser_path",
    "eps_denoiser_path",
]


class DiffusionPath(NamedTuple):
    r"""The path $\mu_t = \mathrm{Law}\bigl(\sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z\bigr)$, $t \in [0, 1]$.

    Attributes:
      schedule: the [`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule].
      dim: $d$.
      score_fn: $(x, t) \mapsto \nabla \log \mu_t(x)$, ``(x [d], t []) -> [d]``.
      log_prob_fn: $(x, t) \mapsto \log \mu_t(x)$, ``(x [d], t []) -> []``, or ``None`` (learned paths).
      sample_fn: ``(key, t, num) -> [num, d]`` exact draws from $\mu_t$, or ``None``.
    """

    schedule: AnnealingSchedule
    dim: int
    score_fn: Callable[[jax.Array, jax.Array], jax.Array]
    log_prob_fn: Optional[Callable[[jax.Array, jax.Array], jax.Array]]
    sample_fn: Optional[Callable[[jax.Array, ArrayLike, int], jax.Array]]


class _Components(NamedTuple):
    log_weights: jax.Array  # [K]
    means: jax.Array  # [K, d]
    eigenvalues: jax.Array  # [K, d]
    eigenvectors: jax.Array  # [K, d, d], columns


def _components(target) -> _Components:
    if isinstance(target, (targets.Gaussian, targets.IsotropicGaussian)):
        log_w = jnp.zeros((1,), target.mean.dtype)
        means, covs = target.mean[None], target.covariance[None]
    elif isinstance(target, targets.GaussianMixture):
        log_w, means, covs = jnp.log(target.weights), target.means, target.covariances
    else:
        raise ValueError(f"target must be a Gaussian, IsotropicGaussian or GaussianMixture, "
                         f"got {type(target).__name__} (use denoiser_path for other targets)")
    eigenvalues, eigenvectors = jnp.linalg.eigh(covs)
    return _Components(log_w, means, eigenvalues, eigenvectors)


def _component_terms(comps: _Components, x, lam):
    r"""Per component: $\log w_k + \log \mathcal{N}(x; \sqrt{\lambda}\, m_k, \lambda C_k + (1 - \lambda) I)$, and the
    score."""
    d = x.shape[-1]
    diff = x - jnp.sqrt(lam) * comps.means  # [K, d]
    z = jnp.einsum("kji,kj->ki", comps.eigenvectors, diff)  # V^T diff
    var = lam * comps.eigenvalues + (1.0 - lam)  # [K, d]
    log_p = comps.log_weights + theory.gaussian_log_density(
        jnp.sum(z * z / var, -1), jnp.sum(jnp.log(var), -1), d)
    scores = -jnp.einsum("kij,kj->ki", comps.eigenvectors, z / var)
    return log_p, scores


def _noised_sampler(target_sample_fn, schedule: AnnealingSchedule):
    r"""``(key, t, num)`` $\mapsto \sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z$ with $X$ from
    ``target_sample_fn(key, num)``."""

    def sample_fn(key, t, num):
        k_x, k_z = jax.random.split(key)
        x = target_sample_fn(k_x, num)
        lam = schedule.lam(jnp.asarray(t, x.dtype))
        return jnp.sqrt(lam) * x + jnp.sqrt(1.0 - lam) * jax.random.normal(k_z, x.shape, x.dtype)

    return sample_fn


def diffusion_path(target, schedule: Union[str, AnnealingSchedule, Callable]) -> DiffusionPath:
    r"""The diffusion path of a Gaussian or Gaussian-mixture target, in closed form.

    A mixture $\sum_k w_k\, \mathcal{N}(m_k, C_k)$ gives
    $\mu_t = \sum_k w_k\, \mathcal{N}\bigl(\sqrt{\lambda_t}\, m_k,\, \lambda_t C_k + (1 - \lambda_t) I\bigr)$
    (a Gaussian is the case $K = 1$), so

    $$
    \nabla \log \mu_t(x) = \sum_k r_k(x) \Bigl(-\bigl(\lambda_t C_k + (1 - \lambda_t) I\bigr)^{-1}
    \bigl(x - \sqrt{\lambda_t}\, m_k\bigr)\Bigr)
    $$

    with responsibilities $r_k$. Covariances are diagonalised once ($C_k = V_k S_k V_k^\top$),
    so a score costs two matrix-vector products per component. Gradients with respect to
    the target's covariance go through ``eigh`` and need distinct eigenvalues.

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian], [`IsotropicGaussian`][langevin_jax.IsotropicGaussian] or
        [`GaussianMixture`][langevin_jax.GaussianMixture].
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].

    Returns:
      A [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] with score, log-density and exact sampler.
    """
    schedule = get_schedule(schedule)
    comps = _components(target)
    d = int(comps.means.shape[-1])
    # Partials over the components: a path of another target of the same shapes (another mean
    # or covariance) is the same function with new traced numbers, so DALMC re-uses its program
    P = jax.tree_util.Partial
    return DiffusionPath(schedule, d, P(_mixture_score, schedule, comps, d), P(_mixture_log_prob, schedule, comps, d),
                         _noised_sampler(target.sample, schedule))


def _mixture_log_prob(schedule, comps, d, x, t):
    _checks.check_point(x, d)
    return jax.nn.logsumexp(_component_terms(comps, x, schedule.lam(jnp.asarray(t, comps.means.dtype)))[0])


def _mixture_score(schedule, comps, d, x, t):
    _checks.check_point(x, d)
    log_p, scores = _component_terms(comps, x, schedule.lam(jnp.asarray(t, comps.means.dtype)))
    return jax.nn.softmax(log_p) @ scores


def diffusion_marginal(target, schedule: Union[str, AnnealingSchedule, Callable],
                       t: ArrayLike) -> Union[targets.Gaussian, targets.GaussianMixture]:
    r"""$\mu_t$ as a target object (``Gaussian`` for Gaussian targets, else ``GaussianMixture``).

    Args:
      target: Gaussian or Gaussian mixture.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      t: a path time in $[0, 1]$ (scalar).
    """
    schedule = get_schedule(schedule)
    lam = schedule.lam(jnp.asarray(t, jnp.result_type(float)))
    comps = _components(target)
    covs = jnp.einsum("kij,kj,klj->kil", comps.eigenvectors,
                      lam * comps.eigenvalues + (1.0 - lam), comps.eigenvectors)
    covs = 0.5 * (covs + jnp.swapaxes(covs, -1, -2))
    means = jnp.sqrt(lam) * comps.means
    if isinstance(target, targets.GaussianMixture):
        return targets.GaussianMixture.create(jnp.exp(comps.log_weights), means, covs)
    return targets.Gaussian.create(means[0], covs[0])


def _check_learned(name, fn, dim, target_sample_fn) -> int:
    _checks.check_callable(name, fn)
    if target_sample_fn is not None and not callable(target_sample_fn):
        raise ValueError("target_sample_fn must be callable or None")
    return _checks.check_int_at_least("dim", dim, 1)


def denoiser_path(
    denoiser_fn: Callable[[jax.Array, jax.Array], jax.Array],
    schedule: Union[str, AnnealingSchedule, Callable],
    dim: int,
    *,
    target_sample_fn: Optional[Callable[[jax.Array, int], jax.Array]] = None,
    max_lambda: float = 1.0 - 1e-4,
) -> DiffusionPath:
    r"""The path of any target through a learned denoiser (a time-dependent score).

    With $D(y, \lambda) \approx \mathbb{E}\bigl[X \mid \sqrt{\lambda}\, X + \sqrt{1 - \lambda}\, Z = y\bigr]$,
    Tweedie's formula gives

    $$
    \nabla \log \mu_t(y) = \frac{\sqrt{\lambda_t}\, D(y, \lambda_t) - y}{1 - \lambda_t}.
    $$

    The score blows up at $\lambda = 1$; $\lambda$ is clipped to ``max_lambda`` (DALMC only
    evaluates the score at $t_k < 1$). For a DDPM noise predictor (the networks of
    [`langevin_jax.nn`][langevin_jax.nn]) use
    [`eps_denoiser_path`][langevin_jax.annealing.eps_denoiser_path].

    Args:
      denoiser_fn: $D$, ``(y [d], lambda []) -> [d]``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      dim: $d$.
      target_sample_fn: optional ``(key, num) -> [num, d]`` draws from $\pi$ (e.g. the
        training set); gives the path's exact sampler, needed by [`action`][langevin_jax.annealing.action].
      max_lambda: clip for $\lambda$, in $(0, 1)$.

    Returns:
      A [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] with ``log_prob_fn = None``.
    """
    dim = _check_learned("denoiser_fn", denoiser_fn, dim, target_sample_fn)
    if not 0.0 < max_lambda < 1.0:
        raise ValueError(f"max_lambda must be in (0, 1), got {max_lambda}")
    schedule = get_schedule(schedule)

    def score_fn(y, t):
        _checks.check_point(y, dim)
        lam = jnp.minimum(schedule.lam(jnp.asarray(t, y.dtype)), max_lambda)
        return (jnp.sqrt(lam) * denoiser_fn(y, lam) - y) / (1.0 - lam)

    sample_fn = None if target_sample_fn is None else _noised_sampler(target_sample_fn, schedule)
    return DiffusionPath(schedule, dim, score_fn, None, sample_fn)


def eps_denoiser_path(
    eps_fn: Callable[[jax.Array, jax.Array], jax.Array],
    noise_schedule: diffusion.NoiseSchedule,
    schedule: Union[str, AnnealingSchedule, Callable],
    dim: int,
    *,
    target_sample_fn: Optional[Callable[[jax.Array, int], jax.Array]] = None,
    allow_untrained_levels: bool = False,
) -> DiffusionPath:
    r"""The path of any target through a DDPM noise predictor, for DALMC in one call.

    The DDPM level $k$ noises data as $\sqrt{\bar\alpha_k}\, X + \sqrt{1 - \bar\alpha_k}\, \varepsilon$,
    which is the path's $X_t$ at $\lambda_t = \bar\alpha_k$. A path time $t$ is mapped to
    the level $k(t) \in \{1, \dots, T\}$ whose $\bar\alpha_k$ is nearest $\lambda_t$, and the
    score is [`langevin_jax.diffusion.score_from_eps`][langevin_jax.diffusion.score_from_eps]'s
    (the same as [`langevin_jax.nn.denoiser_time_score_fn`][langevin_jax.nn.denoiser_time_score_fn]'s):

    $$
    \nabla \log \mu_t(y) \approx -\frac{\mathtt{eps\_fn}\bigl(y, k(t)\bigr)}{\sqrt{1 - \bar\alpha_{k(t)}}},
    $$

    exact for an exact ``eps_fn`` (e.g. [`langevin_jax.diffusion.gaussian_eps_fn`][langevin_jax.diffusion.gaussian_eps_fn])
    at every $t$ where $\lambda_t$ is one of the $\bar\alpha_k$; elsewhere it is the exact
    score of the path at $\lambda = \bar\alpha_{k(t)}$, the schedule rounded to the nearest
    noise level (a change of $\lambda$ of at most half the gap between two levels, and
    $\lambda$ is held in $[\bar\alpha_T, \bar\alpha_1]$).

    Convention: ``eps_fn`` is called at **integer** levels only, as in
    [`langevin_jax.diffusion`][langevin_jax.diffusion]. The networks of
    [`langevin_jax.nn`][langevin_jax.nn] would accept a fractional level (their time
    embedding is a function of a float), but they are trained on integer levels only, and
    ``gaussian_eps_fn`` truncates a fractional level; rounding keeps every evaluation on a
    trained level. DALMC starts near $\lambda = 0$: train the network on all the levels it
    will be asked about (``max_level = T`` in [`langevin_jax.nn.TrainConfig`][langevin_jax.nn.TrainConfig]).

    Args:
      eps_fn: ``(y [d], k [] int) -> [d]``, e.g. ``nn.denoiser_eps_fn(params, config)``.
      noise_schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] it was
        trained with.
      schedule: DALMC's annealing schedule, see
        [`get_schedule`][langevin_jax.annealing.get_schedule].
      dim: $d$.
      target_sample_fn: optional ``(key, num) -> [num, d]`` draws from $\pi$; gives the
        path's exact sampler, needed by [`action`][langevin_jax.annealing.action].
      allow_untrained_levels: the path runs through every level $1, \dots, T$ (from $\lambda \approx 0$
        to $\lambda \approx 1$); an ``eps_fn`` that carries narrower trained levels (a network
        trained on $1, \dots, 100$) is refused unless this is ``True`` (then a warning).

    Returns:
      A [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] with ``log_prob_fn = None``,
      for [`dalmc`][langevin_jax.annealing.dalmc].
    """
    dim = _check_learned("eps_fn", eps_fn, dim, target_sample_fn)
    if not isinstance(noise_schedule, diffusion.NoiseSchedule):
        raise ValueError(f"noise_schedule must be a diffusion.NoiseSchedule, "
                         f"got {type(noise_schedule).__name__}")
    schedule = get_schedule(schedule)
    diffusion.check_trained_levels("eps_fn", eps_fn, [1, noise_schedule.num_levels], allow_untrained_levels,
                                   "the diffusion path (every level 1..T)")
    level_score = diffusion.score_from_eps(eps_fn, noise_schedule)
    # a Partial: a new network's parameters are traced numbers of the DALMC run
    score_fn = jax.tree_util.Partial(_eps_path_score, schedule, noise_schedule.alphabars, level_score, dim)
    sample_fn = None if target_sample_fn is None else _noised_sampler(target_sample_fn, schedule)
    return DiffusionPath(schedule, dim, score_fn, None, sample_fn)


def _eps_path_score(schedule, alphabars, level_score, dim, y, t):
    # alphabars [T], decreasing: level k is alphabars[k - 1]
    _checks.check_point(y, dim)
    lam = schedule.lam(jnp.asarray(t, y.dtype))
    return level_score(y, jnp.argmin(jnp.abs(alphabars - lam)) + 1)
