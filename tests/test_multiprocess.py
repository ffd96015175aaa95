"""``run`` over the devices of several processes (``jax.distributed``) gives the numbers of one
process: two local processes with 2 CPU devices each (Gloo collectives) form a real
multi-process cluster (tests/_multiprocess_worker.py), and their gathered results are compared
bit for bit with a run here, for initial positions given whole to every process and split
between them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from tests._cluster import free_port, run_processes

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("_multiprocess_worker.py")
TIMEOUT_S = 120  # both processes, start to end: killed after it
NUM_CHAINS, DIM, NUM_STEPS, SAVE_EVERY = 8, 3, 50, 10

_TARGET = lj.IsotropicGaussian.create(jnp.array([0.5, -1.0, 0.25]), 1.5)


def _quartic(x):
    return -0.25 * jnp.sum(x**4)


def _cubic(x):
    return x**3


#: name -> (algorithm maker, initial positions); the same in the workers (which import them)
CASES = {
    "ula": (lambda: lj.ula(_TARGET.score, 0.1), "normal"),
    "mala": (lambda: lj.mala(_TARGET.log_prob, 0.3), "normal"),
    # chains 1 and 6 (one on each process) start far out in the tails of exp(-x^4 / 4): every
    # proposal overshoots and is rejected; the others sample
    "mala_stuck": (lambda: lj.mala(_quartic, 0.1), "two_far"),
    # x' = x + h x^3 + noise blows up from 10 (chains 1 and 6), not from 0 in these 50 steps
    "ula_nonfinite": (lambda: lj.ula(_cubic, 0.002), "two_far"),
}


def initial_positions(kind: str) -> np.ndarray:
    """``"normal"``: standard normal draws; ``"two_far"``: 0, but 10 for chains 1 and 6."""
    if kind == "normal":
        return np.asarray(jax.random.normal(jax.random.key(0), (NUM_CHAINS, DIM)))
    x0 = np.zeros((NUM_CHAINS, DIM), np.float32)
    x0[[1, 6]] = 10.0
    return x0


def _run_cluster(out_dir: Path) -> tuple[dict, dict, float]:
    """Start the two workers, wait for both (at most ``TIMEOUT_S``, then kill them): their
    gathered arrays, their metadata and the wall time."""
    port = free_port()
    _, _, wall = run_processes([[WORKER, i, port, out_dir] for i in range(2)], TIMEOUT_S)
    with np.load(out_dir / "results.npz") as data:
        arrays = dict(data)
    return arrays, json.loads((out_dir / "results.json").read_text()), wall


def test_two_processes_give_the_numbers_of_one(tmp_path):
    arrays, meta, wall = _run_cluster(tmp_path)
    assert meta.pop("shard_true_devices") == 4
    for name, (make, kind) in CASES.items():
        x0 = initial_positions(kind)
        with warnings.catch_warnings(record=True) as caught:  # one process, one device
            warnings.simplefilter("always")
            ref = lj.run(jax.random.key(7), make(), x0, NUM_STEPS, save_every=SAVE_EVERY, shard=False)
        ref_warnings = [f"{type(w.message).__name__}: {w.message}" for w in caught]
        for layout in ("global", "local"):
            key = f"{name}/{layout}"
            np.testing.assert_array_equal(arrays[f"{key}/positions"], np.asarray(ref.positions), err_msg=key)
            np.testing.assert_array_equal(arrays[f"{key}/trajectory"], np.asarray(ref.trajectory), err_msg=key)
            got = meta[key]
            # the counts and the warnings cover the chains of both processes
            assert got["num_nonfinite"] == int(ref.info.num_nonfinite), key
            assert got["num_stuck"] == int(ref.info.num_stuck), key
            want_never = ref.info.num_never_accepted
            assert got["num_never_accepted"] == (None if want_never is None else int(want_never)), key
            assert got["stuck"] == np.asarray(ref.info.stuck).tolist(), key
            assert got["count"] == [NUM_STEPS] * NUM_CHAINS, key
            assert got["warnings"] == ref_warnings, key
            if name == "ula":
                np.testing.assert_array_equal(arrays[f"{key}/continued"], np.asarray(ref.positions))
    np.testing.assert_array_equal(arrays["ula/shard_true/positions"], arrays["ula/global/positions"])
    # the stuck and the diverged chains were found on both processes
    assert meta["mala_stuck/global"]["stuck"] == [i in (1, 6) for i in range(NUM_CHAINS)]
    assert any(w.startswith("StuckChainWarning: 2 of 8 chains never accepted")
               for w in meta["mala_stuck/global"]["warnings"])
    assert meta["ula_nonfinite/local"]["num_nonfinite"] == 2
    assert any(w.startswith("NonFiniteWarning: 2 of 8 chains went non-finite")
               for w in meta["ula_nonfinite/local"]["warnings"])
    print(f"two processes: {wall:.1f} s")
