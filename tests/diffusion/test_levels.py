"""Networks know where they are valid: a denoiser trained on levels lo..hi carries them, and
every sampler and bridge refuses, before compiling, to evaluate it elsewhere unless told
``allow_untrained_levels=True`` (a warning, recorded in the sampler's metadata)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import annealing, diffusion, nn, runner

S = diffusion.linear_schedule()
CFG = nn.DenoiserConfig(dim=3, width=8, depth=1)
PARAMS = nn.init_denoiser(jax.random.key(0), CFG)
LOW = nn.denoiser_eps_fn(PARAMS, CFG, levels=(1, 100))  # a network trained on levels 1..100


@pytest.fixture
def no_compile(monkeypatch):
    monkeypatch.setattr(runner, "_run_jit", lambda *a, **k: pytest.fail("compiled"))


SAMPLERS = {
    "ddpm": lambda eps, **kw: diffusion.ddpm_sampler(eps, S, **kw),
    "ddim": lambda eps, **kw: diffusion.ddim_sampler(eps, S, 50, **kw),
    "pc": lambda eps, **kw: diffusion.pc_sampler(eps, S, **kw),
    "ncsn": lambda eps, **kw: diffusion.ncsn_sampler(eps, S, **kw),
    "score_at_level": lambda eps, **kw: diffusion.score_at_level(eps, S, 500, **kw),
    "dalmc_path": lambda eps, **kw: annealing.eps_denoiser_path(eps, S, "linear", 3, **kw),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_levels_outside_training_are_refused_with_the_levels_named(name):
    with pytest.raises(ValueError, match=r"eps_fn was trained on levels 1\.\.100 only, but .* levels 1\.\.1000"
                       if name not in ("score_at_level", "ddim", "ncsn") else r"trained on levels 1\.\.100 only"):
        SAMPLERS[name](LOW)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_allow_untrained_levels_warns_and_is_recorded(name):
    with pytest.warns(diffusion.UntrainedLevelWarning, match="allow_untrained_levels=True"):
        out = SAMPLERS[name](LOW, allow_untrained_levels=True)
    meta = getattr(out, "metadata", None)
    if meta is not None and meta:
        assert meta["untrained_levels_allowed"] and meta["untrained_levels_used"]
        assert meta["trained_levels"] == [1, 100]


def test_levels_inside_training_pass_and_are_recorded():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alg = diffusion.ddpm_sampler(LOW, S, start_level=100)
        diffusion.score_at_level(LOW, S, 10)
        ncsn = diffusion.ncsn_sampler(LOW, S, levels=[100, 30, 10])
    assert alg.metadata == dict(sampler="ddpm", start_level=100, variance="beta", levels=[1, 100],
                                trained_levels=[1, 100], untrained_levels_allowed=False,
                                untrained_levels_used=False)
    assert ncsn.metadata["noise_levels"] == [100, 30, 10] and ncsn.metadata["levels"] == [10, 100]
    # a function without levels is trusted everywhere, and says so
    plain = diffusion.ddpm_sampler(nn.denoiser_eps_fn(PARAMS, CFG), S)
    assert plain.metadata["trained_levels"] is None


def test_levelled_fn_is_the_function_and_a_pytree_of_its_parameters():
    x, t = jnp.ones(3), jnp.int32(7)
    np.testing.assert_array_equal(LOW(x, t), nn.denoiser_eps_fn(PARAMS, CFG)(x, t))
    arrays = [leaf for leaf in jax.tree_util.tree_leaves(LOW) if isinstance(leaf, jax.Array)]
    assert len(arrays) == len(jax.tree_util.tree_leaves(PARAMS))  # the parameters are its array leaves
    assert diffusion.trained_levels(LOW) == (1, 100) and diffusion.trained_levels(lambda x, t: x) is None
    # narrowing an existing range keeps the intersection; disjoint ranges are an error
    assert diffusion.with_levels(LOW, 50, 500).levels == (50, 100)
    with pytest.raises(ValueError, match="do not overlap"):
        diffusion.with_levels(LOW, 200, 300)
    with pytest.raises(ValueError, match="min_level must be <= max_level"):
        diffusion.with_levels(lambda x, t: x, 5, 2)
    # the time score of a levelled denoiser keeps the levels; annealed Langevin checks its schedule
    score = diffusion.score_from_eps(LOW, S)
    assert diffusion.trained_levels(score) == (1, 100)
    with pytest.raises(ValueError, match="annealed Langevin's schedule"):
        lj.run(jax.random.key(0), lj.annealed_langevin(score, (jnp.full(5, 500.0), jnp.full(5, 1e-3))),
               jnp.zeros((2, 3)), 5)
    lj.run(jax.random.key(0), lj.annealed_langevin(score, (jnp.full(5, 50.0), jnp.full(5, 1e-3))),
           jnp.zeros((2, 3)), 5)


@pytest.mark.parametrize("levels, match", [
    ((1, 100, 3), "levels must be a pair"),
    (100, "levels must be a pair"),
    ((0, 100), "min_level must be >= 1"),
    ((50, 10), "min_level must be <= max_level"),
    ((1, 1001), "max_level <= num_levels = 1000"),
    ((1.5, 10), "min_level"),
])
def test_denoiser_eps_fn_names_bad_levels(levels, match):
    with pytest.raises(ValueError, match=match):
        nn.denoiser_eps_fn(PARAMS, CFG, levels=levels)


def test_the_check_runs_before_compiling(no_compile):
    with pytest.raises(ValueError, match="trained on levels"):
        score = diffusion.score_from_eps(LOW, S)
        lj.run(jax.random.key(0), lj.annealed_langevin(score, (jnp.full(5, 500.0), jnp.full(5, 1e-3))),
               jnp.zeros((2, 3)), 5)


def test_trained_and_loaded_networks_carry_their_levels(tmp_path):
    cfg = nn.TrainConfig(model=CFG, num_steps=2, min_level=1, max_level=100)
    result = nn.train_denoiser(jax.random.key(0), jnp.ones((8, 3)), cfg)
    assert result.eps_fn.levels == (1, 100) and cfg.trained_levels == (1, 100)
    assert nn.trained_eps_fn(result.params, cfg).levels == (1, 100)
    p = nn.load_pretrained("memorization_gaussian_paper_seed0")
    assert p.trained_levels == (1, 100) and p.eps_fn.levels == (1, 100)
    # the case: DDPM from level 1000 with the 1..100 network
    with pytest.raises(ValueError, match=r"trained on levels 1\.\.100 only.*DDPM from start_level=1000"):
        diffusion.ddpm_sampler(p.eps_fn, p.schedule)
    with pytest.raises(ValueError, match="level"):
        p.score_fn(500)
    x = jnp.ones(50)
    np.testing.assert_array_equal(p.score_fn(10)(x), nn.denoiser_score_fn(p.params, p.model, p.schedule, 10)(x))
    full = nn.load_pretrained("diffusion_vs_langevin_gaussian_paper_seed0")
    assert full.trained_levels == (1, 1000)
    diffusion.ddpm_sampler(full.eps_fn, full.schedule)  # valid at every level


def test_catalog_lists_data_levels_and_limits():
    catalog = {c["name"]: c for c in nn.pretrained_catalog()}
    assert set(catalog) == set(nn.pretrained_names())
    mem = catalog["memorization_gaussian_paper_seed0"]
    assert mem["trained_levels"] == [1, 100] and mem["num_levels"] == 1000
    assert mem["data"] == dict(target="gaussian", d=50, num_train=1000, duplicates=10, variance=2.0)
    for entry in catalog.values():
        assert entry["known_limits"], f"{entry['name']} has no measured limits"
        # the paper networks were trained on an H100, the digits networks on a 2-core CPU
        assert entry["num_params"] > 0 and ("H100" if "paper" in entry["name"] else "2 cores") in entry["trained_on"]
