r"""Metrics: score error, Lipschitz estimates, and distances between sample sets and targets.

One module per concept, every public name re-exported here (``metrics.score_error``, ...):

* ``score_diagnostics``: [`score_error`][langevin_jax.metrics.score_error] and
  [`lipschitz_estimate`][langevin_jax.metrics.lipschitz_estimate] of a score function;
* ``gaussian_fit``: $\mathrm{KL}$ and $W_2$ of the Gaussian fitted to samples, with their
  finite-sample biases ([`gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl], ...);
* ``sinkhorn``: the debiased Sinkhorn divergence
  ([`sinkhorn_divergence`][langevin_jax.metrics.sinkhorn_divergence]), its batched form and its
  memory guard; its solver imports OTT-JAX on first use only;
* ``kernel_distances``: [`mmd_squared`][langevin_jax.metrics.mmd_squared] and
  [`energy_distance`][langevin_jax.metrics.energy_distance];
* ``nearest``: [`nearest_distance`][langevin_jax.metrics.nearest_distance] to a reference set;
* ``memorization``: [`memorization_report`][langevin_jax.metrics.memorization_report], whether
  samples copy the training set (nearest-neighbour distance ratio, trap radius, held-out
  baseline);
* ``total_variation``: a certified lower bound on $\mathrm{TV}(\mathrm{Law}(X_T), \pi)$ from one set
  $A$ ([`tv_lower_bound`][langevin_jax.metrics.tv_lower_bound],
  [`ball_tv_lower_bound`][langevin_jax.metrics.ball_tv_lower_bound]): a Clopper-Pearson bound on
  the chains' $P(X_T \in A)$ minus $\pi(A)$.

All estimators that involve randomness take the key first. Monte Carlo estimates come
with their standard error.
"""

from langevin_jax.metrics.gaussian_fit import (
    FitReport,
    gaussian_fit_kl,
    gaussian_fit_kl_bias,
    gaussian_fit_kl_report,
    gaussian_fit_w2,
    gaussian_fit_w2_bias,
)
from langevin_jax.metrics.kernel_distances import energy_distance, mmd_squared
from langevin_jax.metrics.memorization import MemorizationPerSample, MemorizationReport, memorization_report
from langevin_jax.metrics.nearest import nearest_distance
from langevin_jax.metrics.score_diagnostics import ScoreError, lipschitz_estimate, score_error
from langevin_jax.metrics.sinkhorn import (
    SINKHORN_MAX_MEMORY_BYTES as SINKHORN_MAX_MEMORY_BYTES,
    ReferenceComparison,
    SinkhornResult,
    sinkhorn_divergence,
    sinkhorn_divergence_batched,
    sinkhorn_with_floor,
)
from langevin_jax.metrics.total_variation import TVLowerBound, ball_tv_lower_bound, tv_lower_bound

__all__ = [
    "ScoreError",
    "score_error",
    "lipschitz_estimate",
    "gaussian_fit_kl",
    "gaussian_fit_kl_bias",
    "FitReport",
    "gaussian_fit_kl_report",
    "gaussian_fit_w2",
    "gaussian_fit_w2_bias",
    "SinkhornResult",
    "sinkhorn_divergence",
    "sinkhorn_divergence_batched",
    "ReferenceComparison",
    "sinkhorn_with_floor",
    "mmd_squared",
    "energy_distance",
    "nearest_distance",
    "MemorizationPerSample",
    "MemorizationReport",
    "memorization_report",
    "TVLowerBound",
    "tv_lower_bound",
    "ball_tv_lower_bound",
]
