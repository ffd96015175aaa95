r"""The Unadjusted Langevin Algorithm, driven by a score only.

$$
x_{k+1} = x_k + h_k\, \hat s(x_k) + \sqrt{2 h_k}\, \xi_k, \qquad \xi_k \sim \mathcal{N}(0, I_d),
$$

the Euler-Maruyama discretisation of $dX = \hat s(X)\, dt + \sqrt{2}\, dB$.

BlackJAX-style layers: [`init`][langevin_jax.samplers.ula.init] and
[`build_kernel`][langevin_jax.samplers.ula.build_kernel] (a kernel that takes its
parameters per call, ``kernel(rng_key, state, score_fn, step_size)``, so adaptation or SMC
code can drive it), and [`ula`][langevin_jax.samplers.ula.ula], the ``init``/``step`` pair for
[`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax

from langevin_jax import _checks
from langevin_jax.samplers import base
from langevin_jax.samplers.base import (
    LangevinState,
    SamplingAlgorithm,
    check_score_shape,
    check_step_size_over_run,
)
from langevin_jax.types import PRNGKey, PyTree, ScalarOrSchedule

__all__ = ["ULAState", "ULAInfo", "ula", "init", "build_kernel"]

#: ULA's state: [`langevin_jax.samplers.base.LangevinState`][langevin_jax.samplers.base.LangevinState] ``(position, count)``.
ULAState = LangevinState


class ULAInfo(NamedTuple):
    """``is_finite``: whether the new position is finite; ``step_size``: the $h$ used.

    [`langevin_jax.run`][langevin_jax.run] does not average ``is_finite`` step by step (it finds diverged
    chains from the positions: a non-finite Langevin position stays non-finite), so XLA drops
    that reduction from a run; it is there for hand-written loops.
    """

    is_finite: jax.Array
    step_size: jax.Array


def init(position: PyTree, rng_key: PRNGKey | None = None) -> ULAState:
    """The state at ``position`` (a pytree, e.g. ``[d]``), step count 0. ``rng_key`` is unused."""
    return base.init(position, rng_key)


def build_kernel():
    r"""ULA's kernel ``kernel(rng_key, state, score_fn, step_size) -> (ULAState, ULAInfo)``.

    ``step_size`` is a float, a scalar array or a schedule $k \mapsto h_k$ of ``state.count``.
    """

    def kernel(rng_key: PRNGKey, state: ULAState, score_fn: Callable, step_size: ScalarOrSchedule):
        h = base.resolve_step_size(step_size, state.count)
        x = state.position
        noise = base.gaussian_noise(rng_key, x)
        position = base.euler_maruyama(x, score_fn(x), h, noise)
        return ULAState(position, state.count + 1), ULAInfo(base.tree_is_finite(position), h)

    return kernel


_KERNEL = build_kernel()


def _step(score_fn, step_size, rng_key, state):
    return _KERNEL(rng_key, state, score_fn, step_size)


def ula(score_fn: Callable[[PyTree], PyTree], step_size: ScalarOrSchedule) -> SamplingAlgorithm:
    r"""The Unadjusted Langevin Algorithm as an ``init``/``step`` pair.

    Args:
      score_fn: $\hat s(x)$: position -> position (e.g. ``[d] -> [d]``), an estimate of
        $\nabla \log \pi$. A bound method of a pytree target (``target.score``) or a
        `jax.tree_util.Partial` carries its arrays as traced inputs.
      step_size: $h > 0$, a float, or a schedule $k \mapsto h_k$ of the step index.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.ula.SamplingAlgorithm]; ``init(position, rng_key=None) -> ULAState``,
      ``step(key, state) -> (ULAState, ULAInfo)``. ``step`` is a
      `jax.tree_util.Partial` holding ``score_fn`` and ``step_size``: a new step size
      re-uses the compiled [`langevin_jax.run`][langevin_jax.run].

    Examples:
      >>> import jax, jax.numpy as jnp, langevin_jax as lj
      >>> init, step = lj.ula(lambda x: -x, step_size=0.1)
      >>> state, info = step(jax.random.key(0), init(jnp.zeros(3)))
      >>> state.position.shape
      (3,)
    """
    _checks.check_callable("score_fn", score_fn)
    _checks.check_step_size("step_size", step_size)
    score_fn = base.as_pytree_fn(score_fn)

    def check(position: PyTree, num_steps: int) -> None:
        check_score_shape("score_fn", score_fn, position)
        check_step_size_over_run("step_size", step_size, num_steps)

    return SamplingAlgorithm(init, jax.tree_util.Partial(_step, score_fn, step_size), check)


# as in BlackJAX (``blackjax.mala.build_kernel()``): ``lj.ula.init`` and ``lj.ula.build_kernel()``
ula.init = init  # type: ignore[attr-defined]
ula.build_kernel = build_kernel  # type: ignore[attr-defined]
