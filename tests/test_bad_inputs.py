"""Bad inputs across the public API: each must raise ``ValueError``/``TypeError`` naming the
argument, before anything long runs; never a silent result, never a raw JAX error (issue 13).

One row per probe: ``(id, thunk, argument name the message must contain)``. The thunks build
their inputs lazily so that a failure in one row cannot break the table's collection.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import langevin_jax as lj
from langevin_jax import annealing, diffusion, gaussian_dsm, metrics, nn, scores, sweeps, theory
from tests._bad_inputs import assert_named

K = jax.random.key(0)
D = 3
NAN = float("nan")
INF = float("inf")


def _x(n=8, d=D):
    return jnp.zeros((n, d))


def _score(x):
    return -x


def _logdensity(x):
    return -0.5 * jnp.sum(x * x)


def _target():
    return lj.IsotropicGaussian.create(jnp.zeros(D), 1.0)


def _sched():
    return diffusion.linear_schedule(100)


def _eps(x, t):
    return jnp.zeros_like(x)


def _times_steps():
    return jnp.linspace(0.0, 1.0, 5), jnp.full((5,), 0.1)


I2 = jnp.eye(2)
NON_SYM = jnp.array([[1.0, 5.0], [-5.0, 1.0]])
NOT_PD = jnp.array([[1.0, 0.0], [0.0, -1.0]])
NAN_MAT = jnp.array([[NAN, 0.0], [0.0, 1.0]])

CASES = [
    # --- the sampling core -------------------------------------------------------------
    ("run/key int", lambda: lj.run(0, lj.ula(_score, 0.1), _x(), 5), "key"),
    ("run/key float array", lambda: lj.run(jnp.zeros(2), lj.ula(_score, 0.1), _x(), 5), "key"),
    ("run/algorithm not a pair", lambda: lj.run(K, _score, _x(), 5), "algorithm"),
    ("run/positions empty", lambda: lj.run(K, lj.ula(_score, 0.1), jnp.zeros((0, D)), 5),
     "initial_positions"),
    ("run/positions NaN", lambda: lj.run(K, lj.ula(_score, 0.1), _x().at[0, 0].set(NAN), 5),
     "initial_positions"),
    ("run/positions inf", lambda: lj.run(K, lj.ula(_score, 0.1), _x().at[1, 2].set(INF), 5),
     "initial_positions"),
    ("run/positions list", lambda: lj.run(K, lj.ula(_score, 0.1), "abc", 5), "initial_positions"),
    ("run/num_steps 0", lambda: lj.run(K, lj.ula(_score, 0.1), _x(), 0), "num_steps"),
    ("run/num_steps float", lambda: lj.run(K, lj.ula(_score, 0.1), _x(), 2.5), "num_steps"),
    ("run/save_every 0", lambda: lj.run(K, lj.ula(_score, 0.1), _x(), 4, save_every=0),
     "save_every"),
    ("run/score wrong shape", lambda: lj.run(K, lj.ula(lambda x: x[:2], 0.1), _x(), 5),
     "score"),
    ("ula/score not callable", lambda: lj.ula(3.0, 0.1), "score_fn"),
    ("ula/step 0", lambda: lj.ula(_score, 0.0), "step_size"),
    ("ula/step negative", lambda: lj.ula(_score, -0.1), "step_size"),
    ("ula/step NaN", lambda: lj.ula(_score, NAN), "step_size"),
    ("ula/step inf", lambda: lj.ula(_score, INF), "step_size"),
    ("ula/step complex", lambda: lj.ula(_score, 1j), "step_size"),
    ("ula/step string", lambda: lj.ula(_score, "0.1"), "step_size"),
    ("ula/step vector wrong shape", lambda: lj.run(K, lj.ula(_score, jnp.ones(D + 1)), _x(),
                                                   3), "step_size"),
    ("ula/schedule non-positive", lambda: lj.run(K, lj.ula(_score, lambda k: 0.1 - 0.05 * k),
                                                 _x(), 5), "step_size"),
    ("mala/logdensity not callable", lambda: lj.mala(None, 0.1), "logdensity_fn"),
    ("mala/step negative", lambda: lj.mala(_logdensity, -1.0), "step_size"),
    ("mala/logdensity vector", lambda: lj.run(K, lj.mala(lambda x: -x, 0.1), _x(), 3),
     "logdensity"),
    ("annealed/score not callable", lambda: lj.annealed_langevin(1, _times_steps()), "score_fn"),
    ("annealed/steps negative", lambda: lj.annealed_langevin(
        lambda x, t: -x, (jnp.linspace(0, 1, 5), -jnp.ones(5))), "step"),
    ("annealed/length mismatch", lambda: lj.annealed_langevin(
        lambda x, t: -x, (jnp.linspace(0, 1, 5), jnp.ones(4) * 0.1)), "step"),
    ("annealed/times NaN", lambda: lj.annealed_langevin(
        lambda x, t: -x, (jnp.full(5, NAN), jnp.ones(5) * 0.1)), "times"),
    ("annealed/schedule vector", lambda: lj.run(K, lj.annealed_langevin(
        lambda x, t: -x, lambda k: (jnp.ones(2), jnp.ones(2) * 0.1)), _x(), 3), "schedule"),
    ("array_schedule/2-d times", lambda: lj.array_schedule(jnp.ones((2, 2)), jnp.ones(4)),
     "times"),
    ("array_schedule/empty", lambda: lj.array_schedule(jnp.ones(0), jnp.ones(0)), "times"),
    ("chain_keys/num_chains 0", lambda: lj.chain_keys(K, 0, 0), "num_chains"),
    # --- targets -----------------------------------------------------------------------
    ("Gaussian/non-symmetric", lambda: lj.Gaussian.create(jnp.zeros(2), NON_SYM), "covariance"),
    ("Gaussian/not PD", lambda: lj.Gaussian.create(jnp.zeros(2), NOT_PD), "covariance"),
    ("Gaussian/NaN cov", lambda: lj.Gaussian.create(jnp.zeros(2), NAN_MAT), "covariance"),
    ("Gaussian/NaN mean", lambda: lj.Gaussian.create(jnp.array([NAN, 0.0]), I2), "mean"),
    ("Gaussian/shape mismatch", lambda: lj.Gaussian.create(jnp.zeros(3), I2), "covariance"),
    ("Gaussian/rank-2 mean", lambda: lj.Gaussian.create(jnp.zeros((2, 2)), I2), "mean"),
    ("Gaussian/empty", lambda: lj.Gaussian.create(jnp.zeros(0), jnp.zeros((0, 0))), "mean"),
    ("from_spectrum/negative eig", lambda: lj.Gaussian.from_spectrum(
        jnp.zeros(2), jnp.array([1.0, -1.0])), "eigenvalues"),
    ("from_spectrum/basis not orthonormal", lambda: lj.Gaussian.from_spectrum(
        jnp.zeros(2), jnp.array([1.0, 2.0]), jnp.array([[1.0, 1.0], [0.0, 1.0]])), "basis"),
    ("Isotropic/vector variance", lambda: lj.IsotropicGaussian.create(
        jnp.zeros(2), jnp.ones(2)), "variance"),
    ("Isotropic/zero variance", lambda: lj.IsotropicGaussian.create(jnp.zeros(2), 0.0),
     "variance"),
    ("Isotropic/NaN variance", lambda: lj.IsotropicGaussian.create(jnp.zeros(2), NAN),
     "variance"),
    ("Mixture/weights sum", lambda: lj.GaussianMixture.create(
        jnp.array([0.5, 0.2]), jnp.zeros((2, 2)), jnp.stack([I2, I2])), "weights"),
    ("Mixture/negative weight", lambda: lj.GaussianMixture.create(
        jnp.array([1.5, -0.5]), jnp.zeros((2, 2)), jnp.stack([I2, I2])), "weights"),
    ("Mixture/means shape", lambda: lj.GaussianMixture.create(
        jnp.array([0.5, 0.5]), jnp.zeros((3, 2)), jnp.stack([I2, I2])), "means"),
    ("Mixture/cov non-symmetric", lambda: lj.GaussianMixture.create(
        jnp.array([0.5, 0.5]), jnp.zeros((2, 2)), jnp.stack([I2, NON_SYM])), "covariances"),
    ("target.sample/key int", lambda: _target().sample(0, 4), "key"),
    ("target.sample/num 0", lambda: _target().sample(K, 0), "num"),
    ("target.sample/num float", lambda: _target().sample(K, 2.5), "num"),
    # --- theory ------------------------------------------------------------------------
    ("gaussian_kl/not PD", lambda: theory.gaussian_kl(jnp.zeros(2), I2, jnp.zeros(2), NOT_PD),
     "cov1"),
    ("gaussian_kl/shape", lambda: theory.gaussian_kl(jnp.zeros(2), I2, jnp.zeros(3), I2),
     "mean1"),
    ("gaussian_w2/non-symmetric", lambda: theory.gaussian_w2(jnp.zeros(2), NON_SYM,
                                                             jnp.zeros(2), I2), "cov0"),
    ("stationary variance/h<=0", lambda: theory.ula_gaussian_stationary_variance(1.0, -0.1),
     "h"),
    ("stationary variance/unstable h", lambda: theory.ula_gaussian_stationary_variance(
        1.0, 2.5), "h"),
    # --- metrics -----------------------------------------------------------------------
    ("score_error/key int", lambda: metrics.score_error(0, _score, _score, _target(), 10),
     "key"),
    ("score_error/num_samples 0", lambda: metrics.score_error(K, _score, _score, _target(), 0),
     "num_samples"),
    ("score_error/p 0", lambda: metrics.score_error(K, _score, _score, _target(), 10, p=0.0),
     "p"),
    ("score_error/batch_size 0", lambda: metrics.score_error(
        K, _score, _score, _target(), 10, batch_size=0), "batch_size"),
    ("score_error/batch_size float", lambda: metrics.score_error(
        K, _score, _score, _target(), 10, batch_size=1.5), "batch_size"),
    ("score_error/not callable", lambda: metrics.score_error(K, 1.0, _score, _target(), 10),
     "score_hat_fn"),
    ("lipschitz/no points", lambda: metrics.lipschitz_estimate(K, _score, jnp.zeros((0, D))),
     "points"),
    ("lipschitz/rank 1", lambda: metrics.lipschitz_estimate(K, _score, jnp.zeros(D)), "points"),
    ("lipschitz/scale 0", lambda: metrics.lipschitz_estimate(K, _score, _x(), scale=0.0),
     "scale"),
    ("lipschitz/num_pairs 0", lambda: metrics.lipschitz_estimate(K, _score, _x(), num_pairs=0),
     "num_pairs"),
    ("fit_kl/one sample", lambda: metrics.gaussian_fit_kl(jnp.zeros((1, 2)), jnp.zeros(2), I2),
     "samples"),
    ("fit_kl/NaN samples", lambda: metrics.gaussian_fit_kl(
        jnp.full((5, 2), NAN), jnp.zeros(2), I2), "samples"),
    ("fit_kl/reference not PD", lambda: metrics.gaussian_fit_kl(
        jax.random.normal(K, (50, 2)), jnp.zeros(2), NOT_PD), "covariance"),
    ("fit_kl/reference NaN", lambda: metrics.gaussian_fit_kl(
        jax.random.normal(K, (50, 2)), jnp.zeros(2), NAN_MAT), "covariance"),
    ("fit_kl/mean shape", lambda: metrics.gaussian_fit_kl(
        jax.random.normal(K, (50, 2)), jnp.zeros(3), I2), "mean"),
    ("fit_w2/reference -I", lambda: metrics.gaussian_fit_w2(
        jax.random.normal(K, (50, 2)), jnp.zeros(2), -I2), "covariance"),
    ("fit_kl_bias/n <= d", lambda: metrics.gaussian_fit_kl_bias(5, 5), "n"),
    ("sinkhorn/dim mismatch", lambda: metrics.sinkhorn_divergence(_x(5, 2), _x(5, 3)), "y"),
    ("sinkhorn/empty", lambda: metrics.sinkhorn_divergence(_x(0, 2), _x(5, 2)), "x"),
    ("sinkhorn/NaN", lambda: metrics.sinkhorn_divergence(_x(5, 2).at[0, 0].set(NAN),
                                                         _x(5, 2)), "x"),
    ("sinkhorn/blur 0", lambda: metrics.sinkhorn_divergence(_x(5, 2), _x(5, 2), blur=0.0),
     "blur"),
    ("sinkhorn/weights negative", lambda: metrics.sinkhorn_divergence(
        _x(2, 2), _x(2, 2), x_weights=jnp.array([1.5, -0.5])), "x_weights"),
    ("sinkhorn/too large", lambda: metrics.sinkhorn_divergence(
        jnp.zeros((60_000, 2)), jnp.zeros((60_000, 2))), "memory"),
    ("mmd/bandwidth 0", lambda: metrics.mmd_squared(_x(4, 2), _x(4, 2), bandwidth=0.0),
     "bandwidth"),
    ("energy/dim mismatch", lambda: metrics.energy_distance(_x(4, 2), _x(4, 3)), "y"),
    # --- scores ------------------------------------------------------------------------
    ("bump/c <= a", lambda: scores.bump(1.0, 2.0, 1.0), "c"),
    ("trap/r_out <= r_in", lambda: scores.trap_score(jnp.ones(D) * 9, 3.0, 2.0), "r_out"),
    ("trap/alpha 0", lambda: scores.trap_score(jnp.ones(D) * 9, 1.0, 2.0, alpha=0.0), "alpha"),
    ("trap/mu rank 2", lambda: scores.trap_score(jnp.ones((2, D)), 1.0, 2.0), "mu"),
    ("trap/mu NaN", lambda: scores.trap_score(jnp.full(D, NAN), 1.0, 2.0), "mu"),
    ("memorizing/points rank 1", lambda: scores.memorizing_score(jnp.ones(D)), "points"),
    ("memorizing/points NaN", lambda: scores.memorizing_score(
        jnp.eye(D).at[0, 0].set(NAN) * 10), "points"),
    ("memorizing/r_in negative", lambda: scores.memorizing_score(jnp.eye(D) * 10, -1.0, 2.0),
     "r_in"),
    ("cone/half_angle", lambda: scores.cone_escape_score(_score, jnp.ones(D), 1.0, 2.0),
     "half_angle"),
    ("cone/axis zero", lambda: scores.cone_escape_score(_score, jnp.zeros(D), 1.0, 0.1),
     "axis"),
    ("theory_trap_radii/d 0", lambda: scores.theory_trap_radii(0), "d"),
    ("trap_error_exact/p 0", lambda: scores.trap_score_error_exact(10.0, 4, 1.0, 2.0, p=0.0),
     "p"),
    # --- diffusion ---------------------------------------------------------------------
    ("linear_schedule/num_levels 0", lambda: diffusion.linear_schedule(0), "num_levels"),
    ("linear_schedule/beta_max > 1", lambda: diffusion.linear_schedule(10, 1e-4, 1.5),
     "beta_max"),
    ("linear_schedule/beta order", lambda: diffusion.linear_schedule(10, 0.02, 1e-4),
     "beta"),
    ("make_schedule/unknown", lambda: diffusion.make_schedule("quadratic"), "kind"),
    ("check_level/0", lambda: diffusion.score_at_level(_eps, _sched(), 0), "level"),
    ("check_level/too large", lambda: diffusion.score_at_level(_eps, _sched(), 101), "level"),
    ("check_level/float", lambda: diffusion.score_at_level(_eps, _sched(), 2.5), "level"),
    ("ddpm/eps not callable", lambda: diffusion.ddpm_sampler(1.0, _sched()), "eps_fn"),
    ("ddpm/variance unknown", lambda: diffusion.ddpm_sampler(_eps, _sched(), variance="x"),
     "variance"),
    ("ddim/eta negative", lambda: diffusion.ddim_sampler(_eps, _sched(), eta=-1.0), "eta"),
    ("ddim/num_steps too many", lambda: diffusion.ddim_sampler(_eps, _sched(), 1000),
     "num_steps"),
    ("gaussian_eps/not PD", lambda: diffusion.gaussian_eps_fn(_sched(), jnp.zeros(2), NOT_PD),
     "covariance"),
    ("sample_levels/min > max", lambda: diffusion.sample_levels(K, (3,), 5, 2), "level"),
    # --- annealing ---------------------------------------------------------------------
    ("get_schedule/unknown", lambda: annealing.get_schedule("quadratic"), "schedule"),
    ("ou_schedule/horizon 0", lambda: annealing.ou_schedule(0.0), "horizon"),
    ("kl_bound/kappa 0", lambda: annealing.kl_bound(1.0, 0.0), "kappa"),
    ("kl_bound/action negative", lambda: annealing.kl_bound(-1.0, 1.0), "action"),
    ("uniform_time_grid/0", lambda: annealing.uniform_time_grid(0), "num_steps"),
    ("adapted_time_grid/fraction", lambda: annealing.adapted_time_grid(
        lambda t: jnp.ones_like(t), 10, uniform_fraction=1.5), "uniform_fraction"),
    ("dalmc_step_schedule/decreasing grid", lambda: annealing.dalmc_step_schedule(
        jnp.array([0.0, 0.5, 0.4, 1.0]), 1.0), "time_grid"),
    ("dalmc_step_schedule/kappa 0", lambda: annealing.dalmc_step_schedule(
        jnp.linspace(0, 1, 5), 0.0), "kappa"),
    ("gaussian_action/num_nodes 0", lambda: annealing.gaussian_action(
        _target(), "linear", num_nodes=0), "num_nodes"),
    ("action/num_samples 0", lambda: annealing.action(
        K, annealing.diffusion_path(_target(), "linear"), num_samples=0), "num_samples"),
    # --- Gaussian DSM ------------------------------------------------------------------
    ("power_law/d 0", lambda: gaussian_dsm.power_law_spectrum(0, 1.0), "d"),
    ("dsm_score_matrix/non-symmetric", lambda: gaussian_dsm.dsm_score_matrix(NON_SYM, 0.1),
     "empirical_covariance"),
    ("ula_covariance/eta negative", lambda: gaussian_dsm.ula_covariance(-I2, -0.1), "eta"),
    ("sampling_w2/shape", lambda: gaussian_dsm.sampling_w2(I2, jnp.eye(3)),
     "sampled_covariance"),
    ("kernel/spectrum negative", lambda: gaussian_dsm.kernel(jnp.array([1.0, -1.0]), 0.1,
                                                             0.01), "spectrum"),
    ("kernel/eta NaN", lambda: gaussian_dsm.kernel(jnp.array([1.0, 2.0]), 0.1, NAN), "eta"),
    ("expected_kernel_w2/num_samples 0", lambda: gaussian_dsm.expected_kernel_w2(
        jnp.array([1.0, 2.0]), 0, 0.1, 0.01), "num_samples"),
    ("sample_empirical_covariance/num 1", lambda: gaussian_dsm.sample_empirical_covariance(
        K, jnp.array([1.0, 2.0]), 0), "num_samples"),
    # --- sweeps ------------------------------------------------------------------------
    ("dimension_masks/empty", lambda: sweeps.dimension_masks([]), "dims"),
    ("dimension_masks/0", lambda: sweeps.dimension_masks([0, 2]), "dims"),
    ("dimension_masks/d_max small", lambda: sweeps.dimension_masks([2, 5], d_max=3), "d_max"),
    ("masked_ula/mask shape", lambda: sweeps.masked_ula(
        K, _score, 0.1, _x(4, 3), 5, jnp.ones(2)), "mask"),
    ("masked_ula/step negative", lambda: sweeps.masked_ula(
        K, _score, -0.1, _x(4, 3), 5, jnp.ones(3)), "step_size"),
    ("prefix_noise/num_steps 0", lambda: sweeps.prefix_noise(K, 0, 2, 3), "num_steps"),
    # --- nn ----------------------------------------------------------------------------
    ("DenoiserConfig/dim 0", lambda: nn.DenoiserConfig(dim=0), "dim"),
    ("DenoiserConfig/activation", lambda: nn.DenoiserConfig(dim=2, activation="tanhh"),
     "activation"),
    ("TrainConfig/learning_rate 0", lambda: nn.TrainConfig(
        model=nn.DenoiserConfig(dim=2), learning_rate=0.0), "learning_rate"),
    ("TrainConfig/num_steps 0", lambda: nn.TrainConfig(
        model=nn.DenoiserConfig(dim=2), num_steps=0), "num_steps"),
    ("train_denoiser/data dim", lambda: nn.train_denoiser(
        K, jnp.zeros((10, 3)), nn.TrainConfig(model=nn.DenoiserConfig(dim=2), num_steps=2)),
     "data"),
    ("train_denoiser/data NaN", lambda: nn.train_denoiser(
        K, jnp.full((10, 2), NAN), nn.TrainConfig(model=nn.DenoiserConfig(dim=2), num_steps=2)),
     "data"),
    ("load_pretrained/unknown", lambda: nn.load_pretrained("no_such_network"), "name"),
    ("denoiser_score_fn/level 0", lambda: nn.denoiser_score_fn(
        nn.init_denoiser(K, nn.DenoiserConfig(dim=2, width=4, depth=1)),
        nn.DenoiserConfig(dim=2, width=4, depth=1), _sched(), 0), "level"),
]


@pytest.mark.parametrize("thunk, argument", [pytest.param(t, a, id=i) for i, t, a in CASES])
def test_bad_input_is_named(thunk, argument):
    assert_named(thunk, argument)
