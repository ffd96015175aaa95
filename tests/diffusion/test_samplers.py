"""The score-based samplers with the exact Gaussian denoiser: each sampler's sampled mean and
covariance against its own closed-form law (``diffusion.gaussian_laws``) within Monte Carlo
error, the laws against the target where the sampler is exact in the limit, and the identities
between samplers (DDIM with eta = 1 on every level is DDPM's posterior law; the DDPM predictor
of PC is DDPM)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import diffusion
from tests.conftest import assert_within_se

D = 3
N = 4000
# a rotated, anisotropic data law: the laws work in its eigenbasis
_Q = np.linalg.qr(np.random.default_rng(0).standard_normal((D, D)))[0]
MEAN = jnp.asarray([1.0, -2.0, 0.5], jnp.float32)
COV = jnp.asarray(_Q @ np.diag([2.0, 1.0, 0.25]) @ _Q.T, jnp.float32)
# 200 levels up to beta = 0.1: alphabar_T = 3e-5, so N(0, I) is the law of x_T (to 3e-5), and a
# run costs a fifth of T = 1000's
SCHEDULE = diffusion.linear_schedule(200, beta_max=0.1)
EPS = diffusion.gaussian_eps_fn(SCHEDULE, MEAN, COV)


def _moments_within_se(x, law, what):
    """Sample mean and covariance against the law's, each entry within 5 standard errors
    (mean: sqrt(S_ii / n); covariance: sqrt((S_ii S_jj + S_ij^2) / n))."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    mean, cov = np.asarray(law.mean, np.float64), np.asarray(law.covariance, np.float64)
    var = np.diag(cov)
    assert_within_se(x.mean(0), mean, np.sqrt(var / n), what=f"{what} mean")
    se_cov = np.sqrt((np.outer(var, var) + cov**2) / n)
    assert_within_se(np.cov(x.T), cov, se_cov, what=f"{what} covariance")


def _start(key=1):
    return jax.random.normal(jax.random.key(key), (N, D))


CASES = {
    "ddpm_beta": (lambda: diffusion.ddpm_sampler(EPS, SCHEDULE), 200,
                  lambda: diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV)),
    "ddpm_posterior": (lambda: diffusion.ddpm_sampler(EPS, SCHEDULE, variance="posterior"), 200,
                       lambda: diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV, variance="posterior")),
    "ddpm_from_level_120": (lambda: diffusion.ddpm_sampler(EPS, SCHEDULE, start_level=120), 120,
                            lambda: diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV, start_level=120)),
    "ddim_deterministic": (lambda: diffusion.ddim_sampler(EPS, SCHEDULE, 20), 20,
                           lambda: diffusion.ddim_gaussian_law(SCHEDULE, MEAN, COV, 20)),
    "ddim_eta_0.5": (lambda: diffusion.ddim_sampler(EPS, SCHEDULE, 50, eta=0.5), 50,
                     lambda: diffusion.ddim_gaussian_law(SCHEDULE, MEAN, COV, 50, eta=0.5)),
    "pc_predictor_reverse_diffusion": (lambda: diffusion.pc_sampler(EPS, SCHEDULE, corrector_steps=0), 200,
                                       lambda: diffusion.pc_gaussian_law(SCHEDULE, MEAN, COV)),
    "pc_predictor_ddpm": (lambda: diffusion.pc_sampler(EPS, SCHEDULE, predictor="ddpm", corrector_steps=0), 200,
                          lambda: diffusion.pc_gaussian_law(SCHEDULE, MEAN, COV, predictor="ddpm")),
    "ncsn": (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, levels=[200, 60, 20, 5], steps_per_level=30,
                                            epsilon=2e-4), 120,
             lambda: diffusion.ncsn_gaussian_law(SCHEDULE, MEAN, COV, levels=[200, 60, 20, 5], steps_per_level=30,
                                                 epsilon=2e-4)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sampler_matches_its_exact_gaussian_law(name):
    make, steps, law = CASES[name]
    out = lj.run(jax.random.key(3), make(), _start(), steps)
    assert int(out.info.num_nonfinite) == 0
    _moments_within_se(out.positions, law(), name)


def test_laws_of_the_exact_samplers_reach_the_target():
    """With the exact denoiser and every level, DDPM and the reverse-diffusion predictor land on
    the data law up to their discretisation (a fraction of a percent at T = 1000); DDIM with
    eta = 1 on every level is DDPM with the posterior variance, exactly."""
    s = diffusion.linear_schedule()
    for law in (diffusion.ddpm_gaussian_law(s, MEAN, COV), diffusion.pc_gaussian_law(s, MEAN, COV)):
        np.testing.assert_allclose(law.mean, MEAN, atol=5e-3)
        np.testing.assert_allclose(law.covariance, COV, atol=2e-2)
    a = diffusion.ddim_gaussian_law(SCHEDULE, MEAN, COV, 200, eta=1.0)
    b = diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV, variance="posterior")
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.covariance, b.covariance, rtol=1e-4, atol=1e-5)


def test_law_from_a_given_start_and_partial_run():
    """The law after 50 of 200 DDPM steps from N(mu0, S0) against 50 simulated steps."""
    mu0 = jnp.array([0.5, 0.0, -0.5])
    s0 = jnp.diag(jnp.array([0.5, 1.0, 2.0]))
    x0 = mu0 + jax.random.normal(jax.random.key(5), (N, D)) * jnp.sqrt(jnp.diag(s0))
    out = lj.run(jax.random.key(6), diffusion.ddpm_sampler(EPS, SCHEDULE), x0, 50)
    law = diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV, num_steps=50, initial_mean=mu0, initial_covariance=s0)
    _moments_within_se(out.positions, law, "ddpm 50 steps from N(mu0, S0)")


def test_ddpm_predictor_of_pc_is_ddpm_in_law_and_pc_corrector_improves_nothing_away():
    """PC's ancestral predictor alone has DDPM's exact law; PC with a corrector (batch norms,
    the default) stays within Monte Carlo error plus its documented bias of a Langevin step of
    relative size 2 r^2 (r = 0.05: 0.5 %) of the target."""
    a = diffusion.pc_gaussian_law(SCHEDULE, MEAN, COV, predictor="ddpm")
    b = diffusion.ddpm_gaussian_law(SCHEDULE, MEAN, COV)
    np.testing.assert_allclose(a.covariance, b.covariance)
    s = diffusion.linear_schedule()
    eps = diffusion.gaussian_eps_fn(s, MEAN, COV)
    out = lj.run(jax.random.key(7), diffusion.pc_sampler(eps, s, snr=0.05), _start(), 1000)
    x = np.asarray(out.positions, np.float64)
    var = np.diag(np.asarray(COV))
    assert_within_se(x.mean(0), MEAN, np.sqrt(var / N), what="pc mean")
    # variance: 5 standard errors plus the corrector's 0.5 % bias
    tol = 5 * np.sqrt(2 / N) * var + 0.005 * var
    assert np.all(np.abs(x.var(0) - var) <= tol), (x.var(0), var)


def test_pc_per_chain_and_batch_norms_agree_on_one_chain_and_differ_on_many():
    """The batch mean over one chain is that chain's own norm: the two rules give the same
    numbers; over many chains they differ (the chains are coupled by the batch mean)."""
    x0 = _start()[:1]
    a = lj.run(jax.random.key(8), diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="batch"), x0, 200)
    b = lj.run(jax.random.key(8), diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="chain"), x0, 200)
    np.testing.assert_allclose(np.asarray(a.positions), np.asarray(b.positions), rtol=1e-6, atol=1e-6)
    x0 = _start()[:16]
    a = lj.run(jax.random.key(8), diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="batch"), x0, 200)
    b = lj.run(jax.random.key(8), diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="chain"), x0, 200)
    assert not np.allclose(np.asarray(a.positions), np.asarray(b.positions))
    # a batch run's chain depends on the other chains; a per-chain run's does not
    c = lj.run(jax.random.key(8), diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="chain"), x0[:1], 200)
    np.testing.assert_allclose(np.asarray(b.positions[0]), np.asarray(c.positions[0]), rtol=1e-5, atol=1e-5)


def test_ncsn_schedule_is_song_and_ermon_algorithm_1():
    """alpha_i = epsilon sigma_i^2 / sigma_L^2 for T steps each, h = alpha / 2 (the update
    x + alpha/2 s + sqrt(alpha) z is Euler-Maruyama with h = alpha / 2)."""
    sigmas = jnp.array([1.0, 0.1, 0.01])
    sched = diffusion.ncsn_schedule(sigmas, sigmas, 4, 2e-5)
    assert sched.num_steps == 12
    np.testing.assert_allclose(sched.times, np.repeat([1.0, 0.1, 0.01], 4), rtol=1e-6)
    np.testing.assert_allclose(sched.step_sizes, np.repeat([0.2, 2e-3, 2e-5], 4) / 2, rtol=1e-5)
    levels = diffusion.ncsn_levels(diffusion.linear_schedule())
    assert levels[0] == 1000 and levels[-1] == 1 and np.all(np.diff(levels) < 0) and len(levels) == 10
    # each level is the one whose log sigma is nearest a geometric grid from sigma_T to sigma_1
    log_sig = 0.5 * np.log1p(-np.asarray(diffusion.linear_schedule().alphabars, np.float64))
    targets = np.linspace(log_sig[-1], log_sig[0], 10)
    dist = np.abs(log_sig[None, :] - targets[:, None])
    np.testing.assert_array_equal(np.abs(log_sig[levels - 1] - targets), dist.min(axis=1))


def test_ncsn_and_laws_are_traceable():
    """The laws are JAX functions: jit gives the eager numbers, grad through the data mean exists."""
    f = lambda m: diffusion.ddpm_gaussian_law(SCHEDULE, m, COV).mean  # noqa: E731
    np.testing.assert_allclose(jax.jit(f)(MEAN), f(MEAN), rtol=1e-6)
    g = jax.jacfwd(f)(MEAN)  # d E[x_0] / d m: the identity to within the discretisation
    np.testing.assert_allclose(g, np.eye(D), atol=2e-2)


@pytest.mark.parametrize("bad, match", [
    (lambda: diffusion.pc_sampler(EPS, SCHEDULE, predictor="euler"), "predictor"),
    (lambda: diffusion.pc_sampler(EPS, SCHEDULE, snr=0.0), "snr"),
    (lambda: diffusion.pc_sampler(EPS, SCHEDULE, corrector_steps=-1), "corrector_steps"),
    (lambda: diffusion.pc_sampler(EPS, SCHEDULE, snr_norms="mean"), "snr_norms"),
    (lambda: diffusion.pc_sampler(EPS, SCHEDULE, start_level=201), "start_level"),
    (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, levels=[10, 20]), "strictly decreasing"),
    (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, levels=[300, 20]), "levels"),
    (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, levels=[20.5, 2.0]), "integer levels"),
    (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, epsilon=-1.0), "epsilon"),
    (lambda: diffusion.ncsn_sampler(EPS, SCHEDULE, steps_per_level=0), "steps_per_level"),
    (lambda: diffusion.ddim_sampler(EPS, SCHEDULE, 10, eta=-0.1), "eta"),
    (lambda: diffusion.ddpm_sampler(EPS, SCHEDULE, variance="small"), "variance"),
    (lambda: diffusion.ddpm_sampler(EPS, "linear"), "schedule must be a diffusion.NoiseSchedule"),
    (lambda: diffusion.ncsn_schedule(jnp.ones(3), jnp.array([0.1, 1.0, 0.5]), 2, 1e-3), "non-increasing"),
])
def test_bad_arguments_name_the_argument(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_reverse_sampler_past_its_last_level_gives_nan_inside_a_trace():
    """The eager check refuses num_steps > start_level; inside a user's jit (where it cannot
    run) the extra steps give NaN, counted as diverged chains, instead of a wrapped index."""
    alg = diffusion.ddpm_sampler(EPS, SCHEDULE, start_level=5)
    with pytest.raises(ValueError, match="num_steps=6 exceeds start_level=5"):
        lj.run(jax.random.key(0), alg, _start()[:4], 6)
    init, step = alg
    state = jax.vmap(init)(_start()[:4])
    for k in range(6):
        state, info = jax.jit(jax.vmap(step))(jax.random.split(jax.random.key(k), 4), state)
    assert np.all(np.isnan(np.asarray(state.position)))
