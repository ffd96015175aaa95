r"""Error sources: the pipeline's $W_2$ error with each source switched on or off alone.

Section "Error sources" of the derivation (docs/paper2_gaussian_dsm.md), our definitions. The
ideal pipeline (infinitely many samples, the exact DSM minimiser, $\sigma = 0$, continuous-time
Langevin run to stationarity) samples $\mathcal{N}(0, \Sigma)$ exactly; each of the five sources (finite
samples, optimisation, noise level, discretisation, finite sampling time) is measured alone and as
the marginal change when only it is removed, with the exact Bures $W_2$ of the spectral covariance.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.gaussian_dsm._validation import _check_dsm_args, _check_nonneg, _check_scalar_positive
from langevin_jax.gaussian_dsm._validation import _check_pipeline, _check_square, _check_steps, _np_eigvalsh
from langevin_jax.gaussian_dsm.exact import sampling_w2
from langevin_jax.gaussian_dsm.spectral import dsm_eigenvalue, ula_variance
from langevin_jax.types import ArrayLike

__all__ = ["ErrorSources", "ErrorDecomposition", "error_decomposition"]


class ErrorSources(NamedTuple):
    """One $W_2$ value per error source (see [`error_decomposition`][langevin_jax.gaussian_dsm.error_decomposition])."""

    finite_samples: jax.Array
    optimisation: jax.Array
    noise_level: jax.Array
    discretisation: jax.Array
    finite_time: jax.Array


class ErrorDecomposition(NamedTuple):
    """The pipeline's $W_2$ error and its sources.

    Attributes:
      total: $W_2$ of the full pipeline (= [`pipeline_w2`][langevin_jax.gaussian_dsm.pipeline_w2]).
      alone: $W_2$ with only that source switched on, all others ideal (from the ideal $W_2 = 0$).
      marginal: ``total`` minus the $W_2$ of the pipeline with only that source switched off.
    """

    total: jax.Array
    alone: ErrorSources
    marginal: ErrorSources


def _langevin_variance(a: jax.Array, time: Optional[Any]) -> jax.Array:
    r"""Continuous-time Langevin $dX = -a X\, dt + \sqrt{2}\, dB$ from 0: variance $(1 - e^{-2aT}) / a$."""
    if time is None:
        return 1.0 / a
    return -jnp.expm1(-2.0 * a * time) / a


def _spectral_variances(mus, sigma, gamma, num_dsm_steps, eta, num_ula_steps, time):
    r"""$\varphi(\mu)$ at the eigenvalues ``mus`` for one configuration; ``eta=None``: continuous time
    ``time`` (or stationary)."""
    a = dsm_eigenvalue(mus, sigma, num_dsm_steps, gamma)
    if eta is None:
        return _langevin_variance(a, time)
    return ula_variance(a, eta, num_ula_steps)


def error_decomposition(data_covariance: ArrayLike, empirical_covariance: Optional[ArrayLike], sigma: ArrayLike,
                        eta: ArrayLike, *, gamma: Optional[ArrayLike] = None, num_dsm_steps: Optional[int] = None,
                        num_ula_steps: Optional[int] = None) -> ErrorDecomposition:
    r"""Each error source of the pipeline separately (our definitions).

    The *ideal* pipeline has $\hat\Sigma = \Sigma$ (infinitely many samples), the exact DSM
    minimiser ($K = \infty$), $\sigma = 0$, continuous-time Langevin ($\eta \to 0$) run to
    stationarity: it samples $\mathcal{N}(0, \Sigma)$ exactly ($W_2 = 0$). The five sources and their switch:

    * ``finite_samples``: $\hat\Sigma$ instead of $\Sigma$. Alone: $W_2(\Sigma, \hat\Sigma)$.
    * ``optimisation``: $K$ gradient steps of size $\gamma$ instead of the minimiser. Alone:
      $c = \lambda / \bigl(1 - (1 - \gamma \lambda)^K\bigr)$.
    * ``noise_level``: $\sigma$ instead of 0. Alone: $c = \lambda + \sigma^2$.
    * ``discretisation``: ULA with step $\eta$ instead of continuous-time Langevin run for the same
      time $T = k \eta$. Alone (stationary): $c = \lambda / \bigl(1 - \eta / (2 \lambda)\bigr)$, $\infty$ when
      $\eta \ge 2 \lambda_\text{min}$ (ULA with the exact score is then unstable).
    * ``finite_time``: $k$ steps from 0 instead of stationarity; alone, the continuous-time
      process for $T = k \eta$: $c = \lambda \bigl(1 - e^{-2 T / \lambda}\bigr)$.

    ``alone`` is the $W_2$ when only that source is on ("the $W_2$ change from the ideal"); ``marginal``
    is ``total`` minus the $W_2$ with only that source off (may be negative or ``-inf`` when removing
    one source, e.g. $\sigma \to 0$, makes the remainder unstable). $W_2$ is a metric, not a sum of
    squares: the parts need not add up to ``total``.

    Args:
      data_covariance: $\Sigma$, ``[d, d]``.
      empirical_covariance: $\hat\Sigma$, ``[d, d]``, or ``None`` (population limit).
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
    if _checks.is_concrete(emp):
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
    w2 = jax.vmap(sampling_w2, (None, 0))(sig, jnp.stack(mats))  # its eager checks skip traced values
    # the ideal pipeline samples N(0, Sigma) exactly: W2 = 0 without rounding
    w2 = jnp.where(jnp.asarray(ideal), zero, w2)
    total, alone, without = w2[0], w2[1:6], w2[6:]
    return ErrorDecomposition(total, ErrorSources(*alone), ErrorSources(*(total - without)))
