"""Run a batch of chains under one ``jit`` of a ``lax.scan`` over a ``vmap``ped step."""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, Dict, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from langevin_jax import _checks
from langevin_jax.samplers.base import SamplingAlgorithm

__all__ = ["run", "RunResult", "RunInfo", "chain_keys"]


class RunInfo(NamedTuple):
    """Summary of the per-step ``Info`` of a run.

    Attributes:
      num_nonfinite: number of chains whose position was non-finite (NaN/inf) at
        any step. Such chains are *not* removed from ``state``: callers decide.
      nonfinite: ``[num_chains]`` bool, which chains went non-finite.
      acceptance_rate: mean over chains and steps of the Metropolis acceptance
        probability (MALA); ``None`` for unadjusted samplers.
      means: per-chain means over the steps of every scalar info field,
        ``{name: [num_chains]}``.
    """

    num_nonfinite: int
    nonfinite: jax.Array
    acceptance_rate: Optional[float]
    means: Dict[str, jax.Array]


class RunResult(NamedTuple):
    """What :func:`run` returns.

    Attributes:
      state: the final state of every chain (leaves with a leading ``[num_chains]``
        axis; ``state.position`` is ``[num_chains, d]``).
      trajectory: ``[num_saved, num_chains, d]`` positions after steps
        ``save_every, 2 save_every, ...`` (``num_saved = num_steps // save_every``),
        or ``None``.
      info: a :class:`RunInfo`.
    """

    state: Any
    trajectory: Optional[jax.Array]
    info: RunInfo

    @property
    def positions(self) -> jax.Array:
        """Final positions ``[num_chains, d]``."""
        return self.state.position


class _Progress:
    """Host-side text progress bar fed by ``jax.debug.callback``."""

    def __init__(self, num_steps: int, stream=None):
        self.num_steps = num_steps
        self.stream = stream
        self.start = None

    def __call__(self, step) -> None:
        k = int(np.max(np.asarray(step)))  # under an outer vmap the step arrives batched
        now = time.perf_counter()
        if self.start is None or k <= 0:
            self.start = now
        frac = k / self.num_steps
        elapsed = now - self.start
        eta = f"{elapsed / frac * (1 - frac):6.1f}s" if frac > 0 else "    ?"
        bar = "#" * int(30 * frac)
        (self.stream or sys.stderr).write(
            f"\r[{bar:<30}] {k}/{self.num_steps} steps, {elapsed:6.1f}s elapsed, eta {eta}"
        )
        if k >= self.num_steps:
            (self.stream or sys.stderr).write("\n")
        (self.stream or sys.stderr).flush()


def chain_keys(key: jax.Array, step: jax.Array, num_chains: int) -> jax.Array:
    """The ``[num_chains]`` keys used at step ``step``: ``split(fold_in(key, step))``.

    Documented so a run can be reproduced chain by chain, and independent of sharding.
    """
    return jax.random.split(jax.random.fold_in(key, step), num_chains)


def _shard_spec(mesh: Optional[Mesh]):
    if mesh is None:
        return lambda tree: tree

    def constrain(tree):
        def one(x):
            if getattr(x, "ndim", 0) == 0:
                return x
            spec = PartitionSpec("chains", *([None] * (x.ndim - 1)))
            return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))

        return jax.tree_util.tree_map(one, tree)

    return constrain


@functools.lru_cache(maxsize=64)
def _build_runner(algorithm, num_steps, save_every, progress, mesh):
    constrain = _shard_spec(mesh)
    vstep = jax.vmap(algorithm.step)
    vinit = jax.vmap(algorithm.init)
    bar = _Progress(num_steps) if progress else None
    report_every = max(1, num_steps // 50)

    def one_step(carry, key):
        state, k, nonfinite, sums = carry
        num_chains = nonfinite.shape[0]
        keys = constrain(chain_keys(key, k, num_chains))
        state, info = vstep(keys, state)
        state = constrain(state)
        is_finite = getattr(info, "is_finite", None)
        if is_finite is None:
            is_finite = jnp.all(jnp.isfinite(state.position), axis=-1)
        nonfinite = nonfinite | ~is_finite
        sums = {
            name: sums[name] + jnp.asarray(getattr(info, name), jnp.float32) for name in sums
        }
        k = k + 1
        if bar is not None:
            jax.lax.cond(
                (k % report_every == 0) | (k == num_steps),
                lambda kk: jax.debug.callback(bar, kk),
                lambda kk: None,
                k,
            )
        return (state, k, nonfinite, sums), None

    def scan_steps(carry, key, length):
        return jax.lax.scan(lambda c, _: one_step(c, key), carry, None, length=length)[0]

    def runner(key, initial_positions):
        num_chains = initial_positions.shape[0]
        state = constrain(vinit(constrain(initial_positions)))
        info_shape = jax.eval_shape(
            lambda s: vstep(jax.random.split(key, num_chains), s)[1], state
        )
        sums = {
            name: jnp.zeros((num_chains,), jnp.float32)
            for name, leaf in zip(info_shape._fields, info_shape)
            if getattr(leaf, "shape", None) == (num_chains,)
        }
        if bar is not None:
            jax.debug.callback(bar, jnp.zeros((), jnp.int32))
        carry = (state, jnp.zeros((), jnp.int32), jnp.zeros((num_chains,), bool), sums)
        trajectory = None
        if save_every is None:
            carry = scan_steps(carry, key, num_steps)
        else:
            num_saved = num_steps // save_every

            def block(c, _):
                c = scan_steps(c, key, save_every)
                return c, c[0].position

            carry, trajectory = jax.lax.scan(block, carry, None, length=num_saved)
            remainder = num_steps - num_saved * save_every
            if remainder:
                carry = scan_steps(carry, key, remainder)
        state, _, nonfinite, sums = carry
        means = {name: value / num_steps for name, value in sums.items()}
        return state, trajectory, nonfinite, means

    return jax.jit(runner)


def _resolve_mesh(shard: Optional[bool], num_chains: int) -> Optional[Mesh]:
    devices = jax.devices()
    if shard is None:
        shard = len(devices) > 1 and num_chains % len(devices) == 0
    if not shard:
        return None
    if num_chains % len(devices):
        raise ValueError(
            f"initial_positions: num_chains={num_chains} must be divisible by the number of "
            f"devices ({len(devices)}) to shard the chains"
        )
    return Mesh(np.asarray(devices), ("chains",))


def run(
    key: jax.Array,
    algorithm: SamplingAlgorithm,
    initial_positions: jax.Array,
    num_steps: int,
    *,
    save_every: Optional[int] = None,
    progress_bar: bool = False,
    shard: Optional[bool] = None,
) -> RunResult:
    """Run ``num_chains`` independent chains of ``algorithm`` for ``num_steps`` steps.

    The whole run is one ``jax.jit`` of a ``lax.scan`` over ``jax.vmap(algorithm.step)``.
    At step ``k`` the chains use the keys ``chain_keys(key, k, num_chains)``, so the
    result does not depend on how the chains are laid out on devices.

    Args:
      key: a PRNG key.
      algorithm: a :class:`SamplingAlgorithm` (e.g. from :func:`langevin_jax.ula`).
      initial_positions: ``[num_chains, d]`` starting points.
      num_steps: number of steps, >= 1.
      save_every: when set, also return the positions after every ``save_every``
        steps, ``[num_steps // save_every, num_chains, d]``.
      progress_bar: print a text progress bar to stderr (costs nothing when off).
      shard: shard the chains over all devices with a ``NamedSharding`` over a 1-D
        mesh named ``"chains"``. ``None`` (default): shard when more than one device is
        visible and ``num_chains`` divides evenly.

    Returns:
      A :class:`RunResult` ``(state, trajectory, info)``.

    Raises:
      ValueError: on a wrong rank of ``initial_positions``, a score whose output
        shape differs from the position's (e.g. mismatched ``d``), a non-positive or
        non-finite step size anywhere in the schedule, ``num_steps < 1``, or a bad
        ``save_every``; all before anything is compiled.

    Example:
      >>> import jax, jax.numpy as jnp, langevin_jax as lj
      >>> alg = lj.ula(lambda x: -x, step_size=0.05)
      >>> out = lj.run(jax.random.key(0), alg, jnp.zeros((8, 2)), 100, save_every=10)
      >>> out.positions.shape, out.trajectory.shape, out.info.num_nonfinite
      ((8, 2), (10, 8, 2), 0)
    """
    if not isinstance(algorithm, SamplingAlgorithm):
        raise ValueError(
            f"algorithm must be a SamplingAlgorithm (e.g. langevin_jax.ula(...)), "
            f"got {type(algorithm).__name__}"
        )
    num_steps = _checks.check_int_at_least("num_steps", num_steps, 1)
    if save_every is not None:
        save_every = _checks.check_int_at_least("save_every", save_every, 1)
        if save_every > num_steps:
            raise ValueError(f"save_every={save_every} must be <= num_steps={num_steps}")
    initial_positions = _checks.check_rank(
        "initial_positions", initial_positions, 2, "[num_chains, d]"
    )
    if initial_positions.shape[0] < 1 or initial_positions.shape[1] < 1:
        raise ValueError(
            f"initial_positions must have num_chains >= 1 and d >= 1, got {initial_positions.shape}"
        )
    if not jnp.issubdtype(initial_positions.dtype, jnp.floating):
        initial_positions = initial_positions.astype(jnp.float32)
    _checks.check_finite_array("initial_positions", initial_positions)
    if algorithm.check is not None:
        algorithm.check(initial_positions[0], num_steps)
    mesh = _resolve_mesh(shard, initial_positions.shape[0])
    if mesh is not None:
        initial_positions = jax.device_put(
            initial_positions, NamedSharding(mesh, PartitionSpec("chains", None))
        )
    runner = _build_runner(algorithm, num_steps, save_every, bool(progress_bar), mesh)
    state, trajectory, nonfinite, means = runner(key, initial_positions)
    acceptance = means.get("acceptance_rate")
    info = RunInfo(
        num_nonfinite=int(jnp.sum(nonfinite)),
        nonfinite=nonfinite,
        acceptance_rate=None if acceptance is None else float(jnp.mean(acceptance)),
        means=means,
    )
    return RunResult(state, trajectory, info)
