"""experiments.memorization_digits (issue 23): the digits split, the shipped networks, a tiny
end-to-end run and what the shipped networks show."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from experiments import _digits, _pretrained
from experiments import memorization_digits as md
from langevin_jax import nn

TINY = dict(low_steps=100, all_steps=100, width=32, chains=40, trials=2, sinkhorn_points=30, langevin_steps=40,
            ddim_steps=20, ncsn_noise_levels=3, ncsn_steps_per_level=5)


def test_split_sizes_disjoint_and_scaled():
    train, heldout, perm = _digits.split(jax.random.key(0), 1000)
    assert train.shape == (1000, 64) and heldout.shape == (797, 64)
    assert sorted(perm.tolist()) == list(range(1797))  # every digit once: disjoint, nothing lost
    assert not set(perm[:1000].tolist()) & set(perm[1000:].tolist())
    x = _digits.load()
    np.testing.assert_array_equal(train, x[perm[:1000]])
    np.testing.assert_array_equal(heldout, x[perm[1000:]])
    # documented range [-1, 1], background -1, ink +1; multiples of 1/8 (exact in float32)
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(x * 8, np.round(x * 8))
    np.testing.assert_array_equal(x.astype(np.float32).astype(np.float64), x)
    with pytest.raises(ValueError, match="num_train"):
        _digits.split(jax.random.key(0), 1797)


def test_split_is_deterministic_for_a_seed():
    a = _digits.split(jax.random.key(3), 500)
    b = _digits.split(jax.random.key(3), 500)
    c = _digits.split(jax.random.key(4), 500)
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("make", [md.Config, md.Config.quick])
def test_shipped_networks_are_found_and_load(make):
    config = make().validate()
    train, _, _ = _digits.split(md._keys(jax.random.key(0))["split"], config.num_train)
    for network in md.NETWORKS:
        name = _pretrained.find_pretrained(md.NAME, md.pretrained_query(config, network), 0)
        assert name == md.pretrained_name(network, 0) and name in _pretrained.SHIPPED
        p = nn.load_pretrained(name)
        # the exact training digits of seed 0's split, and the training of the configuration
        np.testing.assert_array_equal(np.asarray(p.train_points, np.float64), train)
        assert p.trained_levels == ((1, config.low_max_level) if network == "low" else (1, 1000))
        assert p.provenance["training_seconds"] > 0 and "CPU" in p.provenance["device"]
        assert _pretrained.find_pretrained(md.NAME, md.pretrained_query(config, network), 1) is None
    other = dataclasses.replace(config, low_steps=config.low_steps + 1)
    assert _pretrained.find_pretrained(md.NAME, md.pretrained_query(other, "low"), 0) is None


def test_rejects_bad_config():
    with pytest.raises(ValueError, match="sinkhorn_points"):
        md.Config(sinkhorn_points=400).validate()
    with pytest.raises(ValueError, match="score_level"):
        md.Config(score_level=200).validate()
    with pytest.raises(ValueError, match="num_train"):
        md.Config(num_train=1797).validate()


def test_tiny_end_to_end_writes_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(md.Config, "quick", classmethod(lambda cls: cls(**TINY)))
    out = tmp_path / "digits"
    res = md.main(["--quick", "--out", str(out), "--seed", "2", "--no-progress-bar"])
    payload = json.loads((out / f"{md.NAME}.json").read_text())
    assert {"config", "data", "networks", "methods", "memorization", "reference", "samplers",
            "elapsed_seconds"} <= set(payload)
    assert set(payload["methods"]) == set(md.METHODS)
    for m in md.METHODS:
        f = payload["methods"][m]
        for k in ("sinkhorn_mean", "sinkhorn_std", "copy_fraction_mean", "copy_fraction_std",
                  "nearest_distance_median_mean", "ratio_median_mean", "nonfinite_chains", "escaped_fraction"):
            assert k in f, (m, k)
        assert 0.0 <= f["copy_fraction_mean"] <= 1.0
    assert payload["data"]["num_train"] == 1000 and payload["data"]["num_heldout"] == 797
    assert np.isfinite(payload["reference"]["floor_train_vs_heldout_mean"])
    for network in md.NETWORKS:
        assert payload["networks"][network]["source"] == "trained here"  # seed 2: nothing shipped
    for png in (f"{md.NAME}.png", f"{md.NAME}_grid.png"):
        assert (out / png).stat().st_size > 10_000
    text = (out / f"{md.NAME}.md").read_text()
    assert "heldout_draw" in text and "Floor" in text
    # (a 100-step network's DDPM may diverge: its Sinkhorn is then "inf" in the JSON)
    assert res["methods"]["langevin_train"]["ratio_median_mean"] == pytest.approx(
        payload["methods"]["langevin_train"]["ratio_median_mean"])
    assert np.isfinite(payload["methods"]["heldout_draw"]["sinkhorn_mean"])


@pytest.fixture(scope="module")
def shipped_result():
    """The shipped networks (seed 0) with fewer chains: what the quick run shows, smaller."""
    config = dataclasses.replace(md.Config.quick(), chains=90, trials=3, sinkhorn_points=60).validate()
    return md.run(config, jax.random.key(0), seed=0)


def test_shipped_networks_are_used(shipped_result):
    for network in md.NETWORKS:
        assert shipped_result["networks"][network]["source"] == "pretrained"


def test_train_starts_stay_nearer_their_training_digits_than_fresh_starts_but_nothing_copies(shipped_result):
    """What the shipped CPU networks show (measured, see docs/paper1_digits.md): ULA from training
    digits ends nearer one training digit than its second nearest (a lower median ratio) than
    ULA from held-out digits, by more than the Monte Carlo spread; yet no sampler copies (ratio <
    1/3), the diffusion samplers included."""
    m = shipped_result["methods"]
    train, fresh = m["langevin_train"], m["langevin_fresh"]
    spread = train["ratio_median_std"] + fresh["ratio_median_std"]
    assert fresh["ratio_median_mean"] - train["ratio_median_mean"] > max(spread, 0.02)
    for method in md.METHODS:
        assert m[method]["copy_fraction_mean"] <= 0.02, method


def test_findings_say_what_the_numbers_show():
    from experiments import memorization_digits as md

    def row(ratio, std=0.01, copies=0.0, sinkhorn=6.0):
        return dict(ratio_median_mean=ratio, ratio_median_std=std, copy_fraction_mean=copies, sinkhorn_mean=sinkhorn)

    methods = {m: row(0.95) for m in md.METHODS}
    payload = dict(methods=methods, reference=dict(floor_train_vs_heldout_mean=4.7))
    text = " ".join(md.findings(payload))
    assert "No sampler copies" in text and "not told apart" in text and "do not drift" in text
    methods.update(langevin_train=row(0.2, copies=0.6), langevin_fresh=row(0.8), heldout_draw=row(0.92))
    text = " ".join(md.findings(payload))
    assert "Copies (ratio < 1/3): langevin_train 0.600." in text
    assert "Train starts end nearer" in text and "Fresh starts drift towards training digits" in text
