"""The sampling core composes: run under jit / vmap / grad / lax.scan, compiles once per
structure, takes pytree positions, and interoperates with BlackJAX both ways (issue 11)."""

from typing import NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import nn, runner, sweeps
from langevin_jax.samplers import LangevinState, MALAState
from tests.conftest import assert_within_se, count_compilations, variance_se

# module-level init / build_kernel, reached as BlackJAX users do: lj.mala.build_kernel()
annealed_mod, mala_mod, ula_mod = lj.annealed_langevin, lj.mala, lj.ula

LAM = jnp.array([0.5, 1.0, 2.0])
TARGET = lj.Gaussian.from_spectrum(jnp.zeros(3), LAM)
X0 = jax.random.normal(jax.random.key(0), (16, 3))
KEY = jax.random.key(1)


def _ula(h):
    return lj.ula(TARGET.score, h)


def _mala(h):
    return lj.mala(TARGET.log_prob, h)


def _annealed(h):
    # score(x, t) = -(x - t) / lam: the mean is pulled along t_k in [0, 1]
    n = 20
    return lj.annealed_langevin(lambda x, t: -(x - t) / LAM, (jnp.linspace(0.0, 1.0, n), jnp.full(n, h)))


SAMPLERS = {"ula": _ula, "mala": _mala, "annealed": _annealed}


def _final(make, h, key=KEY, x0=X0, n=20):
    return lj.run(key, make(h), x0, n).positions


# on a GPU float32 matrix products default to TF32 (about 1e-3 relative), and a batched and an
# unbatched product may take different paths: compare to that precision there
_TOL = 2e-6 if jax.default_backend() == "cpu" else 2e-3


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=_TOL, atol=_TOL)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_run_under_jit_and_inside_scan_matches_eager(name):
    make = SAMPLERS[name]
    eager = _final(make, 0.1)
    _close(jax.jit(lambda h: _final(make, h))(0.1), eager)

    def body(carry, h):
        return carry, _final(make, h)

    _, stacked = jax.lax.scan(body, 0, jnp.array([0.1, 0.2]))
    _close(stacked[0], eager)
    _close(stacked[1], _final(make, 0.2))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_run_under_vmap_over_keys_step_sizes_and_positions(name):
    make = SAMPLERS[name]
    keys = jax.random.split(KEY, 3)
    hs = jnp.array([0.05, 0.1, 0.2])
    x0s = X0[None] + jnp.arange(3.0)[:, None, None]
    by_key = jax.vmap(lambda k: _final(make, 0.1, key=k))(keys)
    by_h = jax.jit(jax.vmap(lambda h: _final(make, h)))(hs)
    by_x0 = jax.vmap(lambda x: _final(make, 0.1, x0=x))(x0s)
    for i in range(3):
        _close(by_key[i], _final(make, 0.1, key=keys[i]))
        _close(by_h[i], _final(make, float(hs[i])))
        _close(by_x0[i], _final(make, 0.1, x0=x0s[i]))


def test_run_under_vmap_over_score_parameters_and_info_is_batched():
    mus = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])

    def out(mu):
        return lj.run(KEY, lj.ula(lambda x: -(x - mu) / LAM, 0.1), X0, 30)

    batched = jax.vmap(out)(mus)
    assert batched.info.num_nonfinite.shape == (2,)
    for i in range(2):
        _close(batched.positions[i], out(mus[i]).positions)


def _fd(f, x, eps):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.mark.parametrize("name", ["ula", "annealed"])
def test_grad_wrt_step_size_matches_finite_differences(name):
    make = SAMPLERS[name]
    x0 = jax.random.normal(jax.random.key(3), (256, 3))

    def loss(h):
        x = lj.run(KEY, make(h), x0, 20).positions
        return jnp.mean(x**2)

    g = jax.grad(loss)(0.1)
    g_jit = jax.jit(jax.grad(loss))(0.1)
    np.testing.assert_allclose(g, g_jit, rtol=1e-5)
    np.testing.assert_allclose(g, _fd(loss, 0.1, 1e-3), rtol=1e-2)


def test_grad_wrt_score_parameters_matches_finite_differences():
    x0 = jax.random.normal(jax.random.key(3), (256, 3))

    def loss(mu):
        x = lj.run(KEY, lj.ula(lambda x: -(x - mu) / LAM, 0.1), x0, 20).positions
        return jnp.sum(jnp.mean(x, 0) ** 2)

    mu = jnp.array([0.3, -0.2, 0.5])
    g = jax.grad(loss)(mu)
    for i in range(3):
        e = jnp.zeros(3).at[i].set(1.0)
        fd = _fd(lambda s, e=e: loss(mu + s * e), 0.0, 1e-3)
        np.testing.assert_allclose(g[i], fd, rtol=1e-2, atol=1e-4)


def test_grad_through_mala_is_finite_and_jit_consistent():
    def loss(h):
        return jnp.mean(lj.run(KEY, _mala(h), X0, 20).positions ** 2)

    g = jax.grad(loss)(0.3)
    assert np.isfinite(float(g))
    np.testing.assert_allclose(g, jax.jit(jax.grad(loss))(0.3), rtol=1e-5)


def test_grad_through_a_network_score():
    cfg = nn.DenoiserConfig(dim=3, width=16, depth=1, num_levels=100)
    params = nn.init_denoiser(jax.random.key(0), cfg)
    from langevin_jax import diffusion

    schedule = diffusion.linear_schedule(100)

    def loss(scale):
        p = jax.tree_util.tree_map(lambda w: w * scale, params)
        score = nn.denoiser_score_fn(p, cfg, schedule, 10)
        return jnp.mean(lj.run(KEY, lj.ula(score, 1e-3), X0, 10).positions ** 2)

    g = jax.grad(loss)(1.0)
    np.testing.assert_allclose(g, _fd(loss, 1.0, 1e-2), rtol=2e-2, atol=1e-6)


# --------------------------------------------------------------------------- compile once


def test_new_numbers_do_not_recompile():
    from langevin_jax import diffusion

    x0 = jnp.zeros((8, 3))
    lj.run(KEY, lj.ula(TARGET.score, 0.1), x0, 10)
    other = lj.Gaussian.from_spectrum(jnp.ones(3), jnp.array([1.0, 2.0, 3.0]))
    key, x1 = jax.random.key(9), x0 + 1.0
    with count_compilations() as compiled:
        for h in (0.05, 0.2, 0.3):
            lj.run(KEY, lj.ula(TARGET.score, h), x0, 10)
        lj.run(KEY, lj.ula(other.score, 0.1), x0, 10)  # a new target of the same kind
        lj.run(key, lj.ula(TARGET.score, 0.1), x1, 10)  # new key and positions
    assert compiled[0] == 0

    times = jnp.linspace(0.0, 1.0, 10)
    lj.run(KEY, lj.annealed_langevin(lambda x, t: -(x - t), (times, jnp.full(10, 0.1))), x0, 10)
    alg = lj.annealed_langevin(lambda x, t: -(x - t), (times * 2, jnp.full(10, 0.05)))
    with count_compilations() as compiled:
        lj.run(KEY, alg, x0, 10)
    assert compiled[0] == 1  # a new lambda is a new function: one compilation, nothing else
    score = lambda x, t: -(x - t)  # noqa: E731
    lj.run(KEY, lj.annealed_langevin(score, (times, jnp.full(10, 0.1))), x0, 10)
    alg = lj.annealed_langevin(score, (times * 3, jnp.full(10, 0.2)))
    with count_compilations() as compiled:
        lj.run(KEY, alg, x0, 10)
    assert compiled[0] == 0  # same function, new schedule values

    cfg = nn.DenoiserConfig(dim=3, width=8, depth=1, num_levels=100)
    schedule = diffusion.linear_schedule(100)
    p1, p2 = (nn.init_denoiser(jax.random.key(i), cfg) for i in (0, 1))
    lj.run(KEY, lj.ula(nn.denoiser_score_fn(p1, cfg, schedule, 10), 1e-3), x0, 10)
    alg = lj.ula(nn.denoiser_score_fn(p2, cfg, schedule, 10), 2e-3)
    with count_compilations() as compiled:
        lj.run(KEY, alg, x0, 10)
    assert compiled[0] == 0  # new network parameters


def test_unroll_gives_the_same_numbers():
    a = lj.run(KEY, _ula(0.1), X0, 23, save_every=5)
    b = lj.run(KEY, _ula(0.1), X0, 23, save_every=5, unroll=4)
    np.testing.assert_array_equal(np.asarray(a.positions), np.asarray(b.positions))
    np.testing.assert_array_equal(np.asarray(a.trajectory), np.asarray(b.trajectory))


def test_step_uses_the_documented_chain_keys():
    x0 = X0[:4]
    out = lj.run(KEY, _ula(0.1), x0, 2)
    init, step = _ula(0.1)
    states = jax.vmap(init)(x0)
    for k in range(2):
        states, _ = jax.vmap(step)(lj.chain_keys(KEY, k, 4), states)
    _close(states.position, out.positions)


# --------------------------------------------------------------------------- pytree positions


def _tree_score(p):
    return {"a": -p["a"] / LAM[:2], "b": -p["b"] / 2.0}


def test_pytree_positions_ula_and_mala_stationary_laws():
    n = 20_000
    pos = {"a": jnp.zeros((n, 2)), "b": jnp.zeros((n,))}
    h = 0.2
    ula = lj.run(KEY, lj.ula(_tree_score, h), pos, 200, save_every=100)
    assert ula.trajectory["a"].shape == (2, n, 2) and ula.trajectory["b"].shape == (2, n)
    lam = {"a": np.asarray(LAM[:2]), "b": np.array(2.0)}
    for leaf in ("a", "b"):
        var = np.asarray(ula.positions[leaf], np.float64).var(0, ddof=1)
        exact = np.asarray(lj.theory.ula_gaussian_stationary_variance(lam[leaf], h))
        assert_within_se(var, exact, variance_se(exact, n), what=f"ULA pytree {leaf}")

    def logp(p):
        return -0.5 * jnp.sum(p["a"] ** 2 / LAM[:2]) - 0.25 * p["b"] ** 2

    mala = lj.run(KEY, lj.mala(logp, 0.5), pos, 300)
    assert 0.3 < float(mala.info.acceptance_rate) < 1.0
    for leaf in ("a", "b"):
        var = np.asarray(mala.positions[leaf], np.float64).var(0, ddof=1)
        assert_within_se(var, lam[leaf], variance_se(lam[leaf], n), what=f"MALA pytree {leaf}")


def test_image_shaped_positions_and_annealed_pytree():
    n, lam = 20_000, jnp.array([[0.5, 1.0], [2.0, 4.0]])
    x0 = jnp.zeros((n, 2, 2))
    out = lj.run(KEY, lj.ula(lambda x: -x / lam, 0.1), x0, 400)
    exact = np.asarray(lj.theory.ula_gaussian_stationary_variance(lam, 0.1))
    var = np.asarray(out.positions, np.float64).var(0, ddof=1)
    assert_within_se(var, exact, variance_se(exact, n), what="[n, 2, 2] positions")

    pos = {"a": jnp.zeros((64, 2)), "b": jnp.zeros((64, 1, 3))}
    alg = lj.annealed_langevin(lambda p, t: jax.tree_util.tree_map(lambda x: -(x - t), p),
                               (jnp.linspace(0, 1, 5), jnp.full(5, 0.1)))
    res = lj.run(KEY, alg, pos, 5)
    assert res.positions["b"].shape == (64, 1, 3) and int(res.info.num_nonfinite) == 0


def test_pytree_score_of_the_wrong_structure_is_named(monkeypatch):
    monkeypatch.setattr(runner, "_run_jit", lambda *a, **k: pytest.fail("compiled"))
    pos = {"a": jnp.zeros((4, 2)), "b": jnp.zeros((4,))}
    with pytest.raises(ValueError, match="score_fn must return a pytree of the position's structure"):
        lj.run(KEY, lj.ula(lambda p: p["a"], 0.1), pos, 5)


# --------------------------------------------------------------------------- BlackJAX contract


def test_unpacks_and_module_level_kernels_match():
    init, step = lj.mala(TARGET.log_prob, 0.3)
    x = X0[0]
    s1, i1 = step(KEY, init(x, KEY))
    s2, i2 = mala_mod.build_kernel()(KEY, mala_mod.init(x, TARGET.log_prob), TARGET.log_prob, 0.3)
    _close(s1.position, s2.position)
    init, step = lj.ula(TARGET.score, 0.1)
    _close(step(KEY, init(x))[0].position,
           ula_mod.build_kernel()(KEY, ula_mod.init(x), TARGET.score, 0.1)[0].position)
    sched = lj.array_schedule(jnp.zeros(3), 0.1)
    _close(lj.annealed_langevin(lambda x, t: TARGET.score(x), sched).step(KEY, ula_mod.init(x))[0].position,
           annealed_mod.build_kernel()(KEY, annealed_mod.init(x), lambda x, t: TARGET.score(x), sched)[0].position)


@pytest.mark.parametrize("name", ["ula", "mala"])
def test_our_algorithms_run_under_blackjax_run_inference_algorithm(name):
    alg = SAMPLERS[name](0.1)
    x = jnp.zeros(3)
    final, history = blackjax.util.run_inference_algorithm(
        KEY, alg, 50, initial_position=x, transform=lambda s, i: s.position)
    assert history.shape == (50, 3) and np.all(np.isfinite(np.asarray(history)))
    # the same chain by hand: BlackJAX splits the key into an init key and the step keys
    rng, _ = jax.random.split(KEY)
    state = alg.init(x)
    for k in jax.random.split(rng, 50):
        state, _ = alg.step(k, state)
    _close(final.position, state.position)


def test_run_accepts_blackjax_mala_and_hmc():
    n = 4_000
    logp = TARGET.log_prob
    x0 = jnp.zeros((n, 3))
    for alg in (blackjax.mala(logp, 0.5),
                blackjax.hmc(logp, 0.3, jnp.ones(3), 5)):
        out = lj.run(KEY, alg, x0, 150)
        assert out.info.acceptance_rate is not None and 0.3 < float(out.info.acceptance_rate) <= 1.0
        var = np.asarray(out.positions, np.float64).var(0, ddof=1)
        assert_within_se(var, LAM, variance_se(LAM, n), what=type(out.state).__name__)


def test_run_accepts_blackjax_nuts():
    n = 500
    out = lj.run(KEY, blackjax.nuts(TARGET.log_prob, 0.5, jnp.ones(3)), jnp.zeros((n, 3)), 60)
    var = np.asarray(out.positions, np.float64).var(0, ddof=1)
    assert_within_se(var, LAM, variance_se(LAM, n), what="NUTS")
    assert "num_integration_steps" in out.info.means


def test_blackjax_tempered_smc_drives_our_mala_kernel():
    # prior N(0, I), likelihood N(y | x, I): posterior N(y / 2, I / 2)
    y = jnp.array([1.0, -2.0])
    logprior = lambda x: -0.5 * jnp.sum(x**2)  # noqa: E731
    loglik = lambda x: -0.5 * jnp.sum((x - y) ** 2)  # noqa: E731
    smc = blackjax.tempered_smc(logprior, loglik, mala_mod.build_kernel(), mala_mod.init,
                                {"step_size": jnp.array([0.3])}, blackjax.smc.resampling.systematic, 5)
    n = 4_000
    state = smc.init(jax.random.normal(jax.random.key(2), (n, 2)))
    for i, lmbda in enumerate(jnp.linspace(0.1, 1.0, 10)):
        state, _ = jax.jit(smc.step)(jax.random.fold_in(KEY, i), state, lmbda)
    xs = np.asarray(state.particles, np.float64)
    # resampling correlates particles: allow a 4x variance inflation in the standard error
    assert_within_se(xs.mean(0), y / 2, np.sqrt(4 * 0.5 / n), what="SMC posterior mean")
    assert_within_se(xs.var(0, ddof=1), 0.5 * np.ones(2), 2 * variance_se(0.5 * np.ones(2), n),
                     what="SMC posterior variance")


# --------------------------------------------------------------------------- sweeps share the core


def test_sweep_and_plain_run_agree():
    d_max, lam_full = 5, jnp.linspace(0.5, 2.0, 5)
    x0 = jax.random.normal(jax.random.key(4), (32, d_max))
    for d in (2, 5):
        mask = sweeps.dimension_masks([d], d_max)[0]
        padded = sweeps.masked_ula(KEY, lambda x: -x / lam_full, 0.1, x0 * mask, 30, mask)
        plain = lj.run(KEY, lj.ula(lambda x, lam=lam_full[:d]: -x / lam, 0.1), x0[:, :d], 30).positions
        _close(padded[:, :d], plain)
        np.testing.assert_array_equal(np.asarray(padded[:, d:]), 0.0)


# --------------------------------------------------------------------------- chain-independent state


class _Renamed(NamedTuple):  # MALA's state with its step count under another name
    position: jax.Array
    logdensity: jax.Array
    score: jax.Array
    steps: jax.Array


def _count_per_chain(alg):
    """``alg`` with its state's count renamed: by run's rule it is then carried per chain."""
    def step(key, state):
        new, info = alg.step(key, MALAState(*state))
        return _Renamed(*new), info

    return lj.SamplingAlgorithm(lambda x: _Renamed(*alg.init(x)), step)


def test_the_count_carried_once_changes_nothing_but_the_program():
    alg = lj.mala(TARGET.log_prob, lambda k: 0.3 / (1.0 + 0.01 * k))
    shared = lj.run(KEY, alg, X0, 25, save_every=10)
    per_chain = lj.run(KEY, _count_per_chain(alg), X0, 25, save_every=10)
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(shared)[0], jax.tree_util.tree_leaves(per_chain)):
        assert a.shape == b.shape
        if "means" in jax.tree_util.keystr(path):  # (a mean's last bit may differ with the program)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert shared.state.count.shape == (16,) and int(shared.state.count[0]) == 25
    assert set(shared.info.means) == {"acceptance_rate", "is_accepted", "step_size"}
    # the loop over steps (the while that carries the positions) carries the count as one
    # int32 scalar, the renamed one as [num_chains] int32
    def loop_carry(a):
        hlo = jax.jit(lambda x: lj.run(KEY, a, x, 25)).lower(X0).as_text()
        heads = [h.split("\n")[0] for h in hlo.split("stablehlo.while(")[1:]]
        (head,) = [h for h in heads if "tensor<16x3xf32>" in h]
        return head

    assert "tensor<16xi32>" not in loop_carry(alg) and "tensor<i32>" in loop_carry(alg)
    assert "tensor<16xi32>" in loop_carry(_count_per_chain(alg))


def test_a_step_that_makes_the_count_chain_dependent_is_refused():
    init, step = lj.ula(TARGET.score, 0.1)

    def odd_step(key, state):  # the count advances only where x[0] > 0
        new, info = step(key, state)
        return new._replace(count=state.count + (state.position[0] > 0)), info

    with pytest.raises(ValueError, match="'count' field once for all chains.* differ between chains"):
        lj.run(KEY, lj.SamplingAlgorithm(init, odd_step), X0, 20)

    class OddState(NamedTuple):  # the same counter, not named count: carried per chain
        position: jax.Array
        moves: jax.Array

    def odd_renamed(key, state):
        new, info = step(key, LangevinState(*state))
        return OddState(new.position, state.moves + (state.position[0] > 0)), info

    out = lj.run(KEY, lj.SamplingAlgorithm(lambda x: OddState(*init(x)), odd_renamed), X0, 20)
    moves = np.asarray(out.state.moves)
    assert moves.shape == (16,) and len(np.unique(moves)) > 1
