# Maintainers' note: this module is one file of over 500 lines on purpose. It holds one concept,
# `run`, and only the pieces of its one compiled code path (the per-chain key scheme, the
# static/dynamic split of the algorithm that keys compilation, the chain axes of the state and
# info, sharding, and the eager checks and warnings around the core); split up, that
# path would be read across files.
"""Run a batch of chains: one ``jit`` of a ``lax.scan`` over a ``vmap``ped step.

[`run`][langevin_jax.runner.run] is a thin eager shell (input checks that name the argument, before anything is
compiled, wherever the inputs are concrete) around a pure JAX core. The core is traceable:
``run`` may be called inside a user's ``jit``, ``vmap`` (over keys, step sizes, initial
positions, score parameters), ``grad`` and ``lax.scan``, and gives the same numbers there as
eagerly.

Compilation is keyed on the *structure* of the algorithm, not on its numbers: the algorithm
is a pytree (a [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] whose ``step`` is a
`jax.tree_util.Partial`), its array and float leaves (step sizes, schedules' values, a
target's or a network's parameters) are traced inputs, and only its functions and integers
are static. So ``run(key, lj.ula(score, h), ...)`` for a new ``h`` re-uses the compiled
program. There is no hand-written compile cache: ``jax.jit``'s own cache is the only one.

The chains may be sharded over the devices of one process or, with ``jax.distributed``, over
the devices of several processes (hosts): the noise of a chain does not depend on where it
runs, so the numbers do not depend on the layout (see the "Scaling out" page).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Dict, Iterable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from langevin_jax import _checks, _progress, _static
from langevin_jax.samplers.base import CHAIN_AXIS
from langevin_jax.types import ArrayLike, PRNGKey, PyTree

__all__ = ["run", "RunResult", "RunInfo", "chain_keys", "NonFiniteWarning", "StuckChainWarning"]


class NonFiniteWarning(RuntimeWarning):
    """Issued by an eager [`run`][langevin_jax.runner.run] when chains went non-finite (NaN/inf), or when a chain's
    state holds a NaN log-density (a Metropolis chain that can never accept a proposal).

    The run still returns every chain (``info.nonfinite`` says which diverged): filter it with
    ``warnings.simplefilter("ignore", lj.NonFiniteWarning)`` when divergence is expected, or
    turn it into an error with ``"error"``. Never issued while ``run`` is traced (inside a
    user's ``jit``/``vmap``/``grad``): there the counts are arrays of the caller's program.
    """


class StuckChainWarning(RuntimeWarning):
    r"""Issued by an eager [`run`][langevin_jax.runner.run] when chains never accepted a proposal (acceptance 0
    over the whole run, for samplers whose info has ``is_accepted``: MALA, BlackJAX's MALA and
    HMC) or never moved (final position equal to the initial one, bit for bit, for any sampler).

    Typical causes: a step size far too large (or a negative one), a start where the
    log-density is NaN or far out in the tails. The chains are returned as they are
    (``info.never_accepted`` and ``info.stuck`` say which).

    In a short run, chains can miss every proposal by chance: a chain that accepts a fraction
    $a$ of its proposals accepts none of $n$ with probability $(1 - a)^n$. So $m$ chains that
    never accepted, of $N$, are reported only when $N (1 - a)^n < 10^{-3} m$, with $a$ the
    fraction the other chains accepted: by Markov's inequality, chance gives $m$ or more such
    chains with probability below $10^{-3}$ then (``info`` counts them either way). Chains that
    never moved though they accepted proposals (or whose sampler has no ``is_accepted``) are
    always reported.

    Filter it with ``warnings.simplefilter("ignore", lj.StuckChainWarning)``, or turn
    it into an error with ``"error"``. Never issued while ``run`` is traced: there the counts
    are arrays of the caller's program.
    """


class RunInfo(NamedTuple):
    """Summary of a run, all arrays (so a run can be traced); [`summary`][langevin_jax.runner.RunInfo.summary] gives
    Python numbers.

    Attributes:
      num_nonfinite: int32 scalar, the number of chains whose position was non-finite
        (NaN/inf). Such chains are *not* removed from ``state``: callers decide. A chain is
        counted when its final position or a saved one is non-finite; for Langevin updates
        ``x + (...)`` a non-finite position stays non-finite, so this is "at any step" (pass
        ``check_every_step=True`` to [`run`][langevin_jax.runner.run] for samplers that could recover).
      nonfinite: ``[num_chains]`` bool, which chains went non-finite.
      acceptance_rate: float scalar, the mean over chains and steps of the Metropolis
        acceptance probability (MALA, BlackJAX's MALA/HMC/NUTS); ``None`` for unadjusted
        samplers.
      means: per-chain means over the steps of the step's info fields, ``{name: [num_chains]}``,
        by one rule: every field of a NamedTuple or dict info that holds one number or bool per
        chain (``acceptance_rate``, ``is_accepted``, ``step_size``, ``time``, ``level``, ...)
        except ``is_finite`` (see ``nonfinite``). A field that is the same for every chain (a
        scheduled ``step_size``) is averaged too: every chain then holds the same mean.
      num_stuck: int32 scalar, the number of chains that never moved: every leaf of the final
        position equal, bit for bit, to the initial one (of this run: a continued run's start).
        A Langevin chain moves at every step; a Metropolis chain that rejected every proposal
        does not.
      stuck: ``[num_chains]`` bool, which chains never moved.
      num_never_accepted: int32 scalar, the number of chains that accepted no proposal in the
        whole run (acceptance 0), for samplers whose info has an ``is_accepted`` field (MALA,
        BlackJAX's MALA and HMC); ``None`` for the others.
      never_accepted: ``[num_chains]`` bool, which chains never accepted: those whose
        ``means["is_accepted"]`` is 0 (``None`` without ``is_accepted``).
    """

    num_nonfinite: jax.Array
    nonfinite: jax.Array
    acceptance_rate: Optional[jax.Array]
    means: Dict[str, jax.Array]
    num_stuck: jax.Array
    stuck: jax.Array
    num_never_accepted: Optional[jax.Array]
    never_accepted: Optional[jax.Array]

    def summary(self) -> dict:
        """Python numbers (eager only): ``num_nonfinite``, ``num_stuck`` and
        ``num_never_accepted`` (ints, the last ``None`` without ``is_accepted``),
        ``acceptance_rate`` (float or ``None``) and the chain-averaged ``means`` (floats)."""
        return {
            "num_nonfinite": int(self.num_nonfinite),
            "num_stuck": int(self.num_stuck),
            "num_never_accepted": None if self.num_never_accepted is None else int(self.num_never_accepted),
            "acceptance_rate": None if self.acceptance_rate is None else float(self.acceptance_rate),
            "means": {k: float(jnp.mean(v)) for k, v in self.means.items()},
        }


class RunResult(NamedTuple):
    """What [`run`][langevin_jax.runner.run] returns (a pytree of arrays).

    Attributes:
      state: the final state of every chain (leaves with a leading ``[num_chains]`` axis).
      trajectory: the positions after steps ``save_every, 2 save_every, ...``, leaves
        ``[num_saved, num_chains, ...]`` (``num_saved = num_steps // save_every``), or ``None``.
      info: a [`RunInfo`][langevin_jax.runner.RunInfo].
    """

    state: PyTree
    trajectory: Optional[PyTree]
    info: RunInfo

    @property
    def positions(self) -> PyTree:
        """Final positions (``[num_chains, d]`` for array positions)."""
        return self.state.position


def chain_keys(key: PRNGKey, step: ArrayLike, num_chains: int) -> jax.Array:
    """The ``[num_chains]`` keys used at step ``step``: ``split(fold_in(key, step))``.

    Documented so a run can be reproduced chain by chain, and independent of sharding.
    """
    _checks.check_key("key", key)
    _checks.check_int_at_least("num_chains", num_chains, 1)
    return jax.random.split(jax.random.fold_in(key, step), num_chains)


# --------------------------------------------------------------------------- static/dynamic


def _is_dynamic(x: Any) -> bool:
    """Leaves that become traced inputs: arrays and Python floats (not ints, bools, functions)."""
    return isinstance(x, (jax.Array, np.ndarray, np.generic, float, complex))


def _partition(tree):
    return _static.partition(tree, _is_dynamic)


# --------------------------------------------------------------------------- the chain axes: one rule

_COUNT_FIELD = "count"


def _is_count_field(path) -> bool:
    """Whether a state leaf's path is the top-level field ``count`` (of a NamedTuple or a dataclass)."""
    return len(path) == 1 and getattr(path[0], "name", None) == _COUNT_FIELD


def _is_step_count(path, leaf) -> bool:
    """Whether a leaf of a batched state is its step count under `run`'s rule: a top-level field
    ``count`` holding one integer per chain."""
    return (_is_count_field(path) and len(jnp.shape(leaf)) == 1
            and jnp.issubdtype(jnp.result_type(leaf), jnp.integer))


def _state_axes(state):
    """``vmap`` axes of a batched state: ``None`` (one value for all chains) at its step count,
    ``0`` at every other leaf; ``0`` for a state without a step count (a BlackJAX state)."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(state)
    flags = [_is_step_count(path, leaf) for path, leaf in with_path]
    if not any(flags):
        return 0
    return jax.tree_util.tree_unflatten(treedef, [None if f else 0 for f in flags])


def _unbroadcast_chains(tree, axes):
    """A leaf carried once (axis ``None``) taken from the first chain: ``init`` makes the count 0
    for every chain, and the eager shell checked that a continued state's count is one number."""
    if axes == 0:
        return tree
    return jax.tree_util.tree_map(lambda ax, x: x if ax == 0 else x[0], axes, tree, is_leaf=lambda a: a is None)


def _chain_step(step, state_axes, keys, state):
    """``vmap(step)`` over the chains, the step count passed and returned once, and the shape of
    its info. ``step`` is traced once: the loop re-uses this trace (``jit(inline=True)``'s trace
    cache, keyed on the same function and shapes). The chain axis is named: a step may reduce
    over the chains of the run (``lax.pmean(x, CHAIN_AXIS)``, as the predictor-corrector
    sampler's batch-averaged step size does)."""
    vstep = jax.jit(jax.vmap(step, in_axes=(0, state_axes), out_axes=(state_axes, 0), axis_name=CHAIN_AXIS),
                    inline=True)
    try:
        info_shape = jax.eval_shape(vstep, keys, state)[1]
    except ValueError as err:
        if state_axes == 0 or "out_axes" not in str(err):
            raise
        raise ValueError(
            f"run carries the state's {_COUNT_FIELD!r} field once for all chains (it is the step count, the "
            f"same for every chain), but this algorithm's step makes it differ between chains. Name the field "
            f"otherwise if it is not the number of steps taken") from err
    return vstep, info_shape


def _averaged_fields(info_shape, num_chains: int):
    """The info fields `run` averages (the rule in its docstring): every field of a NamedTuple or
    dict info holding one number or bool per chain, except ``is_finite``."""
    items: Iterable[tuple[str, Any]]
    if hasattr(info_shape, "_fields"):
        items = zip(info_shape._fields, info_shape)
    elif isinstance(info_shape, dict):
        items = info_shape.items()
    else:
        return ()
    return tuple(
        name for name, leaf in items
        if name != "is_finite" and getattr(leaf, "shape", None) == (num_chains,)
        and (jnp.issubdtype(leaf.dtype, jnp.number) or leaf.dtype == jnp.bool_)
    )


def _get(info, name):
    return info[name] if isinstance(info, dict) else getattr(info, name)


def _nonfinite_chains(tree, chain_axis: int = 0) -> jax.Array:
    """``[num_chains]`` bool: which chains hold a NaN/inf in a leaf of ``tree`` (positions
    ``[num_chains, ...]``, or a trajectory ``[num_saved, num_chains, ...]`` with ``chain_axis=1``).

    Tested as ``~isfinite(sum(x * 0))`` over each chain's entries: ``x * 0`` is NaN exactly where
    ``x`` is NaN or infinite (0 elsewhere), so the sum is NaN exactly for such chains. The same
    answer as ``~all(isfinite(x))``, but XLA's CPU backend compiles a float sum faster than a
    boolean reduction (measured at ``benchmarks.ula``'s size: 0.05-0.1 s less CPU time)."""
    bad = []
    for x in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            axes = tuple(i for i in range(x.ndim) if i != chain_axis)
            bad.append(~jnp.isfinite(jnp.sum(x * 0, axis=axes)))
    if not bad:
        return jnp.zeros(jax.tree_util.tree_leaves(tree)[0].shape[chain_axis], bool)
    return functools.reduce(jnp.logical_or, bad)


def _unmoved_chains(final, start) -> jax.Array:
    """``[num_chains]`` bool: which chains' final position equals ``start`` bit for bit in every
    leaf (floats compared as their bits: ``-0.0`` is not ``0.0``, a NaN is never the start)."""
    same = []
    for x, x0 in zip(jax.tree_util.tree_leaves(final), jax.tree_util.tree_leaves(start)):
        if jnp.issubdtype(x.dtype, jnp.floating):
            bits = jnp.dtype(f"uint{8 * x.dtype.itemsize}")
            x, x0 = jax.lax.bitcast_convert_type(x, bits), jax.lax.bitcast_convert_type(x0, bits)
        same.append(jnp.all(x == x0, axis=tuple(range(1, x.ndim))))
    return functools.reduce(jnp.logical_and, same)


# --------------------------------------------------------------------------- the pure core


def _step_keys(key, num_steps: int, offset) -> jax.Array:
    """The per-step keys ``fold_in(key, offset + k)``, ``k < num_steps``, of `chain_keys`, drawn up
    front (one small ``[num_steps]`` array) rather than inside the loop: the same keys, fewer
    operations per step. A continued chain's steps are numbered on from its first run's.

    With JAX's default partitionable threefry, ``split(key, n)[k]`` *is* ``fold_in(key, k)`` bit
    for bit (both are threefry of the counter ``(0, k)``; tested), and compiles quicker than
    ``vmap(fold_in)`` (about 0.05 s of the first call at ``benchmarks.ula``'s size): used then.
    """
    if (offset is None and jax.config.values["jax_threefry_partitionable"]
            and str(jax.random.key_impl(key)) == "threefry2x32"):
        return jax.random.split(key, num_steps)
    indices = jnp.arange(num_steps) if offset is None else jnp.arange(num_steps, dtype=jnp.int32) + offset
    return jax.vmap(lambda k: jax.random.fold_in(key, k))(indices)


def _shard_spec(mesh: Optional[Mesh]):
    if mesh is None:
        return lambda tree: tree

    def constrain(tree):
        def one(x):
            if getattr(x, "ndim", 0) == 0:
                return x
            spec = PartitionSpec(CHAIN_AXIS, *([None] * (x.ndim - 1)))
            return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))

        return jax.tree_util.tree_map(one, tree)

    return constrain


def _core(key, dynamic, initial_positions, initial_state, offset, *, static, num_steps, save_every, progress,
          mesh, check_every_step, unroll):
    """The compiled run. Its state holds the step count as it was carried, once (a scalar), and
    its info no counts (``num_nonfinite``, ``num_stuck``, ``num_never_accepted``), only the masks
    they count: `run` completes both (``_finish``)."""
    algorithm = static.merge(dynamic)
    constrain = _shard_spec(mesh)
    num_chains = jax.tree_util.tree_leaves(initial_positions)[0].shape[0]
    if initial_state is None:
        initial_state = jax.vmap(algorithm.init)(constrain(initial_positions))
    state_axes = _state_axes(initial_state)
    state = constrain(_unbroadcast_chains(initial_state, state_axes))
    start = state.position  # kept to find the chains that never moved (not carried by the loop)
    keys = jax.eval_shape(lambda k: jax.random.split(k, num_chains), key)
    vstep, info_shape = _chain_step(algorithm.step, state_axes, keys, state)
    fields = _averaged_fields(info_shape, num_chains)
    bar = _progress.ProgressBar(num_steps) if progress else None
    report_every = max(1, num_steps // 50)

    def one_step(carry, step_key):
        state, k, sums, nonfinite = carry
        keys = constrain(jax.random.split(step_key, num_chains))
        state, info = vstep(keys, state)
        state = constrain(state)
        sums = {name: sums[name] + jnp.asarray(_get(info, name), jnp.float32) for name in fields}
        if nonfinite is not None:
            nonfinite = nonfinite | _nonfinite_chains(state.position)
        if k is not None:
            k = k + 1
            _progress.report(bar, k, report_every)
        return (state, k, sums, nonfinite), None

    def scan_steps(carry, step_keys):
        length = step_keys.shape[0]
        return jax.lax.scan(one_step, carry, step_keys, unroll=min(unroll, length))[0]

    if bar is not None:
        jax.debug.callback(bar.update, jnp.zeros((), jnp.int32))
    step_keys = _step_keys(key, num_steps, offset)
    # only what a step changes is carried (a pass-through carry can cost a copy per step)
    sums = {name: jnp.zeros((num_chains,), jnp.float32) for name in fields}
    nonfinite = jnp.zeros((num_chains,), bool) if check_every_step else None
    carry = (state, jnp.zeros((), jnp.int32) if bar is not None else None, sums, nonfinite)
    trajectory = None
    if save_every is None:
        carry = scan_steps(carry, step_keys)
    else:
        num_saved = num_steps // save_every
        blocks = step_keys[: num_saved * save_every].reshape((num_saved, save_every) + step_keys.shape[1:])

        def block(c, block_keys):
            c = scan_steps(c, block_keys)
            return c, c[0].position

        carry, trajectory = jax.lax.scan(block, carry, blocks)
        if num_steps > num_saved * save_every:
            carry = scan_steps(carry, step_keys[num_saved * save_every:])
    state, _, sums, nonfinite = carry
    nonfinite = (_nonfinite_chains(state.position) if nonfinite is None
                 else nonfinite | _nonfinite_chains(state.position))
    if trajectory is not None:
        nonfinite = nonfinite | _nonfinite_chains(trajectory, chain_axis=1)
    means = {name: value / num_steps for name, value in sums.items()}
    acceptance = means.get("acceptance_rate")
    # a sum of 0/1 values is 0 exactly when every one is 0: the running sum that info.means needs
    # anyway says which chains never accepted, with nothing more carried by the loop
    never_accepted = sums["is_accepted"] == 0 if "is_accepted" in sums else None
    info = RunInfo(
        num_nonfinite=None,  # the counts: by run, outside the compiled program (_finish)
        nonfinite=nonfinite,
        acceptance_rate=None if acceptance is None else jnp.mean(acceptance),
        means=means,
        num_stuck=None,
        stuck=_unmoved_chains(state.position, start),
        num_never_accepted=None,
        never_accepted=never_accepted,
    )
    return RunResult(state, trajectory, info)


_run_jit = jax.jit(
    _core,
    static_argnames=("static", "num_steps", "save_every", "progress", "mesh", "check_every_step", "unroll"),
)


# --------------------------------------------------------------------------- the eager shell


def _spans_processes(mesh: Optional[Mesh]) -> bool:
    """Whether ``mesh`` holds devices of other processes (a multi-process run)."""
    return mesh is not None and any(d.process_index != jax.process_index() for d in mesh.devices.flat)


def _resolve_mesh(shard: Optional[bool], mesh: Optional[Mesh], num_chains: int, traced: bool,
                  global_inputs: bool, local: bool) -> Optional[Mesh]:
    """The mesh the chains are sharded over (``None``: not sharded). ``num_chains`` counts this
    process's chains when ``local``."""
    if mesh is not None:
        if shard is False:
            raise ValueError("shard=False and a mesh: give the mesh to shard the chains over it, or neither")
        if not isinstance(mesh, Mesh) or CHAIN_AXIS not in mesh.axis_names:
            raise ValueError(f"mesh must be a jax.sharding.Mesh with an axis named {CHAIN_AXIS!r} (the chains "
                             f"are sharded over it), got {mesh!r}")
    else:
        local_devices = jax.local_devices()
        if shard is None:
            # a run on this process's devices, unless the positions are already spread over processes
            shard = global_inputs or (not traced and len(local_devices) > 1
                                      and num_chains % len(local_devices) == 0)
        if not shard:
            if global_inputs:
                raise ValueError("initial_positions (or initial_state) are spread over several processes: "
                                 "run needs a mesh over their devices (leave shard unset, or pass mesh=)")
            return None
        mesh = Mesh(np.asarray(jax.devices()), (CHAIN_AXIS,))  # every device, of every process
    size = mesh.shape[CHAIN_AXIS]
    if local and _spans_processes(mesh):
        mine = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
        here = mine * size // mesh.devices.size  # this process's positions along the chain axis
        if num_chains % here:
            raise ValueError(
                f"initial_positions: this process's num_chains={num_chains} (positions_are_local=True) must "
                f"be divisible by the number of its devices along the mesh's {CHAIN_AXIS!r} axis ({here})")
    elif num_chains % size:
        raise ValueError(
            f"initial_positions: num_chains={num_chains} must be divisible by the number of "
            f"devices ({size}) to shard the chains"
        )
    return mesh


def _to_mesh(tree: Any, mesh: Mesh, local: bool) -> Any:
    """Every leaf laid out over ``mesh`` by chains. Within one process a ``device_put``. Across
    processes: a global array stays one (resharded when its layout differs); an array every
    process holds in full (``local=False``) is cut into this process's part; with ``local=True``,
    each process's array is its own chains, in the order of the mesh's devices."""
    spread = _spans_processes(mesh)

    def one(x):
        sharding = NamedSharding(mesh, PartitionSpec(CHAIN_AXIS, *([None] * (jnp.ndim(x) - 1))))
        if not spread or (isinstance(x, jax.Array) and not x.is_fully_addressable):
            return jax.device_put(x, sharding)
        value = np.asarray(x)
        if local:
            return jax.make_array_from_process_local_data(sharding, value)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    return jax.tree_util.tree_map(one, tree)


def _default_unroll() -> int:
    return 1 if jax.default_backend() == "cpu" else 4


def _check_algorithm(algorithm: Any) -> None:
    missing = [name for name in ("init", "step") if not callable(getattr(algorithm, name, None))]
    if missing:
        raise ValueError(
            "algorithm must have callable init(position) and step(rng_key, state) (e.g. "
            "langevin_jax.ula(...), or a BlackJAX SamplingAlgorithm such as blackjax.mala(...)); "
            f"got {type(algorithm).__name__} without {' and '.join(missing)}"
        )


def _finish(out: RunResult, num_chains: int, mesh: Optional[Mesh]) -> RunResult:
    """What the compiled core leaves to ``run``: the step count it carried once, given to every
    chain of the returned state, and the counts of ``info`` (``num_nonfinite``, ``num_stuck``,
    ``num_never_accepted``). Done on the host when the run is eager (a scalar and the
    ``[num_chains]`` flags come back, which the warnings wait for anyway), else in the caller's
    trace. In the core, these small operations cost XLA's CPU backend more to compile than they
    could save (measured at the size of ``benchmarks.ula``: about 0.03 s of the first call).
    Results spread over several processes (not fully addressable) are counted by one small
    compiled reduction, the same on every process."""
    nonfinite = out.info.nonfinite
    eager = _checks.is_concrete(nonfinite)
    spread = eager and not nonfinite.is_fully_addressable

    def broadcast(path, leaf):  # the core's state has the chain axis everywhere but at the count
        if not (_is_count_field(path) and jnp.ndim(leaf) == 0):
            return leaf
        if spread and mesh is not None:  # a global array laid out as the chains
            value = np.full((num_chains,), np.asarray(leaf.addressable_data(0)))
            return jax.make_array_from_callback(value.shape, NamedSharding(mesh, PartitionSpec(CHAIN_AXIS)),
                                                lambda index: value[index])
        if eager and not spread:
            return jax.device_put(np.full((num_chains,), np.asarray(leaf)))
        return jnp.broadcast_to(leaf, (num_chains,))

    def count(mask):
        if mask is None:
            return None
        if eager and not spread:
            return jax.device_put(np.int32(np.count_nonzero(np.asarray(mask))))
        return jnp.sum(mask, dtype=jnp.int32)

    state = jax.tree_util.tree_map_with_path(broadcast, out.state)
    info = out.info._replace(num_nonfinite=count(nonfinite), num_stuck=count(out.info.stuck),
                             num_never_accepted=count(out.info.never_accepted))
    return out._replace(state=state, info=info)


#: the chance below which chains that never accepted are reported (StuckChainWarning's rule)
_STUCK_BY_CHANCE = 1e-3


def _host_sum(x) -> float:
    """The sum of a concrete array as a Python float, for the warnings: NumPy reads it in place
    when this process holds all of it, else one small compiled reduction over every process."""
    if x.is_fully_addressable:
        return float(np.sum(np.asarray(x), dtype=np.float64))
    return float(jnp.sum(x, dtype=jnp.float32))


def _warn(out: RunResult, num_steps: int) -> None:
    """Warn (eagerly, when the results are concrete) about diverged chains, chains stuck at a
    NaN log-density, and chains that never accepted a proposal or never moved. A few scalars
    come back to the host; the compiled run is unchanged."""
    info = out.info
    if not _checks.is_concrete(info.num_nonfinite):
        return
    num_chains = info.nonfinite.shape[0]
    bad = int(info.num_nonfinite)
    if bad:
        warnings.warn(NonFiniteWarning(
            f"{bad} of {num_chains} chains went non-finite (NaN/inf): see info.nonfinite for "
            "which (they are kept in the result; drop them before computing statistics). A smaller "
            "step size or a score that does not blow up usually helps"), stacklevel=3)
    logdensity = getattr(out.state, "logdensity", None)
    if (isinstance(logdensity, jax.Array) and _checks.is_concrete(logdensity)
            and logdensity.shape == (num_chains,) and jnp.issubdtype(logdensity.dtype, jnp.floating)):
        if logdensity.is_fully_addressable:  # [num_chains] to the host: nothing compiled
            num_nan = int(np.isnan(np.asarray(logdensity)).sum())
        else:  # spread over processes: counted by all of them together
            num_nan = int(jnp.sum(jnp.isnan(logdensity)))
        if num_nan:
            warnings.warn(NonFiniteWarning(
                f"{num_nan} of {num_chains} chains have a NaN log-density (logdensity_fn returned NaN "
                "at their position): a Metropolis step rejects every proposal from there, so these "
                "chains are stuck where they started or went"), stacklevel=3)
    _warn_stuck(info, num_chains, num_steps)


def _warn_stuck(info: RunInfo, num_chains: int, num_steps: int) -> None:
    """[`StuckChainWarning`][langevin_jax.runner.StuckChainWarning]'s rule (its docstring): chains that never moved
    though accepting are always reported, chains that never accepted unless chance explains them
    (``_STUCK_BY_CHANCE``)."""
    stuck = int(info.num_stuck)
    never = 0 if info.num_never_accepted is None else int(info.num_never_accepted)
    if not (stuck or never):
        return
    report = stuck > never  # never moved, though accepting (a never-accepting chain stays where it is)
    if never:
        report = report or never == num_chains
        if not report:
            rate = _host_sum(info.means["is_accepted"]) / (num_chains - never)
            expected = num_chains * (1.0 - min(rate, 1.0)) ** num_steps
            report = expected < _STUCK_BY_CHANCE * never
    if not report:
        return
    parts = []
    if never:
        parts.append(f"{never} of {num_chains} chains never accepted a proposal in {num_steps} steps "
                     "(acceptance 0; info.never_accepted says which)")
    if stuck:
        parts.append(f"{stuck} of {num_chains} chains never moved in {num_steps} steps (final position "
                     "equal to the initial one, bit for bit; info.stuck says which)")
    warnings.warn(StuckChainWarning(
        "; ".join(parts) + ". They are kept in the result: drop them before computing statistics. "
        "Usual causes: a step size far too large (or negative), or a start where the log-density "
        "is NaN or far out in the tails; a smaller step size or a better start helps"), stacklevel=4)


def _check_positions(initial_positions: Any) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(initial_positions)
    if not leaves:
        raise ValueError("initial_positions must hold at least one array, got an empty pytree")
    out = []
    for leaf in leaves:
        _checks.check_position_dtype("initial_positions", leaf)  # complex, float16, bfloat16
        try:
            # a NumPy array or list goes to the device as is (jnp.asarray would compile a copy)
            x = leaf if isinstance(leaf, jax.Array) else jax.device_put(np.asarray(leaf))
        except TypeError as err:
            raise ValueError(f"initial_positions: a leaf of type {type(leaf).__name__} is not an array") from err
        if x.ndim < 1:
            raise ValueError(
                "initial_positions must have shape [num_chains, ...] (a leading chain axis, "
                f"rank >= 1) on every leaf, got shape {x.shape}"
            )
        if x.size == 0:
            raise ValueError(
                f"initial_positions must have num_chains >= 1 and d >= 1, got shape {x.shape}"
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        out.append(x)
    sizes = {x.shape[0] for x in out}
    if len(sizes) > 1:
        raise ValueError(
            "initial_positions: every leaf must have the same leading num_chains axis, got "
            f"shapes {[x.shape for x in out]}"
        )
    return jax.tree_util.tree_unflatten(treedef, out)


def _first_and_finite_impl(positions):
    leaves = jax.tree_util.tree_leaves(positions)
    # x * 0 is NaN exactly where x is NaN/inf: a float sum compiles faster than a boolean all
    finite = jnp.all(jnp.stack([jnp.isfinite(jnp.sum(x * 0)) for x in leaves]))
    return jax.tree_util.tree_map(lambda x: x[0], positions), finite


_first_and_finite = jax.jit(_first_and_finite_impl)


def _first_and_finite_everywhere(positions):
    """`_first_and_finite` of positions spread over several processes: one small compiled
    program whose answers every process receives (so all of them raise, or none), brought to
    this process as local arrays."""
    devices = jax.tree_util.tree_leaves(positions)[0].sharding.device_set
    everywhere = NamedSharding(Mesh(np.asarray(sorted(devices, key=lambda d: d.id)), ("all",)), PartitionSpec())
    first, finite = jax.jit(_first_and_finite_impl, out_shardings=everywhere)(positions)
    local = lambda x: jax.device_put(np.asarray(x.addressable_data(0)))  # noqa: E731
    return jax.tree_util.tree_map(local, first), bool(local(finite))


def _first_chain(positions: Any, check_finite: bool) -> Any:
    """The first chain's position (for the algorithm's eager ``check``), after checking, when
    ``check_finite``, that concrete positions hold no NaN/inf.

    Nothing is compiled for it on a CPU (NumPy reads the arrays in place); elsewhere it is one
    small compiled program per position structure, run where the positions live (copying a
    ``[chains, d]`` array from a GPU to NumPy cost more than a whole ULA run at ``d = 1000``).
    Each eager ``jnp`` operation would compile a program of its own on a first call."""
    leaves, treedef = jax.tree_util.tree_flatten(positions)
    if not all(isinstance(x, jax.Array) and _checks.is_concrete(x) for x in leaves):  # traced
        if check_finite:
            for x in leaves:
                _checks.check_finite_array("initial_positions", x)
        return jax.tree_util.tree_map(lambda x: x[0], positions)
    if not all(x.is_fully_addressable for x in leaves):  # spread over processes
        first, finite = _first_and_finite_everywhere(positions)
    elif all(device.platform == "cpu" for x in leaves for device in x.devices()):
        arrays = [np.asarray(x) for x in leaves]
        finite = all(bool(np.isfinite(a).all()) for a in arrays)
        first = jax.tree_util.tree_unflatten(treedef, [jax.device_put(a[0]) for a in arrays])
    else:
        # evaluated now even when called while a user's jit is being traced (the leaves are concrete)
        with jax.ensure_compile_time_eval():
            first, finite = _first_and_finite(positions)
            finite = bool(finite)
    if check_finite and not finite:
        raise ValueError("initial_positions contains NaN or inf")
    return first


def _check_run_memory(positions: Any, num_steps: int, save_every: Optional[int], share: int = 1) -> None:
    """Refuse, before anything is compiled, a run whose per-step keys (``[num_steps]``, 8 bytes
    each) and saved trajectory (``[num_steps // save_every, num_chains, ...]``, of which this
    process holds ``1 / share``) exceed the free memory."""
    leaves = jax.tree_util.tree_leaves(positions)
    per_save = sum(int(np.prod(jnp.shape(x), dtype=np.int64)) * jnp.result_type(x).itemsize
                   for x in leaves) // share
    num_saved = 0 if save_every is None else num_steps // save_every
    need = 8 * num_steps + num_saved * per_save
    _checks.check_memory(f"run with num_steps={num_steps}, save_every={save_every} (step keys [num_steps] and "
                         f"trajectory [num_steps // save_every, num_chains, ...])", need)


def _as_int32(x):
    """A step index as an int32 input of the core (a traced one converted in the caller's trace)."""
    return np.int32(x) if isinstance(x, int) else jnp.asarray(x, jnp.int32)


def _describe(tree) -> str:
    """``MALAState(position, logdensity, score, count)`` for a NamedTuple, else its structure."""
    fields = getattr(tree, "_fields", None)
    if fields is not None:
        return f"{type(tree).__name__}({', '.join(fields)})"
    return str(jax.tree_util.tree_structure(tree))


def _local_values(x: jax.Array) -> np.ndarray:
    """A concrete array's values that this process holds (all of them, unless the array is
    spread over several processes), along its first axis."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    return np.concatenate([np.asarray(shard.data) for shard in x.addressable_shards])


def _check_initial_state(algorithm: Any, state: Any, start_step: Optional[int]):
    """A previous run's state, checked against what ``algorithm.init`` makes; the index of the
    first step of the continued run (``state.count``, or ``start_step``)."""
    if not hasattr(state, "position"):
        raise ValueError("initial_state must be a sampler state with a position field (a previous run's "
                         f"RunResult.state), got {type(state).__name__}")
    with_path = jax.tree_util.tree_flatten_with_path(state)[0]
    pos_leaves = jax.tree_util.tree_leaves(state.position)
    if not pos_leaves or jnp.ndim(pos_leaves[0]) < 1:
        raise ValueError("initial_state.position must have a leading chain axis [num_chains, ...], got "
                         f"{[jnp.shape(x) for x in pos_leaves]}")
    num_chains = jnp.shape(pos_leaves[0])[0]
    for path, leaf in with_path:
        shape = jnp.shape(leaf)
        if len(shape) < 1 or shape[0] != num_chains:
            raise ValueError(
                f"initial_state{jax.tree_util.keystr(path)} has shape {shape}, but every leaf of a state needs the "
                f"leading chain axis of its positions [num_chains={num_chains}, ...] (a RunResult.state has it; "
                "the state of one chain from init() does not: jax.vmap(init) it)")
    expected = jax.eval_shape(jax.vmap(algorithm.init), state.position)
    if jax.tree_util.tree_structure(state) != jax.tree_util.tree_structure(expected):  # type: ignore[operator]
        raise ValueError(f"initial_state is a {_describe(state)}, but this algorithm's init makes a "
                         f"{_describe(expected)}: a state of another sampler cannot be continued")
    for (path, got), want in zip(with_path, jax.tree_util.tree_leaves(expected)):
        if jnp.shape(got) != want.shape or jnp.result_type(got) != want.dtype:
            raise ValueError(f"initial_state{jax.tree_util.keystr(path)} is {jnp.result_type(got)}"
                             f"{list(jnp.shape(got))}, but this algorithm's state holds {want.dtype}"
                             f"{list(want.shape)} there")
    counts = [(path, leaf) for path, leaf in with_path if _is_step_count(path, leaf)]
    if not counts:
        if start_step is None:
            raise ValueError(
                f"initial_state ({_describe(state)}) has no count field: pass start_step= (the number of steps "
                "it has taken), so that the continued run draws the keys of steps start_step, start_step + 1, "
                "... instead of repeating the first run's noise")
        return state, _checks.check_int_at_least("start_step", start_step, 0)
    path, count = counts[0]
    if not _checks.is_concrete(count):
        return state, count[0]  # traced (inside a user's jit): the count, as it is
    count = _local_values(count)
    if not np.all(count == count[:1]):
        raise ValueError(f"initial_state{jax.tree_util.keystr(path)} differs between chains, but it is the step "
                         "count, which run keeps the same for every chain: continue a state that one run produced")
    first = int(count[0])
    if start_step is not None and _checks.check_int_at_least("start_step", start_step, 0) != first:
        raise ValueError(f"start_step={start_step} differs from initial_state.count={first}: the count says "
                         "how many steps the state has taken (leave start_step unset)")
    return state, first


def run(
    key: PRNGKey,
    algorithm: Any,
    initial_positions: Optional[PyTree] = None,
    num_steps: Optional[int] = None,
    *,
    initial_state: Optional[PyTree] = None,
    start_step: Optional[int] = None,
    save_every: Optional[int] = None,
    progress_bar: bool = False,
    shard: Optional[bool] = None,
    mesh: Optional[Mesh] = None,
    positions_are_local: bool = False,
    check_every_step: bool = False,
    unroll: Optional[int] = None,
) -> RunResult:
    """Run ``num_chains`` independent chains of ``algorithm`` for ``num_steps`` steps.

    The whole run is one ``jax.jit`` of a ``lax.scan`` over ``jax.vmap(algorithm.step)``.
    At step ``k`` the chains use the keys ``chain_keys(key, k, num_chains)``, so the
    result does not depend on how the chains are laid out on devices.

    ``run`` is itself a pure JAX function of ``key``, the algorithm's numbers and
    ``initial_positions``: call it inside ``jax.jit``, ``jax.vmap``, ``jax.grad`` or
    ``lax.scan``. A new algorithm with new numbers (step size, schedule values, score
    parameters) but the same functions re-uses the compiled program.

    What the chains share is fixed by two rules, read from the structure of the state and the
    info (nothing is inferred by tracing):

    * **The step count is carried once.** A state's top-level field ``count`` (of a NamedTuple
      or a registered dataclass) holding one integer per chain is the number of steps
      taken, the same for every chain: ``init`` makes it 0 and each step adds 1 (every
      langevin_jax sampler's state has one; BlackJAX's have none). ``run`` carries it as one
      scalar for all chains and hands it to ``vmap(step)`` unbatched, so a step size, time or
      level scheduled on it is computed once per step. Every other state leaf is per chain. A
      step that makes ``count`` differ between chains is refused (name such a field otherwise).
    * **Every scalar info field is averaged** over the steps, chain by chain, into
      ``info.means`` (see [`RunInfo`][langevin_jax.runner.RunInfo]), except ``is_finite``.

    ``run`` traces ``init`` and ``step`` once each per compilation (a step that counts its own
    traces sees 1).

    Args:
      key: a PRNG key.
      algorithm: anything with ``init(position)`` and ``step(rng_key, state) -> (state,
        info)`` for one chain: [`langevin_jax.ula`][langevin_jax.ula], [`mala`][langevin_jax.mala],
        [`annealed_langevin`][langevin_jax.annealed_langevin], or BlackJAX's ``mala``, ``hmc``, ``nuts``.
        An eager ``check(position, num_steps)`` attribute, when present, is called first.
      initial_positions: a pytree whose leaves carry the chain axis first: ``[num_chains, d]``,
        ``[num_chains, H, W]``, ``{"a": [num_chains, 3], "b": [num_chains]}``, ... (or ``None``
        with ``initial_state``).
      num_steps: number of steps, >= 1 (a Python int).
      initial_state: continue a previous run instead: its ``RunResult.state`` (every leaf with
        the chain axis first). The chains go on from there without a new ``init``, their step
        count carries on (so step-size, level and annealing schedules continue), and step ``k``
        of this run draws the keys of step ``count + k``: with the same ``key``, two runs of 500
        steps give bit for bit the positions, trajectory and state of one run of 1000. A state
        of another sampler (another state type or shape) is refused.
      start_step: for a state without a ``count`` field (e.g. a BlackJAX state), the number of
        steps it has taken (required there); for one with a count it must equal the count.
      save_every: when set, also return the positions after every ``save_every`` steps,
        ``[num_steps // save_every, num_chains, ...]``.
      progress_bar: print a text progress bar to stderr (costs nothing when off; works
        under ``vmap``).
      shard: shard the chains with a ``NamedSharding`` over a 1-D mesh named ``"chains"``.
        ``True``: over every device, of every process in a multi-process runtime
        (``jax.distributed``: then one run spans the processes, see ``mesh``). ``None``
        (default): over this process's devices when it has more than one, ``num_chains``
        divides evenly and the call is not inside a user's trace (each process of a
        multi-process runtime then runs on its own), or over the devices of positions that
        are already spread over processes.
      mesh: shard the chains over this ``jax.sharding.Mesh`` instead, along its axis named
        ``"chains"``; it may span several processes, e.g. ``Mesh(jax.devices(), ("chains",))``
        after ``jax.distributed.initialize``. Then every process calls ``run`` with the same
        arguments (one program over all their devices) and gets global arrays: gather
        them with ``jax.experimental.multihost_utils.process_allgather(x,
        tiled=True)`` (NumPy, on every process). The numbers are those of a run on one
        device (the noise of chain ``i`` is ``chain_keys(...)[i]`` wherever it runs).
      positions_are_local: with a mesh spanning several processes, ``False`` (default): every
        process passes the same, full ``initial_positions`` (or ``initial_state``) and keeps
        its part. ``True``: each process passes only its own chains, and the global chain
        axis is theirs in the order of the mesh's devices (with ``Mesh(jax.devices(), ...)``,
        process 0's chains first). Arrays already spread over processes are taken as they
        are. Without such a mesh, the positions are this process's run either way.
      check_every_step: also test every chain for NaN/inf after every step (one more pass
        over the positions per step). Off by default: a Langevin position that goes
        non-finite stays so, and the final and saved positions are always tested.
      unroll: steps per iteration of the compiled loop (``lax.scan``'s ``unroll``); larger
        values trade compile time for fewer, larger kernels on accelerators. Same numbers for
        every value. ``None`` (default): 1 on a CPU (no gain there), 4 on a GPU or TPU
        (measured on an H100: 1.1-1.5x faster than 1 at the sizes of ``benchmarks.ula``).

    Returns:
      A [`RunResult`][langevin_jax.runner.RunResult] ``(state, trajectory, info)`` of arrays (global
      arrays when the mesh spans several processes).

    Raises:
      ValueError: on an object without ``init``/``step``, a key that is not a PRNG key, neither
        or both of ``initial_positions`` and ``initial_state``, an ``initial_state`` that this
        algorithm's ``init`` would not make (another sampler's, leaves without the chain axis,
        a count that differs between chains, no count and no ``start_step``), a
        position without a chain axis or with mismatched chain counts, NaN/inf in concrete
        initial positions, a score whose output shape differs from the position's (e.g.
        mismatched ``d``), a non-positive or non-finite step size anywhere in a concrete
        schedule (or a complex one), ``num_steps < 1``, a bad ``save_every``, chains that the
        devices to shard them over do not divide, a ``mesh`` without a ``"chains"`` axis (or with
        ``shard=False``), or ``positions_are_local=True`` inside a user's trace; all before
        anything is compiled. Also (while tracing, before compiling) an algorithm whose step
        makes the state's ``count`` differ between chains. MALA also refuses a NaN/``+inf``
        log-density at the first chain's initial position.

    Warns:
      NonFiniteWarning: when called eagerly (not inside a user's ``jit``/``vmap``/``grad``), if
        any chain went non-finite (``info.num_nonfinite > 0``; ``info.nonfinite`` says which),
        or if the final state has a NaN ``logdensity`` (a Metropolis chain stuck where it
        started). Reading the count waits for the run to finish; the compiled run is unchanged.
      StuckChainWarning: when called eagerly, if chains never accepted a proposal
        (``info.num_never_accepted > 0``, unless chance explains them in a short run: see
        [`StuckChainWarning`][langevin_jax.runner.StuckChainWarning]) or never moved (``info.num_stuck > 0``).
        With a mesh spanning processes, every process gets the same warnings, counted over
        all the chains.

    Examples:
      >>> import jax, jax.numpy as jnp, langevin_jax as lj
      >>> alg = lj.ula(lambda x: -x, step_size=0.05)
      >>> out = lj.run(jax.random.key(0), alg, jnp.zeros((8, 2)), 100, save_every=10)
      >>> out.positions.shape, out.trajectory.shape, int(out.info.num_nonfinite)
      ((8, 2), (10, 8, 2), 0)
      >>> final_mean = lambda h: lj.run(jax.random.key(0), lj.ula(lambda x: 1.0 - x, h),
      ...                               jnp.zeros((8, 2)), 100).positions.mean()
      >>> jax.jit(jax.vmap(final_mean))(jnp.array([0.01, 0.05])).shape
      (2,)

      Continuing a run: the second half of a run of 200 steps.

      >>> first = lj.run(jax.random.key(0), alg, jnp.zeros((8, 2)), 100)
      >>> second = lj.run(jax.random.key(0), alg, num_steps=100, initial_state=first.state)
      >>> whole = lj.run(jax.random.key(0), alg, jnp.zeros((8, 2)), 200)
      >>> bool(jnp.all(second.positions == whole.positions)), int(second.state.count[0])
      (True, 200)
    """
    _check_algorithm(algorithm)
    _checks.check_key("key", key)
    if num_steps is None:
        raise ValueError("num_steps is required: run(key, algorithm, initial_positions, num_steps) or "
                         "run(key, algorithm, num_steps=..., initial_state=previous.state)")
    num_steps = _checks.check_count("num_steps", num_steps, 1)  # step indices are int32
    if save_every is not None:
        save_every = _checks.check_int_at_least("save_every", save_every, 1)
        if save_every > num_steps:
            raise ValueError(f"save_every={save_every} must be <= num_steps={num_steps}")
    unroll = _default_unroll() if unroll is None else _checks.check_int_at_least("unroll", unroll, 1)
    local = bool(positions_are_local)
    offset = None
    if initial_state is None:
        if initial_positions is None:
            raise ValueError("give initial_positions ([num_chains, ...] leaves) or initial_state (a previous "
                             "run's RunResult.state, to continue it)")
        if start_step is not None:
            raise ValueError("start_step continues a chain: it needs initial_state (a previous run's state), "
                             "not initial_positions")
        initial_positions = _check_positions(initial_positions)
        chains = initial_positions
    else:
        if initial_positions is not None:
            raise ValueError("give initial_positions or initial_state, not both: a continued run starts from "
                             "initial_state.position")
        initial_state, offset = _check_initial_state(algorithm, initial_state, start_step)
        initial_positions = initial_state.position
        chains = initial_state
    leaves = jax.tree_util.tree_leaves(chains)
    traced = any(not _checks.is_concrete(x) for x in leaves)
    if local and traced:
        raise ValueError("positions_are_local=True makes global arrays of each process's concrete chains; "
                         "inside a jit, pass global arrays (positions_are_local=False)")
    spread = [isinstance(x, jax.Array) and not traced and not x.is_fully_addressable for x in leaves]
    if local and any(spread):
        raise ValueError("positions_are_local=True takes each process's own chains (NumPy or single-process "
                         "arrays), but the positions are already global arrays spread over processes: leave it "
                         "False")
    num_chains = jax.tree_util.tree_leaves(initial_positions)[0].shape[0]
    mesh = _resolve_mesh(shard, mesh, num_chains, traced, any(spread), local)
    # the first chain and the NaN/inf test: read here, where every process holds all the values (or
    # only one process runs); from the global arrays, by all processes together, otherwise
    gather_later = (local and _spans_processes(mesh)) or any(spread)
    if initial_state is None and not gather_later:
        first = _first_chain(initial_positions, check_finite=True)
    if mesh is not None and not traced:
        if initial_state is None:
            initial_positions = _to_mesh(initial_positions, mesh, local)
        else:
            initial_state = _to_mesh(initial_state, mesh, local)
            initial_positions = initial_state.position
        num_chains = jax.tree_util.tree_leaves(initial_positions)[0].shape[0]
    if initial_state is None and gather_later:
        first = _first_chain(initial_positions, check_finite=True)
    share = 1  # this process's share of the (global) positions and trajectory, for the memory check
    if mesh is not None and _spans_processes(mesh):
        share = len({d.process_index for d in mesh.devices.flat})
    _check_run_memory(initial_positions, num_steps, save_every, share)
    check = getattr(algorithm, "check", None)
    if callable(check):
        # the steps counted from the chain's first one (a continued chain's earlier steps too)
        total = num_steps + (offset if isinstance(offset, int) else 0)
        if initial_state is not None:
            first = _first_chain(initial_positions, check_finite=False)
        check(first, total)
    dynamic, static = _partition(algorithm)
    out = _run_jit(key, dynamic, initial_positions, initial_state,
                   None if offset is None else _as_int32(offset), static=static,
                   num_steps=num_steps, save_every=save_every, progress=bool(progress_bar), mesh=mesh,
                   check_every_step=bool(check_every_step), unroll=unroll)
    out = _finish(out, num_chains, mesh)
    _warn(out, num_steps)
    return out
