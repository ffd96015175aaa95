"""Continuing a chain (``run(..., initial_state=previous.state)``) and compiling once.

For every sampler: two runs of 20 steps give bit for bit the positions, trajectory and state of
one run of 40 (the count carries on, so schedules and levels continue, and step ``k`` draws the
keys of step ``count + k``); a wrong state is a ``ValueError`` naming what differs, before
anything is compiled; and a new network, Gaussian, start level or schedule of the same
structure re-uses the compiled run (nothing is compiled again)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import annealing, diffusion, nn, runner
from tests.conftest import count_compilations

D = 3
TARGET = lj.Gaussian.from_spectrum(jnp.zeros(D), jnp.array([0.5, 1.0, 2.0]))
S = diffusion.linear_schedule(100, beta_max=0.2)
EPS = diffusion.gaussian_eps_fn(S, TARGET.mean, TARGET.covariance)
KEY = jax.random.key(3)
X0 = jax.random.normal(jax.random.key(1), (32, D))


def _decay(k):
    return 0.05 / (1.0 + 0.01 * k)


def _tempered_score(target, x, t):
    return t * target.score(x)


def _samplers(eps=EPS, schedule=S, start=100, target=TARGET):
    times = jnp.linspace(1.0, 0.1, 100)
    path = annealing.diffusion_path(target, "linear")
    return {
        "ula": lj.ula(target.score, _decay),
        "mala": lj.mala(target.log_prob, 0.3),
        "annealed": lj.annealed_langevin(jax.tree_util.Partial(_tempered_score, target), (times, jnp.full(100, 0.05))),
        "dalmc": lj.samplers.dalmc(path, 1.0, annealing.uniform_time_grid(100)),
        "ddpm": diffusion.ddpm_sampler(eps, schedule, start_level=start),
        "ddim": diffusion.ddim_sampler(eps, schedule, 50, start_level=start),
        "ddim_stochastic": diffusion.ddim_sampler(eps, schedule, 50, start_level=start, eta=0.5),
        "pc": diffusion.pc_sampler(eps, schedule, start_level=start),
        "pc_chain": diffusion.pc_sampler(eps, schedule, start_level=start, snr_norms="chain"),
        "ncsn": diffusion.ncsn_sampler(eps, schedule, levels=[start, start // 2, 10, 1], steps_per_level=10,
                                       epsilon=1e-4),
    }


@pytest.mark.parametrize("name", list(_samplers()))
def test_two_halves_are_the_whole_bit_for_bit(name):
    alg = _samplers()[name]
    total = 40  # of DDPM's 100 levels, DDIM's 50, NCSN's 4 x 10 steps, ...
    whole = lj.run(KEY, alg, X0, total, save_every=5)
    first = lj.run(KEY, alg, X0, total // 2, save_every=5)
    second = lj.run(KEY, alg, num_steps=total // 2, save_every=5, initial_state=first.state)
    assert int(second.state.count[0]) == total
    np.testing.assert_array_equal(np.asarray(second.positions), np.asarray(whole.positions))
    np.testing.assert_array_equal(np.concatenate([first.trajectory, second.trajectory]),
                                  np.asarray(whole.trajectory))
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                           second.state, whole.state)
    assert np.all(np.isfinite(np.asarray(whole.positions)))


def test_continuing_under_jit_gives_the_eager_numbers():
    alg = _samplers()["ddpm"]
    first = lj.run(KEY, alg, X0, 40)
    eager = lj.run(KEY, alg, num_steps=60, initial_state=first.state)
    traced = jax.jit(lambda s: lj.run(KEY, alg, num_steps=60, initial_state=s).positions)(first.state)
    np.testing.assert_array_equal(np.asarray(traced), np.asarray(eager.positions))


def test_continuing_a_state_without_a_count_needs_start_step():
    """A BlackJAX state has no count: start_step says how many steps it has taken."""
    blackjax = pytest.importorskip("blackjax")
    alg = blackjax.mala(TARGET.log_prob, 0.3)
    whole = lj.run(KEY, alg, X0, 20)
    first = lj.run(KEY, alg, X0, 12)
    with pytest.raises(ValueError, match="has no count field: pass start_step="):
        lj.run(KEY, alg, num_steps=8, initial_state=first.state)
    second = lj.run(KEY, alg, num_steps=8, initial_state=first.state, start_step=12)
    np.testing.assert_array_equal(np.asarray(second.positions), np.asarray(whole.positions))


@pytest.fixture
def no_compile(monkeypatch):
    monkeypatch.setattr(runner, "_run_jit", lambda *a, **k: pytest.fail("compiled"))


def test_wrong_states_are_named_before_compiling(no_compile):
    samplers = _samplers()
    ula_state = jax.vmap(samplers["ula"].init)(X0)
    ddpm_state = jax.vmap(samplers["ddpm"].init)(X0)
    cases = [
        (samplers["mala"], ula_state, r"initial_state is a LangevinState\(position, count\), but this algorithm's "
                                      r"init makes a MALAState\(position, logdensity, score, count\)"),
        (samplers["ddpm"], ula_state, r"LangevinState.*DiffusionState\(position, count\)"),
        (samplers["ula"], ddpm_state, r"DiffusionState.*LangevinState"),
        (samplers["ula"], ula_state._replace(count=ula_state.count[:5]),
         r"initial_state.count has shape \(5,\), but every leaf of a state needs the leading chain axis"),
        (samplers["ula"], samplers["ula"].init(X0[0]), r"initial_state.count has shape \(\), but every leaf"),
        (samplers["ula"], samplers["ula"].init(X0[0, 0]), r"initial_state.position must have a leading chain axis"),
        (samplers["ula"], ula_state._replace(count=jnp.arange(32, dtype=jnp.int32)),
         "initial_state.count differs between chains"),
        (samplers["ula"], ula_state._replace(count=ula_state.count.astype(jnp.float32)),
         r"initial_state.count is float32\[32\], but this algorithm's state holds int32\[32\]"),
        (samplers["ula"], {"position": X0}, "initial_state must be a sampler state with a position field"),
    ]
    for alg, state, match in cases:
        with pytest.raises(ValueError, match=match):
            lj.run(KEY, alg, num_steps=5, initial_state=state)
    with pytest.raises(ValueError, match="not both"):
        lj.run(KEY, samplers["ula"], X0, 5, initial_state=ula_state)
    with pytest.raises(ValueError, match=r"give initial_positions \(\[num_chains, ...\] leaves\) or initial_state"):
        lj.run(KEY, samplers["ula"], num_steps=5)
    with pytest.raises(ValueError, match="num_steps is required"):
        lj.run(KEY, samplers["ula"], X0)
    with pytest.raises(ValueError, match="start_step continues a chain"):
        lj.run(KEY, samplers["ula"], X0, 5, start_step=3)
    with pytest.raises(ValueError, match="start_step=3 differs from initial_state.count=0"):
        lj.run(KEY, samplers["ula"], num_steps=5, initial_state=ula_state, start_step=3)
    # a reverse sampler cannot be continued below level 1: the earlier steps count
    done = ddpm_state._replace(count=jnp.full(32, 90, jnp.int32))
    with pytest.raises(ValueError, match="num_steps=101 exceeds start_level=100"):
        lj.run(KEY, samplers["ddpm"], num_steps=11, initial_state=done)


# --------------------------------------------------------------------------- compile once


def _compilations(fn):
    """The programs compiled by ``fn()``: 0 when the run re-uses its compiled program (and its
    eager checks compile nothing new)."""
    with count_compilations() as compiled:
        fn()
    return compiled[0]


def _other_eps(scale=1.0, schedule=S):
    other = lj.Gaussian.from_spectrum(jnp.full(D, scale), jnp.array([1.0, 2.0, 3.0]) * scale)
    return diffusion.gaussian_eps_fn(schedule, other.mean, other.covariance), other


@pytest.mark.parametrize("name", list(_samplers()))
def test_new_numbers_reuse_the_compiled_run(name):
    """Each sampler, rebuilt with a new exact denoiser (another Gaussian), a new noise schedule of
    the same length, a new start level and a new target: nothing is compiled again."""
    x0 = X0[:8]
    lj.run(KEY, _samplers()[name], x0, 20)
    schedule = diffusion.linear_schedule(100, beta_max=0.15)
    eps, other = _other_eps(2.0, schedule)
    alg = _samplers(eps, schedule, 90, other)[name]
    assert _compilations(lambda: lj.run(KEY, alg, x0, 20)) == 0
    eps, other = _other_eps(0.5)
    alg, key, x1 = _samplers(eps, target=other)[name], jax.random.key(9), x0 + 1.0
    assert _compilations(lambda: lj.run(key, alg, x1, 20)) == 0


@pytest.mark.parametrize("make", [
    lambda eps: diffusion.ddpm_sampler(eps, S),
    lambda eps: diffusion.ddim_sampler(eps, S, 20),
    lambda eps: diffusion.pc_sampler(eps, S),
    lambda eps: diffusion.ncsn_sampler(eps, S, levels=[100, 10], steps_per_level=10),
    lambda eps: lj.ula(diffusion.score_at_level(eps, S, 10), 1e-3),
], ids=["ddpm", "ddim", "pc", "ncsn", "ula_level_score"])
def test_new_network_parameters_reuse_the_compiled_run(make):
    """nn.denoiser_eps_fn with new parameters (another checkpoint), with and without its trained
    levels: one compilation for both networks, as the docstring of denoiser_eps_fn promises."""
    cfg = nn.DenoiserConfig(dim=D, width=8, depth=1, num_levels=100)
    p1, p2 = (nn.init_denoiser(jax.random.key(i), cfg) for i in (0, 1))
    x0 = X0[:8]
    lj.run(KEY, make(nn.denoiser_eps_fn(p1, cfg)), x0, 20)
    alg = make(nn.denoiser_eps_fn(p2, cfg))
    assert _compilations(lambda: lj.run(KEY, alg, x0, 20)) == 0
    lj.run(KEY, make(nn.denoiser_eps_fn(p1, cfg, levels=(1, 100))), x0, 20)
    alg = make(nn.denoiser_eps_fn(p2, cfg, levels=(1, 100)))
    assert _compilations(lambda: lj.run(KEY, alg, x0, 20)) == 0


def test_continuing_from_another_count_reuses_the_compiled_run():
    alg = _samplers()["ddpm"]
    a = lj.run(KEY, alg, X0, 10)
    lj.run(KEY, alg, num_steps=20, initial_state=a.state)
    b = lj.run(KEY, alg, X0, 30)
    assert _compilations(lambda: lj.run(KEY, alg, num_steps=20, initial_state=b.state)) == 0
