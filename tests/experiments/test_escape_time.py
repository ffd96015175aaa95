"""experiments/escape_time.py: the escape time from the trap balls versus d (issue 25, part 2).

The censored-data estimators (exponential MLE with its exact interval, Kaplan-Meier median with
its Brookmeyer-Crowley interval) are checked for coverage on synthetic exponential data; a run
is checked against the exact Ornstein-Uhlenbeck prediction where the barrier is small."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

from experiments import escape_time
from tests.experiments._figures import capture_figures

TINY = ["--dims", "2", "4", "--chains", "64", "--max-steps", "3000", "--paper-dims", "2", "10"]


def _coverage_tolerance(trials: int, level: float) -> float:
    """3.5 binomial standard deviations of a coverage frequency over ``trials`` trials."""
    return 3.5 * math.sqrt(level * (1 - level) / trials)


def test_tiny_run_writes_json_png_md_with_the_keys(tmp_path):
    payload = escape_time.main(["--out", str(tmp_path), *TINY])
    data = json.loads((tmp_path / "escape_time.json").read_text())
    assert (tmp_path / "escape_time.png").stat().st_size > 0
    md = (tmp_path / "escape_time.md").read_text()
    assert "Growth rate" in md and "paper's constants" in md
    for key in ("rows", "growth_rate", "paper_constants_prediction"):
        assert key in data and key in payload
    assert set(data["rows"]) == {"trap", "memorizing"}
    for score, rows in data["rows"].items():
        assert [r["d"] for r in rows] == [2, 4]
        for r in rows:
            for key in ("d", "events", "censored", "rate_mle", "mean_time", "mean_time_ci", "km_median",
                        "km_median_ci", "sample_mean_if_uncensored", "predicted_mean_time", "nonfinite"):
                assert key in r, (score, key)
            assert r["events"] + r["censored"] + r["nonfinite"] == 64
            assert r["nonfinite"] == 0
        g = data["growth_rate"][score]
        for key in ("fitted", "ci", "predicted_finite_d", "predicted_asymptotic"):
            assert key in g
        assert g["ci"][0] <= g["fitted"] <= g["ci"][1]
        paper = data["paper_constants_prediction"][score]
        assert [r["d"] for r in paper["rows"]] == [2, 10]
    # the paper's trap: astronomically long already at d = 10 (over 10^20 time units)
    assert data["paper_constants_prediction"]["trap"]["rows"][1]["log10_mean_time_continuous"] > 20
    assert "_exit_steps" not in data  # plot-only


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        escape_time.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--seed", "--out", "--force", "--dims", "--chains", "--max-steps", "--trap-step-size",
                 "--memorizing-alpha", "--trap-r-in-factor", "--confidence"):
        assert flag in text, flag


@pytest.mark.parametrize("flags, message", [
    (["--chains", "0"], "--chains 0: chains must be an integer >= 1"),
    (["--dims", "3", "3"], "--dims 3 3: dims must not repeat"),
    (["--trap-step-size", "3"], "--trap-step-size 3: trap_step_size=3 must be < 2 / trap_alpha"),
    (["--memorizing-r-in-factor", "0.2"], "--memorizing-r-in-factor 0.2: memorizing_r_in_factor=0.2 must be <"),
    (["--confidence", "1.5"], "--confidence 1.5: confidence must be in (0, 1)"),
    (["--trap-mu-factor", "1"], "--trap-mu-factor 1: trap_mu_factor=1"),
    (["--max-steps", "0"], "--max-steps 0: max_steps must be an integer >= 1"),
])
def test_bad_config_values_name_the_flag(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        escape_time.main(["--out", str(tmp_path), *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_run_checks_the_config_before_any_work(monkeypatch):
    import dataclasses

    bad = dataclasses.replace(escape_time.Config.quick(), scores=("trap", "nope"))
    monkeypatch.setattr(jax.random, "split", lambda *a, **k: pytest.fail("computed before the check"))
    with pytest.raises(ValueError, match="scores must be among trap, memorizing"):
        escape_time.run(bad, jax.random.key(0))


def _censored_exponential(rng, rate, horizon, n):
    t = rng.exponential(1.0 / rate, n)
    return np.minimum(t, horizon), t <= horizon


def test_exponential_mle_interval_covers_the_rate():
    rng = np.random.default_rng(0)
    rate, horizon, n, trials, level = 2.0, 0.8, 100, 400, 0.95  # about 20% censored
    hits, censored = 0, 0.0
    for _ in range(trials):
        t, obs = _censored_exponential(rng, rate, horizon, n)
        est = escape_time.exponential_mle(t, obs, level)
        assert est["rate"] == pytest.approx(obs.sum() / t.sum())
        assert est["mean"] == pytest.approx(1.0 / est["rate"])
        assert est["mean_ci"][0] == pytest.approx(1.0 / est["rate_ci"][1])
        hits += est["rate_ci"][0] <= rate <= est["rate_ci"][1]
        censored += 1.0 - obs.mean()
    assert 0.1 < censored / trials < 0.3
    assert abs(hits / trials - level) < _coverage_tolerance(trials, level), hits / trials


def test_kaplan_meier_median_interval_covers_the_median():
    rng = np.random.default_rng(1)
    rate, horizon, n, trials, level = 1.0, 1.5, 150, 400, 0.95
    median = math.log(2) / rate
    hits, errors = 0, []
    for _ in range(trials):
        t, obs = _censored_exponential(rng, rate, horizon, n)
        km = escape_time.kaplan_meier_median(t, obs, level)
        assert km["ci"][0] <= km["median"] <= km["ci"][1]
        hits += km["ci"][0] <= median <= km["ci"][1]
        errors.append(km["median"] - median)
    assert abs(hits / trials - level) < _coverage_tolerance(trials, level), hits / trials
    assert abs(np.mean(errors)) < 0.02  # (about unbiased: sd of one estimate ~ 0.08)


def test_kaplan_meier_without_censoring_is_the_empirical_survival():
    t = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    times, surv, _ = escape_time.kaplan_meier(t, np.ones(5, bool))
    np.testing.assert_allclose(times, [1, 2, 3, 5])
    np.testing.assert_allclose(surv, [0.8, 0.4, 0.2, 0.0])
    assert escape_time.kaplan_meier_median(t, np.ones(5, bool))["median"] == 2.0


def test_all_censored_gives_a_lower_bound_not_a_number():
    t, obs = np.full(10, 5.0), np.zeros(10, bool)
    est = escape_time.exponential_mle(t, obs, 0.95)
    assert est["mean"] is None and est["rate"] == 0.0
    from scipy import stats

    assert est["mean_ci"][0] == pytest.approx(2 * 50.0 / stats.chi2.ppf(0.975, 2))  # 13.55
    assert est["mean_ci"][1] == math.inf
    km = escape_time.kaplan_meier_median(t, obs, 0.95)
    assert km["median"] is None and km["lower_bound"] == 5.0 and km["ci"][1] == math.inf
    # a median not reached (few events) is a lower bound too
    km = escape_time.kaplan_meier_median([1.0, 5.0, 5.0, 5.0], [True, False, False, False])
    assert km["median"] is None and km["lower_bound"] == 5.0


def test_a_run_where_nothing_escapes_reports_and_draws_lower_bounds(tmp_path, monkeypatch):
    # memorising chains start at their centres; 5 steps of h alpha = 0.04 cannot reach r_in at d = 20, 30
    cfg = escape_time.Config(dims=(20, 30), scores=("memorizing",), chains=32, max_steps=5, paper_dims=(2,))
    result = escape_time.run(cfg, jax.random.key(0))
    for r in result["rows"]["memorizing"]:
        assert r["events"] == 0 and r["censored"] == 32
        assert r["mean_time"] is None and r["km_median"] is None and r["sample_mean_if_uncensored"] is None
        assert r["mean_time_ci"][0] > 0 and r["mean_time_ci"][1] == math.inf
        assert r["fraction_censored"] == 1.0
    assert result["growth_rate"]["memorizing"]["fitted"] is None
    figures = capture_figures(monkeypatch, escape_time)
    escape_time._plot(result, tmp_path)
    (fig,) = figures
    ax = fig.axes[0]
    assert any(t.get_text() == "no escape: lower bound" for t in ax.get_legend().get_texts())
    assert len([c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]) == 2  # one arrow per d
    md = escape_time._markdown(cfg, dict(result, elapsed_seconds=1.0))
    assert "> " in md and "no fit" in md


def test_measured_mean_matches_the_exact_prediction_at_a_small_barrier():
    """A small barrier and a small step: the exponential MLE's interval must hold the corrected
    prediction (the OU's exact mean at ULA's temperature, the ball's edge moved out by
    0.5826 sqrt(2 T h) for discrete monitoring), widened by a 5% allowance for that correction's
    own error; the uncorrected prediction is below (ULA misses exits between steps) by at most
    the correction."""
    cfg = escape_time.Config(dims=(4,), scores=("trap",), chains=1000, max_steps=20_000, trap_step_size=0.005,
                             trap_r_in_factor=1.2, trap_r_out_factor=1.5, paper_dims=(2,))
    (r,) = escape_time.run(cfg, jax.random.key(3))["rows"]["trap"]
    assert r["censored"] == 0 and r["nonfinite"] == 0
    lo, hi = r["mean_time_ci"]
    corrected = r["predicted_mean_time_corrected"]
    assert lo / 1.05 <= corrected <= hi * 1.05, (lo, hi, corrected)
    assert r["predicted_mean_time"] < corrected < 1.2 * r["predicted_mean_time"]
    # nothing censored: the MLE is the plain sample mean
    assert r["sample_mean_if_uncensored"] == pytest.approx(r["mean_time"])
    # at so small a barrier (starts N(0, I) near the edge) the exit law is far from exponential:
    # the Kaplan-Meier median is well below ln 2 x mean, the exponential model's median
    assert r["km_median"] < 0.8 * math.log(2) * r["mean_time"]


def test_figure_fits_the_docs_column(tmp_path, monkeypatch):
    from tests.experiments.test_figure_layout import check_docs_figure

    cfg = escape_time.Config(dims=(2, 6, 10), chains=48, max_steps=2000, paper_dims=(2,))
    result = escape_time.run(cfg, jax.random.key(1))
    figures = capture_figures(monkeypatch, escape_time)
    escape_time._plot(result, tmp_path)
    (fig,) = figures
    check_docs_figure(fig)


def test_an_interrupted_run_resumes_per_d(tmp_path, monkeypatch):
    flags = ["--out", str(tmp_path), "--dims", "2", "3", "--scores", "trap", "--chains", "16",
             "--max-steps", "500", "--paper-dims", "2"]
    first = escape_time.main(flags)
    parts = next((tmp_path / ".parts").iterdir())
    (parts / "trap-d=3.json").unlink()  # interrupted before d = 3 was stored
    calls = []
    original = escape_time._part
    monkeypatch.setattr(escape_time, "_part", lambda *a, **k: calls.append(a[2]) or original(*a, **k))
    second = escape_time.main(flags)
    assert calls == [3]
    assert second["rows"] == first["rows"] or all(
        {k: v for k, v in a.items() if k != "wall_seconds"} == {k: v for k, v in b.items() if k != "wall_seconds"}
        for a, b in zip(first["rows"]["trap"], second["rows"]["trap"]))
