import dataclasses
import io
import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import runner as run_mod
from tests.conftest import count_compilations


def _alg():
    return lj.ula(lambda x: -x, 0.1)


def test_same_key_bit_identical_different_key_different():
    x0 = jnp.zeros((64, 3))
    a = lj.run(jax.random.key(3), _alg(), x0, 50, save_every=10)
    b = lj.run(jax.random.key(3), lj.ula(lambda x: -x, 0.1), x0, 50, save_every=10)
    c = lj.run(jax.random.key(4), _alg(), x0, 50, save_every=10)
    np.testing.assert_array_equal(np.asarray(a.positions), np.asarray(b.positions))
    np.testing.assert_array_equal(np.asarray(a.trajectory), np.asarray(b.trajectory))
    assert not np.any(np.asarray(a.positions) == np.asarray(c.positions))
    # chains are independent: no two chains share noise
    assert len(np.unique(np.asarray(a.positions)[:, 0])) == 64


def test_trajectory_matches_shorter_runs_and_remainder():
    x0 = jax.random.normal(jax.random.key(0), (8, 2))
    full = lj.run(jax.random.key(1), _alg(), x0, 23, save_every=5)
    assert full.trajectory.shape == (4, 8, 2)
    short = lj.run(jax.random.key(1), _alg(), x0, 10)
    np.testing.assert_array_equal(np.asarray(full.trajectory[1]), np.asarray(short.positions))
    plain = lj.run(jax.random.key(1), _alg(), x0, 23)
    np.testing.assert_array_equal(np.asarray(full.positions), np.asarray(plain.positions))


def test_nonfinite_chains_are_counted():
    # x' = x + h x^3 blows up from |x| large, stays bounded from small x
    alg = lj.ula(lambda x: x**3, 0.5)
    x0 = jnp.concatenate([jnp.full((3, 1), 5.0), jnp.full((5, 1), 0.0)])
    with pytest.warns(lj.NonFiniteWarning):
        out = lj.run(jax.random.key(0), alg, x0, 200)
    assert out.info.num_nonfinite >= 3
    assert np.all(np.asarray(out.info.nonfinite)[:3])
    # absorbing: checking every step finds exactly the same chains
    with pytest.warns(lj.NonFiniteWarning):
        every = lj.run(jax.random.key(0), alg, x0, 200, check_every_step=True)
    np.testing.assert_array_equal(np.asarray(every.info.nonfinite), np.asarray(out.info.nonfinite))
    assert out.info.summary()["num_nonfinite"] == int(out.info.num_nonfinite)


def test_progress_bar_writes_and_is_silent_when_off(capsys):
    lj.run(jax.random.key(0), _alg(), jnp.zeros((4, 2)), 40)
    assert capsys.readouterr().err == ""
    lj.run(jax.random.key(0), _alg(), jnp.zeros((4, 2)), 40, progress_bar=True)
    err = capsys.readouterr().err
    assert "40/40 steps" in err


def test_progress_bar_under_vmap(capsys):
    alg = _alg()

    def final(key):
        return lj.run(key, alg, jnp.zeros((4, 2)), 20, progress_bar=True).positions

    out = jax.vmap(final)(jax.random.split(jax.random.key(0), 3))
    assert out.shape == (3, 4, 2)
    assert "20/20 steps" in capsys.readouterr().err


@pytest.fixture
def no_compile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("compiled before validating input")

    monkeypatch.setattr(run_mod, "_run_jit", fail)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(initial_positions=jnp.zeros(())), "initial_positions must have shape"),
        (dict(initial_positions={"a": jnp.zeros((2, 3)), "b": jnp.zeros((3, 3))}),
         "same leading num_chains"),
        (dict(initial_positions=jnp.zeros((0, 3))), "num_chains >= 1"),
        (dict(key=0), "key must be a PRNG key"),
        (dict(key=jax.random.split(jax.random.key(0), 2)), "single PRNG key"),
        (dict(unroll=0), "unroll must be >= 1"),
        (dict(num_steps=0), "num_steps must be >= 1"),
        (dict(num_steps=2.5), "num_steps must be an int"),
        (dict(save_every=0), "save_every must be >= 1"),
        (dict(save_every=11), "save_every=11 must be <= num_steps"),
        (dict(initial_positions=jnp.full((2, 3), jnp.nan)), "initial_positions contains NaN"),
        (dict(algorithm=lambda: None), "algorithm must have callable init"),
    ],
)
def test_run_bad_input(no_compile, kwargs, match):
    args = dict(key=jax.random.key(0), algorithm=_alg(), initial_positions=jnp.zeros((2, 3)),
                num_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        lj.run(**args)


def test_score_shape_and_dimension_mismatch(no_compile):
    target = lj.IsotropicGaussian.create(jnp.zeros(3))
    with pytest.raises(ValueError, match="score_fn"):
        lj.run(jax.random.key(0), lj.ula(target.score, 0.1), jnp.zeros((2, 5)), 10)
    with pytest.raises(ValueError, match=r"score_fn must return .* shape \(3,\)"):
        lj.run(jax.random.key(0), lj.ula(lambda x: x[:2], 0.1), jnp.zeros((2, 3)), 10)
    with pytest.raises(ValueError, match="logdensity_fn must return a scalar"):
        lj.run(jax.random.key(0), lj.mala(lambda x: x, 0.1), jnp.zeros((2, 3)), 10)


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf"), jnp.array([0.1, 0.2])])
def test_bad_step_size(bad):
    with pytest.raises(ValueError, match="step_size"):
        lj.ula(lambda x: -x, bad)
    with pytest.raises(ValueError, match="step_size"):
        lj.mala(lambda x: -jnp.sum(x**2), bad)


def test_bad_step_size_schedule(no_compile):
    alg = lj.ula(lambda x: -x, lambda k: jnp.where(k >= 10, 0.0, 0.1))
    with pytest.raises(ValueError, match="step_size must be finite and > 0 at every step; step 10"):
        lj.run(jax.random.key(0), alg, jnp.zeros((2, 2)), 20)


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, jax, jax.numpy as jnp, numpy as np, langevin_jax as lj
    from langevin_jax import annealing, diffusion
    from langevin_jax.diffusion.schedules import alphabar
    assert jax.device_count() == 4, jax.devices()
    D = 3
    mean = jnp.array([0.5, -1.0, 0.25])
    iso = lj.IsotropicGaussian.create(mean, 1.5)
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((D, D)))[0]
    full = lj.Gaussian.create(mean, jnp.asarray(q @ np.diag([0.5, 1.0, 2.0]) @ q.T, jnp.float32))
    sched = diffusion.linear_schedule(20, beta_max=0.4)

    def iso_eps(x, t):  # the exact denoiser of N(mean, 1.5 I): elementwise
        ab = alphabar(sched, t).astype(x.dtype)
        return jnp.sqrt(1.0 - ab) * (x - jnp.sqrt(ab) * mean) / (1.5 * ab + 1.0 - ab)

    def iso_denoiser(y, lam):  # E[X | sqrt(lam) X + sqrt(1 - lam) Z = y] for N(mean, 1.5 I)
        return mean + 1.5 * jnp.sqrt(lam) * (y - jnp.sqrt(lam) * mean) / (1.5 * lam + 1.0 - lam)

    full_eps = diffusion.gaussian_eps_fn(sched, full.mean, full.covariance)  # matrix products
    grid = annealing.uniform_time_grid(20)
    ncsn = dict(levels=[20, 8, 2], steps_per_level=6, epsilon=2e-2)
    x0 = jax.random.normal(jax.random.key(0), (16, D))
    tree0 = {"a": x0, "b": x0[:, 0]}
    # elementwise scores: bit for bit, every sampler
    EXACT = {
        "ula": (lj.ula(iso.score, 0.1), 20, x0),
        "ula_pytree": (lj.ula(lambda x: jax.tree_util.tree_map(lambda v: -v, x), 0.1), 20, tree0),
        "mala": (lj.mala(iso.log_prob, 0.3), 20, x0),
        "annealed": (lj.annealed_langevin(lambda x, t: -(x - t), lambda k: (0.1 * k, 0.05)), 20, x0),
        "dalmc": (annealing.dalmc(annealing.denoiser_path(iso_denoiser, "cosine", D), 0.5, grid), 20, x0),
        "ddpm": (diffusion.ddpm_sampler(iso_eps, sched), 20, x0),
        "ddim": (diffusion.ddim_sampler(iso_eps, sched, 10, eta=0.5), 10, x0),
        "pc_predictor": (diffusion.pc_sampler(iso_eps, sched, corrector_steps=0), 20, x0),
        "ncsn": (diffusion.ncsn_sampler(iso_eps, sched, **ncsn), 18, x0),
    }
    # matrix products in the score, sums over a chain's coordinates (the corrector's norms) and
    # means over the chains (PC's default step size): XLA's loops for them depend on the chains
    # per device, so the last float32 bits may differ
    CLOSE = {
        "ula_full_covariance": (lj.ula(full.score, 0.1), 20, x0),
        "ddpm_full_covariance": (diffusion.ddpm_sampler(full_eps, sched), 20, x0),
        "ddim_full_covariance": (diffusion.ddim_sampler(full_eps, sched, 10), 10, x0),
        "pc_chain_norms": (diffusion.pc_sampler(iso_eps, sched, snr_norms="chain"), 20, x0),
        "pc_batch_norms": (diffusion.pc_sampler(iso_eps, sched), 20, x0),
    }

    def ulps(a, b):  # max |a - b| in float32 ulps of each chain's largest |coordinate|
        a, b = np.asarray(a, np.float64), np.asarray(b)
        b = b.reshape(b.shape[0], -1)
        scale = np.spacing(np.max(np.abs(b), axis=-1, keepdims=True)).astype(np.float64)
        return float(np.max(np.abs(a.reshape(b.shape) - b) / scale))

    out = {}
    for name, (alg, n, init) in {**EXACT, **CLOSE}.items():
        a = lj.run(jax.random.key(1), alg, init, n, save_every=n // 2, shard=True)
        b = lj.run(jax.random.key(1), alg, init, n, save_every=n // 2, shard=False)
        la = jax.tree_util.tree_leaves(a.positions) + [t for leaf in jax.tree_util.tree_leaves(a.trajectory) for t in leaf]
        lb = jax.tree_util.tree_leaves(b.positions) + [t for leaf in jax.tree_util.tree_leaves(b.trajectory) for t in leaf]
        out[name] = dict(exact=name in EXACT,
                         num_shards=len(jax.tree_util.tree_leaves(a.positions)[0].sharding.device_set),
                         equal=all(np.array_equal(np.asarray(u), np.asarray(v)) for u, v in zip(la, lb)),
                         ulps=max(ulps(u, v) for u, v in zip(la, lb)))
    auto = lj.run(jax.random.key(1), lj.ula(iso.score, 0.1), x0, 30)
    out["auto_shards"] = len(auto.positions.sharding.device_set)
    # a sharded run continued from its state equals the whole sharded run
    half = lj.run(jax.random.key(1), lj.ula(iso.score, 0.1), x0, 15, shard=True)
    rest = lj.run(jax.random.key(1), lj.ula(iso.score, 0.1), num_steps=15, initial_state=half.state, shard=True)
    out["continued_equal"] = bool(np.array_equal(np.asarray(rest.positions), np.asarray(auto.positions)))
    print("RESULT" + json.dumps(out))
    """
)

#: the bound (float32 ulps of a chain's largest coordinate, anywhere in the trajectory) where a
#: sharded run is not promised bit for bit; measured on the runs above: 2 to 6
SHARDED_ULPS = 32


def test_sharded_equals_unsharded_on_four_cpu_devices():
    """Every sampler with an elementwise score gives the same bits on 4 devices as on 1 (the
    promise of docs/guarantees.md, "Determinism"; MALA's positions, unless a last-bit difference
    in its acceptance ratio flips a decision); a score with matrix products, PC's corrector and
    its default batch-averaged step size stay within a few float32 ulps."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][0]
    res = json.loads(line[len("RESULT"):])
    cases = {k: v for k, v in res.items() if isinstance(v, dict)}
    assert {k for k, v in cases.items() if v["exact"]} == {
        "ula", "ula_pytree", "mala", "annealed", "dalmc", "ddpm", "ddim", "pc_predictor", "ncsn"}
    assert len(cases) == 14
    for name, r in cases.items():
        assert r["num_shards"] == 4, (name, r)
        if r["exact"]:
            assert r["equal"], (name, r)
        else:
            assert r["ulps"] <= SHARDED_ULPS, (name, r)
    assert res["auto_shards"] == 4
    assert res["continued_equal"]


def test_progress_stream_is_resolved_at_call_time():
    from langevin_jax import _progress

    buf = io.StringIO()
    bar = _progress.ProgressBar(10, stream=buf)
    bar(np.array(0))
    bar(np.array([3, 10]))  # batched under vmap: the furthest batch
    assert "10/10 steps" in buf.getvalue()


# --------------------------------------------------------------------------------------
# issue 13, item 11 (bad-input audit, lower-impact defects)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1j, 0.1 + 0j, np.complex64(0.1), jnp.asarray(0.1 + 0.1j), True,
                                 np.bool_(True), "0.1", None])
def test_complex_bool_or_non_numeric_step_size_is_rejected(bad):
    # a complex step size ran with h = 0 (its real part cast away with a ComplexWarning)
    with pytest.raises((ValueError, TypeError), match="step_size"):
        lj.ula(lambda x: -x, bad)
    with pytest.raises((ValueError, TypeError), match="step_size"):
        lj.mala(lambda x: -jnp.sum(x**2), bad)


def test_complex_step_size_schedule_is_rejected(no_compile):
    alg = lj.ula(lambda x: -x, lambda k: 0.1 + 0j * k)
    with pytest.raises(ValueError, match="step_size schedule must return real"):
        lj.run(jax.random.key(0), alg, jnp.zeros((2, 2)), 5)


def test_complex_step_size_is_rejected_when_traced():
    # the dtype is known while tracing: a traced complex step size is refused as well
    def final(h):
        return lj.run(jax.random.key(0), lj.ula(lambda x: -x, h), jnp.zeros((2, 2)), 5).positions

    with pytest.raises(ValueError, match="step_size must be real"):
        jax.jit(final)(jnp.asarray(0.1 + 0j))
    assert jax.jit(final)(jnp.asarray(0.1)).shape == (2, 2)


@pytest.mark.parametrize("bad", [0, 1.5, jnp.zeros(3, jnp.uint32), jnp.zeros(2, jnp.float32), None])
def test_chain_keys_and_run_name_a_bad_key(no_compile, bad):
    with pytest.raises(ValueError, match="key must be a PRNG key"):
        lj.run(bad, _alg(), jnp.zeros((2, 3)), 10)
    with pytest.raises(ValueError, match="key must be a PRNG key"):
        lj.chain_keys(bad, 0, 4)


def test_nonfinite_chains_warn_eagerly_only():
    alg = lj.ula(lambda x: x**3, 0.5)
    x0 = jnp.concatenate([jnp.full((3, 1), 5.0), jnp.full((5, 1), 0.0)])
    with pytest.warns(lj.NonFiniteWarning, match=r"[3-8] of 8 chains .*info\.nonfinite"):
        out = lj.run(jax.random.key(0), alg, x0, 200)
    assert issubclass(lj.NonFiniteWarning, RuntimeWarning)
    assert int(out.info.num_nonfinite) >= 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", lj.NonFiniteWarning)
        # healthy chains: silent
        lj.run(jax.random.key(0), alg, jnp.zeros((8, 1)), 5)
        # traced (jit, vmap): the counts are arrays in the caller's program; no warning
        n = jax.jit(lambda k: lj.run(k, alg, x0, 200).info.num_nonfinite)(jax.random.key(0))
        assert int(n) >= 3
        nv = jax.vmap(lambda k: lj.run(k, alg, x0, 200).info.num_nonfinite)(
            jax.random.split(jax.random.key(0), 2))
        assert nv.shape == (2,) and np.all(np.asarray(nv) >= 3)


# --------------------------------------------------------------------------- what the chains share: the rules


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class _MarkedState:
    position: dict
    count: jax.Array


def _marked(x):
    """A sampler on ``{"a": [2], "b": []}`` positions (``a[1]`` names the chain) with a dataclass
    state and a dict info: at step 2 chain 1's ``a[0]`` goes NaN (and recovers at step 3), chain 2's
    ``b`` goes to +inf and chain 3's ``a[0]`` to -inf (both for good)."""
    del x

    def init(position):
        return _MarkedState(position, jnp.zeros((), jnp.int32))

    def step(key, state):
        x, c = state.position, state.count
        i = x["a"][1]
        a0 = jnp.where((c == 2) & (i == 1), jnp.nan, jnp.where((c == 3) & (i == 1), 0.0, x["a"][0]))
        a0 = jnp.where((c == 2) & (i == 3), -jnp.inf, a0)
        b = jnp.where((c == 2) & (i == 2), jnp.inf, x["b"])
        info = {"is_finite": jnp.isfinite(a0), "temperature": jnp.asarray(0.5), "chain": i,
                "positive": i > 0, "vector": x["a"], "step": c}
        return _MarkedState({"a": x["a"].at[0].set(a0), "b": b}, c + 1), info

    return lj.SamplingAlgorithm(init, step)


X_MARKED = {"a": jnp.stack([jnp.zeros(5), jnp.arange(5.0)], axis=1), "b": jnp.zeros(5)}


@pytest.mark.filterwarnings("ignore::langevin_jax.StuckChainWarning")  # _marked's chains 0 and 4 never move
def test_every_scalar_info_field_is_averaged_chain_constant_ones_too():
    with pytest.warns(lj.NonFiniteWarning):
        out = lj.run(jax.random.key(0), _marked(None), X_MARKED, 4)
    means = {k: np.asarray(v) for k, v in out.info.means.items()}
    # "vector" (not one number per chain) and "is_finite" (see info.nonfinite) are not averaged
    assert set(means) == {"temperature", "chain", "positive", "step"}
    np.testing.assert_array_equal(means["temperature"], np.full(5, 0.5))  # the same for every chain
    np.testing.assert_array_equal(means["step"], np.full(5, 1.5))  # (0 + 1 + 2 + 3) / 4, from the count
    np.testing.assert_array_equal(means["chain"], np.arange(5.0))
    np.testing.assert_array_equal(means["positive"], [0.0, 1, 1, 1, 1])
    assert all(v.shape == (5,) and v.dtype == np.float32 for v in means.values())
    assert out.info.acceptance_rate is None and out.info.summary()["means"]["temperature"] == 0.5


@pytest.mark.filterwarnings("ignore::langevin_jax.StuckChainWarning")  # _marked's chains 0 and 4 never move
def test_a_dataclass_states_count_is_the_shared_step_count():
    with pytest.warns(lj.NonFiniteWarning):
        out = lj.run(jax.random.key(0), _marked(None), X_MARKED, 4)
    np.testing.assert_array_equal(np.asarray(out.state.count), np.full(5, 4))
    # the loop over steps carries it as one scalar: no [5] int32 in the carry of the while
    # that carries the positions
    hlo = jax.jit(lambda x: lj.run(jax.random.key(0), _marked(None), x, 4)).lower(X_MARKED).as_text()
    (head,) = [h.split("\n")[0] for h in hlo.split("stablehlo.while(")[1:] if "tensor<5x2xf32>" in h.split("\n")[0]]
    assert "tensor<5xi32>" not in head


@pytest.mark.filterwarnings("ignore::langevin_jax.StuckChainWarning")  # _marked's chains 0 and 4 never move
def test_nonfinite_chains_are_found_in_every_leaf_nan_and_both_infinities():
    alg = _marked(None)
    with pytest.warns(lj.NonFiniteWarning, match="2 of 5 chains"):
        final = lj.run(jax.random.key(0), alg, X_MARKED, 4)
    np.testing.assert_array_equal(np.asarray(final.info.nonfinite), [False, False, True, True, False])
    assert int(final.info.num_nonfinite) == 2
    # chain 1 recovered: seen by the per-step test and in a saved position
    for kwargs in (dict(check_every_step=True), dict(save_every=1)):
        with pytest.warns(lj.NonFiniteWarning, match="3 of 5 chains"):
            out = lj.run(jax.random.key(0), alg, X_MARKED, 4, **kwargs)
        np.testing.assert_array_equal(np.asarray(out.info.nonfinite), [False, True, True, True, False])
    with pytest.warns(lj.NonFiniteWarning, match="2 of 5 chains"):  # saved before the NaN, and after
        out = lj.run(jax.random.key(0), alg, X_MARKED, 4, save_every=2)
    np.testing.assert_array_equal(np.asarray(out.info.nonfinite), [False, False, True, True, False])


def _counting(alg):
    """``alg`` whose ``init`` and ``step`` count how often they are called (each call while
    tracing is one trace)."""
    calls = {"init": 0, "step": 0}

    def init(x):
        calls["init"] += 1
        return alg.init(x)

    def step(key, state):
        calls["step"] += 1
        return alg.step(key, state)

    return lj.SamplingAlgorithm(init, step, getattr(alg, "check", None)), calls


@pytest.mark.parametrize("make", [
    lambda: lj.ula(lambda x: -x, 0.1),
    lambda: lj.mala(lambda x: -0.5 * jnp.sum(x**2), lambda k: 0.1 / (1.0 + k)),
    lambda: lj.annealed_langevin(lambda x, t: -(x - t), lambda k: (0.1 * k, 0.05)),
], ids=["ula", "mala", "annealed"])
def test_a_first_run_traces_init_and_step_once_and_a_second_not_at_all(make):
    alg, calls = _counting(make())
    x0 = jnp.zeros((6, 3))
    first = lj.run(jax.random.key(0), alg, x0, 10)
    assert calls == {"init": 1, "step": 1}
    lj.run(jax.random.key(1), alg, x0 + 1.0, 10)  # new key and positions: nothing traced
    assert calls == {"init": 1, "step": 1}
    lj.run(jax.random.key(0), alg, num_steps=5, initial_state=first.state)  # init: the state's check
    assert calls == {"init": 2, "step": 2}
    jax.jit(lambda x: lj.run(jax.random.key(0), alg, x, 7).positions)(x0)  # inside a user's jit
    assert calls == {"init": 3, "step": 3}


def test_a_first_run_compiles_one_program():
    alg = lj.ula(lambda x: -2.0 * x, 0.1)
    x0 = jnp.zeros((7, 5))  # a shape no other test runs: nothing cached
    with count_compilations() as compiled:
        lj.run(jax.random.key(0), alg, x0, 12)
    assert compiled[0] == 1  # the run; its eager checks compile nothing
    with count_compilations() as compiled:
        lj.run(jax.random.key(0), alg, np.ones((7, 5), np.float32), 12)  # NumPy positions
    assert compiled[0] == 0


@pytest.mark.parametrize("key", [jax.random.key(3), jax.random.PRNGKey(3)], ids=["typed", "raw"])
def test_the_step_keys_are_fold_in_whichever_way_they_are_drawn(key):
    """The per-step keys are fold_in(key, k) (chain_keys): drawn as split(key, n) where that is
    the same bit for bit (partitionable threefry, JAX's default), by vmap(fold_in) elsewhere."""
    def data(k):
        return np.asarray(jax.random.key_data(k) if jax.dtypes.issubdtype(k.dtype, jax.dtypes.prng_key) else k)

    want = data(jax.vmap(lambda k: jax.random.fold_in(key, k))(jnp.arange(40)))
    np.testing.assert_array_equal(data(run_mod._step_keys(key, 40, None)), want)
    np.testing.assert_array_equal(data(run_mod._step_keys(key, 30, jnp.int32(10))), want[10:])
    with jax.threefry_partitionable(False):
        want = data(jax.vmap(lambda k: jax.random.fold_in(key, k))(jnp.arange(40)))
        np.testing.assert_array_equal(data(run_mod._step_keys(key, 40, None)), want)


def test_the_device_side_eager_check_matches_numpys():
    """Off the CPU, the first chain and the NaN/inf test of the initial positions come from one
    small compiled program run where the positions live (on the CPU, NumPy reads them)."""
    pos = {"a": jnp.arange(12.0).reshape(4, 3), "b": jnp.ones((4,))}
    first, finite = run_mod._first_and_finite(pos)
    np.testing.assert_array_equal(np.asarray(first["a"]), [0.0, 1.0, 2.0])
    assert float(first["b"]) == 1.0 and bool(finite)
    for bad in (jnp.nan, jnp.inf, -jnp.inf):
        assert not bool(run_mod._first_and_finite({**pos, "b": pos["b"].at[3].set(bad)})[1])


# --------------------------------------------------------------------------- stuck chains (issue 26, part 3)


def _quartic(x):
    return -0.25 * jnp.sum(x**4)


#: 64 chains of MALA on exp(-|x|^4 / 4); chains 0, 1, 2 start at 10, where the score (-1000) makes
#: every proposal overshoot to about -90, far out in the tails: each is rejected
X_FAR = jnp.concatenate([jnp.full((3, 2), 10.0), jnp.zeros((61, 2))])


def test_mala_chains_that_never_accept_warn_with_their_count():
    with pytest.warns(lj.StuckChainWarning) as caught:
        out = lj.run(jax.random.key(0), lj.mala(_quartic, 0.1), X_FAR, 200)
    (message,) = [str(w.message) for w in caught if w.category is lj.StuckChainWarning]
    assert message.startswith("3 of 64 chains never accepted a proposal in 200 steps (acceptance 0")
    assert "3 of 64 chains never moved in 200 steps" in message
    assert issubclass(lj.StuckChainWarning, RuntimeWarning)
    want = np.arange(64) < 3
    np.testing.assert_array_equal(np.asarray(out.info.never_accepted), want)
    np.testing.assert_array_equal(np.asarray(out.info.stuck), want)
    np.testing.assert_array_equal(np.asarray(out.positions[:3]), np.asarray(X_FAR[:3]))  # where they started
    assert out.info.summary()["num_never_accepted"] == 3 and out.info.summary()["num_stuck"] == 3
    assert out.info.num_stuck.dtype == jnp.int32 and out.info.num_never_accepted.dtype == jnp.int32
    # the same as info.means says: a mean acceptance of exactly 0
    np.testing.assert_array_equal(np.asarray(out.info.means["is_accepted"]) == 0, want)
    # continued: the chains are still stuck where this run started them
    with pytest.warns(lj.StuckChainWarning, match="3 of 64 chains never accepted a proposal in 50 steps"):
        rest = lj.run(jax.random.key(0), lj.mala(_quartic, 0.1), num_steps=50, initial_state=out.state)
    np.testing.assert_array_equal(np.asarray(rest.info.stuck), want)


def test_healthy_runs_do_not_warn_and_ula_chains_always_move():
    logp = lambda x: -0.5 * jnp.sum(x**2)  # noqa: E731
    x0 = jax.random.normal(jax.random.key(1), (256, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", lj.StuckChainWarning)
        out = lj.run(jax.random.key(0), lj.mala(logp, 0.5), x0, 200)
        assert int(out.info.num_never_accepted) == 0 and int(out.info.num_stuck) == 0
        # 3 steps at acceptance 0.6: about 256 * 0.4^3 = 16 chains miss every proposal by chance,
        # as many as the run finds: counted, not reported
        short = lj.run(jax.random.key(0), lj.mala(logp, 1.0), x0, 3)
        assert 0 < int(short.info.num_never_accepted) == int(short.info.num_stuck) < 64
        # ULA's chains move at every step: never stuck, and there is no acceptance to count
        for alg in (lj.ula(lambda x: -x, 0.1), lj.ula(lambda x: -x, 1e-6),
                    lj.annealed_langevin(lambda x, t: -(x - t), lambda k: (0.1 * k, 0.05))):
            for n in (1, 50):
                ula = lj.run(jax.random.key(0), alg, x0[:64], n, save_every=1)
                assert int(ula.info.num_stuck) == 0 and not np.any(np.asarray(ula.info.stuck))
                assert ula.info.num_never_accepted is None and ula.info.never_accepted is None
                assert ula.info.summary()["num_never_accepted"] is None


def test_stuck_counts_are_right_when_traced_and_not_warned():
    def info(key, h):
        return lj.run(key, lj.mala(_quartic, h), X_FAR, 200).info

    with warnings.catch_warnings():
        warnings.simplefilter("error", lj.StuckChainWarning)
        traced = jax.jit(info)(jax.random.key(0), 0.1)
        assert int(traced.num_never_accepted) == 3 and int(traced.num_stuck) == 3
        np.testing.assert_array_equal(np.asarray(traced.stuck), np.arange(64) < 3)
        # a negative step size, traced: every proposal is NaN, so every chain stays where it started
        negative = jax.jit(info)(jax.random.key(0), -0.1)
        assert int(negative.num_never_accepted) == 64 and int(negative.num_stuck) == 64
        assert float(negative.acceptance_rate) == 0.0
        batched = jax.vmap(info, in_axes=(0, None))(jax.random.split(jax.random.key(0), 2), 0.1)
        np.testing.assert_array_equal(np.asarray(batched.num_never_accepted), [3, 3])
        np.testing.assert_array_equal(np.asarray(batched.num_stuck), [3, 3])


@pytest.mark.filterwarnings("ignore::langevin_jax.NonFiniteWarning")  # _marked's chains 2 and 3
def test_chains_that_never_moved_are_reported_for_any_sampler():
    """``_marked``'s chains 0 and 4 never change, chain 1 returns to its start at step 3: without
    an acceptance to count, the three are found by their final positions."""
    with pytest.warns(lj.StuckChainWarning, match=r"^3 of 5 chains never moved in 4 steps"):
        out = lj.run(jax.random.key(0), _marked(None), X_MARKED, 4)
    np.testing.assert_array_equal(np.asarray(out.info.stuck), [True, True, False, False, True])
    assert int(out.info.num_stuck) == 3 and out.info.num_never_accepted is None

    # the comparison is of the bits: -0.0 is a move away from 0.0
    def init(position):
        return _MarkedState(position, jnp.zeros((), jnp.int32))

    def step(key, state):
        return _MarkedState({"a": -state.position["a"], "b": state.position["b"]}, state.count + 1), {}

    zero = {"a": jnp.zeros((2, 2)), "b": jnp.ones(2)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", lj.StuckChainWarning)
        flipped = lj.run(jax.random.key(0), lj.SamplingAlgorithm(init, step), zero, 1)
    assert int(flipped.info.num_stuck) == 0


# --------------------------------------------------------------------------- meshes (issue 26, part 4)


def test_a_mesh_argument_shards_the_chains_and_is_checked():
    """``mesh=`` (here one device: the multi-process runs are tests/test_multiprocess.py) gives
    the numbers of an unsharded run; a mesh without a "chains" axis, a mesh with shard=False and
    positions_are_local inside a jit are refused by name."""
    from jax.sharding import Mesh

    x0 = jax.random.normal(jax.random.key(0), (8, 3))
    mesh = Mesh(np.asarray(jax.devices()), ("chains",))
    a = lj.run(jax.random.key(1), _alg(), x0, 20, save_every=5, mesh=mesh)
    b = lj.run(jax.random.key(1), _alg(), x0, 20, save_every=5, shard=False)
    assert a.positions.sharding.mesh == mesh
    np.testing.assert_array_equal(np.asarray(a.positions), np.asarray(b.positions))
    np.testing.assert_array_equal(np.asarray(a.trajectory), np.asarray(b.trajectory))
    # in one process, "local" positions are the whole run
    c = lj.run(jax.random.key(1), _alg(), x0, 20, save_every=5, mesh=mesh, positions_are_local=True)
    np.testing.assert_array_equal(np.asarray(c.positions), np.asarray(b.positions))
    with pytest.raises(ValueError, match="axis named 'chains'"):
        lj.run(jax.random.key(1), _alg(), x0, 20, mesh=Mesh(np.asarray(jax.devices()), ("x",)))
    with pytest.raises(ValueError, match="shard=False and a mesh"):
        lj.run(jax.random.key(1), _alg(), x0, 20, mesh=mesh, shard=False)
    with pytest.raises(ValueError, match="positions_are_local=True"):
        jax.jit(lambda x: lj.run(jax.random.key(1), _alg(), x, 20, positions_are_local=True).positions)(x0)
