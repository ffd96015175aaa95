import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import diffusion, nn


@pytest.mark.parametrize("embedding", ["sinusoidal", "linear", "none"])
def test_shapes_jit_vmap(key, embedding):
    cfg = nn.DenoiserConfig(dim=3, width=16, depth=2, time_embedding=embedding)
    params = nn.init_denoiser(key, cfg)
    x = jax.random.normal(key, (5, 3))
    t = jnp.arange(1, 6)
    batched = nn.apply_denoiser(params, cfg, x, t)
    assert batched.shape == (5, 3)
    eps_fn = nn.denoiser_eps_fn(params, cfg)
    assert eps_fn(x[0], t[0]).shape == (3,)
    # full float32 products on every backend (MLPDenoiser.precision): batched vs per-point
    # results differ only by summation order, a few float32 ulps (TF32 on a GPU gave 4e-3)
    np.testing.assert_allclose(jax.jit(jax.vmap(eps_fn))(x, t), batched, rtol=1e-5, atol=1e-6)
    sched = diffusion.linear_schedule()
    score = nn.denoiser_score_fn(params, cfg, sched, 10)
    scale = np.sqrt(1 - float(sched.alphabars[9]))
    np.testing.assert_allclose(score(x[0]), -eps_fn(x[0], 10) / scale, rtol=1e-5)
    tscore = nn.denoiser_time_score_fn(params, cfg, sched)
    np.testing.assert_allclose(jax.vmap(tscore)(x, t), jax.vmap(
        diffusion.score_from_eps(eps_fn, sched))(x, t), rtol=1e-6)


def _dot_precisions(fn, *args):
    jaxpr = jax.make_jaxpr(fn)(*args)
    out = []

    def walk(jp):
        for eqn in jp.eqns:
            if eqn.primitive.name == "dot_general":
                out.append(eqn.params["precision"])
            for sub in jax.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jaxpr.jaxpr)
    return out


def test_sampling_uses_full_float32_products_training_the_default(key):
    """Issue 13 (GPU): every matrix product of the network used for sampling asks for
    HIGHEST precision (a CPU ignores it, so check the program, not the numbers); training
    asks for DEFAULT (TF32 allowed: the loss is noisier than its rounding)."""
    cfg = nn.DenoiserConfig(dim=3, width=8, depth=2)
    params = nn.init_denoiser(key, cfg)
    x, t = jnp.ones((4, 3)), jnp.arange(1, 5)
    highest = jax.lax.Precision.HIGHEST
    score = nn.denoiser_score_fn(params, cfg, diffusion.linear_schedule(), 10)
    for fn, args in ((lambda x, t: nn.apply_denoiser(params, cfg, x, t), (x, t)),
                     (jax.vmap(nn.denoiser_eps_fn(params, cfg)), (x, t)),
                     (jax.vmap(score), (x,))):
        precisions = _dot_precisions(fn, *args)
        assert len(precisions) == cfg.depth + 1
        assert all(p == (highest, highest) for p in precisions), precisions
    from langevin_jax.nn.train import _build_chunk, make_optimizer

    config = nn.TrainConfig(model=cfg, num_steps=2)
    chunk = _build_chunk(config, 2)
    opt_state = make_optimizer(config).init(params)
    train = _dot_precisions(chunk, params, opt_state, key, jnp.ones((6, 3)), jnp.int32(0))
    assert len(train) >= 2 * (cfg.depth + 1)  # forward and backward products
    assert all(p in (None, (jax.lax.Precision.DEFAULT,) * 2) for p in train), train


def test_param_count_and_flops():
    cfg = nn.DenoiserConfig(dim=50, width=256, depth=3, embedding_dim=32)
    params = nn.init_denoiser(jax.random.key(0), cfg)
    sizes = [82, 256, 256, 256, 50]
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert nn.num_params(params) == expected
    assert nn.flops_per_example(cfg, training=False) == sum(
        2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))


@pytest.mark.parametrize("kwargs", [dict(dim=0), dict(dim=2, width=0), dict(dim=2, depth=0),
                                    dict(dim=2, time_embedding="fourier"),
                                    dict(dim=2, embedding_dim=3), dict(dim=2, activation="elu")])
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        nn.DenoiserConfig(**kwargs)


def test_schedule_mismatch_raises():
    cfg = nn.DenoiserConfig(dim=2, width=8, num_levels=1000)
    params = nn.init_denoiser(jax.random.key(0), cfg)
    with pytest.raises(ValueError, match="num_levels"):
        nn.denoiser_score_fn(params, cfg, diffusion.linear_schedule(100), 10)
    with pytest.raises(ValueError, match="level"):
        nn.denoiser_score_fn(params, cfg, diffusion.linear_schedule(), 1001)


def test_trained_denoiser_score_matches_gaussian_score(key):
    """Brief training on Gaussian data: the score at a moderate level is close to the exact
    score of the noised Gaussian, and much closer than at initialisation."""
    d, level = 2, 250
    m = jnp.array([1.0, -1.0])
    lam = jnp.array([2.0, 0.5])
    k_data, k_train, k_eval = jax.random.split(key, 3)
    data = m + jnp.sqrt(lam) * jax.random.normal(k_data, (4096, d))
    cfg = nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=64), num_steps=1500,
                         learning_rate=3e-3, lr_schedule="cosine", batch_size=512,
                         min_level=150, max_level=350)
    result = nn.train_denoiser(k_train, data, cfg)
    sched = cfg.noise_schedule()
    exact = diffusion.score_at_level(diffusion.gaussian_eps_fn(sched, m, jnp.diag(lam)), sched, level)
    # evaluate under the noised law p_t
    ab = float(sched.alphabars[level - 1])
    x0 = m + jnp.sqrt(lam) * jax.random.normal(k_eval, (4000, d))
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * jax.random.normal(jax.random.fold_in(k_eval, 1), (4000, d))
    s_true = jax.vmap(exact)(xt)

    def rel_err(params):
        s_hat = jax.vmap(nn.denoiser_score_fn(params, cfg.model, sched, level))(xt)
        return float(jnp.mean(jnp.sum((s_hat - s_true) ** 2, 1)) / jnp.mean(jnp.sum(s_true**2, 1)))

    trained = rel_err(result.params)
    initial = rel_err(nn.init_denoiser(jax.random.split(k_train)[0], cfg.model))
    assert trained < 0.05, trained
    assert trained < 0.1 * initial
