"""The MALA warm-up (``langevin_jax.adaptation``): dual averaging equal to BlackJAX's, the
adapted step size reaching the target acceptance on a Gaussian and on a logistic-regression
posterior, the diagonal preconditioner, jit/vmap, and the named errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import adaptation
from tests._bad_inputs import assert_named
from tests.conftest import count_compilations

blackjax = pytest.importorskip("blackjax")

TARGET = 0.574
D = 20
SCALES = jnp.exp(jnp.linspace(jnp.log(0.5), jnp.log(2.0), D))  # N(0, diag(s^2)), condition number 16


def gaussian_logp(x):
    return -0.5 * jnp.sum((x / SCALES) ** 2)


def _as_arrays(state):
    """BlackJAX's initial state holds Python numbers (``step = 1``, ``avg_error = 0.0``); inside its
    own warm-up (a ``lax.scan``) they are int32 and float32 arrays. The same here."""
    return type(state)(*(jnp.asarray(x, jnp.int32 if isinstance(x, int) else jnp.float32) for x in state))


def _scan(update, state, xs):
    return jax.lax.scan(lambda c, x: (update(c, x), update(c, x)), state, xs)[1]


def test_dual_averaging_equals_blackjax_step_for_step():
    """The iterates of ``blackjax.adaptation.step_size.dual_averaging_adaptation`` (itself
    ``blackjax.optimizers.dual_averaging`` on $H_t = \\delta - \\alpha_t$) on a fixed sequence of
    300 acceptance probabilities: bit for bit, eagerly and in a compiled ``lax.scan``, from the
    array state BlackJAX's warm-up carries; to float32 rounding from its eager Python-number
    state (whose first coefficients, ``step ** -kappa`` and ``1 / (step + t0)``, it then computes
    in float64)."""
    acceptance = jnp.asarray(np.random.default_rng(0).uniform(size=300), jnp.float32)
    bj_init, bj_update, bj_final = blackjax.adaptation.step_size.dual_averaging_adaptation(TARGET)
    init, update, final = adaptation.dual_averaging()
    h0 = jnp.float32(0.1)
    assert all(np.asarray(a) == np.asarray(b) for a, b in zip(init(h0), _as_arrays(bj_init(h0))))

    ours = jax.jit(lambda s: _scan(update, s, TARGET - acceptance))(init(h0))
    theirs = jax.jit(lambda s: _scan(bj_update, s, acceptance))(_as_arrays(bj_init(h0)))
    opt_init, opt_update, _ = blackjax.optimizers.dual_averaging.dual_averaging(10, 0.05, 0.75)
    generic = jax.jit(lambda s: _scan(opt_update, s, TARGET - acceptance))(_as_arrays(opt_init(h0)))
    for name, a, b, c in zip(adaptation.DualAveragingState._fields, ours, theirs, generic):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"scan: {name}")
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c), err_msg=f"scan, optimizer: {name}")
    np.testing.assert_array_equal(np.asarray(jax.vmap(final)(ours)), np.asarray(jax.vmap(bj_final)(theirs)))

    eager_ours, eager_arrays, eager_python = init(h0), _as_arrays(bj_init(h0)), bj_init(h0)
    for t, a in enumerate(acceptance):
        eager_ours = update(eager_ours, TARGET - a)
        eager_arrays, eager_python = bj_update(eager_arrays, a), bj_update(eager_python, a)
        for name, x, y, z in zip(adaptation.DualAveragingState._fields, eager_ours, eager_arrays, eager_python):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f"eager step {t}: {name}")
            # the logs of step sizes (about -8 here) to 1e-5: float32 rounding over 300 updates
            np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(z, np.float64), rtol=0, atol=1e-5,
                                       err_msg=f"eager step {t}, Python state: {name}")
        # eager and compiled differ by XLA's fusion only (a few float32 roundings)
        np.testing.assert_allclose(float(eager_ours.log_step_size), float(ours.log_step_size[t]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(float(final(eager_ours)), float(bj_final(eager_python)), rtol=1e-5)


@pytest.mark.parametrize("num_steps", [1, 19, 20, 100, 149, 150, 151, 500, 1000, 1234])
def test_window_schedule_equals_blackjax(num_steps):
    from blackjax.adaptation.window_adaptation import build_schedule

    np.testing.assert_array_equal(adaptation.build_schedule(num_steps), np.asarray(build_schedule(num_steps)))


def test_pooled_welford_equals_the_variance_of_all_draws():
    draws = jax.random.normal(jax.random.key(0), (30, 8, 3)) * jnp.array([0.1, 1.0, 10.0]) + 5.0
    stats = (jnp.zeros(()), jnp.zeros(3), jnp.zeros(3))
    for batch in draws:
        stats = adaptation._welford_merge(stats, batch)
    flat = np.asarray(draws, np.float64).reshape(-1, 3)
    assert float(stats[0]) == 240
    np.testing.assert_allclose(np.asarray(stats[1]), flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(stats[2]) / 239, flat.var(0, ddof=1), rtol=1e-4)


# --------------------------------------------------------------------------- (2) a Gaussian target


def test_adapted_step_size_reaches_the_target_acceptance_on_a_gaussian():
    """d = 20, $N(0, \\operatorname{diag}(s^2))$ with $s$ from 0.5 to 2, 16 chains started off the
    typical set; 8 independent warm-ups (``jax.vmap`` over keys), each followed by a fresh run at
    the adapted step size.

    The Monte Carlo error of a replicate's acceptance has two parts: the sampling run's (the SE
    across chains of the per-chain means, about 0.003) and the dual averaging's (its final step
    size is a noisy average of noisy iterates; the acceptance it gives varied with sd 0.007
    over 32 replicates). The spread across replicates holds both, so the pooled acceptance is
    compared with 4 of its standard errors plus the bias of the final step: the iterates
    settle where the mean error $\\bar H_t$ is $\\gamma (\\mu - x^\\star) / (2 \\sqrt{t})$, not 0,
    which is $0.05 \\log 20 / (2 \\sqrt{500}) \\approx 0.003$ here ($h_0 = 0.5$ from the search,
    $\\mu = \\log 5$, $h^\\star \\approx 0.25$; measured over 32 replicates: $-0.0017 \\pm 0.0013$);
    0.005 is allowed."""
    x0 = jnp.full((16, D), 3.0)

    def one(key):
        k_warm, k_run = jax.random.split(key)
        warm = adaptation.mala_warmup(k_warm, gaussian_logp, x0, 500)
        out = lj.run(k_run, lj.mala(gaussian_logp, warm.step_size), warm.positions, 1000)
        return warm.step_size, out.info.means["acceptance_rate"]

    step_sizes, per_chain = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 8))
    per_chain = np.asarray(per_chain, np.float64)  # [replicates, chains]
    per_replicate = per_chain.mean(1)
    se_chains = per_chain.std(1, ddof=1) / np.sqrt(per_chain.shape[1])
    se_pooled = per_replicate.std(ddof=1) / np.sqrt(len(per_replicate))
    assert abs(per_replicate.mean() - TARGET) <= 4 * se_pooled + 0.005, (per_replicate, se_pooled)
    # every replicate: 4 SE of its own run, 4 sd of the dual averaging's error (0.01 > 0.007), the bias
    tolerance = 4 * np.sqrt(se_chains**2 + 0.01**2) + 0.005
    assert np.all(np.abs(per_replicate - TARGET) <= tolerance), (per_replicate, tolerance)
    # the step sizes agree between replicates (one compiled program gave them all)
    assert np.ptp(np.log(np.asarray(step_sizes))) < 0.15, step_sizes


# --------------------------------------------------------------------------- (3) logistic regression


def _breast_cancer_logp():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    features, labels = sklearn_datasets.load_breast_cancer(return_X_y=True)
    features = (features - features.mean(0)) / features.std(0)
    design = jnp.asarray(np.hstack([np.ones((len(features), 1)), features]), jnp.float32)  # [569, 31]
    labels = jnp.asarray(labels, jnp.float32)

    def logp(beta):  # N(0, 10^2 I) prior, Bernoulli-logit likelihood
        z = design @ beta
        return jnp.sum(labels * z - jnp.logaddexp(0.0, z)) - 0.5 * jnp.sum(beta**2) / 100.0

    return logp


def test_warmup_tunes_mala_on_a_logistic_regression_posterior():
    """Issue 26's case: 569 points, 30 standardised features and an intercept, 16 chains from
    0, 1000 warm-up steps, then 500 steps of MALA at the adapted step size.

    The tolerance: 4 SE across chains of the per-chain acceptance means (about 0.01: the
    chains' acceptance differs with where they are on this posterior) plus 0.04 for the dual
    averaging's final step, which on this target gives a sampling acceptance above the target
    while the warm-up's own acceptance sits at it (0.576 over its last 200 steps). Over 16
    replicates the offset is +0.032 (sd 0.009) after 1000 warm-up steps, +0.049 after 500 and
    +0.017 after 2000: from 0 the chains are still spreading into the posterior's wide
    directions at the end of the warm-up, the step size that gives the target is still rising
    (adapting 1000 steps more raises $\\log h$ by a further 0.1), and the averaged step size
    lags behind the last iterates. With ``adapt_mass_matrix=True`` the offset after 1000 steps
    is +0.010 (sd 0.022). The Gaussian test, whose chains settle within a few dozen steps, shows none."""
    logp = _breast_cancer_logp()
    x0 = jnp.zeros((16, 31))
    warm = adaptation.mala_warmup(jax.random.key(0), logp, x0, 1000)
    out = lj.run(jax.random.key(1), lj.mala(logp, warm.step_size), warm.positions, 500)
    per_chain = np.asarray(out.info.means["acceptance_rate"], np.float64)
    se = per_chain.std(ddof=1) / np.sqrt(len(per_chain))
    assert abs(per_chain.mean() - TARGET) <= 4 * se + 0.04, (per_chain.mean(), se, float(warm.step_size))
    # the warm-up itself ends at the target (its last 200 steps, averaged over the chains)
    assert abs(float(np.mean(warm.info.acceptance_rate[-200:])) - TARGET) < 0.02
    assert int(out.info.num_nonfinite) == 0


# --------------------------------------------------------------------------- (4) jit and vmap


STATIC = ("logdensity_fn", "num_steps", "adapt_mass_matrix", "score_fn")


def test_warmup_jits_and_compiles_once_for_two_keys():
    x0 = jnp.zeros((4, D))
    eager = adaptation.mala_warmup(jax.random.key(1), gaussian_logp, x0, 50)
    x1, key = x0 + 0.5, jax.random.key(2)
    with count_compilations() as n:
        again = adaptation.mala_warmup(key, gaussian_logp, x1, 50, target_acceptance=0.6)
        jax.block_until_ready(again)
    assert n[0] == 0, f"{n[0]} compilations for a new key, new positions and a new target"
    assert not np.array_equal(np.asarray(again.positions), np.asarray(eager.positions))

    jitted = jax.jit(adaptation.mala_warmup, static_argnames=STATIC)
    first = jitted(jax.random.key(1), gaussian_logp, x0, 50)
    with count_compilations() as n:
        second = jitted(jax.random.key(3), gaussian_logp, x0, 50)
        jax.block_until_ready(second)
    assert n[0] == 0
    np.testing.assert_allclose(np.asarray(first.positions), np.asarray(eager.positions), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(first.step_size), float(eager.step_size), rtol=1e-5)


def test_warmup_vmaps_over_keys_and_positions():
    keys = jax.random.split(jax.random.key(4), 2)
    x0 = jnp.stack([jnp.zeros((4, D)), jnp.ones((4, D))])
    batched = jax.vmap(lambda k, x: adaptation.mala_warmup(k, gaussian_logp, x, 40, adapt_mass_matrix=True))(keys, x0)
    assert batched.positions.shape == (2, 4, D) and batched.step_size.shape == (2,)
    assert batched.inverse_mass_matrix.shape == (2, D)
    for i in range(2):
        one = adaptation.mala_warmup(keys[i], gaussian_logp, x0[i], 40, adapt_mass_matrix=True)
        np.testing.assert_allclose(np.asarray(batched.positions[i]), np.asarray(one.positions), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(float(batched.step_size[i]), float(one.step_size), rtol=1e-4)


def test_a_pytree_target_and_pytree_positions():
    """A bound method of a pytree target (its arrays are traced inputs: a new target re-uses
    the program) and dict positions (the preconditioner is then a dict too)."""
    target = lj.Gaussian.from_spectrum(jnp.zeros(3), jnp.array([0.5, 1.0, 2.0]))
    x0 = jnp.zeros((4, 3))
    adaptation.mala_warmup(jax.random.key(0), target.log_prob, x0, 30)
    other = lj.Gaussian.from_spectrum(jnp.ones(3), jnp.array([1.0, 1.0, 3.0]))
    with count_compilations() as n:
        jax.block_until_ready(adaptation.mala_warmup(jax.random.key(0), other.log_prob, x0, 30))
    assert n[0] == 0
    logp = lambda p: -0.5 * jnp.sum(p["a"] ** 2) - 2.0 * jnp.sum(p["b"] ** 2)  # noqa: E731
    warm = adaptation.mala_warmup(jax.random.key(0), logp, {"a": jnp.zeros((8, 2)), "b": jnp.zeros((8, 3, 2))},
                                  200, adapt_mass_matrix=True)
    assert warm.positions["b"].shape == (8, 3, 2) and warm.inverse_mass_matrix["b"].shape == (3, 2)
    out = lj.run(jax.random.key(1), lj.mala(logp, warm.step_size, inverse_mass_matrix=warm.inverse_mass_matrix),
                 warm.positions, 20)
    assert int(out.info.num_nonfinite) == 0


def test_a_given_initial_step_size_and_a_warmup_too_short_for_windows():
    """A given $h_0$ starts the dual averaging (no search); under 20 steps there is no slow
    window, and the preconditioner stays 1."""
    warm = adaptation.mala_warmup(jax.random.key(0), _LOGP, jnp.zeros((4, 3)), 10, initial_step_size=0.1,
                                  adapt_mass_matrix=True)
    assert float(warm.info.initial_step_size) == pytest.approx(0.1)
    assert float(warm.info.step_size[0]) == pytest.approx(0.1)
    np.testing.assert_array_equal(np.asarray(warm.inverse_mass_matrix), np.ones(3))


# --------------------------------------------------------------------------- (5) bad inputs

_X0 = jnp.zeros((4, 3))
_K = jax.random.key(0)
_LOGP = lambda x: -0.5 * jnp.sum(x**2)  # noqa: E731


def _warm(**kw):
    args = dict(key=_K, logdensity_fn=_LOGP, initial_positions=_X0, num_steps=10)
    args.update(kw)
    return lambda: adaptation.mala_warmup(**args)


BAD = [
    ("num_steps 0", _warm(num_steps=0), "num_steps"),
    ("num_steps float", _warm(num_steps=10.0), "num_steps"),
    ("num_steps bool", _warm(num_steps=True), "num_steps"),
    ("target 0", _warm(target_acceptance=0.0), "target_acceptance"),
    ("target 1", _warm(target_acceptance=1.0), "target_acceptance"),
    ("target nan", _warm(target_acceptance=float("nan")), "target_acceptance"),
    ("target vector", _warm(target_acceptance=jnp.array([0.5, 0.6])), "target_acceptance"),
    ("target complex", _warm(target_acceptance=0.5j), "target_acceptance"),
    ("h0 zero", _warm(initial_step_size=0.0), "initial_step_size"),
    ("h0 negative", _warm(initial_step_size=-0.1), "initial_step_size"),
    ("h0 inf", _warm(initial_step_size=float("inf")), "initial_step_size"),
    ("h0 callable", _warm(initial_step_size=lambda k: 0.1), "initial_step_size"),
    ("key", _warm(key=0), "key"),
    ("logdensity", _warm(logdensity_fn=None), "logdensity_fn"),
    ("logdensity vector", _warm(logdensity_fn=lambda x: -x), "logdensity_fn"),
    ("score shape", _warm(score_fn=lambda x: x[:2]), "score_fn"),
    ("score not callable", _warm(score_fn=1.0), "score_fn"),
    ("positions no chain axis", _warm(initial_positions=jnp.float32(0.0)), "initial_positions"),
    ("positions chain counts", _warm(initial_positions={"a": jnp.zeros((4, 2)), "b": jnp.zeros((3, 2))}),
     "initial_positions"),
    ("positions nan", _warm(initial_positions=_X0.at[1, 1].set(jnp.nan)), "initial_positions"),
    ("positions int", _warm(initial_positions=jnp.zeros((4, 3), jnp.int32)), "initial_positions"),
    ("positions complex", _warm(initial_positions=jnp.zeros((4, 3), jnp.complex64)), "initial_positions"),
    ("positions bfloat16", _warm(initial_positions=jnp.zeros((4, 3), jnp.bfloat16)), "initial_positions"),
    ("mass flag", _warm(adapt_mass_matrix="yes"), "adapt_mass_matrix"),
    ("mala imm negative", lambda: lj.mala(_LOGP, 0.1, inverse_mass_matrix=-jnp.ones(3)), "inverse_mass_matrix"),
    ("mala imm nan", lambda: lj.mala(_LOGP, 0.1, inverse_mass_matrix=jnp.array([1.0, jnp.nan, 1.0])),
     "inverse_mass_matrix"),
    ("mala imm shape", lambda: lj.run(_K, lj.mala(_LOGP, 0.1, inverse_mass_matrix=jnp.ones(2)), _X0, 3),
     "inverse_mass_matrix"),
    ("dual averaging kappa", lambda: adaptation.dual_averaging(kappa=0.0), "kappa"),
]


@pytest.mark.parametrize("thunk, argument", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs_are_named(thunk, argument):
    assert_named(thunk, argument)


def test_bad_inputs_raise_before_compiling():
    with count_compilations() as n:
        for _, thunk, _ in BAD[:12]:
            with pytest.raises(ValueError):
                thunk()
    assert n[0] == 0


# --------------------------------------------------------------------------- (6) the warm-up draws are not samples


def test_only_the_last_warmup_positions_are_returned():
    """From far out in the tails (10 s), the warm-up's last positions are in the typical set, and
    nothing else of the warm-up's draws comes back: every array of the result is a position of
    each chain, one number, or a trace of one number per step."""
    num_chains, num_steps = 32, 300
    x0 = jnp.tile(10.0 * SCALES, (num_chains, 1))
    warm = adaptation.mala_warmup(jax.random.key(0), gaussian_logp, x0, num_steps)
    shapes = sorted(x.shape for x in jax.tree_util.tree_leaves(warm))
    assert shapes == sorted([(num_chains, D), (), (num_steps,), (num_steps,), ()]), shapes
    assert warm.inverse_mass_matrix is None
    # chi^2_d of the standardised last positions: mean d, sd sqrt(2 d / num_chains) over the chains
    chi2 = np.sum((np.asarray(warm.positions) / np.asarray(SCALES)) ** 2, 1)
    assert abs(chi2.mean() - D) <= 5 * np.sqrt(2 * D / num_chains), chi2.mean()
    # sampling starts there: its trajectory holds the sampling steps only
    out = lj.run(jax.random.key(1), lj.mala(gaussian_logp, warm.step_size), warm.positions, 50, save_every=1)
    assert out.trajectory.shape == (50, num_chains, D)
    init, step = lj.mala(gaussian_logp, warm.step_size)
    state, _ = step(lj.chain_keys(jax.random.key(1), 0, num_chains)[0], init(warm.positions[0]))
    np.testing.assert_allclose(np.asarray(out.trajectory[0, 0]), np.asarray(state.position), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- (7) the diagonal preconditioner


WIDE = jnp.exp(jnp.linspace(jnp.log(0.1), jnp.log(3.0), D))  # s from 0.1 to 3: condition number 900


def test_adapted_inverse_mass_matrix_is_the_target_variance():
    """On $N(0, \\operatorname{diag}(s^2))$ with $s$ from 0.1 to 3, the adapted diagonal is the last
    slow window's pooled variance (steps 250 to 449 of 500, x 16 chains), shrunk as Stan
    does by $5 / (n + 5)$ with $n = 3200$ (a bias of 0.16%). Its Monte Carlo error, measured
    by the spread of 16 independent warm-ups (``jax.vmap`` over keys), covers the correlation
    of the chains' draws (about 4.5% per warm-up and coordinate, as from 1000 independent
    draws); each coordinate of the mean over replicates is within 4 of its standard errors
    (plus that bias) of $s^2$, and so is the mean over coordinates (32 replicates gave
    $1.0009 \\pm 0.002$)."""
    logp = lambda x: -0.5 * jnp.sum((x / WIDE) ** 2)  # noqa: E731
    x0 = jnp.zeros((16, D))

    def one(key):
        k_warm, k_run = jax.random.split(key)
        warm = adaptation.mala_warmup(k_warm, logp, x0, 500, adapt_mass_matrix=True)
        out = lj.run(k_run, lj.mala(logp, warm.step_size, inverse_mass_matrix=warm.inverse_mass_matrix),
                     warm.positions, 500)
        return warm.inverse_mass_matrix, out.info.acceptance_rate, warm.step_size

    imm, acceptance, step_sizes = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), 16))
    ratio = np.asarray(imm, np.float64) / np.asarray(WIDE, np.float64) ** 2  # [replicates, d]
    se = ratio.std(0, ddof=1) / np.sqrt(ratio.shape[0])
    assert np.all(np.abs(ratio.mean(0) - 1.0) <= 4 * se + 2e-3), (ratio.mean(0), se)
    overall = ratio.mean(1)
    assert abs(overall.mean() - 1.0) <= 4 * overall.std(ddof=1) / np.sqrt(len(overall)) + 2e-3, overall
    assert np.all(np.abs(ratio - 1.0) < 0.3), ratio  # each warm-up's diagonal is usable on its own
    # preconditioned, one step size suits every scale: about 1 here, vs s_min^2-sized steps without
    assert np.all(np.asarray(step_sizes) > 0.3), step_sizes
    assert np.all(np.abs(np.asarray(acceptance) - TARGET) < 0.1), acceptance


def test_default_mala_is_unchanged_and_equals_blackjax():
    """Without a preconditioner MALA is the kernel it was: step for step BlackJAX's ``mala``
    (positions bit for bit; the acceptance probability to float32 rounding, computed in
    another order), and a preconditioner of ones gives the default positions bit for bit."""
    logp = lambda x: -0.5 * jnp.sum((x / jnp.array([0.5, 1.0, 2.0])) ** 2)  # noqa: E731
    keys = jax.random.split(jax.random.key(0), 200)

    def chain(alg):
        def one(state, k):
            state, info = alg.step(k, state)
            return state, (state.position, info.acceptance_rate)

        return jax.jit(lambda x: jax.lax.scan(one, alg.init(x), keys)[1])(jnp.ones(3))

    (x_ours, a_ours), (x_theirs, a_theirs) = chain(lj.mala(logp, 0.4)), chain(blackjax.mala(logp, 0.4))
    np.testing.assert_array_equal(np.asarray(x_ours), np.asarray(x_theirs))
    np.testing.assert_allclose(np.asarray(a_ours), np.asarray(a_theirs), rtol=1e-5, atol=1e-7)
    x0 = jax.random.normal(jax.random.key(1), (16, 3))
    plain = lj.run(jax.random.key(2), lj.mala(logp, 0.4), x0, 100, save_every=10)
    ones = lj.run(jax.random.key(2), lj.mala(logp, 0.4, inverse_mass_matrix=jnp.ones(3)), x0, 100, save_every=10)
    np.testing.assert_array_equal(np.asarray(plain.trajectory), np.asarray(ones.trajectory))
    np.testing.assert_allclose(np.asarray(plain.info.means["acceptance_rate"]),
                               np.asarray(ones.info.means["acceptance_rate"]), rtol=1e-6)


def test_preconditioned_mala_samples_the_target():
    """$M^{-1} = \\operatorname{diag}(s^2)$ on $N(0, \\operatorname{diag}(s^2))$: the variances
    within 5 SE of $s^2$ from exact starts (stationary), at a step size the plain kernel
    would reject almost always on the narrowest coordinate."""
    s2 = jnp.array([0.01, 1.0, 100.0])
    logp = lambda x: -0.5 * jnp.sum(x**2 / s2)  # noqa: E731
    n = 4000
    x0 = jax.random.normal(jax.random.key(0), (n, 3)) * jnp.sqrt(s2)
    out = lj.run(jax.random.key(1), lj.mala(logp, 0.8, inverse_mass_matrix=s2), x0, 200)
    var = np.asarray(out.positions, np.float64).var(0, ddof=1) / np.asarray(s2)
    assert np.all(np.abs(var - 1.0) <= 5 * np.sqrt(2.0 / n)), var
    assert 0.5 < float(out.info.acceptance_rate) < 0.9
    plain = lj.run(jax.random.key(1), lj.mala(logp, 0.8), x0, 20)
    assert float(plain.info.acceptance_rate) < 0.01
