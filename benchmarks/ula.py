"""ULA throughput: ``langevin_jax.run`` vs BlackJAX and a plain ``lax.scan``, in one process.

Target: ``N(0, diag(lambda))`` with ``lambda = linspace(0.5, 2, d)``; score ``x -> -x / lambda``;
constant step ``h = 0.1``; all chains start at 0; float32; threefry keys.

Rows:

* ``langevin_jax.run ULA``: the public API with its defaults, algorithm built once (eager
  input checks included in every call).
* ``... fresh algorithm per call``: ``lj.ula(score, h)`` rebuilt before every call: its
  ``programs`` (0 + 0) show that a new algorithm object with new numbers re-uses the compiled
  program.
* ``... unroll=U``: ``run(..., unroll=U)`` (``lax.scan``'s unroll; same numbers).
* ``blackjax.sgld`` with the exact gradient (its update is exactly ULA), in BlackJAX's
  multi-chain idiom: ``split(key, num_steps)`` scanned, ``split(k, num_chains)`` per step,
  ``vmap(step)``. The peer the ratio column compares with.
* ``plain lax.scan``: ``x + h s(x) + sqrt(2h) normal(fold_in(key, k), x.shape)``: one normal draw
  per step for all chains (a different noise layout, no per-chain keys): what a hand-written
  loop costs.
* with ``--compare-share``: ``run`` on ULA whose state names its step count otherwise, so that
  by ``run``'s rule it is carried per chain (``unroll=1``; the earlier core).
* with ``--diagnostics``: ``run`` with ``check_every_step=True``, ``run`` with the info dropped,
  ``blackjax.mala`` (not ULA), langevin_jax's step in BlackJAX's bare loop, noise only.

Columns: ``compile s`` = first call - best later call (what the first call costs: tracing,
compiling and any eager work done once; JAX's one-time costs are paid before, by a tiny run of
``run`` and ``blackjax.sgld``, so that they are charged to no row); ``jit s`` = the seconds JAX
itself reports spending in the first call on tracing, lowering and XLA compilation
(``jax.monitoring`` events; less sensitive than ``compile s`` to the timing noise of a shared
machine); ``programs`` = XLA programs compiled by the first call + by all later calls
(``run``: 1 + 0, its eager checks compile nothing); ``run s`` = best of ``--repeats`` calls
(each ended by ``block_until_ready``), taken in interleaved rounds over the rows;
``floor ms`` = the memory floor, reading and writing the ``[chains, d]`` state once per step at
the bandwidth measured in this process (best of 20 ``x * c`` over 256 MB on a CPU, 1 GB on a GPU); ``sgld / row`` =
median over rounds of sgld's time / the row's time in the same round (> 1: faster than
BlackJAX); ``fusions per loop iteration`` = fusions (GPU kernels) and reductions in the body of
the compiled loop over steps (``benchmarks._hlo``); one iteration is ``unroll`` steps (1 on a
CPU, 4 on a GPU for ``run``'s default).

Usage::

    python -m benchmarks.ula                          # d=100, 1,000 chains, 1,000 steps
    python -m benchmarks.ula --sizes cpu full         # also 10,000 chains
    python -m benchmarks.ula --sizes gpu --repeats 5  # the three GPU sizes of issue 11
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from benchmarks import _hlo
from benchmarks._jit_work import jit_work
from langevin_jax import theory

SIZES: dict[str, tuple] = {  # (d, chains, steps)
    "cpu": (100, 1_000, 1_000),
    "full": (100, 10_000, 1_000),
    "gpu-10k": (100, 10_000, 1_000),
    "gpu-100k": (100, 100_000, 1_000),
    "gpu-d1000": (1_000, 20_000, 500),
}
GROUPS = {"gpu": ["gpu-10k", "gpu-100k", "gpu-d1000"]}
STEP_SIZE = 0.1
LJ_ROW = "langevin_jax.run ULA"
SGLD_ROW = "blackjax.sgld exact grad, vmapped"
PLAIN_ROW = "plain lax.scan, one normal draw per step"


class Row(NamedTuple):
    name: str
    compile_s: float
    jit_s: float  # tracing + lowering + XLA compilation reported by JAX during the first call
    programs: tuple  # XLA programs compiled by the first call, by the later calls
    run_s: float
    rounds: list  # wall time of every timed call, one per round
    positions: np.ndarray | None  # final positions, for the variance check
    fusions: str


def _block(x):
    return jax.block_until_ready(x)


def _time_rows(cases, repeats: int):
    """First call of every case (compile), then ``repeats`` interleaved rounds."""
    n = len(cases)
    first, outs, jit_first = [], [], []
    times = [[] for _ in range(n)]
    later = [0] * n
    for case in cases:
        with jit_work() as work:
            t0 = time.perf_counter()
            outs.append(_block(case[1]()))
            first.append(time.perf_counter() - t0)
        jit_first.append(work)
    for _ in range(repeats):
        for i, case in enumerate(cases):
            with jit_work() as work:
                t0 = time.perf_counter()
                _block(case[1]())
                times[i].append(time.perf_counter() - t0)
            later[i] += work[1]
    return [
        Row(name, max(f - min(t), 0.0), j[0], (j[1], k), min(t), t, np.asarray(out) if keep else None, fus)
        for (name, _, keep, fus), f, j, k, t, out in zip(cases, first, jit_first, later, times, outs)
    ]


def _lam(d: int) -> jax.Array:
    return jnp.linspace(0.5, 2.0, d, dtype=jnp.float32)


def measure_bandwidth(megabytes: int | None = None, repeats: int = 20) -> float:
    """Bytes per second of a jitted ``x * c`` over ``megabytes`` MB (read + write counted), best
    of ``repeats`` (256 MB on a CPU, 1 GB on an accelerator)."""
    if megabytes is None:
        megabytes = 256 if jax.default_backend() == "cpu" else 1024
    x = jnp.ones((megabytes * 2**20 // 4,), jnp.float32)
    f = jax.jit(lambda a: a * 1.0001)
    _block(f(x))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(f(x))
        best = min(best, time.perf_counter() - t0)
    return 2 * x.nbytes / best


# --------------------------------------------------------------------------- peers


def _blackjax_loop(step_one: Callable, num_chains: int, num_steps: int):
    """BlackJAX multi-chain idiom: scan over ``split(key, steps)``, vmap over chains."""

    def loop(key, states):
        def body(states, k):
            keys = jax.random.split(k, num_chains)
            return jax.vmap(step_one)(keys, states), None

        states, _ = jax.lax.scan(body, states, jax.random.split(key, num_steps))
        return states

    return jax.jit(loop)


def _sgld(lam, h, num_chains, num_steps):
    def logprior(x):
        return -0.5 * jnp.sum(x * x / lam)

    def loglik(x, datum):  # trivial: the gradient estimate is the exact gradient
        return jnp.zeros((), x.dtype)

    grad = blackjax.sgmcmc.gradients.grad_estimator(logprior, loglik, data_size=1)
    sgld = blackjax.sgld(grad)
    minibatch = jnp.zeros((1,), jnp.float32)
    step = lambda k, x: sgld.step(k, x, minibatch, h)  # noqa: E731
    loop = _blackjax_loop(step, num_chains, num_steps)
    return jax.jit(lambda key, x0: loop(key, jax.vmap(sgld.init)(x0)))


def _mala(lam, h, num_chains, num_steps):
    mala = blackjax.mala(lambda x: -0.5 * jnp.sum(x * x / lam), h)
    step = lambda k, s: mala.step(k, s)[0]  # noqa: E731
    loop = _blackjax_loop(step, num_chains, num_steps)
    return lambda key, x0: loop(key, jax.vmap(mala.init)(x0)).position


def _lj_bare(lam, h, num_chains, num_steps):
    alg = lj.ula(lambda x: -x / lam, h)
    step = lambda k, s: alg.step(k, s)[0]  # noqa: E731
    loop = _blackjax_loop(step, num_chains, num_steps)
    return lambda key, x0: loop(key, jax.vmap(alg.init)(x0)).position


def _plain(lam, h, num_steps):
    def loop(key, x0):
        def body(x, k):
            z = jax.random.normal(jax.random.fold_in(key, k), x.shape, x.dtype)
            return x + h * (-x / lam) + jnp.sqrt(2.0 * h) * z, None

        return jax.lax.scan(body, x0, jnp.arange(num_steps))[0]

    return jax.jit(loop)


def _noise(num_chains, d, num_steps):
    def loop(key, x0):
        def body(x, k):
            keys = jax.random.split(jax.random.fold_in(key, k), num_chains)
            return x + jax.vmap(lambda q: jax.random.normal(q, (d,), x.dtype))(keys), None

        return jax.lax.scan(body, x0, jnp.arange(num_steps))[0]

    return jax.jit(loop)


def _drop_info(alg):
    return lj.SamplingAlgorithm(alg.init, lambda k, s: (alg.step(k, s)[0], ()))


# --------------------------------------------------------------------------- main


class _PerChainState(NamedTuple):
    position: jax.Array
    steps: jax.Array  # ULA's count under another name: run carries it per chain


def _count_per_chain(alg):
    """``alg`` (ULA) with its step count renamed, so that by ``run``'s rule it is carried per
    chain: the same numbers, the count in every chain's state."""
    def step(key, state):
        new, info = alg.step(key, lj.samplers.LangevinState(*state))
        return _PerChainState(*new), info

    return lj.SamplingAlgorithm(lambda x: _PerChainState(*alg.init(x)), step)


def _fmt(counts) -> str:
    return "-" if counts is None else f"{counts[0]}+{counts[1]}r"


def _warm_up(d: int) -> None:
    """``run`` and ``blackjax.sgld`` once at a tiny size (2 chains, 2 steps). The first program a
    process compiles pays JAX's one-time costs (tracing ``jax.random``'s internals, ...), and the
    rows after it share them: measured, 0.03-0.05 s of the ``compile s`` of whichever row comes
    first. Paid here, by no row."""
    lam, x0, key = _lam(d), jnp.zeros((2, d), jnp.float32), jax.random.key(0)
    _block(lj.run(key, lj.ula(lambda x: -x / lam, STEP_SIZE), x0, 2).positions)
    _block(_sgld(lam, STEP_SIZE, 2, 2)(key, x0))


def bench_size(d, num_chains, num_steps, repeats, unrolls=(), diagnostics=False, compare_share=False):
    lam = _lam(d)
    h = STEP_SIZE
    x0 = jnp.zeros((num_chains, d), jnp.float32)
    key = jax.random.key(0)
    carry = f"f32[{num_chains},{d}]"
    score = lambda x: -x / lam  # noqa: E731
    alg = lj.ula(score, h)

    def lj_call(algorithm, **kw):
        def call():
            return lj.run(key, algorithm, x0, num_steps, **kw).positions

        return call

    def lj_fusions(algorithm, **kw):
        # the whole RunResult is returned, as an eager call does (else XLA drops the info sums)
        f = jax.jit(lambda k, x: lj.run(k, algorithm, x, num_steps, **kw))
        return lambda: _fmt(_hlo.compiled_counts(f, key, x0, carry_shape=carry))

    def peer_fusions(f):
        return lambda: _fmt(_hlo.compiled_counts(f, key, x0, carry_shape=carry))

    def none():
        return "-"

    sgld = _sgld(lam, h, num_chains, num_steps)
    plain = _plain(lam, h, num_steps)
    cases = [
        (LJ_ROW, lj_call(alg), True, lj_fusions(alg)),
        (LJ_ROW + ", fresh algorithm per call", lambda: lj.run(key, lj.ula(score, h), x0, num_steps).positions,
         True, lambda: "same"),
    ]
    for u in unrolls:
        cases.append((f"{LJ_ROW}, unroll={u}", lj_call(alg, unroll=u), True, none))
    if compare_share:
        per_chain = _count_per_chain(alg)
        cases.append((f"{LJ_ROW}, count carried per chain, unroll=1", lj_call(per_chain, unroll=1),
                      True, lj_fusions(per_chain, unroll=1)))
    cases += [
        (SGLD_ROW, lambda: sgld(key, x0), True, peer_fusions(sgld)),
        (PLAIN_ROW, lambda: plain(key, x0), True, peer_fusions(plain)),
    ]
    if diagnostics:
        mala = _mala(lam, h, num_chains, num_steps)
        bare = _lj_bare(lam, h, num_chains, num_steps)
        noise = _noise(num_chains, d, num_steps)
        cases += [
            (LJ_ROW + ", check_every_step", lj_call(alg, check_every_step=True), True,
             lj_fusions(alg, check_every_step=True)),
            (LJ_ROW + ", info dropped", lj_call(_drop_info(alg)), True, lj_fusions(_drop_info(alg))),
            ("lj ULA step in BlackJAX's bare loop", lambda: bare(key, x0), True, none),
            ("blackjax.mala [not ULA: +MH]", lambda: mala(key, x0), True, none),
            ("noise only, per-chain keys", lambda: noise(key, x0), False, none),
        ]
    _warm_up(d)
    rows = _time_rows(cases, repeats)
    # fusion counts after the timing (lowering first would hide the compile times)
    return [r._replace(fusions=r.fusions()) for r in rows]


def _paired_ratio(row: Row, ref: Row) -> float:
    """Median over rounds of the reference's call time / the row's in the same round."""
    return float(np.median(np.asarray(ref.rounds) / np.asarray(row.rounds)))


def format_table(sizes_rows, bandwidth: float) -> str:
    head = ("| sampler | d | chains | steps | compile s | jit s | programs | run ms | chain-steps/s | floor ms "
            "| run / floor | sgld / row | fusions per loop iteration |")
    lines = [head, "|" + "---|" * 13]
    for (d, chains, steps), rows in sizes_rows:
        ref = next(r for r in rows if r.name == SGLD_ROW)
        floor = 2 * chains * d * 4 * steps / bandwidth
        for r in rows:
            lines.append(
                f"| {r.name} | {d} | {chains:,} | {steps:,} | {r.compile_s:.2f} | {r.jit_s:.2f} | "
                f"{r.programs[0]} + {r.programs[1]} | {1e3 * r.run_s:.1f} | "
                f"{chains * steps / r.run_s:.3g} | {1e3 * floor:.1f} | {r.run_s / floor:.2f} | "
                f"{_paired_ratio(r, ref):.2f} | {r.fusions} |"
            )
    return "\n".join(lines)


def variance_line(d: int, num_chains: int, rows: list[Row]) -> str:
    lam = np.asarray(_lam(d), np.float64)
    ula_var = np.asarray(theory.ula_gaussian_stationary_variance(lam, STEP_SIZE), np.float64)
    parts = []
    for r in rows:
        if r.positions is None:
            continue
        var = np.var(r.positions.astype(np.float64), axis=0, ddof=1)
        exact = lam if "mala" in r.name else ula_var
        parts.append(f"{r.name.replace(LJ_ROW, 'lj')} {np.mean(var / exact):.3f}")
    se = np.sqrt(2.0 / (num_chains - 1) / d)
    pos = {r.name: r.positions for r in rows if r.positions is not None}
    diff = np.max(np.abs(pos[LJ_ROW] - pos[SGLD_ROW]))
    return (
        f"variance check (chains={num_chains:,}): mean_i var_emp/var_exact, expect 1 +- {se:.4f}: "
        + "; ".join(parts) + f"; max |lj - sgld| over final positions (same key): {diff:.2g}"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0].replace("``", ""))
    p.add_argument("--sizes", nargs="+", default=["cpu"],
                   choices=sorted(SIZES) + sorted(GROUPS),
                   help="cpu: d=100, 1,000 chains, 1,000 steps (default); full: 10,000 chains; "
                   "gpu: gpu-10k, gpu-100k (d=100, 1,000 steps) and gpu-d1000 (20,000 chains, 500 steps)")
    p.add_argument("--full", action="store_true", help="also run the full size")
    p.add_argument("--repeats", type=int, default=2, help="timed rounds after the first (compile) call")
    p.add_argument("--unroll", type=int, nargs="*", default=[], help="also time run(..., unroll=U)")
    p.add_argument("--diagnostics", action="store_true",
                   help="also time check_every_step, info dropped, the bare loop, blackjax.mala, noise only")
    p.add_argument("--compare-share", action="store_true",
                   help="also time run on ULA whose state names its step count otherwise, so that run carries it "
                   "per chain (unroll=1; the earlier core)")
    args = p.parse_args(argv)
    sizes = [s for name in args.sizes for s in GROUPS.get(name, [name])]
    if args.full and "full" not in sizes:
        sizes.append("full")

    bandwidth = measure_bandwidth()
    print(
        f"jax {jax.__version__}, blackjax {blackjax.__version__}, backend {jax.default_backend()}, "
        f"devices {jax.devices()}, python {platform.python_version()}, h={STEP_SIZE}, "
        f"repeats={args.repeats}, measured bandwidth {bandwidth / 1e9:.0f} GB/s (read + write)"
    )
    sizes_rows = []
    for s in sizes:
        d, chains, steps = SIZES[s]
        t0 = time.perf_counter()
        rows = bench_size(d, chains, steps, args.repeats, args.unroll, args.diagnostics, args.compare_share)
        sizes_rows.append(((d, chains, steps), rows))
        print(variance_line(d, chains, rows))
        later = sum(r.programs[1] for r in rows)
        print(f"[{s}: {time.perf_counter() - t0:.1f}s total; XLA programs compiled by the {len(rows) * args.repeats} "
              f"later calls (fresh algorithms included): {later}]")
    print(format_table(sizes_rows, bandwidth))


if __name__ == "__main__":
    main()
