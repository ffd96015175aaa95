"""Sinkhorn divergence: langevin_jax (OTT-JAX) versus GeomLoss (PyTorch), side by side.

``python -m benchmarks.sinkhorn [--repeats N] [--skip-large]``

Cases: 500 vs 500 points at blur 0.01 in d = 2, 10, 50 (the reference clouds of
``tests/data/sinkhorn_reference``, a copy of ``../shared/reference/sinkhorn``, whose GeomLoss
values were computed to ~1e-4), and 5000 vs 5000 in d = 50. For each: compile time (first call)
and run time (best of ``repeats``),
value, relative error to the reference, iterations. GeomLoss runs with its default
``scaling=0.5`` and with ``scaling=0.9`` (slower annealing, needed for reference accuracy
at blur 0.01); the ratio column is GeomLoss time / our time at the accuracy each reaches.
Then the batched form: 16 pairs in one compiled call (``lax.map`` and ``vmap``) versus a
Python loop.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import metrics

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "sinkhorn_reference"


def _time(fn, repeats):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, first, best


def _ours(x, y, repeats):
    def call():
        r = metrics.sinkhorn_divergence(x, y, blur=0.01)
        jax.block_until_ready(r)
        return r

    r, first, best = _time(call, repeats)
    return dict(
        value=float(r.value),
        converged=bool(r.converged),
        iters=int(r.num_iterations),
        compile=first - best,
        run=best,
    )


def _geomloss(x, y, scaling, repeats):
    try:
        import torch
        from geomloss import SamplesLoss
    except ImportError:
        return None
    torch.set_num_threads(max(1, torch.get_num_threads()))
    loss = SamplesLoss("sinkhorn", p=2, blur=0.01, scaling=scaling, backend="tensorized")
    xt, yt = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y))
    r, first, best = _time(lambda: float(loss(xt, yt)), repeats)
    return dict(value=r, converged=None, iters=None, compile=first - best, run=best)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true", help="skip 5000 vs 5000")
    args = parser.parse_args(argv)
    cases = []
    ref = json.loads((REF / "values.json").read_text())["cases"] if REF.exists() else {}
    for name in ("gauss_shift_d2", "gauss_shift_d10", "gauss_shift_d50"):
        if name in ref:
            z = np.load(REF / f"{name}.npz")
            cases.append(
                (
                    name,
                    z["x"].astype(np.float32),
                    z["y"].astype(np.float32),
                    ref[name]["geomloss_value"]["0.01"],
                )
            )
    if not args.skip_large:
        kx, ky = jax.random.split(jax.random.key(0))
        x = np.asarray(jax.random.normal(kx, (5000, 50)))
        y = np.asarray(jax.random.normal(ky, (5000, 50)) + 0.3)
        cases.append(("shift_d50_n5000", x, y, None))
    rows = []
    for name, x, y, refval in cases:
        ours = _ours(jnp.asarray(x), jnp.asarray(y), args.repeats)
        results = {"langevin_jax (OTT)": ours}
        for scaling in (0.5, 0.9):
            g = _geomloss(x, y, scaling, args.repeats)
            if g is not None:
                results[f"GeomLoss scaling={scaling}"] = g
        ref_used = refval if refval is not None else ours["value"]
        for method, r in results.items():
            rel = abs(r["value"] - ref_used) / abs(ref_used)
            rows.append(
                [
                    name,
                    x.shape[0],
                    x.shape[1],
                    method,
                    r["compile"],
                    r["run"],
                    r["value"],
                    rel,
                    r["iters"],
                    r["run"] / ours["run"],
                ]
            )
    header = [
        "case",
        "n",
        "d",
        "method",
        "compile s",
        "run s",
        "value",
        "rel err (ref)",
        "iters",
        "time / ours",
    ]
    print(
        f"machine: {platform.processor() or platform.machine()}, jax {jax.__version__}, "
        f"devices {jax.devices()}"
    )
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r))

    # batched: 16 pairs of 500 x 500 in d = 10, one vmapped call versus a loop
    keys = jax.random.split(jax.random.key(1), 16)
    xs = jax.vmap(lambda k: jax.random.normal(k, (500, 10)))(keys)
    ys = xs[::-1] + 0.5

    def batched(method="map"):
        return jax.block_until_ready(
            metrics.sinkhorn_divergence_batched(xs, ys, method=method, blur=0.01)
        )

    def loop():
        return [
            jax.block_until_ready(metrics.sinkhorn_divergence(xs[i], ys[i], blur=0.01))
            for i in range(16)
        ]

    _, _, mt = _time(lambda: batched("map"), args.repeats)
    _, _, vt = _time(lambda: batched("vmap"), args.repeats)
    _, _, lt = _time(loop, args.repeats)
    print(
        f"batched 16 pairs (500x500, d=10, blur 0.01): lax.map {mt:.3f}s ({mt / 16 * 1e3:.1f} ms/pair), "
        f"vmap {vt:.3f}s ({vt / 16 * 1e3:.1f} ms/pair), Python loop {lt:.3f}s ({lt / 16 * 1e3:.1f} ms/pair); "
        f"loop / map = {lt / mt:.2f}, loop / vmap = {lt / vt:.2f}"
    )


if __name__ == "__main__":
    main()
