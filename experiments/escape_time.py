"""Escape time from the trap versus d: paper 1's Lemma 4 / Corollary 2, measured.

Cao, Chen, Sridharan & Wu (2026) bound the time Langevin dynamics needs to leave the trap of a
wrong score from below by ``e^{c d}``. Inside the trap balls the dynamics is exactly an
Ornstein-Uhlenbeck process ``dX = -alpha (X - c) dt + sqrt(2) dB``, whose mean exit time from
``B(c, r_in)`` is known exactly (:func:`langevin_jax.theory.ou_exit_time_mean`). Here, for

* the trap score of Theorem 1 (:func:`langevin_jax.scores.trap_score`, ``pi = N(mu, I_d)``,
  ``mu = mu_factor * ones(d)`` so ``|mu| = mu_factor sqrt(d)``, chains from ``N(0, I_d)``; trap
  ball ``B(0, r_in)``; a chain starting outside it leaves at step 0), and
* the memorising score of Theorem 7 (:func:`langevin_jax.scores.memorizing_score`,
  ``pi = N(0, I_d)``, ``num_train`` training points drawn from ``pi`` and thinned greedily to
  general position, chains started at the training points; trap ball ``B(x_i, r_in)`` around
  the chain's own point),

ULA chains (``langevin_jax.ula(score, h).step``, ``vmap``-ped over chains, a jit-compiled
``lax.while_loop`` over ``lax.scan`` chunks, no trajectory stored) record the first step ``k``
at which ``|x_k - c| > r_in``; a chain still inside after ``max_steps`` steps is censored.

Per ``d``: the exponential model's maximum-likelihood rate (events / total time at risk) with
its exact (chi-square / Poisson) interval, the mean escape time ``1 / rate``, the Kaplan-Meier
median with its Brookmeyer-Crowley interval (log-log Greenwood bands) as a model-free check, the
plain sample mean when nothing is censored, and the predicted mean: the OU's exact mean exit
time at the temperature ``T = 1 / (1 - h alpha / 2)`` (ULA's stationary variance on this OU;
our continuous proxy), averaged over the chains' start radii (trap) or from the centre
(memorising). ULA sees the chain only at the grid times and misses excursions between them, so
its exits come later: the *corrected* prediction (our approximation) moves the ball's edge out
by ``0.5826 sqrt(2 T h)``, the continuity correction of Broadie, Glasserman & Kou (1997) for a
discretely monitored barrier. The growth rate per dimension is the weighted least-squares slope
of ``log(mean time)`` against ``d``, next to the same fit of the predictions and the limit
:func:`langevin_jax.theory.ou_exit_growth_rate`.

Default constants (ours): the paper's trap (``r_in = 4 sqrt(d)``, ``alpha >= 1``) has a barrier
of about 6.1 per dimension (a mean escape time of about 10^5.5 time units, 10^8 steps, already at
``d = 2``), so escape is never seen; we use ``r_in = 1.35 sqrt(d)``, ``alpha = 1``, ``h = 0.02``
(rate about 0.107 per dimension). For the
memorising score we keep the library's reconstruction of Theorem 7's constants (``r_in = 0.08
sqrt(d)``, ``r_out = 0.16 sqrt(d)``, ``alpha = 2 d / r_in^2 = 312.5``) but take ``h = 1.25e-4``
(``h alpha = 0.039``) instead of 0.0025 (``h alpha = 0.78``, where ULA's variance inflation
leaves almost no barrier): rate about 0.144 per dimension. ``paper_constants_prediction`` gives the predicted times at the
paper's constants (theory only, no simulation).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _cli, _output, _plotting
from langevin_jax import scores, theory

NAME = "escape_time"
SCORES = ("trap", "memorizing")
#: Broadie-Glasserman-Kou continuity correction: -zeta(1/2) / sqrt(2 pi)
BGK_BETA = 0.5825971579390106
#: steps between the checks whether every chain has left (the while loop's body is a scan of them)
CHUNK = 256
#: the paper's constants, for the theory-only prediction (Theorem 1 / Table 1; the library's
#: reconstruction of Theorem 7 with memorization_analytic's step size)
PAPER = {
    "trap": dict(r_in_factor=4.0, alpha=1.0, step_size=0.0025, start="|x_0| = sqrt(d) (typical start N(0, I))",
                 source="Theorem 1: r_in = 4 sqrt(d), alpha = 1 (the paper's 'constant >= 1'); Table 1's h = 0.0025"),
    "memorizing": dict(r_in_factor=0.08, alpha=312.5, step_size=0.0025, start="x_0 = x_i (the training point)",
                       source="Theorem 7 as reconstructed in langevin_jax.scores.memorizing_score: "
                              "r_in = 0.08 sqrt(d), alpha = 2 d / r_in^2 = 312.5; h = 0.0025"),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol (defaults: our constants, see the module docstring).

    Attributes:
      dims: dimensions d, one row per score each.
      scores: which scores to run: trap (Theorem 1) and/or memorizing (Theorem 7).
      chains: ULA chains per score and d.
      max_steps: censoring horizon: a chain still in its trap ball after this many ULA steps is
        censored.
      confidence: level of every confidence interval.
      trap_step_size: ULA step size h for the trap score.
      trap_alpha: the trap's drift strength alpha (the well N(0, I / alpha) inside r_in).
      trap_r_in_factor: trap ball radius r_in in units of sqrt(d) (the paper: 4).
      trap_r_out_factor: trap score's outer radius r_out in units of sqrt(d) (the paper: 5).
      trap_mu_factor: |mu| / sqrt(d) of the target N(mu, I_d), mu = mu_factor * ones(d) (the paper: 7;
        no effect on the exit time from B(0, r_in)).
      memorizing_step_size: ULA step size h for the memorising score.
      memorizing_alpha: the memorised wells' strength alpha (N(x_i, I / alpha) inside r_in; the
        library's default 2 d / r_in^2 = 312.5 at r_in = 0.08 sqrt(d)).
      memorizing_r_in_factor: memorised ball radius r_in in units of sqrt(d) (the library: 0.08).
      memorizing_r_out_factor: memorising score's outer radius r_out in units of sqrt(d) (the library: 0.16).
      num_train: training points drawn from N(0, I_d) per d (thinned greedily so every pairwise
        distance exceeds 2 r_out); the chains start at them in turn.
      paper_dims: dimensions of the theory-only prediction at the paper's constants.
    """

    dims: Sequence[int] = (2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    scores: Sequence[Literal["trap", "memorizing"]] = SCORES
    chains: int = 1000
    max_steps: int = 40_000
    confidence: float = 0.95
    trap_step_size: float = 0.02
    trap_alpha: float = 1.0
    trap_r_in_factor: float = 1.35
    trap_r_out_factor: float = 1.7
    trap_mu_factor: float = 7.0
    memorizing_step_size: float = 1.25e-4
    memorizing_alpha: float = 312.5
    memorizing_r_in_factor: float = 0.08
    memorizing_r_out_factor: float = 0.16
    num_train: int = 32
    paper_dims: Sequence[int] = (2, 5, 10, 20, 50, 100)

    @classmethod
    def quick(cls) -> "Config":
        return cls(dims=(2, 8, 14, 20, 26, 32), chains=400, max_steps=10_000)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_nonempty(self, "dims", "scores", "paper_dims")
        _cli.check_counts(self, dims=1, chains=1, max_steps=1, num_train=1, paper_dims=1)
        _cli.check_positive(self, "trap_step_size", "trap_alpha", "trap_r_in_factor", "trap_r_out_factor",
                            "trap_mu_factor", "memorizing_step_size", "memorizing_alpha",
                            "memorizing_r_in_factor", "memorizing_r_out_factor")
        unknown = [s for s in self.scores if s not in SCORES]
        if unknown:
            raise ValueError(f"scores must be among {', '.join(SCORES)}, got {_output.format_value(self.scores)}")
        if len(set(self.scores)) != len(self.scores):
            raise ValueError(f"scores must not repeat a score, got {_output.format_value(self.scores)}")
        if len(set(self.dims)) != len(self.dims):
            raise ValueError(f"dims must not repeat a dimension, got {_output.format_value(self.dims)}")
        if not (isinstance(self.confidence, float) and 0.0 < self.confidence < 1.0):
            raise ValueError(f"confidence must be in (0, 1), got {_output.format_value(self.confidence)}")
        if self.max_steps > 2**31 - 2 - CHUNK:
            raise ValueError(f"max_steps must be < 2**31 - {2 + CHUNK} (int32 step counts), got {self.max_steps}")
        for s in ("trap", "memorizing"):
            r_in, r_out = getattr(self, f"{s}_r_in_factor"), getattr(self, f"{s}_r_out_factor")
            if not r_in < r_out:
                raise ValueError(f"{s}_r_in_factor={_output.format_value(r_in)} must be < "
                                 f"{s}_r_out_factor={_output.format_value(r_out)}")
            h, alpha = getattr(self, f"{s}_step_size"), getattr(self, f"{s}_alpha")
            if not h * alpha < 2.0:
                raise ValueError(f"{s}_step_size={_output.format_value(h)} must be < 2 / {s}_alpha = "
                                 f"{2.0 / alpha:.6g}: ULA on the "
                                 "trap's Ornstein-Uhlenbeck process diverges otherwise (and its temperature "
                                 "1 / (1 - h alpha / 2) is undefined)")
        if not self.trap_mu_factor > self.trap_r_out_factor:
            raise ValueError(f"trap_mu_factor={_output.format_value(self.trap_mu_factor)} must be > "
                             f"trap_r_out_factor={_output.format_value(self.trap_r_out_factor)} (the target's "
                             "mean outside the trap)")
        d = max(self.dims)  # chains, their keys and starts, training points and distances (float32, copies)
        _cli.check_memory(self, ("chains", "dims", "num_train"),
                          64 * self.chains * (d + self.num_train) + 64 * self.num_train * d,
                          "the chains [chains, d] and their distances to the training points [chains, num_train]")
        return self


# ----------------------------------------------------------------------------- estimators


def exponential_mle(times, observed, confidence: float = 0.95) -> dict:
    """The exponential model's maximum-likelihood rate from right-censored times.

    ``times``: each chain's exit time, or its censoring time where ``observed`` is false. The
    MLE is ``events / total time at risk``; its interval is the exact Poisson one,
    ``[chi2.ppf(q/2, 2k), chi2.ppf(1 - q/2, 2k + 2)] / (2 T_total)`` (``q = 1 - confidence``,
    ``k`` events). The mean time is ``1 / rate``, its interval the reciprocal one. No event: the
    rate's lower limit is 0, the mean is not a number (``None``) but a lower bound, its
    interval's lower end (the interval's upper end is ``inf``)."""
    from scipy import stats

    t = np.asarray(times, np.float64)
    obs = np.asarray(observed, bool)
    k, total = int(obs.sum()), float(t.sum())
    q = 1.0 - confidence
    if total <= 0.0:  # every chain left at time 0 (started outside its ball)
        return dict(events=k, time_at_risk=total, rate=math.inf if k else None, rate_ci=[math.inf, math.inf],
                    mean=0.0 if k else None, mean_ci=[0.0, 0.0])
    lo = float(stats.chi2.ppf(q / 2, 2 * k)) / (2 * total) if k else 0.0
    hi = float(stats.chi2.ppf(1 - q / 2, 2 * k + 2)) / (2 * total)
    return dict(events=k, time_at_risk=total, rate=k / total, rate_ci=[lo, hi],
                mean=total / k if k else None, mean_ci=[1.0 / hi, 1.0 / lo if lo > 0 else math.inf])


def kaplan_meier(times, observed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(event times, S(t), Greenwood sum)`` of the Kaplan-Meier estimate (ties: events before
    censorings at the same time). The Greenwood sum ``sum d / (n (n - d))`` is ``inf`` once
    ``S = 0``."""
    t = np.asarray(times, np.float64)
    obs = np.asarray(observed, bool)
    event_times = np.unique(t[obs])
    if event_times.size == 0:
        return event_times, np.ones(0), np.zeros(0)
    at_risk = t.size - np.searchsorted(np.sort(t), event_times, side="left")
    deaths = np.bincount(np.searchsorted(event_times, t[obs]), minlength=event_times.size)
    surv = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore"):
        green = np.cumsum(np.where(at_risk > deaths, deaths / (at_risk * np.maximum(at_risk - deaths, 1)), np.inf))
    return event_times, surv, green


def kaplan_meier_median(times, observed, confidence: float = 0.95) -> dict:
    """The Kaplan-Meier median with its Brookmeyer-Crowley interval.

    The median is the first event time with ``S(t) <= 1/2``; the interval's ends are the first
    times where the lower (upper) pointwise band of ``S`` drops to ``1/2`` or below, the bands
    from Greenwood's variance on the log(-log) scale. A median beyond the last observed time is
    not a number (``None``): ``lower_bound`` is that time. An interval end never reached is
    ``inf`` (upper) or the last observed time (lower)."""
    from scipy import stats

    t = np.asarray(times, np.float64)
    last = float(t.max()) if t.size else 0.0
    event_times, surv, green = kaplan_meier(times, observed)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        se = np.sqrt(green) / np.abs(log_s)
        inner = (surv > 0) & (surv < 1) & np.isfinite(se)
        lower = np.where(inner, surv ** np.exp(z * se), np.where(surv >= 1, 1.0, 0.0))
        upper = np.where(inner, surv ** np.exp(-z * se), np.where(surv >= 1, 1.0, 0.0))

    def first(mask):
        idx = np.flatnonzero(mask)
        return float(event_times[idx[0]]) if idx.size else None

    median = first(surv <= 0.5)
    # the lower band reaches 1/2 first: it gives the interval's lower end
    lo, hi = first(lower <= 0.5), first(upper <= 0.5)
    return dict(median=median, ci=[last if lo is None else lo, math.inf if hi is None else hi],
                lower_bound=last if median is None else median)


def weighted_slope(x, y, se, confidence: float = 0.95) -> dict:
    """Weighted least-squares line ``y = a + b x`` (weights ``1 / se^2``): the slope ``b`` with
    its normal-theory interval (known variances: ``se(b) = (sum w (x - xbar)^2)^{-1/2}``), the
    intercept, and the reduced chi-square of the residuals (about 1 when the line and the
    variances fit)."""
    from scipy import stats

    x, y, w = (np.asarray(v, np.float64) for v in (x, y, 1.0 / np.asarray(se, np.float64) ** 2))
    xm, ym = np.sum(w * x) / np.sum(w), np.sum(w * y) / np.sum(w)
    sxx = float(np.sum(w * (x - xm) ** 2))
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    se_slope = 1.0 / math.sqrt(sxx)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    resid = y - intercept - slope * x
    chi2_red = float(np.sum(w * resid**2) / (x.size - 2)) if x.size > 2 else None
    return dict(slope=slope, ci=[slope - z * se_slope, slope + z * se_slope], se=se_slope,
                intercept=intercept, reduced_chi2=chi2_red)


# ----------------------------------------------------------------------------- simulation


def _first_exits(step, key, x0, centers, r_in, max_steps: int):
    """Run ULA (``step``, one chain) on every chain of ``x0`` ``[n, d]`` until each has left its
    ball ``B(centers[j], r_in)`` or ``max_steps`` steps are done; no trajectory is kept.

    Returns ``(exit step [n] (max_steps + 1: censored), went non-finite before leaving [n],
    steps run)``; a chain starting outside its ball exits at step 0. Step ``k``'s keys are
    ``split(fold_in(key, k), n)``, as in ``langevin_jax.run``."""
    n = x0.shape[0]
    never = jnp.int32(max_steps + 1)
    r2 = jnp.float32(r_in) ** 2

    def outside(x):
        return jnp.sum((x - centers) ** 2, axis=-1) > r2

    def one(carry, _):
        state, exits, bad, k = carry
        state, _ = jax.vmap(step)(jax.random.split(jax.random.fold_in(key, k), n), state)
        x, k1 = state.position, k + 1
        inside = exits == never
        exits = jnp.where(inside & outside(x) & (k1 <= max_steps), k1, exits)
        bad = bad | (inside & ~jnp.all(jnp.isfinite(x), axis=-1))
        return (state, exits, bad, k1), None

    def cond(carry):
        _, exits, bad, k = carry
        return (k < max_steps) & jnp.any((exits == never) & ~bad)

    exits0 = jnp.where(outside(x0), 0, never).astype(jnp.int32)
    carry = (jax.vmap(lj.ula.init)(x0), exits0, jnp.zeros(n, bool), jnp.int32(0))
    _, exits, bad, k = jax.lax.while_loop(cond, lambda c: jax.lax.scan(one, c, None, length=CHUNK)[0], carry)
    return exits, bad, k


def _setup(config: Config, score: str, d: int, key: jax.Array):
    """The score, starts, ball centres, r_in, alpha, h and extras of one (score, d)."""
    k_start, k_train = jax.random.split(key)
    sqrt_d = math.sqrt(d)
    if score == "trap":
        r_in, r_out = config.trap_r_in_factor * sqrt_d, config.trap_r_out_factor * sqrt_d
        mu = jnp.full((d,), config.trap_mu_factor)
        s_hat = scores.trap_score(mu, r_in, r_out, config.trap_alpha)
        x0 = jax.random.normal(k_start, (config.chains, d))
        centers = jnp.zeros((config.chains, d))
        return s_hat, x0, centers, r_in, config.trap_alpha, config.trap_step_size, {}
    r_in, r_out = config.memorizing_r_in_factor * sqrt_d, config.memorizing_r_out_factor * sqrt_d
    raw = np.asarray(jax.random.normal(k_train, (config.num_train, d)), np.float64)
    train = raw[scores.select_general_position(raw, 2.0 * r_out)]
    s_hat = scores.memorizing_score(jnp.asarray(train, jnp.float32), r_in, r_out, config.memorizing_alpha)
    centers = jnp.asarray(train[np.arange(config.chains) % train.shape[0]], jnp.float32)
    gp = scores.general_position(train)
    extra = dict(num_train_used=int(train.shape[0]),
                 min_pairwise_over_sqrt_d=gp.min_pairwise_distance / sqrt_d)
    return s_hat, centers, centers, r_in, config.memorizing_alpha, config.memorizing_step_size, extra


def temperature(step_size: float, alpha: float) -> float:
    """ULA's temperature on the OU ``-alpha x``: its stationary variance ``1 / (alpha (1 - h alpha / 2))``
    is the diffusion's at ``T = 1 / (1 - h alpha / 2)`` (our continuous proxy)."""
    return 1.0 / (1.0 - 0.5 * step_size * alpha)


def predicted_mean_time(d: int, alpha: float, r_in: float, step_size: float, start_radii=None,
                        corrected: bool = False) -> float:
    """The OU's mean exit time from ``B(0, r_in)`` at ULA's temperature, averaged over
    ``start_radii`` (``None``: from the centre); a start outside the ball counts 0, as ULA's step 0.
    ``corrected``: the ball's radius moved out by ``BGK_BETA sqrt(2 T h)`` (discrete monitoring)."""
    temp = temperature(step_size, alpha)
    radius = r_in + (BGK_BETA * math.sqrt(2.0 * temp * step_size) if corrected else 0.0)
    if start_radii is None:
        return theory.ou_exit_time_mean(d, alpha, radius, 0.0, temp)
    r0 = np.asarray(start_radii, np.float64)
    inside = r0 < r_in
    if not inside.any():
        return 0.0
    # T(r0) on a grid over the start radii, linearly interpolated (it is smooth in r0)
    lo, hi = float(r0[inside].min()), float(r0[inside].max())
    grid = np.linspace(lo, hi, 33) if hi > lo else np.asarray([lo])
    values = np.asarray([theory.ou_exit_time_mean(d, alpha, radius, g, temp) for g in grid])
    return float(np.sum(np.interp(r0[inside], grid, values)) / r0.size)


def _part(config: Config, score: str, d: int, key: jax.Array) -> dict:
    import time

    k_setup, k_run = jax.random.split(key)
    s_hat, x0, centers, r_in, alpha, h, extra = _setup(config, score, d, k_setup)
    step = lj.ula(s_hat, h).step
    start = time.perf_counter()
    run = jax.jit(lambda k, x, c: _first_exits(step, k, x, c, r_in, config.max_steps))
    exits, bad, steps_run = (np.asarray(v) for v in run(k_run, x0, centers))
    wall = time.perf_counter() - start
    start_radii = np.linalg.norm(np.asarray(x0, np.float64) - np.asarray(centers, np.float64), axis=1)
    keep = ~bad
    observed = exits[keep] <= config.max_steps
    times = np.where(observed, exits[keep], config.max_steps) * h
    return dict(
        d=d, r_in=r_in, alpha=alpha, step_size=h, temperature=temperature(h, alpha),
        exit_steps=np.where(exits[keep] <= config.max_steps, exits[keep], -1).tolist(),  # -1: censored
        nonfinite=int(bad.sum()), started_outside=int(np.sum(exits[keep] == 0)),
        steps_run=int(steps_run), wall_seconds=wall,
        predicted_mean_time=predicted_mean_time(d, alpha, r_in, h, start_radii[keep] if score == "trap" else None),
        predicted_mean_time_corrected=predicted_mean_time(
            d, alpha, r_in, h, start_radii[keep] if score == "trap" else None, corrected=True),
        **_estimates(times, observed, config.confidence), **extra)


def _estimates(times, observed, confidence: float) -> dict:
    """A row's estimates from times at risk (time units) and the event flags."""
    mle = exponential_mle(times, observed, confidence)
    km = kaplan_meier_median(times, observed, confidence)
    n, k = int(np.size(times)), int(np.sum(observed))
    return dict(
        events=k, censored=n - k, fraction_censored=(n - k) / n if n else None,
        rate_mle=mle["rate"], rate_ci=mle["rate_ci"], time_at_risk=mle["time_at_risk"],
        mean_time=mle["mean"], mean_time_ci=mle["mean_ci"],
        km_median=km["median"], km_median_ci=km["ci"], km_median_lower_bound=km["lower_bound"],
        sample_mean_if_uncensored=float(np.mean(times)) if n and k == n else None)


def _growth(rows: list, config: Config, score: str) -> dict:
    """The fitted slope of log(mean time) against d and the predicted ones."""
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + config.confidence / 2))
    used = [r for r in rows if r["mean_time"] is not None and r["mean_time"] > 0
            and 0 < r["mean_time_ci"][0] and math.isfinite(r["mean_time_ci"][1])
            and r["predicted_mean_time"] > 0 and r["predicted_mean_time_corrected"] > 0]
    alpha, k, h = (getattr(config, f"{score}_{n}") for n in ("alpha", "r_in_factor", "step_size"))
    out = dict(fitted=None, ci=None, predicted_finite_d=None, predicted_finite_d_corrected=None,
               predicted_asymptotic=theory.ou_exit_growth_rate(alpha, k, temperature(h, alpha)),
               predicted_asymptotic_continuous=theory.ou_exit_growth_rate(alpha, k, 1.0),
               dims_fitted=[r["d"] for r in used], reduced_chi2=None, intercept=None,
               corrected_prediction_chi2_per_d=None)
    if len(used) < 2:
        return out
    d = [r["d"] for r in used]
    se = [(math.log(r["mean_time_ci"][1]) - math.log(r["mean_time_ci"][0])) / (2 * z) for r in used]
    fit = weighted_slope(d, [math.log(r["mean_time"]) for r in used], se, config.confidence)
    pred = weighted_slope(d, [math.log(r["predicted_mean_time"]) for r in used], se, config.confidence)
    corr = weighted_slope(d, [math.log(r["predicted_mean_time_corrected"]) for r in used], se, config.confidence)
    # how well the corrected prediction itself fits the measured means, d by d
    z_pred = [(math.log(r["mean_time"]) - math.log(r["predicted_mean_time_corrected"])) / e for r, e in zip(used, se)]
    out.update(fitted=fit["slope"], ci=fit["ci"], se=fit["se"], intercept=fit["intercept"],
               reduced_chi2=fit["reduced_chi2"], predicted_finite_d=pred["slope"],
               predicted_finite_d_corrected=corr["slope"],
               corrected_prediction_chi2_per_d=float(np.mean(np.square(z_pred))))
    return out


def paper_constants_prediction(config: Config) -> dict:
    """Predicted mean escape times at the paper's constants (theory only), in log10."""
    out = {}
    for score in config.scores:
        p = PAPER[score]
        alpha, h = p["alpha"], p["step_size"]
        temp = temperature(h, alpha)
        rows = []
        for d in config.paper_dims:
            r_in = p["r_in_factor"] * math.sqrt(d)
            r0 = min(math.sqrt(d), 0.999 * r_in) if score == "trap" else 0.0
            log_cont = theory.ou_exit_time_log_mean(d, alpha, r_in, r0, 1.0)
            log_ula = theory.ou_exit_time_log_mean(d, alpha, r_in, r0, temp)
            rows.append(dict(d=d, log10_mean_time_continuous=log_cont / math.log(10),
                             log10_mean_time_ula_proxy=log_ula / math.log(10),
                             log10_mean_steps_ula_proxy=(log_ula - math.log(h)) / math.log(10)))
        out[score] = dict(
            r_in_factor=p["r_in_factor"], alpha=alpha, step_size=h, ula_temperature=temp, start=p["start"],
            source=p["source"], rows=rows,
            growth_rate_continuous=theory.ou_exit_growth_rate(alpha, p["r_in_factor"], 1.0),
            growth_rate_ula_proxy=theory.ou_exit_growth_rate(alpha, p["r_in_factor"], temp))
    return out


def run(config: Config, key: jax.Array, cache: _output.PartCache | None = None) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    rows, growth, exit_steps = {}, {}, {}
    for score in config.scores:
        rows[score] = []
        for d in sorted(config.dims):
            k = jax.random.fold_in(jax.random.fold_in(key, SCORES.index(score)), d)
            compute = lambda s=score, d=d, k=k: _part(config, s, d, k)  # noqa: E731
            part = dict(cache.get_or_compute(f"{score}-d={d}", compute) if cache else compute())
            exit_steps[f"{score}-d={d}"] = part.pop("exit_steps")
            part["ratio_to_corrected"] = (part["mean_time"] / part["predicted_mean_time_corrected"]
                                          if part["mean_time"] is not None and part["predicted_mean_time_corrected"] > 0
                                          else None)
            rows[score].append(part)
            ci = part["mean_time_ci"]
            shown = f"{part['mean_time']:.4g}" if part["mean_time"] is not None else f"> {ci[0]:.4g}"
            print(f"{score} d={d}: {part['events']} left, {part['censored']} censored, {part['nonfinite']} "
                  f"non-finite; mean time {shown} [{ci[0]:.4g}, {ci[1]:.4g}], predicted "
                  f"{part['predicted_mean_time']:.4g} (corrected {part['predicted_mean_time_corrected']:.4g}); "
                  f"{part['steps_run']} steps in {part['wall_seconds']:.1f} s", flush=True)
        growth[score] = _growth(rows[score], config, score)
        g = growth[score]
        if g["fitted"] is not None:
            print(f"{score}: growth rate per dimension {g['fitted']:.4f} [{g['ci'][0]:.4f}, {g['ci'][1]:.4f}], "
                  f"predicted {g['predicted_finite_d']:.4f} (corrected {g['predicted_finite_d_corrected']:.4f}, "
                  f"d -> inf {g['predicted_asymptotic']:.4f})", flush=True)
    return dict(rows=rows, growth_rate=growth, paper_constants_prediction=paper_constants_prediction(config),
                confidence=config.confidence, max_steps=config.max_steps, _exit_steps=exit_steps)


# ----------------------------------------------------------------------------- outputs

TITLES = {"trap": "trap score (Theorem 1), ball B(0, r_in)", "memorizing": "memorising score (Theorem 7), B(x_i, r_in)"}


def _f(v):
    return _plotting.as_float(v) if v is not None else math.nan


@_plotting.styled
def _plot(result, out):
    """``out/escape_time.png``: one panel per score (side by side, 8 inches wide): the mean escape
    time (log scale) against d, measured (MLE with its interval; Kaplan-Meier medians as hollow
    markers), predicted (proxy and corrected) and the fitted line; a d without an event is a
    lower bound (an arrow up)."""
    names = [s for s in SCORES if s in result["rows"]]
    fig, axes = _plotting.subplots(1, len(names), row_height=3.9, squeeze=False)
    for ax, score in zip(axes[0], names):
        rows, g = result["rows"][score], result["growth_rate"][score]
        d = np.asarray([r["d"] for r in rows], float)
        mean = np.asarray([_f(r["mean_time"]) for r in rows])
        lo = np.asarray([_f(r["mean_time_ci"][0]) for r in rows])
        hi = np.asarray([_f(r["mean_time_ci"][1]) for r in rows])
        ok = np.isfinite(mean) & (mean > 0) & np.isfinite(hi)
        ax.errorbar(d[ok], mean[ok], yerr=[mean[ok] - lo[ok], hi[ok] - mean[ok]], ls="none", marker="o",
                    color="tab:blue", capsize=2, zorder=4, label="measured mean (MLE, CI)")
        med = np.asarray([_f(r["km_median"]) for r in rows])
        mlo = np.asarray([_f(r["km_median_ci"][0]) for r in rows])
        mhi = np.asarray([_f(r["km_median_ci"][1]) for r in rows])
        okm = np.isfinite(med) & (med > 0) & np.isfinite(mhi) & (mlo > 0)
        shift = 0.15 * (np.diff(d).min() if d.size > 1 else 1.0)  # beside the means, not on them
        ax.errorbar(d[okm] + shift, med[okm] / math.log(2),
                    yerr=[(med[okm] - mlo[okm]) / math.log(2), (mhi[okm] - med[okm]) / math.log(2)],
                    ls="none", marker="s", mfc="none", color="tab:orange", capsize=2, zorder=3,
                    label="KM median / ln 2 (CI)")
        dd = np.asarray(sorted(d))
        corr = np.asarray([_f(r["predicted_mean_time_corrected"]) for r in rows])
        plain = np.asarray([_f(r["predicted_mean_time"]) for r in rows])
        ax.plot(d, corr, color="k", lw=1.4, zorder=2, label="predicted, corrected edge")
        ax.plot(d, plain, color="k", lw=1.0, ls="--", zorder=2, label="predicted, OU at ULA temperature")
        if g["fitted"] is not None:
            ax.plot(dd, np.exp(g["intercept"] + g["fitted"] * dd), color="tab:green", ls=":", lw=1.6, zorder=1,
                    label=f"fit: slope {g['fitted']:.3f} [{g['ci'][0]:.3f}, {g['ci'][1]:.3f}]\n"
                          f"predicted (corrected) {g['predicted_finite_d_corrected']:.3f}, "
                          f"d→∞: {g['predicted_asymptotic']:.3f}")
        bound = ~ok  # no event (or an unbounded interval): a lower bound, an arrow up
        if bound.any():
            ax.plot(d[bound], lo[bound], ls="none", marker="_", ms=10, mew=2, color="tab:red", zorder=5,
                    label="no escape: lower bound")
            for x, y in zip(d[bound], lo[bound]):
                ax.annotate("", xy=(x, y * 3.0), xytext=(x, y), zorder=5,
                            arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.4))
        ax.set_yscale("log")
        ax.set_xlabel("dimension d")
        ax.set_title(TITLES[score])
        _plotting.make_room(ax, "top", 0.42)
        _plotting.log_ticks(ax, "y")
        ax.legend(loc="upper left", fontsize=9)
    axes[0][0].set_ylabel("mean escape time (t = k h)")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _fmt(v, digits=3):
    if v is None:
        return "-"
    v = _plotting.as_float(v)
    return "inf" if math.isinf(v) else f"{v:.{digits}g}"


def _interval(ci):
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _markdown(config: Config, result: dict) -> str:
    conf = int(round(100 * config.confidence))
    parts = [f"# Escape time from the trap versus d (Lemma 4 / Corollary 2)\n\n"
             f"{config.chains} ULA chains per score and d, censored after {config.max_steps} steps; "
             f"{conf}% intervals. Times in time units t = k h. Mean = exponential MLE (events / time at "
             "risk, exact Poisson interval); KM = Kaplan-Meier median (Brookmeyer-Crowley interval); "
             "'predicted': the OU's exact mean exit time at ULA's temperature T = 1 / (1 - h alpha / 2); "
             "'corrected': with the ball's edge moved out by 0.5826 sqrt(2 T h) for ULA's discrete "
             "monitoring (both our approximations). Chains that went non-finite before leaving are "
             "left out of the estimates and counted. The first exit from B(c, r_in) is what is measured: "
             "between r_in and r_out the score still pulls a chain back, so leaving the trap for good takes "
             f"longer. Took {result.get('elapsed_seconds', 0.0):.0f} s.\n"]
    for score, rows in result["rows"].items():
        h, alpha = rows[0]["step_size"], rows[0]["alpha"]
        k_in = getattr(config, f"{score}_r_in_factor")
        head = (f"\n## {TITLES[score]}\n\nr_in = {k_in:g} sqrt(d), alpha = {alpha:g}, h = {h:g} "
                f"(h alpha = {h * alpha:.3g}, T = {temperature(h, alpha):.4f})")
        if score == "memorizing":
            head += f"; training points used: {', '.join(str(r.get('num_train_used')) for r in rows)}"
        else:
            head += ("; chains starting outside the ball (escapes at time 0, also in the prediction): "
                     + ", ".join(str(r["started_outside"]) for r in rows))
        table = _output.markdown_table(
            ["d", "left / censored", "mean (MLE)", f"{conf}% CI", "KM median", "KM CI", "sample mean",
             "predicted", "corrected", "mean / corrected", "non-finite"],
            [[r["d"], f"{r['events']} / {r['censored']}",
              _fmt(r["mean_time"]) if r["mean_time"] is not None else f"> {_fmt(r['mean_time_ci'][0])}",
              _interval(r["mean_time_ci"]),
              _fmt(r["km_median"]) if r["km_median"] is not None else f"> {_fmt(r['km_median_lower_bound'])}",
              _interval(r["km_median_ci"]), _fmt(r["sample_mean_if_uncensored"]),
              _fmt(r["predicted_mean_time"]), _fmt(r["predicted_mean_time_corrected"]),
              _fmt(r["ratio_to_corrected"]), r["nonfinite"]]
             for r in rows])
        g = result["growth_rate"][score]
        if g["fitted"] is not None:
            growth = (f"Growth rate of log(mean time) per dimension (weighted least squares over d = "
                      f"{', '.join(map(str, g['dims_fitted']))}): **{g['fitted']:.4f}** {_interval(g['ci'])} "
                      f"(reduced chi-square {_fmt(g['reduced_chi2'])}); predicted over the same d: "
                      f"{g['predicted_finite_d']:.4f} (corrected {g['predicted_finite_d_corrected']:.4f}; "
                      f"the corrected means against the measured ones: chi-square per d "
                      f"{_fmt(g['corrected_prediction_chi2_per_d'])}); "
                      f"limit d -> inf (x - 1 - log x) / 2 with x = alpha r_in^2 / (d T): "
                      f"{g['predicted_asymptotic']:.4f} ({g['predicted_asymptotic_continuous']:.4f} at T = 1).")
        else:
            growth = "Growth rate: fewer than two d with an escape; no fit."
        parts.append(f"{head}.\n\n{table}\n{growth}\n")
    paper = result["paper_constants_prediction"]
    parts.append("\n## At the paper's constants (theory only, no simulation)\n")
    for score, p in paper.items():
        table = _output.markdown_table(
            ["d", "log10 mean time (T = 1)", "log10 mean time (ULA proxy)", "log10 mean steps (ULA proxy)"],
            [[r["d"], f"{r['log10_mean_time_continuous']:.2f}", f"{r['log10_mean_time_ula_proxy']:.2f}",
              f"{r['log10_mean_steps_ula_proxy']:.2f}"] for r in p["rows"]])
        parts.append(f"\n**{score}**: {p['source']}; start {p['start']}; ULA temperature "
                     f"{p['ula_temperature']:.4f}. Growth rate per dimension {p['growth_rate_continuous']:.4f} "
                     f"(T = 1), {p['growth_rate_ula_proxy']:.4f} (ULA proxy).\n\n{table}")
    return "".join(parts)


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, "Escape time from the trap versus d (paper 1, Lemma 4 / Corollary 2)", Config,
                     run, _plot, _markdown)


if __name__ == "__main__":
    main()
