r"""The noise/step trade-off: the largest stable ULA step and the optimal noise level.

Section "The noise/step trade-off" of the derivation (docs/paper2_gaussian_dsm.md): the paper's
claim that the noise amplitude can be adapted to the step sizes. ULA with the learned score is
stable iff $\eta < 2 / \max_i a(\mu_i)$; raising $\sigma$ inflates every variance by $\sigma^2$ but
lowers ULA's inflation where $\lambda < \eta$, so $\sigma^*(\eta)$ minimises the closed-form $W_2$
(the population kernel, or its first-order finite-sample correction).
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.gaussian_dsm._validation import _check_dsm_args, _check_nonneg, _check_scalar_positive
from langevin_jax.gaussian_dsm._validation import _check_spectrum, _check_steps
from langevin_jax.gaussian_dsm.finite_samples import finite_sample_kernel
from langevin_jax.gaussian_dsm.spectral import dsm_eigenvalue, kernel
from langevin_jax.types import ArrayLike

__all__ = ["max_stable_eta", "optimal_sigma"]


def max_stable_eta(spectrum: ArrayLike, sigma: ArrayLike, *, gamma: Optional[ArrayLike] = None,
                   num_dsm_steps: Optional[int] = None) -> jax.Array:
    r"""Largest stable ULA step $2 / a_\text{max}$ for the score learned on $\hat\Sigma$.

    Args:
      spectrum: ``[d]`` eigenvalues $\mu_i$ of $\hat\Sigma$ (of $\Sigma$ in the population limit).
      sigma: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].
      gamma: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].
      num_dsm_steps: as in [`dsm_score_matrix`][langevin_jax.gaussian_dsm.dsm_score_matrix].

    Returns:
      $2 / \max_i a(\mu_i)$; ULA is stationary iff $\eta$ is below it.
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
        # the public functions: their eager checks skip these traced values
        kw = dict(gamma=gamma, num_dsm_steps=num_dsm_steps, num_ula_steps=num_ula_steps)
        total = jnp.sum(kernel(spectrum, sigma, eta, **kw))
        if num_samples is not None:
            total = total + jnp.sum(finite_sample_kernel(spectrum, sigma, eta, **kw)) / num_samples
        a = dsm_eigenvalue(spectrum, sigma, num_dsm_steps, gamma)
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


def optimal_sigma(spectrum: ArrayLike, eta: ArrayLike, *, gamma: Optional[ArrayLike] = None,
                  num_dsm_steps: Optional[int] = None, num_ula_steps: Optional[int] = None,
                  num_samples: Optional[int] = None, sigma_init: Optional[ArrayLike] = None,
                  num_iterations: int = 200) -> tuple[jax.Array, jax.Array]:
    r"""The noise level $\sigma^*(\eta)$ minimising the closed-form $W_2$, by gradient descent.

    Objective: ``kernel_w2(...)**2`` (population limit), or the first-order finite-sample
    ``expected_kernel_w2(...)**2`` when ``num_samples`` is given. Sign-of-gradient descent on
    $\sigma \ge 0$ with an adaptive step (Rprop-style): a step is taken along
    $-\operatorname{sign}(\partial W_2^2 / \partial \sigma)$ and accepted only if it lowers the objective
    (step $\times 1.2$), else rejected (step $\times 0.5$); unstable $\sigma$ ($W_2 = \infty$) are thus never
    accepted. Jit-able and ``vmap``-able over ``eta``.

    Args:
      spectrum: ``[d]``.
      eta: ULA step $\eta > 0$.
      gamma: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_dsm_steps: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_ula_steps: as in [`kernel`][langevin_jax.gaussian_dsm.kernel].
      num_samples: $n$ for the finite-sample objective, or ``None``.
      sigma_init: start (default $\sqrt{\eta}$, which is stable: $\eta a \le \eta / \sigma^2 = 1$).
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
