import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import nn


def _config(**kw):
    base = dict(model=nn.DenoiserConfig(dim=3, width=16, depth=2), num_steps=40,
                learning_rate=1e-2, max_level=100)
    base.update(kw)
    return nn.TrainConfig(**base)


def _train(key, data, config, **run):
    """``nn.train_denoiser`` in chunks of 10 steps unless told otherwise (run settings)."""
    return nn.train_denoiser(key, data, config, **{"chunk_size": 10, **run})


@pytest.fixture
def data(key):
    pts = jax.random.normal(key, (16, 3))
    return jnp.repeat(pts, 4, axis=0)


def test_loss_decreases_on_toy_problem(key, data):
    # all 1000 levels: at high noise the optimal denoiser is close to linear, so a small MLP
    # halves the loss within a few hundred steps (at the 100 lowest levels it must memorise)
    res = _train(key, data, _config(num_steps=300, max_level=1000), chunk_size=100)
    h = res.loss_history
    assert h.shape == (300,) and res.step == 300 and res.resumed_from == 0
    assert np.all(np.isfinite(h))
    assert h[-50:].mean() < 0.8 * h[:50].mean()


def test_same_key_same_result_and_chunking_invariance(key, data):
    a = _train(key, data, _config(), chunk_size=10)
    b = _train(key, data, _config(), chunk_size=40)
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)


def test_resume_from_checkpoint_is_bit_identical(key, data, tmp_path):
    full = _train(key, data, _config(), checkpoint_every=20, checkpoint_path=str(tmp_path / "a.ckpt"))
    path = str(tmp_path / "b.ckpt")
    cfg, run = _config(), dict(checkpoint_every=20, checkpoint_path=path)
    part = _train(key, data, cfg, stop_at=20, **run)  # "interrupted" after 20 steps
    assert part.step == 20
    resumed = _train(key, data, cfg, **run)
    assert resumed.resumed_from == 20 and resumed.step == 40
    for x, y in zip(jax.tree_util.tree_leaves((full.params, full.opt_state)),
                    jax.tree_util.tree_leaves((resumed.params, resumed.opt_state))):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(full.loss_history, resumed.loss_history)
    # a finished checkpoint is re-used without training
    again = _train(key, data, cfg, **run)
    assert again.resumed_from == 40
    for x, y in zip(jax.tree_util.tree_leaves(full.params), jax.tree_util.tree_leaves(again.params)):
        np.testing.assert_array_equal(x, y)
    ckpt = nn.load_checkpoint(path, cfg)
    assert ckpt["step"] == 40 and ckpt["loss_history"].shape == (40,)


def test_incompatible_checkpoint_raises(key, data, tmp_path):
    path = str(tmp_path / "c.ckpt")
    _train(key, data, _config(num_steps=10), checkpoint_path=path)
    with pytest.raises(ValueError, match="config"):
        _train(key, data, _config(num_steps=10, learning_rate=0.5), checkpoint_path=path)
    with pytest.raises(ValueError, match="key"):
        _train(jax.random.key(1), data, _config(num_steps=10), checkpoint_path=path)
    with pytest.raises(ValueError, match="data"):
        _train(key, data + 1, _config(num_steps=10), checkpoint_path=path)


def test_minibatch_and_per_batch_levels_and_progress(key, data):
    stream = io.StringIO()
    cfg = _config(batch_size=8, level_sampling="per_batch", grad_clip=1.0)
    import langevin_jax.nn.train as train_mod

    bar_cls = train_mod._LossBar
    train_mod._LossBar = lambda n, s: bar_cls(n, s, stream=stream)
    try:
        res = _train(key, data, cfg, progress_bar=True)
    finally:
        train_mod._LossBar = bar_cls
    assert np.all(np.isfinite(res.loss_history))
    assert "loss" in stream.getvalue() and "40/40" in stream.getvalue()


@pytest.mark.parametrize("data_fn, kw, match", [
    (lambda d: d[0], {}, "data"),
    (lambda d: d.at[0, 0].set(jnp.nan), {}, "data"),
    (lambda d: d[:, :2], {}, "dim"),
    (lambda d: d, dict(min_level=50, max_level=10), "min_level"),
    (lambda d: d, dict(max_level=2000), "max_level"),
    (lambda d: d, dict(min_level=0), "min_level"),
    (lambda d: d, dict(batch_size=1000), "batch_size"),
    (lambda d: d, dict(learning_rate=-1.0), "learning_rate"),
    (lambda d: d, dict(num_levels=500), "num_levels"),
    (lambda d: d, dict(schedule="quadratic"), "schedule must be 'linear' or 'cosine'"),
])
def test_bad_input_raises_before_compiling(key, data, data_fn, kw, match):
    with pytest.raises(ValueError, match=match):
        _train(key, data_fn(data), _config(**kw))


@pytest.mark.parametrize("run, match", [
    (dict(checkpoint_every=5), "checkpoint_path"),
    (dict(checkpoint_every=0, checkpoint_path="x.ckpt"), "checkpoint_every"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_run_settings_raise_before_compiling(key, data, run, match):
    with pytest.raises(ValueError, match=match):
        nn.train_denoiser(key, data, _config(), **run)


def test_config_holds_only_what_determines_the_parameters(key, data, tmp_path):
    # the run settings are arguments: a checkpoint written with one chunk length, cadence and
    # bar resumes under others, and the fingerprint is the config (less the length under a
    # constant learning rate, so training may be extended)
    fields = {f.name for f in __import__("dataclasses").fields(nn.TrainConfig)}
    assert not fields & {"checkpoint_path", "checkpoint_every", "progress_bar", "chunk_size"}
    cfg = _config()
    assert cfg.fingerprint() == {k: v for k, v in __import__("dataclasses").asdict(cfg).items() if k != "num_steps"}
    assert _config(lr_schedule="cosine").fingerprint()["num_steps"] == 40
    path = str(tmp_path / "r.ckpt")
    _train(key, data, cfg, chunk_size=5, checkpoint_every=10, checkpoint_path=path, stop_at=20)
    resumed = _train(key, data, cfg, chunk_size=40, checkpoint_path=path)
    full = _train(key, data, cfg)
    assert resumed.resumed_from == 20
    np.testing.assert_array_equal(resumed.loss_history, full.loss_history)
    assert nn.data_hash(data) == nn.load_checkpoint(path, cfg)["data_hash"]


# --- issue 13: divergence, resume length, unwritable and corrupt checkpoints ---------------

import os  # noqa: E402

import optax  # noqa: E402

import langevin_jax.nn.train as train_mod  # noqa: E402


def _poison_update_at(monkeypatch, bad_step: int):
    """Make the optimiser's update of step ``bad_step`` (0-based) NaN, and nothing else: a
    deterministic divergence at a known step (a real one depends on the numerics)."""
    make = train_mod.make_optimizer

    def poisoned(config):
        base = make(config)

        def init(params):
            return base.init(params), jnp.zeros([], jnp.int32)

        def update(grads, state, params=None):
            inner, count = state
            updates, inner = base.update(grads, inner, params)
            updates = jax.tree_util.tree_map(
                lambda u: jnp.where(count == bad_step, jnp.nan, u), updates)
            return updates, (inner, count + 1)

        return optax.GradientTransformation(init, update)

    monkeypatch.setattr(train_mod, "make_optimizer", poisoned)


@pytest.fixture
def clear_chunk_cache():
    train_mod._build_chunk.cache_clear()
    yield
    train_mod._build_chunk.cache_clear()  # drop programs compiled with a patched optimiser


@pytest.mark.parametrize("bad_update, first_bad_step", [
    (24, 26),  # NaN update inside a chunk: the loss of the next step is the first NaN
    (29, 30),  # NaN update at the end of a chunk: every loss finite, the parameters are not
])
def test_divergence_stops_at_first_nonfinite_step_and_keeps_last_good_checkpoint(
        key, data, tmp_path, monkeypatch, clear_chunk_cache, bad_update, first_bad_step):
    _poison_update_at(monkeypatch, bad_update)
    path = tmp_path / "div.ckpt"
    cfg = _config()
    with pytest.raises(RuntimeError) as exc:
        _train(key, data, cfg, checkpoint_every=10, checkpoint_path=str(path))
    msg = str(exc.value)
    assert f"step {first_bad_step}" in msg and "non-finite" in msg
    assert str(path) in msg and "step 20" in msg  # where the last good state is
    assert "learning_rate" in msg  # what to do
    # the file still holds the finite state of step 20, equal to an uninterrupted run's
    ckpt = nn.load_checkpoint(path, cfg)
    assert ckpt["step"] == 20 and np.all(np.isfinite(ckpt["loss_history"]))
    ref = _train(key, data, _config(), stop_at=20)
    for x, y in zip(jax.tree_util.tree_leaves(ref.params), jax.tree_util.tree_leaves(ckpt["params"])):
        assert np.all(np.isfinite(y))
        np.testing.assert_array_equal(x, y)


def test_huge_learning_rate_raises_instead_of_returning_nan(key, data, tmp_path):
    path = tmp_path / "lr.ckpt"
    with pytest.raises(RuntimeError, match=r"non-finite.*step \d+") as exc:
        _train(key, data, _config(learning_rate=1e30), checkpoint_path=str(path))
    assert "no checkpoint" in str(exc.value)
    assert not path.exists()  # never a checkpoint of NaN parameters


def test_resume_with_fewer_steps_than_the_checkpoint_raises(key, data, tmp_path):
    path = tmp_path / "r.ckpt"
    _train(key, data, _config(), checkpoint_path=str(path))  # 40 steps
    with pytest.raises(ValueError) as exc:
        _train(key, data, _config(num_steps=10), checkpoint_path=str(path))
    msg = str(exc.value)
    assert "num_steps = 10" in msg and "40 steps" in msg and str(path) in msg
    assert nn.load_checkpoint(path, _config())["step"] == 40  # left alone


def _count_chunks(monkeypatch):
    calls = []
    build = train_mod._build_chunk
    monkeypatch.setattr(train_mod, "_build_chunk", lambda *a: calls.append(a) or build(*a))
    return calls


def test_unwritable_checkpoint_folder_raises_before_training(key, data, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    calls = _count_chunks(monkeypatch)
    path = blocker / "sub" / "c.ckpt"  # its parent cannot be created, not even by root
    with pytest.raises(ValueError, match="checkpoint_path") as exc:
        _train(key, data, _config(), checkpoint_path=str(path))
    assert str(blocker) in str(exc.value)
    assert calls == []  # no step was compiled or run


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_checkpoint_folder_raises_before_training(key, data, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    calls = _count_chunks(monkeypatch)
    try:
        with pytest.raises(ValueError, match="checkpoint_path"):
            _train(key, data, _config(), checkpoint_path=str(folder / "c.ckpt"))
    finally:
        folder.chmod(0o700)
    assert calls == []


@pytest.mark.parametrize("corrupt", [
    lambda blob: b"\x00garbage, not msgpack" * 3,
    lambda blob: blob[: len(blob) // 2],  # truncated
    lambda blob: b"",
])
def test_corrupt_checkpoint_names_the_file(key, data, tmp_path, corrupt):
    path = tmp_path / "bad.ckpt"
    _train(key, data, _config(num_steps=10), checkpoint_path=str(path))
    path.write_bytes(corrupt(path.read_bytes()))
    for call in (lambda: _train(key, data, _config(num_steps=10), checkpoint_path=str(path)),
                 lambda: nn.load_checkpoint(path, _config())):
        with pytest.raises(ValueError) as exc:
            call()
        msg = str(exc.value)
        assert str(path) in msg and "delete" in msg and "--force" in msg
