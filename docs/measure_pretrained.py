"""Measure what each shipped network does when sampled, and record it as its ``known_limits``.

For every network of ``langevin_jax.nn.pretrained_names()`` this runs the samplers the network
is valid for from ``N(0, I)`` (2,000 chains, seed 0, on whatever machine runs it) and writes
sentences with the measured numbers into the ``known_limits`` field of its metadata JSON, which
``nn.pretrained_catalog()`` and ``Pretrained.known_limits`` show:

* a network trained on every level (``1..T``): DDPM, DDIM (100 levels), NCSN and
  predictor-corrector sampling, each output's per-coordinate variance and mean against the data
  law's, and its memorisation report against the training points;
* a network trained on the low levels only (``1..100``): that the reverse samplers refuse it
  from level ``T``, and what ULA with its level-10 score (the paper's ``h = 0.0025``, 1,000
  steps) does from ``N(0, I)``: the fraction of copies of training points.

Run it after exporting new networks (the ``.npz`` files are not touched, so their checksums
stay valid)::

    python docs/measure_pretrained.py
"""

from __future__ import annotations

import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from langevin_jax import _io, diffusion, metrics, nn

NUM_CHAINS = 2000


def _machine() -> str:
    return f"{jax.default_backend().upper()} ({platform.machine()}), jax {jax.__version__}"


def _report(x: np.ndarray, train: np.ndarray) -> dict:
    return metrics.memorization_report(jnp.asarray(x), jnp.asarray(train), radius=0.15 * np.sqrt(x.shape[1])).summary()


def _all_levels(p: nn.Pretrained, key) -> list[str]:
    data_var = p.experiment_config["variance"]
    eps, s = p.eps_fn, p.schedule
    z0 = jax.random.normal(key, (NUM_CHAINS, p.model.dim))
    samplers = {
        "DDPM": (diffusion.ddpm_sampler(eps, s), s.num_levels),
        "DDIM (100 levels, eta 0)": (diffusion.ddim_sampler(eps, s, 100), 100),
        "NCSN (10 levels x 100 steps, epsilon 2e-5)": (diffusion.ncsn_sampler(eps, s), 1000),
        "PC (reverse diffusion + 1 corrector, snr 0.16)": (diffusion.pc_sampler(eps, s), s.num_levels),
    }
    parts = []
    for name, (alg, steps) in samplers.items():
        x = np.asarray(lj.run(jax.random.fold_in(key, 1), alg, z0, steps).positions, np.float64)
        rep = _report(x, np.asarray(p.train_points))
        parts.append(f"{name} {x.var(0, ddof=1).mean():.2f} (copies {rep['copy_fraction']:.3f})")
    return [
        "Under-dispersed samples: the per-coordinate variance of the output from N(0, I) is "
        + "; ".join(parts) + f", where the data law has {data_var:g} (mean per-coordinate variance; copies: the "
        "fraction of samples whose nearest / second-nearest training distance is below 1/3). The network is "
        "accurate at high levels and has memorised its training points at the low ones (see "
        "docs/paper1_learned_scores.md, the level probe).",
    ]


def _low_levels(p: nn.Pretrained, key) -> list[str]:
    lo, hi = p.trained_levels
    x0 = jax.random.normal(key, (NUM_CHAINS, p.model.dim))
    out = lj.run(jax.random.fold_in(key, 1), lj.ula(p.score_fn(10), 0.0025), x0, 1000)
    x = np.asarray(out.positions, np.float64)
    rep = _report(x, np.asarray(p.train_points))
    return [
        f"Trained on levels {lo}..{hi} of {p.schedule.num_levels} only: the reverse samplers (DDPM, DDIM, NCSN, PC) "
        f"refuse it from level {p.schedule.num_levels} (it is valid for scores at levels {lo}..{hi}, e.g. the "
        "paper's level-10 Langevin score).",
        f"ULA with its level-10 score (h = 0.0025, 1000 steps) from N(0, I): {rep['copy_fraction']:.2f} of the "
        f"chains end as copies of training points (nearest / second-nearest distance < 1/3; median ratio "
        f"{rep['ratio_median']:.2f}, median nearest distance {rep['nearest_distance_median']:.2f}), the "
        "memorisation of Theorem 7.",
    ]


def main() -> None:
    key = jax.random.key(0)
    for name in nn.pretrained_names():
        t0 = time.perf_counter()
        p = nn.load_pretrained(name)
        lo, hi = p.trained_levels
        limits = _all_levels(p, key) if (lo, hi) == (1, p.schedule.num_levels) else _low_levels(p, key)
        stamp = f"Measured by docs/measure_pretrained.py ({NUM_CHAINS} chains, seed 0) on {_machine()}, " \
                f"{time.strftime('%Y-%m-%d')}."
        path = nn.PRETRAINED_DIR / f"{name}.json"
        meta = json.loads(path.read_text())
        meta["known_limits"] = limits + [stamp]
        _io.write_atomic(path, json.dumps(meta, indent=1, sort_keys=True))
        print(f"{name} ({time.perf_counter() - t0:.0f} s):")
        for line in meta["known_limits"]:
            print("  -", line)


if __name__ == "__main__":
    main()
