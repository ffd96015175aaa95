import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import annealing as an
from langevin_jax.annealing import action_bound
from langevin_jax import theory
from tests.conftest import assert_within_se, variance_se

SCHEDULES = ["linear", "cosine", "ou", "quadratic"]


def _schedule(name):
    if name == "quadratic":
        return an.custom_schedule(lambda t: jnp.asarray(t) ** 2, "quadratic")
    return an.get_schedule(name, horizon=2.0)


def _rotated_gaussian(d=3, mean_scale=1.0, seed=0, dtype=jnp.float32):
    k1, k2 = jax.random.split(jax.random.key(seed))
    basis, _ = jnp.linalg.qr(jax.random.normal(k1, (d, d), dtype))
    eig = jnp.geomspace(0.3, 3.0, d).astype(dtype)
    mean = mean_scale * jax.random.normal(k2, (d,), dtype)
    return lj.Gaussian.from_spectrum(mean, eig, basis)


def _mixture():
    covs = jnp.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 2.0]]])
    return lj.GaussianMixture.create(jnp.array([0.3, 0.7]), jnp.array([[-2.0, 1.0], [2.0, 0.0]]),
                                     covs)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("which", ["gaussian", "mixture"])
def test_path_score_is_grad_of_path_log_density(which, schedule):
    target = _rotated_gaussian() if which == "gaussian" else _mixture()
    path = an.diffusion_path(target, _schedule(schedule))
    xs = jax.random.normal(jax.random.key(1), (5, path.dim)) * 2.0
    for t in (0.0, 0.37, 1.0):
        s = jax.vmap(path.score_fn, (0, None))(xs, t)
        g = jax.vmap(jax.grad(path.log_prob_fn), (0, None))(xs, t)
        np.testing.assert_allclose(s, g, rtol=1e-4, atol=1e-5)
    # the path ends at the target, and (lambda_0 = 0) starts at N(0, I)
    np.testing.assert_allclose(jax.vmap(path.log_prob_fn, (0, None))(xs, 1.0),
                               jax.vmap(target.log_prob)(xs), rtol=1e-5, atol=1e-5)
    if schedule != "ou":
        std = lj.IsotropicGaussian.create(jnp.zeros(path.dim))
        np.testing.assert_allclose(jax.vmap(path.log_prob_fn, (0, None))(xs, 0.0),
                                   jax.vmap(std.log_prob)(xs), rtol=1e-5)


def test_path_score_under_jit_and_vmap_and_marginal():
    target = _mixture()
    path = an.diffusion_path(target, "cosine")
    xs = jax.random.normal(jax.random.key(2), (7, 2))
    ts = jnp.linspace(0.0, 1.0, 7)
    batched = jax.jit(jax.vmap(path.score_fn))(xs, ts)
    one_by_one = jnp.stack([path.score_fn(x, t) for x, t in zip(xs, ts)])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6)
    marg = an.diffusion_marginal(target, "cosine", 0.4)
    np.testing.assert_allclose(jax.vmap(marg.score)(xs), jax.vmap(path.score_fn, (0, None))(xs, 0.4),
                               rtol=1e-4, atol=1e-5)


def test_denoiser_path_matches_closed_form_gaussian_path():
    target = _rotated_gaussian()
    cov, m = target.covariance, target.mean

    def denoiser(y, lam):  # E[X | sqrt(lam) X + sqrt(1 - lam) Z = y]
        c = lam * cov + (1 - lam) * jnp.eye(3)
        return m + jnp.sqrt(lam) * cov @ jnp.linalg.solve(c, y - jnp.sqrt(lam) * m)

    learned = an.denoiser_path(denoiser, "ou", 3, target_sample_fn=target.sample)
    exact = an.diffusion_path(target, "ou")
    y = jnp.array([0.5, -1.0, 2.0])
    for t in (0.1, 0.5, 0.9):
        np.testing.assert_allclose(learned.score_fn(y, t), exact.score_fn(y, t), rtol=1e-4)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_action_density_matches_finite_difference_w2(schedule):
    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)
        sched = _schedule(schedule)
        for t in (0.2, 0.65):
            eps = 1e-4
            a = an.diffusion_marginal(target, sched, t - eps)
            b = an.diffusion_marginal(target, sched, t + eps)
            fd = (theory.gaussian_w2(a.mean, a.covariance, b.mean, b.covariance) / (2 * eps)) ** 2
            exact = an.gaussian_action_density(target, sched, t)
            np.testing.assert_allclose(float(exact), float(fd), rtol=1e-5)


@pytest.mark.parametrize("schedule", ["linear", "cosine", "ou"])
def test_closed_form_action_equals_quadrature(schedule):
    with jax.enable_x64(True):
        # linear: A is finite only for a centred target
        target = _rotated_gaussian(mean_scale=0.0 if schedule == "linear" else 1.0,
                                   dtype=jnp.float64)
        sched = _schedule(schedule)
        closed = an.gaussian_action(target, sched)
        quad = an.gaussian_action(target, an.custom_schedule(sched.lambda_fn, "q"),
                                  num_nodes=200)
        np.testing.assert_allclose(float(closed), float(quad), rtol=1e-9)
        # the action bounds W2^2(mu_0, mu_1) from above (Cauchy-Schwarz)
        a, b = an.diffusion_marginal(target, sched, 0.0), target
        assert float(closed) >= float(theory.gaussian_w2(a.mean, a.covariance, b.mean,
                                                         b.covariance)) ** 2
    assert math.isinf(float(an.gaussian_action(_rotated_gaussian(), "linear")))


def test_monte_carlo_action_matches_closed_form():
    target = _rotated_gaussian()
    est = an.action(jax.random.key(3), an.diffusion_path(target, "cosine"), num_samples=4096,
                    num_nodes=32)
    assert_within_se(est.value, float(an.gaussian_action(target, "cosine")), est.std_error,
                     what="action")
    # a mixture of two equal components is the Gaussian: same action through the mixture path
    twin = lj.GaussianMixture.create(jnp.array([0.5, 0.5]), jnp.stack([target.mean] * 2),
                                     jnp.stack([target.covariance] * 2))
    ou = _schedule("ou")
    est2 = an.action(jax.random.key(4), an.diffusion_path(twin, ou), num_samples=4096,
                     num_nodes=32)
    assert_within_se(est2.value, float(an.gaussian_action(target, ou)), est2.std_error,
                     what="mixture-path action")


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_exact_kl_stays_below_bound(schedule):
    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)
        sched = _schedule(schedule)
        a = an.gaussian_action(target, sched)
        initial = an.gaussian_initial_kl(target, sched)
        for kappa in (2.0, 0.5, 0.1, 0.02):
            law = an.gaussian_annealed_law(target, sched, kappa)
            kl = float(an.gaussian_bias_kl(target, law))
            bound = float(an.kl_bound(a, kappa, initial))
            assert 0.0 < kl <= bound, (kappa, kl, bound)


def test_ode_converged_and_constant_schedule_is_plain_langevin():
    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)
        n = an.default_ode_steps(target, 0.05)
        kls = [float(an.gaussian_bias_kl(target, an.gaussian_annealed_law(
            target, "cosine", 0.05, num_ode_steps=k))) for k in (n // 2, n)]
        assert abs(kls[0] - kls[1]) <= 1e-9 * kls[1]
        # lambda = 1 throughout: Langevin on pi for time 1/kappa from N(m0, I), in closed form
        kappa, m0 = 0.7, jnp.array([1.0, -2.0, 0.5])
        law = an.gaussian_annealed_law(target, an.custom_schedule(lambda t: jnp.ones_like(t)),
                                       kappa, initial_mean=m0)
        sig, vecs = jnp.linalg.eigh(target.covariance)
        decay = vecs @ jnp.diag(jnp.exp(-1.0 / (kappa * sig))) @ vecs.T
        mean = target.mean + decay @ (m0 - target.mean)
        cov = target.covariance + decay @ (jnp.eye(3) - target.covariance) @ decay
        np.testing.assert_allclose(law.mean, mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(law.covariance, cov, rtol=1e-9, atol=1e-12)


def test_dalmc_law_converges_to_continuous_law_at_first_order():
    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)
        exact = an.gaussian_annealed_law(target, "cosine", 0.5)
        errs = []
        for n in (200, 800):
            law = an.gaussian_dalmc_law(target, "cosine", 0.5, an.uniform_time_grid(n))
            errs.append(float(theory.gaussian_w2(law.mean, law.covariance, exact.mean,
                                                 exact.covariance)))
        assert 3.5 < errs[0] / errs[1] < 4.5  # Euler: W2 error ~ h


def test_exact_recursion_matches_simulated_moments():
    target = _rotated_gaussian()
    kappa, num_steps, n, every = 0.25, 60, 20_000, 20
    grid = an.adapted_time_grid(an.gaussian_speed_fn(target, "cosine"), num_steps)
    path = an.diffusion_path(target, "cosine")
    out = lj.run(jax.random.key(5), an.dalmc(path, kappa, grid), jnp.asarray(
        jax.random.normal(jax.random.key(6), (n, 3))), num_steps, save_every=every)
    assert out.info.num_nonfinite == 0
    laws = an.gaussian_dalmc_law(target, "cosine", kappa, grid, return_trajectory=True)
    for j in range(num_steps // every):
        k = (j + 1) * every - 1
        cov = np.asarray(laws.covariance[k], np.float64)
        _, vecs = np.linalg.eigh(cov)
        y = np.asarray(out.trajectory[j], np.float64) @ vecs
        var = np.einsum("ij,ik,kj->j", vecs, cov, vecs)
        mu = np.asarray(laws.mean[k], np.float64) @ vecs
        assert_within_se(y.mean(0), mu, np.sqrt(var / n), what=f"mean after step {k + 1}")
        assert_within_se(y.var(0, ddof=1), var, variance_se(var, n),
                         what=f"variance after step {k + 1}")


def test_time_grids():
    uni = an.uniform_time_grid(10)
    np.testing.assert_allclose(uni, np.linspace(0, 1, 11), atol=1e-7)
    speed = lambda t: 1.0 / jnp.sqrt(t)  # noqa: E731  (fast near 0)
    grid = np.asarray(an.adapted_time_grid(speed, 20))
    assert grid[0] == 0.0 and grid[-1] == 1.0 and np.all(np.diff(grid) > 0)
    assert np.diff(grid)[0] < 0.5 / 20 < np.diff(grid)[-1]
    np.testing.assert_allclose(an.adapted_time_grid(speed, 20, uniform_fraction=1.0),
                               np.linspace(0, 1, 21), atol=1e-6)
    # zero-length steps are no-ops of the exact recursion
    target = _rotated_gaussian()
    padded = jnp.concatenate([uni, jnp.ones(5)])
    a = an.gaussian_dalmc_law(target, "cosine", 0.3, uni)
    b = an.gaussian_dalmc_law(target, "cosine", 0.3, padded)
    np.testing.assert_allclose(a.covariance, b.covariance, rtol=1e-6)
    times, steps = an.dalmc_step_schedule(uni, 0.5)
    np.testing.assert_allclose(times, uni[:-1])
    np.testing.assert_allclose(steps, np.full(10, 0.2), rtol=1e-6)


def test_exact_kl_is_differentiable_in_kappa():
    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)

        def kl(kappa):
            return an.gaussian_bias_kl(target, an.gaussian_annealed_law(
                target, "cosine", kappa, num_ode_steps=1000))

        g = jax.grad(kl)(0.3)
        fd = (kl(0.3 + 1e-5) - kl(0.3 - 1e-5)) / 2e-5
        assert g > 0  # less total time, more bias
        np.testing.assert_allclose(float(g), float(fd), rtol=1e-5)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="nondecreasing"):
        an.custom_schedule(lambda t: 1.0 - 0.5 * jnp.asarray(t))
    with pytest.raises(ValueError, match=r"lambda_fn\(1\) must be 1"):
        an.custom_schedule(lambda t: 0.5 * jnp.asarray(t))
    with pytest.raises(ValueError, match="elementwise"):
        an.custom_schedule(lambda t: jnp.sum(jnp.asarray(t)))
    with pytest.raises(ValueError, match="name"):
        an.custom_schedule(lambda t: t, name="cosine")
    with pytest.raises(ValueError, match="schedule"):
        an.get_schedule("sigmoid")
    with pytest.raises(ValueError, match="horizon"):
        an.ou_schedule(-1.0)
    with pytest.raises(ValueError, match="target"):
        an.diffusion_path(object(), "linear")
    target = _rotated_gaussian()
    with pytest.raises(ValueError, match="kappa"):
        an.gaussian_annealed_law(target, "cosine", 0.0)
    with pytest.raises(ValueError, match="time_grid"):
        an.gaussian_dalmc_law(target, "cosine", 0.5, jnp.array([0.0, 0.6, 0.4, 1.0]))
    with pytest.raises(ValueError, match="x must be one point"):
        an.diffusion_path(target, "cosine").score_fn(jnp.zeros(2), 0.5)
    with pytest.raises(ValueError, match="path"):
        an.dalmc(target, 0.5, an.uniform_time_grid(4))
    with pytest.raises(ValueError, match="initial_mean"):
        an.gaussian_dalmc_law(target, "cosine", 0.5, an.uniform_time_grid(4),
                              initial_mean=jnp.zeros(2))
    with pytest.raises(ValueError, match="num_ode_steps"):
        jax.jit(lambda k: an.gaussian_annealed_law(target, "cosine", k).mean)(0.5)


def test_ou_schedule_is_one_static_argument_compiled_once():
    """Issue 15: ``get_schedule("ou") == get_schedule("ou")`` was False (a fresh closure each
    call), so every call with the OU schedule recompiled and grew the jit cache."""
    assert an.get_schedule("ou") == an.get_schedule("ou")
    assert hash(an.ou_schedule(2.0)) == hash(an.ou_schedule(2.0))
    assert an.ou_schedule(2.0) != an.ou_schedule(3.0)
    target = lj.Gaussian.from_spectrum(jnp.zeros(2), jnp.array([0.5, 2.0]))
    an.gaussian_action_density(target, "ou", 0.5)  # compile (or reuse) once
    before = action_bound._action_density._cache_size()
    for _ in range(3):
        v = an.gaussian_action_density(target, an.ou_schedule(3.0), jnp.float32(0.5))
    assert action_bound._action_density._cache_size() == before
    assert np.isfinite(float(v))
    an.gaussian_action_density(target, an.ou_schedule(1.5), 0.5)  # another horizon: one more
    assert action_bound._action_density._cache_size() == before + 1


def test_schedules_compare_and_hash_by_value():
    assert an.get_schedule("ou") == an.get_schedule("ou")
    assert hash(an.get_schedule("ou")) == hash(an.get_schedule("ou"))
    assert an.get_schedule("ou", horizon=2.0) == an.OUSchedule(horizon=2.0) != an.ou_schedule(3.0)
    assert an.OUSchedule(2) == an.OUSchedule(2.0) and an.OUSchedule(2).horizon == 2.0
    for name, kind in (("linear", an.LinearSchedule), ("cosine", an.CosineSchedule)):
        assert an.get_schedule(name) == kind() and hash(an.get_schedule(name)) == hash(kind())
    assert an.linear_schedule() != an.cosine_schedule()
    # a user schedule is equal (and hashes) by its function's identity and its name
    fn = lambda t: jnp.asarray(t) ** 2  # noqa: E731
    assert an.custom_schedule(fn, "q") == an.CustomSchedule(fn, "q")
    assert hash(an.custom_schedule(fn, "q")) == hash(an.custom_schedule(fn, "q"))
    assert an.custom_schedule(fn, "q") != an.custom_schedule(lambda t: jnp.asarray(t) ** 2, "q")
    assert an.custom_schedule(fn, "q") != an.custom_schedule(fn, "r")
    # the attributes of the former NamedTuple
    for sched, name in ((an.linear_schedule(), "linear"), (an.cosine_schedule(), "cosine"),
                        (an.ou_schedule(2.0), "ou"), (an.custom_schedule(fn, "q"), "q")):
        assert isinstance(sched, an.AnnealingSchedule) and sched.name == name
        assert (sched.horizon == 2.0) if name == "ou" else math.isnan(sched.horizon)
        t = jnp.linspace(0.0, 1.0, 5)
        np.testing.assert_array_equal(sched(t), sched.lambda_fn(t))
        np.testing.assert_array_equal(sched(t), sched.lam(t))
    assert an.custom_schedule(fn, "q").lambda_fn is fn


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_closed_form_rate_is_the_derivative_of_lambda(schedule):
    sched = _schedule(schedule)
    t = jnp.linspace(0.0, 1.0, 101)
    grad = jax.vmap(jax.grad(sched.lam))(t)
    np.testing.assert_allclose(sched.rate(t), grad, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.jit(sched.rate)(t), grad, rtol=1e-6, atol=1e-7)
    assert sched.rate(jnp.arange(2)).dtype == jnp.float32  # integer times read as float


def test_eps_denoiser_path_matches_closed_form_path_at_the_noise_levels():
    """A DDPM noise predictor (the ``nn`` convention: integer levels, ``alphabar``) drives the
    path through ``eps_denoiser_path``: with the exact eps of a Gaussian target its score is the
    closed-form path's at every time whose ``lambda_t`` is a level's ``alphabar``."""
    from langevin_jax import diffusion

    with jax.enable_x64(True):
        target = _rotated_gaussian(dtype=jnp.float64)
        noise = diffusion.linear_schedule(1000)
        eps_fn = diffusion.gaussian_eps_fn(noise, target.mean, target.covariance)
        for name in ("cosine", "ou", "quadratic"):
            sched = _schedule(name)
            bridged = an.eps_denoiser_path(eps_fn, noise, sched, 3, target_sample_fn=target.sample)
            exact = an.diffusion_path(target, sched)
            # t_k = lambda^{-1}(alphabar_k), by bisection on the nondecreasing lambda
            levels = np.array([1, 10, 100, 400, 1000])
            ab = noise.alphabars[levels - 1].astype(jnp.float64)
            ab = ab[ab >= sched.lam(0.0)]  # OU: lambda_0 = exp(-2T) > 0 misses the top levels
            lo, hi = jnp.zeros_like(ab), jnp.ones_like(ab)
            for _ in range(80):
                mid = 0.5 * (lo + hi)
                below = sched.lam(mid) < ab
                lo, hi = jnp.where(below, mid, lo), jnp.where(below, hi, mid)
            ts = 0.5 * (lo + hi)
            ys = jax.random.normal(jax.random.key(7), (4, 3), jnp.float64) * 2.0
            for t in ts:
                got = jax.vmap(bridged.score_fn, (0, None))(ys, t)
                want = jax.vmap(exact.score_fn, (0, None))(ys, t)
                np.testing.assert_allclose(got, want, rtol=1e-6)  # sqrt(1 - alphabar) in float32
        # between levels: the score of the path at the nearest level's alphabar
        t = 0.41
        lam = float(sched.lam(t))
        k = int(np.argmin(np.abs(np.asarray(noise.alphabars, np.float64) - lam))) + 1
        want = diffusion.score_from_eps(eps_fn, noise)(ys[0], k)
        np.testing.assert_array_equal(bridged.score_fn(ys[0], t), want)
        # one call to a sampler; the exact sampler comes from target_sample_fn
        algo = an.dalmc(bridged, 0.5, an.uniform_time_grid(8))
        out = lj.run(jax.random.key(8), algo, jnp.zeros((16, 3)), 8)
        assert out.info.num_nonfinite == 0
        assert bridged.sample_fn(jax.random.key(9), 0.5, 5).shape == (5, 3)
    with pytest.raises(ValueError, match="noise_schedule"):
        an.eps_denoiser_path(eps_fn, "linear", "cosine", 3)
    with pytest.raises(ValueError, match="eps_fn"):
        an.eps_denoiser_path(None, noise, "cosine", 3)


def test_dalmc_is_a_sampler():
    from langevin_jax import samplers

    assert an.dalmc is samplers.dalmc
    assert samplers.dalmc.init is samplers.annealed_langevin.init


def test_make_schedule_is_a_deprecated_name_of_get_schedule():
    from langevin_jax import annealing, diffusion
    from langevin_jax.annealing import schedules

    assert "make_schedule" not in annealing.__all__  # one name per thing: get_schedule
    for module in (annealing, schedules):
        with pytest.warns(DeprecationWarning, match="get_schedule"):
            assert module.make_schedule is annealing.get_schedule
    assert annealing.get_schedule("ou", horizon=2.0) == annealing.OUSchedule(2.0)
    # diffusion.make_schedule is the other kind: DDPM noise levels, not lambda(t)
    assert isinstance(diffusion.make_schedule("linear"), diffusion.NoiseSchedule)
