r"""Metropolis-adjusted Langevin (MALA).

Proposal $y = x + h\, s(x) + \sqrt{2h}\, \xi$ with $s = \nabla \log \pi$; accept with
probability

$$
\min\Bigl(1, \frac{\pi(y)\, q(x \mid y)}{\pi(x)\, q(y \mid x)}\Bigr), \qquad
q(y \mid x) = \mathcal{N}\bigl(y;\, x + h\, s(x),\, 2h I\bigr).
$$

The chain is reversible for $\pi$ and so
unbiased at any step size (Roberts & Tweedie, 1996).

BlackJAX-style layers: [`init`][langevin_jax.samplers.mala.init] ``(position, logdensity_fn, score_fn=None)`` and
[`build_kernel`][langevin_jax.samplers.mala.build_kernel] whose kernel is ``kernel(rng_key, state, logdensity_fn, step_size,
score_fn=None)``, the signature BlackJAX's SMC and adaptation code call; [`mala`][langevin_jax.samplers.mala.mala] is the
``init``/``step`` pair for [`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.samplers import base
from langevin_jax.samplers.base import (
    SamplingAlgorithm,
    check_score_shape,
    check_step_size_over_run,
)
from langevin_jax.types import PRNGKey, PyTree, ScalarOrSchedule

__all__ = ["MALAState", "MALAInfo", "mala", "init", "build_kernel"]


class MALAState(NamedTuple):
    position: PyTree
    logdensity: jax.Array
    score: PyTree
    count: jax.Array  # type: ignore[assignment]  # the field shadows tuple.count (mypy); the public name stays


class MALAInfo(NamedTuple):
    r"""``acceptance_rate``: $\min(1, \text{ratio})$ of this step's proposal; ``is_accepted``;
    ``is_finite``: whether the kept position is finite (a non-finite proposal is rejected)."""

    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_finite: jax.Array
    step_size: jax.Array


def _grad_fn(logdensity_fn, score_fn):
    return jax.grad(logdensity_fn) if score_fn is None else score_fn


def init(position: PyTree, logdensity_fn: Callable, score_fn: Optional[Callable] = None) -> MALAState:
    """The state at ``position`` (a pytree): its log-density and score, step count 0. Complex
    and float16/bfloat16 positions are refused (read from the dtypes only)."""
    _checks.check_position_dtype("position", position)
    position = jax.tree_util.tree_map(jnp.asarray, position)
    return MALAState(position, logdensity_fn(position), _grad_fn(logdensity_fn, score_fn)(position),
                     jnp.zeros((), jnp.int32))


def _tree_sum_sq(tree) -> jax.Array:
    total: jax.Array | int = 0
    for x in jax.tree_util.tree_leaves(tree):
        total = total + jnp.sum(x * x)
    return jnp.asarray(total)


def build_kernel():
    """MALA's kernel ``kernel(rng_key, state, logdensity_fn, step_size, score_fn=None)``."""

    def log_q(to, frm, score_frm, h):
        diff = jax.tree_util.tree_map(lambda a, b, g: a - b - h.astype(a.dtype) * g, to, frm, score_frm)
        return -_tree_sum_sq(diff) / (4.0 * h)

    def kernel(rng_key: PRNGKey, state: MALAState, logdensity_fn: Callable, step_size: ScalarOrSchedule,
               score_fn: Optional[Callable] = None):
        grad_fn = _grad_fn(logdensity_fn, score_fn)
        key_prop, key_acc = jax.random.split(rng_key)
        x = state.position
        dtype = jax.tree_util.tree_leaves(x)[0].dtype
        h = base.resolve_step_size(step_size, state.count).astype(dtype)
        y = base.euler_maruyama(x, state.score, h, base.gaussian_noise(key_prop, x))
        logp_y = logdensity_fn(y)
        score_y = grad_fn(y)
        log_ratio = (
            logp_y - state.logdensity + log_q(x, y, score_y, h) - log_q(y, x, state.score, h)
        )
        log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
        acceptance = jnp.exp(jnp.minimum(log_ratio, 0.0))
        accept = jnp.log(jax.random.uniform(key_acc, dtype=dtype)) < log_ratio
        pick = lambda a, b: jax.tree_util.tree_map(lambda u, v: jnp.where(accept, u, v), a, b)  # noqa: E731
        new = MALAState(pick(y, x), jnp.where(accept, logp_y, state.logdensity),
                        pick(score_y, state.score), state.count + 1)
        info = MALAInfo(acceptance, accept, base.tree_is_finite(new.position), h)
        return new, info

    return kernel


_KERNEL = build_kernel()


def _init(logdensity_fn, score_fn, position, rng_key=None):
    del rng_key
    return init(position, logdensity_fn, score_fn)


def _step(logdensity_fn, step_size, score_fn, rng_key, state):
    return _KERNEL(rng_key, state, logdensity_fn, step_size, score_fn)


def _check_logdensity_at_start(logdensity_fn: Callable, position: PyTree) -> None:
    r"""Raise if $\log \pi$ is NaN or ``+inf`` at a concrete initial ``position``.

    From such a point every acceptance ratio is NaN (or ``-inf``), so every proposal is
    rejected and the chain returns its starting point, with acceptance 0 the only sign.
    (``-inf``, a start outside the support, is allowed: the first proposal inside is accepted.)
    Evaluated eagerly on one point; skipped when the position or the log-density is traced.
    """
    if any(not _checks.is_concrete(x) for x in jax.tree_util.tree_leaves(position)):
        return
    with jax.ensure_compile_time_eval():  # evaluated now even while a user's jit is traced
        value = logdensity_fn(position)
    if not _checks.is_concrete(value):  # the log-density closes over traced numbers
        return
    value = float(value)
    if math.isnan(value) or value == math.inf:
        raise ValueError(
            f"logdensity_fn returned {value} at the initial position (of the first chain): MALA "
            "would reject every proposal from there and return its starting points; start where "
            "log pi is finite"
        )


def mala(
    logdensity_fn: Callable[[PyTree], jax.Array],
    step_size: ScalarOrSchedule,
    score_fn: Optional[Callable[[PyTree], PyTree]] = None,
) -> SamplingAlgorithm:
    r"""Metropolis-adjusted Langevin as an ``init``/``step`` pair.

    Args:
      logdensity_fn: $\log \pi(x)$ up to a constant, position -> ``[]``.
      step_size: $h > 0$, a float or a schedule $k \mapsto h_k$.
      score_fn: $\nabla \log \pi$; ``jax.grad(logdensity_fn)`` when omitted. Passing an
        inexact score keeps the chain exact for $\pi$ (only the proposal changes).

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.mala.SamplingAlgorithm] with ``MALAState`` / ``MALAInfo``; ``init, step =
      lj.mala(...)`` unpacks.
    """
    _checks.check_callable("logdensity_fn", logdensity_fn)
    if score_fn is not None and not callable(score_fn):
        raise ValueError(f"score_fn must be callable or None, got {type(score_fn).__name__}")
    _checks.check_step_size("step_size", step_size)
    logdensity_fn = base.as_pytree_fn(logdensity_fn)
    score_fn = None if score_fn is None else base.as_pytree_fn(score_fn)
    grad_fn = _grad_fn(logdensity_fn, score_fn)

    def check(position: PyTree, num_steps: int) -> None:
        spec = base.shape_spec(position)
        try:
            out = jax.eval_shape(logdensity_fn, spec)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"logdensity_fn failed on a point of shape {base.position_shapes(position)}: {err}"
            ) from err
        if getattr(out, "shape", None) != ():
            raise ValueError(f"logdensity_fn must return a scalar, got shape {getattr(out, 'shape', out)}")
        check_score_shape("score_fn", grad_fn, position)
        check_step_size_over_run("step_size", step_size, num_steps)
        _check_logdensity_at_start(logdensity_fn, position)

    P = jax.tree_util.Partial
    return SamplingAlgorithm(P(_init, logdensity_fn, score_fn),
                             P(_step, logdensity_fn, step_size, score_fn), check)


# as in BlackJAX (``blackjax.mala.build_kernel()``): ``lj.mala.init`` and ``lj.mala.build_kernel()``
mala.init = init  # type: ignore[attr-defined]
mala.build_kernel = build_kernel  # type: ignore[attr-defined]
