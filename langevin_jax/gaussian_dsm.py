"""Denoising score matching to Langevin sampling in the Gaussian setting: closed forms.

Source: Hurault, Terris, Moreau & Peyré (2025), *From Denoising Score Matching to Langevin
Sampling: a fine-grained error analysis in the Gaussian setting* (arXiv 2503.11615). We could read
only its abstract and summary: the W2 sampling error of the pipeline
``data -> score learned by DSM -> Langevin sampler`` depends on the data power spectrum through a
*kernel-type norm* whose kernel depends on the noise level, the step sizes and ``n``. The paper's
detailed theorems were not available. **Every formula in this module is our own derivation**
(derived in ``docs/paper2_gaussian_dsm.md``), checked three ways:
closed-form kernel vs exact matrices vs simulated chains. Normalisations (DSM loss scaling, zero-mean
data, ULA started at 0) are our choices; the paper's may differ by constants.

The pipeline (all our reconstruction):

1. **Data.** ``x_1..x_n ~ N(0, Sigma)``, ``Sigma = U diag(lambda) U^T`` (``lambda`` is the power
   spectrum, e.g. ``lambda_i = i^(-a)``). The mean is known (zero), so the empirical covariance is
   ``Sigma_hat = (1/n) sum_j x_j x_j^T`` (``n Sigma_hat ~ Wishart(n, Sigma)``).
2. **Denoising score matching** of the linear model ``s_A(y) = -A y`` at noise ``sigma``::

       L(A) = 1/(2n) sum_j E_z |s_A(x_j + sigma z) + z / sigma|^2
            = 1/2 tr(A M A^T) - tr(A) + d / (2 sigma^2),      M = Sigma_hat + sigma^2 I,

   with gradient ``A M - I`` and minimiser ``A_inf = M^{-1}``. Gradient descent from ``A_0 = 0``
   with step ``gamma``, ``A_{j+1} = A_j - gamma (A_j M - I)``, gives::

       A_K = gamma sum_{j<K} (I - gamma M)^j = [I - (I - gamma M)^K] M^{-1},

   which converges iff ``gamma lambda_max(M) < 2``.
3. **ULA** with the learned score, step ``eta``, from ``x_0 = 0``:
   ``x_{j+1} = x_j - eta A x_j + sqrt(2 eta) xi_j``. Its law stays ``N(0, C_j)`` with
   ``C_{j+1} = (I - eta A) C_j (I - eta A) + 2 eta I``, so::

       C_k = 2 eta sum_{j<k} (I - eta A)^{2j} = [I - (I - eta A)^{2k}] C_inf,
       C_inf = [A (I - eta A / 2)]^{-1},

   stationary iff ``0 < eta a < 2`` for every eigenvalue ``a`` of ``A``. Per eigenvalue:
   ``c_inf(a) = 1 / (a (1 - eta a / 2))`` and ``c_k(a) = c_inf(a) (1 - (1 - eta a)^{2k})``.
4. **Sampling error.** ``W2(N(0, Sigma), N(0, C))`` by the Bures formula
   ``W2^2 = tr Sigma + tr C - 2 tr (Sigma^{1/2} C Sigma^{1/2})^{1/2}``.

Everything after the data is a spectral function of ``Sigma_hat``: ``C = phi(Sigma_hat)`` with the
scalar map ``phi(mu) = c(a(mu))``, ``a(mu) = [1 - (1 - gamma (mu + sigma^2))^K] / (mu + sigma^2)``.
Hence, **in the population limit** ``Sigma_hat = Sigma`` (``n = infinity``; more generally whenever
``Sigma_hat`` commutes with ``Sigma``) ``C`` and ``Sigma`` commute and, exactly::

    W2^2 = sum_i k(lambda_i),      k(lambda) = (sqrt(lambda) - sqrt(phi(lambda)))^2,

a kernel-type norm of the spectrum ([`kernel`][langevin_jax.gaussian_dsm.kernel],
[`kernel_w2`][langevin_jax.gaussian_dsm.kernel_w2]). For finite ``n`` the matrices
do not commute; our second-order perturbation expansion
([`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel]) gives the
expected error ``E W2^2 = sum_i k(lambda_i) + (1/n) sum_{i,j} kappa(lambda_i, lambda_j) + O(n^-2)``,
a two-point kernel, accurate for ``n >> d``. The exact value for a given ``Sigma_hat`` is
[`pipeline_w2`][langevin_jax.gaussian_dsm.pipeline_w2], computed independently of the scalar map: ``A`` and ``C`` by
exact matrix
series and solves, the Bures trace from the eigenvalues (never eigenvectors) of
``Sigma^{1/2} C Sigma^{1/2}``.

Every function is pure JAX and differentiable with ``jax.grad`` in ``sigma``, ``gamma``, ``eta``
and the spectrum; integer step counts are static Python ints. The public functions validate their
arguments eagerly (with NumPy, on concrete values) and then call one internally jitted computation
(compiled once per shape and step counts; they compose with ``jit``, ``vmap`` and ``grad``). Use float64
(``with jax.enable_x64(True):``) for precise values. Bad inputs raise ``ValueError`` naming the
argument, eagerly, when the arguments are concrete; an unstable ULA step (``eta a >= 2``) raises when
detectable eagerly, and under ``jit``/``grad`` makes the stationary covariance (and the W2) ``+inf``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, theory

__all__ = [
    "power_law_spectrum",
    "sample_empirical_covariance",
    "dsm_loss",
    "dsm_score_matrix",
    "ula_covariance",
    "pipeline_covariance",
    "sampling_w2",
    "pipeline_w2",
    "dsm_eigenvalue",
    "ula_variance",
    "sampled_variance",
    "kernel",
    "kernel_w2",
    "finite_sample_kernel",
    "expected_kernel_w2",
    "gaussian_fit_w2_bias",
    "max_stable_eta",
    "optimal_sigma",
    "ErrorSources",
    "ErrorDecomposition",
    "error_decomposition",
]


# --------------------------------------------------------------------------------------------------
# validation (eager, with NumPy, on concrete values only)


def _all_concrete(*xs: Any) -> bool:
    return all(x is None or _checks._is_concrete(x) for x in xs)


def _check_nonneg(name: str, value: Any) -> None:
    if not _checks._is_concrete(value):
        return
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number) or arr.ndim != 0:
        raise ValueError(f"{name} must be a real scalar, got {value!r}")
    if not np.isfinite(arr) or arr < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def _check_scalar_positive(name: str, value: Any) -> None:
    if _checks._is_concrete(value) and np.ndim(np.asarray(value)) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {np.shape(value)}")
    _checks.check_positive_finite(name, value)


def _check_steps(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    return _checks.check_int_at_least(name, value, 1)


def _check_dsm_args(gamma: Any, num_dsm_steps: Optional[int],
                    steps_name: str = "num_dsm_steps") -> Optional[int]:
    num_dsm_steps = _check_steps(steps_name, num_dsm_steps)
    if num_dsm_steps is not None:
        if gamma is None:
            raise ValueError(f"gamma (the DSM gradient step) is required when "
                             f"{steps_name}={num_dsm_steps} is given")
        _check_scalar_positive("gamma", gamma)
    return num_dsm_steps


def _float_dtype(x: jax.Array):
    return jnp.result_type(x, jnp.float32)


def _check_spectrum(name: str, spectrum: Any) -> jax.Array:
    spectrum = _checks.check_rank(name, spectrum, 1, "[d]")
    _checks.check_positive_finite(name, spectrum)
    dtype = _float_dtype(spectrum)
    return spectrum if spectrum.dtype == dtype else spectrum.astype(dtype)


def _check_square(name: str, x: Any, d: Optional[int] = None, symmetric: bool = True) -> jax.Array:
    """A finite ``[d, d]`` matrix, symmetric unless ``symmetric=False`` (every matrix of the
    Gaussian setting is, but a basis): a non-symmetric one is refused, never symmetrised."""
    x = _checks.check_rank(name, x, 2, "[d, d]")
    if x.shape[0] != x.shape[1] or (d is not None and x.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "square [d, d]"
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    _checks.check_real(name, x)
    _checks.check_finite_array(name, x)
    if symmetric:
        _checks.check_symmetric(name, x)
    dtype = _float_dtype(x)
    return x if x.dtype == dtype else x.astype(dtype)


def _np_eigvalsh(x: Any) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.linalg.eigvalsh(0.5 * (x + x.T))


def _np_dsm_eigenvalue(mu: np.ndarray, sigma: float, num_dsm_steps: Optional[int],
                       gamma: Optional[float]) -> np.ndarray:
    m = np.asarray(mu, np.float64) + float(sigma) ** 2
    if num_dsm_steps is None:
        return 1.0 / np.where(m > 0, m, np.nan)
    safe = np.where(m == 0, 1.0, m)
    return np.where(m == 0, float(gamma) * num_dsm_steps,
                    (1.0 - (1.0 - float(gamma) * safe) ** num_dsm_steps) / safe)


def _check_gamma_converges(gamma: Any, m_max: float, num_dsm_steps: Optional[int]) -> None:
    if num_dsm_steps is None:
        return
    if float(gamma) * m_max >= 2.0:
        raise ValueError(
            f"gamma={float(gamma):.4g} makes DSM gradient descent diverge: need "
            f"gamma * (lambda_max(Sigma_hat) + sigma^2) < 2, i.e. gamma < {2.0 / m_max:.4g}")


def _check_eta_stable(eta: Any, a_max: float) -> None:
    if not float(eta) * a_max < 2.0:
        raise ValueError(
            f"eta={float(eta):.4g} is unstable for this score: ULA needs eta * a_max < 2 where "
            f"a_max={a_max:.4g} is the largest eigenvalue of the learned score matrix A, "
            f"i.e. eta < {2.0 / a_max:.4g} (the chain's covariance grows geometrically)")


def _check_pipeline(mu: Any, sigma: Any, eta: Any, gamma: Any,
                    num_dsm_steps: Optional[int]) -> None:
    """Eager stability checks from the eigenvalues ``mu`` of ``Sigma_hat`` (when concrete)."""
    if not _all_concrete(mu, sigma, eta, gamma):
        return
    m = np.asarray(mu, np.float64) + float(sigma) ** 2
    _check_gamma_converges(gamma, float(np.max(m)), num_dsm_steps)
    if num_dsm_steps is None and not np.min(m) > 0:
        raise ValueError("sigma: Sigma_hat + sigma^2 I is singular; use sigma > 0 "
                         "(or finitely many gradient steps, num_dsm_steps)")
    _check_eta_stable(eta, float(np.max(_np_dsm_eigenvalue(mu, sigma, num_dsm_steps, gamma))))


# --------------------------------------------------------------------------------------------------
# data


def power_law_spectrum(d: int, a: float) -> jax.Array:
    """The power-law spectrum ``lambda_i = i^(-a)``, ``i = 1..d``, shape ``[d]``.

    Args:
      d: dimension, >= 1.
      a: exponent (anisotropy), >= 0; ``a = 0`` is isotropic.
    """
    d = _checks.check_int_at_least("d", d, 1)
    _check_nonneg("a", a)
    dtype = jnp.result_type(float)
    if _checks._is_concrete(a):
        return jnp.asarray(np.arange(1, d + 1, dtype=np.float64) ** (-float(a)), dtype)
    return jnp.arange(1, d + 1, dtype=dtype) ** (-a)


@functools.partial(jax.jit, static_argnums=3)
def _sample_empirical_covariance(key, spectrum, basis, num_samples):
    z = jax.random.normal(key, (num_samples, spectrum.shape[0]), spectrum.dtype)
    x = z * jnp.sqrt(spectrum)
    if basis is not None:
        x = x @ basis.T
    cov = x.T @ x / num_samples
    return 0.5 * (cov + cov.T)


def sample_empirical_covariance(key: jax.Array, spectrum: Any, num_samples: int,
                                basis: Any | None = None) -> jax.Array:
    """Empirical covariance ``(1/n) sum_j x_j x_j^T`` of ``n`` draws of ``N(0, Sigma)``.

    ``Sigma = basis diag(spectrum) basis^T``. The mean is known (zero) and not subtracted, so
    ``n Sigma_hat ~ Wishart(n, Sigma)`` and ``E Sigma_hat = Sigma``.

    Args:
      key: PRNG key.
      spectrum: ``[d]`` eigenvalues ``lambda_i > 0``.
      num_samples: ``n >= 1``.
      basis: ``[d, d]`` orthonormal eigenvectors (columns); identity when omitted.

    Returns:
      ``[d, d]`` symmetric PSD matrix (rank ``min(n, d)``).
    """
    spectrum = _check_spectrum("spectrum", spectrum)
    n = _checks.check_int_at_least("num_samples", num_samples, 1)
    if basis is not None:
        basis = _check_square("basis", basis, spectrum.shape[0], symmetric=False).astype(
            spectrum.dtype)
        _checks.check_orthonormal("basis", basis)
    return _sample_empirical_covariance(key, spectrum, basis, n)


# --------------------------------------------------------------------------------------------------
# exact matrices


def _geometric_series(b: jax.Array, num_terms: int) -> jax.Array:
    """``sum_{j<K} b^j`` for a square matrix ``b`` in ``O(log K)`` products (exact)."""
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


def dsm_loss(score_matrix: Any, empirical_covariance: Any, sigma: Any) -> jax.Array:
    """The DSM loss of the linear score ``s_A(y) = -A y``, averaged exactly over the noise.

    ``L(A) = 1/(2n) sum_j E_z |-A (x_j + sigma z) + z / sigma|^2
    = 1/2 tr(A M A^T) - tr(A) + d / (2 sigma^2)``, ``M = Sigma_hat + sigma^2 I`` (our
    normalisation; the expectation over ``z ~ N(0, I)`` is exact, the one over data is the
    empirical mean, which only enters through ``Sigma_hat``).

    Args:
      score_matrix: ``A``, ``[d, d]``.
      empirical_covariance: ``Sigma_hat``, ``[d, d]``.
      sigma: noise level ``> 0``.
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


def dsm_score_matrix(empirical_covariance: Any, sigma: Any, num_steps: Optional[int] = None,
                     gamma: Any = None) -> jax.Array:
    """The score matrix ``A`` learned by DSM at noise ``sigma`` (``s_A(y) = -A y``).

    ``A_inf = (Sigma_hat + sigma^2 I)^{-1}`` (the minimiser of [`dsm_loss`][langevin_jax.gaussian_dsm.dsm_loss]) when
    ``num_steps`` is ``None``; otherwise ``K = num_steps`` steps of gradient descent with step
    ``gamma`` from ``A_0 = 0``:
    ``A_K = gamma sum_{j<K} (I - gamma M)^j = [I - (I - gamma M)^K] M^{-1}``,
    ``M = Sigma_hat + sigma^2 I`` (computed as the series, exactly, in ``O(log K)`` products; valid
    even for singular ``M``).

    Args:
      empirical_covariance: ``Sigma_hat``, ``[d, d]`` symmetric PSD.
      sigma: noise level ``>= 0`` (``M`` must be invertible when ``num_steps`` is ``None``).
      num_steps: ``K >= 1`` gradient steps, or ``None`` for the minimiser.
      gamma: gradient step, ``0 < gamma < 2 / lambda_max(M)`` (required with ``num_steps``).

    Returns:
      ``A``, ``[d, d]`` symmetric.

    Raises:
      ValueError: bad shapes or values, a missing ``gamma``, a ``gamma`` for which gradient
        descent diverges, or a singular ``M`` with ``num_steps=None``.
    """
    cov = _check_square("empirical_covariance", empirical_covariance)
    _check_nonneg("sigma", sigma)
    num_steps = _check_dsm_args(gamma, num_steps, steps_name="num_steps")
    if _all_concrete(cov, sigma, gamma):
        m = _np_eigvalsh(cov) + float(sigma) ** 2
        if num_steps is None and not np.min(m) > 0:
            raise ValueError("sigma: Sigma_hat + sigma^2 I is singular; use sigma > 0 "
                             "(or finitely many gradient steps, num_steps)")
        _check_gamma_converges(gamma, float(np.max(m)), num_steps)
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


def ula_covariance(score_matrix: Any, eta: Any, num_steps: Optional[int] = None) -> jax.Array:
    """Covariance of ULA with the linear score ``-A x``, from ``x_0 = 0``.

    ``num_steps = k``: ``C_k = 2 eta sum_{j<k} (I - eta A)^{2j}`` (exact series, ``O(log k)``
    products). ``num_steps = None``: the stationary covariance ``C_inf = [A (I - eta A/2)]^{-1}``,
    the fixed point of ``C = (I - eta A) C (I - eta A) + 2 eta I``; it exists iff
    ``0 < eta a < 2`` for every eigenvalue ``a`` of ``A``.

    Args:
      score_matrix: ``A``, ``[d, d]`` symmetric positive definite.
      eta: ULA step ``> 0``.
      num_steps: ``k >= 1``, or ``None`` for stationarity.

    Returns:
      ``[d, d]``; ``+inf`` everywhere when ``num_steps`` is ``None`` and, under ``jit``/``grad``,
      ``eta a_max >= 2`` (eagerly this raises).

    Raises:
      ValueError: bad shapes or values; ``eta a_max >= 2`` (with concrete arguments).
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


def pipeline_covariance(empirical_covariance: Any, sigma: Any, eta: Any, *, gamma: Any = None,
                        num_dsm_steps: Optional[int] = None,
                        num_ula_steps: Optional[int] = None) -> jax.Array:
    """Covariance of the sampled law: ``ula_covariance(dsm_score_matrix(Sigma_hat, ...), ...)``.

    Args:
      empirical_covariance: ``Sigma_hat``, ``[d, d]``.
      sigma: DSM noise level.
      eta: ULA step.
      gamma: DSM gradient-descent step (``None``: the exact minimiser).
      num_dsm_steps: DSM gradient-descent steps (``None``: the exact minimiser).
      num_ula_steps: ULA steps from 0 (``None``: stationary).

    Returns:
      ``C``, ``[d, d]``.
    """
    a = dsm_score_matrix(empirical_covariance, sigma, num_dsm_steps, gamma)
    return ula_covariance(a, eta, num_ula_steps)


@jax.jit
def _sampling_w2(sig, c):
    zero = jnp.zeros(sig.shape[0], sig.dtype)
    return theory.gaussian_w2_unchecked(zero, c, zero, sig)  # the one Bures implementation


def sampling_w2(data_covariance: Any, sampled_covariance: Any) -> jax.Array:
    """Exact ``W2(N(0, Sigma), N(0, C))`` (Bures), differentiable in both matrices.

    ``W2^2 = tr Sigma + tr C - 2 sum_i sqrt(b_i)``, ``b_i`` the eigenvalues of ``L^T C L``
    (``Sigma = L L^T``, Cholesky), the same as those of ``Sigma^{1/2} C Sigma^{1/2}``. Using only a
    Cholesky factor and eigenvalues (no eigenvectors) keeps ``jax.grad`` finite for degenerate
    spectra. When ``Sigma`` and ``C`` commute this is ``sum_i (sqrt(lambda_i) - sqrt(c_i))^2``.

    Args:
      data_covariance: ``Sigma``, ``[d, d]`` symmetric positive definite.
      sampled_covariance: ``C``, ``[d, d]`` symmetric PSD (``+inf`` entries give ``+inf``).

    Returns:
      ``W2`` (not squared), a scalar.
    """
    sig = _check_square("data_covariance", data_covariance)
    c = _checks.check_rank("sampled_covariance", sampled_covariance, 2, "[d, d]")
    if c.shape != sig.shape:
        raise ValueError(f"sampled_covariance must have shape {sig.shape}, got {c.shape}")
    return _sampling_w2(sig, c)


def pipeline_w2(data_covariance: Any, empirical_covariance: Any, sigma: Any, eta: Any, *,
                gamma: Any = None, num_dsm_steps: Optional[int] = None,
                num_ula_steps: Optional[int] = None) -> jax.Array:
    """Exact W2 sampling error of the pipeline, from matrices.

    ``sampling_w2(Sigma, pipeline_covariance(Sigma_hat, sigma, eta, ...))``. Pass
    ``empirical_covariance=None`` (or ``Sigma`` itself) for the population limit.

    Args:
      data_covariance: ``Sigma``, ``[d, d]``.
      empirical_covariance: ``Sigma_hat``, ``[d, d]``, or ``None`` for ``Sigma``.
      sigma: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      eta: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      gamma: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_dsm_steps: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_ula_steps: see [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].

    Returns:
      ``W2`` (scalar).
    """
    data_covariance = _check_square("data_covariance", data_covariance)
    if empirical_covariance is None:
        empirical_covariance = data_covariance
    _check_square("empirical_covariance", empirical_covariance, data_covariance.shape[0])
    c = pipeline_covariance(empirical_covariance, sigma, eta, gamma=gamma,
                            num_dsm_steps=num_dsm_steps, num_ula_steps=num_ula_steps)
    return _sampling_w2(data_covariance, c)


# --------------------------------------------------------------------------------------------------
# per-eigenvalue closed forms


def _one_minus_pow(x: jax.Array, k: int) -> jax.Array:
    """``1 - (1 + x)^k`` for a static int ``k``, accurate for small ``x`` and grad-safe."""
    near = x > -0.5
    x_near = jnp.where(near, x, 0.0)
    via_log = -jnp.expm1(k * jnp.log1p(x_near))
    x_far = jnp.where(near, -1.0, x)
    direct = 1.0 - jax.lax.integer_pow(1.0 + x_far, k)
    return jnp.where(near, via_log, direct)


def dsm_eigenvalue(mu: Any, sigma: Any, num_dsm_steps: Optional[int] = None,
                   gamma: Any = None) -> jax.Array:
    """Eigenvalue ``a(mu)`` of the DSM score matrix along an eigenvalue ``mu`` of ``Sigma_hat``.

    ``a = 1 / m`` (minimiser) or ``a = [1 - (1 - gamma m)^K] / m`` (``K`` gradient steps),
    ``m = mu + sigma^2``. Elementwise; no validation (see [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix]).
    """
    m = mu + sigma**2
    if num_dsm_steps is None:
        return 1.0 / m
    zero = m == 0  # the limit gamma K (gradient descent is linear in K along a null direction)
    safe = jnp.where(zero, 1.0, m)
    return jnp.where(zero, gamma * num_dsm_steps, _one_minus_pow(-gamma * safe, num_dsm_steps) / safe)


def ula_variance(a: Any, eta: Any, num_ula_steps: Optional[int] = None) -> jax.Array:
    """ULA variance along an eigenvalue ``a`` of the score matrix, from ``x_0 = 0``.

    ``c_inf = 1 / (a (1 - eta a / 2))`` (``+inf`` unless ``0 < eta a < 2``) and
    ``c_k = c_inf [1 - (1 - eta a)^{2k}] = 2 eta sum_{j<k} (1 - eta a)^{2j}``. Elementwise.
    """
    x = eta * a
    if num_ula_steps is None:
        stable = (x > 0) & (x < 2)
        denom = jnp.where(stable, a * (1.0 - 0.5 * x), 1.0)
        return jnp.where(stable, 1.0 / denom, jnp.inf)
    # r = (1 - eta a)^2 = 1 + x (x - 2); c_k = 2 eta (1 - r^k) / (1 - r)
    r_minus_1 = x * (x - 2.0)
    degenerate = r_minus_1 == 0
    safe = jnp.where(degenerate, -1.0, r_minus_1)
    return jnp.where(degenerate, 2.0 * eta * num_ula_steps,
                     2.0 * eta * _one_minus_pow(safe, num_ula_steps) / (-safe))


def _langevin_variance(a: jax.Array, time: Optional[Any]) -> jax.Array:
    """Continuous-time Langevin ``dX = -a X dt + sqrt(2) dB`` from 0: ``(1 - e^{-2aT}) / a``."""
    if time is None:
        return 1.0 / a
    return -jnp.expm1(-2.0 * a * time) / a


def sampled_variance(mu: Any, sigma: Any, eta: Any, *, gamma: Any = None,
                     num_dsm_steps: Optional[int] = None,
                     num_ula_steps: Optional[int] = None) -> jax.Array:
    """``phi(mu) = c(a(mu))``: the sampled variance along an eigenvalue ``mu`` of ``Sigma_hat``.

    The pipeline acts on ``Sigma_hat`` as a spectral function: ``C = phi(Sigma_hat)``.
    Elementwise on ``mu``; see [`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue] and
    [`ula_variance`][langevin_jax.gaussian_dsm.ula_variance].
    """
    a = dsm_eigenvalue(mu, sigma, num_dsm_steps, gamma)
    return ula_variance(a, eta, num_ula_steps)


def _validate_spectral(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    spectrum = _check_spectrum("spectrum", spectrum)
    _check_nonneg("sigma", sigma)
    _check_scalar_positive("eta", eta)
    num_dsm_steps = _check_dsm_args(gamma, num_dsm_steps)
    num_ula_steps = _check_steps("num_ula_steps", num_ula_steps)
    _check_pipeline(spectrum, sigma, eta, gamma, num_dsm_steps)
    return spectrum, num_dsm_steps, num_ula_steps


@functools.partial(jax.jit, static_argnums=(4, 5))
def _kernel(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    c = sampled_variance(spectrum, sigma, eta, gamma=gamma, num_dsm_steps=num_dsm_steps,
                         num_ula_steps=num_ula_steps)
    return (jnp.sqrt(spectrum) - jnp.sqrt(c)) ** 2


def kernel(spectrum: Any, sigma: Any, eta: Any, *, gamma: Any = None,
           num_dsm_steps: Optional[int] = None, num_ula_steps: Optional[int] = None) -> jax.Array:
    """The per-eigenvalue error kernel ``k(lambda) = (sqrt(lambda) - sqrt(phi(lambda)))^2``.

    ``phi`` is [`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]. In the population limit (``Sigma_hat
    = Sigma``), and more
    generally whenever ``Sigma_hat`` commutes with ``Sigma``, the pipeline's sampling error is
    exactly ``W2^2 = sum_i k(lambda_i)``. Our derivation (module docstring).

    Args:
      spectrum: ``[d]`` eigenvalues ``lambda_i > 0`` of ``Sigma``.
      sigma: DSM noise ``>= 0``.
      eta: ULA step ``> 0``.
      gamma: DSM gradient-descent step (``None``: the exact minimiser).
      num_dsm_steps: DSM gradient-descent steps (``None``: the exact minimiser).
      num_ula_steps: ULA steps from 0 (``None``: stationary).

    Returns:
      ``[d]`` kernel values (``+inf`` where unstable under ``jit``).

    Raises:
      ValueError: bad arguments; an unstable ``eta`` or divergent ``gamma`` (concrete arguments).
    """
    spectrum, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return _kernel(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)


def kernel_w2(spectrum: Any, sigma: Any, eta: Any, *, gamma: Any = None,
              num_dsm_steps: Optional[int] = None,
              num_ula_steps: Optional[int] = None) -> jax.Array:
    """``W2 = sqrt(sum_i k(lambda_i))``: the sampling error as a kernel norm of the spectrum.

    Exact in the population limit ``Sigma_hat = Sigma`` (for any ``sigma``, ``gamma``, ``K``,
    ``eta``, ``k``); see [`kernel`][langevin_jax.gaussian_dsm.kernel] for the arguments and
    [`expected_kernel_w2`][langevin_jax.gaussian_dsm.expected_kernel_w2] for
    finite ``n``.
    """
    spectrum, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return _kernel_w2(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _kernel_w2(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    return jnp.sqrt(jnp.sum(_kernel(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)))


def _divided_differences(phi, x: jax.Array, y: jax.Array, rtol: float = 1e-3):
    """``phi[x, y]`` and ``phi[x, y, x]`` on a grid (pairs broadcast), stable for ``x ~ y``."""
    d1 = jax.vmap(jax.grad(phi))
    d2 = jax.vmap(jax.grad(jax.grad(phi)))
    shape = jnp.broadcast_shapes(x.shape, y.shape)
    x, y = jnp.broadcast_to(x, shape), jnp.broadcast_to(y, shape)
    flat = lambda f, z: f(z.ravel()).reshape(shape)
    close = jnp.abs(x - y) <= rtol * (jnp.abs(x) + jnp.abs(y))
    dx = jnp.where(close, 1.0, y - x)
    px, py = phi(x), phi(y)
    dpx = flat(d1, x)
    first = jnp.where(close, flat(d1, 0.5 * (x + y)), (py - px) / dx)
    second = jnp.where(close, 0.5 * flat(d2, (2.0 * x + y) / 3.0), (first - dpx) / dx)
    return first, second


def _kappa(phi, lam: jax.Array) -> jax.Array:
    """``kappa`` of [`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel] for the scalar map
    ``phi``, ``[d, d]``."""
    li, lj = lam[:, None], lam[None, :]
    first, second = _divided_differences(phi, li, lj)
    c = phi(lam)
    rb = jnp.sqrt(lam * c)
    cross = (li * lj) / (2.0 * rb[:, None] * rb[None, :] * (rb[:, None] + rb[None, :]))
    inner = second * (1.0 - jnp.sqrt(li / c[:, None])) + first**2 * cross
    mult = 1.0 + jnp.eye(lam.shape[0], dtype=lam.dtype)
    return mult * li * lj * inner


@functools.partial(jax.jit, static_argnums=(4, 5))
def _finite_sample_kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    phi = lambda mu: sampled_variance(mu, sigma, eta, gamma=gamma, num_dsm_steps=num_dsm_steps,
                                      num_ula_steps=num_ula_steps)
    return _kappa(phi, lam)


def finite_sample_kernel(spectrum: Any, sigma: Any, eta: Any, *, gamma: Any = None,
                         num_dsm_steps: Optional[int] = None,
                         num_ula_steps: Optional[int] = None) -> jax.Array:
    """The two-point kernel ``kappa`` of the finite-sample error (our second-order expansion).

    With ``Sigma_hat = Sigma + E`` (``E[E_ij^2] = (1 + delta_ij) lambda_i lambda_j / n`` in the
    eigenbasis of ``Sigma``), expanding ``C = phi(Sigma_hat)`` (Daleckii-Krein) and the Bures
    ``W2^2`` to second order in ``E``::

        E W2^2 = sum_i k(lambda_i) + (1/n) sum_{i,j} kappa(lambda_i, lambda_j) + O(n^-2),
        kappa(l_i, l_j) = (1 + delta_ij) l_i l_j [ phi[l_i, l_j, l_i] (1 - sqrt(l_i / c_i))
                          + phi[l_i, l_j]^2 l_i l_j / (2 sqrt(b_i b_j) (sqrt(b_i) + sqrt(b_j))) ],

    with ``c_i = phi(l_i)``, ``b_i = l_i c_i`` and ``phi[.]`` the divided differences of
    [`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]. Valid as ``n -> infinity`` at fixed ``d``
    (accurate for ``n >> d``);
    when every stage is ideal (``phi(mu) = mu``) it reduces to
    ``(1 + delta_ij) l_i l_j / (2 (l_i + l_j))``, the error of the empirical covariance itself.

    Args:
      spectrum: ``[d]``; other arguments as in [`kernel`][langevin_jax.gaussian_dsm.kernel].

    Returns:
      ``kappa``, ``[d, d]`` (``1/n`` not included).
    """
    lam, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return _finite_sample_kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _expected_w2_sq(lam, num_samples, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    k = _kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    kappa = _finite_sample_kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return jnp.sum(k) + jnp.sum(kappa) / num_samples


def expected_kernel_w2(spectrum: Any, num_samples: int, sigma: Any, eta: Any, *,
                       gamma: Any = None, num_dsm_steps: Optional[int] = None,
                       num_ula_steps: Optional[int] = None) -> jax.Array:
    """``sqrt(E W2^2)`` over the draw of ``n`` samples, to first order in ``1/n``.

    ``sqrt(sum_i k(lambda_i) + (1/n) sum_{i,j} kappa(lambda_i, lambda_j))`` (see
    [`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel]); an asymptotic formula (``n >> d``), not exact.
    """
    n = _checks.check_int_at_least("num_samples", num_samples, 1)
    lam, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    w2sq = _expected_w2_sq(lam, n, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return jnp.sqrt(jnp.clip(w2sq, 0.0))


@jax.jit
def _gaussian_fit_w2_bias(sig, c, n):
    chol = jnp.linalg.cholesky(0.5 * (sig + sig.T))
    r = jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(chol.T @ c @ chol), 0.0))
    mult = 1.0 + jnp.eye(r.shape[0], dtype=r.dtype)
    denom = jnp.where(r[:, None] + r[None, :] > 0, r[:, None] + r[None, :], 1.0)
    cov_term = jnp.sum(mult * r[:, None] * r[None, :] / (2.0 * denom))
    return jnp.trace(c) / n + cov_term / (n - 1)


def gaussian_fit_w2_bias(data_covariance: Any, sampled_covariance: Any,
                         num_samples: int) -> jax.Array:
    """Leading-order bias of the Gaussian-fit estimate of ``W2^2`` (our derivation).

    Fit ``N(m_hat, C_hat)`` (sample mean, unbiased sample covariance) to ``N`` draws of
    ``N(0, C)`` and compute the Bures ``W2^2`` to ``N(0, Sigma)``. Then
    ``E W2^2_fit - W2^2 = tr C / N + 1/(N - 1) sum_{p,q} (1 + delta_pq) r_p r_q / (2 (r_p + r_q))
    + O(N^-2)``, with ``r_p = sqrt(b_p)`` and ``b_p`` the eigenvalues of
    ``Sigma^{1/2} C Sigma^{1/2}`` (the first term is the fitted mean, the second the covariance's
    Wishart fluctuation through the concave ``tr sqrt``). At ``C = Sigma = I``: ``d/N + d(d+1)/(4N)``.

    Args:
      data_covariance: ``Sigma``, ``[d, d]``; sampled_covariance: ``C``, ``[d, d]``.
      num_samples: ``N >= 2`` samples in one fit.

    Returns:
      The bias of ``W2^2`` (scalar, in squared units).
    """
    sig = _check_square("data_covariance", data_covariance)
    c = _check_square("sampled_covariance", sampled_covariance, sig.shape[0])
    n = _checks.check_int_at_least("num_samples", num_samples, 2)
    return _gaussian_fit_w2_bias(sig, c, jnp.asarray(n, sig.dtype))


def max_stable_eta(spectrum: Any, sigma: Any, *, gamma: Any = None,
                   num_dsm_steps: Optional[int] = None) -> jax.Array:
    """Largest stable ULA step ``2 / a_max`` for the score learned on ``Sigma_hat``.

    Args:
      spectrum: ``[d]`` eigenvalues of ``Sigma_hat`` (of ``Sigma`` in the population limit).
      sigma: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].
      gamma: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].
      num_dsm_steps: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].

    Returns:
      ``2 / max_i a(mu_i)``; ULA is stationary iff ``eta`` is below it.
    """
    spectrum = _checks.check_rank("spectrum", spectrum, 1, "[d]")
    _check_nonneg("sigma", sigma)
    num_dsm_steps = _check_dsm_args(gamma, num_dsm_steps)
    return 2.0 / jnp.max(dsm_eigenvalue(spectrum, sigma, num_dsm_steps, gamma))


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _optimal_sigma(spectrum, eta, gamma, sigma_init, num_dsm_steps, num_ula_steps, num_samples,
                   num_iterations):
    dtype = spectrum.dtype
    lam_max = jnp.max(spectrum)

    def objective(sigma):
        a = dsm_eigenvalue(spectrum, sigma, num_dsm_steps, gamma)
        c = ula_variance(a, eta, num_ula_steps)
        total = jnp.sum((jnp.sqrt(spectrum) - jnp.sqrt(c)) ** 2)
        if num_samples is not None:
            phi = lambda mu: sampled_variance(mu, sigma, eta, gamma=gamma,
                                              num_dsm_steps=num_dsm_steps,
                                              num_ula_steps=num_ula_steps)
            total = total + jnp.sum(_kappa(phi, spectrum)) / num_samples
        ok = (eta * jnp.max(a) < 2) & jnp.isfinite(total)
        if num_dsm_steps is not None:
            ok = ok & (gamma * (lam_max + sigma**2) < 2)
        return jnp.where(ok, total, jnp.inf)

    value_and_grad = jax.value_and_grad(objective)

    def body(_, carry):
        sigma, value, grad, step = carry
        cand = jnp.maximum(sigma - step * jnp.sign(grad), 0.0)
        cand_value, cand_grad = value_and_grad(cand)
        accept = cand_value < value
        sigma = jnp.where(accept, cand, sigma)
        value = jnp.where(accept, cand_value, value)
        grad = jnp.where(accept, cand_grad, grad)
        step = jnp.where(accept, 1.2 * step, 0.5 * step)
        return sigma, value, grad, step

    sigma0 = jnp.asarray(sigma_init, dtype)
    value0, grad0 = value_and_grad(sigma0)
    sigma, value, _, _ = jax.lax.fori_loop(
        0, num_iterations, body, (sigma0, value0, grad0, 0.25 * sigma0))
    return sigma, jnp.sqrt(value)


def optimal_sigma(spectrum: Any, eta: Any, *, gamma: Any = None,
                  num_dsm_steps: Optional[int] = None, num_ula_steps: Optional[int] = None,
                  num_samples: Optional[int] = None, sigma_init: Any = None,
                  num_iterations: int = 200) -> tuple[jax.Array, jax.Array]:
    """The noise level ``sigma*(eta)`` minimising the closed-form W2, by gradient descent.

    Objective: ``kernel_w2(...)^2`` (population limit), or the first-order finite-sample
    ``expected_kernel_w2(...)^2`` when ``num_samples`` is given. Sign-of-gradient descent on
    ``sigma >= 0`` with an adaptive step (Rprop-style): a step is taken along ``-sign(dW2^2/dsigma)``
    and accepted only if it lowers the objective (step x1.2), else rejected (step x0.5); unstable
    ``sigma`` (``W2 = inf``) are thus never accepted. Jit-able and ``vmap``-able over ``eta``.

    Args:
      spectrum: ``[d]``.
      eta: ULA step ``> 0``.
      gamma: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_dsm_steps: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_ula_steps: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_samples: ``n`` for the finite-sample objective, or ``None``.
      sigma_init: start (default ``sqrt(eta)``, which is stable: ``eta a <= eta / sigma^2 = 1``).
      num_iterations: descent steps.

    Returns:
      ``(sigma_star, w2_star)``.
    """
    spectrum = _check_spectrum("spectrum", spectrum)
    _check_scalar_positive("eta", eta)
    num_dsm_steps = _check_dsm_args(gamma, num_dsm_steps)
    num_ula_steps = _check_steps("num_ula_steps", num_ula_steps)
    num_iterations = _checks.check_int_at_least("num_iterations", num_iterations, 1)
    if num_samples is not None:
        num_samples = _checks.check_int_at_least("num_samples", num_samples, 1)
    if sigma_init is None:
        sigma_init = jnp.sqrt(eta)
    else:
        _check_scalar_positive("sigma_init", sigma_init)
    return _optimal_sigma(spectrum, eta, gamma, sigma_init, num_dsm_steps, num_ula_steps,
                          num_samples, num_iterations)


# --------------------------------------------------------------------------------------------------
# error decomposition


class ErrorSources(NamedTuple):
    """One W2 value per error source (see [`error_decomposition`][langevin_jax.gaussian_dsm.error_decomposition])."""

    finite_samples: jax.Array
    optimisation: jax.Array
    noise_level: jax.Array
    discretisation: jax.Array
    finite_time: jax.Array


class ErrorDecomposition(NamedTuple):
    """The pipeline's W2 error and its sources.

    Attributes:
      total: W2 of the full pipeline (= [`pipeline_w2`][langevin_jax.gaussian_dsm.pipeline_w2]).
      alone: W2 with only that source switched on, all others ideal (from the ideal W2 = 0).
      marginal: ``total`` minus the W2 of the pipeline with only that source switched off.
    """

    total: jax.Array
    alone: ErrorSources
    marginal: ErrorSources


def _spectral_variances(mus, sigma, gamma, num_dsm_steps, eta, num_ula_steps, time):
    """``phi(mus)`` for one configuration; ``eta=None``: continuous time ``time`` (or stationary)."""
    a = dsm_eigenvalue(mus, sigma, num_dsm_steps, gamma)
    if eta is None:
        return _langevin_variance(a, time)
    return ula_variance(a, eta, num_ula_steps)


def error_decomposition(data_covariance: Any, empirical_covariance: Any, sigma: Any, eta: Any, *,
                        gamma: Any = None, num_dsm_steps: Optional[int] = None,
                        num_ula_steps: Optional[int] = None) -> ErrorDecomposition:
    """Each error source of the pipeline separately (our definitions).

    The *ideal* pipeline has ``Sigma_hat = Sigma`` (infinitely many samples), the exact DSM
    minimiser (``K = inf``), ``sigma = 0``, continuous-time Langevin (``eta -> 0``) run to
    stationarity: it samples ``N(0, Sigma)`` exactly (W2 = 0). The five sources and their switch:

    * ``finite_samples``: ``Sigma_hat`` instead of ``Sigma``. Alone: ``W2(Sigma, Sigma_hat)``.
    * ``optimisation``: ``K`` gradient steps of size ``gamma`` instead of the minimiser. Alone:
      ``c = lambda / (1 - (1 - gamma lambda)^K)``.
    * ``noise_level``: ``sigma`` instead of 0. Alone: ``c = lambda + sigma^2``.
    * ``discretisation``: ULA with step ``eta`` instead of continuous-time Langevin run for the same
      time ``T = k eta``. Alone (stationary): ``c = lambda / (1 - eta / (2 lambda))``, ``inf`` when
      ``eta >= 2 lambda_min`` (ULA with the exact score is then unstable).
    * ``finite_time``: ``k`` steps from 0 instead of stationarity; alone, the continuous-time
      process for ``T = k eta``: ``c = lambda (1 - exp(-2 T / lambda))``.

    ``alone`` is the W2 when only that source is on ("the W2 change from the ideal"); ``marginal``
    is ``total`` minus the W2 with only that source off (may be negative or ``-inf`` when removing
    one source, e.g. ``sigma -> 0``, makes the remainder unstable). W2 is a metric, not a sum of
    squares: the parts need not add up to ``total``.

    Args:
      data_covariance: ``Sigma``, ``[d, d]``.
      empirical_covariance: ``Sigma_hat``, ``[d, d]``, or ``None`` (population limit).
      sigma: as in [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      eta: as in [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      gamma: as in [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_dsm_steps: as in [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].
      num_ula_steps: as in [`pipeline_covariance`][langevin_jax.gaussian_dsm.pipeline_covariance].

    Returns:
      An [`ErrorDecomposition`][langevin_jax.gaussian_dsm.ErrorDecomposition].
    """
    sig = _check_square("data_covariance", data_covariance)
    emp = sig if empirical_covariance is None else _check_square(
        "empirical_covariance", empirical_covariance, sig.shape[0])
    _check_nonneg("sigma", sigma)
    _check_scalar_positive("eta", eta)
    num_dsm_steps = _check_dsm_args(gamma, num_dsm_steps)
    num_ula_steps = _check_steps("num_ula_steps", num_ula_steps)
    if _checks._is_concrete(emp):
        _check_pipeline(_np_eigvalsh(emp), sigma, eta, gamma, num_dsm_steps)
    return _decompose(sig, emp, sigma, eta, gamma, num_dsm_steps, num_ula_steps,
                      empirical_covariance is not None)


@functools.partial(jax.jit, static_argnums=(5, 6, 7))
def _decompose(sig, emp, sigma, eta, gamma, num_dsm_steps, num_ula_steps, has_samples):
    sig = 0.5 * (sig + sig.T)
    emp = 0.5 * (emp + emp.T)
    lam, u = jnp.linalg.eigh(sig)
    mu, v = jnp.linalg.eigh(emp)
    zero = jnp.zeros((), sig.dtype)
    time = None if num_ula_steps is None else eta * num_ula_steps
    present = dict(samples=has_samples, optim=num_dsm_steps is not None,
                   noise=True, discrete=True, finite=num_ula_steps is not None)
    names = ("samples", "optim", "noise", "discrete", "finite")
    off = dict.fromkeys(names, False)
    configs = [dict.fromkeys(names, True)]  # total
    configs += [{**off, n: True} for n in names]  # alone
    configs += [{**dict.fromkeys(names, True), n: False} for n in names]  # without
    mats, ideal = [], []
    for on in configs:
        ideal.append(not any(on[k] and present[k] for k in names))
        vecs, mus = (v, mu) if on["samples"] else (u, lam)
        c = _spectral_variances(
            mus, sigma if on["noise"] else zero,
            gamma if on["optim"] else None, num_dsm_steps if on["optim"] else None,
            eta if on["discrete"] else None, num_ula_steps if on["finite"] else None,
            time if on["finite"] else None)
        mats.append((vecs * c) @ vecs.T)  # +inf variances give a non-finite C: W2 = inf
    w2 = jax.vmap(_sampling_w2, (None, 0))(sig, jnp.stack(mats))
    # the ideal pipeline samples N(0, Sigma) exactly: W2 = 0 without rounding
    w2 = jnp.where(jnp.asarray(ideal), zero, w2)
    total, alone, without = w2[0], w2[1:6], w2[6:]
    return ErrorDecomposition(total, ErrorSources(*alone), ErrorSources(*(total - without)))
