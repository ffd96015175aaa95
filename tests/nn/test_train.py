import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import nn


def _config(**kw):
    base = dict(model=nn.DenoiserConfig(dim=3, width=16, depth=2), num_steps=40,
                learning_rate=1e-2, chunk_size=10, max_level=100)
    base.update(kw)
    return nn.TrainConfig(**base)


@pytest.fixture
def data(key):
    pts = jax.random.normal(key, (16, 3))
    return jnp.repeat(pts, 4, axis=0)


def test_loss_decreases_on_toy_problem(key, data):
    # all 1000 levels: at high noise the optimal denoiser is close to linear, so a small MLP
    # halves the loss within a few hundred steps (at the 100 lowest levels it must memorise)
    res = nn.train_denoiser(key, data, _config(num_steps=300, chunk_size=100, max_level=1000))
    h = res.loss_history
    assert h.shape == (300,) and res.step == 300 and res.resumed_from == 0
    assert np.all(np.isfinite(h))
    assert h[-50:].mean() < 0.8 * h[:50].mean()


def test_same_key_same_result_and_chunking_invariance(key, data):
    a = nn.train_denoiser(key, data, _config(chunk_size=10))
    b = nn.train_denoiser(key, data, _config(chunk_size=40))
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)


def test_resume_from_checkpoint_is_bit_identical(key, data, tmp_path):
    full = nn.train_denoiser(key, data, _config(checkpoint_every=20,
                                                checkpoint_path=str(tmp_path / "a.ckpt")))
    path = str(tmp_path / "b.ckpt")
    cfg = _config(checkpoint_every=20, checkpoint_path=path)
    part = nn.train_denoiser(key, data, cfg, stop_at=20)  # "interrupted" after 20 steps
    assert part.step == 20
    resumed = nn.train_denoiser(key, data, cfg)
    assert resumed.resumed_from == 20 and resumed.step == 40
    for x, y in zip(jax.tree_util.tree_leaves((full.params, full.opt_state)),
                    jax.tree_util.tree_leaves((resumed.params, resumed.opt_state))):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(full.loss_history, resumed.loss_history)
    # a finished checkpoint is re-used without training
    again = nn.train_denoiser(key, data, cfg)
    assert again.resumed_from == 40
    for x, y in zip(jax.tree_util.tree_leaves(full.params), jax.tree_util.tree_leaves(again.params)):
        np.testing.assert_array_equal(x, y)
    ckpt = nn.load_checkpoint(path, cfg)
    assert ckpt["step"] == 40 and ckpt["loss_history"].shape == (40,)


def test_incompatible_checkpoint_raises(key, data, tmp_path):
    path = str(tmp_path / "c.ckpt")
    nn.train_denoiser(key, data, _config(num_steps=10, checkpoint_path=path))
    with pytest.raises(ValueError, match="config"):
        nn.train_denoiser(key, data, _config(num_steps=10, learning_rate=0.5, checkpoint_path=path))
    with pytest.raises(ValueError, match="key"):
        nn.train_denoiser(jax.random.key(1), data, _config(num_steps=10, checkpoint_path=path))
    with pytest.raises(ValueError, match="data"):
        nn.train_denoiser(key, data + 1, _config(num_steps=10, checkpoint_path=path))


def test_minibatch_and_per_batch_levels_and_progress(key, data):
    stream = io.StringIO()
    cfg = _config(batch_size=8, level_sampling="per_batch", grad_clip=1.0, progress_bar=True)
    import langevin_jax.nn.train as train_mod

    bar_cls = train_mod._LossBar
    train_mod._LossBar = lambda n, s: bar_cls(n, s, stream=stream)
    try:
        res = nn.train_denoiser(key, data, cfg)
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
    (lambda d: d, dict(checkpoint_every=5), "checkpoint_path"),
    (lambda d: d, dict(learning_rate=-1.0), "learning_rate"),
    (lambda d: d, dict(num_levels=500), "num_levels"),
])
def test_bad_input_raises_before_compiling(key, data, data_fn, kw, match):
    with pytest.raises(ValueError, match=match):
        nn.train_denoiser(key, data_fn(data), _config(**kw))
