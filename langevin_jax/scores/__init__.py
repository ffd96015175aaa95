# Maintainers' note: the constructions live in `scores.constructions`, their score errors in
# `scores.errors`; every public name is re-exported here.
r"""Score-error constructions of Cao, Chen, Sridharan & Wu (2026), *On the Robustness of
Langevin Dynamics to Score Function Error* (arXiv 2603.11319).

Every constructor returns a plain ``score_fn(x)`` on one point ``[d] -> [d]``
(batch with ``jax.vmap``); compose them with [`langevin_jax.ula`][langevin_jax.ula].

* [`bump`][langevin_jax.scores.bump]: a $C^\infty$ bump, 1 on $[0, a]$, 0 on $[c, \infty)$.
* [`trap_score`][langevin_jax.scores.trap_score]: Theorem 1 (standard-normal start is trapped near the origin).
* [`memorizing_score`][langevin_jax.scores.memorizing_score]: Theorem 7 (chains started at training points stay there).
* [`cone_escape_score`][langevin_jax.scores.cone_escape_score]: Theorem 11 (a thin far-away cone where the score pushes
  chains out to infinity).

Their score errors come three ways: Monte Carlo with importance sampling
([`trap_score_error`][langevin_jax.scores.trap_score_error],
[`memorizing_score_error`][langevin_jax.scores.memorizing_score_error]), an analytic bound
([`trap_score_error_log_bound`][langevin_jax.scores.trap_score_error_log_bound]) and exact
quadrature ([`trap_score_error_exact`][langevin_jax.scores.trap_score_error_exact],
[`memorizing_score_error_exact`][langevin_jax.scores.memorizing_score_error_exact]).
"""

from langevin_jax.scores.constructions import (
    GeneralPosition,
    TrapRadii,
    bump,
    bump_lipschitz,
    cone_escape_score,
    default_memorizing_alpha,
    general_position,
    in_cone,
    memorizing_score,
    select_general_position,
    theory_trap_radii,
    trap_score,
)
from langevin_jax.scores.errors import (
    log_ball_error,
    memorizing_score_error,
    memorizing_score_error_exact,
    trap_score_error,
    trap_score_error_exact,
    trap_score_error_log_bound,
)

__all__ = [
    "bump",
    "bump_lipschitz",
    "trap_score",
    "TrapRadii",
    "theory_trap_radii",
    "memorizing_score",
    "general_position",
    "GeneralPosition",
    "cone_escape_score",
    "in_cone",
    "trap_score_error",
    "trap_score_error_log_bound",
    "memorizing_score_error",
    "select_general_position",
    "default_memorizing_alpha",
    "log_ball_error",
    "trap_score_error_exact",
    "memorizing_score_error_exact",
]
