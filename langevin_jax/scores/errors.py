r"""Score errors $\mathbb{E}_\pi |\hat s - s|^p$ of the constructions in
``langevin_jax.scores.constructions``: Monte Carlo with importance sampling (in log space, via
[`langevin_jax.metrics.score_error`][langevin_jax.metrics.score_error]), an analytic bound for the
trap, and the exact values by a 2-D quadrature in float64 that stays finite far below float64's
range.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.scores.constructions import default_memorizing_alpha, memorizing_score, trap_score
from langevin_jax.types import ArrayLike, PRNGKey

if TYPE_CHECKING:  # annotations only: the functions import metrics when called
    from langevin_jax.metrics.score_diagnostics import ScoreError


def trap_score_error_log_bound(mu_norm: float, r_out: float, alpha: float, p: float = 2.0) -> float:
    r"""Analytic upper bound on $\log \mathbb{E}_\pi |\hat s - s|^p$ for
    [`trap_score`][langevin_jax.scores.trap_score], $\pi = \mathcal{N}(\mu, I)$.

    $\hat s - s = b(|x|) \bigl((1 - \alpha) x - \mu\bigr)$ vanishes outside the ball $|x| < r_\text{out}$,
    where its norm is at most $|1 - \alpha|\, r_\text{out} + |\mu|$; and
    $\pi(|X| < r_\text{out}) \le P(\langle X, \mu/|\mu|\rangle < r_\text{out}) = \Phi(r_\text{out} - |\mu|)$. Hence

    $$
    \log \mathbb{E} \le p \log\bigl(|1 - \alpha|\, r_\text{out} + |\mu|\bigr) + \log \Phi(r_\text{out} - |\mu|),
    $$

    computed with ``log_ndtr`` so it stays finite far below float64's range.
    """
    log_phi = float(jax.scipy.special.log_ndtr(jnp.asarray(r_out - mu_norm, jnp.float32)))
    return p * math.log(abs(1.0 - alpha) * r_out + mu_norm) + log_phi


def trap_score_error(
    key: PRNGKey,
    mu: ArrayLike,
    r_in: float,
    r_out: float,
    alpha: float = 1.0,
    num_samples: int = 100_000,
    p: float = 2.0,
) -> ScoreError:
    r"""$\mathbb{E}_\pi |\hat s - s|^p$ of [`trap_score`][langevin_jax.scores.trap_score] under
    $\pi = \mathcal{N}(\mu, I)$.

    Runs plain Monte Carlo under $\pi$ and importance sampling from $\mathcal{N}(r_\text{out} \mu/|\mu|, I)$
    (centred on the trap's boundary point nearest to $\mu$); returns the estimate with the
    smaller relative standard error (a [`langevin_jax.metrics.ScoreError`][langevin_jax.metrics.ScoreError]).
    """
    from langevin_jax import metrics, targets

    mu = jnp.asarray(mu)
    target = targets.IsotropicGaussian.create(mu, 1.0)
    s_hat = trap_score(mu, r_in, r_out, alpha)
    k_mc, k_is = jax.random.split(key)
    plain = metrics.score_error(k_mc, s_hat, target.score, target, num_samples, p=p)
    proposal = targets.IsotropicGaussian.create(mu * (r_out / jnp.linalg.norm(mu)), 1.0)
    weighted = metrics.score_error(k_is, s_hat, target.score, target, num_samples, p=p,
                                   proposal=proposal)
    candidates = [e for e in (plain, weighted) if e.log_value > -math.inf]
    if not candidates:
        return weighted
    return min(candidates, key=lambda e: e.log_std_error)




class _BallMixture(NamedTuple):
    r"""Uniform mixture of $\mathcal{N}(x_i, \sigma^2 I)$: a proposal covering every memorised ball."""

    points: jax.Array
    sigma: float

    def sample(self, key, num):
        k_i, k_z = jax.random.split(key)
        idx = jax.random.randint(k_i, (num,), 0, self.points.shape[0])
        z = jax.random.normal(k_z, (num, self.points.shape[1]), self.points.dtype)
        return self.points[idx] + self.sigma * z

    def log_prob(self, y):
        n, d = self.points.shape
        sq = jnp.sum((self.points - y) ** 2, axis=1)
        log_comp = -0.5 * sq / self.sigma**2 - d * (math.log(self.sigma) + 0.5 * math.log(2 * math.pi))
        return jax.nn.logsumexp(log_comp) - math.log(n)


def memorizing_score_error(
    key: PRNGKey,
    points: ArrayLike,
    r_in: float | None = None,
    r_out: float | None = None,
    alpha: float | None = None,
    num_samples: int = 20_000,
    p: float = 2.0,
) -> ScoreError:
    r"""$\mathbb{E}_\pi |\hat s - s|^p$ of [`memorizing_score`][langevin_jax.scores.memorizing_score] under
    $\pi = \mathcal{N}(0, I_d)$.

    Plain Monte Carlo and importance sampling from a uniform mixture of
    $\mathcal{N}\bigl(x_i, (r_\text{out}^2 / d) I\bigr)$ around the training points; returns the estimate with the
    smaller relative standard error (a [`langevin_jax.metrics.ScoreError`][langevin_jax.metrics.ScoreError]).
    """
    from langevin_jax import metrics, targets

    points = jnp.asarray(points)
    d = points.shape[1]
    r_out_v = 0.16 * math.sqrt(d) if r_out is None else r_out
    alpha = default_memorizing_alpha(d, 0.08 * math.sqrt(d) if r_in is None else r_in) \
        if alpha is None else alpha
    target = targets.IsotropicGaussian.create(jnp.zeros(d, points.dtype), 1.0)
    s_hat = memorizing_score(points, r_in, r_out, alpha, check=False)
    k_mc, k_is = jax.random.split(key)
    plain = metrics.score_error(k_mc, s_hat, target.score, target, num_samples, p=p,
                                batch_size=4096)
    proposal = _BallMixture(points, r_out_v / math.sqrt(d))
    weighted = metrics.score_error(k_is, s_hat, target.score, target, num_samples, p=p,
                                   proposal=proposal, batch_size=4096)
    candidates = [e for e in (plain, weighted) if e.log_value > -math.inf]
    if not candidates:
        return weighted
    return min(candidates, key=lambda e: e.log_std_error)


def _log_bump(r: np.ndarray, a: float, c: float) -> np.ndarray:
    r"""$\log b(r; a, c)$ of the [`bump`][langevin_jax.scores.bump] in float64 without underflow
    (``-inf`` where the bump is 0)."""
    u = (c - r) / (c - a)
    out = np.full(np.shape(u), -np.inf)
    inside = (u > 0) & (u < 1)
    ui = u[inside]
    out[inside] = -1.0 / ui - np.logaddexp(-1.0 / ui, -1.0 / (1.0 - ui))
    out[u >= 1] = 0.0
    return out


def log_ball_error(
    m_norm: float,
    d: int,
    r_in: float,
    r_out: float,
    alpha: float,
    sign: float = -1.0,
    p: float = 2.0,
    num_grid: int = 1500,
) -> float:
    r"""$\log \mathbb{E} \bigl|b(|Y|) \bigl((1 - \alpha) Y + \text{sign} \cdot m\bigr)\bigr|^p$ for
    $Y \sim \mathcal{N}(m, I_d)$, by quadrature.

    The expectation only involves $\rho = |Y|$ and the component $t = \langle Y, m/|m|\rangle$
    ($t \sim \mathcal{N}(|m|, 1)$ independent of $q = \rho^2 - t^2 \sim \chi^2_{d-1}$), so it is a 2-D
    integral over $\rho \in (0, r_\text{out})$ and the angle $\theta$ with $t = \rho \cos\theta$,
    evaluated with a midpoint rule and ``logsumexp`` in float64. It is exact up to the
    quadrature error (checked against Monte Carlo in the tests), and stays finite for
    errors far below float64's range ($e^{-1000}$ is fine).

    Both constructions reduce to it with $\text{sign} = -1$: the trap score under $\mathcal{N}(\mu, I)$
    has $\hat s - s = b(|x|) \bigl((1 - \alpha) x - \mu\bigr)$, so $m = \mu$; the memorising score's
    ball around $x_i$ under $\mathcal{N}(0, I)$, in coordinates $y = x - x_i \sim \mathcal{N}(-x_i, I)$,
    has $\hat s - s = b(|y|) \bigl((1 - \alpha) y + x_i\bigr)$, so $m = -x_i$. Needs $d \ge 2$.
    """
    from scipy.special import gammaln

    d = _checks.check_int_at_least("d", d, 2)
    num_grid = _checks.check_int_at_least("num_grid", num_grid, 2)
    for name, value in (("m_norm", m_norm), ("r_in", r_in), ("r_out", r_out), ("alpha", alpha),
                        ("p", p)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value}")
    _checks.check_positive_finite("r_out", r_out)
    _checks.check_positive_finite("p", p)
    if not 0 <= r_in < r_out:
        raise ValueError(f"need 0 <= r_in < r_out, got r_in={r_in}, r_out={r_out}")
    if m_norm < 0:
        raise ValueError(f"m_norm must be >= 0 (a norm), got {m_norm}")
    k = d - 1
    rho = (np.arange(num_grid) + 0.5) * (r_out / num_grid)
    theta = (np.arange(2 * num_grid) + 0.5) * (np.pi / (2 * num_grid))
    log_b = _log_bump(rho, r_in, r_out)
    keep = np.isfinite(log_b)
    rho, log_b = rho[keep], log_b[keep]
    R, TH = rho[:, None], theta[None, :]
    t = R * np.cos(TH)
    q = (R * np.sin(TH)) ** 2
    log_gauss_t = -0.5 * (t - m_norm) ** 2 - 0.5 * np.log(2 * np.pi)
    log_chi2 = (k / 2 - 1) * np.log(q) - q / 2 - (k / 2) * np.log(2.0) - gammaln(k / 2)
    # dt dq = 2 rho^2 d(rho) d(cos theta) = 2 rho^2 sin(theta) d(rho) d(theta)
    log_jac = np.log(2.0) + 2 * np.log(R) + np.log(np.sin(TH))
    sq = (1 - alpha) ** 2 * R**2 + 2 * sign * (1 - alpha) * t * m_norm + m_norm**2
    log_f = 2 * log_b[:, None] + 0.5 * p * np.log(np.maximum(sq, 1e-300))
    log_terms = log_gauss_t + log_chi2 + log_jac + log_f
    cell = np.log(r_out / num_grid) + np.log(np.pi / (2 * num_grid))
    m = np.max(log_terms)
    return float(m + np.log(np.sum(np.exp(log_terms - m))) + cell)


def trap_score_error_exact(mu_norm: float, d: int, r_in: float, r_out: float,
                           alpha: float = 1.0, p: float = 2.0) -> float:
    r"""$\log \mathbb{E}_\pi |\hat s - s|^p$ of [`trap_score`][langevin_jax.scores.trap_score] under
    $\pi = \mathcal{N}(\mu, I_d)$ by quadrature."""
    return log_ball_error(mu_norm, d, r_in, r_out, alpha, -1.0, p)


def memorizing_score_error_exact(points: ArrayLike, r_in: float | None = None, r_out: float | None = None,
                                 alpha: float | None = None, p: float = 2.0) -> float:
    r"""$\log \mathbb{E}_\pi |\hat s - s|^p$ of [`memorizing_score`][langevin_jax.scores.memorizing_score] under
    $\pi = \mathcal{N}(0, I_d)$ by quadrature.

    Exact (up to quadrature error) when the points are in general position (disjoint
    balls): the sum over points of [`log_ball_error`][langevin_jax.scores.log_ball_error] with $m = -x_i$.
    """
    pts = np.asarray(points, np.float64)
    d = pts.shape[1]
    r_in = 0.08 * math.sqrt(d) if r_in is None else r_in
    r_out = 0.16 * math.sqrt(d) if r_out is None else r_out
    alpha = default_memorizing_alpha(d, r_in) if alpha is None else alpha
    norms = np.linalg.norm(pts, axis=1)
    # the integral depends on |x_i| only: evaluate on a fine grid of norms and interpolate
    grid = np.linspace(norms.min(), norms.max(), 64) if norms.max() > norms.min() else norms[:1]
    vals = np.array([log_ball_error(float(g), d, r_in, r_out, alpha, -1.0, p, 600) for g in grid])
    per_point = np.interp(norms, grid, vals) if grid.size > 1 else np.full(norms.shape, vals[0])
    mx = per_point.max()
    return float(mx + np.log(np.sum(np.exp(per_point - mx))))
