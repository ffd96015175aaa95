r"""Metropolis-adjusted Langevin (MALA).

Proposal $y = x + h\, s(x) + \sqrt{2h}\, \xi$ with $s = \nabla \log \pi$; accept with
probability

$$
\min\Bigl(1, \frac{\pi(y)\, q(x \mid y)}{\pi(x)\, q(y \mid x)}\Bigr), \qquad
q(y \mid x) = \mathcal{N}\bigl(y;\, x + h\, s(x),\, 2h I\bigr).
$$

The chain is reversible for $\pi$ and so
unbiased at any step size (Roberts & Tweedie, 1996).

With a diagonal preconditioner (an inverse mass matrix $M^{-1} = \operatorname{diag}(m)$, $m > 0$)
the proposal is $y = x + h\, m \odot s(x) + \sqrt{2h\, m} \odot \xi$ and
$q(y \mid x) = \mathcal{N}\bigl(y;\, x + h\, m \odot s(x),\, 2h \operatorname{diag}(m)\bigr)$: the
Langevin diffusion $dX = M^{-1} \nabla \log \pi(X)\, dt + \sqrt{2 M^{-1}}\, dB$ discretised, still
reversible for $\pi$ after the Metropolis step. It lets one step size serve coordinates of
different scales; [`langevin_jax.adaptation.mala_warmup`][langevin_jax.adaptation.mala_warmup]
estimates $m$ (the target's marginal variances) during a warm-up.

BlackJAX-style layers: [`init`][langevin_jax.samplers.mala.init] ``(position, logdensity_fn, score_fn=None)`` and
[`build_kernel`][langevin_jax.samplers.mala.build_kernel] whose kernel is ``kernel(rng_key, state, logdensity_fn, step_size,
score_fn=None, inverse_mass_matrix=None)``, the signature BlackJAX's SMC and adaptation code call;
[`mala`][langevin_jax.samplers.mala.mala] is the ``init``/``step`` pair for [`langevin_jax.run`][langevin_jax.run].
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

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
    """MALA's kernel ``kernel(rng_key, state, logdensity_fn, step_size, score_fn=None,
    inverse_mass_matrix=None)``; ``inverse_mass_matrix``, when given, is the diagonal $m$ of the
    preconditioner, a pytree of the position's structure and shapes (a ``[d]`` array for a
    ``[d]`` position), every entry $> 0$."""

    def log_q(to, frm, score_frm, h, m=None):
        if m is None:
            diff = jax.tree_util.tree_map(lambda a, b, g: a - b - h.astype(a.dtype) * g, to, frm, score_frm)
            return -_tree_sum_sq(diff) / (4.0 * h)
        # the Gaussian q(to | frm) = N(frm + h m s(frm), 2 h diag(m)); its normalising constant
        # is the same both ways and cancels in the ratio
        leaves = zip(*(jax.tree_util.tree_leaves(t) for t in (to, frm, score_frm, m)))
        total = sum(jnp.sum((a - b - h * mi * g) ** 2 / mi) for a, b, g, mi in leaves)
        return -jnp.asarray(total) / (4.0 * h)

    def propose(x, score, h, noise, m):
        if m is None:
            return base.euler_maruyama(x, score, h, noise)
        return jax.tree_util.tree_map(lambda xi, g, mi, z: xi + h * mi * g + jnp.sqrt(2.0 * h * mi) * z,
                                      x, score, m, noise)

    def kernel(rng_key: PRNGKey, state: MALAState, logdensity_fn: Callable, step_size: ScalarOrSchedule,
               score_fn: Optional[Callable] = None, inverse_mass_matrix: Optional[PyTree] = None):
        grad_fn = _grad_fn(logdensity_fn, score_fn)
        key_prop, key_acc = jax.random.split(rng_key)
        x = state.position
        dtype = jax.tree_util.tree_leaves(x)[0].dtype
        h = base.resolve_step_size(step_size, state.count).astype(dtype)
        m = None if inverse_mass_matrix is None else jax.tree_util.tree_map(
            lambda mi, xi: jnp.asarray(mi).astype(xi.dtype), inverse_mass_matrix, x)
        y = propose(x, state.score, h, base.gaussian_noise(key_prop, x), m)
        logp_y = logdensity_fn(y)
        score_y = grad_fn(y)
        log_ratio = (
            logp_y - state.logdensity + log_q(x, y, score_y, h, m) - log_q(y, x, state.score, h, m)
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


def _step_preconditioned(logdensity_fn, step_size, score_fn, inverse_mass_matrix, rng_key, state):
    return _KERNEL(rng_key, state, logdensity_fn, step_size, score_fn, inverse_mass_matrix)


def _check_inverse_mass_matrix(name: str, inverse_mass_matrix: PyTree) -> None:
    """Every leaf real and, when concrete, finite and > 0 (the shapes are checked against a
    position by the sampler's ``check``)."""
    leaves = jax.tree_util.tree_leaves(inverse_mass_matrix)
    if not leaves:
        raise ValueError(f"{name} must be a pytree of arrays shaped like one position, got {inverse_mass_matrix!r}")
    for leaf in leaves:
        _checks.check_real(name, leaf)
        if _checks.is_concrete(leaf):
            arr = np.asarray(leaf)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be finite, it holds NaN or inf")
            if not np.all(arr > 0):
                raise ValueError(f"{name} must be > 0 everywhere (a diagonal of variances), "
                                 f"its smallest entry is {arr.min()!r}")


def _check_inverse_mass_matrix_shape(name: str, inverse_mass_matrix: PyTree, position: PyTree) -> None:
    """Raise unless ``inverse_mass_matrix`` has the structure and leaf shapes of ``position``
    (one chain's): a ``[d]`` array for a ``[d]`` position. Reads shapes only."""
    want = jax.tree_util.tree_structure(position)
    got = jax.tree_util.tree_structure(inverse_mass_matrix)
    if got != want:  # type: ignore[operator]  # jaxlib ships no type for PyTreeDef
        raise ValueError(f"{name} must have the structure of one position, {want}, got {got}")
    shapes_in = [jnp.shape(x) for x in jax.tree_util.tree_leaves(position)]
    shapes_m = [jnp.shape(x) for x in jax.tree_util.tree_leaves(inverse_mass_matrix)]
    if shapes_in != shapes_m:
        show_in = shapes_in[0] if len(shapes_in) == 1 else shapes_in
        show_m = shapes_m[0] if len(shapes_m) == 1 else shapes_m
        raise ValueError(f"{name} must have the shape of one position (a diagonal), {show_in}, got {show_m}")


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
    *,
    inverse_mass_matrix: Optional[PyTree] = None,
) -> SamplingAlgorithm:
    r"""Metropolis-adjusted Langevin as an ``init``/``step`` pair.

    Args:
      logdensity_fn: $\log \pi(x)$ up to a constant, position -> ``[]``.
      step_size: $h > 0$, a float or a schedule $k \mapsto h_k$.
      score_fn: $\nabla \log \pi$; ``jax.grad(logdensity_fn)`` when omitted. Passing an
        inexact score keeps the chain exact for $\pi$ (only the proposal changes).
      inverse_mass_matrix: the diagonal $m > 0$ of a preconditioner $M^{-1} =
        \operatorname{diag}(m)$, shaped like one position (a ``[d]`` array for ``[d]``
        positions, a pytree of the position's structure otherwise); e.g. the
        ``inverse_mass_matrix`` of [`mala_warmup`][langevin_jax.adaptation.mala_warmup]. ``None``
        (default): no preconditioner, $m = 1$. A traced input of a run, like the step size.

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.mala.SamplingAlgorithm] with ``MALAState`` / ``MALAInfo``; ``init, step =
      lj.mala(...)`` unpacks.
    """
    _checks.check_callable("logdensity_fn", logdensity_fn)
    if score_fn is not None and not callable(score_fn):
        raise ValueError(f"score_fn must be callable or None, got {type(score_fn).__name__}")
    _checks.check_step_size("step_size", step_size)
    if inverse_mass_matrix is not None:
        _check_inverse_mass_matrix("inverse_mass_matrix", inverse_mass_matrix)
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
        if inverse_mass_matrix is not None:
            _check_inverse_mass_matrix_shape("inverse_mass_matrix", inverse_mass_matrix, position)
        check_step_size_over_run("step_size", step_size, num_steps)
        _check_logdensity_at_start(logdensity_fn, position)

    P = jax.tree_util.Partial
    if inverse_mass_matrix is None:
        step = P(_step, logdensity_fn, step_size, score_fn)
    else:
        step = P(_step_preconditioned, logdensity_fn, step_size, score_fn, inverse_mass_matrix)
    return SamplingAlgorithm(P(_init, logdensity_fn, score_fn), step, check)


# as in BlackJAX (``blackjax.mala.build_kernel()``): ``lj.mala.init`` and ``lj.mala.build_kernel()``
mala.init = init  # type: ignore[attr-defined]
mala.build_kernel = build_kernel  # type: ignore[attr-defined]
