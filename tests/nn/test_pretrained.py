"""The shipped paper denoisers: load, checksum, same outputs as the network they came from."""

import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import nn

NAMES = ["diffusion_vs_langevin_gaussian_paper_seed0", "memorization_gaussian_paper_seed0",
         "memorization_mixture_paper_seed0"]
DIGITS = ["memorization_digits_all_levels_seed0", "memorization_digits_low_levels_seed0"]
SHARED = Path(__file__).resolve().parents[3] / "shared" / "pretrained"


def test_listing():
    assert nn.pretrained_names() == sorted(NAMES + DIGITS)


@pytest.mark.parametrize("name", NAMES)
def test_loads_and_reproduces_the_recorded_outputs(name):
    p = nn.load_pretrained(name)
    meta = nn.pretrained_metadata(name)
    ref = meta["reference_eps"]
    eps = nn.apply_denoiser(p.params, p.model, jnp.asarray(ref["x"]), jnp.asarray(ref["t"]))
    np.testing.assert_allclose(np.asarray(eps), np.asarray(ref["eps"]), rtol=1e-5, atol=1e-6)
    assert nn.num_params(p.params) == meta["num_params"]
    assert p.train_points.shape == (1000, p.model.dim)
    assert p.schedule.num_levels == 1000 and p.provenance["train_steps"] == 150_000
    assert p.experiment_config["train_steps"] == 150_000
    assert p.loss_history_every == meta["loss_history_every"] >= 1


@pytest.mark.parametrize("name", DIGITS)
def test_digits_networks_load_and_reproduce_the_recorded_outputs(name):
    p = nn.load_pretrained(name)
    ref = nn.pretrained_metadata(name)["reference_eps"]
    eps = nn.apply_denoiser(p.params, p.model, jnp.asarray(ref["x"]), jnp.asarray(ref["t"]))
    np.testing.assert_allclose(np.asarray(eps), np.asarray(ref["eps"]), rtol=1e-5, atol=1e-6)
    assert p.model.dim == 64 and p.train_points.shape == (1000, 64)
    assert float(jnp.min(p.train_points)) >= -1.0 and float(jnp.max(p.train_points)) <= 1.0


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/pretrained (the source checkpoints) not present")
@pytest.mark.parametrize("name", NAMES)
def test_same_eps_as_the_source_checkpoint(name):
    p = nn.load_pretrained(name)
    ckpt = nn.load_checkpoint(SHARED / p.provenance["source_checkpoint"], p.train_config)
    x = jax.random.normal(jax.random.key(0), (16, p.model.dim))
    t = jnp.arange(1, 1001, 64)[:16]
    np.testing.assert_array_equal(np.asarray(nn.apply_denoiser(p.params, p.model, x, t)),
                                  np.asarray(nn.apply_denoiser(ckpt["params"], p.model, x, t)))


def test_training_points_are_the_seeds_points_to_one_ulp():
    from experiments import _learned as mem

    p = nn.load_pretrained("memorization_gaussian_paper_seed0")
    target = mem.make_target(mem.Config.paper("gaussian").resolved())
    k_data = jax.random.split(jax.random.key(0), 4)[0]
    redrawn = target.sample(k_data, 1000)
    assert float(jnp.max(jnp.abs(redrawn - p.train_points))) < 1e-5


def test_unknown_name_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="name must be one of .*memorization_gaussian_paper_seed0"):
        nn.load_pretrained("memorisation_gaussian")
    with pytest.raises(ValueError, match="name must be one of"):
        nn.pretrained_metadata("memorisation_gaussian")
    name = "memorization_gaussian_paper_seed0"
    for suffix in (".json", ".npz"):
        shutil.copy(nn.pretrained.PRETRAINED_DIR / f"{name}{suffix}", tmp_path)
    assert nn.load_pretrained(name, directory=tmp_path).model.width == 256
    blob = bytearray((tmp_path / f"{name}.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / f"{name}.npz").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"\.npz are corrupt: SHA-256"):
        nn.load_pretrained(name, directory=tmp_path)
    (tmp_path / f"{name}.npz").unlink()
    with pytest.raises(ValueError, match="missing"):
        nn.load_pretrained(name, directory=tmp_path)
    (tmp_path / f"{name}.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        nn.load_pretrained(name, directory=tmp_path)


def test_edited_metadata_is_a_named_error(tmp_path):
    # issue 22: an edited beta_max loaded and changed the schedule; an edited width failed raw in Flax
    import json

    name = "memorization_gaussian_paper_seed0"
    for suffix in (".json", ".npz"):
        shutil.copy(nn.pretrained.PRETRAINED_DIR / f"{name}{suffix}", tmp_path)
    path = tmp_path / f"{name}.json"
    meta = json.loads(path.read_text())
    edited = dict(meta, train_config=dict(meta["train_config"], beta_max=0.03))
    path.write_text(json.dumps(edited))
    for read in (nn.load_pretrained, nn.pretrained_metadata):
        with pytest.raises(ValueError, match=r"was edited or is corrupt: its SHA-256"):
            read(name, directory=tmp_path)
    unsigned = {k: v for k, v in meta.items() if k != "metadata_sha256"}
    path.write_text(json.dumps(unsigned))
    with pytest.raises(ValueError, match="has no metadata_sha256"):
        nn.load_pretrained(name, directory=tmp_path)
    # an edited and re-signed width: the parameters do not fit the recorded model
    nn.write_pretrained_metadata(name, dict(unsigned, model=dict(meta["model"], width=128)), tmp_path)
    with pytest.raises(ValueError, match=r"do not fit the recorded model.*expected"):
        nn.load_pretrained(name, directory=tmp_path)
    # re-signing the unchanged record gives back the shipped checksum
    nn.write_pretrained_metadata(name, unsigned, tmp_path)
    assert nn.pretrained_metadata(name, tmp_path)["metadata_sha256"] == meta["metadata_sha256"]
