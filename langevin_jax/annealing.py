"""Diffusion annealed Langevin dynamics: schedules, paths, the action, exact Gaussian laws, DALMC.

Paper 003: Cattiaux, Cordero-Encinar & Guillin, *Diffusion annealed Langevin dynamics: a
theoretical study*; its Euler discretisation is DALMC (Cordero-Encinar, Akyildiz & Duncan
2025). The setting below is **our reconstruction** (``docs/paper3_annealed_langevin.md``); the paper's text was not
available beyond its abstract and the statement of Theorem 2.1, so the formulas below were
derived here and are checked by the tests, not copied.

Setting (reconstruction). An annealing schedule ``lambda: [0, 1] -> [0, 1]``, nondecreasing
with ``lambda(1) = 1``, defines the diffusion path

    ``X_t = sqrt(lambda_t) X + sqrt(1 - lambda_t) Z``,  ``X ~ pi``, ``Z ~ N(0, I)``,
    ``mu_t = Law(X_t)``,

from ``mu_0 = N(0, I)`` (when ``lambda_0 = 0``) to ``mu_1 = pi``. The diffusion annealed
Langevin dynamics runs over Langevin time ``s in [0, 1 / kappa]``

    ``dY_s = grad log mu_{kappa s}(Y_s) ds + sqrt(2) dB_s``,  ``Y_0 ~ N(0, I)``,

and DALMC is its Euler scheme on a grid ``0 = t_0 < ... < t_N = 1`` of path times:
``Y_{k+1} = Y_k + h_k grad log mu_{t_k}(Y_k) + sqrt(2 h_k) xi_k`` with
``h_k = (t_{k+1} - t_k) / kappa``.

Bias bound (paper 003, Section 2; Girsanov plus data processing). With the action
``A = int_0^1 |mu'_t|^2 dt`` (``|mu'_t|`` the metric derivative of ``t -> mu_t`` in W2),

    ``KL(pi || Law(Y_{1/kappa})) <= KL(mu_0 || Law(Y_0)) + kappa A / 4``.

The direction matters: the *target* is the first argument. Every exact KL in this module is
computed in that direction ([`gaussian_bias_kl`][langevin_jax.annealing.gaussian_bias_kl]). The first term vanishes when
``Y_0 ~ mu_0``; for the OU schedule ``lambda_0 = exp(-2T) > 0`` and starting from
``N(0, I)`` it is [`gaussian_initial_kl`][langevin_jax.annealing.gaussian_initial_kl].

Action (derived here). The conditional velocity of ``X_t`` given ``X_t = y`` is
``v_t(y) = (lambda'_t / (2 lambda_t)) (y + grad log mu_t(y))`` (Tweedie's formula); it solves
the continuity equation of ``mu_t`` and is a gradient field, hence the tangent velocity, so

    ``|mu'_t|^2 = (lambda'_t / (2 lambda_t))^2 E_{mu_t} |Y + grad log mu_t(Y)|^2``

exactly (not only a bound). [`action`][langevin_jax.annealing.action] integrates it by Gauss-Legendre quadrature in ``t``
and Monte Carlo in ``Y`` for any path with a score and a sampler (mixtures, learned
denoisers). For a Gaussian target ``N(m, Sigma)`` with eigenvalues ``sigma_i`` the path is
``N(sqrt(lambda) m, lambda Sigma + (1 - lambda) I)``, whose covariances commute, and

    ``|mu'_t|^2 = lambda'^2 |m|^2 / (4 lambda)
                 + sum_i lambda'^2 (sigma_i - 1)^2 / (4 (1 + lambda (sigma_i - 1)))``,

with closed-form integrals ([`gaussian_action`][langevin_jax.annealing.gaussian_action]):

* linear ``lambda = t``: ``A = sum_i (sigma_i - 1) log(sigma_i) / 4``, plus ``+inf`` when
  ``m != 0`` (``d sqrt(t) / dt = 1 / (2 sqrt t)`` is not square integrable);
* cosine ``lambda = sin^2(pi t / 2)``: ``A = (pi^2 / 8) (|m|^2 + sum_i (sqrt(sigma_i) - 1)^2)``,
  i.e. ``pi^2 / 8`` times ``W2^2(N(0, I), pi)``;
* OU ``lambda = exp(-2 T (1 - t))``, ``lambda_0 = exp(-2T)``:
  ``A = T (1 - lambda_0) |m|^2 / 2
  + (T / 2) sum_i [(sigma_i - 1)(1 - lambda_0) - log(sigma_i / (1 + (sigma_i - 1) lambda_0))]``.

Exact laws (derived here). For a Gaussian target the law of ``Y`` stays Gaussian. With
``P_t = (lambda_t Sigma + (1 - lambda_t) I)^{-1}`` and ``m_t = sqrt(lambda_t) m``, in Langevin
time ``dM/ds = -P (M - m_t)``, ``dC/ds = -P C - C P + 2 I``
([`gaussian_annealed_law`][langevin_jax.annealing.gaussian_annealed_law],
solved by RK4), and DALMC's moments follow ``M' = M - h P (M - m_t)``,
``C' = (I - h P) C (I - h P) + 2 h I`` exactly ([`gaussian_dalmc_law`][langevin_jax.annealing.gaussian_dalmc_law]).
All ``P_t`` share
``Sigma``'s eigenvectors, so both are solved entry by entry in that eigenbasis.

Our choices, not the paper's: the OU horizon default ``T = 3``, the adapted time grid
([`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid], equal arc length mixed with uniform), and the
quadrature sizes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, NamedTuple, Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, targets, theory
from langevin_jax.samplers.annealed import annealed_langevin
from langevin_jax.samplers.base import SamplingAlgorithm

__all__ = [
    "AnnealingSchedule",
    "linear_schedule",
    "cosine_schedule",
    "ou_schedule",
    "custom_schedule",
    "get_schedule",
    "DiffusionPath",
    "diffusion_path",
    "diffusion_marginal",
    "denoiser_path",
    "gaussian_action_density",
    "gaussian_action",
    "ActionEstimate",
    "action",
    "kl_bound",
    "gaussian_initial_kl",
    "GaussianLaw",
    "gaussian_annealed_law",
    "default_ode_steps",
    "gaussian_dalmc_law",
    "gaussian_bias_kl",
    "uniform_time_grid",
    "adapted_time_grid",
    "gaussian_speed_fn",
    "dalmc_step_schedule",
    "dalmc",
]

_RESERVED = ("linear", "cosine", "ou")


# --------------------------------------------------------------------------------------
# Annealing schedules
# --------------------------------------------------------------------------------------


class AnnealingSchedule(NamedTuple):
    """An annealing schedule ``t -> lambda_t`` on ``[0, 1]``.

    Attributes:
      lambda_fn: ``t -> lambda_t``, elementwise on arrays of ``t``, differentiable,
        nondecreasing, values in ``[0, 1]`` with ``lambda_1 = 1``.
      name: ``"linear"``, ``"cosine"``, ``"ou"`` (these have closed-form Gaussian actions)
        or a user name.
      horizon: the OU horizon ``T`` (``nan`` for other schedules).
    """

    lambda_fn: Callable[[jax.Array], jax.Array]
    name: str = "custom"
    horizon: float = math.nan

    def __call__(self, t):
        return self.lambda_fn(t)


def _linear(t):
    return jnp.asarray(t)


def _cosine(t):
    return jnp.sin(0.5 * jnp.pi * jnp.asarray(t)) ** 2


@dataclasses.dataclass(frozen=True)
class _OULambda:
    """``t -> exp(-2 T (1 - t))``, equal (and hashing) by ``T``: two OU schedules with the same
    horizon are the same static argument, so jitted functions of a schedule compile once."""

    horizon: float

    def __call__(self, t):
        return jnp.exp(-2.0 * self.horizon * (1.0 - jnp.asarray(t)))


def linear_schedule() -> AnnealingSchedule:
    """``lambda_t = t``."""
    return AnnealingSchedule(_linear, "linear")


def cosine_schedule() -> AnnealingSchedule:
    """``lambda_t = sin^2(pi t / 2)``, so ``X_t = sin(pi t/2) X + cos(pi t/2) Z``."""
    return AnnealingSchedule(_cosine, "cosine")


def ou_schedule(horizon: float = 3.0) -> AnnealingSchedule:
    """``lambda_t = exp(-2 T (1 - t))``: the OU (variance-preserving) noising run backwards.

    ``X_t`` is the OU process ``dX = -X dr + sqrt(2) dW`` started at ``pi`` and read at
    ``r = T (1 - t)``. Note ``lambda_0 = exp(-2T) > 0``: ``mu_0`` is not exactly ``N(0, I)``.

    Args:
      horizon: ``T > 0``.
    """
    _checks.check_positive_finite("horizon", horizon)
    horizon = float(horizon)
    return AnnealingSchedule(_OULambda(horizon), "ou", horizon)


def custom_schedule(lambda_fn: Callable[[jax.Array], jax.Array],
                    name: str = "custom") -> AnnealingSchedule:
    """A user-given schedule, checked eagerly on a grid of 257 points.

    Args:
      lambda_fn: ``t -> lambda_t``, elementwise on arrays, differentiable, nondecreasing,
        with values in ``[0, 1]`` and ``lambda_fn(1) = 1``.
      name: a label; ``"linear"``, ``"cosine"`` and ``"ou"`` are reserved.

    Raises:
      ValueError: naming ``lambda_fn`` if it is not callable, not elementwise, leaves
        ``[0, 1]``, decreases, has ``lambda_1 != 1`` or a non-finite derivative; naming
        ``name`` if reserved.
    """
    _checks.check_callable("lambda_fn", lambda_fn)
    if not isinstance(name, str) or name in _RESERVED:
        raise ValueError(f"name must be a string other than {_RESERVED}, got {name!r}")
    grid = jnp.linspace(0.0, 1.0, 257)
    try:
        values = np.asarray(lambda_fn(grid), np.float64)
        slopes = np.asarray(jax.vmap(jax.grad(lambda t: jnp.asarray(lambda_fn(t), float)))(
            grid[1:-1]))
    except Exception as err:  # noqa: BLE001 - re-raised naming the argument
        raise ValueError(f"lambda_fn failed on an array of times: {type(err).__name__}: {err}"
                         ) from err
    if values.shape != grid.shape:
        raise ValueError(f"lambda_fn must act elementwise: on t of shape {grid.shape} it "
                         f"returned shape {values.shape}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))):
        raise ValueError("lambda_fn must be finite with a finite derivative on (0, 1)")
    if np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        raise ValueError("lambda_fn must take values in [0, 1]")
    if np.any(np.diff(values) < -1e-6):
        raise ValueError("lambda_fn must be nondecreasing on [0, 1]")
    if abs(values[-1] - 1.0) > 1e-5:
        raise ValueError(f"lambda_fn(1) must be 1 (the path must end at the target), "
                         f"got {values[-1]}")
    return AnnealingSchedule(lambda_fn, name)


def get_schedule(schedule: Union[str, AnnealingSchedule, Callable], *,
                 horizon: float = 3.0) -> AnnealingSchedule:
    """Resolve ``"linear"``, ``"cosine"``, ``"ou"``, an
    [`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule] or a callable.

    Args:
      schedule: a name, a schedule, or a user ``lambda_fn`` (checked by
        [`custom_schedule`][langevin_jax.annealing.custom_schedule]).
      horizon: the OU horizon ``T`` when ``schedule == "ou"``.
    """
    if isinstance(schedule, AnnealingSchedule):
        return schedule
    if isinstance(schedule, str):
        if schedule == "linear":
            return linear_schedule()
        if schedule == "cosine":
            return cosine_schedule()
        if schedule == "ou":
            return ou_schedule(horizon)
        raise ValueError(f"schedule must be one of {_RESERVED}, a callable or an "
                         f"AnnealingSchedule, got {schedule!r}")
    if callable(schedule):
        return custom_schedule(schedule)
    raise ValueError(f"schedule must be a name, a callable or an AnnealingSchedule, "
                     f"got {type(schedule).__name__}")


def _lam_and_rate(schedule: AnnealingSchedule, t):
    """``(lambda_t, lambda'_t)``, elementwise in ``t``."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.float32)
    return jax.jvp(schedule.lambda_fn, (t,), (jnp.ones_like(t),))


# --------------------------------------------------------------------------------------
# Diffusion paths
# --------------------------------------------------------------------------------------


class DiffusionPath(NamedTuple):
    """The path ``mu_t = Law(sqrt(lambda_t) X + sqrt(1 - lambda_t) Z)``, ``t in [0, 1]``.

    Attributes:
      schedule: the [`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule].
      dim: ``d``.
      score_fn: ``(x [d], t []) -> grad log mu_t(x) [d]``.
      log_prob_fn: ``(x [d], t []) -> log mu_t(x) []``, or ``None`` (learned paths).
      sample_fn: ``(key, t, num) -> [num, d]`` exact draws from ``mu_t``, or ``None``.
    """

    schedule: AnnealingSchedule
    dim: int
    score_fn: Callable[[jax.Array, jax.Array], jax.Array]
    log_prob_fn: Optional[Callable[[jax.Array, jax.Array], jax.Array]]
    sample_fn: Optional[Callable[[jax.Array, jax.Array, int], jax.Array]]


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
    """Per component: log w_k + log N(x; sqrt(lam) m_k, lam C_k + (1 - lam) I), and the score."""
    d = x.shape[-1]
    diff = x - jnp.sqrt(lam) * comps.means  # [K, d]
    z = jnp.einsum("kji,kj->ki", comps.eigenvectors, diff)  # V^T diff
    var = lam * comps.eigenvalues + (1.0 - lam)  # [K, d]
    log_p = comps.log_weights + theory.gaussian_log_density(
        jnp.sum(z * z / var, -1), jnp.sum(jnp.log(var), -1), d)
    scores = -jnp.einsum("kij,kj->ki", comps.eigenvectors, z / var)
    return log_p, scores


def diffusion_path(target, schedule: Union[str, AnnealingSchedule, Callable]) -> DiffusionPath:
    """The diffusion path of a Gaussian or Gaussian-mixture target, in closed form.

    A mixture ``sum_k w_k N(m_k, C_k)`` gives ``mu_t = sum_k w_k N(sqrt(lambda_t) m_k,
    lambda_t C_k + (1 - lambda_t) I)`` (a Gaussian is the case ``K = 1``), so

        ``grad log mu_t(x) = sum_k r_k(x) (-(lambda_t C_k + (1 - lambda_t) I)^{-1}
        (x - sqrt(lambda_t) m_k))``

    with responsibilities ``r_k``. Covariances are diagonalised once (``C_k = V_k S_k V_k^T``),
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

    def lam_at(t):
        return schedule.lambda_fn(jnp.asarray(t, comps.means.dtype))

    def log_prob_fn(x, t):
        _checks.check_point(x, d)
        return jax.nn.logsumexp(_component_terms(comps, x, lam_at(t))[0])

    def score_fn(x, t):
        _checks.check_point(x, d)
        log_p, scores = _component_terms(comps, x, lam_at(t))
        return jax.nn.softmax(log_p) @ scores

    def sample_fn(key, t, num):
        k_x, k_z = jax.random.split(key)
        x = target.sample(k_x, num)
        lam = lam_at(t)
        return jnp.sqrt(lam) * x + jnp.sqrt(1.0 - lam) * jax.random.normal(k_z, x.shape, x.dtype)

    return DiffusionPath(schedule, d, score_fn, log_prob_fn, sample_fn)


def diffusion_marginal(target, schedule: Union[str, AnnealingSchedule, Callable], t):
    """``mu_t`` as a target object (``Gaussian`` for Gaussian targets, else ``GaussianMixture``).

    Args:
      target: Gaussian or Gaussian mixture.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      t: a path time in ``[0, 1]`` (scalar).
    """
    schedule = get_schedule(schedule)
    lam = schedule.lambda_fn(jnp.asarray(t, jnp.result_type(float)))
    comps = _components(target)
    covs = jnp.einsum("kij,kj,klj->kil", comps.eigenvectors,
                      lam * comps.eigenvalues + (1.0 - lam), comps.eigenvectors)
    covs = 0.5 * (covs + jnp.swapaxes(covs, -1, -2))
    means = jnp.sqrt(lam) * comps.means
    if isinstance(target, targets.GaussianMixture):
        return targets.GaussianMixture.create(jnp.exp(comps.log_weights), means, covs)
    return targets.Gaussian.create(means[0], covs[0])


def denoiser_path(
    denoiser_fn: Callable[[jax.Array, jax.Array], jax.Array],
    schedule: Union[str, AnnealingSchedule, Callable],
    dim: int,
    *,
    target_sample_fn: Optional[Callable[[jax.Array, int], jax.Array]] = None,
    max_lambda: float = 1.0 - 1e-4,
) -> DiffusionPath:
    """The path of any target through a learned denoiser (a time-dependent score).

    With ``D(y, lambda) ~ E[X | sqrt(lambda) X + sqrt(1 - lambda) Z = y]``, Tweedie's formula
    gives ``grad log mu_t(y) = (sqrt(lambda_t) D(y, lambda_t) - y) / (1 - lambda_t)``. The
    score blows up at ``lambda = 1``; ``lambda`` is clipped to ``max_lambda`` (DALMC only
    evaluates the score at ``t_k < 1``).

    Args:
      denoiser_fn: ``(y [d], lambda []) -> [d]``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      dim: ``d``.
      target_sample_fn: optional ``(key, num) -> [num, d]`` draws from ``pi`` (e.g. the
        training set); gives the path's exact sampler, needed by [`action`][langevin_jax.annealing.action].
      max_lambda: clip for ``lambda``, in ``(0, 1)``.

    Returns:
      A [`DiffusionPath`][langevin_jax.annealing.DiffusionPath] with ``log_prob_fn = None``.
    """
    _checks.check_callable("denoiser_fn", denoiser_fn)
    dim = _checks.check_int_at_least("dim", dim, 1)
    if not 0.0 < max_lambda < 1.0:
        raise ValueError(f"max_lambda must be in (0, 1), got {max_lambda}")
    if target_sample_fn is not None and not callable(target_sample_fn):
        raise ValueError("target_sample_fn must be callable or None")
    schedule = get_schedule(schedule)

    def score_fn(y, t):
        _checks.check_point(y, dim)
        lam = jnp.minimum(schedule.lambda_fn(jnp.asarray(t, y.dtype)), max_lambda)
        return (jnp.sqrt(lam) * denoiser_fn(y, lam) - y) / (1.0 - lam)

    sample_fn = None
    if target_sample_fn is not None:
        def sample_fn(key, t, num):
            k_x, k_z = jax.random.split(key)
            x = target_sample_fn(k_x, num)
            lam = schedule.lambda_fn(jnp.asarray(t, x.dtype))
            return jnp.sqrt(lam) * x + jnp.sqrt(1.0 - lam) * jax.random.normal(k_z, x.shape,
                                                                                 x.dtype)

    return DiffusionPath(schedule, dim, score_fn, None, sample_fn)


# --------------------------------------------------------------------------------------
# The action A = int_0^1 |mu'_t|^2 dt and the bias bound
# --------------------------------------------------------------------------------------


def _gaussian_spectrum(target):
    if not isinstance(target, (targets.Gaussian, targets.IsotropicGaussian)):
        raise ValueError(f"target must be a Gaussian or IsotropicGaussian, "
                         f"got {type(target).__name__}")
    cov = target.covariance
    eigenvalues, eigenvectors = jnp.linalg.eigh(0.5 * (cov + cov.T))
    return target.mean, eigenvalues, eigenvectors


def gaussian_action_density(target, schedule: Union[str, AnnealingSchedule, Callable],
                            t) -> jax.Array:
    """``|mu'_t|^2``, the squared W2 metric derivative of a Gaussian path, in closed form.

    ``lambda'^2 |m|^2 / (4 lambda) + sum_i lambda'^2 (sigma_i - 1)^2 / (4 (1 + lambda
    (sigma_i - 1)))`` for ``N(m, Sigma)`` with eigenvalues ``sigma_i`` (the path's covariances
    commute, so ``W2`` splits into the mean and one term per eigen-direction).

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      t: path times in ``(0, 1)``, any shape (``0/0`` at a ``t`` with ``lambda_t = 0``).

    Returns:
      ``|mu'_t|^2``, shape of ``t``.
    """
    schedule = get_schedule(schedule)
    mean, sig, _ = _gaussian_spectrum(target)
    return _action_density(schedule, mean, sig, jnp.asarray(t, mean.dtype))


@functools.partial(jax.jit, static_argnums=0)
def _action_density(schedule, mean, sig, t):
    lam, rate = _lam_and_rate(schedule, t)
    lam, rate = lam[..., None], rate[..., None]
    mean_term = rate[..., 0] ** 2 * jnp.sum(mean**2) / (4.0 * lam[..., 0])
    var_term = jnp.sum(rate**2 * (sig - 1.0) ** 2 / (4.0 * (1.0 + lam * (sig - 1.0))), -1)
    return mean_term + var_term


@functools.lru_cache(maxsize=32)
def _leggauss(num_nodes: int):
    return np.polynomial.legendre.leggauss(num_nodes)  # O(num_nodes^3): cache it


def _gauss_legendre(num_nodes: int, dtype):
    nodes, weights = _leggauss(num_nodes)
    return jnp.asarray(0.5 * (nodes + 1.0), dtype), jnp.asarray(0.5 * weights, dtype)


def gaussian_action(target, schedule: Union[str, AnnealingSchedule, Callable], *,
                    num_nodes: int = 256) -> jax.Array:
    """The action ``A = int_0^1 |mu'_t|^2 dt`` of a Gaussian target's path.

    Closed form for the named schedules (see the module docstring): linear
    ``sum_i (sigma_i - 1) log(sigma_i) / 4`` (``+inf`` if ``m != 0``), cosine
    ``(pi^2/8)(|m|^2 + sum_i (sqrt(sigma_i) - 1)^2)``, OU as stated there. A user schedule
    integrates [`gaussian_action_density`][langevin_jax.annealing.gaussian_action_density] by ``num_nodes``-point
    Gauss-Legendre; if the
    integral diverges (e.g. ``lambda ~ t`` near 0 with ``m != 0``) that returns a finite number
    that grows with ``num_nodes``.

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      num_nodes: quadrature nodes for user schedules.

    Returns:
      ``A`` (scalar, possibly ``inf``).
    """
    schedule = get_schedule(schedule)
    num_nodes = _checks.check_int_at_least("num_nodes", num_nodes, 2)
    mean, sig, _ = _gaussian_spectrum(target)
    m2 = jnp.sum(mean**2)
    if schedule.name == "linear":
        return jnp.where(m2 > 0, jnp.inf, 0.0) + 0.25 * jnp.sum((sig - 1.0) * jnp.log(sig))
    if schedule.name == "cosine":
        return (jnp.pi**2 / 8.0) * (m2 + jnp.sum((jnp.sqrt(sig) - 1.0) ** 2))
    if schedule.name == "ou":
        big_t = schedule.horizon
        lam0 = math.exp(-2.0 * big_t)
        var = (sig - 1.0) * (1.0 - lam0) - jnp.log(sig) + jnp.log1p((sig - 1.0) * lam0)
        return 0.5 * big_t * ((1.0 - lam0) * m2 + jnp.sum(var))
    nodes, weights = _gauss_legendre(num_nodes, mean.dtype)
    return jnp.sum(weights * _action_density(schedule, mean, sig, nodes))


class ActionEstimate(NamedTuple):
    """Monte Carlo and quadrature estimate of the action.

    Attributes:
      value: the estimate of ``A``.
      std_error: its Monte Carlo standard error (quadrature error not included).
      num_samples: draws ``(X, Z)``, shared by all nodes.
      num_nodes: Gauss-Legendre nodes in ``t``.
    """

    value: float
    std_error: float
    num_samples: int
    num_nodes: int


def action(key: jax.Array, path: DiffusionPath, *, num_samples: int = 4096,
           num_nodes: int = 64, target_sample_fn: Optional[Callable] = None,
           batch_size: int = 1024) -> ActionEstimate:
    """The action ``A = int_0^1 |mu'_t|^2 dt`` of any path with a score, by quadrature.

    Uses the exact identity ``|mu'_t|^2 = (lambda'_t / (2 lambda_t))^2
    E|X_t + grad log mu_t(X_t)|^2`` (the velocity ``v_t = (lambda'/(2 lambda)) (y + grad log
    mu_t)`` is a gradient field, hence the metric derivative; module docstring), Gauss-Legendre
    in ``t`` and Monte Carlo in ``X_t = sqrt(lambda_t) X + sqrt(1 - lambda_t) Z`` with the same
    draws ``(X, Z)`` at every node, so the standard error is that of one average over draws.
    With a learned score the value is the action of the learned path.

    Args:
      key: PRNG key.
      path: a [`DiffusionPath`][langevin_jax.annealing.DiffusionPath].
      num_samples: draws of ``(X, Z)``, >= 2.
      num_nodes: Gauss-Legendre nodes on ``(0, 1)``.
      target_sample_fn: ``(key, num) -> [num, d]`` draws from ``pi``; defaults to
        ``path.sample_fn`` at ``t = 1``.
      batch_size: draws per compiled batch.

    Returns:
      An [`ActionEstimate`][langevin_jax.annealing.ActionEstimate].
    """
    num_samples = _checks.check_int_at_least("num_samples", num_samples, 2)
    num_nodes = _checks.check_int_at_least("num_nodes", num_nodes, 2)
    batch_size = _checks.check_int_at_least("batch_size", batch_size, 1)
    if target_sample_fn is None:
        if path.sample_fn is None:
            raise ValueError("path has no sample_fn: pass target_sample_fn")
        target_sample_fn = lambda k, n: path.sample_fn(k, 1.0, n)  # noqa: E731
    nodes, weights = _gauss_legendre(num_nodes, jnp.result_type(float))
    lam, rate = _lam_and_rate(path.schedule, nodes)
    coef = weights * (rate / (2.0 * lam)) ** 2  # [num_nodes]

    @jax.jit
    def per_draw(k):
        k_x, k_z = jax.random.split(k)
        x = target_sample_fn(k_x, batch_size)
        z = jax.random.normal(k_z, x.shape, x.dtype)

        def at_node(lam_j, t_j):
            y = jnp.sqrt(lam_j) * x + jnp.sqrt(1.0 - lam_j) * z
            v = y + jax.vmap(path.score_fn, (0, None))(y, t_j)
            return jnp.sum(v * v, -1)  # [batch]

        sq = jax.lax.map(lambda a: at_node(*a), (lam.astype(x.dtype), nodes.astype(x.dtype)))
        return coef.astype(x.dtype) @ sq  # [batch]

    totals = []
    for i in range(-(-num_samples // batch_size)):
        totals.append(np.asarray(per_draw(jax.random.fold_in(key, i)), np.float64))
    g = np.concatenate(totals)[:num_samples]
    return ActionEstimate(float(g.mean()), float(g.std(ddof=1) / math.sqrt(num_samples)),
                          num_samples, num_nodes)


def kl_bound(action_value, kappa, initial_kl=0.0) -> jax.Array:
    """The bias bound ``KL(pi || Law(Y_{1/kappa})) <= initial_kl + kappa A / 4``.

    Holds for the continuous dynamics (not for DALMC's Euler steps), with
    ``initial_kl = KL(mu_0 || Law(Y_0))`` (zero when ``Y_0 ~ mu_0``). Paper 003, Section 2
    (reconstruction: Girsanov between the path-following process and ``Y``, then data
    processing at the final time).

    Args:
      action_value: ``A``.
      kappa: ``kappa > 0`` (total Langevin time ``1 / kappa``).
      initial_kl: ``KL(mu_0 || Law(Y_0))``.
    """
    _checks.check_positive_finite("kappa", kappa)
    _checks.check_nonnegative("action_value", action_value, allow_inf=True)
    _checks.check_nonnegative("initial_kl", initial_kl, allow_inf=True)
    return initial_kl + 0.25 * kappa * jnp.asarray(action_value)


def gaussian_initial_kl(target, schedule: Union[str, AnnealingSchedule, Callable]) -> jax.Array:
    """``KL(mu_0 || N(0, I))``: the bound's initial term when ``Y_0 ~ N(0, I)``.

    Zero when ``lambda_0 = 0``; for OU, ``mu_0 = N(sqrt(lambda_0) m, lambda_0 Sigma +
    (1 - lambda_0) I)`` with ``lambda_0 = exp(-2T)``.
    """
    schedule = get_schedule(schedule)
    mean, sig, _ = _gaussian_spectrum(target)
    lam0 = schedule.lambda_fn(jnp.asarray(0.0, mean.dtype))
    v = lam0 * sig + 1.0 - lam0
    return 0.5 * (lam0 * jnp.sum(mean**2) + jnp.sum(v - 1.0 - jnp.log(v)))


# --------------------------------------------------------------------------------------
# Exact laws for Gaussian targets
# --------------------------------------------------------------------------------------


class GaussianLaw(NamedTuple):
    """``N(mean, covariance)``: the exact law of the annealed dynamics.

    Attributes:
      mean: ``[d]`` (or ``[N, d]`` for a whole trajectory).
      covariance: ``[d, d]`` (or ``[N, d, d]``).
    """

    mean: jax.Array
    covariance: jax.Array


def _initial_in_basis(mean, eigenvectors, initial_mean, initial_covariance):
    d = mean.shape[0]
    m0 = jnp.zeros((d,), mean.dtype) if initial_mean is None else jnp.asarray(initial_mean,
                                                                              mean.dtype)
    c0 = (jnp.eye(d, dtype=mean.dtype) if initial_covariance is None
          else jnp.asarray(initial_covariance, mean.dtype))
    if m0.shape != (d,):
        raise ValueError(f"initial_mean must have shape ({d},), got {m0.shape}")
    if c0.shape != (d, d):
        raise ValueError(f"initial_covariance must have shape ({d}, {d}), got {c0.shape}")
    return eigenvectors.T @ m0, eigenvectors.T @ c0 @ eigenvectors


def _from_basis(eigenvectors, mu, c):
    cov = eigenvectors @ c @ eigenvectors.T
    return GaussianLaw(eigenvectors @ mu, 0.5 * (cov + cov.T))


def default_ode_steps(target, kappa) -> int:
    """RK4 steps used by [`gaussian_annealed_law`][langevin_jax.annealing.gaussian_annealed_law] by default.

    ``max(2000, ceil(8 p_max / kappa))`` with ``p_max = max(1, 1 / sigma_min)``, the largest
    rate of the moment ODEs in path time being ``2 p_max / kappa``: each step times that rate
    is at most ``1/4``, well inside RK4's stability region. Needs concrete inputs.
    """
    _, sig, _ = _gaussian_spectrum(target)
    if not _checks._is_concrete(kappa) or not _checks._is_concrete(sig):
        raise ValueError("num_ode_steps must be given when kappa or the target is traced")
    _checks.check_positive_finite("kappa", kappa)
    p_max = max(1.0, float(1.0 / np.min(np.asarray(sig))))
    return int(max(2000, math.ceil(8.0 * p_max / float(kappa))))


def gaussian_annealed_law(
    target,
    schedule: Union[str, AnnealingSchedule, Callable],
    kappa,
    *,
    num_ode_steps: Optional[int] = None,
    initial_mean: Optional[jax.Array] = None,
    initial_covariance: Optional[jax.Array] = None,
) -> GaussianLaw:
    """Exact law of ``Y_{1/kappa}`` for ``dY = grad log mu_{kappa s}(Y) ds + sqrt(2) dB``.

    For ``pi = N(m, Sigma)`` the law stays Gaussian with, in Langevin time ``s``,

        ``dM/ds = -P_{kappa s} (M - sqrt(lambda_{kappa s}) m)``,
        ``dC/ds = -P C - C P + 2 I``,  ``P_t = (lambda_t Sigma + (1 - lambda_t) I)^{-1}``.

    In ``Sigma``'s eigenbasis every ``P_t`` is diagonal (``p_i = 1 / (1 + lambda (sigma_i -
    1))``), so each entry solves a scalar linear ODE; they are integrated in path time
    ``u = kappa s`` by classical RK4 with ``num_ode_steps`` steps in a ``lax.scan``.

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      kappa: ``> 0``; total Langevin time ``1 / kappa``. Differentiable.
      num_ode_steps: RK4 steps; default [`default_ode_steps`][langevin_jax.annealing.default_ode_steps]. Required when
        ``kappa`` is traced (e.g. under ``jit`` or ``grad``).
      initial_mean: ``[d]``, default 0.
      initial_covariance: ``[d, d]``, default ``I`` (``Y_0 ~ N(0, I)``).

    Returns:
      [`GaussianLaw`][langevin_jax.annealing.GaussianLaw] of ``Y_{1/kappa}``. Compare with the target by
      [`gaussian_bias_kl`][langevin_jax.annealing.gaussian_bias_kl] (``KL(pi || Law(Y))``, the bound's direction).
    """
    schedule = get_schedule(schedule)
    _checks.check_positive_finite("kappa", kappa)
    mean, sig, vecs = _gaussian_spectrum(target)
    if num_ode_steps is None:
        num_ode_steps = default_ode_steps(target, kappa)
    num_ode_steps = _checks.check_int_at_least("num_ode_steps", num_ode_steps, 1)
    mu0, c0 = _initial_in_basis(mean, vecs, initial_mean, initial_covariance)
    return _annealed_law(schedule, num_ode_steps, mean, sig, vecs, mu0, c0,
                         jnp.asarray(kappa, mean.dtype))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _annealed_law(schedule, num_ode_steps, mean, sig, vecs, mu0, c0, kappa):
    dtype = mean.dtype
    m_hat = vecs.T @ mean
    eye = jnp.eye(mean.shape[0], dtype=dtype)
    du = 1.0 / num_ode_steps

    def rhs(u, state):
        mu, c = state
        lam = schedule.lambda_fn(u)
        p = 1.0 / (lam * sig + 1.0 - lam)
        dmu = -p * (mu - jnp.sqrt(lam) * m_hat) / kappa
        dc = (-(p[:, None] + p[None, :]) * c + 2.0 * eye) / kappa
        return dmu, dc

    def rk4(state, k):
        u = k * du
        add = lambda s, ds, a: jax.tree_util.tree_map(lambda x, y: x + a * y, s, ds)  # noqa: E731
        k1 = rhs(u, state)
        k2 = rhs(u + 0.5 * du, add(state, k1, 0.5 * du))
        k3 = rhs(u + 0.5 * du, add(state, k2, 0.5 * du))
        k4 = rhs(u + du, add(state, k3, du))
        new = jax.tree_util.tree_map(
            lambda s, a, b, c_, e: s + (du / 6.0) * (a + 2.0 * b + 2.0 * c_ + e),
            state, k1, k2, k3, k4)
        return new, None

    steps = jnp.arange(num_ode_steps, dtype=dtype)
    (mu, c), _ = jax.lax.scan(rk4, (mu0, c0), steps)
    return _from_basis(vecs, mu, c)


def _check_time_grid(time_grid) -> jax.Array:
    grid = _checks.check_rank("time_grid", time_grid, 1, "[num_steps + 1]")
    if grid.shape[0] < 2:
        raise ValueError(f"time_grid must have at least 2 points, got {grid.shape[0]}")
    if _checks._is_concrete(grid):
        g = np.asarray(grid, np.float64)
        if not np.all(np.isfinite(g)) or np.any(np.diff(g) < 0) or g[0] < 0 or g[-1] > 1 + 1e-6:
            raise ValueError("time_grid must be finite, nondecreasing, within [0, 1]")
    if not jnp.issubdtype(grid.dtype, jnp.floating):
        grid = grid.astype(jnp.result_type(float))
    return grid


def dalmc_step_schedule(time_grid, kappa) -> Tuple[jax.Array, jax.Array]:
    """DALMC's per-step path times and Langevin step sizes from a time grid.

    Step ``k`` evaluates the score at ``t_k`` and moves by ``h_k = (t_{k+1} - t_k) / kappa``.

    Args:
      time_grid: ``[N + 1]`` nondecreasing path times, normally from 0 to 1. A repeated
        point is a step with ``h_k = 0``: a no-op for
        [`gaussian_dalmc_law`][langevin_jax.annealing.gaussian_dalmc_law] (so grids of
        different lengths can be padded to share one compiled function) but rejected by
        [`langevin_jax.run`][langevin_jax.run] for the sampler.
      kappa: ``> 0``.

    Returns:
      ``(times [N], step_sizes [N])``, the pair [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] takes.
    """
    grid = _check_time_grid(time_grid)
    _checks.check_positive_finite("kappa", kappa)
    return grid[:-1], jnp.diff(grid) / jnp.asarray(kappa, grid.dtype)


def gaussian_dalmc_law(
    target,
    schedule: Union[str, AnnealingSchedule, Callable],
    kappa,
    time_grid,
    *,
    initial_mean: Optional[jax.Array] = None,
    initial_covariance: Optional[jax.Array] = None,
    return_trajectory: bool = False,
) -> GaussianLaw:
    """Exact law of DALMC on a Gaussian target (an exact linear recursion, no sampling).

    With ``(t_k, h_k)`` from [`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule], ``P_k =
    (lambda_{t_k} Sigma +
    (1 - lambda_{t_k}) I)^{-1}``:

        ``M_{k+1} = M_k - h_k P_k (M_k - sqrt(lambda_{t_k}) m)``,
        ``C_{k+1} = (I - h_k P_k) C_k (I - h_k P_k) + 2 h_k I``,

    solved entrywise in ``Sigma``'s eigenbasis. The same ``(t_k, h_k)`` drive [`dalmc`][langevin_jax.annealing.dalmc].

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      kappa: ``> 0``.
      time_grid: ``[N + 1]`` path times ([`uniform_time_grid`][langevin_jax.annealing.uniform_time_grid],
        [`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid]).
      initial_mean: ``[d]``, default 0.
      initial_covariance: ``[d, d]``, default ``I``.
      return_trajectory: return the law after every step (``[N, d]``, ``[N, d, d]``).

    Returns:
      [`GaussianLaw`][langevin_jax.annealing.GaussianLaw] after the last step (or after each step).
    """
    schedule = get_schedule(schedule)
    mean, sig, vecs = _gaussian_spectrum(target)
    times, steps = dalmc_step_schedule(jnp.asarray(time_grid, mean.dtype), kappa)
    mu0, c0 = _initial_in_basis(mean, vecs, initial_mean, initial_covariance)
    return _dalmc_law(schedule, bool(return_trajectory), mean, sig, vecs, mu0, c0, times, steps)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _dalmc_law(schedule, return_trajectory, mean, sig, vecs, mu0, c0, times, steps):
    m_hat = vecs.T @ mean
    eye = jnp.eye(mean.shape[0], dtype=mean.dtype)

    def step(state, th):
        mu, c = state
        t, h = th
        lam = schedule.lambda_fn(t)
        p = 1.0 / (lam * sig + 1.0 - lam)
        a = 1.0 - h * p
        mu = mu - h * p * (mu - jnp.sqrt(lam) * m_hat)
        c = a[:, None] * c * a[None, :] + 2.0 * h * eye
        return (mu, c), ((mu, c) if return_trajectory else None)

    (mu, c), traj = jax.lax.scan(step, (mu0, c0), (times, steps))
    if return_trajectory:
        return jax.vmap(lambda a, b: _from_basis(vecs, a, b))(*traj)
    return _from_basis(vecs, mu, c)


def gaussian_bias_kl(target, law: GaussianLaw) -> jax.Array:
    """``KL(pi || law)``: the exact bias in the direction of the bound ``kappa A / 4``.

    ``0.5 [tr(C^{-1} Sigma) + (M - m)^T C^{-1} (M - m) - d + log det C - log det Sigma]``
    for ``pi = N(m, Sigma)`` and ``law = N(M, C)``. (Note the order: the target first.)
    """
    if not isinstance(target, (targets.Gaussian, targets.IsotropicGaussian)):
        raise ValueError(f"target must be a Gaussian, got {type(target).__name__}")
    return _gaussian_kl(target.mean, target.covariance, law.mean, law.covariance)


_gaussian_kl = jax.jit(theory.gaussian_kl)


# --------------------------------------------------------------------------------------
# Time grids and DALMC
# --------------------------------------------------------------------------------------


def uniform_time_grid(num_steps: int, dtype=None) -> jax.Array:
    """``t_k = k / N``, ``k = 0..N``: ``[num_steps + 1]``."""
    num_steps = _checks.check_int_at_least("num_steps", num_steps, 1)
    return jnp.linspace(0.0, 1.0, num_steps + 1, dtype=dtype or jnp.result_type(float))


def adapted_time_grid(speed_fn: Callable[[jax.Array], jax.Array], num_steps: int, *,
                      uniform_fraction: float = 0.5, num_points: int = 4096) -> jax.Array:
    """A time grid denser where the path moves fast (our construction).

    Points are equally spaced in the cumulative density ``rho(t) = (1 - beta) speed(t) /
    int speed + beta`` with ``beta = uniform_fraction``: equal W2 arc length per step when
    ``beta = 0``; the uniform part bounds the largest step by ``1 / (beta N)``, which keeps
    DALMC's Euler steps stable where the path is nearly still.

    Args:
      speed_fn: ``t [n] -> |mu'_t| [n]`` (e.g. [`gaussian_speed_fn`][langevin_jax.annealing.gaussian_speed_fn]),
        evaluated at the
        midpoints of ``num_points`` cells (never at 0 or 1).
      num_steps: ``N``.
      uniform_fraction: ``beta in (0, 1]``.
      num_points: resolution of the cumulative density.

    Returns:
      ``[N + 1]`` times from 0 to 1.
    """
    num_steps = _checks.check_int_at_least("num_steps", num_steps, 1)
    num_points = _checks.check_int_at_least("num_points", num_points, 2)
    if not 0.0 < uniform_fraction <= 1.0:
        raise ValueError(f"uniform_fraction must be in (0, 1], got {uniform_fraction}")
    _checks.check_callable("speed_fn", speed_fn)
    dtype = jnp.result_type(float)
    mid = (jnp.arange(num_points, dtype=dtype) + 0.5) / num_points
    speed = jnp.asarray(speed_fn(mid), dtype)
    if speed.shape != mid.shape:
        raise ValueError(f"speed_fn must map times [n] to speeds [n], got shape {speed.shape}")
    _checks.check_finite_array("speed_fn(t)", speed)
    speed = jnp.maximum(speed, 0.0)
    rho = (1.0 - uniform_fraction) * speed / jnp.maximum(jnp.mean(speed), 1e-30) + uniform_fraction
    cum = jnp.concatenate([jnp.zeros((1,), dtype), jnp.cumsum(rho) / jnp.sum(rho)])
    edges = jnp.linspace(0.0, 1.0, num_points + 1, dtype=dtype)
    grid = jnp.interp(jnp.linspace(0.0, 1.0, num_steps + 1, dtype=dtype), cum, edges)
    return grid.at[0].set(0.0).at[-1].set(1.0)


def gaussian_speed_fn(target, schedule: Union[str, AnnealingSchedule, Callable]):
    """``t -> |mu'_t|`` for a Gaussian target (square root of
    [`gaussian_action_density`][langevin_jax.annealing.gaussian_action_density])."""
    schedule = get_schedule(schedule)
    return lambda t: jnp.sqrt(gaussian_action_density(target, schedule, t))


def dalmc(path: DiffusionPath, kappa, time_grid) -> SamplingAlgorithm:
    """DALMC: the Euler scheme of diffusion annealed Langevin, as a sampler.

    ``Y_{k+1} = Y_k + h_k grad log mu_{t_k}(Y_k) + sqrt(2 h_k) xi_k``,
    ``h_k = (t_{k+1} - t_k) / kappa``: [`langevin_jax.annealed_langevin`][langevin_jax.annealed_langevin] on
    ``path.score_fn`` with the pair from [`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule]. Run it for
    ``len(time_grid) - 1`` steps (one score evaluation per step) from ``Y_0 ~ N(0, I)``.

    Args:
      path: a [`DiffusionPath`][langevin_jax.annealing.DiffusionPath].
      kappa: ``> 0``; total Langevin time ``1 / kappa``.
      time_grid: ``[N + 1]`` path times.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.annealing.SamplingAlgorithm] for [`langevin_jax.run`][langevin_jax.run].
    """
    if not isinstance(path, DiffusionPath):
        raise ValueError(f"path must be a DiffusionPath, got {type(path).__name__}")
    return annealed_langevin(path.score_fn, dalmc_step_schedule(time_grid, kappa))
