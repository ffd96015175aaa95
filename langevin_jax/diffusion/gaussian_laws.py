r"""Exact laws of the reverse samplers driven by the exact denoiser of a Gaussian data law.

With data $\mathcal{N}(m, C)$, $C = U \operatorname{diag}(\lambda) U^\top$, the exact noise predictor
([`gaussian_eps_fn`][langevin_jax.diffusion.gaussian_eps_fn]) is affine in $x$:
$\varepsilon(x, t) = \sqrt{1 - \bar\alpha_t}\, \bigl(x - \sqrt{\bar\alpha_t}\, m\bigr) / v_t$ in the eigenbasis, with
$v_t = \bar\alpha_t \lambda + 1 - \bar\alpha_t$. Every step of DDPM, DDIM, NCSN and the
reverse-diffusion predictor is then, coordinate by coordinate in the eigenbasis,

$$
z' = a z + b + \sqrt{q}\, \xi, \qquad \xi \sim \mathcal{N}(0, I),
$$

so a Gaussian start stays Gaussian and its mean and covariance follow
$\mu' = a \mu + b$, $S' = (a a^\top) \odot S + q I$ ($\odot$ the entrywise product). These functions run
that recursion (a
``lax.scan``, traceable, in the inputs' floating dtype) and return the law of the sampler's
output. They are the closed forms the tests check the samplers against, and a researcher's way
to separate a sampler's own discretisation error from a network's.

The predictor-corrector sampler's corrector has no such form: its step
$e = 2 \alpha \bigl(r |z| / |s(x)|\bigr)^2$ depends on the noise and on $|s(x)|$, so the update is not
affine; [`pc_gaussian_law`][langevin_jax.diffusion.pc_gaussian_law] covers ``corrector_steps=0``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.diffusion.ddim import ddim_levels
from langevin_jax.diffusion.ncsn import ncsn_levels
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar, check_level
from langevin_jax.types import ArrayLike

__all__ = ["GaussianLaw", "ddpm_gaussian_law", "ddim_gaussian_law", "ncsn_gaussian_law", "pc_gaussian_law"]


class GaussianLaw(NamedTuple):
    """``mean`` ``[d]`` and ``covariance`` ``[d, d]`` of a Gaussian law."""

    mean: jax.Array
    covariance: jax.Array


def _prepare(mean, covariance, initial_mean, initial_covariance):
    mean = _checks.check_vector("mean", mean)
    d = mean.shape[0]
    covariance = _checks.check_covariance("covariance", covariance, d)
    dtype = jnp.result_type(mean.dtype, covariance.dtype, jnp.float32)
    lam, u = jnp.linalg.eigh(0.5 * (covariance + covariance.T).astype(dtype))
    mu0 = jnp.zeros(d, dtype) if initial_mean is None else _checks.check_vector("initial_mean", initial_mean, d)
    s0 = jnp.eye(d, dtype=dtype) if initial_covariance is None else _checks.check_covariance(
        "initial_covariance", initial_covariance, d)
    return lam, u, u.T @ mean.astype(dtype), u.T @ mu0.astype(dtype), u.T @ s0.astype(dtype) @ u


def _run_affine(a, b, q, u, mu, cov) -> GaussianLaw:
    r"""$\mu' = a \mu + b$, $S' = (a a^\top) \odot S + q I$ over the rows of ``a, b [K, d]``, ``q [K]``,
    in the eigenbasis ``u``; the law back in the original basis."""
    eye = jnp.eye(mu.shape[0], dtype=mu.dtype)

    def one(carry, abq):
        mu, cov = carry
        a_k, b_k, q_k = abq
        return (a_k * mu + b_k, a_k[:, None] * cov * a_k[None, :] + q_k * eye), None

    (mu, cov), _ = jax.lax.scan(one, (mu, cov), (a.astype(mu.dtype), b.astype(mu.dtype), q.astype(mu.dtype)))
    return GaussianLaw(u @ mu, u @ cov @ u.T)


def _level_terms(schedule, t, lam, mz, dtype):
    r"""$\bar\alpha_t$ ``[K, 1]``, $v_t$ ``[K, d]`` and $\sqrt{\bar\alpha_t}\, m / v_t$ ``[K, d]`` for levels
    $t$ ``[K]``."""
    ab = alphabar(schedule, t).astype(dtype)[:, None]
    v = ab * lam[None, :] + 1.0 - ab
    return ab, v, jnp.sqrt(ab) * mz[None, :] / v


def _start(schedule, start_level):
    return check_level("start_level", schedule.num_levels if start_level is None else start_level, schedule)


def ddpm_gaussian_law(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike, *,
                      start_level: Optional[int] = None, variance: str = "beta", num_steps: Optional[int] = None,
                      initial_mean: Optional[ArrayLike] = None,
                      initial_covariance: Optional[ArrayLike] = None) -> GaussianLaw:
    r"""The exact law of [`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler] with
    ``gaussian_eps_fn(schedule, mean, covariance)``, after ``num_steps`` (default
    ``start_level``) steps from $\mathcal{N}(\mathtt{initial\_mean}, \mathtt{initial\_covariance})$ (default
    $\mathcal{N}(0, I)$).

    Per level $t$: $a = (1 - \beta_t / v_t) / \sqrt{\alpha_t}$,
    $b = \beta_t \sqrt{\bar\alpha_t}\, m / \bigl(v_t \sqrt{\alpha_t}\bigr)$, $q = \sigma_t^2$ (0 at $t = 1$).

    Args:
      schedule: the noise schedule.
      mean: ``[d]``, the data law's mean.
      covariance: ``[d, d]``, the data law's covariance.
      start_level: as in ``ddpm_sampler`` (default $T$).
      variance: as in ``ddpm_sampler``.
      num_steps: steps taken, ``1 <= num_steps <= start_level``.
      initial_mean: ``[d]``, the mean of the initial positions (default 0).
      initial_covariance: ``[d, d]``, their covariance (default $I$).

    Returns:
      A [`GaussianLaw`][langevin_jax.diffusion.GaussianLaw].
    """
    _checks.check_choice("variance", variance, ("beta", "posterior"))
    start = _start(schedule, start_level)
    n = start if num_steps is None else _checks.check_int_at_least("num_steps", num_steps, 1)
    if n > start:
        raise ValueError(f"num_steps={n} exceeds start_level={start}")
    lam, u, mz, mu, cov = _prepare(mean, covariance, initial_mean, initial_covariance)
    t = jnp.arange(start, start - n, -1)
    beta = schedule.betas[t - 1].astype(mu.dtype)[:, None]
    alpha = schedule.alphas[t - 1].astype(mu.dtype)[:, None]
    ab, v, c = _level_terms(schedule, t, lam, mz, mu.dtype)
    a = (1.0 - beta / v) / jnp.sqrt(alpha)
    b = beta * c / jnp.sqrt(alpha)
    var = beta[:, 0]
    if variance == "posterior":
        var = var * (1.0 - alphabar(schedule, t - 1).astype(mu.dtype)) / (1.0 - ab[:, 0])
    q = jnp.where(t > 1, var, 0.0)
    return _run_affine(a, b, q, u, mu, cov)


def ddim_gaussian_law(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike,
                      num_steps: Optional[int] = None, *, start_level: Optional[int] = None, eta: float = 0.0,
                      initial_mean: Optional[ArrayLike] = None,
                      initial_covariance: Optional[ArrayLike] = None) -> GaussianLaw:
    r"""The exact law of [`ddim_sampler`][langevin_jax.diffusion.ddim_sampler] with the exact
    Gaussian denoiser, after all its ``num_steps`` levels (same arguments).

    With $\varepsilon = e_1 x + e_0$ ($e_1 = \sqrt{1 - \bar\alpha_t} / v_t$, $e_0 = -e_1 \sqrt{\bar\alpha_t}\, m$),
    $\hat x_0 = c_1 x + c_0$ and $\mathrm{dir} = \sqrt{1 - \bar\alpha_s - \sigma^2}$:
    $a = \sqrt{\bar\alpha_s}\, c_1 + \mathrm{dir}\, e_1$, $b = \sqrt{\bar\alpha_s}\, c_0 + \mathrm{dir}\, e_0$,
    $q = \sigma^2$.
    """
    start = _start(schedule, start_level)
    num = start if num_steps is None else _checks.check_int_at_least("num_steps", num_steps, 1)
    if num > start:
        raise ValueError(f"num_steps={num} exceeds start_level={start}")
    _checks.check_nonnegative("eta", eta)
    lam, u, mz, mu, cov = _prepare(mean, covariance, initial_mean, initial_covariance)
    levels = jnp.asarray(ddim_levels(start, num))
    t, s = levels[:-1], levels[1:]
    ab_t, v, _ = _level_terms(schedule, t, lam, mz, mu.dtype)
    ab_s = alphabar(schedule, s).astype(mu.dtype)[:, None]
    e1 = jnp.sqrt(1.0 - ab_t) / v
    e0 = -e1 * jnp.sqrt(ab_t) * mz[None, :]
    c1 = (1.0 - jnp.sqrt(1.0 - ab_t) * e1) / jnp.sqrt(ab_t)
    c0 = -jnp.sqrt(1.0 - ab_t) * e0 / jnp.sqrt(ab_t)
    sigma = eta * jnp.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))
    direction = jnp.sqrt(jnp.maximum(1.0 - ab_s - sigma**2, 0.0))
    a = jnp.sqrt(ab_s) * c1 + direction * e1
    b = jnp.sqrt(ab_s) * c0 + direction * e0
    return _run_affine(a, b, (sigma**2)[:, 0], u, mu, cov)


def ncsn_gaussian_law(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike, *,
                      levels: Optional[ArrayLike] = None, steps_per_level: int = 100, epsilon: float = 2e-5,
                      initial_mean: Optional[ArrayLike] = None,
                      initial_covariance: Optional[ArrayLike] = None) -> GaussianLaw:
    r"""The exact law of [`ncsn_sampler`][langevin_jax.diffusion.ncsn_sampler] with the exact
    Gaussian denoiser, after all its steps (same arguments).

    Each Langevin step at level $t$ with $h = \epsilon\, \sigma_t^2 / (2 \sigma_L^2)$:
    $a = 1 - h / v_t$, $b = h \sqrt{\bar\alpha_t}\, m / v_t$, $q = 2 h$.
    """
    levels = np.asarray(ncsn_levels(schedule) if levels is None else levels)
    per = _checks.check_int_at_least("steps_per_level", steps_per_level, 1)
    _checks.check_positive_finite("epsilon", epsilon)
    lam, u, mz, mu, cov = _prepare(mean, covariance, initial_mean, initial_covariance)
    t = jnp.repeat(jnp.asarray(levels, jnp.int32), per)
    ab, v, c = _level_terms(schedule, t, lam, mz, mu.dtype)
    sig2 = 1.0 - ab[:, 0]
    h = epsilon * sig2 / (1.0 - alphabar(schedule, int(levels[-1])).astype(mu.dtype)) / 2.0
    return _run_affine(1.0 - h[:, None] / v, h[:, None] * c, 2.0 * h, u, mu, cov)


def pc_gaussian_law(schedule: NoiseSchedule, mean: ArrayLike, covariance: ArrayLike, *,
                    predictor: str = "reverse_diffusion", start_level: Optional[int] = None,
                    initial_mean: Optional[ArrayLike] = None,
                    initial_covariance: Optional[ArrayLike] = None) -> GaussianLaw:
    r"""The exact law of [`pc_sampler`][langevin_jax.diffusion.pc_sampler] with
    ``corrector_steps=0`` (the predictor alone) and the exact Gaussian denoiser, after
    ``start_level`` steps. (The signal-to-noise corrector is not affine: no closed form.)

    Reverse diffusion at level $t$: $a = 2 - \sqrt{\alpha_t} - \beta_t / v_t$,
    $b = \beta_t \sqrt{\bar\alpha_t}\, m / v_t$, $q = \beta_t$ (0 at $t = 1$); ``"ddpm"`` is
    [`ddpm_gaussian_law`][langevin_jax.diffusion.ddpm_gaussian_law]'s.
    """
    _checks.check_choice("predictor", predictor, ("reverse_diffusion", "ddpm"))
    if predictor == "ddpm":
        return ddpm_gaussian_law(schedule, mean, covariance, start_level=start_level, initial_mean=initial_mean,
                                 initial_covariance=initial_covariance)
    start = _start(schedule, start_level)
    lam, u, mz, mu, cov = _prepare(mean, covariance, initial_mean, initial_covariance)
    t = jnp.arange(start, 0, -1)
    beta = schedule.betas[t - 1].astype(mu.dtype)[:, None]
    alpha = schedule.alphas[t - 1].astype(mu.dtype)[:, None]
    _, v, c = _level_terms(schedule, t, lam, mz, mu.dtype)
    a = 2.0 - jnp.sqrt(alpha) - beta / v
    return _run_affine(a, beta * c, jnp.where(t > 1, beta[:, 0], 0.0), u, mu, cov)
