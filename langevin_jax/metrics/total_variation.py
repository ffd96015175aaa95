r"""A certified lower bound on the total variation distance between the law of the chains and the
target, from one set $A$: since $\mathrm{TV}(\mu, \pi) = \sup_A |\mu(A) - \pi(A)|$,

$$
\mathrm{TV}\bigl(\mathrm{Law}(X_T), \pi\bigr) \ge P(X_T \in A) - \pi(A),
$$

with $P(X_T \in A)$ bounded below from the chains by a one-sided Clopper-Pearson bound and
$\pi(A)$ bounded above in closed form (e.g.
[`langevin_jax.theory.gaussian_ball_log_probability`][langevin_jax.theory.gaussian_ball_log_probability]).
The lower bounds of paper 1's Theorems 1 and 7, $\mathrm{TV} \ge 1 - e^{-\Omega(d)}$, are of this
form with $A$ the trap ball or the balls around the training points:
[`tv_lower_bound`][langevin_jax.metrics.tv_lower_bound] takes the chains' membership in $A$,
[`ball_tv_lower_bound`][langevin_jax.metrics.ball_tv_lower_bound] their positions and the balls.
Host-side (NumPy/SciPy) on concrete arrays: not traceable.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np
from scipy import stats

from langevin_jax import _checks
from langevin_jax.metrics.nearest import nearest_distance
from langevin_jax.types import ArrayLike

__all__ = ["TVLowerBound", "tv_lower_bound", "ball_tv_lower_bound"]


class TVLowerBound(NamedTuple):
    r"""A lower bound on $\mathrm{TV}(\mathrm{Law}(X_T), \pi)$ from one set $A$, at a confidence level.

    Attributes:
      value: the bound $p_{\text{lower}} - \pi(A)$. Negative when the chains give no evidence
        of a distance (not clipped at 0, so that how far from evidence they are stays visible).
      p_hat: $k / n$, the fraction of chains in $A$.
      p_lower: the one-sided Clopper-Pearson lower confidence bound on $P(X_T \in A)$.
      pi_a: $\pi(A)$ (or the upper bound on it that was given), $e^{\texttt{log\_pi\_a}}$.
      log_pi_a: its log, as given.
      num_inside: $k$, the chains in $A$ (non-finite chains never count).
      num_chains: $n$, all chains, non-finite ones included.
      num_nonfinite: chains with a NaN/inf position (counted as outside $A$).
      confidence: the confidence level $1 - \delta$ of the bound.
    """

    value: float
    p_hat: float
    p_lower: float
    pi_a: float
    log_pi_a: float
    num_inside: int
    num_chains: int
    num_nonfinite: int
    confidence: float


def _check_confidence(confidence) -> float:
    _checks.check_real("confidence", confidence)
    arr = np.asarray(confidence, np.float64)
    if arr.ndim or not 0.0 < float(arr) < 1.0:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return float(arr)


def _check_log_pi_a(log_pi_a) -> float:
    _checks.check_real("log_pi_a", log_pi_a)
    arr = np.asarray(log_pi_a, np.float64)
    if arr.ndim:
        raise ValueError(f"log_pi_a must be a scalar (the log of pi(A)), got shape {arr.shape}")
    v = float(arr)
    if math.isnan(v) or not v <= 0.0:
        raise ValueError(f"log_pi_a must be <= 0 (the log of a probability; -inf for pi(A) = 0), got {log_pi_a!r}")
    return v


def _check_mask(name: str, mask, n: Optional[int] = None) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise ValueError(f"{name} must be a boolean array [n], got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape [n] (rank 1), got shape {arr.shape}")
    if n is None and arr.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one chain, got shape {arr.shape}")
    if n is not None and arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (that of inside), got shape {arr.shape}")
    return arr


def _clopper_pearson_lower(k: int, n: int, confidence: float) -> float:
    if k == 0:
        return 0.0
    if k == n:  # beta(n, 1) quantile in closed form
        return float((1.0 - confidence) ** (1.0 / n))
    return float(stats.beta.ppf(1.0 - confidence, k, n - k + 1))


def _bound(inside: np.ndarray, finite: np.ndarray, log_pi_a: float, confidence: float) -> TVLowerBound:
    n = int(inside.shape[0])
    k = int(np.count_nonzero(inside & finite))
    p_lower = _clopper_pearson_lower(k, n, confidence)
    pi_a = math.exp(log_pi_a)
    return TVLowerBound(value=p_lower - pi_a, p_hat=k / n, p_lower=p_lower, pi_a=pi_a, log_pi_a=log_pi_a,
                        num_inside=k, num_chains=n, num_nonfinite=int(n - np.count_nonzero(finite)),
                        confidence=confidence)


def tv_lower_bound(inside: ArrayLike, log_pi_a: float, confidence: float = 0.95, *,
                   finite: Optional[ArrayLike] = None) -> TVLowerBound:
    r"""A lower bound on $\mathrm{TV}(\mathrm{Law}(X_T), \pi)$, valid with probability at least
    ``confidence`` over the chains, from whether each chain ended in a set $A$:

    $$
    \mathrm{TV}\bigl(\mathrm{Law}(X_T), \pi\bigr) \ge P(X_T \in A) - \pi(A)
    \ge p_{\text{lower}} - \pi(A),
    $$

    $p_{\text{lower}}$ the one-sided Clopper-Pearson bound on $P(X_T \in A)$ from $k$ of $n$
    independent chains in $A$: the $(1 - \text{confidence})$ quantile of
    $\mathrm{Beta}(k, n - k + 1)$ (0 at $k = 0$; $(1 - \text{confidence})^{1/n}$ at $k = n$), so
    $P(p_{\text{lower}} \le P(X_T \in A)) \ge$ ``confidence``. Any upper bound on $\pi(A)$ in
    place of $\pi(A)$ keeps the bound valid (a union bound over balls:
    [`langevin_jax.theory.gaussian_balls_log_probability_bound`][langevin_jax.theory.gaussian_balls_log_probability_bound]).
    The value may be negative, meaning no evidence of a distance; it is not clipped. Chains marked
    not ``finite`` (diverged) count among the $n$ chains and as outside $A$, which can only lower
    the bound: they are never dropped. Host-side on concrete arrays (not traceable).

    Args:
      inside: ``[n]`` booleans, chain $i$'s final position in $A$ ($n \ge 1$).
      log_pi_a: $\log \pi(A)$, or the log of an upper bound on it, $\le 0$ ($-\infty$ allowed).
      confidence: the confidence level in $(0, 1)$.
      finite: optional ``[n]`` booleans, chain $i$'s position finite; the others count as
        outside $A$ and in ``num_nonfinite``.

    Returns:
      A [`TVLowerBound`][langevin_jax.metrics.TVLowerBound].

    Raises:
      ValueError: ``inside`` or ``finite`` not boolean ``[n]`` (or empty, or of different $n$),
        ``log_pi_a`` not a real number $\le 0$, ``confidence`` not in $(0, 1)$.

    Examples:
      >>> import math
      >>> import numpy as np
      >>> from langevin_jax import metrics
      >>> tv = metrics.tv_lower_bound(np.ones(100, bool), log_pi_a=math.log(1e-6), confidence=0.95)
      >>> round(tv.p_lower, 4), round(tv.value, 4), tv.num_inside
      (0.9705, 0.9705, 100)
    """
    inside_arr = _check_mask("inside", inside)
    n = inside_arr.shape[0]
    finite_arr = np.ones(n, bool) if finite is None else _check_mask("finite", finite, n)
    log_pi_a = _check_log_pi_a(log_pi_a)
    confidence = _check_confidence(confidence)
    return _bound(inside_arr, finite_arr, log_pi_a, confidence)


def ball_tv_lower_bound(positions: ArrayLike, centers: ArrayLike, radius: float, log_pi_a: float,
                        confidence: float = 0.95) -> TVLowerBound:
    r"""[`tv_lower_bound`][langevin_jax.metrics.tv_lower_bound] with $A = \bigcup_j B(c_j, r)$, a
    union of balls of one radius (a trap ball, the balls around training points): chain $i$ is in
    $A$ when $\min_j |x_i - c_j| \le r$.

    One centre: the distances in float64 NumPy; several: the nearest centre by
    [`nearest_distance`][langevin_jax.metrics.nearest_distance] (in the positions' floating dtype,
    float32 unless ``jax_enable_x64``, so a chain within rounding of a sphere may fall either
    side). Rows with a NaN/inf coordinate are counted in ``num_nonfinite`` and as outside $A$.
    ``log_pi_a`` is $\log \pi(A)$ or the log of an upper bound (e.g.
    [`langevin_jax.theory.gaussian_balls_log_probability_bound`][langevin_jax.theory.gaussian_balls_log_probability_bound]
    for these centres and radius). Host-side on concrete arrays: not traceable.

    Args:
      positions: ``[n, d]`` final positions of $n \ge 1$ independent chains.
      centers: ``[m, d]`` centres, or one centre ``[d]``, finite.
      radius: the balls' radius $r > 0$.
      log_pi_a: $\log \pi(A)$ or the log of an upper bound, $\le 0$.
      confidence: the confidence level in $(0, 1)$.

    Returns:
      A [`TVLowerBound`][langevin_jax.metrics.TVLowerBound].

    Raises:
      ValueError: ``positions`` not real ``[n, d]`` with $n, d \ge 1$; ``centers`` not finite
        real ``[m, d]`` or ``[d]`` of that $d$; ``radius`` not finite and $> 0$; ``log_pi_a``
        not $\le 0$; ``confidence`` not in $(0, 1)$.
    """
    _checks.check_real("positions", positions)
    x = np.asarray(positions)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"positions must have shape [n, d] with n, d >= 1, got shape {x.shape}")
    n, d = x.shape
    _checks.check_real("centers", centers)
    c = np.asarray(centers)
    if c.ndim == 1:
        c = c[None, :]
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] != d:
        raise ValueError(f"centers must have shape [m, {d}] or [{d}] (the d of positions), "
                         f"got shape {np.shape(centers)}")
    if not np.all(np.isfinite(c)):
        raise ValueError("centers contains NaN or inf")
    _checks.check_real("radius", radius)
    r = np.asarray(radius, np.float64)
    if r.ndim or not (math.isfinite(float(r)) and float(r) > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    log_pi_a = _check_log_pi_a(log_pi_a)
    confidence = _check_confidence(confidence)

    finite = np.all(np.isfinite(x), axis=1)
    inside = np.zeros(n, bool)
    if np.any(finite):
        xf = x[finite]
        if c.shape[0] == 1:
            diff = xf.astype(np.float64) - c[0].astype(np.float64)
            dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        else:
            dist = np.asarray(nearest_distance(xf, c), np.float64)
        inside[finite] = dist <= float(r)
    return _bound(inside, finite, log_pi_a, confidence)
