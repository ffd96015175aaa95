"""An experiment across processes (``python -m experiments.table1 --coordinator HOST:PORT
--num-processes N --process-id I``): two local processes with 2 CPU devices each (Gloo
collectives, tests/_multiprocess_experiment_worker.py) run a tiny Table 1 into one ``--out``;
process 0 alone writes, and its rows are, bit for bit, those of a run in one process. One of the
rows is a part that process 0 finds in ``--out``'s part cache and tells process 1 about (both
re-use it); the others are computed by both processes over their 4 devices. The experiments
that do not run across processes refuse the flags."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import time
from pathlib import Path

import pytest

import experiments
from experiments import _cli, table1
from tests._cluster import free_port, run_processes

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "_multiprocess_experiment_worker.py"
TIMEOUT_S = 120  # both processes, start to end: killed after it
FLAGS = ["--d", "6", "--c", "1", "3", "5", "--steps", "50", "--step-size", "0.01", "--chains", "16", "--trials", "1",
         "--score-error-samples", "500"]
REUSED = "c=1.0-v2"  # the part process 0 finds in --out (copied from the run in one process)
# what differs between the two runs by nature: the wall time, where it ran, what was re-used
NOT_COMPARED = ("elapsed_seconds", "environment", "reused_parts")


def _run_cluster(out: Path) -> tuple[list, list, float]:
    """Start the two processes on ``out``, wait for both (at most ``TIMEOUT_S``, then kill
    them): their logs, their pids and the wall time."""
    port = free_port()
    return run_processes([[WORKER, *FLAGS, "--out", out, "--coordinator", f"localhost:{port}", "--num-processes",
                           "2", "--process-id", i] for i in range(2)], TIMEOUT_S)


def _wrote(log: str) -> list:
    return json.loads(next(line for line in log.splitlines() if line.startswith("WROTE: "))[len("WROTE: "):])


def test_table1_across_two_processes_writes_once_the_rows_of_one_process(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    start = time.monotonic()
    table1.main(FLAGS + ["--out", str(single)])  # one process, one device
    single_s = time.monotonic() - start
    (part,) = single.glob(f".parts/table1-*/{REUSED}.json")
    (multi / part.parent.relative_to(single)).mkdir(parents=True)
    shutil.copy(part, multi / part.relative_to(single))  # an earlier run's finished part

    logs, pids, wall = _run_cluster(multi)

    # one result, written by process 0 alone (it holds the lock; process 1 wrote and locked nothing)
    parts = sorted(p.name for p in part.parent.iterdir())
    assert sorted(str(p.relative_to(multi)) for p in multi.rglob("*") if p.is_file()) == sorted(
        ["table1.json", "table1.md", "table1.png", ".table1.lock"]
        + [str(part.parent.relative_to(single) / name) for name in parts])
    assert (multi / ".table1.lock").read_text() == f"process {pids[0]}"
    assert _wrote(logs[1]) == []
    written = _wrote(logs[0])
    for name in ("table1.json", "table1.md", "table1.png", ".table1.lock"):
        assert any(w.endswith(os.sep + name) for w in written), (name, written)
    assert not any(w.endswith(REUSED + ".json") for w in written)  # re-used, not rewritten
    # process 0 found the part and told process 1: both re-used it
    for log in logs:
        assert f"re-used finished parts: {REUSED}" in log, log

    got = json.loads((multi / "table1.json").read_text())
    want = json.loads((single / "table1.json").read_text())
    assert got["environment"]["num_processes"] == 2 and got["environment"]["num_devices"] == 4
    assert want["environment"]["num_processes"] == 1
    assert got["reused_parts"] == [REUSED] and want["reused_parts"] == []
    # bit for bit: the JSON text of every value (floats as repr, -0.0 kept), the rows included
    assert set(got) == set(want)
    for key in sorted(set(got) - set(NOT_COMPARED)):
        assert json.dumps(got[key]) == json.dumps(want[key]), key
    assert [r["c"] for r in got["rows"]] == [1.0, 3.0, 5.0]
    print(f"one process: {single_s:.1f} s; two processes: {wall:.1f} s")


def _experiments() -> list:
    names = [m.name for m in pkgutil.iter_modules(experiments.__path__) if not m.name.startswith("_")]
    return [n for n in names if callable(getattr(importlib.import_module(f"experiments.{n}"), "main", None))
            and n != "export_pretrained"]


@pytest.mark.parametrize("name", [n for n in _experiments() if n != "table1"])
def test_an_experiment_without_multiprocess_support_refuses_the_flags(name, tmp_path, capsys, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    assert not getattr(module, "MULTIPROCESS", False)
    monkeypatch.setattr(module, "run", lambda *a, **k: pytest.fail("ran"), raising=False)
    with pytest.raises(SystemExit) as exc:
        module.main(["--process-id", "0", "--num-processes", "2", "--coordinator", "localhost:1", "--out",
                     str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--coordinator: {name} does not run across processes" in err, err
    assert not list(tmp_path.iterdir())  # refused before any work, nothing written


@pytest.mark.parametrize("flags, message", [
    (["--num-processes", "2"], "--num-processes: a run across processes needs --coordinator, --num-processes, "
                               "--process-id together; missing --coordinator, --process-id"),
    (["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "2"],
     "--process-id 2: must be in [0, 1] (--num-processes 2)"),
    (["--coordinator", "localhost:1", "--num-processes", "0", "--process-id", "0"], "--num-processes 0: must be >= 1"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "1"], "--coordinator localhost: must be "
                                                                                   "HOST:PORT"),
])
def test_table1_checks_the_multiprocess_flags_before_joining(flags, message, tmp_path, capsys):
    assert table1.MULTIPROCESS
    with pytest.raises(SystemExit) as exc:
        table1.main(flags + ["--quick", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert _cli.CLUSTER_FLAGS == ("--coordinator", "--num-processes", "--process-id")
