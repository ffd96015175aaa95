"""Metropolis-adjusted Langevin (MALA).

Proposal ``y = x + h s(x) + sqrt(2h) xi`` with ``s = grad log pi``; accept with
probability ``min(1, pi(y) q(x|y) / (pi(x) q(y|x)))`` where
``q(y|x) = N(y; x + h s(x), 2h I)``. The chain is reversible for ``pi`` and so
unbiased at any step size (Roberts & Tweedie, 1996).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.samplers.base import (
    SamplingAlgorithm,
    StepSize,
    check_score_shape,
    check_step_size_over_run,
    noise_like,
    resolve_step_size,
)

__all__ = ["MALAState", "MALAInfo", "mala"]


class MALAState(NamedTuple):
    position: jax.Array
    logdensity: jax.Array
    score: jax.Array
    count: jax.Array


class MALAInfo(NamedTuple):
    """``acceptance_rate``: ``min(1, ratio)`` of this step's proposal; ``is_accepted``;
    ``is_finite``: whether the kept position is finite (a non-finite proposal is rejected)."""

    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_finite: jax.Array
    step_size: jax.Array


def mala(
    logdensity_fn: Callable[[jax.Array], jax.Array],
    step_size: StepSize,
    score_fn: Optional[Callable[[jax.Array], jax.Array]] = None,
) -> SamplingAlgorithm:
    """Metropolis-adjusted Langevin as an ``init``/``step`` pair.

    Args:
      logdensity_fn: ``log pi(x)`` up to a constant, ``[d] -> []``.
      step_size: ``h > 0``, a float or a schedule ``k -> h_k``.
      score_fn: ``grad log pi``; ``jax.grad(logdensity_fn)`` when omitted. Passing an
        inexact score keeps the chain exact for ``pi`` (only the proposal changes).

    Returns:
      A :class:`SamplingAlgorithm` with ``MALAState`` / ``MALAInfo``.
    """
    if not callable(logdensity_fn):
        raise ValueError(f"logdensity_fn must be callable, got {type(logdensity_fn).__name__}")
    if score_fn is not None and not callable(score_fn):
        raise ValueError(f"score_fn must be callable or None, got {type(score_fn).__name__}")
    _checks.check_step_size("step_size", step_size)
    grad_fn = jax.grad(logdensity_fn) if score_fn is None else score_fn

    def init(position: jax.Array) -> MALAState:
        position = jnp.asarray(position)
        return MALAState(
            position, logdensity_fn(position), grad_fn(position), jnp.zeros((), jnp.int32)
        )

    def log_q(to, frm, score_frm, h):
        diff = to - frm - h * score_frm
        return -jnp.sum(diff * diff) / (4.0 * h)

    def step(key: jax.Array, state: MALAState):
        key_prop, key_acc = jax.random.split(key)
        x = state.position
        h = resolve_step_size(step_size, state.count).astype(x.dtype)
        y = x + h * state.score + jnp.sqrt(2.0 * h) * noise_like(key_prop, x)
        logp_y = logdensity_fn(y)
        score_y = grad_fn(y)
        log_ratio = (
            logp_y - state.logdensity + log_q(x, y, score_y, h) - log_q(y, x, state.score, h)
        )
        log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
        acceptance = jnp.exp(jnp.minimum(log_ratio, 0.0))
        accept = jnp.log(jax.random.uniform(key_acc, dtype=x.dtype)) < log_ratio
        new = MALAState(
            jnp.where(accept, y, x),
            jnp.where(accept, logp_y, state.logdensity),
            jnp.where(accept, score_y, state.score),
            state.count + 1,
        )
        info = MALAInfo(acceptance, accept, jnp.all(jnp.isfinite(new.position)), h)
        return new, info

    def check(position: jax.Array, num_steps: int) -> None:
        spec = jax.ShapeDtypeStruct(position.shape, position.dtype)
        try:
            out = jax.eval_shape(logdensity_fn, spec)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"logdensity_fn failed on a point of shape {position.shape}: {err}"
            ) from err
        if out.shape != ():
            raise ValueError(f"logdensity_fn must return a scalar, got shape {out.shape}")
        check_score_shape("score_fn", grad_fn, position)
        check_step_size_over_run("step_size", step_size, num_steps)

    return SamplingAlgorithm(init, step, check)
