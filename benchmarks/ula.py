"""ULA throughput: ``langevin_jax.run`` vs BlackJAX in the same process (issue 2).

Target: ``N(0, diag(lambda))`` in ``d = 100`` with ``lambda = linspace(0.5, 2, d)``;
score ``x -> -x / lambda``; constant step ``h = 0.1``; all chains start at 0.

Rows (all float32, all one ``jit`` of a ``lax.scan`` over a ``vmap`` over chains):

* ``langevin_jax.run`` with a threefry key (the default), an ``rbg`` key and an
  ``unsafe_rbg`` key, through the public API (``run`` also does its eager input
  checks, the per-chain info sums and the non-finite bookkeeping).
* ``blackjax.sgld`` with the exact gradient: ``grad_estimator(logprior, 0, data_size=1)``.
  Its update (``blackjax.sgmcmc.diffusions.overdamped_langevin``) is
  ``x + h * grad + sqrt(2 * temperature * h) * N(0, I)`` with ``temperature = 1``:
  exactly ULA. Loop: the BlackJAX multi-chain idiom, ``split(key, num_steps)`` scanned,
  ``split(k, num_chains)`` per step, ``vmap(step)``.
* ``blackjax.mala``: *not* ULA (one more uniform draw, a log-density and an
  accept/reject per step), a second peer only.
* ``lj step, bare loop``: ``langevin_jax.ula(...).step`` in the BlackJAX loop above,
  without ``run``'s bookkeeping (a diagnostic of ``run``'s overhead).
* with ``--diagnostics``: ``blackjax.sgld`` with an ``rbg`` key, and the noise-only
  loop with ``rbg`` / ``unsafe_rbg`` keys.
* ``noise only``: just the Gaussian draws of the run, ``[chains, d]`` per step,
  added into a carry so they are not dead code: one key per step, or per-chain keys
  ``split(fold_in(key, k), chains)`` + ``vmap(normal)`` as ``run`` does.

``compile s`` = first call - best later call (tracing + lowering + XLA compile, and
for ``run`` its eager checks); ``run s`` = best of ``--repeats`` calls, each ended by
``block_until_ready``, taken in interleaved rounds over the rows (so load drift on a
shared machine hits every row alike); ``cpu s`` = best process CPU time of a call (all
threads; equal to ``run s`` when XLA runs the program on one thread and nothing else
competes for the core, smaller when this process is descheduled). ``run / lj`` = median
over the rounds of the row's call time / the ``langevin_jax.run (threefry)`` call's in
the same round; ``cpu / lj`` = ``cpu s`` / that row's ``cpu s`` (the more robust of the
two on a loaded machine). For the noise-only rows they are the noise share of ``run``.

Usage::

    python -m benchmarks.ula                # d=100, 1,000 chains, 1,000 steps
    python -m benchmarks.ula --full         # also d=100, 10,000 chains, 1,000 steps
    python -m benchmarks.ula --sizes full --repeats 5 --diagnostics
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

SIZES: dict[str, tuple] = {
    "cpu": (100, 1_000, 1_000),  # (d, chains, steps): CPU-friendly default
    "full": (100, 10_000, 1_000),
}
STEP_SIZE = 0.1
LJ_ROW = "langevin_jax.run ULA (threefry)"
SGLD_ROW = "blackjax.sgld exact grad (threefry)"


class Row(NamedTuple):
    name: str
    compile_s: float
    run_s: float
    cpu_s: float  # process CPU time (all threads) of the best call by that measure
    rounds: list  # wall time of every timed call, one per round
    positions: np.ndarray | None  # final positions, for the variance check


def _block(x):
    return jax.block_until_ready(x)


def _time_rows(cases, repeats: int):
    """First call of every case (compile), then ``repeats`` interleaved rounds.

    Interleaving (round-robin over the cases, not case after case) spreads any drift in
    the machine's load over all rows alike. Each row keeps all its wall times (for the
    paired ratio) and its best process CPU time (``time.process_time``, all threads).
    """
    n = len(cases)
    first, outs = [], []
    times, best_cpu = [[] for _ in range(n)], [float("inf")] * n
    for _, call, _ in cases:
        t0 = time.perf_counter()
        outs.append(_block(call()))
        first.append(time.perf_counter() - t0)
    for _ in range(repeats):
        for i, (_, call, _) in enumerate(cases):
            c0, t0 = time.process_time(), time.perf_counter()
            _block(call())
            times[i].append(time.perf_counter() - t0)
            best_cpu[i] = min(best_cpu[i], time.process_time() - c0)
    return [
        Row(name, max(f - min(t), 0.0), min(t), c, t, np.asarray(out) if keep else None)
        for (name, _, keep), f, t, c, out in zip(cases, first, times, best_cpu, outs)
    ]


def _lam(d: int) -> jax.Array:
    return jnp.linspace(0.5, 2.0, d, dtype=jnp.float32)


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
    step = lambda k, x: sgld.step(k, x, minibatch, h)
    loop = _blackjax_loop(step, num_chains, num_steps)
    return lambda key, x0: loop(key, jax.vmap(sgld.init)(x0))


def _mala(lam, h, num_chains, num_steps):
    mala = blackjax.mala(lambda x: -0.5 * jnp.sum(x * x / lam), h)
    step = lambda k, s: mala.step(k, s)[0]
    loop = _blackjax_loop(step, num_chains, num_steps)
    return lambda key, x0: loop(key, jax.vmap(mala.init)(x0)).position


def _lj_bare(lam, h, num_chains, num_steps):
    alg = lj.ula(lambda x: -x / lam, h)
    step = lambda k, s: alg.step(k, s)[0]
    loop = _blackjax_loop(step, num_chains, num_steps)
    return lambda key, x0: loop(key, jax.vmap(alg.init)(x0)).position


def _noise(num_chains, d, num_steps, per_chain: bool):
    def loop(key, x0):
        def body(x, k):
            kk = jax.random.fold_in(key, k)
            if per_chain:
                keys = jax.random.split(kk, num_chains)
                z = jax.vmap(lambda q: jax.random.normal(q, (d,), x.dtype))(keys)
            else:
                z = jax.random.normal(kk, (num_chains, d), x.dtype)
            return x + z, None

        return jax.lax.scan(body, x0, jnp.arange(num_steps))[0]

    return jax.jit(loop)


# --------------------------------------------------------------------------- main


def bench_size(
    d: int,
    num_chains: int,
    num_steps: int,
    repeats: int,
    diagnostics: bool = False,
    only: list[str] | None = None,
) -> list[Row]:
    lam = _lam(d)
    h = STEP_SIZE
    x0 = jnp.zeros((num_chains, d), jnp.float32)
    threefry = jax.random.key(0)
    rbg = jax.random.key(0, impl="rbg")
    urbg = jax.random.key(0, impl="unsafe_rbg")

    def lj_run(key):
        alg = lj.ula(lambda x: -x / lam, h)  # a fresh algorithm: a fresh compile per row
        return lambda: lj.run(key, alg, x0, num_steps).positions

    sgld = _sgld(lam, h, num_chains, num_steps)
    mala = _mala(lam, h, num_chains, num_steps)
    bare = _lj_bare(lam, h, num_chains, num_steps)
    noise1 = _noise(num_chains, d, num_steps, per_chain=False)
    noisec = _noise(num_chains, d, num_steps, per_chain=True)
    noisec_other = _noise(num_chains, d, num_steps, per_chain=True)

    cases = [
        (LJ_ROW, lj_run(threefry), True),
        ("langevin_jax.run ULA (rbg)", lj_run(rbg), True),
        ("langevin_jax.run ULA (unsafe_rbg)", lj_run(urbg), True),
        (SGLD_ROW, lambda: sgld(threefry, x0), True),
        ("blackjax.mala (threefry) [not ULA: +MH]", lambda: mala(threefry, x0), True),
        ("lj ULA step, bare loop (diagnostic)", lambda: bare(threefry, x0), True),
        ("noise only: 1 key/step (threefry)", lambda: noise1(threefry, x0), False),
        ("noise only: per-chain keys (threefry)", lambda: noisec(threefry, x0), False),
    ]
    if diagnostics:
        cases += [
            ("blackjax.sgld exact grad (rbg)", lambda: sgld(rbg, x0), True),
            ("noise only: per-chain keys (rbg)", lambda: noisec_other(rbg, x0), False),
            ("noise only: per-chain keys (unsafe_rbg)", lambda: noisec_other(urbg, x0), False),
        ]
    if only:
        cases = [c for c in cases if c[0] == LJ_ROW or any(o in c[0] for o in only)]
    return _time_rows(cases, repeats)


def _paired_ratio(row: Row, ref: Row) -> float:
    """Median over rounds of ``row``'s call time / the reference's in the same round.

    Calls of one round are seconds apart, so a slow drift of a shared machine's load
    cancels in the ratio; the median drops a round a burst of load hit unevenly.
    """
    return float(np.median(np.asarray(row.rounds) / np.asarray(ref.rounds)))


def format_table(sizes_rows) -> str:
    head = (
        "| sampler | d | chains | steps | compile s | run s | cpu s | chain-steps/s "
        "| run / lj | cpu / lj |"
    )
    lines = [head, "|" + "---|" * 10]
    for (d, chains, steps), rows in sizes_rows:
        ref = next(r for r in rows if r.name == LJ_ROW)
        for r in rows:
            rate = chains * steps / r.run_s
            lines.append(
                f"| {r.name} | {d} | {chains:,} | {steps:,} | {r.compile_s:.2f} | "
                f"{r.run_s:.3f} | {r.cpu_s:.3f} | {rate:.3g} | "
                f"{_paired_ratio(r, ref):.2f} | {r.cpu_s / ref.cpu_s:.2f} |"
            )
    return "\n".join(lines)


def variance_line(d: int, num_chains: int, rows: list[Row]) -> str:
    lam = np.asarray(_lam(d), np.float64)
    ula_var = lam / (1.0 - STEP_SIZE / (2.0 * lam))
    parts = []
    for r in rows:
        if r.positions is None:
            continue
        var = np.var(r.positions.astype(np.float64), axis=0, ddof=1)
        exact = lam if "mala" in r.name else ula_var
        short = r.name.replace("langevin_jax.run ULA", "lj").replace(" exact grad", "")
        short = short.replace(" (diagnostic)", "").replace(" [not ULA: +MH]", "")
        parts.append(f"{short} {np.mean(var / exact):.3f}")
    se = np.sqrt(2.0 / (num_chains - 1) / d)
    pos = {r.name: r.positions for r in rows if r.positions is not None}
    same = ""
    if LJ_ROW in pos and SGLD_ROW in pos:
        diff = np.max(np.abs(pos[LJ_ROW] - pos[SGLD_ROW]))
        same = f"; max |lj - sgld| over final positions (same key): {diff:.2g}"
    return (
        f"variance check (chains={num_chains:,}): mean_i var_emp/var_exact, exact = "
        f"lambda/(1-h/(2 lambda)) for ULA, lambda for MALA; expect 1 +- {se:.4f} "
        f"(vs lambda ULA would give {np.mean(ula_var / lam):.3f}): " + "; ".join(parts) + same
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # (the rbg / unsafe_rbg rows are ~3-5x slower than threefry on CPU and dominate
    # the default's ~1 minute: keep --repeats small there)
    p.add_argument(
        "--sizes",
        nargs="+",
        choices=sorted(SIZES),
        default=None,
        help="cpu: d=100, 1,000 chains, 1,000 steps (default); full: d=100, 10,000 chains, 1,000 steps",
    )
    p.add_argument("--full", action="store_true", help="also run the full size")
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="timed rounds after the first (compile) call; best is kept",
    )
    p.add_argument(
        "--diagnostics",
        action="store_true",
        help="also time blackjax.sgld with an rbg key and rbg/unsafe_rbg noise only",
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="SUBSTR",
        help="time only the rows whose name contains one of these "
        "(the langevin_jax.run threefry reference row is always kept)",
    )
    args = p.parse_args(argv)
    sizes = list(args.sizes or ["cpu"])
    if args.full and "full" not in sizes:
        sizes.append("full")

    print(
        f"jax {jax.__version__}, blackjax {blackjax.__version__}, "
        f"backend {jax.default_backend()}, devices {jax.devices()}, "
        f"python {platform.python_version()}, h={STEP_SIZE}, repeats={args.repeats}"
    )
    sizes_rows = []
    for s in sizes:
        d, chains, steps = SIZES[s]
        t0 = time.perf_counter()
        rows = bench_size(d, chains, steps, args.repeats, args.diagnostics, args.only)
        sizes_rows.append(((d, chains, steps), rows))
        print(variance_line(d, chains, rows))
        print(f"[{s}: {time.perf_counter() - t0:.1f}s total]")
    print(format_table(sizes_rows))


if __name__ == "__main__":
    main()
