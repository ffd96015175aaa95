"""Smoke tests of the learned-score experiments with tiny configurations (seconds)."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from experiments import diffusion_vs_langevin as dvl
from experiments import memorization as mem

TINY_MEM = dict(d=4, num_train=40, duplicates=2, width=32, train_steps=200, chains=60,
                sinkhorn_points=50, reference_samples=200, trials=2, langevin_steps=50,
                num_seeds=10, progress_bar=False, chunk_size=100, checkpoint_every=100)


_MEM_QUICK, _DVL_QUICK = mem.Config.quick, dvl.Config.quick


def _tiny_mem(target="gaussian"):
    return dataclasses.replace(_MEM_QUICK(target), save_every=25, sinkhorn_every=50, **TINY_MEM)


def _tiny_dvl(target="gaussian"):
    return dataclasses.replace(_DVL_QUICK(target), **TINY_MEM)


def test_memorization_cli_writes_outputs_and_reuses_training(tmp_path, monkeypatch):
    monkeypatch.setattr(mem.Config, "quick", classmethod(lambda cls, target="gaussian": _tiny_mem(target)))
    out = tmp_path / "mem"
    first = mem.main(["--quick", "--out", str(out), "--seed", "3"])
    payload = json.loads((out / "memorization.json").read_text())
    assert {"config", "elapsed_seconds", "final"} <= set(payload)
    for start in ("vanilla", "fresh", "train"):
        f = payload["final"][start]
        for k in ("sinkhorn_mean", "sinkhorn_std", "kl_mean", "kl_std"):
            assert f[k] is not None and np.isfinite(f[k]), (start, k)
        assert f["nonfinite_chains"] == 0
    assert (out / "memorization.png").stat().st_size > 0 and (out / "memorization.md").exists()
    assert list(out.glob("denoiser_*.ckpt")), "trained parameters must be saved"
    assert not first["train"]["reused"]
    # same seed again: the checkpoint is re-used (no retraining) and the numbers are identical
    again = mem.main(["--quick", "--out", str(out), "--seed", "3"])
    assert again["train"]["reused"]
    assert again["final"] == first["final"]


def test_memorization_mixture_reports_null_kl():
    res = mem.run(_tiny_mem("mixture"), jax.random.key(0))
    for start in ("vanilla", "fresh", "train"):
        assert res["final"][start]["kl_mean"] is None
        assert np.isfinite(res["final"][start]["sinkhorn_mean"])


def test_memorization_rejects_bad_config():
    with pytest.raises(ValueError, match="target"):
        dataclasses.replace(_tiny_mem(), target="banana").resolved()
    with pytest.raises(ValueError, match="num_seeds"):
        dataclasses.replace(_tiny_mem(), num_seeds=1000).resolved()


def test_diffusion_vs_langevin_cli(tmp_path, monkeypatch):
    monkeypatch.setattr(dvl.Config, "quick", classmethod(lambda cls, target="gaussian": _tiny_dvl(target)))
    out = tmp_path / "dvl"
    payload = dvl.main(["--quick", "--out", str(out), "--seed", "1"])
    saved = json.loads((out / "diffusion_vs_langevin.json").read_text())
    assert saved["config"]["max_level"] == 1000  # trained on every level
    for m in dvl.METHODS:
        r = saved["methods"][m]
        assert np.isfinite(r["sinkhorn_mean"]) and np.isfinite(r["kl_mean"]), m
        assert r["nonfinite_chains"] == 0
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
    assert _pretrained.find_pretrained("memorization", dataclasses.replace(paper, train_steps=1000), 0) is None
    assert _pretrained.find_pretrained("memorization", mem.Config.quick().resolved(), 0) is None
    assert _pretrained.seed_of(jax.random.key(0)) == 0 and _pretrained.seed_of(jax.random.key(7)) == 7


TINY_PAPER = ["--config", "paper-cpu", "--chains", "120", "--trials", "1", "--langevin-steps", "100",
              "--sinkhorn-points", "20", "--reference-samples", "200", "--num-seeds", "4",
              "--save-every", "50", "--sinkhorn-every", "100", "--no-progress"]


def test_paper_cpu_samples_with_the_pretrained_denoiser(tmp_path):
    from experiments import memorization as mem

    payload = mem.main(["--out", str(tmp_path)] + TINY_PAPER)
    train = payload["train"]
    assert train["source"] == "pretrained" and train["pretrained"] == "memorization_gaussian_paper_seed0"
    assert train["provenance"]["device"].startswith("one NVIDIA H100") and train["seconds_this_run"] == 0.0
    assert payload["config"].chains == 120 and payload["config"].train_steps == 150_000
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
    (["--trials", "0"], "trials must be >= 1, got 0"),
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
