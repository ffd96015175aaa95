r"""Exact laws of the annealed dynamics and of DALMC for a Gaussian target (paper 3: the
objects its bias bound is about, computed here without sampling; the formulas are our
reconstruction). For $\pi = \mathcal{N}(m, \Sigma)$ the law of $Y$ stays Gaussian: with
$P_t = (\lambda_t \Sigma + (1 - \lambda_t) I)^{-1}$ and $m_t = \sqrt{\lambda_t}\, m$, the
continuous dynamics solve $dM/ds = -P (M - m_t)$, $dC/ds = -P C - C P + 2 I$
([`gaussian_annealed_law`][langevin_jax.annealing.gaussian_annealed_law], by RK4) and DALMC
follows $M' = M - h P (M - m_t)$, $C' = (I - h P) C (I - h P) + 2 h I$ exactly
([`gaussian_dalmc_law`][langevin_jax.annealing.gaussian_dalmc_law]). All $P_t$ share
$\Sigma$'s eigenvectors, so both are solved entry by entry in that eigenbasis, and
[`gaussian_bias_kl`][langevin_jax.annealing.gaussian_bias_kl] gives $\mathrm{KL}(\pi \,\|\, \text{law})$, the
bound's direction.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, targets, theory
from langevin_jax.annealing._gaussian import gaussian_spectrum
from langevin_jax.annealing.schedules import AnnealingSchedule, get_schedule
from langevin_jax.samplers.dalmc import dalmc_step_schedule
from langevin_jax.types import ArrayLike

__all__ = [
    "GaussianLaw",
    "gaussian_annealed_law",
    "default_ode_steps",
    "gaussian_dalmc_law",
    "gaussian_bias_kl",
]


class GaussianLaw(NamedTuple):
    r"""$\mathcal{N}(\text{mean}, \text{covariance})$: the exact law of the annealed dynamics.

    Attributes:
      mean: ``[d]`` (or ``[N, d]`` for a whole trajectory).
      covariance: ``[d, d]`` (or ``[N, d, d]``).
    """

    mean: jax.Array
    covariance: jax.Array


def _initial_in_basis(mean, eigenvectors, initial_mean, initial_covariance):
    """The initial law in the target's eigenbasis: ``initial_mean`` a finite ``[d]`` vector,
    ``initial_covariance`` a symmetric positive semidefinite ``[d, d]`` matrix (``0``, a
    deterministic start, is one), checked (values when concrete) before it is used."""
    d = mean.shape[0]
    if initial_mean is None:
        m0 = jnp.zeros((d,), mean.dtype)
    else:
        m0 = _checks.check_vector("initial_mean", initial_mean, d).astype(mean.dtype)
    if initial_covariance is None:
        c0 = jnp.eye(d, dtype=mean.dtype)
    else:
        c0 = _checks.check_covariance("initial_covariance", initial_covariance, d,
                                      definite=False).astype(mean.dtype)
    return eigenvectors.T @ m0, eigenvectors.T @ c0 @ eigenvectors


def _from_basis(eigenvectors, mu, c):
    cov = eigenvectors @ c @ eigenvectors.T
    return GaussianLaw(eigenvectors @ mu, 0.5 * (cov + cov.T))


def default_ode_steps(target, kappa: ArrayLike) -> int:
    r"""RK4 steps used by [`gaussian_annealed_law`][langevin_jax.annealing.gaussian_annealed_law] by default.

    $\max\bigl(2000, \lceil 8 p_\text{max} / \kappa \rceil\bigr)$ with $p_\text{max} = \max(1, 1 / \sigma_\text{min})$
    ($\sigma_\text{min}$ the smallest eigenvalue of the target's covariance), the largest
    rate of the moment ODEs in path time being $2 p_\text{max} / \kappa$: each step times that rate
    is at most $1/4$, well inside RK4's stability region. Needs concrete inputs.
    """
    _, sig, _ = gaussian_spectrum(target)
    if not _checks.is_concrete(kappa) or not _checks.is_concrete(sig):
        raise ValueError("num_ode_steps must be given when kappa or the target is traced")
    _checks.check_positive_finite("kappa", kappa)
    p_max = max(1.0, float(1.0 / np.min(np.asarray(sig))))
    return int(max(2000, math.ceil(8.0 * p_max / float(np.asarray(kappa)))))


def gaussian_annealed_law(
    target,
    schedule: Union[str, AnnealingSchedule, Callable],
    kappa: ArrayLike,
    *,
    num_ode_steps: Optional[int] = None,
    initial_mean: Optional[ArrayLike] = None,
    initial_covariance: Optional[ArrayLike] = None,
) -> GaussianLaw:
    r"""Exact law of $Y_{1/\kappa}$ for $dY = \nabla \log \mu_{\kappa s}(Y)\, ds + \sqrt{2}\, dB$.

    For $\pi = \mathcal{N}(m, \Sigma)$ the law stays Gaussian with, in Langevin time $s$,

    $$
    \frac{dM}{ds} = -P_{\kappa s} \bigl(M - \sqrt{\lambda_{\kappa s}}\, m\bigr), \qquad
    \frac{dC}{ds} = -P C - C P + 2 I, \qquad
    P_t = \bigl(\lambda_t \Sigma + (1 - \lambda_t) I\bigr)^{-1}.
    $$

    In $\Sigma$'s eigenbasis every $P_t$ is diagonal ($p_i = 1 / \bigl(1 + \lambda (\sigma_i - 1)\bigr)$,
    $\sigma_i$ the eigenvalues of $\Sigma$), so each entry solves a scalar linear ODE; they are integrated
    in path time $u = \kappa s$ by classical RK4 with ``num_ode_steps`` steps in a ``lax.scan``.

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      kappa: $\kappa > 0$; total Langevin time $1 / \kappa$. Differentiable.
      num_ode_steps: RK4 steps; default [`default_ode_steps`][langevin_jax.annealing.default_ode_steps]. Required when
        ``kappa`` is traced (e.g. under ``jit`` or ``grad``).
      initial_mean: ``[d]``, default 0.
      initial_covariance: ``[d, d]`` symmetric positive semidefinite, default $I$
        ($Y_0 \sim \mathcal{N}(0, I)$).

    Returns:
      [`GaussianLaw`][langevin_jax.annealing.GaussianLaw] of $Y_{1/\kappa}$. Compare with the target by
      [`gaussian_bias_kl`][langevin_jax.annealing.gaussian_bias_kl] ($\mathrm{KL}(\pi \,\|\, \mathrm{Law}(Y))$,
      the bound's direction).
    """
    schedule = get_schedule(schedule)
    _checks.check_positive_finite("kappa", kappa)
    mean, sig, vecs = gaussian_spectrum(target)
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
        lam = schedule.lam(u)
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


def gaussian_dalmc_law(
    target,
    schedule: Union[str, AnnealingSchedule, Callable],
    kappa: ArrayLike,
    time_grid: ArrayLike,
    *,
    initial_mean: Optional[ArrayLike] = None,
    initial_covariance: Optional[ArrayLike] = None,
    return_trajectory: bool = False,
) -> GaussianLaw:
    r"""Exact law of DALMC on a Gaussian target (an exact linear recursion, no sampling).

    With $(t_k, h_k)$ from [`dalmc_step_schedule`][langevin_jax.annealing.dalmc_step_schedule] and
    $P_k = \bigl(\lambda_{t_k} \Sigma + (1 - \lambda_{t_k}) I\bigr)^{-1}$:

    $$
    \begin{aligned}
    M_{k+1} &= M_k - h_k P_k \bigl(M_k - \sqrt{\lambda_{t_k}}\, m\bigr), \\
    C_{k+1} &= (I - h_k P_k)\, C_k\, (I - h_k P_k) + 2 h_k I,
    \end{aligned}
    $$

    solved entrywise in $\Sigma$'s eigenbasis. The same $(t_k, h_k)$ drive [`dalmc`][langevin_jax.annealing.dalmc].

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      kappa: $\kappa > 0$.
      time_grid: ``[N + 1]`` path times ([`uniform_time_grid`][langevin_jax.annealing.uniform_time_grid],
        [`adapted_time_grid`][langevin_jax.annealing.adapted_time_grid]).
      initial_mean: ``[d]``, default 0.
      initial_covariance: ``[d, d]`` symmetric positive semidefinite, default $I$.
      return_trajectory: return the law after every step (``[N, d]``, ``[N, d, d]``).

    Returns:
      [`GaussianLaw`][langevin_jax.annealing.GaussianLaw] after the last step (or after each step).
    """
    schedule = get_schedule(schedule)
    mean, sig, vecs = gaussian_spectrum(target)
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
        lam = schedule.lam(t)
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
    r"""$\mathrm{KL}(\pi \,\|\, \text{law})$: the exact bias in the direction of the bound $\kappa A / 4$.

    $$
    \frac{1}{2} \Bigl[\operatorname{tr}(C^{-1} \Sigma) + (M - m)^\top C^{-1} (M - m) - d + \log\det C
    - \log\det \Sigma\Bigr]
    $$

    for $\pi = \mathcal{N}(m, \Sigma)$ and $\text{law} = \mathcal{N}(M, C)$. (Note the order: the target first.)
    """
    if not isinstance(target, (targets.Gaussian, targets.IsotropicGaussian)):
        raise ValueError(f"target must be a Gaussian, got {type(target).__name__}")
    return _gaussian_kl(target.mean, target.covariance, law.mean, law.covariance)


_gaussian_kl = jax.jit(theory.gaussian_kl)
