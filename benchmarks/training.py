"""Denoiser training and network-score sampling throughput (issue 5), vs PyTorch on the same CPU.

Model: the paper's MLP denoiser (3 hidden layers, SiLU, 32 sinusoidal time features), width
256 at ``d = 50`` (Gaussian) and 512 at ``d = 25`` (mixture); the DDPM epsilon loss on levels
1..100, fresh levels and noise every step, Adam at 1e-3, full batch.

Rows:

* ``langevin_jax`` :func:`langevin_jax.nn.train_denoiser`'s step (Flax + Optax, jitted
  ``lax.scan`` over ``--chunk`` steps), timed through the public ``train_denoiser``.
* ``torch``: the same network and loss in plain PyTorch (``torch.nn.Sequential``,
  ``torch.optim.Adam``), eager, on the same CPU threads, when ``torch`` is installed
  (``pip install -e ".[bench]"``).
* ``ULA with the network score``: chain-steps per second of ``langevin_jax.run`` with
  ``nn.denoiser_score_fn`` (one forward pass per chain-step).

Figures: steps per second, GFLOP/s reached (matmul FLOPs of
:func:`langevin_jax.nn.flops_per_example`: a training step is about 3 forward passes) and the
ratio ``langevin_jax / torch``. Batches: 10,000 (the paper's full batch of 1000 points x 10)
and 1,000 (CPU-sized).

Usage::

    python -m benchmarks.training                 # both models, batch 1,000 and 10,000
    python -m benchmarks.training --batches 1000 --steps 50
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import time

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from langevin_jax import diffusion, nn

MODELS = ((50, 256), (25, 512))  # (d, width): Gaussian, mixture


def _jax_train_rate(d, width, batch, steps, chunk):
    data = jax.random.normal(jax.random.key(0), (batch, d))
    cfg = nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=width), num_steps=chunk,
                         learning_rate=1e-3)
    t0 = time.perf_counter()
    nn.train_denoiser(jax.random.key(1), data, cfg, chunk_size=chunk)  # compile + one chunk
    first = time.perf_counter() - t0
    cfg = nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=width), num_steps=steps,
                         learning_rate=1e-3)
    nn.train_denoiser(jax.random.key(1), data, cfg, chunk_size=chunk)  # warm (same chunk length: cached)
    t0 = time.perf_counter()
    res = nn.train_denoiser(jax.random.key(2), data, cfg, chunk_size=chunk)
    jax.block_until_ready(res.params)
    run = time.perf_counter() - t0
    return steps / run, first - run * chunk / steps


def _torch_train_rate(d, width, batch, steps):
    import torch

    torch.manual_seed(0)
    emb = 32
    layers, sizes = [], [d + emb] + [width] * 3
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.SiLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, d))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = diffusion.linear_schedule()
    abar = torch.tensor(np.asarray(sched.alphabars), dtype=torch.float32)
    data = torch.randn(batch, d)
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(emb // 2) / (emb // 2))

    def step():
        t = torch.randint(1, 101, (batch,))
        eps = torch.randn(batch, d)
        ab = abar[t - 1][:, None]
        xt = ab.sqrt() * data + (1 - ab).sqrt() * eps
        ang = t[:, None].float() * freqs
        h = torch.cat([xt, torch.sin(ang), torch.cos(ang)], dim=1)
        loss = ((model(h) - eps) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def _sampling_rate(d, width, chains, steps):
    cfg = nn.DenoiserConfig(dim=d, width=width)
    params = nn.init_denoiser(jax.random.key(0), cfg)
    score = nn.denoiser_score_fn(params, cfg, diffusion.linear_schedule(), 10)
    alg = lj.ula(score, 0.0025)
    x0 = jnp.zeros((chains, d))
    jax.block_until_ready(lj.run(jax.random.key(0), alg, x0, steps).positions)
    t0 = time.perf_counter()
    jax.block_until_ready(lj.run(jax.random.key(1), alg, x0, steps).positions)
    return chains * steps / (time.perf_counter() - t0)


def main(argv=None):
    # the docstring for --help: without issue references and reST markup
    description = re.sub(r"\s*\(issue \d+\)", "", __doc__)
    description = re.sub(r"``([^`]+)``", r"\1", re.sub(r":[a-z]+:`([^`]+)`", r"\1", description))
    p = argparse.ArgumentParser(prog="python -m benchmarks.training", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, nargs="+", default=[1000, 10_000],
                   help="training batch sizes, one row each (default 1000 10000)")
    p.add_argument("--steps", type=int, default=40, help="timed optimiser steps per row (default 40)")
    p.add_argument("--chunk", type=int, default=20, help="steps per jitted scan chunk (default 20)")
    p.add_argument("--chains", type=int, default=1000, help="chains for the sampling rows (default 1000)")
    p.add_argument("--sample-steps", type=int, default=200,
                   help="ULA steps of the sampling rows (default 200)")
    args = p.parse_args(argv)
    if args.steps % args.chunk:
        p.error("--steps must be a multiple of --chunk")
    try:
        import torch

        torch_version = torch.__version__
        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        torch_version = None
    print(f"jax {jax.__version__} ({jax.default_backend()}), torch {torch_version}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print("| model | batch | lj steps/s | lj GFLOP/s | lj compile s | torch steps/s | torch GFLOP/s | lj / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for d, width in MODELS:
        flops = nn.flops_per_example(nn.DenoiserConfig(dim=d, width=width))
        for batch in args.batches:
            rate, compile_s = _jax_train_rate(d, width, batch, args.steps, args.chunk)
            trate = _torch_train_rate(d, width, batch, max(10, args.steps // 2)) if torch_version else None
            gf = rate * batch * flops / 1e9
            tcols = ("n/a", "n/a", "n/a") if trate is None else (
                f"{trate:.1f}", f"{trate * batch * flops / 1e9:.1f}", f"{rate / trate:.2f}")
            print(f"| d={d}, 3x{width} | {batch:,} | {rate:.1f} | {gf:.1f} | {compile_s:.1f} | "
                  f"{tcols[0]} | {tcols[1]} | {tcols[2]} |", flush=True)
    print()
    print("| model | chains | ULA chain-steps/s with the network score | GFLOP/s |")
    print("|---|---|---|---|")
    for d, width in MODELS:
        rate = _sampling_rate(d, width, args.chains, args.sample_steps)
        fwd = nn.flops_per_example(nn.DenoiserConfig(dim=d, width=width), training=False)
        print(f"| d={d}, 3x{width} | {args.chains:,} | {rate:.3g} | {rate * fwd / 1e9:.1f} |", flush=True)


if __name__ == "__main__":
    main()
