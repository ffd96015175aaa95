r"""The pipeline in exact matrices: the score learned by DSM, the law of ULA, the $W_2$ error.

Sections "Denoising score matching", "ULA with the learned score" and "W2" of the derivation
(docs/paper2_gaussian_dsm.md), computed on the matrices themselves, independently of the
per-eigenvalue closed forms of [`kernel`][langevin_jax.gaussian_dsm.kernel]: the DSM loss and its
minimiser $A_\infty = (\hat\Sigma + \sigma^2 I)^{-1}$ or $K$ gradient steps $A_K$ (an exact matrix
series), the ULA covariance $C_k$ or $C_\infty$ (series or solve), and the Bures $W_2$ from a
Cholesky factor and eigenvalues. These are the "exact" leg of the three-way check.
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, theory
from langevin_jax.gaussian_dsm._validation import _all_concrete, _check_dsm_args, _check_dsm_solvable
from langevin_jax.gaussian_dsm._validation import _check_eta_stable, _check_nonneg, _check_scalar_positive
from langevin_jax.gaussian_dsm._validation import _check_square, _check_steps, _np_eigvalsh
from langevin_jax.types import ArrayLike

__all__ = [
    "dsm_loss",
    "dsm_score_matrix",
    "ula_covariance",
    "pipeline_covariance",
    "sampling_w2",
    "pipeline_w2",
]

def _geometric_series(b: jax.Array, num_terms: int) -> jax.Array:
    r"""$\sum_{j<K} b^j$ for a square matrix $b$ in $O(\log K)$ products (exact)."""
    eye = jnp.eye(b.shape[0], dtype=b.dtype)
    total, power = jnp.zeros_like(b), eye  # sum and power of the terms taken so far
    block_sum, block_pow = eye, b  # sum_{j<m} b^j and b^m for the current block m = 2^bit
    k = num_terms
    while k:
        if k & 1:
            total = total + power @ block_sum
            power = power @ block_pow
        k >>= 1
        if k:
            block_sum = block_sum + block_pow @ block_sum
            block_pow = block_pow @ block_pow
    return total


@jax.jit
def _dsm_loss(a, cov, sigma):
    d = cov.shape[0]
    m = cov + sigma**2 * jnp.eye(d, dtype=cov.dtype)
    return 0.5 * jnp.trace(a @ m @ a.T) - jnp.trace(a) + d / (2.0 * sigma**2)


def dsm_loss(score_matrix: ArrayLike, empirical_covariance: ArrayLike, sigma: ArrayLike) -> jax.Array:
    r"""The DSM loss of the linear score $s_A(y) = -A y$, averaged exactly over the noise.

    $$
    L(A) = \frac{1}{2n} \sum_j \mathbb{E}_z \bigl|-A (x_j + \sigma z) + z / \sigma\bigr|^2
    = \tfrac{1}{2} \operatorname{tr}(A M A^\top) - \operatorname{tr}(A) + \frac{d}{2 \sigma^2},
    \qquad M = \hat\Sigma + \sigma^2 I
    $$

    (our normalisation; the expectation over $z \sim \mathcal{N}(0, I)$ is exact, the one over data is the
    empirical mean, which only enters through $\hat\Sigma$).

    Args:
      score_matrix: $A$, ``[d, d]``.
      empirical_covariance: $\hat\Sigma$, ``[d, d]``.
      sigma: noise level $\sigma > 0$.
    """
    cov = _check_square("empirical_covariance", empirical_covariance)
    a = _check_square("score_matrix", score_matrix, cov.shape[0], symmetric=False)  # any A
    _check_scalar_positive("sigma", sigma)
    return _dsm_loss(a, cov, sigma)


@functools.partial(jax.jit, static_argnums=3)
def _dsm_score_matrix(cov, sigma, gamma, num_steps):
    eye = jnp.eye(cov.shape[0], dtype=cov.dtype)
    m = cov + sigma**2 * eye
    if num_steps is None:
        a = jnp.linalg.solve(m, eye)
    else:
        a = gamma * _geometric_series(eye - gamma * m, num_steps)
    return 0.5 * (a + a.T)


def dsm_score_matrix(empirical_covariance: ArrayLike, sigma: ArrayLike, num_steps: Optional[int] = None,
                     gamma: Optional[ArrayLike] = None) -> jax.Array:
    r"""The score matrix $A$ learned by DSM at noise $\sigma$ ($s_A(y) = -A y$).

    $A_\infty = (\hat\Sigma + \sigma^2 I)^{-1}$ (the minimiser of [`dsm_loss`][langevin_jax.gaussian_dsm.dsm_loss]) when
    ``num_steps`` is ``None``; otherwise $K$ = ``num_steps`` steps of gradient descent with step
    $\gamma$ from $A_0 = 0$:

    $$
    A_K = \gamma \sum_{j<K} (I - \gamma M)^j = [I - (I - \gamma M)^K] M^{-1}, \qquad M = \hat\Sigma + \sigma^2 I
    $$

    (computed as the series, exactly, in $O(\log K)$ products; valid even for singular $M$).

    Args:
      empirical_covariance: $\hat\Sigma$, ``[d, d]`` symmetric PSD.
      sigma: noise level $\sigma \ge 0$ ($M$ must be invertible when ``num_steps`` is ``None``).
      num_steps: $K \ge 1$ gradient steps, or ``None`` for the minimiser.
      gamma: gradient step, $0 < \gamma < 2 / \lambda_\text{max}(M)$ (required with ``num_steps``).

    Returns:
      $A$, ``[d, d]`` symmetric.

    Raises:
      ValueError: bad shapes or values, a missing ``gamma``, a ``gamma`` for which gradient
        descent diverges, or a singular $M$ with ``num_steps=None``.
    """
    cov = _check_square("empirical_covariance", empirical_covariance)
    _check_nonneg("sigma", sigma)
    num_steps = _check_dsm_args(gamma, num_steps, steps_name="num_steps")
    if _all_concrete(cov, sigma, gamma):
        _check_dsm_solvable(_np_eigvalsh(cov) + float(np.asarray(sigma)) ** 2, gamma, num_steps, "num_steps")
    return _dsm_score_matrix(cov, sigma, gamma, num_steps)


@functools.partial(jax.jit, static_argnums=2)
def _ula_covariance(a, eta, num_steps):
    eye = jnp.eye(a.shape[0], dtype=a.dtype)
    if num_steps is not None:
        b = eye - eta * a
        c = 2.0 * eta * _geometric_series(b @ b, num_steps)
    else:
        p = a - 0.5 * eta * (a @ a)
        stable = jax.lax.stop_gradient(jnp.min(jnp.linalg.eigvalsh(0.5 * (p + p.T))) > 0)
        p_safe = jnp.where(stable, p, eye)
        c = jnp.where(stable, jnp.linalg.solve(p_safe, eye), jnp.inf)
    return 0.5 * (c + c.T)


def ula_covariance(score_matrix: ArrayLike, eta: ArrayLike, num_steps: Optional[int] = None) -> jax.Array:
    r"""Covariance of ULA with the linear score $-A x$, from $x_0 = 0$.

    ``num_steps`` $= k$: $C_k = 2 \eta \sum_{j<k} (I - \eta A)^{2j}$ (exact series, $O(\log k)$
    products). ``num_steps = None``: the stationary covariance $C_\infty = [A (I - \eta A/2)]^{-1}$,
    the fixed point of $C = (I - \eta A) C (I - \eta A) + 2 \eta I$; it exists iff
    $0 < \eta a < 2$ for every eigenvalue $a$ of $A$.

    Args:
      score_matrix: $A$, ``[d, d]`` symmetric positive definite.
      eta: ULA step $\eta > 0$.
      num_steps: $k \ge 1$, or ``None`` for stationarity.

    Returns:
      ``[d, d]``; ``+inf`` everywhere when ``num_steps`` is ``None`` and, under ``jit``/``grad``,
      $\eta a_\text{max} \ge 2$ (eagerly this raises).

    Raises:
      ValueError: bad shapes or values; $\eta a_\text{max} \ge 2$ (with concrete arguments).
    """
    a = _check_square("score_matrix", score_matrix)
    _check_scalar_positive("eta", eta)
    num_steps = _check_steps("num_steps", num_steps)
    if _all_concrete(a, eta):
        eigs = _np_eigvalsh(a)
        if not np.min(eigs) > 0:
            raise ValueError("score_matrix must be positive definite (the learned A), "
                             f"smallest eigenvalue {np.min(eigs):.3g}")
        _check_eta_stable(eta, float(np.max(eigs)))
    return _ula_covariance(a, eta, num_steps)


def pipeline_covariance(empirical_covariance: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *,
                        gamma: Optional[ArrayLike] = None,
                        num_dsm_steps: Optional[int] = None,
                        num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""Covariance of the sampled law: ``ula_covariance(dsm_score_matrix(empirical_covariance, ...), ...)``.

    Args:
      empirical_covariance: $\hat\Sigma$, ``[d, d]``.
      sigma: DSM noise level $\sigma$.
      eta: ULA step $\eta$.
      gamma: DSM gradient-descent step $\gamma$ (``None``: the exact minimiser).
      num_dsm_steps: DSM gradient-descent steps (``None``: the exact minimiser).
      num_ula_steps: ULA steps from 0 (``None``: stationary).

    Returns:
      $C$, ``[d, d]``.
    """
    a = dsm_score_matrix(empirical_covariance, sigma, num_dsm_steps, gamma)
    return ula_covariance(a, eta, num_ula_steps)


@jax.jit
def _sampling_w2(sig, c):
    zero = jnp.zeros(sig.shape[0], sig.dtype)
    return theory.gaussian_w2_unchecked(zero, c, zero, sig)  # the one Bures implementation


def sampling_w2(data_covariance: ArrayLike, sampled_covariance: ArrayLike) -> jax.Array:
    r"""Exact $W_2\bigl(\mathcal{N}(0, \Sigma), \mathcal{N}(0, C)\bigr)$ (Bures), differentiable in both matrices.

    $W_2^2 = \operatorname{tr} \Sigma + \operatorname{tr} C - 2 \sum_i \sqrt{b_i}$, $b_i$ the eigenvalues of
    $L^\top C L$ ($\Sigma = L L^\top$, Cholesky), the same as those of $\Sigma^{1/2} C \Sigma^{1/2}$. Using only a
    Cholesky factor and eigenvalues (no eigenvectors) keeps ``jax.grad`` finite for degenerate
    spectra. When $\Sigma$ and $C$ commute this is $\sum_i (\sqrt{\lambda_i} - \sqrt{c_i})^2$.

    Args:
      data_covariance: $\Sigma$, ``[d, d]`` symmetric positive definite.
      sampled_covariance: $C$, ``[d, d]`` symmetric PSD (``+inf`` entries give ``+inf``).

    Returns:
      $W_2$ (not squared), a scalar.

    Raises:
      ValueError: mismatched shapes; when concrete, a ``data_covariance`` that is not
        symmetric positive definite or a finite ``sampled_covariance`` that is not symmetric
        PSD (or holds NaN).
    """
    sig = _check_square("data_covariance", data_covariance)
    c = _checks.check_rank("sampled_covariance", sampled_covariance, 2, "[d, d]")
    if c.shape != sig.shape:
        raise ValueError(f"sampled_covariance must have shape {sig.shape}, got {c.shape}")
    _checks.check_real("sampled_covariance", c)
    if _checks.is_concrete(sig):  # Cholesky of Sigma: it must be positive definite
        _checks.check_covariance("data_covariance", sig)
    if _checks.is_concrete(c):
        arr = np.asarray(c, np.float64)
        if np.any(np.isnan(arr)):
            raise ValueError("sampled_covariance contains NaN")
        if np.all(np.isfinite(arr)):  # +inf entries (an unstable chain) are documented: W2 = +inf
            _checks.check_covariance("sampled_covariance", c, sig.shape[0], definite=False)
    return _sampling_w2(sig, c)


def pipeline_w2(data_covariance: ArrayLike, empirical_covariance: Optional[ArrayLike], sigma: ArrayLike,
                eta: ArrayLike, *, gamma: Optional[ArrayLike] = None, num_dsm_steps: Optional[int] = None,
                num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""Exact $W_2$ sampling error of the pipeline, from matrices.

    ``sampling_w2(data_covariance, pipeline_covariance(empirical_covariance, sigma, eta, ...))``. Pass
    ``empirical_covariance=None`` (or $\Sigma$ itself) for the population limit.

    Args:
      data_covariance: $\Sigma$, ``[d, d]``.
      empirical_covariance: $\hat\Sigma$, ``[d, d]``, or ``None`` for $\Sigma$.
      sigma: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      eta: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      gamma: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_dsm_steps: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_ula_steps: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].

    Returns:
      $W_2$ (scalar).
    """
    data_covariance = _check_square("data_covariance", data_covariance)
    if empirical_covariance is None:
        empirical_covariance = data_covariance
    _check_square("empirical_covariance", empirical_covariance, data_covariance.shape[0])
    c = pipeline_covariance(empirical_covariance, sigma, eta, gamma=gamma,
                            num_dsm_steps=num_dsm_steps, num_ula_steps=num_ula_steps)
    return _sampling_w2(data_covariance, c)
