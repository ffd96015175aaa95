r"""Closed forms: divergences between Gaussians, exact ULA laws, Gaussian ball probabilities and
Ornstein-Uhlenbeck exit times.

The Gaussian divergences and ULA laws are pure JAX and differentiable in their continuous
arguments. The ball probabilities ([`gaussian_ball_log_probability`][langevin_jax.theory.gaussian_ball_log_probability]
and the union bounds after it) and the exit times of an Ornstein-Uhlenbeck process from a ball
([`ou_exit_time_mean`][langevin_jax.theory.ou_exit_time_mean] and its relatives) are host-side
float64 NumPy/SciPy computations returning Python floats: they are neither traceable (no
``jit``, ``vmap`` or ``grad``) nor differentiable, and they return logarithms where the numbers
leave the float64 range ($\pi(A) = 10^{-1000}$, exit times $e^{1000}$).
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

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
    "gaussian_ball_log_probability",
    "gaussian_balls_log_probability_bound",
    "gaussian_mixture_balls_log_probability_bound",
    "ou_exit_time_mean",
    "ou_exit_time_log_mean",
    "ou_exit_time_arrhenius",
    "ou_exit_growth_rate",
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


# --------------------------------------------------------------------------- host-side float64:
# ball probabilities under Gaussians (pi(A) of the TV lower bounds) and OU exit times (the trap
# of paper 1). NumPy/SciPy in float64, not traceable; logs wherever float64 would underflow.

# below this a regularized gamma or a SciPy non-central chi-square cdf is recomputed by a series
# summed in log space (both are relative-accurate well above the float64 underflow at 1e-308)
_TINY = 1e-280
# rows x Poisson terms per block of the non-central chi-square mixture (memory ~ 8 arrays of this)
_BLOCK_ENTRIES = 1 << 20
# coarse points locating the window of the Poisson mixture's terms
_COARSE = 257


def _host_scalar(name: str, value, *, lower: float = 0.0, strict: bool = True, allow_inf: bool = False) -> float:
    """A real scalar as a Python float, ``> lower`` (``>= lower`` unless ``strict``), finite unless
    ``allow_inf``; a ``ValueError`` naming ``name`` otherwise."""
    _checks.check_real(name, value)
    arr = np.asarray(value, np.float64)
    if arr.ndim:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    v = float(arr)
    if math.isnan(v) or (not allow_inf and math.isinf(v)):
        raise ValueError(f"{name} must be {'not NaN' if allow_inf else 'finite'}, got {value!r}")
    if not (v > lower if strict else v >= lower):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {lower:g}, got {value!r}")
    return v


def _host_array(name: str, value, ranks: tuple[int, ...], what: str) -> np.ndarray:
    """A finite real float64 array of one of ``ranks`` with no zero-length axis."""
    _checks.check_real(name, value)
    arr = np.asarray(value, np.float64)
    if arr.ndim not in ranks:
        raise ValueError(f"{name} must have shape {what}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _host_dim(name: str, value) -> int:
    return _checks.check_int_at_least(name, value, 1)


def _log_gammainc(a: ArrayLike, x: ArrayLike) -> np.ndarray:
    r"""$\log P(a, x)$, the log of the regularized lower incomplete gamma function, elementwise,
    finite down to any $P$ (not only above the float64 underflow).

    ``gammainc`` where it is above ``_TINY`` (via $\log(1 - Q)$ above $1/2$); below, where
    necessarily $x < a$, the series $P(a, x) = \frac{x^a e^{-x}}{\Gamma(a + 1)} \sum_{k \ge 0}
    \prod_{i=1}^{k} \frac{x}{a + i}$, whose terms fall at least geometrically (ratio
    $q_k = x / (a + k)$), summed until the geometric bound $t_k q_{k+1} / (1 - q_{k+1})$ on the
    remainder is below $10^{-17}$ of the sum, then added (so a truncated sum errs upwards).
    $x = 0$ gives $-\infty$."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.empty(a.shape)
    with np.errstate(divide="ignore"):
        p = special.gammainc(a, x)
        high = p > 0.5
        out[high] = np.log1p(-special.gammaincc(a[high], x[high]))
        mid = ~high & (p > _TINY)
        out[mid] = np.log(p[mid])
    low = ~(high | mid)
    if np.any(low):
        al, xl = a[low], x[low]
        with np.errstate(divide="ignore"):
            res = np.log(p[low])  # kept only where the series does not apply (x = 0: -inf)
        pos = (xl > 0) & (xl < al)
        al, xl = al[pos], xl[pos]
        total, term = np.ones_like(al), np.ones_like(al)
        active = np.ones(al.shape, bool)
        k = 0
        while True:
            ratio = xl / (al + k + 1)  # the next term's ratio, < 1 and falling
            rest = term * ratio / (1.0 - ratio)  # bounds the sum of all later terms
            active = rest > 1e-17 * total
            if not np.any(active) or k >= 100_000:
                break
            k += 1
            term = np.where(active, term * ratio, term)
            total += np.where(active, term, 0.0)
        total += rest  # negligible when converged; an upper bound on the remainder otherwise
        res[pos] = special.xlogy(al, xl) - xl - special.gammaln(al + 1.0) + np.log(total)
        out[low] = res
    return out


def _poisson_log_terms(j: np.ndarray, x: np.ndarray, half_nc: np.ndarray, df: float) -> np.ndarray:
    r"""``[rows, m]`` terms $\log w_j + \log P(k/2 + j, x/2)$ of the Poisson mixture at ``j``."""
    log_w = special.xlogy(j, half_nc[:, None]) - half_nc[:, None] - special.gammaln(j + 1.0)
    return log_w + _log_gammainc(0.5 * df + j, np.broadcast_to(0.5 * x[:, None], j.shape))


def _log_ncx2_poisson(x: np.ndarray, df: float, nc: np.ndarray) -> np.ndarray:
    r"""$\log F(x; k, \lambda)$ of the non-central $\chi^2_k(\lambda)$ from its Poisson mixture
    $F = \sum_j w_j P(k/2 + j, x/2)$, $w_j = e^{-\lambda/2} \frac{(\lambda/2)^j}{j!}$, summed in log
    space (logsumexp).

    The terms are unimodal in $j$. Per row, $J = \lambda/2 + 12 \sqrt{\lambda/2} + 40$ (past the
    Poisson bulk, where both factors fall) is doubled until the term at $J$ is $e^{-40}$ below the
    largest (the rest then being negligible); 257 coarse points on $[0, J]$ locate the window
    where the terms are within $e^{-50}$ of the largest, widened by one coarse step each side,
    and every term of that window is summed."""
    out = np.empty(x.shape)
    if x.size == 0:
        return out
    half = 0.5 * nc
    last = np.ceil(half + 12.0 * np.sqrt(half) + 40.0)
    lo, hi = np.empty(x.shape), np.empty(x.shape)
    todo = np.arange(x.shape[0])
    coarse = np.linspace(0.0, 1.0, _COARSE)
    rows_per = max(1, _BLOCK_ENTRIES // _COARSE)
    while todo.size:
        grow = []
        for s in range(0, todo.size, rows_per):
            idx = todo[s:s + rows_per]
            grid = np.rint(coarse[None, :] * last[idx, None])
            f = _poisson_log_terms(grid, x[idx], half[idx], df)
            peak = np.max(f, axis=1, keepdims=True)
            near = f > peak - 50.0
            first = np.argmax(near, axis=1)
            final = _COARSE - 1 - np.argmax(near[:, ::-1], axis=1)
            rows = np.arange(idx.size)
            lo[idx] = grid[rows, np.maximum(first - 1, 0)]
            hi[idx] = grid[rows, np.minimum(final + 1, _COARSE - 1)]
            short = (f[:, -1] >= peak[:, 0] - 40.0) & np.isfinite(peak[:, 0]) & (last[idx] < 1e15)
            grow.append(idx[short])
        todo = np.concatenate(grow)
        last[todo] *= 2.0
    width = (hi - lo + 1.0).astype(np.int64)
    order = np.argsort(width)
    start = 0
    while start < order.size:  # rows sorted by width, as many as fit _BLOCK_ENTRIES at a time
        stop = start + 1
        while stop < order.size and (stop + 1 - start) * width[order[stop]] <= _BLOCK_ENTRIES:
            stop += 1
        idx = order[start:stop]
        j = lo[idx, None] + np.arange(int(width[idx].max()))[None, :]
        valid = j <= hi[idx, None]
        f = _poisson_log_terms(np.where(valid, j, lo[idx, None]), x[idx], half[idx], df)
        out[idx] = special.logsumexp(np.where(valid, f, -np.inf), axis=1)
        start = stop
    return out


def _log_ncx2_cdf(x, df: float, nc) -> np.ndarray:
    r"""$\log P(\chi^2_k(\lambda) \le x)$ elementwise in ``x`` and ``nc`` ($k$ = ``df``), finite
    however small: SciPy's cdf (Boost's, relative-accurate) where it is above ``_TINY``, $\log(1 -
    \text{sf})$ above $1/2$, the chi-square's $\log P(k/2, x/2)$ at $\lambda = 0$, and the Poisson
    mixture in log space below ``_TINY``."""
    x, nc = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(nc, np.float64))
    shape = x.shape
    x, nc = x.ravel(), nc.ravel()
    out = np.full(x.shape, -np.inf)
    central = nc == 0
    if np.any(central):
        out[central] = _log_gammainc(0.5 * df, 0.5 * x[central])
    rest = ~central & (x > 0) & np.isfinite(nc)
    if np.any(rest):
        xr, nr = x[rest], nc[rest]
        res = np.empty(xr.shape)
        cdf = stats.ncx2.cdf(xr, df, nr)
        high = cdf > 0.5
        with np.errstate(divide="ignore"):
            res[high] = np.log1p(-stats.ncx2.sf(xr[high], df, nr[high]))
            mid = ~high & (cdf > _TINY)
            res[mid] = np.log(cdf[mid])
        low = ~(high | mid)
        res[low] = _log_ncx2_poisson(xr[low], df, nr[low])
        out[rest] = res
    return out.reshape(shape)


def gaussian_ball_log_probability(center: ArrayLike, radius: float, mean: ArrayLike, scale: float = 1.0) -> float:
    r"""$\log P(|X - c| \le r)$ for $X \sim \mathcal{N}(m, s^2 I_d)$, exactly.

    $|X - c|^2 / s^2$ is non-central chi-square with $d$ degrees of freedom and non-centrality
    $\lambda = |m - c|^2 / s^2$, so the probability is its cdf at $r^2 / s^2$ (the chi-square's at
    $\lambda = 0$). Tiny probabilities come back as finite logarithms, not $-\infty$: below
    $10^{-280}$ the cdf is summed in log space from its Poisson mixture
    $\sum_j e^{-\lambda/2} \frac{(\lambda/2)^j}{j!} P(d/2 + j, r^2 / (2 s^2))$ ($P$ the regularized
    lower incomplete gamma function, itself from its power series in log space there). Host-side
    float64 NumPy/SciPy: not traceable, not differentiable.

    Args:
      center: ``[d]``, the ball's centre $c$.
      radius: its radius $r > 0$.
      mean: ``[d]``, the Gaussian's mean $m$.
      scale: its standard deviation $s > 0$ per coordinate.

    Returns:
      The log probability, a float $\le 0$.

    Raises:
      ValueError: ``center`` or ``mean`` not a finite real ``[d]`` vector (or of different
        ``d``), ``radius`` or ``scale`` not finite and $> 0$.

    Examples:
      >>> import math
      >>> from langevin_jax import theory
      >>> round(math.exp(theory.gaussian_ball_log_probability([0.0], 1.0, [0.0])), 4)  # P(|Z| <= 1)
      0.6827
    """
    center = _host_array("center", center, (1,), "[d]")
    mean = _host_array("mean", mean, (1,), "[d]")
    if mean.shape != center.shape:
        raise ValueError(f"mean must have the shape of center {center.shape}, got {mean.shape}")
    radius = _host_scalar("radius", radius)
    scale = _host_scalar("scale", scale)
    return float(_ball_log_probabilities(center[None, :], radius, mean, scale)[0])


def _ball_log_probabilities(centers: np.ndarray, radius: float, mean: np.ndarray, scale: float,
                            lambda_min: Optional[float] = None, nc: Optional[np.ndarray] = None) -> np.ndarray:
    """``[n]`` log probabilities of the balls ``B(c_i, radius)`` (``nc``: the non-centralities
    when already known, with ``lambda_min`` the variance they are measured in)."""
    d = centers.shape[1]
    if nc is None or lambda_min is None:
        diff = (centers - mean[None, :]) / scale
        nc = np.einsum("ij,ij->i", diff, diff)
        lambda_min = scale * scale
    with np.errstate(over="ignore"):
        x = radius * radius / lambda_min
    return _log_ncx2_cdf(np.full(nc.shape, x), float(d), nc)


def _centers_matrix(centers) -> np.ndarray:
    arr = _host_array("centers", centers, (1, 2), "[n, d] or [d]")
    return arr[None, :] if arr.ndim == 1 else arr


def gaussian_balls_log_probability_bound(centers: ArrayLike, radius: float, mean: ArrayLike,
                                         scale: float = 1.0) -> float:
    r"""Union bound on the log probability of a union of balls under $\mathcal{N}(m, s^2 I_d)$:

    $$
    \log \pi\Bigl(\bigcup_i B(c_i, r)\Bigr) \le \log \min\Bigl(1, \sum_i \pi\bigl(B(c_i, r)\bigr)\Bigr),
    $$

    each term exact
    ([`gaussian_ball_log_probability`][langevin_jax.theory.gaussian_ball_log_probability]), the
    sum taken in log space (finite however small). The $\pi(A)$ of a memorisation set (balls
    around the training points) for
    [`langevin_jax.metrics.ball_tv_lower_bound`][langevin_jax.metrics.ball_tv_lower_bound]; an
    upper bound on $\pi(A)$ keeps that TV bound valid. Vectorised over the centres (thousands
    are fine). Host-side float64 NumPy/SciPy: not traceable.

    Args:
      centers: ``[n, d]`` (or one ``[d]``), the centres $c_i$.
      radius: the common radius $r > 0$.
      mean: ``[d]``, the Gaussian's mean $m$.
      scale: its standard deviation $s > 0$ per coordinate.

    Returns:
      The log of the bound, a float $\le 0$.

    Raises:
      ValueError: ``centers`` or ``mean`` not finite real arrays of those shapes (or of
        different ``d``), ``radius`` or ``scale`` not finite and $> 0$.
    """
    centers = _centers_matrix(centers)
    mean = _host_array("mean", mean, (1,), "[d]")
    if mean.shape[0] != centers.shape[1]:
        raise ValueError(f"mean must have shape ({centers.shape[1]},) (the d of centers), got {mean.shape}")
    radius = _host_scalar("radius", radius)
    scale = _host_scalar("scale", scale)
    logs = _ball_log_probabilities(centers, radius, mean, scale)
    return float(min(0.0, special.logsumexp(logs)))


def gaussian_mixture_balls_log_probability_bound(centers: ArrayLike, radius: float, weights: ArrayLike,
                                                 means: ArrayLike, covariances: ArrayLike) -> float:
    r"""Upper bound on $\log \pi\bigl(\bigcup_i B(c_i, r)\bigr)$ for a Gaussian mixture
    $\pi = \sum_k w_k \mathcal{N}(m_k, C_k)$:

    $$
    \pi\Bigl(\bigcup_i B(c_i, r)\Bigr) \le \sum_k w_k \min\Bigl(1, \sum_i b_{ik}\Bigr), \qquad
    b_{ik} = P\Bigl(\chi^2_d\bigl(|C_k^{-1/2}(m_k - c_i)|^2\bigr) \le r^2 / \lambda_{\min}(C_k)\Bigr).
    $$

    $b_{ik}$ bounds $P(|X - c_i| \le r)$ for $X \sim \mathcal{N}(m_k, C_k)$: with
    $W = C_k^{-1/2}(X - c_i) \sim \mathcal{N}(C_k^{-1/2}(m_k - c_i), I)$, $|X - c_i|^2 = W^\top C_k W
    \ge \lambda_{\min}(C_k) |W|^2$, so the ball lies inside $\{\lambda_{\min}(C_k) |W|^2 \le r^2\}$,
    a non-central chi-square event. For an isotropic component $C_k = s^2 I$ the bound is the exact
    probability. The mixture form is then a union bound inside each component; the result is a
    *bound*, not the probability, and is what
    [`langevin_jax.metrics.ball_tv_lower_bound`][langevin_jax.metrics.ball_tv_lower_bound] needs.
    Vectorised over the centres (one triangular solve per component for all of them). Host-side
    float64 NumPy/SciPy: not traceable.

    Args:
      centers: ``[n, d]`` (or one ``[d]``), the centres $c_i$.
      radius: the common radius $r > 0$.
      weights: ``[K]``, the mixture weights $w_k \ge 0$, summing to 1 (to $10^{-6}$; renormalised).
      means: ``[K, d]``, the component means $m_k$.
      covariances: ``[K, d, d]``, the component covariances $C_k$, symmetric positive definite.

    Returns:
      The log of the bound, a float $\le 0$.

    Raises:
      ValueError: an argument of the wrong shape, not finite, ``radius`` not $> 0$, weights
        negative or not summing to 1, a covariance not symmetric positive definite.
    """
    centers = _centers_matrix(centers)
    n, d = centers.shape
    radius = _host_scalar("radius", radius)
    weights = _host_array("weights", weights, (1,), "[K]")
    num = weights.shape[0]
    means = _host_array("means", means, (2,), f"({num}, {d})")
    if means.shape != (num, d):
        raise ValueError(f"means must have shape ({num}, {d}) (K of weights, d of centers), got {means.shape}")
    covariances = _host_array("covariances", covariances, (3,), f"({num}, {d}, {d})")
    if covariances.shape != (num, d, d):
        raise ValueError(f"covariances must have shape ({num}, {d}, {d}), got {covariances.shape}")
    if np.any(weights < 0) or not abs(float(np.sum(weights)) - 1.0) <= 1e-6:
        raise ValueError(f"weights must be >= 0 and sum to 1, got sum {float(np.sum(weights)):.8g} "
                         f"and minimum {float(np.min(weights)):.3g}")
    weights = weights / np.sum(weights)
    _checks.check_symmetric("covariances", covariances)
    per_component = np.empty(num)
    for k in range(num):  # K components, each vectorised over the n centres
        cov = 0.5 * (covariances[k] + covariances[k].T)
        lam = np.linalg.eigvalsh(cov)
        if not lam[0] > 0:
            raise ValueError(f"covariances[{k}] must be positive definite, smallest eigenvalue {lam[0]:.3g}")
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (means[k][None, :] - centers).T)  # [d, n]: C^{-1/2}(m - c) up to a rotation
        nc = np.einsum("ij,ij->j", z, z)
        logs = _ball_log_probabilities(centers, radius, means[k], 1.0, lambda_min=float(lam[0]), nc=nc)
        per_component[k] = min(0.0, special.logsumexp(logs))
    return float(min(0.0, special.logsumexp(per_component, b=weights)))


# --------------------------------------------------------------------------- OU exit times

_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(16)


def _check_ou(dim, alpha, radius, temperature, *, positive_alpha: bool) -> tuple[int, float, float, float]:
    dim = _host_dim("dim", dim)
    alpha = _host_scalar("alpha", alpha, strict=positive_alpha)
    radius = _host_scalar("radius", radius)
    temperature = _host_scalar("temperature", temperature)
    return dim, alpha, radius, temperature


def _ou_log_log_integrand(y: np.ndarray, dim: int, alpha: float, temperature: float) -> np.ndarray:
    r"""$\log\bigl(e^{U(y)} \int_0^y e^{-U(z)} dz\bigr)$ with $U(r) = \alpha r^2 / (2T) - (d - 1) \log r$;
    the inner integral is $\frac{1}{2} (2T/\alpha)^{d/2} \Gamma(d/2) P(d/2, \alpha y^2 / (2T))$
    ($y^d / d$ at $\alpha = 0$)."""
    u = alpha * y * y / (2.0 * temperature) - (dim - 1) * np.log(y)
    if alpha == 0.0:
        log_inner = dim * np.log(y) - math.log(dim)
    else:
        log_inner = (-math.log(2.0) + 0.5 * dim * math.log(2.0 * temperature / alpha) + special.gammaln(0.5 * dim)
                     + _log_gammainc(0.5 * dim, alpha * y * y / (2.0 * temperature)))
    return u + log_inner


def ou_exit_time_log_mean(dim: int, alpha: float, radius: float, start_radius: float = 0.0,
                          temperature: float = 1.0) -> float:
    r"""$\log \mathbb{E}\,\tau$, the log of the exact mean first exit time $\tau$ from the ball
    $B(0, R)$ ($R$ = ``radius``) of the Ornstein-Uhlenbeck process

    $$
    dX_t = -\alpha X_t\, dt + \sqrt{2T}\, dB_t, \qquad X_t \in \mathbb{R}^d, \quad |X_0| = r_0,
    $$

    finite where $\mathbb{E}\,\tau$ overflows float64 (e.g. $e^{1000}$). It is the process inside
    the trap ball of paper 1's Theorem 1 (centre 0) and around a training point of its memorising
    score (Theorem 7; shift the centre to 0), there exactly.

    Derivation (ours; standard one-dimensional diffusion theory). By rotation invariance
    $R_t = |X_t|$ is a diffusion on $[0, \infty)$ with generator
    $L f = T f'' + \bigl(T (d - 1)/r - \alpha r\bigr) f' = T e^{U} (e^{-U} f')'$,
    $U(r) = \alpha r^2 / (2T) - (d - 1) \log r$, entrance (reflecting) at 0. The mean exit time
    $\tau(r)$ solves $L \tau = -1$, $\tau(R) = 0$, $e^{-U} \tau' \to 0$ at 0, so
    $e^{-U(y)} \tau'(y) = -\frac{1}{T} \int_0^y e^{-U(z)} dz$ and

    $$
    \mathbb{E}\,\tau = \frac{1}{T} \int_{r_0}^{R} e^{U(y)} \int_0^y e^{-U(z)}\, dz\, dy, \qquad
    \int_0^y e^{-U(z)} dz = \tfrac{1}{2} \bigl(2T/\alpha\bigr)^{d/2} \Gamma(d/2)\, P\bigl(d/2, \alpha y^2/(2T)\bigr),
    $$

    $P$ the regularized lower incomplete gamma function (in log space, finite however small). The
    outer integral is composite 16-point Gauss-Legendre quadrature summed with logsumexp, on
    panels over which the log-integrand changes by at most about 1 (relative error near
    float64 rounding; up to $10^5$ panels). At $\alpha = 0$ it is Brownian motion,
    $\mathbb{E}\,\tau = (R^2 - r_0^2) / (2 d T)$; at $d = 1$ the exit time of the one-dimensional
    OU process from $[-R, R]$.

    ULA with step $h$ on this OU has stationary variance $1 / \bigl(\alpha (1 - h\alpha/2)\bigr)$
    per coordinate ([`ula_precision_variance`][langevin_jax.theory.ula_precision_variance]) where the
    diffusion at $T = 1$ has $1 / \alpha$: the diffusion at temperature $T = 1 / (1 - h\alpha/2)$
    matches it, our continuous proxy for ULA's exit time (an approximation, not an exact law of the
    chain, which also leaves the ball between steps unobserved).

    Host-side float64 NumPy/SciPy: not traceable, not differentiable.

    Args:
      dim: the dimension $d \ge 1$.
      alpha: the drift strength $\alpha \ge 0$.
      radius: the ball's radius $R > 0$.
      start_radius: $r_0 = |X_0|$, in $[0, R]$ ($R$ gives $-\infty$).
      temperature: $T > 0$.

    Returns:
      $\log \mathbb{E}\,\tau$, a float.

    Raises:
      ValueError: ``dim`` not an int $\ge 1$, ``alpha`` negative, ``radius`` or ``temperature``
        not finite and $> 0$, ``start_radius`` outside $[0, R]$ (all not finite or not real).
    """
    dim, alpha, radius, temperature = _check_ou(dim, alpha, radius, temperature, positive_alpha=False)
    r0 = _host_scalar("start_radius", start_radius, strict=False)
    if r0 > radius:
        raise ValueError(f"start_radius must be <= radius = {radius!r}, got {start_radius!r}")
    if r0 == radius:
        return -math.inf
    # panels: the log-integrand's largest slope on a pilot grid where the integrand matters
    pilot = np.linspace(r0, radius, 2049)
    mid = 0.5 * (pilot[1:] + pilot[:-1])
    log_g = _ou_log_log_integrand(mid, dim, alpha, temperature)
    slope = np.abs(np.diff(log_g)) / np.diff(mid)
    matters = np.maximum(log_g[1:], log_g[:-1]) > np.max(log_g) - 50.0
    panels = int(min(100_000, math.ceil(float(np.max(slope[matters], initial=0.0)) * (radius - r0)) + 16))
    edges = np.linspace(r0, radius, panels + 1)
    half = 0.5 * np.diff(edges)
    nodes = 0.5 * (edges[1:] + edges[:-1])[:, None] + half[:, None] * _GAUSS_NODES[None, :]
    log_w = np.log(half[:, None] * _GAUSS_WEIGHTS[None, :])
    total = special.logsumexp(_ou_log_log_integrand(nodes, dim, alpha, temperature) + log_w)
    return float(total - math.log(temperature))


def ou_exit_time_mean(dim: int, alpha: float, radius: float, start_radius: float = 0.0,
                      temperature: float = 1.0) -> float:
    r"""The exact mean first exit time $\mathbb{E}\,\tau$ from $B(0, R)$ of
    $dX = -\alpha X\, dt + \sqrt{2T}\, dB$ started at $|X_0| = r_0$: the exponential of
    [`ou_exit_time_log_mean`][langevin_jax.theory.ou_exit_time_log_mean] (see there for the
    formula, its derivation and the ULA temperature $1 / (1 - h\alpha/2)$); ``inf`` where it
    overflows float64 (use the log then). Host-side float64: not traceable.

    Examples:
      >>> from langevin_jax import theory
      >>> round(theory.ou_exit_time_mean(3, 0.0, 2.0), 6)  # Brownian motion: R^2 / (2 d)
      0.666667
    """
    log_mean = ou_exit_time_log_mean(dim, alpha, radius, start_radius, temperature)
    return math.exp(log_mean) if log_mean < 709.0 else math.inf


def ou_exit_time_arrhenius(dim: int, alpha: float, radius: float, temperature: float = 1.0, *,
                           log: bool = False) -> float:
    r"""The large-barrier (Kramers/Arrhenius) asymptotic of the OU mean exit time
    ([`ou_exit_time_mean`][langevin_jax.theory.ou_exit_time_mean]):

    $$
    \mathbb{E}\,\tau \approx \frac{1}{T\, U'(R)\, p(R)}, \qquad
    U'(R) = \frac{\alpha R}{T} - \frac{d - 1}{R}, \qquad
    p(R) = \frac{R^{d-1} e^{-\alpha R^2 / (2T)}}{\frac{1}{2} (2T/\alpha)^{d/2} \Gamma(d/2)},
    $$

    $p$ the normalised stationary density of $R_t = |X_t|$ (a chi law scaled by $\sqrt{T/\alpha}$).
    From the exact formula (our derivation): once $R$ is past the bulk of $p$, the inner integral
    $\int_0^y e^{-U}$ near $y = R$, where the outer integrand concentrates, is close to its total
    $Z = \int_0^\infty e^{-U} = e^{-U(R)} / p(R)$, and $\int^R e^{U} \approx e^{U(R)} / U'(R)$
    (Laplace at the endpoint, relative error $O\bigl(U''(R) / U'(R)^2\bigr)$); the ratio to the
    exact mean tends to 1 as the barrier grows. Independent of the start $r_0$ (any $r_0$ below the
    barrier). Host-side float64: not traceable.

    Args:
      dim: $d \ge 1$.
      alpha: $\alpha > 0$.
      radius: $R$, beyond the mode of $p$: $R^2 > (d - 1) T / \alpha$.
      temperature: $T > 0$.
      log: return the log (finite where the time overflows float64).

    Raises:
      ValueError: invalid arguments, or ``radius`` not beyond the mode (no barrier: $U'(R) \le 0$).
    """
    dim, alpha, radius, temperature = _check_ou(dim, alpha, radius, temperature, positive_alpha=True)
    slope = alpha * radius / temperature - (dim - 1) / radius
    if not slope > 0:
        raise ValueError(f"radius must be beyond the mode sqrt((d - 1) T / alpha) = "
                         f"{math.sqrt((dim - 1) * temperature / alpha):.6g} of |X| for the Arrhenius "
                         f"asymptotic (no barrier otherwise), got {radius!r}")
    log_norm = -math.log(2.0) + 0.5 * dim * math.log(2.0 * temperature / alpha) + float(special.gammaln(0.5 * dim))
    u = alpha * radius * radius / (2.0 * temperature) - (dim - 1) * math.log(radius)
    out = log_norm + u - math.log(temperature * slope)
    if log:
        return out
    return math.exp(out) if out < 709.0 else math.inf


def ou_exit_growth_rate(alpha: float, radius_factor: float, temperature: float = 1.0) -> float:
    r"""$\lim_{d \to \infty} \frac{1}{d} \log \mathbb{E}\,\tau_d$ for the OU exit time
    ([`ou_exit_time_mean`][langevin_jax.theory.ou_exit_time_mean]) from the ball of radius
    $R = k \sqrt{d}$ ($k$ = ``radius_factor``), from any start radius $r_0 = k_0 \sqrt{d}$ with
    $k_0 < k$:

    $$
    \lim_{d \to \infty} \frac{1}{d} \log \mathbb{E}\,\tau = \frac{x - 1 - \log x}{2}, \quad
    x = \frac{\alpha k^2}{T} > 1; \qquad 0 \text{ for } x \le 1.
    $$

    The $e^{c d}$ of paper 1's Lemma 4 / Corollary 2 for this trap, with the constant worked out.
    Derivation (ours): by the Arrhenius form
    ([`ou_exit_time_arrhenius`][langevin_jax.theory.ou_exit_time_arrhenius]), $\log \mathbb{E}\,\tau
    = \log Z + U(R) + O(\log d)$, $Z = \frac{1}{2}(2T/\alpha)^{d/2}\Gamma(d/2)$; Stirling gives
    $\log Z = \frac{d}{2}\bigl(\log(T d / \alpha) - 1\bigr) + O(\log d)$ and
    $U(R) = \frac{d x}{2} - \frac{d}{2} \log(k^2 d) + O(\log d)$, so
    $\frac{1}{d}\log \mathbb{E}\,\tau \to \frac{1}{2}(x - 1 - \log x)$. For $x \le 1$ the ball does
    not reach past the typical radius $\sqrt{d T / \alpha}$ of the stationary law, there is no
    barrier, and $|X_t|^2$ reaches $R^2$ in time $O(1)$: the rate is 0 (the formula's value
    there would be wrong). The finite-$d$ slope approaches the limit at rate $O(\log d / d)$.

    Args:
      alpha: $\alpha > 0$.
      radius_factor: $k > 0$.
      temperature: $T > 0$ (ULA with step $h$: about $1 / (1 - h\alpha/2)$).

    Raises:
      ValueError: an argument not finite and $> 0$.

    Examples:
      >>> from langevin_jax import theory
      >>> round(theory.ou_exit_growth_rate(1.0, 4.0), 4)  # Theorem 1's r_in = 4 sqrt(d), alpha = 1
      6.1137
    """
    alpha = _host_scalar("alpha", alpha)
    k = _host_scalar("radius_factor", radius_factor)
    temperature = _host_scalar("temperature", temperature)
    x = alpha * k * k / temperature
    return 0.5 * (x - 1.0 - math.log(x)) if x > 1.0 else 0.0
