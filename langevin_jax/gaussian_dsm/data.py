r"""The data: a power-law spectrum and the empirical covariance of $n$ Gaussian samples.

Section "Data" of the derivation (docs/paper2_gaussian_dsm.md). $x_1, \dots, x_n \sim \mathcal{N}(0, \Sigma)$,
$\Sigma = U \operatorname{diag}(\lambda) U^\top$ with the power spectrum $\lambda$ (e.g. $\lambda_i = i^{-a}$, the
anisotropy of the data); the mean is known (zero), so $\hat\Sigma = \frac{1}{n} \sum_j x_j x_j^\top$ and
$n \hat\Sigma \sim \mathrm{Wishart}(n, \Sigma)$. Everything after the data depends on them only through
$\hat\Sigma$.
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.gaussian_dsm._validation import _check_nonneg, _check_spectrum, _check_square
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = ["power_law_spectrum", "sample_empirical_covariance"]

def power_law_spectrum(d: int, a: float) -> jax.Array:
    r"""The power-law spectrum $\lambda_i = i^{-a}$, $i = 1, \dots, d$, shape ``[d]``.

    Args:
      d: dimension $d \ge 1$.
      a: exponent $a \ge 0$ (anisotropy); $a = 0$ is isotropic.
    """
    d = _checks.check_int_at_least("d", d, 1)
    _check_nonneg("a", a)
    dtype = jnp.result_type(float)
    if _checks.is_concrete(a):
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


def sample_empirical_covariance(key: PRNGKey, spectrum: ArrayLike, num_samples: int,
                                basis: ArrayLike | None = None) -> jax.Array:
    r"""Empirical covariance $\hat\Sigma = \frac{1}{n} \sum_j x_j x_j^\top$ of $n$ draws of $\mathcal{N}(0, \Sigma)$.

    $\Sigma = B \operatorname{diag}(\lambda) B^\top$ ($B$ = ``basis``, $\lambda$ = ``spectrum``). The mean is
    known (zero) and not subtracted, so $n \hat\Sigma \sim \mathrm{Wishart}(n, \Sigma)$ and
    $\mathbb{E}\, \hat\Sigma = \Sigma$.

    Args:
      key: PRNG key.
      spectrum: ``[d]`` eigenvalues $\lambda_i > 0$.
      num_samples: $n \ge 1$.
      basis: ``[d, d]`` orthonormal eigenvectors (columns); identity when omitted.

    Returns:
      ``[d, d]`` symmetric PSD matrix (rank $\min(n, d)$).
    """
    spectrum = _check_spectrum("spectrum", spectrum)
    n = _checks.check_int_at_least("num_samples", num_samples, 1)
    if basis is not None:
        basis = _check_square("basis", basis, spectrum.shape[0], symmetric=False).astype(
            spectrum.dtype)
        _checks.check_orthonormal("basis", basis)
    return _sample_empirical_covariance(key, spectrum, basis, n)
