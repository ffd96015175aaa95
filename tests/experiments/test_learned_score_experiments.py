"""Smoke tests of the learned-score experiments with tiny configurations (seconds)."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from experiments import diffusion_vs_langevin as dvl
from experiments import memorization as mem

TINY_MEM = dict(d=4, num_train=40, duplicates=2, chains=60, sinkhorn_points=50, reference_samples=200,
                trials=2, langevin_steps=50, num_seeds=10)
TINY_TRAINING = dict(num_steps=200)  # and a width-32 network; run with --checkpoint-every 100 --chunk-size 100
TINY_RUN = ["--no-progress", "--checkpoint-every", "100", "--chunk-size", "100"]


_MEM_QUICK, _DVL_QUICK = mem.Config.quick, dvl.Config.quick


def _tiny(config, **fields):
    training = dataclasses.replace(config.training, model=dataclasses.replace(config.training.model, width=32),
                                   **TINY_TRAINING)
    return dataclasses.replace(config, training=training, **TINY_MEM, **fields).resolved()


def _tiny_mem(target="gaussian"):
    return _tiny(_MEM_QUICK(target), save_every=25, sinkhorn_every=50)


def _tiny_dvl(target="gaussian"):
    return _tiny(_DVL_QUICK(target))


def _check_tv(entry: dict, num_chains: int, num_centers: int) -> None:
    """(issue 25) A start's certified TV lower bound: from all chains of all trials, A the balls of
    near_train_fraction around the distinct training points."""
    tv, detail = entry["tv_lower_bound"], entry["tv_lower_bound_detail"]
    assert -1 <= tv <= 1 and tv == detail["p_lower"] - detail["pi_a"]
    assert detail["num_chains"] == num_chains and detail["num_nonfinite"] == entry["nonfinite_chains"]
    assert detail["p_lower"] <= detail["p_hat"] and detail["confidence"] == 0.95
    assert detail["log10_pi_a"] <= 0 and f"{num_centers} distinct training points" in detail["region"]
    # one set A for both: p_hat is the pooled near-training fraction (equal trial sizes: their mean)
    assert abs(detail["p_hat"] - entry["near_train_fraction"]) < 1e-12


def test_memorization_cli_writes_outputs_and_reuses_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mem.Config, "quick", classmethod(lambda cls, target="gaussian": _tiny_mem(target)))
    out = tmp_path / "mem"
    first = mem.main(["--quick", "--out", str(out), "--seed", "3"] + TINY_RUN)
    # (issue 14, item 5) the sampling phase reports its progress, on stderr only
    captured = capsys.readouterr()
    for line in ("memorization: denoiser ready (trained here", "memorization: sampling: trial 1/2 done in",
                 "memorization: sampling: trial 2/2 done in", "memorization: Sinkhorn: "):
        assert line in captured.err and line not in captured.out, line
    payload = json.loads((out / "memorization.json").read_text())
    assert {"config", "elapsed_seconds", "final"} <= set(payload)
    for start in ("vanilla", "fresh", "train"):
        f = payload["final"][start]
        for k in ("sinkhorn_mean", "sinkhorn_std", "kl_mean", "kl_std"):
            assert f[k] is not None and np.isfinite(f[k]), (start, k)
        assert f["nonfinite_chains"] == 0
        _check_tv(f, num_chains=2 * 60, num_centers=40)
    assert "TV lower bound (95%)" in (out / "memorization.md").read_text()
    assert (out / "memorization.png").stat().st_size > 0 and (out / "memorization.md").exists()
    assert list(out.glob("denoiser_*.ckpt")), "trained parameters must be saved"
    assert not first["train"]["reused"]
    # same seed again: the checkpoint is re-used (no retraining) and the numbers are identical
    again = mem.main(["--quick", "--out", str(out), "--seed", "3"] + TINY_RUN)
    assert again["train"]["reused"]
    assert first["reused_parts"] == [] and again["reused_parts"] == [
        f"denoiser checkpoint {again['train']['checkpoint']}"]  # the harness's record of re-use
    assert again["final"] == first["final"]
    err = capsys.readouterr().err  # the silent rerun of the issue: it reports too
    assert "denoiser ready (re-used checkpoint denoiser_" in err and "sampling: trial 2/2 done" in err


def test_memorization_mixture_reports_null_kl():
    res = mem.run(_tiny_mem("mixture"), jax.random.key(0))
    for start in ("vanilla", "fresh", "train"):
        assert res["final"][start]["kl_mean"] is None
        assert np.isfinite(res["final"][start]["sinkhorn_mean"])
        _check_tv(res["final"][start], num_chains=2 * 60, num_centers=40)  # pi(A): the mixture's bound


def test_memorization_rejects_bad_config():
    with pytest.raises(ValueError, match="target"):
        dataclasses.replace(_tiny_mem(), target="banana").resolved()
    with pytest.raises(ValueError, match="num_seeds"):
        dataclasses.replace(_tiny_mem(), num_seeds=1000).resolved()


def test_diffusion_vs_langevin_cli(tmp_path, monkeypatch):
    monkeypatch.setattr(dvl.Config, "quick", classmethod(lambda cls, target="gaussian": _tiny_dvl(target)))
    out = tmp_path / "dvl"
    payload = dvl.main(["--quick", "--out", str(out), "--seed", "1"] + TINY_RUN)
    saved = json.loads((out / "diffusion_vs_langevin.json").read_text())
    assert saved["config"]["training"]["max_level"] == 1000  # trained on every level
    for m in dvl.METHODS:
        r = saved["methods"][m]
        assert np.isfinite(r["sinkhorn_mean"]) and np.isfinite(r["kl_mean"]), m
        assert r["nonfinite_chains"] == 0
    for r in saved["methods"].values():  # every sampler, the Langevin starts and the reverse ones
        _check_tv(r, num_chains=2 * 60, num_centers=40)
    assert "TV lower bound (95%)" in (out / "diffusion_vs_langevin.md").read_text()
    assert (out / "diffusion_vs_langevin.png").exists() and (out / "diffusion_vs_langevin.md").exists()
    assert payload["reverse_steps"] == 1000
    with pytest.raises(SystemExit):
        dvl.main(["--quick", "--config", "paper", "--out", str(out)])


# ---------------------------------------------------------------- pretrained denoisers (issue 12)


def test_the_paper_configurations_find_their_shipped_denoiser():
    from experiments import _pretrained
    from experiments import diffusion_vs_langevin as dvl
    from experiments import memorization as mem

    for target in ("gaussian", "mixture"):
        for make in (mem.Config.paper, mem.Config.paper_cpu):
            assert _pretrained.find_pretrained("memorization", make(target).resolved(), 0) == \
                f"memorization_{target}_paper_seed0"
    assert _pretrained.find_pretrained("diffusion_vs_langevin", dvl.Config.paper_cpu().resolved(), 0) == \
        "diffusion_vs_langevin_gaussian_paper_seed0"
    paper = mem.Config.paper().resolved()
    assert _pretrained.find_pretrained("memorization", paper, 1) is None  # another seed
    assert _pretrained.find_pretrained("memorization", paper, None) is None  # a key of unknown origin
    for change in (dict(num_steps=1000), dict(grad_clip=1.0), dict(schedule="cosine"),
                   dict(model=dataclasses.replace(paper.training.model, activation="relu"))):
        other = dataclasses.replace(paper, training=dataclasses.replace(paper.training, **change))
        assert _pretrained.find_pretrained("memorization", other, 0) is None, change
    assert _pretrained.find_pretrained("memorization", mem.Config.quick().resolved(), 0) is None


def test_the_seed_is_passed_explicitly_not_guessed_from_the_key():
    # a Python caller's key says nothing about a seed: without seed= no shipped denoiser is
    # used (it would be trained); with it, the shipped one is
    from experiments import _learned

    config = mem.Config.paper_cpu()
    den = _learned.load_or_train("memorization", config, jax.random.key(0), seed=0)
    assert den.train_summary["source"] == "pretrained"
    calls = []
    import langevin_jax.nn as nn_mod

    def fake_train(*args, **kwargs):
        calls.append(kwargs)
        raise RuntimeError("stop")

    import unittest.mock

    with unittest.mock.patch.object(nn_mod, "train_denoiser", fake_train), pytest.raises(RuntimeError, match="stop"):
        _learned.load_or_train("memorization", config, jax.random.key(0))
    assert calls and calls[0]["checkpoint_path"] is None


TINY_PAPER = ["--config", "paper-cpu", "--chains", "120", "--trials", "1", "--langevin-steps", "100",
              "--sinkhorn-points", "20", "--reference-samples", "200", "--num-seeds", "4",
              "--save-every", "50", "--sinkhorn-every", "100", "--no-progress"]


def test_paper_cpu_samples_with_the_pretrained_denoiser(tmp_path):
    from experiments import memorization as mem

    payload = mem.main(["--out", str(tmp_path)] + TINY_PAPER)
    train = payload["train"]
    assert train["source"] == "pretrained" and train["pretrained"] == "memorization_gaussian_paper_seed0"
    assert train["provenance"]["device"].startswith("one NVIDIA H100") and train["seconds_this_run"] == 0.0
    assert payload["config"].chains == 120 and payload["config"].training.num_steps == 150_000
    md = (tmp_path / "memorization.md").read_text()
    assert "shipped pretrained `memorization_gaussian_paper_seed0`" in md
    saved = json.loads((tmp_path / "memorization.json").read_text())
    assert saved["train"]["source"] == "pretrained"
    assert not list(tmp_path.glob("*.ckpt"))  # nothing was trained


def test_diffusion_contrast_has_oracle_rows(tmp_path):
    from experiments import diffusion_vs_langevin as dvl

    payload = dvl.main(["--out", str(tmp_path), "--reverse", "ddim"] + TINY_PAPER)
    assert payload["train"]["pretrained"] == "diffusion_vs_langevin_gaussian_paper_seed0"
    methods = payload["methods"]
    assert {"ddpm_exact", "langevin_exact_vanilla"} <= set(methods)
    # the exact denoiser's reverse process has the target's per-coordinate variance (2)
    assert abs(methods["ddpm_exact"]["coordinate_variance_mean"] - 2.0) < 0.3
    md = (tmp_path / "diffusion_vs_langevin.md").read_text()
    assert "oracle" in md and "below" in md


@pytest.mark.parametrize("flags, match", [
    (["--sinkhorn-points", "600", "--chains", "500"], "sinkhorn_points=600 must be <= chains=500"),
    (["--save-every", "30"], "must be multiples of save_every=30"),
    (["--num-seeds", "2000"], "num_seeds=2000 must be <= num_train=1000"),
    (["--trials", "0"], "--trials 0: trials must be an integer >= 1, got 0"),
    (["--step-size", "-1"], "step_size must be positive"),
    (["--quick", "--config", "paper-cpu"], "--quick contradicts --config paper-cpu"),
])
def test_bad_protocol_flags_are_named_with_their_values(flags, match, capsys, tmp_path):
    from experiments import memorization as mem

    with pytest.raises(SystemExit) as exc:
        mem.main(["--out", str(tmp_path), "--config", "paper-cpu"] + flags)
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


def test_level_probe_rows(tmp_path):
    from experiments import diffusion_vs_langevin as dvl

    payload = dvl.main(["--out", str(tmp_path), "--reverse", "ddim", "--level-probe"] + TINY_PAPER)
    probe = payload["level_probe"]
    assert [r["network_levels"] for r in probe["hybrid_ddpm"]] == ["<= 10", "<= 100", "<= 300",
                                                                  "> 10", "> 100", "> 300"]
    # the exact denoiser's own error is E|eps - E[eps | x_t]|^2 / d = 1 - (posterior shrinkage) <= 1
    assert all(0.0 <= r["exact_vs_true_noise"] <= 1.05 for r in probe["eps_error_by_level"])
    assert "--level-probe" in (tmp_path / "diffusion_vs_langevin.md").read_text()


def test_force_removes_only_its_own_checkpoint(tmp_path):
    # (issue 13, item 3) --force used to delete every denoiser_*.ckpt in --out
    from experiments import memorization as mem

    other = tmp_path / "denoiser_0123456789ab.ckpt"
    other.write_bytes(b"another configuration's checkpoint")
    mem.main(["--out", str(tmp_path), "--force"] + TINY_PAPER)
    assert other.read_bytes() == b"another configuration's checkpoint"


def test_outputs_get_the_ordinary_file_mode(tmp_path):
    # (issue 13, item 10) the atomic writes left results at mode 0600
    import os

    from langevin_jax import _io

    umask = os.umask(0o022)
    try:
        _io.write_atomic(tmp_path / "x.json", "{}")
    finally:
        os.umask(umask)
    assert oct((tmp_path / "x.json").stat().st_mode & 0o777) == oct(0o644)


# ---------------------------------------------------------------- figures (issue 14, item 3)


def _fake_mem_result(has_kl: bool) -> dict:
    """A result for :func:`mem.plot` where vanilla coincides exactly with fresh."""
    kl = dict(kl_mean=[5.0, 2.0, 1.0], kl_std=[0.1] * 3) if has_kl else dict(kl_mean=None, kl_std=None)
    curves = {s: dict(kl, sinkhorn_mean=[3.0, 2.0, 2.0], sinkhorn_std=[0.2] * 3) for s in mem.STARTS}
    curves["train"] = dict(curves["train"], sinkhorn_mean=[3.0, 2.5, 2.5])
    return dict(iterations=[0, 50, 100], sinkhorn_iterations=[0, 50, 100], curves=curves,
                reference=dict(kl_fit_bias=0.5 if has_kl else None, sinkhorn_pi_vs_pi_mean=1.0),
                loss_history_every=1000, loss_history=[1.0, 0.5, 0.3], train_xy=[[0.0, 0.0], [1.0, 1.0]],
                example_final_xy={s: [[0.1, 0.2]] for s in mem.STARTS})


def _start_lines(fig) -> list:
    """``(start, Line2D)`` for every line or error-bar line labelled with a start, in every axes."""
    found = []
    for ax in fig.axes:
        found += [(line.get_label(), line) for line in ax.get_lines() if line.get_label() in mem.STARTS]
        found += [(c.get_label(), c.lines[0]) for c in ax.containers
                  if c.get_label() in mem.STARTS and hasattr(c, "has_yerr")]
    return found


def test_every_figure_draws_a_start_the_same_way_and_vanilla_on_top(tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    from experiments import _plotting
    from tests.experiments._figures import capture_figures

    from experiments import memorization_analytic as analytic

    figures = capture_figures(monkeypatch, mem)  # (the experiments share one _cli module)
    for target, has_kl in (("gaussian", True), ("mixture", False)):
        mem.plot(_fake_mem_result(has_kl), tmp_path / target, mem.Config.quick(target))
    # Theorem 7's analytic memorising score: the same starts, the same looks
    start = dict(kl_mean=0.1, kl_std=0.01, trapped_mean=0.0, sinkhorn_mean=1.0, sinkhorn_std=0.1)
    analytic._plot(dict(rows=[dict(d=d, fit_kl_bias=0.01, sinkhorn_pi_vs_pi=0.5, score_error_log10=-d,
                                   score_error_mc_log10=-d, score_error_mc_log10_se=0.1,
                                   **{s: start for s in mem.STARTS}) for d in (2, 5, 10)]), tmp_path)
    assert len(figures) == 3
    looks = {}
    for fig in figures:
        lines = _start_lines(fig)
        assert {s for s, _ in lines} == set(mem.STARTS)
        for s, line in lines:
            look = (to_hex(line.get_color()), line.get_linestyle(), line.get_marker())
            assert looks.setdefault(s, look) == look, (s, look)  # the same in both figures and all panels
        # vanilla, which can coincide with fresh, is drawn on top in every panel
        for ax in fig.axes:
            z = {s: line.get_zorder() for s, line in _start_lines(fig) if line.axes is ax}
            if z:
                assert z["vanilla"] > max(z["fresh"], z["train"]), z
    for s in mem.STARTS:
        assert looks[s][0] == to_hex(_plotting.START_STYLE[s]["color"])
    assert looks["vanilla"][1] != looks["fresh"][1]  # and dashed

    dvl_figures = capture_figures(monkeypatch, dvl)
    method = dict(sinkhorn_mean=2.0, sinkhorn_std=0.1, kl_mean=1.0, kl_std=0.1)
    dvl.plot(dict(methods={m: method for m in dvl.METHODS}, train_xy=[[0.0, 0.0]],
                  reference=dict(sinkhorn_pi_vs_pi_mean=1.0, kl_fit_bias=0.5),
                  example_final_xy={m: [[0.1, 0.2]] for m in dvl.METHODS}),
             tmp_path, dvl.Config.quick())
    bars = dvl_figures[0].axes[0].patches
    for bar, m in zip(bars, dvl.METHODS):
        if m.startswith("langevin_"):
            assert to_hex(bar.get_facecolor()) == looks[m.removeprefix("langevin_")][0], m


def test_named_key_streams_and_subsamples():
    """One trial loop (experiments._learned.sample_trials) with named streams: every stream of a
    trial is distinct, and a method's Sinkhorn subsample depends on its name and the trial key
    only (not on which other methods run), drawn from JAX keys (no NumPy generator)."""
    from experiments import _learned

    k_trial = jax.random.fold_in(jax.random.key(0), 3)
    keys = {name: jax.random.key_data(_learned.stream(k_trial, name)).tolist() for name in _learned.STREAMS}
    assert len({str(v) for v in keys.values()}) == len(_learned.STREAMS)
    a = _learned.subsample(k_trial, "ddpm", 100, 20)
    assert np.array_equal(a, _learned.subsample(k_trial, "ddpm", 100, 20))
    assert len(set(a.tolist())) == 20 and a.min() >= 0 and a.max() < 100
    assert not np.array_equal(a, _learned.subsample(k_trial, "pc", 100, 20))
    assert not np.array_equal(a, _learned.subsample(jax.random.fold_in(jax.random.key(0), 4), "ddpm", 100, 20))


def test_training_balls_tv_counts_diverged_chains_and_uses_distinct_points():
    """(issue 25) The learned-score TV bound's set A: the distinct training points (duplicates would
    count twice in the union bound), membership as near_train_fraction, diverged chains counted
    among the chains and outside A; pi(A) by the Gaussian's or the mixture's bound."""
    import jax.numpy as jnp

    from experiments import _learned
    from langevin_jax import theory
    from langevin_jax.targets import GaussianMixture, IsotropicGaussian

    d = 4
    train = np.random.default_rng(0).normal(size=(5, d))
    target = IsotropicGaussian.create(jnp.ones(d), 2.0)
    balls = _learned.TrainingBalls.create(target, np.repeat(train, 3, axis=0), d)
    assert balls.centers.shape == (5, d) and balls.radius == _learned.trap_radius(d)
    assert balls.log_pi_a == theory.gaussian_balls_log_probability_bound(train, balls.radius, np.ones(d), 2.0**0.5)
    xs = np.concatenate([train + 0.01, train + 10.0])  # 5 chains in A, 5 far from it
    mask = balls.mask(xs)
    assert mask.tolist() == [True] * 5 + [False] * 5
    assert _learned.near_train_fraction(xs, train, d) == 0.5
    out = balls.tv([mask[:4], mask[4:]], num_nonfinite=3)
    detail = out["tv_lower_bound_detail"]
    assert (detail["num_inside"], detail["num_chains"], detail["num_nonfinite"]) == (5, 13, 3)
    assert detail["p_hat"] == 5 / 13 and out["tv_lower_bound"] == detail["p_lower"] - detail["pi_a"]
    assert "5 distinct training points" in detail["region"]
    mixture = GaussianMixture.create(jnp.array([0.5, 0.5]), jnp.stack([-jnp.ones(d), 4 * jnp.ones(d)]),
                                     jnp.full((2,), 2.0))
    expected = theory.gaussian_mixture_balls_log_probability_bound(
        train, 0.3, np.array([0.5, 0.5]), np.stack([-np.ones(d), 4 * np.ones(d)]), np.stack([2.0 * np.eye(d)] * 2))
    assert abs(_learned.TrainingBalls.create(mixture, train, d).log_pi_a - expected) < 1e-9
