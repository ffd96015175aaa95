"""Per-eigenvalue closed forms and the kernel of the population limit.

Sections "The pipeline is a spectral function" and "The kernel (population limit)" of the
derivation (docs/paper2_gaussian_dsm.md). Along an eigenvalue ``mu`` of ``Sigma_hat`` the score
learned by DSM has the eigenvalue ``a(mu)`` ([`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue])
and ULA the variance ``c(a)`` ([`ula_variance`][langevin_jax.gaussian_dsm.ula_variance]), so the
sampled covariance is ``C = phi(Sigma_hat)`` with ``phi(mu) = c(a(mu))``
([`sampled_variance`][langevin_jax.gaussian_dsm.sampled_variance]). When ``Sigma_hat = Sigma``,
``W2^2 = sum_i k(lambda_i)`` exactly, ``k(lambda) = (sqrt(lambda) - sqrt(phi(lambda)))^2``
([`kernel`][langevin_jax.gaussian_dsm.kernel], [`kernel_w2`][langevin_jax.gaussian_dsm.kernel_w2]).
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import theory
from langevin_jax.theory import _one_minus_pow
from langevin_jax.gaussian_dsm._validation import _all_concrete, _check_dsm_args, _check_dsm_solvable
from langevin_jax.gaussian_dsm._validation import _check_eta_stable, _check_nonneg, _check_scalar_positive
from langevin_jax.gaussian_dsm._validation import _check_spectrum, _check_steps
from langevin_jax.types import ArrayLike

__all__ = ["dsm_eigenvalue", "ula_variance", "sampled_variance", "kernel", "kernel_w2"]


def dsm_eigenvalue(mu: ArrayLike, sigma: ArrayLike, num_dsm_steps: Optional[int] = None,
                   gamma: Optional[ArrayLike] = None) -> jax.Array:
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


def ula_variance(a: ArrayLike, eta: ArrayLike, num_ula_steps: Optional[int] = None) -> jax.Array:
    """ULA variance along an eigenvalue ``a`` of the score matrix, from ``x_0 = 0``.

    ``c_inf = 1 / (a (1 - eta a / 2))`` (``+inf`` unless ``0 < eta a < 2``) and
    ``c_k = c_inf [1 - (1 - eta a)^{2k}] = 2 eta sum_{j<k} (1 - eta a)^{2j}``. Elementwise:
    [`langevin_jax.theory.ula_precision_variance`][langevin_jax.theory.ula_precision_variance],
    the one implementation of the law (accurate for small ``eta a``).
    """
    return theory.ula_precision_variance(a, eta, num_ula_steps)


def sampled_variance(mu: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
                     num_dsm_steps: Optional[int] = None,
                     num_ula_steps: Optional[int] = None) -> jax.Array:
    """``phi(mu) = c(a(mu))``: the sampled variance along an eigenvalue ``mu`` of ``Sigma_hat``.

    The pipeline acts on ``Sigma_hat`` as a spectral function: ``C = phi(Sigma_hat)``.
    Elementwise on ``mu``; see [`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue] and
    [`ula_variance`][langevin_jax.gaussian_dsm.ula_variance].
    """
    a = dsm_eigenvalue(mu, sigma, num_dsm_steps, gamma)
    return ula_variance(a, eta, num_ula_steps)


def _check_pipeline(mu: Any, sigma: Any, eta: Any, gamma: Any,
                    num_dsm_steps: Optional[int]) -> None:
    """Eager stability checks from the eigenvalues ``mu`` of ``Sigma_hat`` (when concrete).

    ULA's bound uses the learned eigenvalues ``a(mu)`` from
    [`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue] itself, evaluated now in float64
    (even while a user's ``jit`` is traced), so the error message states the bound that
    [`max_stable_eta`][langevin_jax.gaussian_dsm.max_stable_eta] returns.
    """
    if not _all_concrete(mu, sigma, eta, gamma):
        return
    mu = np.asarray(mu, np.float64)
    _check_dsm_solvable(mu + float(sigma) ** 2, gamma, num_dsm_steps, "num_dsm_steps")
    with jax.enable_x64(True), jax.ensure_compile_time_eval():
        a = dsm_eigenvalue(jnp.asarray(mu), float(sigma), num_dsm_steps,
                           None if gamma is None else float(gamma))
        a_max = float(jnp.max(a))
    _check_eta_stable(eta, a_max)


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


def kernel(spectrum: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
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


def kernel_w2(spectrum: ArrayLike, sigma: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
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
