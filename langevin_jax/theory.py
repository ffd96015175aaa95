"""Closed forms: divergences between Gaussians and exact ULA laws.

All functions are pure JAX and differentiable in their continuous arguments.
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.types import ArrayLike

__all__ = [
    "gaussian_kl",
    "gaussian_kl_unchecked",
    "gaussian_w2",
    "gaussian_w2_unchecked",
    "sqrtm_psd",
    "ula_gaussian_stationary_variance",
    "ula_gaussian_mean_contraction",
    "ula_gaussian_law",
    "ula_gaussian_law_unchecked",
    "ula_precision_variance",
    "gradient_descent_inverse",
    "gaussian_log_density",
    "LOG_2PI",
]

LOG_2PI = math.log(2.0 * math.pi)


# Maintainers' note: the one Gaussian log-density of the package: targets, mixtures, annealing
# paths and proposals all call it with the parts they compute in their own factorisation.
def gaussian_log_density(mahalanobis_sq: ArrayLike, log_det: ArrayLike, dim: int) -> jax.Array:
    r"""$\log \mathcal{N}(x; m, S) = -\bigl(|x - m|_S^2 + \log\det S + d \log 2\pi\bigr) / 2$ from its
    parts: ``mahalanobis_sq`` $= |x - m|_S^2 = (x - m)^\top S^{-1} (x - m)$, ``log_det``
    $= \log\det S$ and ``dim`` $= d$.

    The caller computes $|x - m|_S^2$ and $\log\det S$ in whatever factorisation it holds
    (Cholesky, eigenbasis, isotropic).
    """
    return -0.5 * (jnp.asarray(mahalanobis_sq) + log_det + dim * LOG_2PI)


def sqrtm_psd(a: jax.Array) -> jax.Array:
    r"""Symmetric square root of a symmetric PSD matrix ``[d, d]`` (eigendecomposition).

    Rounding is forgiven: ``a`` is symmetrised and eigenvalues at rounding level below 0
    (down to $-\max(10^{-6}, 8 d \epsilon) \max_i |\lambda_i|$, $\epsilon$ the machine epsilon of ``a``'s
    dtype) are clipped to 0.

    Raises:
      ValueError: ``a`` not ``[d, d]`` or not real; when concrete, NaN/inf, not symmetric
        beyond float tolerance, or an eigenvalue clearly below 0 (``a`` is not PSD).
    """
    a = jnp.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a must be a square matrix [d, d], got shape {a.shape}")
    _checks.check_real("a", a)
    if _checks.is_concrete(a) and a.size:
        _checks.check_finite_array("a", a)
        _checks.check_symmetric("a", a)
        c = np.asarray(a, np.float64)
        lam = np.linalg.eigvalsh(0.5 * (c + c.T))
        eps = float(jnp.finfo(a.dtype).eps) if jnp.issubdtype(a.dtype, jnp.floating) else 0.0
        floor = -max(1e-6, 8.0 * a.shape[0] * eps) * max(float(np.max(np.abs(lam))), 1e-300)
        if not lam[0] >= floor:
            raise ValueError(f"a must be positive semidefinite, smallest eigenvalue {lam[0]:.3g} "
                             f"(largest {lam[-1]:.3g})")
    a = 0.5 * (a + a.T)
    w, v = jnp.linalg.eigh(a)
    return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T


def _check_pair(mean0: ArrayLike, cov0: ArrayLike, mean1: ArrayLike, cov1: ArrayLike, *,
                cov0_definite: bool) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Two Gaussians of one dimension; ``cov1`` positive definite, ``cov0`` definite or (for
    W2) semidefinite."""
    mean0 = _checks.check_vector("mean0", mean0)
    d = mean0.shape[0]
    mean1 = _checks.check_vector("mean1", mean1, d)
    cov0 = _checks.check_covariance("cov0", cov0, d, definite=cov0_definite)
    cov1 = _checks.check_covariance("cov1", cov1, d, definite=True)
    return mean0, cov0, mean1, cov1


def _check_ula_step(variance, h):
    _checks.check_positive_finite("variance", variance)
    _checks.check_positive_finite("h", h)
    if _checks.is_concrete(variance) and _checks.is_concrete(h):
        if not np.all(np.asarray(h) < 2.0 * np.asarray(variance)):
            raise ValueError(f"h must be < 2 * variance for ULA to be stable on N(m, variance), "
                             f"got h={h}, variance={variance}")


def gaussian_kl(mean0: ArrayLike, cov0: ArrayLike, mean1: ArrayLike, cov1: ArrayLike) -> jax.Array:
    r"""$\mathrm{KL}\bigl(\mathcal{N}(m_0, S_0) \,\|\, \mathcal{N}(m_1, S_1)\bigr)$:

    $$
    \frac{1}{2} \Bigl[\operatorname{tr}(S_1^{-1} S_0) + (m_1 - m_0)^\top S_1^{-1} (m_1 - m_0) - d
    + \log\det S_1 - \log\det S_0\Bigr].
    $$

    Args:
      mean0: ``[d]``, the mean $m_0$ of the first Gaussian.
      cov0: ``[d, d]``, its covariance $S_0$, symmetric positive definite.
      mean1: ``[d]``, the mean $m_1$ of the second Gaussian.
      cov1: ``[d, d]``, its covariance $S_1$, symmetric positive definite.

    Shapes are checked always; finiteness, symmetry and positive definiteness where the
    arguments are concrete (a ``ValueError`` naming the argument).
    """
    mean0, cov0, mean1, cov1 = _check_pair(mean0, cov0, mean1, cov1, cov0_definite=True)
    return gaussian_kl_unchecked(mean0, cov0, mean1, cov1)


def gaussian_kl_unchecked(mean0: jax.Array, cov0: jax.Array, mean1: jax.Array, cov1: jax.Array) -> jax.Array:
    """[`gaussian_kl`][langevin_jax.theory.gaussian_kl] without the input checks, for callers that validated their reference
    and pass a fitted ``cov0`` that may be singular (then the Cholesky gives NaN, which
    [`langevin_jax.metrics.gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl] reports as ``+inf``)."""
    d = mean0.shape[-1]
    l1 = jnp.linalg.cholesky(cov1)
    l0 = jnp.linalg.cholesky(cov0)
    m = jax.scipy.linalg.solve_triangular(l1, l0, lower=True)
    diff = jax.scipy.linalg.solve_triangular(l1, mean1 - mean0, lower=True)
    logdet1 = 2.0 * jnp.sum(jnp.log(jnp.diag(l1)))
    logdet0 = 2.0 * jnp.sum(jnp.log(jnp.diag(l0)))
    return 0.5 * (jnp.sum(m * m) + jnp.dot(diff, diff) - d + logdet1 - logdet0)


def gaussian_w2(mean0: ArrayLike, cov0: ArrayLike, mean1: ArrayLike, cov1: ArrayLike) -> jax.Array:
    r"""Wasserstein-2 distance between Gaussians (Bures-Wasserstein formula).

    For $\mathcal{N}(m_0, S_0)$ (``mean0``, ``cov0``) and $\mathcal{N}(m_1, S_1)$ (``mean1``, ``cov1``),

    $$
    W_2^2 = |m_0 - m_1|^2 + \operatorname{tr} S_0 + \operatorname{tr} S_1
    - 2 \operatorname{tr}\bigl((S_1^{1/2} S_0 S_1^{1/2})^{1/2}\bigr),
    $$

    the trace term from the eigenvalues $b_i$ of $L^\top S_0 L$ with $S_1 = L L^\top$ (Cholesky): the
    same as those of $S_1^{1/2} S_0 S_1^{1/2}$, and using no eigenvectors keeps ``jax.grad`` finite when
    eigenvalues repeat. Returns $W_2$ (not squared); use ``gaussian_w2(...)**2`` for the
    squared distance. ``cov0`` symmetric positive semidefinite, ``cov1`` positive definite
    (checked where concrete).
    """
    mean0, cov0, mean1, cov1 = _check_pair(mean0, cov0, mean1, cov1, cov0_definite=False)
    return gaussian_w2_unchecked(mean0, cov0, mean1, cov1)


def gaussian_w2_unchecked(mean0: jax.Array, cov0: jax.Array, mean1: jax.Array, cov1: jax.Array) -> jax.Array:
    """[`gaussian_w2`][langevin_jax.theory.gaussian_w2] without the input checks, for callers
    that validated them; a non-finite ``cov0`` (e.g. a diverged sampler's) gives ``+inf``."""
    finite = jnp.all(jnp.isfinite(cov0))
    c = jnp.where(finite, cov0, jnp.eye(cov0.shape[0], dtype=cov0.dtype))
    chol = jnp.linalg.cholesky(0.5 * (cov1 + cov1.T))
    b = jnp.linalg.eigvalsh(chol.T @ c @ chol)
    w2sq = (jnp.sum((mean0 - mean1) ** 2) + jnp.trace(cov1) + jnp.trace(c)
            - 2.0 * jnp.sum(jnp.sqrt(jnp.clip(b, 0.0))))
    w2sq = jnp.clip(w2sq, 0.0)
    safe = jnp.where(w2sq > 0, w2sq, 1.0)
    return jnp.where(finite, jnp.where(w2sq > 0, jnp.sqrt(safe), 0.0), jnp.inf)


def ula_gaussian_stationary_variance(variance: ArrayLike, h: ArrayLike) -> jax.Array:
    r"""Stationary variance of ULA on $\mathcal{N}(m, \lambda)$ per eigen-direction ($\lambda$ = ``variance``).

    The chain $x' = x - (h/\lambda)(x - m) + \sqrt{2h}\, \xi$ is an AR(1) process with
    stationary variance

    $$
    \frac{2h}{1 - (1 - h/\lambda)^2} = \frac{\lambda}{1 - h / (2 \lambda)},
    $$

    which exists iff $0 < h < 2 \lambda$ (checked where concrete).
    """
    _check_ula_step(variance, h)
    return _stationary_variance(variance, h)


def _stationary_variance(variance, h):
    return variance / (1.0 - h / (2.0 * variance))


def ula_gaussian_mean_contraction(variance: ArrayLike, h: ArrayLike) -> jax.Array:
    r"""Per-step contraction $1 - h / \lambda$ of ULA's mean error on $\mathcal{N}(m, \lambda)$
    ($\lambda$ = ``variance``)."""
    _checks.check_positive_finite("variance", variance)
    _checks.check_positive_finite("h", h)
    return 1.0 - jnp.asarray(h) / jnp.asarray(variance)


def ula_gaussian_law(mean: ArrayLike, variance: ArrayLike, h: ArrayLike, num_steps: int,
                     initial_mean: ArrayLike = 0.0,
                     initial_variance: ArrayLike = 1.0) -> tuple[jax.Array, jax.Array]:
    r"""Exact law of ULA after ``num_steps`` steps on $\mathcal{N}(m, \lambda)$ (``mean``, ``variance``),
    per eigen-direction.

    The chain is the AR(1) recursion $x' = (1 - h / \lambda) x + (h / \lambda) m + \sqrt{2h}\, \xi$,
    so with $\rho = 1 - h / \lambda$ and the stationary variance $v_\infty$
    ([`ula_gaussian_stationary_variance`][langevin_jax.theory.ula_gaussian_stationary_variance]),
    from $\mathcal{N}(m_0, v_0)$ (``initial_mean``, ``initial_variance``):

    $$
    \mathbb{E}\, x_k = m + \rho^k (m_0 - m), \qquad
    \operatorname{Var} x_k = v_\infty + \rho^{2k} (v_0 - v_\infty).
    $$

    Elementwise in all arguments (pass the eigenvalues of a covariance as ``variance``);
    differentiable; $0 < h < 2 \lambda$ checked where concrete.

    Returns:
      ``(mean_k, variance_k)``.
    """
    _check_ula_step(variance, h)
    return ula_gaussian_law_unchecked(mean, variance, h, num_steps, initial_mean, initial_variance)


# Maintainers' note: the one implementation of ULA's Gaussian law (`ula_gaussian_law` checks and
# calls it; the masked sweeps call it directly).
def ula_gaussian_law_unchecked(mean: ArrayLike, variance: ArrayLike, h: ArrayLike, num_steps: int,
                               initial_mean: ArrayLike = 0.0,
                               initial_variance: ArrayLike = 1.0) -> tuple[jax.Array, jax.Array]:
    r"""[`ula_gaussian_law`][langevin_jax.theory.ula_gaussian_law] without the check $0 < h < 2 \lambda$:
    for arguments that are traced or padded (as in the masked sweeps of ``langevin_jax.sweeps``,
    whose padded eigenvalues are 1).

    $\operatorname{Var} x_k = \rho^{2k} v_0 + c_k$ with $c_k$ the variance from a point start,
    [`ula_precision_variance`][langevin_jax.theory.ula_precision_variance] at $a = 1 / \lambda$
    ($v_\infty (1 - \rho^{2k})$ without its cancellation at small $h / \lambda$)."""
    mean, variance = jnp.asarray(mean), jnp.asarray(variance)
    initial_mean, initial_variance = jnp.asarray(initial_mean), jnp.asarray(initial_variance)
    rho = 1.0 - jnp.asarray(h) / variance
    decay = rho ** num_steps
    from_point = ula_precision_variance(1.0 / variance, h, num_steps)
    return mean + decay * (initial_mean - mean), decay**2 * initial_variance + from_point


def _one_minus_pow(x: jax.Array, k) -> jax.Array:
    """$1 - (1 + x)^k$, accurate for small $x$ (expm1/log1p) and grad-safe."""
    near = x > -0.5
    x_near = jnp.where(near, x, 0.0)
    via_log = -jnp.expm1(k * jnp.log1p(x_near))
    x_far = jnp.where(near, -1.0, x)
    power = jax.lax.integer_pow(1.0 + x_far, k) if isinstance(k, int) else (1.0 + x_far) ** k
    return jnp.where(near, via_log, 1.0 - power)


def ula_precision_variance(precision: ArrayLike, h: ArrayLike, num_steps: Optional[int] = None) -> jax.Array:
    r"""Variance of ULA from a point start along a direction of precision $a$ (the score is
    $-a x$ there): the AR(1) law of [`ula_gaussian_law`][langevin_jax.theory.ula_gaussian_law]
    with $\lambda = 1 / a$ and $v_0 = 0$, written for any real $a$ (e.g. an eigenvalue of a
    learned score matrix, which need not be a stable one).

    $c_\infty = 1 / \bigl(a (1 - h a / 2)\bigr)$ ($+\infty$ unless $0 < h a < 2$) and, after $k$ steps,

    $$
    c_k = 2 h \sum_{j<k} (1 - h a)^{2j} = \frac{2 h (1 - r^k)}{1 - r}, \qquad r = (1 - h a)^2,
    $$

    computed with ``expm1``/``log1p`` (accurate for small $h a$; $2 h k$ at $r = 1$).
    Elementwise; differentiable; any real $a$ (traced and padded inputs welcome).

    Args:
      precision: $a$, any real array.
      h: the step size $h > 0$.
      num_steps: $k$, an int ``>= 0`` (``None``: the stationary $c_\infty$).

    Raises:
      ValueError: a complex ``precision``, ``h`` not positive and finite, ``num_steps`` not
        an int ``>= 0`` (values where concrete).
    """
    _checks.check_real("precision", precision)
    _checks.check_positive_finite("h", h)
    if num_steps is not None and _checks.is_concrete(num_steps):  # a traced count is allowed too
        k = np.asarray(num_steps)
        if isinstance(num_steps, bool) or k.ndim or not np.issubdtype(k.dtype, np.integer) or k < 0:
            raise ValueError(f"num_steps must be an int >= 0 (or None), got {num_steps!r}")
    a = jnp.asarray(precision)
    x = h * a
    if num_steps is None:
        stable = (x > 0) & (x < 2)
        denom = jnp.where(stable, a * (1.0 - 0.5 * x), 1.0)
        return jnp.where(stable, 1.0 / denom, jnp.inf)
    r_minus_1 = x * (x - 2.0)  # r - 1 = (1 - x)^2 - 1
    degenerate = r_minus_1 == 0
    safe = jnp.where(degenerate, -1.0, r_minus_1)
    return jnp.where(degenerate, 2.0 * h * num_steps, 2.0 * h * _one_minus_pow(safe, num_steps) / (-safe))


def gradient_descent_inverse(m: ArrayLike, gamma: Optional[ArrayLike] = None,
                             num_steps: Optional[int] = None) -> jax.Array:
    r"""$1 / m$ as reached by gradient descent: $K$ = ``num_steps`` steps of size $\gamma$ (``gamma``)
    from 0 on $a \mapsto m a^2 / 2 - a$.

    $$
    a_K = \frac{1 - (1 - \gamma m)^K}{m} = \gamma \sum_{j<K} (1 - \gamma m)^j
    $$

    ($\gamma K$ at $m = 0$, where the descent is linear in $K$), computed with ``expm1``/``log1p``
    (accurate for small $\gamma m$); ``num_steps=None`` gives the minimiser $1 / m$. Elementwise
    and differentiable; no validation (``gamma`` is needed when ``num_steps`` is given). The
    eigenvalue of the score learned by DSM in paper 2 is this at $m = \mu + \sigma^2$
    ([`langevin_jax.gaussian_dsm.dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue]).
    """
    m = jnp.asarray(m)
    if num_steps is None:
        return 1.0 / m
    if gamma is None:
        raise ValueError(f"gamma (the gradient step) is required with num_steps={num_steps}")
    zero = m == 0
    safe = jnp.where(zero, 1.0, m)
    return jnp.where(zero, gamma * num_steps, _one_minus_pow(-jnp.asarray(gamma) * safe, num_steps) / safe)
