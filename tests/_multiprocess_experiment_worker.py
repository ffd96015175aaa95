"""One process of the two-process ``experiments.table1`` run that
tests/experiments/test_multiprocess_experiment.py starts.

``python tests/_multiprocess_experiment_worker.py FLAGS...``: ``python -m experiments.table1
FLAGS...`` (the flags include ``--coordinator``, ``--num-processes`` and ``--process-id``) in a
process posing as 2 CPU devices, Gloo collectives between the processes. It records the files
this process writes or locks (through ``langevin_jax._io``, which every write of the
experiments goes through), prints them as a line ``WROTE: [json list]`` at the end, and exits
with the experiment's status. Exits with status 77 and a line ``SKIP: reason`` when this jax
build cannot form such a cluster.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # only as the worker: pytest's --doctest-modules imports this file too, and
    # a test process must keep its own devices (set before JAX starts, it would have two)
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["JAX_PLATFORMS"] = "cpu"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

import functools  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402

SKIP = 77


def _record(wrote: list, fn):
    @functools.wraps(fn)
    def wrapper(path, *args, **kwargs):
        wrote.append(f"{fn.__name__} {path}")
        return fn(path, *args, **kwargs)

    return wrapper


def main() -> int:
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception as err:  # noqa: BLE001 - an option this jax build does not know
        print(f"SKIP: no Gloo CPU collectives in jax {jax.__version__}: {err}", flush=True)
        return SKIP
    from langevin_jax import _io

    wrote: list = []
    for name in ("write_atomic", "exclusive", "check_writable_dir"):
        setattr(_io, name, _record(wrote, getattr(_io, name)))
    from experiments import table1

    status = 0
    try:
        table1.main(sys.argv[1:])
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except Exception as err:
        if "gloo" in str(err).lower() or "collective" in str(err).lower():
            print(f"SKIP: Gloo CPU collectives unavailable in jax {jax.__version__}: {err}", flush=True)
            return SKIP
        raise
    finally:
        print("WROTE: " + json.dumps(wrote), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
