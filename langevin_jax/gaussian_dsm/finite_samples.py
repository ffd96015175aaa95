r"""Finite samples: the two-point kernel of the $1/n$ error and the Gaussian-fit bias.

Sections "Finite n: a two-point kernel" and "Gaussian-fit bias" of the derivation
(docs/paper2_gaussian_dsm.md). With $\hat\Sigma = \Sigma + E$ the matrices no longer commute; our
second-order expansion of $C = \varphi(\hat\Sigma)$ (Daleckii-Krein) and of the Bures $W_2^2$ gives
$\mathbb{E}\, W_2^2 = \sum_i k(\lambda_i) + \frac{1}{n} \sum_{i,j} \kappa(\lambda_i, \lambda_j) + O(n^{-2})$,
accurate for $n \gg d$. The same expansion, with a Wishart fluctuation of $C$, gives the leading bias of the
$W_2$ of a Gaussian fitted to $N$ samples (used to debias the simulated leg of the three-way check).
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.gaussian_dsm._validation import _check_square, _validate_spectral
from langevin_jax.gaussian_dsm.spectral import kernel, sampled_variance
from langevin_jax.metrics import gaussian_fit
from langevin_jax.types import ArrayLike

__all__ = ["finite_sample_kernel", "expected_kernel_w2", "gaussian_fit_w2_bias"]


def _divided_differences(phi, x: jax.Array, y: jax.Array, rtol: float = 1e-3):
    r"""$\varphi[x, y]$ and $\varphi[x, y, x]$ on a grid (pairs broadcast), stable for $x \approx y$."""
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
    r"""$\kappa$ of [`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel] for the scalar map
    $\varphi$, ``[d, d]``."""
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


def finite_sample_kernel(spectrum: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *,
                         gamma: Optional[ArrayLike] = None,
                         num_dsm_steps: Optional[int] = None,
                         num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""The two-point kernel $\kappa$ of the finite-sample error (our second-order expansion).

    With $\hat\Sigma = \Sigma + E$ ($\mathbb{E}[E_{ij}^2] = (1 + \delta_{ij}) \lambda_i \lambda_j / n$ in the
    eigenbasis of $\Sigma$), expanding $C = \varphi(\hat\Sigma)$ (Daleckii-Krein) and the Bures
    $W_2^2$ to second order in $E$:

    $$
    \begin{aligned}
    \mathbb{E}\, W_2^2 &= \sum_i k(\lambda_i) + \frac{1}{n} \sum_{i,j} \kappa(\lambda_i, \lambda_j) + O(n^{-2}), \\
    \kappa(l_i, l_j) &= (1 + \delta_{ij})\, l_i l_j \Bigl[\varphi[l_i, l_j, l_i] \bigl(1 - \sqrt{l_i / c_i}\bigr)
    + \frac{\varphi[l_i, l_j]^2\, l_i l_j}{2 \sqrt{b_i b_j} \bigl(\sqrt{b_i} + \sqrt{b_j}\bigr)}\Bigr],
    \end{aligned}
    $$

    with $c_i = \varphi(l_i)$, $b_i = l_i c_i$ and $\varphi[\cdot]$ the divided differences of
    [`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]. Valid as $n \to \infty$ at fixed $d$
    (accurate for $n \gg d$);
    when every stage is ideal ($\varphi(\mu) = \mu$) it reduces to
    $(1 + \delta_{ij})\, l_i l_j / \bigl(2 (l_i + l_j)\bigr)$, the error of the empirical covariance itself.

    Args:
      spectrum: ``[d]``; other arguments as in [`kernel`][langevin_jax.gaussian_dsm.kernel].

    Returns:
      $\kappa$, ``[d, d]`` ($1/n$ not included).
    """
    lam, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return _finite_sample_kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _expected_w2_sq(lam, num_samples, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    k = kernel(lam, sigma, eta, gamma=gamma, num_dsm_steps=num_dsm_steps, num_ula_steps=num_ula_steps)
    kappa = _finite_sample_kernel(lam, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return jnp.sum(k) + jnp.sum(kappa) / num_samples


def expected_kernel_w2(spectrum: ArrayLike, num_samples: int, sigma: ArrayLike, eta: ArrayLike, *,
                       gamma: Optional[ArrayLike] = None, num_dsm_steps: Optional[int] = None,
                       num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""$\sqrt{\mathbb{E}\, W_2^2}$ over the draw of $n$ samples, to first order in $1/n$.

    $\sqrt{\sum_i k(\lambda_i) + \frac{1}{n} \sum_{i,j} \kappa(\lambda_i, \lambda_j)}$ (see
    [`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel]); an asymptotic formula
    ($n \gg d$), not exact.
    """
    n = _checks.check_int_at_least("num_samples", num_samples, 1)
    lam, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    w2sq = _expected_w2_sq(lam, n, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return jnp.sqrt(jnp.clip(w2sq, 0.0))


def gaussian_fit_w2_bias(data_covariance: ArrayLike, sampled_covariance: ArrayLike,
                         num_samples: int) -> jax.Array:
    r"""Leading-order bias of the Gaussian-fit estimate of $W_2^2$ (our derivation): the
    paper-2 spelling of [`langevin_jax.metrics.gaussian_fit_w2_bias`][langevin_jax.metrics.gaussian_fit_w2_bias],
    which holds the formula.

    Fit $\mathcal{N}(\hat m, \hat C)$ (sample mean, unbiased sample covariance) to $N$ draws of
    $\mathcal{N}(0, C)$ and compute the Bures $W_2^2$ to $\mathcal{N}(0, \Sigma)$. Then

    $$
    \mathbb{E}\, W_{2,\text{fit}}^2 - W_2^2 = \frac{\operatorname{tr} C}{N}
    + \frac{1}{N - 1} \sum_{p,q} \frac{(1 + \delta_{pq})\, r_p r_q}{2 (r_p + r_q)} + O(N^{-2}),
    $$

    with $r_p = \sqrt{b_p}$ and $b_p$ the eigenvalues of
    $\Sigma^{1/2} C \Sigma^{1/2}$. At $C = \Sigma = I$: $d/N + d(d+1)/\bigl(4(N-1)\bigr)$.

    Args:
      data_covariance: $\Sigma$, ``[d, d]``; sampled_covariance: $C$, ``[d, d]``.
      num_samples: $N \ge 2$ samples in one fit.

    Returns:
      The bias of $W_2^2$ (scalar, in squared units).

    Raises:
      ValueError: a matrix that is not ``[d, d]``, finite and symmetric (naming it), or, when
        concrete, a ``data_covariance`` that is not positive definite or a ``sampled_covariance``
        that is not positive semidefinite (the checks of the metrics function); ``num_samples < 2``.
    """
    sig = _check_square("data_covariance", data_covariance)
    c = _check_square("sampled_covariance", sampled_covariance, sig.shape[0])
    n = _checks.check_int_at_least("num_samples", num_samples, 2)
    # with both covariances given the metrics function returns an array
    return jnp.asarray(gaussian_fit.gaussian_fit_w2_bias(sig.shape[0], n, data_covariance=sig, sampled_covariance=c))
