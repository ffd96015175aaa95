"""Closed forms of the DSM -> Langevin pipeline (langevin_jax.gaussian_dsm), checked three ways."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from langevin_jax import gaussian_dsm as gd
from langevin_jax import theory
from tests.conftest import assert_within_se

SETTINGS = [
    dict(sigma=0.1, eta=0.01),
    dict(sigma=0.1, eta=0.01, gamma=0.5, num_dsm_steps=30),
    dict(sigma=0.2, eta=0.02, num_ula_steps=50),
    dict(sigma=0.05, eta=0.004, gamma=1.0, num_dsm_steps=7, num_ula_steps=300),
]


def _basis(key, d):
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return jnp.asarray(q * np.sign(np.diag(r)), jnp.float64)


def _rotated(lam, basis):
    return (basis * lam) @ basis.T


@pytest.mark.parametrize("kw", SETTINGS)
def test_kernel_formula_equals_exact_bures_when_commuting(kw):
    with jax.enable_x64(True):
        d = 12
        lam = gd.power_law_spectrum(d, 1.0)
        basis = _basis(jax.random.key(1), d)
        sig = _rotated(lam, basis)
        zero = jnp.zeros(d)
        # population limit: Sigma_hat = Sigma
        formula = gd.kernel_w2(lam, **kw) ** 2
        c = gd.pipeline_covariance(sig, **kw)
        scale = float(jnp.trace(sig) + jnp.trace(c))
        eps = 50 * np.finfo(np.float64).eps * scale
        assert abs(float(formula - gd.sampling_w2(sig, c) ** 2)) <= eps
        assert abs(float(formula - theory.gaussian_w2(zero, sig, zero, c) ** 2)) <= eps
        assert abs(float(formula - gd.pipeline_w2(sig, None, **kw) ** 2)) <= eps
        # any Sigma_hat sharing Sigma's eigenvectors: W2^2 = sum (sqrt(lambda) - sqrt(phi(mu)))^2
        mu = lam * jnp.exp(0.3 * jax.random.normal(jax.random.key(2), (d,)))
        c2 = gd.pipeline_covariance(_rotated(mu, basis), **kw)
        phi = gd.sampled_variance(mu, **kw)
        expected = jnp.sum((jnp.sqrt(lam) - jnp.sqrt(phi)) ** 2)
        assert abs(float(expected - gd.sampling_w2(sig, c2) ** 2)) <= eps


def test_dsm_score_matrix_minimises_the_loss_and_matches_gradient_descent():
    with jax.enable_x64(True):
        d, sigma, gamma, num_steps = 6, 0.3, 0.4, 25
        x = jax.random.normal(jax.random.key(0), (8, d)) * jnp.sqrt(gd.power_law_spectrum(d, 1.0))
        emp = x.T @ x / 8
        a_inf = gd.dsm_score_matrix(emp, sigma)
        np.testing.assert_allclose(a_inf, jnp.linalg.inv(emp + sigma**2 * jnp.eye(d)), rtol=1e-12)
        grad = jax.grad(gd.dsm_loss)(a_inf, emp, sigma)
        assert float(jnp.max(jnp.abs(grad))) < 1e-12
        a = jnp.zeros((d, d))  # gradient descent on the loss itself, from 0
        for _ in range(num_steps):
            a = a - gamma * jax.grad(gd.dsm_loss)(a, emp, sigma)
        np.testing.assert_allclose(gd.dsm_score_matrix(emp, sigma, num_steps, gamma), a,
                                   rtol=1e-11, atol=1e-13)
        mu = jnp.linalg.eigvalsh(emp)
        np.testing.assert_allclose(jnp.linalg.eigvalsh(a),
                                   jnp.sort(gd.dsm_eigenvalue(mu, sigma, num_steps, gamma)),
                                   rtol=1e-11)


def test_dsm_loss_matches_monte_carlo_over_the_noise(key):
    with jax.enable_x64(True):
        d, n, m, sigma = 6, 20, 2000, 0.5
        k_x, k_z, k_a = jax.random.split(key, 3)
        x = jax.random.normal(k_x, (n, d))
        a = jax.random.normal(k_a, (d, d))
        z = jax.random.normal(k_z, (m, n, d))
        y = x + sigma * z
        resid = -jnp.einsum("ij,mnj->mni", a, y) + z / sigma
        per_draw = 0.5 * jnp.mean(jnp.sum(resid**2, -1), axis=1)  # [m]
        se = float(jnp.std(per_draw) / math.sqrt(m))
        assert_within_se(float(jnp.mean(per_draw)), float(gd.dsm_loss(a, x.T @ x / n, sigma)), se,
                         what="DSM loss")


def test_ula_covariance_solves_the_lyapunov_recursion():
    with jax.enable_x64(True):
        d, eta = 6, 0.05
        lam = gd.power_law_spectrum(d, 1.5)
        a = gd.dsm_score_matrix(_rotated(lam, _basis(jax.random.key(3), d)), 0.2)
        b = jnp.eye(d) - eta * a
        c_inf = gd.ula_covariance(a, eta)
        np.testing.assert_allclose(b @ c_inf @ b + 2 * eta * jnp.eye(d), c_inf, rtol=1e-11)
        c = jnp.zeros((d, d))
        for _ in range(37):
            c = b @ c @ b + 2 * eta * jnp.eye(d)
        np.testing.assert_allclose(gd.ula_covariance(a, eta, 37), c, rtol=1e-11, atol=1e-14)
        eig = jnp.linalg.eigvalsh(a)
        np.testing.assert_allclose(jnp.linalg.eigvalsh(c_inf),
                                   jnp.sort(gd.ula_variance(eig, eta)), rtol=1e-11)
        np.testing.assert_allclose(jnp.linalg.eigvalsh(c),
                                   jnp.sort(gd.ula_variance(eig, eta, 37)), rtol=1e-11)


def test_ula_chains_with_the_linear_score_have_the_closed_form_covariance(key):
    # statistical: run the chains, compare every covariance entry with 5 standard errors
    with jax.enable_x64(True):
        d, eta, num_chains = 3, 0.05, 4000
        lam = jnp.asarray([1.0, 0.3, 0.1])
        a = gd.dsm_score_matrix(_rotated(lam, _basis(jax.random.key(4), d)), 0.2)
        c_inf = np.asarray(gd.ula_covariance(a, eta))
        c_20 = np.asarray(gd.ula_covariance(a, eta, 20))
    a32 = jnp.asarray(a, jnp.float32)
    out = lj.run(key, lj.ula(lambda x: -(a32 @ x), eta), jnp.zeros((num_chains, d)), 400,
                 save_every=20)
    assert out.info.num_nonfinite == 0
    for xs, c in ((out.trajectory[0], c_20), (out.positions, c_inf)):
        xs = np.asarray(xs, np.float64)
        emp = xs.T @ xs / num_chains  # the mean is known to be 0
        se = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / num_chains)
        assert_within_se(emp, c, se, what="ULA covariance")


def test_gradients_match_finite_differences():
    with jax.enable_x64(True):
        d = 12
        lam = gd.power_law_spectrum(d, 1.0)
        basis = _basis(jax.random.key(6), d)
        sig = _rotated(lam, basis)
        emp = gd.sample_empirical_covariance(jax.random.key(7), lam, 30, basis)
        kw = dict(num_dsm_steps=15, num_ula_steps=80)
        fns = {
            "kernel": lambda s, e, g, lam: gd.kernel_w2(lam, s, e, gamma=g, **kw),
            # exact matrices for a finite-n Sigma_hat (non-commuting), and the 1/n formula
            "exact, K and k finite": lambda s, e, g, lam: gd.pipeline_w2(sig, emp, s, e, gamma=g,
                                                                         **kw),
        }
        x0 = (0.2, 0.02, 0.6, lam)
        v = jax.random.normal(jax.random.key(5), (d,)) * lam  # a direction in spectrum space
        for name, f in fns.items():
            f = jax.jit(f)
            grads = jax.jit(jax.grad(f, argnums=(0, 1, 2, 3)))(*x0)
            fd = []
            for i in range(3):
                h = 1e-6 * x0[i]
                up, dn = list(x0), list(x0)
                up[i], dn[i] = x0[i] + h, x0[i] - h
                fd.append((f(*up) - f(*dn)) / (2 * h))
            fd.append((f(*x0[:3], lam + 1e-6 * v) - f(*x0[:3], lam - 1e-6 * v)) / 2e-6)
            got = [*grads[:3], jnp.dot(grads[3], v)]
            if name.startswith("exact"):
                got, fd = got[:3], fd[:3]  # Sigma_hat is fixed there; lam is unused
            np.testing.assert_allclose(got, fd, rtol=2e-6, err_msg=name)
        # the first-order finite-n formula (third derivatives of phi inside), in sigma
        f = jax.jit(lambda s: gd.expected_kernel_w2(lam, 500, s, 0.02))
        fd = (f(0.2 + 2e-7) - f(0.2 - 2e-7)) / 4e-7
        np.testing.assert_allclose(jax.jit(jax.grad(f))(0.2), fd, rtol=1e-5)


def test_simulated_w2_agrees_with_exact_within_monte_carlo_error(key):
    d, n, num_chains, num_reps, steps = 6, 40, 1000, 8, 150
    sigma, eta = 0.2, 0.03
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(d, 1.0)
        basis = _basis(jax.random.key(8), d)
        sig = _rotated(lam, basis)
        emp = gd.sample_empirical_covariance(jax.random.key(9), lam, n, basis)
        a = gd.dsm_score_matrix(emp, sigma)
        exact = float(gd.pipeline_w2(sig, emp, sigma, eta, num_ula_steps=steps))
        c = gd.pipeline_covariance(emp, sigma, eta, num_ula_steps=steps)
        bias = float(gd.gaussian_fit_w2_bias(sig, c, num_chains))
    a32 = jnp.asarray(a, jnp.float32)
    out = lj.run(key, lj.ula(lambda x: -(a32 @ x), eta), jnp.zeros((num_chains * num_reps, d)),
                 steps)
    xs = np.asarray(out.positions, np.float64).reshape(num_reps, num_chains, d)
    with jax.enable_x64(True):
        w2sq = np.asarray([float(theory.gaussian_w2(jnp.asarray(x.mean(0)), jnp.asarray(np.cov(x.T)),
                                                     jnp.zeros(d), sig)) ** 2 for x in xs])
    se = w2sq.std(ddof=1) / math.sqrt(num_reps)
    assert bias > se  # the fit's bias matters here: it must be corrected, not ignored
    assert_within_se(w2sq.mean() - bias, exact**2, se, what="simulated W2^2 (debiased)")


def test_gaussian_fit_w2_bias_matches_monte_carlo(key):
    with jax.enable_x64(True):
        d, num, reps = 6, 300, 1500
        lam = gd.power_law_spectrum(d, 1.0)
        sig = jnp.diag(lam)
        c = gd.pipeline_covariance(_rotated(lam, _basis(jax.random.key(10), d)), 0.3, 0.05,
                                   num_ula_steps=40)
        exact = float(gd.sampling_w2(sig, c)) ** 2
        chol = jnp.linalg.cholesky(c)

        def fit(k):
            x = jax.random.normal(k, (num, d)) @ chol.T
            m = x.mean(0)
            xc = x - m
            return theory.gaussian_w2(m, xc.T @ xc / (num - 1), jnp.zeros(d), sig) ** 2

        w = np.asarray(jax.jit(jax.vmap(fit))(jax.random.split(key, reps)))
        bias = float(gd.gaussian_fit_w2_bias(sig, c, num))
        se = w.std(ddof=1) / math.sqrt(reps)
        # tolerance: 5 SE plus the O(d/N) relative remainder of a leading-order formula
        assert abs(w.mean() - exact - bias) <= 5 * se + 0.05 * bias
        assert bias > 10 * se


def test_finite_sample_expansion_matches_monte_carlo_over_datasets(key):
    with jax.enable_x64(True):
        d, n, reps = 6, 2000, 1000
        lam = gd.power_law_spectrum(d, 1.0)
        sig = jnp.diag(lam)
        kw = dict(gamma=0.8, num_dsm_steps=20, num_ula_steps=100)
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())
        x = rng.standard_normal((reps, n, d)) * np.sqrt(np.asarray(lam))
        emps = jnp.asarray(np.transpose(x, (0, 2, 1)) @ x / n)  # Wishart(n, Sigma) / n draws
        w2sq = np.asarray(jax.jit(jax.vmap(lambda e: gd.pipeline_w2(sig, e, 0.3, 0.05, **kw)))(
            emps)) ** 2
        pop = float(gd.kernel_w2(lam, 0.3, 0.05, **kw)) ** 2
        correction = float(jnp.sum(gd.finite_sample_kernel(lam, 0.3, 0.05, **kw))) / n
        se = w2sq.std(ddof=1) / math.sqrt(reps)
        assert correction > 5 * se
        assert abs(w2sq.mean() - pop - correction) <= 5 * se + 0.05 * correction
        expected = float(gd.expected_kernel_w2(lam, n, 0.3, 0.05, **kw)) ** 2
        assert expected == pytest.approx(pop + correction, rel=1e-12)


def test_error_decomposition_sources():
    with jax.enable_x64(True):
        d = 12
        lam = gd.power_law_spectrum(d, 1.0)
        sig = _rotated(lam, _basis(jax.random.key(11), d))
        sigma, eta, gamma, big_k, k = 0.2, 0.05, 0.5, 12, 40
        kw = dict(gamma=gamma, num_dsm_steps=big_k, num_ula_steps=k)
        dec = gd.error_decomposition(sig, None, sigma, eta, **kw)
        norm = lambda c: math.sqrt(float(jnp.sum((jnp.sqrt(lam) - jnp.sqrt(c)) ** 2)))
        assert float(dec.total) == pytest.approx(float(gd.kernel_w2(lam, sigma, eta, **kw)),
                                                 rel=1e-10)
        assert float(dec.alone.finite_samples) == 0.0
        expected = dict(
            optimisation=norm(lam / (1 - (1 - gamma * lam) ** big_k)),
            noise_level=norm(lam + sigma**2),
            discretisation=norm(lam / (1 - eta / (2 * lam))),
            finite_time=norm(lam * (1 - jnp.exp(-2 * eta * k / lam))),
        )
        for name, value in expected.items():
            assert float(getattr(dec.alone, name)) == pytest.approx(value, rel=1e-8), name
        # finite n: the samples source is W2(Sigma, Sigma_hat); marginals are leave-one-out
        emp = gd.sample_empirical_covariance(jax.random.key(12), lam, 50, _basis(
            jax.random.key(11), d))
        dec = gd.error_decomposition(sig, emp, sigma, eta, **kw)
        assert float(dec.alone.finite_samples) == pytest.approx(float(gd.sampling_w2(sig, emp)),
                                                                rel=1e-8)
        total = float(gd.pipeline_w2(sig, emp, sigma, eta, **kw))
        assert float(dec.total) == pytest.approx(total, rel=1e-8)
        stationary = float(gd.pipeline_w2(sig, emp, sigma, eta, gamma=gamma, num_dsm_steps=big_k))
        assert float(dec.marginal.finite_time) == pytest.approx(total - stationary, rel=1e-6)
        population = float(gd.kernel_w2(lam, sigma, eta, **kw))
        assert float(dec.marginal.finite_samples) == pytest.approx(total - population, rel=1e-6)


def test_optimal_sigma_by_gradient_descent_matches_grid_and_is_vmappable():
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(12, 2.0)
        etas = jnp.asarray([0.01, 0.03])
        s_star, w_star = jax.jit(jax.vmap(gd.optimal_sigma, (None, 0)))(lam, etas)
        grid = jnp.linspace(0.01, 0.4, 400)
        vals = jax.jit(jax.vmap(jax.vmap(gd.kernel_w2, (None, 0, None)), (None, None, 0)))(
            lam, grid, etas)
        dw = jax.jit(jax.vmap(jax.grad(lambda g, e: gd.kernel_w2(lam, g, e) ** 2)))(s_star, etas)
        for j in range(len(etas)):
            assert float(w_star[j]) <= float(jnp.min(vals[j])) + 1e-12
            assert abs(float(s_star[j] - grid[jnp.argmin(vals[j])])) <= float(grid[1] - grid[0])
            assert abs(float(dw[j])) < 1e-6
        # when every eigenvalue is well above eta, sigma = 0 is optimal (both sources inflate C)
        s0, _ = gd.optimal_sigma(jnp.linspace(0.5, 1.0, 5), 0.01)
        assert float(s0) < 1e-6


def test_kernel_under_jit_and_vmap_matches_eager():
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(12, 1.0)
        sigmas = jnp.asarray([0.1, 0.2, 0.4])
        eager = [float(gd.kernel_w2(lam, s, 0.01, num_ula_steps=30)) for s in sigmas]
        batched = jax.jit(jax.vmap(lambda s: gd.kernel_w2(lam, s, 0.01, num_ula_steps=30)))(sigmas)
        np.testing.assert_allclose(batched, eager, rtol=1e-13)
        sig = jnp.diag(lam)
        mats = jax.jit(jax.vmap(lambda s: gd.pipeline_w2(sig, None, s, 0.01, num_ula_steps=30)))(
            sigmas)
        np.testing.assert_allclose(mats, eager, rtol=1e-10)


def test_unstable_step_raises_eagerly_and_is_inf_under_jit():
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(12, 2.0)
        bound = float(gd.max_stable_eta(lam, 0.1))
        assert bound == pytest.approx(2 * (lam[-1] + 0.01))
        assert np.isfinite(float(gd.kernel_w2(lam, 0.1, 0.99 * bound)))
        with pytest.raises(ValueError, match="eta"):
            gd.kernel_w2(lam, 0.1, 1.01 * bound)
        with pytest.raises(ValueError, match="eta"):
            gd.pipeline_w2(jnp.diag(lam), None, 0.1, 1.01 * bound)
        assert float(jax.jit(lambda e: gd.kernel_w2(lam, 0.1, e))(1.01 * bound)) == math.inf
        a = gd.dsm_score_matrix(jnp.diag(lam), 0.1)
        assert not np.any(np.isfinite(jax.jit(gd.ula_covariance)(a, 1.01 * bound)))
        assert float(jax.jit(lambda e: gd.pipeline_w2(jnp.diag(lam), None, 0.1, e))(
            1.01 * bound)) == math.inf


@pytest.mark.parametrize("call, match", [
    (lambda lam: gd.kernel_w2(lam, -0.1, 0.01), "sigma"),
    (lambda lam: gd.kernel_w2(lam, 0.1, 0.0), "eta"),
    (lambda lam: gd.kernel_w2(lam, 0.1, 0.01, num_dsm_steps=10), "gamma"),
    (lambda lam: gd.kernel_w2(lam, 0.1, 0.01, gamma=2.5, num_dsm_steps=10), "gamma"),
    (lambda lam: gd.kernel_w2(lam, 0.1, 0.01, num_ula_steps=2.5), "num_ula_steps"),
    (lambda lam: gd.kernel_w2(-lam, 0.1, 0.01), "spectrum"),
    (lambda lam: gd.kernel_w2(jnp.diag(lam), 0.1, 0.01), "spectrum"),
    (lambda lam: gd.dsm_score_matrix(jnp.diag(lam), 0.1, 5), "gamma"),
    (lambda lam: gd.dsm_score_matrix(jnp.zeros((3, 3)), 0.0), "sigma"),
    (lambda lam: gd.dsm_score_matrix(lam, 0.1), "empirical_covariance"),
    (lambda lam: gd.ula_covariance(-jnp.eye(3), 0.1), "score_matrix"),
    (lambda lam: gd.sampling_w2(jnp.eye(3), jnp.eye(4)), "sampled_covariance"),
    (lambda lam: gd.pipeline_w2(jnp.eye(4), jnp.eye(3), 0.1, 0.01), "empirical_covariance"),
    (lambda lam: gd.sample_empirical_covariance(jax.random.key(0), lam, 0), "num_samples"),
    (lambda lam: gd.error_decomposition(jnp.eye(3), None, 0.1, 5.0), "eta"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, match):
    lam = gd.power_law_spectrum(3, 1.0)
    with pytest.raises(ValueError, match=match):
        call(lam)
