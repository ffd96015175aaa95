"""Launch a local multi-process JAX cluster for a test: one subprocess per process, the same
deadline for all (then they are killed), a skip when a worker reports it cannot run (``SKIP:``
on its output, e.g. no Gloo collectives in this jax build)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_processes(argvs: list[list[str]], timeout_s: float) -> tuple[list[str], list[int], float]:
    """Run ``python <argv>`` for each argv at once from the repository root, without the
    caller's ``XLA_FLAGS``/``JAX_PLATFORMS`` (the workers set their own devices): their outputs,
    their pids and the wall time. Fails the test naming the process that exited non-zero."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, *map(str, argv)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for argv in argvs]
    logs = []
    try:
        for p in procs:
            left = max(1.0, timeout_s - (time.monotonic() - start))
            logs.append(p.communicate(timeout=left)[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        logs = [p.communicate()[0] for p in procs]
        pytest.fail(f"the {len(procs)} processes did not finish in {timeout_s} s:\n" + "\n---\n".join(logs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    wall = time.monotonic() - start
    skips = [line for log in logs for line in log.splitlines() if line.startswith("SKIP:")]
    if skips:
        pytest.skip(skips[0][len("SKIP: "):])
    for i, (p, log) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f"process {i} exited with {p.returncode}:\n{log}"
    return logs, [p.pid for p in procs], wall
