"""One-compile sweep over dimension versus recompiling per dimension, side by side.

``python -m benchmarks.sweep [--dims 2 4 8 ...] [--chains N] [--steps K]``

The workload per ``d``: ULA on ``N(0, diag(i^-1))`` for ``K`` steps and ``N`` chains with
prefix-consistent noise, then the masked diagonal-fit W2. "padded sweep" compiles once for
all ``d`` (``langevin_jax.sweeps.sweep``); "per-d jit" compiles an unpadded function for each
``d``. Reported: compile and run seconds of each, and the ratio.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from langevin_jax import sweeps


def _workload(d_max, chains, steps):
    lam = 1.0 / jnp.arange(1, d_max + 1, dtype=jnp.float32)

    def fn(d, mask):
        lam_p = sweeps.pad_spectrum(lam, mask)
        x0 = jnp.ones((chains, d_max)) * mask
        x = sweeps.masked_ula(jax.random.key(0), lambda x: -x / lam_p, 0.05, x0, steps, mask)
        return sweeps.diag_fit_w2_masked(x, lam, mask)

    return fn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    parser.add_argument("--chains", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    dims, d_max = args.dims, max(args.dims)
    masks = sweeps.dimension_masks(dims, d_max)
    fn = _workload(d_max, args.chains, args.steps)
    padded = jax.jit(jax.vmap(fn))
    t0 = time.perf_counter()
    compiled = padded.lower(jnp.asarray(dims, jnp.int32), masks).compile()
    c_pad = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(jnp.asarray(dims, jnp.int32), masks))
    r_pad = time.perf_counter() - t0

    c_per, r_per = 0.0, 0.0
    for d in dims:
        f = jax.jit(lambda dd, m, d=d: _workload(d, args.chains, args.steps)(dd, m))
        args_d = (jnp.asarray(d, jnp.int32), jnp.ones(d))
        t0 = time.perf_counter()
        comp = f.lower(*args_d).compile()
        c_per += time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(comp(*args_d))
        r_per += time.perf_counter() - t0
    print(
        f"dims {dims}, {args.chains} chains, {args.steps} steps, jax {jax.__version__}, "
        f"{jax.devices()[0].platform}"
    )
    print("method | compiles | compile s | run s | total s")
    print(f"padded sweep (one compile) | 1 | {c_pad:.2f} | {r_pad:.2f} | {c_pad + r_pad:.2f}")
    print(f"per-d jit (recompile) | {len(dims)} | {c_per:.2f} | {r_per:.2f} | {c_per + r_per:.2f}")
    print(
        f"total time ratio per-d / padded = {(c_per + r_per) / (c_pad + r_pad):.2f}; "
        f"compile ratio = {c_per / c_pad:.2f}; run ratio = {r_per / r_pad:.2f}"
    )


if __name__ == "__main__":
    main()
