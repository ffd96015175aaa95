"""Runs that cannot lose or corrupt each other's work (issue 22): the main job survives an
experiment's parser error, one run at a time writes an experiment's results in a folder, a
result of another seed is never replaced silently, temp files never stay behind, a full disk
is found before the work, and no experiment starts hours of training nobody asked for."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
from collections import namedtuple
from pathlib import Path

import pytest

import experiments.__main__ as main_job
from experiments import _learned, _output, cone_escape, memorization
from langevin_jax import _io


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_main_job_reports_an_experiments_parser_error_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    # an experiment whose command line is refused (SystemExit) used to stop the whole main job
    from experiments import ula_bias
    from tests.experiments.test_ula_bias import TINY

    monkeypatch.setattr(ula_bias.Config, "quick", classmethod(lambda cls: TINY))  # seconds
    monkeypatch.setitem(main_job.RUNS, "cone_escape", ("cone_escape", ["--quick", "--chains", "0"], []))
    with pytest.raises(SystemExit) as exc:
        main_job.main(["--out", str(tmp_path), "--only", "cone_escape", "ula_bias"])
    assert exc.value.code == 1
    report = (tmp_path / "REPORT.md").read_text()
    assert "FAILED: cone_escape" in report and "its command line was refused (exit status 2" in report
    assert (tmp_path / "ula_bias" / "ula_bias.json").exists()  # the other experiment ran
    assert "### ula_bias" in report


def test_one_run_at_a_time_per_experiment_and_folder(tmp_path, capsys):
    with _io.exclusive(tmp_path / ".cone_escape.lock", "a run"):
        with pytest.raises(SystemExit) as exc:
            cone_escape.main(["--quick", "--out", str(tmp_path)])
        assert exc.value.code == 2
        err = _err(capsys)
        assert f"--out {tmp_path} (cone_escape) is in use: process {os.getpid()} is writing there now" in err
    with _io.exclusive(tmp_path / ".main_job.lock", "--out"):
        with pytest.raises(SystemExit) as exc:
            main_job.main(["--out", str(tmp_path), "--only", "cone_escape"])
        assert exc.value.code == 2 and "is in use" in _err(capsys)


def test_the_lock_is_released_when_its_holder_ends(tmp_path):
    with _io.exclusive(tmp_path / "x.lock", "x"):
        pass
    with _io.exclusive(tmp_path / "x.lock", "x"):  # taken again at once
        pass


def test_another_seeds_result_is_not_replaced_without_force(tmp_path, capsys, monkeypatch):
    (tmp_path / "cone_escape.json").write_text(json.dumps(dict(seed=0, config={})))
    with pytest.raises(SystemExit) as exc:
        cone_escape.main(["--quick", "--seed", "1", "--out", str(tmp_path)])
    err = _err(capsys)
    assert exc.value.code == 2
    assert "--seed 1: --out" in err and "holds cone_escape.json of seed 0" in err and "--force" in err
    stamp = tmp_path / "cone_escape" / main_job.STAMP
    stamp.parent.mkdir()
    stamp.write_text(json.dumps(dict(module="cone_escape", flags=["--quick"], seed=0)))
    with pytest.raises(SystemExit) as exc:
        main_job.main(["--out", str(tmp_path), "--only", "cone_escape", "--seed", "1"])
    assert exc.value.code == 2 and "holds results of seed 0" in _err(capsys)


def test_killed_writes_leave_no_temp_file_for_long(tmp_path):
    target = tmp_path / "denoiser.ckpt"
    dead = tmp_path / f".denoiser.ckpt.{2**22 + 12345}.abcd.tmp"  # a pid above Linux's maximum
    alive = tmp_path / f".denoiser.ckpt.{os.getpid()}.efgh.tmp"
    dead.write_bytes(b"half a checkpoint")
    alive.write_bytes(b"being written")
    _io.write_atomic(target, b"checkpoint")
    assert target.read_bytes() == b"checkpoint"
    assert not dead.exists() and alive.exists()  # only a dead process's temp file goes


def test_a_write_that_does_not_fit_fails_first_and_leaves_nothing(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_io.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(OSError) as exc:
        _io.write_atomic(tmp_path / "result.json", "x" * 10_000)
    assert exc.value.errno == errno.ENOSPC and "not enough free space for result.json" in str(exc.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="--out .*not enough free space"):
        _io.check_writable_dir(tmp_path / "out", "--out", need_bytes=10_000)


def test_full_disk_at_the_start_is_a_parser_error(tmp_path, monkeypatch, capsys):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_io.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(SystemExit) as exc:
        cone_escape.main(["--quick", "--out", str(tmp_path)])
    assert exc.value.code == 2 and "not enough free space" in _err(capsys)


def test_figures_saved_concurrently_and_a_failed_save_leaves_nothing(tmp_path):
    from matplotlib.figure import Figure

    def save(i):
        fig = Figure(figsize=(2, 2))
        fig.add_subplot().plot([0, i])
        _output.save_figure(fig, tmp_path / "shared.png")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tmp_path / "shared.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.png"]

    class Broken(Figure):  # a disk that fills up half-way through the PNG
        def savefig(self, fname, *args, **kwargs):
            if isinstance(fname, (str, os.PathLike)):
                Path(fname).write_bytes(b"\x89PNG half")
            else:
                fname.write(b"\x89PNG half")
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        _output.save_figure(Broken(), tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.png"]


def test_no_long_training_nobody_asked_for(tmp_path, capsys):
    # paper-cpu with any training field other than the shipped network's used to start the
    # 150,000-step training (hours on a CPU) without a word
    with pytest.raises(SystemExit) as exc:
        memorization.main(["--config", "paper-cpu", "--learning-rate", "0.0011", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = _err(capsys)
    assert "differs in --learning-rate (shipped 0.001)" in err and "--retrain" in err
    assert "h on a 2-core CPU (150,000 steps)" in err
    assert not any(tmp_path.glob("*.ckpt"))
    with pytest.raises(SystemExit):
        memorization.main(["--config", "paper-cpu", "--seed", "3", "--out", str(tmp_path)])
    assert "differs in --seed (shipped 0)" in _err(capsys)


def test_training_estimate_and_what_lets_it_through(tmp_path):
    paper = memorization.Config.paper().resolved()
    # measured: 150,000 steps of the paper's Gaussian network take 4.4 h on the 2-core CPU
    assert abs(_learned.training_seconds(paper) / 3600 - 4.4) < 0.5
    other = dataclasses.replace(paper, training=dataclasses.replace(paper.training, learning_rate=0.0011))
    with pytest.raises(ValueError, match="--learning-rate"):
        _learned.check_training("memorization", other, 0, retrain=False, out=tmp_path)
    _learned.check_training("memorization", other, 0, retrain=True, out=tmp_path)  # asked for
    _learned.check_training("memorization", paper, 0, retrain=False, out=tmp_path)  # shipped
    quick = memorization.Config.quick()
    assert _learned.training_seconds(quick) < _learned.LONG_TRAINING_SECONDS  # quick trains here
    _learned.check_training("memorization", quick, 0, retrain=False, out=tmp_path)
    # an earlier --retrain's checkpoint of this training resumes without asking again
    import jax
    _learned.checkpoint_path(tmp_path, other, jax.random.key(0)).write_bytes(b"")
    _learned.check_training("memorization", other, 0, retrain=False, out=tmp_path)
    assert Path(tmp_path).exists()
