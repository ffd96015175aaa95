"""One process of the two-process cluster that tests/test_multiprocess.py starts.

``python tests/_multiprocess_worker.py PROCESS_ID PORT OUT_DIR``: joins a cluster of two
processes (``jax.distributed``, Gloo collectives on the CPU, 2 CPU devices per process), runs
the cases below over the 4 devices of both processes with the initial positions given whole to
every process ("global") and split between them ("local"), gathers the results, and process 0
writes them to ``OUT_DIR/results.npz`` and ``OUT_DIR/results.json`` (what the test compares
with a run in one process). Exits with status 77 and a line ``SKIP: reason`` when this jax build
cannot form such a cluster.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # only as the worker: pytest's --doctest-modules imports this file too, and
    # a test process must keep its own devices (set before JAX starts, it would have two)
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["JAX_PLATFORMS"] = "cpu"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

import json  # noqa: E402
import warnings  # noqa: E402

import jax  # noqa: E402

SKIP = 77


def _join(process_id: int, port: int) -> None:
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception as err:  # noqa: BLE001 - an option this jax build does not know
        print(f"SKIP: no Gloo CPU collectives in jax {jax.__version__}: {err}", flush=True)
        sys.exit(SKIP)
    try:
        jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2,
                                   process_id=process_id, initialization_timeout=60)
        jax.devices()  # the CPU client, with its collectives, is made here
    except Exception as err:  # noqa: BLE001
        if "gloo" in str(err).lower() or "collective" in str(err).lower():
            print(f"SKIP: Gloo CPU collectives unavailable in jax {jax.__version__}: {err}", flush=True)
            sys.exit(SKIP)
        raise


def main() -> None:
    process_id, port, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    _join(process_id, port)

    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh

    import langevin_jax as lj
    from tests.test_multiprocess import CASES, NUM_CHAINS, NUM_STEPS, SAVE_EVERY, initial_positions

    assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2
    mesh = Mesh(np.asarray(jax.devices()), ("chains",))
    gather = lambda x: np.asarray(multihost_utils.process_allgather(x, tiled=True))  # noqa: E731
    mine = slice(process_id * NUM_CHAINS // 2, (process_id + 1) * NUM_CHAINS // 2)  # mesh order: by process
    arrays, meta = {}, {}
    for name, (make, x0_kind) in CASES.items():
        x0 = initial_positions(x0_kind)
        for layout in ("global", "local"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if layout == "global":  # every process passes all the chains: NumPy here
                    out = lj.run(jax.random.key(7), make(), x0, NUM_STEPS, save_every=SAVE_EVERY, mesh=mesh)
                else:  # each process passes its own chains
                    out = lj.run(jax.random.key(7), make(), x0[mine], NUM_STEPS, save_every=SAVE_EVERY,
                                 mesh=mesh, positions_are_local=True)
            assert not out.positions.is_fully_addressable  # global arrays, over both processes
            assert len(out.positions.sharding.device_set) == 4
            key = f"{name}/{layout}"
            arrays[f"{key}/positions"] = gather(out.positions)
            arrays[f"{key}/trajectory"] = gather(out.trajectory)
            info = out.info
            meta[key] = dict(
                num_nonfinite=int(info.num_nonfinite), num_stuck=int(info.num_stuck),
                num_never_accepted=None if info.num_never_accepted is None else int(info.num_never_accepted),
                stuck=gather(info.stuck).tolist(), count=gather(out.state.count).tolist(),
                warnings=[f"{type(w.message).__name__}: {w.message}" for w in caught])
            if name == "ula":  # continued from its (global) state: the whole run again
                half = lj.run(jax.random.key(7), make(), x0, NUM_STEPS // 2, mesh=mesh)
                rest = lj.run(jax.random.key(7), make(), num_steps=NUM_STEPS - NUM_STEPS // 2,
                              initial_state=half.state, mesh=mesh)
                arrays[f"{key}/continued"] = gather(rest.positions)
    # shard=True: every device of every process, as with the mesh above
    auto = lj.run(jax.random.key(7), CASES["ula"][0](), initial_positions("normal"), NUM_STEPS,
                  save_every=SAVE_EVERY, shard=True)  # the program of the first run above
    meta["shard_true_devices"] = len(auto.positions.sharding.device_set)
    arrays["ula/shard_true/positions"] = gather(auto.positions)
    if process_id == 0:
        np.savez(os.path.join(out_dir, "results.npz"), **arrays)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(meta, f)
    jnp.zeros(()).block_until_ready()
    print(f"DONE {process_id}", flush=True)


if __name__ == "__main__":
    main()
