r"""Gaussian fits of a sample set: $\mathrm{KL}$ and $W_2$ from $\mathcal{N}(\hat m, \hat S)$ (sample mean,
unbiased sample covariance) to a reference Gaussian, computed by the closed forms of
[`langevin_jax.theory`][langevin_jax.theory], with their leading-order finite-sample biases and the
experiments' eager report (non-finite chains dropped and counted, float64 fit).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, theory
from langevin_jax.types import ArrayLike


def _fit(samples: jax.Array):
    n = samples.shape[0]
    m = jnp.mean(samples, axis=0)
    c = samples - m
    return m, (c.T @ c) / (n - 1)


def _check_fit_inputs(samples: ArrayLike, mean: ArrayLike, covariance: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""Validate ``samples`` ``[n >= 2, d]`` (finite) and the reference $\mathcal{N}(\text{mean}, \text{covariance})$:
    ``mean`` ``[d]`` finite, ``covariance`` ``[d, d]`` finite, symmetric and positive definite
    (value checks only where the reference is concrete)."""
    samples = _checks.check_rank("samples", samples, 2, "[n, d]")
    if samples.shape[0] < 2:
        raise ValueError(f"samples must contain at least 2 points, got {samples.shape[0]}")
    d = samples.shape[1]
    _checks.check_finite_array("samples", samples)
    mean = _checks.check_vector("mean", mean, d)
    _checks.check_covariance("covariance", covariance, d)
    return samples, mean


def gaussian_fit_kl(samples: ArrayLike, mean: ArrayLike, covariance: ArrayLike) -> jax.Array:
    r"""$\mathrm{KL}\bigl(\mathcal{N}(\hat m, \hat S) \,\|\, \mathcal{N}(\text{mean}, \text{covariance})\bigr)$ for the
    Gaussian fitted to ``samples``.

    $\hat m$ is the sample mean and $\hat S$ the unbiased sample covariance of
    ``samples`` ``[n, d]``. This is the paper's KL estimate (Cao et al. 2026, Table 1).

    Finite-sample bias: even when the samples come from the target exactly, the fit
    fluctuates, and to leading order $\mathbb{E}[\mathrm{KL}] - \mathrm{KL} = d (d + 3) / (4 n)$ when the sample
    law is near the target ($d/(2n)$ from the mean, $d (d + 1) / (4 n)$ from the
    covariance); see [`gaussian_fit_kl_bias`][langevin_jax.metrics.gaussian_fit_kl_bias]. With $d = 50$ and
    $n = 5000$ chains this is $0.1325$: state $n$ next to any number you report.

    Pure JAX (differentiable, jit-able). Compute under ``jax.enable_x64`` for large $d$.

    Returns ``+inf`` when the fitted covariance is singular ($n \le d$, or chains that
    collapsed onto fewer than $d + 1$ distinct points): the fit then has no density and
    the KL is infinite, which is reported as such, never as NaN.

    Raises:
      ValueError: fewer than ``2`` samples, mismatched ``d``, or non-finite samples
        (count and drop diverged chains before calling; never average them silently).
    """
    samples, mean = _check_fit_inputs(samples, mean, covariance)
    m, c = _fit(samples)
    dtype = samples.dtype
    kl = theory.gaussian_kl_unchecked(m, c, mean.astype(dtype), jnp.asarray(covariance, dtype))
    # a singular fit makes the Cholesky factor NaN (or the log-determinant -inf): KL = +inf
    return jnp.where(jnp.isnan(kl), jnp.inf, kl)


class FitReport(NamedTuple):
    r"""A Gaussian-fit KL as reported by an experiment: Python numbers.

    Attributes:
      value: $\mathrm{KL}\bigl(\mathcal{N}(\hat m, \hat S) \,\|\, \mathcal{N}(\text{mean}, \text{covariance})\bigr)$
        over the finite chains (``inf`` when fewer than $d + 1$ are left).
      num_used: finite chains the fit used.
      num_dropped: chains dropped because some coordinate was NaN/inf (report it).
    """

    value: float
    num_used: int
    num_dropped: int


def gaussian_fit_kl_report(samples: ArrayLike, mean: ArrayLike, covariance: ArrayLike) -> FitReport:
    """[`gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl] the way the experiments report
    it: chains with a non-finite coordinate are dropped *and counted*, the fit is done in float64.

    Eager only (it returns Python numbers and reads ``samples`` on the host); inside traced code
    use ``gaussian_fit_kl`` on finite samples.

    Args:
      samples: ``[n, d]`` final positions of the chains.
      mean: ``[d]`` reference mean.
      covariance: ``[d, d]`` reference covariance (positive definite).
    """
    xs = np.asarray(samples, np.float64)
    if xs.ndim != 2:
        raise ValueError(f"samples must have shape [n, d], got {xs.shape}")
    finite = np.all(np.isfinite(xs), axis=1)
    xs = xs[finite]
    used, dropped = int(xs.shape[0]), int((~finite).sum())
    if used < xs.shape[1] + 1:
        return FitReport(math.inf, used, dropped)
    with jax.enable_x64(True):
        value = gaussian_fit_kl(jnp.asarray(xs), jnp.asarray(mean, jnp.float64),
                                jnp.asarray(covariance, jnp.float64))
        return FitReport(float(value), used, dropped)


def _check_bias_args(d, n) -> None:
    d = _checks.check_int_at_least("d", d, 1)
    n = _checks.check_int_at_least("n", n, 2)
    if not n > d + 1:
        raise ValueError(f"n must be > d + 1 for a non-singular Gaussian fit, got n={n}, d={d}")


def gaussian_fit_kl_bias(d: int, n: int) -> float:
    """Leading-order finite-sample bias $d (d + 3) / (4 n)$ of [`gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl]
    ($n > d + 1$: with fewer samples the fit is singular and its KL infinite)."""
    _check_bias_args(d, n)
    return d * (d + 3) / (4.0 * n)


def gaussian_fit_w2(samples: ArrayLike, mean: ArrayLike, covariance: ArrayLike) -> jax.Array:
    r"""Bures-Wasserstein $W_2\bigl(\mathcal{N}(\hat m, \hat S), \mathcal{N}(\text{mean}, \text{covariance})\bigr)$ of the
    fitted Gaussian.

    Finite-sample bias: for samples from $\mathcal{N}(0, I_d)$ itself,
    $\mathbb{E}[W_2^2] \approx d / n + d (d + 1) / \bigl(4 (n - 1)\bigr)$ to leading order ($d/n$ from the mean,
    $\operatorname{tr}(E^2)/4$ from the covariance fluctuation $E = \hat S - I$); for other covariances see
    [`gaussian_fit_w2_bias`][langevin_jax.metrics.gaussian_fit_w2_bias].

    Raises:
      ValueError: as [`gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl].
    """
    samples, mean = _check_fit_inputs(samples, mean, covariance)
    m, c = _fit(samples)
    dtype = samples.dtype
    return theory.gaussian_w2_unchecked(m, c, mean.astype(dtype), jnp.asarray(covariance, dtype))


@jax.jit
def _fit_w2_bias(sig, c, n):
    chol = jnp.linalg.cholesky(0.5 * (sig + sig.T))
    r = jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(chol.T @ c @ chol), 0.0))
    mult = 1.0 + jnp.eye(r.shape[0], dtype=r.dtype)
    denom = jnp.where(r[:, None] + r[None, :] > 0, r[:, None] + r[None, :], 1.0)
    cov_term = jnp.sum(mult * r[:, None] * r[None, :] / (2.0 * denom))
    return jnp.trace(c) / n + cov_term / (n - 1)


# Maintainers' note: the one implementation of this bias; `gaussian_dsm.gaussian_fit_w2_bias` calls it.
def gaussian_fit_w2_bias(d: int, n: int, *, data_covariance: Optional[ArrayLike] = None,
                         sampled_covariance: Optional[ArrayLike] = None) -> Union[float, jax.Array]:
    r"""Leading-order bias of ``gaussian_fit_w2(...)**2`` (paper 2's spelling, with other arguments:
    [`langevin_jax.gaussian_dsm.gaussian_fit_w2_bias`][langevin_jax.gaussian_dsm.gaussian_fit_w2_bias]).

    Fit $\mathcal{N}(\hat m, \hat C)$ (sample mean, unbiased sample covariance) to $n$ draws of
    $\mathcal{N}(0, C)$ and compute the Bures $W_2^2$ to $\mathcal{N}(0, \Sigma)$. Then

    $$
    \mathbb{E}\, W_{2,\text{fit}}^2 - W_2^2 = \frac{\operatorname{tr} C}{n}
    + \frac{1}{n - 1} \sum_{p,q} \frac{(1 + \delta_{pq})\, r_p r_q}{2 (r_p + r_q)} + O(n^{-2}),
    $$

    with $r_p$ the square roots of the eigenvalues of $\Sigma^{1/2} C \Sigma^{1/2}$
    (the first term is the fitted mean, the second the covariance's Wishart fluctuation through
    the concave $\operatorname{tr} \sqrt{\cdot}$); derived in ``docs/paper2_gaussian_dsm.md``.

    Args:
      d: the dimension $d$.
      n: samples in one fit ($n > d + 1$ without covariances, $n \ge 2$ with them).
      data_covariance: $\Sigma$, ``[d, d]``, positive definite; unset (with
        ``sampled_covariance``): $\Sigma = C = I$, where the bias is
        $d / n + d (d + 1) / \bigl(4 (n - 1)\bigr)$.
      sampled_covariance: $C$, ``[d, d]``, positive semidefinite (the sampler's law).

    Returns:
      The bias of $W_2^2$, a float for $\Sigma = C = I$, else a scalar array.
    """
    if data_covariance is None and sampled_covariance is None:
        _check_bias_args(d, n)
        return d / n + d * (d + 1) / (4.0 * (n - 1))
    if data_covariance is None or sampled_covariance is None:
        raise ValueError("give both data_covariance and sampled_covariance, or neither (Sigma = C = I)")
    d = _checks.check_int_at_least("d", d, 1)
    n = _checks.check_int_at_least("n", n, 2)
    sig = _checks.check_covariance("data_covariance", data_covariance, d)
    c = _checks.check_covariance("sampled_covariance", sampled_covariance, d, definite=False)
    return _fit_w2_bias(sig, c, jnp.asarray(n, sig.dtype))
