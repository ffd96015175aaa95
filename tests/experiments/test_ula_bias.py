import json

import jax
import pytest

from experiments import __main__ as main_job
from experiments import ula_bias

TINY = ula_bias.Config(d=3, step_sizes=(0.05, 0.4), num_chains=2000, num_steps=200)


def test_run_tiny_matches_exact_kl():
    result = ula_bias.run(TINY, jax.random.key(0))
    big = result["rows"][1]
    # at h=0.4 the exact KL dominates the fit's finite-sample bias: simulation must agree
    assert big["exact_kl_ula"] > 20 * result["fit_kl_bias"]
    assert big["fit_kl_ula"] == pytest.approx(big["exact_kl_ula"], rel=0.2)
    assert big["fit_kl_mala"] < 0.2 * big["exact_kl_ula"]


def test_cli_and_main_job_write_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(ula_bias.Config, "quick", classmethod(lambda cls: TINY))
    main_job.main(["--out", str(tmp_path), "--only", "ula_bias"])
    out = tmp_path / "ula_bias"
    payload = json.loads((out / "ula_bias.json").read_text())
    assert payload["config"]["d"] == 3 and len(payload["rows"]) == 2
    assert (out / "ula_bias.png").exists() and (out / "ula_bias.md").exists()
    report = (tmp_path / "REPORT.md").read_text()
    assert "ula_bias" in report
    # second run re-uses the finished result instead of recomputing
    mtime = (out / "ula_bias.json").stat().st_mtime_ns
    main_job.main(["--out", str(tmp_path), "--only", "ula_bias"])
    assert (out / "ula_bias.json").stat().st_mtime_ns == mtime
    # (issue 13, item 2) another seed is recomputed, never re-used and relabelled; (issue 22)
    # and never replaces the first seed's result without --force
    with pytest.raises(SystemExit):
        main_job.main(["--out", str(tmp_path), "--only", "ula_bias", "--seed", "5"])
    assert json.loads((out / "ula_bias.json").read_text())["seed"] == 0
    main_job.main(["--out", str(tmp_path), "--only", "ula_bias", "--seed", "5", "--force"])
    assert json.loads((out / "ula_bias.json").read_text())["seed"] == 5
    assert "seed 5" in (tmp_path / "REPORT.md").read_text()


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exc:
        ula_bias.main(["--help"])
    assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_main_job_reports_a_failure_and_exits_nonzero(tmp_path, monkeypatch):
    def boom(argv=None):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(ula_bias, "main", boom)
    with pytest.raises(SystemExit) as exc:
        main_job.main(["--out", str(tmp_path), "--only", "ula_bias"])
    assert exc.value.code == 1
    report = (tmp_path / "REPORT.md").read_text()
    assert "FAILED: ula_bias" in report and "simulated crash" in report


@pytest.mark.parametrize("name", [e[0] for e in main_job.EXPERIMENTS])
def test_every_experiment_has_the_common_flags(name, capsys):
    import importlib

    module_name, flags = main_job.run_spec(name, "quick")
    module = importlib.import_module(f"experiments.{module_name}")
    # the main job's flags for this run parse (checked without running: --help exits first)
    with pytest.raises(SystemExit) as exc:
        module.main(flags + ["--help"])
    assert exc.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--seed", "--out", "--force"):
        assert flag in text, (name, flag)


# --- issue 13: unwritable main-job output, resume of finished parts -------------------------

def test_main_job_checks_its_output_before_running(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(ula_bias, "main", lambda argv=None: calls.append(argv))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exc:  # --out under a regular file
        main_job.main(["--out", str(blocker / "results"), "--only", "ula_bias"])
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err
    (tmp_path / "res" / "REPORT.md").mkdir(parents=True)  # REPORT.md cannot be replaced
    with pytest.raises(SystemExit) as exc:
        main_job.main(["--out", str(tmp_path / "res"), "--only", "ula_bias"])
    assert exc.value.code == 2 and "REPORT.md" in capsys.readouterr().err
    assert calls == []  # no experiment ran


def test_main_job_recomputes_a_corrupt_result(tmp_path, monkeypatch):
    monkeypatch.setattr(ula_bias.Config, "quick", classmethod(lambda cls: TINY))
    main_job.main(["--out", str(tmp_path), "--only", "ula_bias"])
    result = tmp_path / "ula_bias" / "ula_bias.json"
    result.write_text("{truncated")
    main_job.main(["--out", str(tmp_path), "--only", "ula_bias"])
    assert json.loads(result.read_text())["config"]["d"] == 3


def test_resumes_finished_step_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(ula_bias.Config, "quick", classmethod(lambda cls: TINY))
    first = ula_bias.main(["--quick", "--out", str(tmp_path)])
    (tmp_path / "ula_bias.json").unlink()  # as if interrupted after the parts were done
    runs = []
    real_run = ula_bias.lj.run
    monkeypatch.setattr(ula_bias.lj, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    again = ula_bias.main(["--quick", "--out", str(tmp_path)])
    assert runs == []  # every step size re-used
    assert again["rows"] == json.loads(json.dumps(first["rows"]))
    assert again["reused_parts"] == ["h=0.05", "h=0.4"]
    forced = ula_bias.main(["--quick", "--out", str(tmp_path), "--force"])
    assert len(runs) == 4 and forced["reused_parts"] == []  # ULA and MALA per step size


# ---------------------------------------------------------------- figures (issue 14)

FIGURE_ROWS = [dict(h=h, exact_kl_ula=kl, fit_kl_ula=kl + 0.008, fit_kl_mala=0.009)
               for h, kl in ((0.01, 3e-4), (0.02, 1.2e-3), (0.05, 8e-3), (0.1, 0.035), (0.2, 0.17),
                             (0.3, 0.58), (0.4, 1.2))]


@pytest.mark.parametrize("hs", [(0.02, 0.1, 0.3), (0.01, 0.05, 0.1, 0.2, 0.4),
                                (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4)])
def test_figure_tick_labels_do_not_collide(hs, tmp_path, monkeypatch):
    # (issue 14, item 1) the log axis labelled its minor ticks over each other
    from tests.experiments._figures import capture_figures, overlapping_tick_labels, tick_labels

    figures = capture_figures(monkeypatch, ula_bias)
    rows = [r for r in FIGURE_ROWS if r["h"] in hs]
    ula_bias._plot(dict(rows=rows, fit_kl_bias=0.008), tmp_path)
    (ax,) = figures[0].axes
    for axis in ("x", "y"):
        assert len(tick_labels(ax, axis)) >= 2, axis
        assert overlapping_tick_labels(ax, axis) == [], axis
