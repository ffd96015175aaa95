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
