r"""Per-eigenvalue closed forms and the kernel of the population limit.

Sections "The pipeline is a spectral function" and "The kernel (population limit)" of the
derivation (docs/paper2_gaussian_dsm.md). Along an eigenvalue $\mu$ of $\hat\Sigma$ the score
learned by DSM has the eigenvalue $a(\mu)$ ([`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue])
and ULA the variance $c(a)$ ([`ula_variance`][langevin_jax.gaussian_dsm.ula_variance]), so the
sampled covariance is $C = \varphi(\hat\Sigma)$ with $\varphi(\mu) = c(a(\mu))$
([`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]). When $\hat\Sigma = \Sigma$,
$W_2^2 = \sum_i k(\lambda_i)$ exactly, $k(\lambda) = \bigl(\sqrt{\lambda} - \sqrt{\varphi(\lambda)}\bigr)^2$
([`kernel`][langevin_jax.gaussian_dsm.kernel], [`kernel_w2`][langevin_jax.gaussian_dsm.kernel_w2]).
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp

from langevin_jax import theory
from langevin_jax.gaussian_dsm._validation import _validate_spectral
from langevin_jax.types import ArrayLike

__all__ = ["dsm_eigenvalue", "ula_variance", "sampled_variance", "kernel", "kernel_w2"]


def dsm_eigenvalue(mu: ArrayLike, sigma: ArrayLike, num_dsm_steps: Optional[int] = None,
                   gamma: Optional[ArrayLike] = None) -> jax.Array:
    r"""Eigenvalue $a(\mu)$ of the DSM score matrix along an eigenvalue $\mu$ of $\hat\Sigma$.

    $a = 1 / m$ (minimiser) or $a = [1 - (1 - \gamma m)^K] / m$ ($K$ gradient steps),
    $m = \mu + \sigma^2$
    ([`langevin_jax.theory.gradient_descent_inverse`][langevin_jax.theory.gradient_descent_inverse]
    at $m$). Elementwise; no validation (see [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix]).
    """
    return theory.gradient_descent_inverse(mu + sigma**2, gamma, num_dsm_steps)


def ula_variance(a: ArrayLike, eta: ArrayLike, num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""ULA variance along an eigenvalue $a$ of the score matrix, from $x_0 = 0$.

    $c_\infty = 1 / \bigl(a (1 - \eta a / 2)\bigr)$ ($+\infty$ unless $0 < \eta a < 2$) and
    $c_k = c_\infty [1 - (1 - \eta a)^{2k}] = 2 \eta \sum_{j<k} (1 - \eta a)^{2j}$. Elementwise:
    computed by [`langevin_jax.theory.ula_precision_variance`][langevin_jax.theory.ula_precision_variance]
    (accurate for small $\eta a$).
    """
    return theory.ula_precision_variance(a, eta, num_ula_steps)


def sampled_variance(mu: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
                     num_dsm_steps: Optional[int] = None,
                     num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""$\varphi(\mu) = c(a(\mu))$: the sampled variance along an eigenvalue $\mu$ of $\hat\Sigma$.

    The pipeline acts on $\hat\Sigma$ as a spectral function: $C = \varphi(\hat\Sigma)$.
    Elementwise on $\mu$; see [`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue] and
    [`ula_variance`][langevin_jax.gaussian_dsm.ula_variance].
    """
    a = dsm_eigenvalue(mu, sigma, num_dsm_steps, gamma)
    return ula_variance(a, eta, num_ula_steps)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _kernel(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    c = sampled_variance(spectrum, sigma, eta, gamma=gamma, num_dsm_steps=num_dsm_steps,
                         num_ula_steps=num_ula_steps)
    return (jnp.sqrt(spectrum) - jnp.sqrt(c)) ** 2


def kernel(spectrum: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
           num_dsm_steps: Optional[int] = None, num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""The per-eigenvalue error kernel $k(\lambda) = \bigl(\sqrt{\lambda} - \sqrt{\varphi(\lambda)}\bigr)^2$.

    $\varphi$ is [`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]. In the population limit
    ($\hat\Sigma = \Sigma$), and more generally whenever $\hat\Sigma$ commutes with $\Sigma$, the pipeline's
    sampling error is exactly $W_2^2 = \sum_i k(\lambda_i)$. Our derivation (see
    [`langevin_jax.gaussian_dsm`][langevin_jax.gaussian_dsm]).

    Args:
      spectrum: ``[d]`` eigenvalues $\lambda_i > 0$ of $\Sigma$.
      sigma: DSM noise $\sigma \ge 0$.
      eta: ULA step $\eta > 0$.
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


def kernel_w2(spectrum: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
              num_dsm_steps: Optional[int] = None,
              num_ula_steps: Optional[int] = None) -> jax.Array:
    r"""$W_2 = \sqrt{\sum_i k(\lambda_i)}$: the sampling error as a kernel norm of the spectrum.

    Exact in the population limit $\hat\Sigma = \Sigma$ (for any $\sigma$, $\gamma$, $K$,
    $\eta$, $k$); see [`kernel`][langevin_jax.gaussian_dsm.kernel] for the arguments and
    [`expected_kernel_w2`][langevin_jax.gaussian_dsm.expected_kernel_w2] for
    finite $n$.
    """
    spectrum, num_dsm_steps, num_ula_steps = _validate_spectral(
        spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)
    return _kernel_w2(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _kernel_w2(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    return jnp.sqrt(jnp.sum(_kernel(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps)))
