r"""The action $A = \int_0^1 |\mu'_t|^2\, dt$ of a diffusion path and the bias bound
$\mathrm{KL}(\pi \,\|\, \mathrm{Law}(Y_{1/\kappa})) \le \mathrm{KL}(\mu_0 \,\|\, \mathrm{Law}(Y_0)) + \kappa A / 4$
(our derivation, not a statement read in paper 3: Girsanov between the path-following process and
$Y$, plus data processing; written out in the docs page on paper 3). Paper 3 supplies the path and
the velocity field of its Theorem 2.1. The squared metric derivative is exact, not a bound:
$|\mu'_t|^2 = \bigl(\lambda'_t / (2 \lambda_t)\bigr)^2\, \mathbb{E}_{\mu_t} |Y + \nabla \log \mu_t(Y)|^2$ (Tweedie's
velocity field is a gradient), in closed form for Gaussian targets
([`gaussian_action_density`][langevin_jax.annealing.gaussian_action_density],
[`gaussian_action`][langevin_jax.annealing.gaussian_action]) and by quadrature and Monte
Carlo for any path with a score and a sampler ([`action`][langevin_jax.annealing.action]).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.annealing._gaussian import gaussian_spectrum
from langevin_jax.annealing.paths import DiffusionPath
from langevin_jax.annealing.schedules import (
    AnnealingSchedule,
    CosineSchedule,
    LinearSchedule,
    OUSchedule,
    get_schedule,
)
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = [
    "gaussian_action_density",
    "gaussian_action",
    "ActionEstimate",
    "action",
    "kl_bound",
    "gaussian_initial_kl",
]


def gaussian_action_density(target, schedule: Union[str, AnnealingSchedule, Callable],
                            t: ArrayLike) -> jax.Array:
    r"""$|\mu'_t|^2$, the squared $W_2$ metric derivative of a Gaussian path, in closed form:

    $$
    \frac{\lambda'^2 |m|^2}{4 \lambda} + \sum_i \frac{\lambda'^2 (\sigma_i - 1)^2}{4 \bigl(1 + \lambda (\sigma_i - 1)\bigr)}
    $$

    for $\mathcal{N}(m, \Sigma)$ with eigenvalues $\sigma_i$ (the path's covariances
    commute, so $W_2$ splits into the mean and one term per eigen-direction).

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      t: path times in $(0, 1)$, any shape ($0/0$ at a $t$ with $\lambda_t = 0$).

    Returns:
      $|\mu'_t|^2$, shape of ``t``.
    """
    schedule = get_schedule(schedule)
    _checks.check_unit_times("t", t)  # here: the jitted density below never sees a concrete t
    mean, sig, _ = gaussian_spectrum(target)
    return _action_density(schedule, mean, sig, jnp.asarray(t, mean.dtype))


@functools.partial(jax.jit, static_argnums=0)
def _action_density(schedule, mean, sig, t):
    lam, rate = schedule.lam_and_rate(t)
    lam, rate = lam[..., None], rate[..., None]
    mean_term = rate[..., 0] ** 2 * jnp.sum(mean**2) / (4.0 * lam[..., 0])
    var_term = jnp.sum(rate**2 * (sig - 1.0) ** 2 / (4.0 * (1.0 + lam * (sig - 1.0))), -1)
    return mean_term + var_term


@functools.lru_cache(maxsize=32)
def _leggauss(num_nodes: int):
    return np.polynomial.legendre.leggauss(num_nodes)  # O(num_nodes^3): cache it


def _gauss_legendre(num_nodes: int, dtype):
    nodes, weights = _leggauss(num_nodes)
    return jnp.asarray(0.5 * (nodes + 1.0), dtype), jnp.asarray(0.5 * weights, dtype)


def _closed_form_action(schedule: AnnealingSchedule, m2, sig) -> Optional[jax.Array]:
    """The Gaussian action of a named schedule ($|m|^2$ = ``m2``, eigenvalues ``sig``), or
    ``None`` for a user schedule."""
    if isinstance(schedule, LinearSchedule):
        return jnp.where(m2 > 0, jnp.inf, 0.0) + 0.25 * jnp.sum((sig - 1.0) * jnp.log(sig))
    if isinstance(schedule, CosineSchedule):
        return (jnp.pi**2 / 8.0) * (m2 + jnp.sum((jnp.sqrt(sig) - 1.0) ** 2))
    if isinstance(schedule, OUSchedule):
        big_t = schedule.horizon
        lam0 = math.exp(-2.0 * big_t)
        var = (sig - 1.0) * (1.0 - lam0) - jnp.log(sig) + jnp.log1p((sig - 1.0) * lam0)
        return 0.5 * big_t * ((1.0 - lam0) * m2 + jnp.sum(var))
    return None


def gaussian_action(target, schedule: Union[str, AnnealingSchedule, Callable], *,
                    num_nodes: int = 256) -> jax.Array:
    r"""The action $A = \int_0^1 |\mu'_t|^2\, dt$ of a Gaussian target's path.

    Closed form for the named schedules, for $\mathcal{N}(m, \Sigma)$ with eigenvalues $\sigma_i$:

    * linear: $\sum_i (\sigma_i - 1) \log(\sigma_i) / 4$ ($+\infty$ if $m \ne 0$: $d \sqrt{t} / dt$ is not
      square integrable);
    * cosine: $\frac{\pi^2}{8} \bigl(|m|^2 + \sum_i (\sqrt{\sigma_i} - 1)^2\bigr)$ ($\pi^2 / 8$ times
      $W_2^2(\mathcal{N}(0, I), \pi)$);
    * OU: $\frac{T}{2} (1 - \lambda_0) |m|^2 + \frac{T}{2} \sum_i \bigl[(\sigma_i - 1)(1 - \lambda_0) -
      \log\bigl(\sigma_i / (1 + (\sigma_i - 1) \lambda_0)\bigr)\bigr]$ with $\lambda_0 = e^{-2T}$.

    A user schedule integrates
    [`gaussian_action_density`][langevin_jax.annealing.gaussian_action_density] by
    ``num_nodes``-point Gauss-Legendre; if the integral diverges (e.g. $\lambda \sim t$ near 0
    with $m \ne 0$) that returns a finite number that grows with ``num_nodes``.

    Args:
      target: [`langevin_jax.Gaussian`][langevin_jax.Gaussian] or ``IsotropicGaussian``.
      schedule: see [`get_schedule`][langevin_jax.annealing.get_schedule].
      num_nodes: quadrature nodes for user schedules.

    Returns:
      $A$ (scalar, possibly ``inf``).
    """
    schedule = get_schedule(schedule)
    num_nodes = _checks.check_int_at_least("num_nodes", num_nodes, 2)
    mean, sig, _ = gaussian_spectrum(target)
    closed = _closed_form_action(schedule, jnp.sum(mean**2), sig)
    if closed is not None:
        return closed
    nodes, weights = _gauss_legendre(num_nodes, mean.dtype)
    return jnp.sum(weights * _action_density(schedule, mean, sig, nodes))


class ActionEstimate(NamedTuple):
    """Monte Carlo and quadrature estimate of the action.

    Attributes:
      value: the estimate of $A$.
      std_error: its Monte Carlo standard error (quadrature error not included).
      num_samples: draws $(X, Z)$, shared by all nodes.
      num_nodes: Gauss-Legendre nodes in $t$.
    """

    value: float
    std_error: float
    num_samples: int
    num_nodes: int


def action(key: PRNGKey, path: DiffusionPath, *, num_samples: int = 4096,
           num_nodes: int = 64, target_sample_fn: Optional[Callable] = None,
           batch_size: int = 1024) -> ActionEstimate:
    r"""The action $A = \int_0^1 |\mu'_t|^2\, dt$ of any path with a score, by quadrature.

    Uses the exact identity

    $$
    |\mu'_t|^2 = \Bigl(\frac{\lambda'_t}{2 \lambda_t}\Bigr)^2\, \mathbb{E}\, |X_t + \nabla \log \mu_t(X_t)|^2
    $$

    (the velocity $v_t = \bigl(\lambda' / (2 \lambda)\bigr) (y + \nabla \log \mu_t)$ is a gradient field,
    hence the metric derivative), Gauss-Legendre
    in $t$ and Monte Carlo in $X_t = \sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z$ with the same
    draws $(X, Z)$ at every node, so the standard error is that of one average over draws.
    With a learned score the value is the action of the learned path.

    Args:
      key: PRNG key.
      path: a [`DiffusionPath`][langevin_jax.annealing.DiffusionPath].
      num_samples: draws of $(X, Z)$, >= 2.
      num_nodes: Gauss-Legendre nodes on $(0, 1)$.
      target_sample_fn: ``(key, num) -> [num, d]`` draws from $\pi$; defaults to
        ``path.sample_fn`` at $t = 1$.
      batch_size: draws per compiled batch.

    Returns:
      An [`ActionEstimate`][langevin_jax.annealing.ActionEstimate].
    """
    num_samples = _checks.check_int_at_least("num_samples", num_samples, 2)
    num_nodes = _checks.check_int_at_least("num_nodes", num_nodes, 2)
    batch_size = _checks.check_int_at_least("batch_size", batch_size, 1)
    if target_sample_fn is None:
        sample_fn = path.sample_fn
        if sample_fn is None:
            raise ValueError("path has no sample_fn: pass target_sample_fn")
        target_sample_fn = lambda k, n: sample_fn(k, 1.0, n)  # noqa: E731
    nodes, weights = _gauss_legendre(num_nodes, jnp.result_type(float))
    lam, rate = path.schedule.lam_and_rate(nodes)
    coef = weights * (rate / (2.0 * lam)) ** 2  # [num_nodes]

    @jax.jit
    def per_draw(k):
        k_x, k_z = jax.random.split(k)
        x = target_sample_fn(k_x, batch_size)
        z = jax.random.normal(k_z, x.shape, x.dtype)

        def at_node(lam_j, t_j):
            y = jnp.sqrt(lam_j) * x + jnp.sqrt(1.0 - lam_j) * z
            v = y + jax.vmap(path.score_fn, (0, None))(y, t_j)
            return jnp.sum(v * v, -1)  # [batch]

        sq = jax.lax.map(lambda a: at_node(*a), (lam.astype(x.dtype), nodes.astype(x.dtype)))
        return coef.astype(x.dtype) @ sq  # [batch]

    totals = []
    for i in range(-(-num_samples // batch_size)):
        totals.append(np.asarray(per_draw(jax.random.fold_in(key, i)), np.float64))
    g = np.concatenate(totals)[:num_samples]
    return ActionEstimate(float(g.mean()), float(g.std(ddof=1) / math.sqrt(num_samples)),
                          num_samples, num_nodes)


def kl_bound(action_value: ArrayLike, kappa: ArrayLike, initial_kl: ArrayLike = 0.0) -> jax.Array:
    r"""The bias bound $\mathrm{KL}(\pi \,\|\, \mathrm{Law}(Y_{1/\kappa})) \le \mathtt{initial\_kl} + \kappa A / 4$.

    Holds for the continuous dynamics (not for DALMC's Euler steps), with
    ``initial_kl`` $= \mathrm{KL}(\mu_0 \,\|\, \mathrm{Law}(Y_0))$ (zero when $Y_0 \sim \mu_0$). Our derivation
    (Girsanov between the path-following process and $Y$, then data processing at the final time),
    not a statement read in paper 3.

    Args:
      action_value: $A$.
      kappa: $\kappa > 0$ (total Langevin time $1 / \kappa$).
      initial_kl: $\mathrm{KL}(\mu_0 \,\|\, \mathrm{Law}(Y_0))$.
    """
    _checks.check_positive_finite("kappa", kappa)
    _checks.check_nonnegative("action_value", action_value, allow_inf=True)
    _checks.check_nonnegative("initial_kl", initial_kl, allow_inf=True)
    return jnp.asarray(initial_kl) + 0.25 * kappa * jnp.asarray(action_value)


def gaussian_initial_kl(target, schedule: Union[str, AnnealingSchedule, Callable]) -> jax.Array:
    r"""$\mathrm{KL}(\mu_0 \,\|\, \mathcal{N}(0, I))$: the bound's initial term when $Y_0 \sim \mathcal{N}(0, I)$.

    Zero when $\lambda_0 = 0$; for OU, $\mu_0 = \mathcal{N}\bigl(\sqrt{\lambda_0}\, m,\, \lambda_0 \Sigma +
    (1 - \lambda_0) I\bigr)$ with $\lambda_0 = e^{-2T}$.
    """
    schedule = get_schedule(schedule)
    mean, sig, _ = gaussian_spectrum(target)
    lam0 = schedule.lam(jnp.asarray(0.0, mean.dtype))
    v = lam0 * sig + 1.0 - lam0
    return 0.5 * (lam0 * jnp.sum(mean**2) + jnp.sum(v - 1.0 - jnp.log(v)))
