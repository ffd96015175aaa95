r"""The sampler interface and the pieces every Langevin sampler shares.

A sampler is a pair of pure functions, as in BlackJAX: ``init(position, rng_key=None)
-> State`` and ``step(rng_key, state) -> (State, Info)`` on **one** chain; batching over
chains is ``jax.vmap``, steps are ``jax.lax.scan`` (see [`langevin_jax.run`][langevin_jax.run]).

What is shared here, once:

* [`LangevinState`][langevin_jax.samplers.base.LangevinState] ``(position, count)``: the state of ULA, annealed Langevin and
  the diffusion samplers (MALA's adds the log-density and score it re-uses);
* [`euler_maruyama`][langevin_jax.samplers.base.euler_maruyama]: the update $x + h\, s + \sqrt{2h}\, \xi$ of ULA, MALA's
  proposal,
  annealed Langevin and the masked sweeps;
* [`gaussian_noise`][langevin_jax.samplers.base.gaussian_noise]: $\xi \sim \mathcal{N}(0, I)$ shaped like a
  position (any pytree);
* [`as_pytree_fn`][langevin_jax.samplers.base.as_pytree_fn]: a score given as a bound method of a pytree (``target.score``)
  becomes a `jax.tree_util.Partial` whose arrays are traced inputs, so a new target
  of the same kind re-uses the compiled program;
* the eager checks a sampler's ``check`` is built from:
  [`check_score_shape`][langevin_jax.samplers.base.check_score_shape] (traced abstractly, nothing
  compiled) and [`check_step_size_over_run`][langevin_jax.samplers.base.check_step_size_over_run].

Positions are pytrees: a ``[d]`` array, a ``[H, W]`` array, a dict of arrays, ... Every
function here maps over the leaves.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from langevin_jax import _checks
from langevin_jax._deprecation import alias_getattr
from langevin_jax.types import ArrayLike, PRNGKey, PyTree, ScalarOrSchedule

__all__ = [
    "CHAIN_AXIS",
    "SamplingAlgorithm",
    "LangevinState",
    "init",
    "euler_maruyama",
    "gaussian_noise",
    "resolve_step_size",
    "as_pytree_fn",
    "tree_is_finite",
    # the eager checks a sampler's ``check`` is made of
    "shape_spec",
    "position_shapes",
    "check_score_shape",
    "check_step_size_over_run",
]

CHAIN_AXIS = "chains"
"""The name of the chain axis: [`langevin_jax.run`][langevin_jax.run] calls
``jax.vmap(step, axis_name=CHAIN_AXIS)``, so a step may reduce over the chains of a run with
``jax.lax.pmean(x, CHAIN_AXIS)`` (the predictor-corrector sampler's batch-averaged step size
does; every other sampler keeps its chains independent). To call such a step by hand, ``vmap``
it with the same ``axis_name``. The device mesh of a sharded run names its axis the same."""

# ``StepSize``, an earlier second name of ``langevin_jax.types.ScalarOrSchedule``: deprecated, warns
__getattr__ = alias_getattr(__name__, {"StepSize": ("langevin_jax.types.ScalarOrSchedule", ScalarOrSchedule)})


@jax.tree_util.register_pytree_node_class
class SamplingAlgorithm:
    """A sampler as a pair of pure functions, plus an eager input check.

    It unpacks like BlackJAX's ``SamplingAlgorithm`` (``init, step = lj.ula(...)``) and is
    accepted wherever BlackJAX expects one (``blackjax.util.run_inference_algorithm``).

    Attributes:
      init: ``init(position, rng_key=None) -> State`` for one chain.
      step: ``step(rng_key, state) -> (State, Info)`` for one chain; batch with ``vmap``.
      check: ``check(position, num_steps) -> None`` (optional), raising ``ValueError`` on bad
        input (a score of the wrong shape, a schedule that goes non-positive) without
        compiling. [`langevin_jax.run`][langevin_jax.run] looks it up by attribute, so any object with
        ``init``/``step`` runs, with or without one. ``run`` passes the number of steps counted
        from the chain's first step, so a continued state's earlier steps are included.
      metadata: a dict of plain Python values describing the sampler (optional): which levels a
        score-based sampler evaluates its network at, which levels the network was trained on,
        whether untrained levels were allowed. Experiments record it beside their results.

    It is a pytree whose children are ``init`` and ``step``: the numbers they carry (step
    sizes, schedules' values, a network score's parameters, when given as pytrees such as
    `jax.tree_util.Partial`) are traced inputs of [`langevin_jax.run`][langevin_jax.run], so a new
    algorithm with new numbers re-uses the compiled program. ``check`` is not part of the
    pytree (it is eager only), nor is ``metadata``.
    """

    __slots__ = ("init", "step", "check", "metadata")

    def __init__(self, init: Callable, step: Callable, check: Optional[Callable] = None,
                 metadata: Optional[dict] = None):
        self.init = init
        self.step = step
        self.check = check
        self.metadata = {} if metadata is None else dict(metadata)

    def __iter__(self):
        return iter((self.init, self.step))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        return (self.init, self.step)[i]

    def __repr__(self) -> str:
        return f"SamplingAlgorithm(init={self.init!r}, step={self.step!r})"

    def tree_flatten(self):
        return (self.init, self.step), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


# Maintainers' note: the score is not cached in this state (unlike MALA's state, which needs it
# twice per step): these samplers evaluate it once per step either way, and carrying it through
# the `lax.scan` doubles the memory traffic of the carry (measured: 15-20% slower at 10,000 chains
# in d = 100 on a CPU).
class LangevinState(NamedTuple):
    """``position`` (a pytree, e.g. ``[d]``) and the step ``count`` (int32 scalar).

    The state of ULA, annealed Langevin and the diffusion samplers.
    """

    position: PyTree
    count: jax.Array  # type: ignore[assignment]  # the field shadows tuple.count (mypy); the public name stays


def init(position: PyTree, rng_key: Optional[PRNGKey] = None) -> LangevinState:
    """The [`LangevinState`][langevin_jax.samplers.base.LangevinState] at ``position``, step count 0 (``rng_key`` is
    unused). Complex and float16/bfloat16 positions are refused (read from the dtypes only)."""
    del rng_key
    _checks.check_position_dtype("position", position)
    return LangevinState(jax.tree_util.tree_map(jnp.asarray, position), jnp.zeros((), jnp.int32))


@jax.custom_jvp
def _sqrt(x):
    return jnp.sqrt(x)


@_sqrt.defjvp
def _sqrt_jvp(primals, tangents):
    # d sqrt(x) = dx / (2 sqrt(x)), taken as 0 at x = 0: a zero step size (a masked
    # coordinate of a sweep) then has a zero, not a NaN, derivative.
    (x,), (dx,) = primals, tangents
    y = jnp.sqrt(x)
    safe = jnp.where(x > 0, y, 1.0)
    return y, jnp.where(x > 0, dx / (2.0 * safe), jnp.zeros_like(dx))


def euler_maruyama(position: PyTree, drift: PyTree, step_size: ArrayLike, noise: PyTree) -> PyTree:
    r"""One Euler-Maruyama step of $dX = \mathrm{drift}\, dt + \sqrt{2}\, dB$: $x + h\, \mathrm{drift} + \sqrt{2h}\, \xi$.

    The update of ULA, of MALA's proposal, of annealed Langevin and of the masked sweeps,
    written once. Leaf by leaf over pytrees; ``step_size`` is cast to each leaf's dtype.

    Args:
      position: $x$, a pytree.
      drift: $s(x)$, the same structure.
      step_size: $h$: a scalar, or an array broadcastable to every leaf (a diagonal step,
        e.g. ``h * mask`` in [`langevin_jax.sweeps.masked_ula`][langevin_jax.sweeps.masked_ula]; the derivative of
        $\sqrt{2h}$ is taken as 0 where $h = 0$).
      noise: $\xi \sim \mathcal{N}(0, I)$, the same structure.

    A non-finite position stays non-finite (``inf + finite = inf``, ``NaN + anything =
    NaN``): [`langevin_jax.run`][langevin_jax.run] relies on this to find diverged chains from their
    final positions.
    """

    def one(x, g, xi):
        h = jnp.asarray(step_size).astype(x.dtype)
        return x + h * g + _sqrt(2.0 * h) * xi

    return jax.tree_util.tree_map(one, position, drift, noise)


def gaussian_noise(rng_key: PRNGKey, position: PyTree) -> PyTree:
    r"""$\xi \sim \mathcal{N}(0, I)$ with the structure, shapes and dtypes of ``position``.

    An array position draws ``jax.random.normal(rng_key, position.shape)``; a pytree draws
    one flat vector and unravels it (as BlackJAX does), so its leaves are independent.
    """
    if isinstance(position, (jax.Array, jnp.ndarray)) or hasattr(position, "shape"):
        position = jnp.asarray(position)
        return jax.random.normal(rng_key, position.shape, position.dtype)
    flat, unravel = ravel_pytree(position)
    return unravel(jax.random.normal(rng_key, flat.shape, flat.dtype))


def tree_is_finite(tree: PyTree) -> jax.Array:
    """``True`` when every entry of every leaf is finite (a scalar bool)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def resolve_step_size(step_size: ScalarOrSchedule, count: jax.Array) -> jax.Array:
    """The step size at step ``count`` for a float, an array or a schedule.

    Raises ``ValueError`` for a complex, bool or non-numeric step size (a complex $h$ cast
    to the positions' dtype would silently run with its real part, ``1j`` with $h = 0$). The
    test reads the dtype only, at trace time: it costs nothing in the compiled step.
    """
    h = jnp.asarray(step_size(count) if callable(step_size) else step_size)
    if not _checks.is_real_dtype(h.dtype):
        what = "schedule must return real step sizes" if callable(step_size) else "must be real"
        raise ValueError(f"step_size {what} (floats > 0), got dtype {h.dtype}")
    return h


def as_pytree_fn(fn: Callable) -> Callable:
    """``fn`` with the arrays it carries exposed as pytree leaves, when it is a bound method.

    ``target.score`` (a bound method of a pytree target such as
    [`langevin_jax.Gaussian`][langevin_jax.Gaussian]) becomes ``Partial(type(target).score, target)``: the
    target's arrays are then traced inputs of a run, and a new target of the same kind
    re-uses the compiled program. Anything else is returned unchanged (a plain function is
    static: its identity is part of the compiled program).
    """
    if inspect.ismethod(fn) and not isinstance(fn.__self__, type):
        owner = fn.__self__
        if not jax.tree_util.all_leaves([owner]):  # a registered pytree node
            return jax.tree_util.Partial(fn.__func__, owner)
    return fn


# --------------------------------------------------------------------------- eager checks


def shape_spec(position: PyTree) -> PyTree:
    """``position`` as ``jax.ShapeDtypeStruct`` leaves, for ``jax.eval_shape`` checks."""
    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), position)


def check_score_shape(name: str, fn: Callable, position: PyTree, *extra: Any) -> None:
    """Trace ``fn(position, *extra)`` abstractly and check it returns ``position``'s structure."""
    spec = shape_spec(position)
    try:
        out = jax.eval_shape(fn, spec, *extra)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument named
        raise ValueError(
            f"{name} failed on a point of shape {position_shapes(position)}: {type(err).__name__}: {err}. "
            "Does the dimension d of initial_positions match the score's?"
        ) from err
    want = jax.tree_util.tree_structure(position)
    got = jax.tree_util.tree_structure(out)
    if got != want:  # type: ignore[operator]  # jaxlib ships no type for PyTreeDef
        raise ValueError(
            f"{name} must return a pytree of the position's structure {want}, got {got}"
        )
    shapes_in = [jnp.shape(x) for x in jax.tree_util.tree_leaves(position)]
    shapes_out = [getattr(x, "shape", None) for x in jax.tree_util.tree_leaves(out)]
    if shapes_in != shapes_out:
        show_in = shapes_in[0] if len(shapes_in) == 1 else shapes_in
        show_out = shapes_out[0] if len(shapes_out) == 1 else shapes_out
        raise ValueError(
            f"{name} must return an array of the position's shape {show_in}, got {show_out}"
        )
    # the dtype too: a complex score would fail in the compiled loop (or lose its imaginary
    # part), another float type would silently change the positions' precision
    for x, y in zip(jax.tree_util.tree_leaves(position), jax.tree_util.tree_leaves(out)):
        want_dtype, got_dtype = jnp.result_type(x), getattr(y, "dtype", None)
        if got_dtype != want_dtype:
            complex_out = got_dtype is not None and jnp.issubdtype(got_dtype, jnp.complexfloating)
            what = "a complex score" if complex_out else "another dtype"
            raise ValueError(f"{name} must return the positions' dtype {want_dtype}, got {got_dtype} "
                             f"({what}); cast it, e.g. score.astype(x.dtype)")


def position_shapes(position: PyTree) -> Any:
    """The shape of an array position, or the list of its leaves' shapes (for error messages)."""
    shapes = [jnp.shape(x) for x in jax.tree_util.tree_leaves(position)]
    return shapes[0] if len(shapes) == 1 and not isinstance(position, (dict, list, tuple)) else shapes


def check_step_size_over_run(name: str, step_size: ScalarOrSchedule, num_steps: int) -> None:
    """Evaluate a schedule on every step index of the run, eagerly, and check it is > 0.

    Skipped where the schedule's values are traced (inside a user's ``jit``/``vmap``/``grad``).
    """
    if not callable(step_size):
        return
    values = jax.vmap(lambda k: resolve_step_size(step_size, k))(jnp.arange(num_steps))
    if values.shape != (num_steps,):
        raise ValueError(f"{name} schedule must return a scalar per step, got shape "
                         f"{values.shape[1:]}")
    _checks.check_schedule_values(name, values)

