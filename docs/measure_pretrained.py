"""Measure what each shipped network does when sampled, and record it as its ``known_limits``.

For every network of ``langevin_jax.nn.pretrained_names()`` this runs the samplers the network
is valid for from ``N(0, I)`` (2,000 chains, seed 1, on whatever machine runs it) and writes
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

import platform
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from langevin_jax import diffusion, metrics, nn

NUM_CHAINS = 2000


def _machine() -> str:
    return f"{jax.default_backend().upper()} ({platform.machine()}), jax {jax.__version__}"


def _report(x: np.ndarray, train: np.ndarray) -> dict:
    return metrics.memorization_report(jnp.asarray(x), jnp.asarray(train), radius=0.15 * np.sqrt(x.shape[1])).summary()


def _spacing(train: np.ndarray) -> float:
    """The median distance from a training point to its nearest other training point."""
    return float(np.median(np.asarray(metrics.memorization_report(jnp.asarray(train), jnp.asarray(train))
                                      .per_sample.second_distance)))


def _paper(p: nn.Pretrained) -> bool:
    """A paper network (synthetic target of known variance), not one trained on real data."""
    return p.experiment_config.get("variance") is not None


def _all_levels(p: nn.Pretrained, key) -> list[str]:
    train = np.asarray(p.train_points, np.float64)
    data_var = p.experiment_config["variance"] if _paper(p) else float(train.var(0, ddof=1).mean())
    eps, s = p.eps_fn, p.schedule
    k_start, k_run = jax.random.split(key)
    z0 = jax.random.normal(k_start, (NUM_CHAINS, p.model.dim))
    samplers = {
        "DDPM": (diffusion.ddpm_sampler(eps, s), s.num_levels),
        "DDIM (100 levels, eta 0)": (diffusion.ddim_sampler(eps, s, 100), 100),
        "NCSN (10 levels x 100 steps, epsilon 2e-5)": (diffusion.ncsn_sampler(eps, s), 1000),
        "PC (reverse diffusion + 1 corrector, snr 0.16)": (diffusion.pc_sampler(eps, s), s.num_levels),
    }
    parts = []
    for name, (alg, steps) in samplers.items():
        x = np.asarray(lj.run(k_run, alg, z0, steps).positions, np.float64)  # common random numbers
        rep = _report(x, np.asarray(p.train_points))
        parts.append(f"{name} {x.var(0, ddof=1).mean():.2f} (copies {rep['copy_fraction']:.3f})")
    return [
        ("Under-dispersed samples: " if _paper(p) else "Sample spread: ")
        + "the per-coordinate variance of the output from N(0, I) is "
        + "; ".join(parts) + f", where the {'data law' if _paper(p) else 'training data'} has {data_var:.3g} "
        "(mean per-coordinate variance; copies: the fraction of samples whose nearest / second-nearest training "
        "distance is below 1/3)."
        + (" The network is accurate at high levels and has memorised its training points at the low ones (see "
           "docs/paper1_learned_scores.md, the level probe)." if _paper(p) else ""),
    ]


def _low_levels(p: nn.Pretrained, key) -> list[str]:
    lo, hi = p.trained_levels
    k_start, k_run = jax.random.split(key)
    x0 = jax.random.normal(k_start, (NUM_CHAINS, p.model.dim))
    # the paper's step size; the digits networks' experiment uses 1e-4 (h = 0.0025 diverges there)
    h = 0.0025 if _paper(p) else 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lj.NonFiniteWarning)
        out = lj.run(k_run, lj.ula(p.score_fn(10), h), x0, 1000)
    x = np.asarray(out.positions, np.float64)
    nonfinite = int(out.info.num_nonfinite)
    x = x[np.all(np.isfinite(x), axis=1)]
    train = np.asarray(p.train_points)
    rep = _report(x, train)
    full = metrics.memorization_report(jnp.asarray(x), jnp.asarray(train))
    copies = np.asarray(full.per_sample.is_copy)
    # the nearest distances are bimodal (copies and the rest), so their overall median jumps between
    # the modes when about half are copies: the copies' own median distance is the stable number
    copy_dist = float(np.median(np.asarray(full.per_sample.nearest_distance)[copies])) if copies.any() else float("nan")
    return [
        f"Trained on levels {lo}..{hi} of {p.schedule.num_levels} only: the reverse samplers (DDPM, DDIM, NCSN, PC) "
        f"refuse it from level {p.schedule.num_levels} (it is valid for scores at levels {lo}..{hi}, e.g. the "
        "paper's level-10 Langevin score).",
        f"ULA with its level-10 score (h = {h:g}, 1000 steps) from N(0, I): {nonfinite} of {NUM_CHAINS} chains "
        f"non-finite; of the others {rep['copy_fraction']:.2f} "
        f"± {rep['copy_fraction_se']:.2f} of the chains end as copies of training points (nearest / second-nearest "
        f"distance < 1/3)"
        + (f", at a median distance {copy_dist:.2f} from their training point" if copies.any() else "")
        + f" (a training point's distance to its nearest other one: {_spacing(train):.2f})"
        + ("; the memorisation of Theorem 7." if rep["copy_fraction"] > 0 else "."),
    ]


# Not 0: the shipped networks' training points were drawn from key(0)'s streams
# (experiments._learned.load_or_train splits it), and with JAX's partitionable threefry
# split(key, 2)[0] is split(key, 4)[0]: starting points drawn from key(0)'s first stream would be
# the standardised training points themselves (measured: 30 % of DDIM's chains then diverge).
SEED = 1


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Measure the shipped networks' known limits.")
    parser.add_argument("--only", nargs="+", choices=nn.pretrained_names(), default=None, metavar="NAME",
                        help="measure only these networks (default: all)")
    args = parser.parse_args(argv)
    key = jax.random.key(SEED)
    for name in args.only or nn.pretrained_names():
        t0 = time.perf_counter()
        p = nn.load_pretrained(name)
        lo, hi = p.trained_levels
        limits = _all_levels(p, key) if (lo, hi) == (1, p.schedule.num_levels) else _low_levels(p, key)
        stamp = f"Measured by docs/measure_pretrained.py ({NUM_CHAINS} chains, seed {SEED}) on {_machine()}, " \
                f"{time.strftime('%Y-%m-%d')}."
        meta = dict(nn.pretrained_metadata(name), known_limits=limits + [stamp])
        nn.write_pretrained_metadata(name, meta)
        print(f"{name} ({time.perf_counter() - t0:.0f} s):")
        for line in meta["known_limits"]:
            print("  -", line)


if __name__ == "__main__":
    main()
