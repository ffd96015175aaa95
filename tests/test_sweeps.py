import jax
import jax.numpy as jnp
import numpy as np
import pytest

from langevin_jax import scores, sweeps

D_MAX = 12
DIMS = [2, 5, 12]


def _spectrum(d_max):
    return 1.0 / jnp.arange(1, d_max + 1, dtype=jnp.float32) ** 0.5


def test_prefix_normal_is_prefix_consistent():
    key = jax.random.key(0)
    long = prefix_normal = sweeps.prefix_normal(key, 10)
    np.testing.assert_array_equal(np.asarray(long[:4]), np.asarray(sweeps.prefix_normal(key, 4)))
    assert abs(float(jnp.mean(sweeps.prefix_normal(key, 20000)))) < 5 / np.sqrt(20000)
    del prefix_normal


def _gauss_run(key, h, d, mask, d_max, steps=50, chains=64):
    lam = sweeps.pad_spectrum(_spectrum(d_max), mask)
    x0 = jnp.ones((chains, d_max)) * mask
    return sweeps.masked_ula(key, lambda x: -x / lam, h, x0, steps, mask)


def test_padded_equals_unpadded_bitwise():
    key = jax.random.key(1)
    masks = sweeps.dimension_masks(DIMS, D_MAX)
    for d, mask in zip(DIMS, masks):
        padded = jax.jit(_gauss_run, static_argnums=(2, 4))(key, 0.1, d, mask, D_MAX)
        unpadded = jax.jit(_gauss_run, static_argnums=(2, 4))(key, 0.1, d, jnp.ones(d), d)
        np.testing.assert_array_equal(np.asarray(padded[:, :d]), np.asarray(unpadded))
        assert np.all(np.asarray(padded[:, d:]) == 0.0)


def test_trap_score_padded_equals_unpadded():
    key = jax.random.key(2)

    def run(d_arr, mask, d_max):
        mu = 3.0 * mask
        r = jnp.sqrt(d_arr.astype(jnp.float32))
        s = scores.trap_score(mu, 1.5 * r, 2.0 * r, 2.0)
        x0 = 0.1 * jnp.ones((16, d_max)) * mask
        return sweeps.masked_ula(key, s, 0.01, x0, 30, mask)

    masks = sweeps.dimension_masks(DIMS, D_MAX)
    padded = sweeps.sweep(lambda d, m: run(d, m, D_MAX), DIMS, D_MAX)
    for j, d in enumerate(DIMS):
        unpadded = run(jnp.asarray(d), jnp.ones(d), d)
        np.testing.assert_allclose(padded[j][:, :d], unpadded, rtol=1e-6, atol=1e-6)
        assert np.all(np.asarray(padded[j][:, d:]) == 0.0)
    del masks


def test_one_compilation_for_the_whole_sweep():
    traces = []

    def fn(d, mask):
        traces.append(1)  # runs once per trace
        return sweeps.ula_gaussian_w2_masked(0.1, _spectrum(D_MAX), mask, 20)

    out = sweeps.sweep(fn, [1, 2, 3, 5, 8, 12], D_MAX)
    assert out.shape == (6,) and len(traces) == 1
    assert np.all(np.diff(np.asarray(out)) > 0)  # more dimensions, more error


def test_closed_form_matches_simulation_and_gradients():
    d = 5
    mask = jnp.ones(D_MAX).at[d:].set(0.0)
    lam = _spectrum(D_MAX)
    steps, chains = 30, 20000
    exact = sweeps.ula_gaussian_w2_masked(0.2, lam, mask, steps)
    x = _gauss_run(jax.random.key(3), 0.2, d, mask, D_MAX, steps, chains)
    sim = sweeps.diag_fit_w2_masked(x, lam, mask)
    # the fit's O(d/n) bias and its spread are both ~1e-2 here
    assert abs(float(sim) - float(exact)) < 0.02
    # gradient of the closed form w.r.t. h matches central finite differences (float64)
    with jax.enable_x64(True):
        lam64 = lam.astype(jnp.float64)
        f = lambda h: sweeps.ula_gaussian_w2_masked(h, lam64, mask.astype(jnp.float64), steps)
        g = jax.grad(f)(0.2)
        fd = (f(0.2 + 1e-6) - f(0.2 - 1e-6)) / 2e-6
        np.testing.assert_allclose(g, fd, rtol=1e-6)
    # gradient through simulated chains (reparametrised noise) has the closed form's sign
    gs = jax.grad(lambda h: sweeps.diag_fit_w2_masked(
        _gauss_run(jax.random.key(3), h, d, mask, D_MAX, steps, 4000), lam, mask))(0.05)
    gc = jax.grad(lambda h: sweeps.ula_gaussian_w2_masked(h, lam, mask, steps))(0.05)
    assert np.sign(float(gs)) == np.sign(float(gc)) and np.isfinite(float(gs))


def test_closed_form_is_theorys_ula_law_on_the_used_coordinates():
    # one home for the law of ULA on a Gaussian: the masked W2 is theory.ula_gaussian_law's
    # law from N(start, 0), compared coordinate by coordinate with N(0, lambda)
    from langevin_jax import theory

    d, h, steps, start = 5, 0.1, 40, 1.5
    mask = jnp.ones(D_MAX).at[d:].set(0.0)
    with jax.enable_x64(True):
        lam = _spectrum(D_MAX).astype(jnp.float64)
        mean_k, var_k = theory.ula_gaussian_law(0.0, lam[:d], h, steps, start, 0.0)
        w2 = jnp.sqrt(jnp.sum(mean_k**2 + (jnp.sqrt(lam[:d]) - jnp.sqrt(var_k)) ** 2))
        got = sweeps.ula_gaussian_w2_masked(h, lam, mask.astype(jnp.float64), steps, start)
        np.testing.assert_allclose(float(got), float(w2), rtol=1e-12)
    # the padded eigenvalues (1) never reach theory's eager check, and the gradients through
    # h and the eigenvalues stay finite under the mask (zero on padded coordinates)
    g_h, g_lam = jax.grad(lambda hh, ll: sweeps.ula_gaussian_w2_masked(hh, ll, mask, steps),
                          argnums=(0, 1))(0.05, _spectrum(D_MAX))
    assert np.isfinite(float(g_h)) and np.all(np.isfinite(np.asarray(g_lam)))
    assert np.all(np.asarray(g_lam)[d:] == 0.0)


def test_bad_dims():
    with pytest.raises(ValueError, match="d_max"):
        sweeps.dimension_masks([3, 20], 10)
    with pytest.raises(ValueError, match="dims entries"):
        sweeps.dimension_masks([0, 2])


def test_precomputed_noise_equals_on_the_fly():
    key = jax.random.key(5)
    mask = jnp.ones(D_MAX).at[4:].set(0.0)
    x0 = jnp.ones((8, D_MAX)) * mask
    a = sweeps.masked_ula(key, lambda x: -x, 0.1, x0, 7, mask)
    noise = sweeps.prefix_noise(key, 7, 8, D_MAX)
    b = sweeps.masked_ula(None, lambda x: -x, 0.1, x0, 7, mask, noise=noise)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_masked_fit_kl_equals_unpadded():
    from langevin_jax import metrics

    d = 4
    x = jax.random.normal(jax.random.key(6), (500, d)) + 0.3
    mean = jnp.full((d,), 0.1)
    padded = jnp.zeros((500, D_MAX)).at[:, :d].set(x)
    mask = jnp.zeros(D_MAX).at[:d].set(1.0)
    got = sweeps.masked_gaussian_fit_kl(padded, jnp.zeros(D_MAX).at[:d].set(mean), mask)
    np.testing.assert_allclose(got, metrics.gaussian_fit_kl(x, mean, jnp.eye(d)), rtol=1e-4)


def test_per_dimension_gradients_wrt_trap_radius_alpha_and_dsm_noise():
    """jax.grad through a padded sweep, w.r.t. continuous parameters, one value per d, checked
    against central finite differences of the same (reparametrised, hence deterministic) output."""
    from langevin_jax import gaussian_dsm

    dims, d_max = [2, 5, 8], 8
    key = jax.random.key(11)
    with jax.enable_x64(True):
        def trap_metric(params, d_arr, mask):
            r_in, alpha = params[0], params[1]
            r = jnp.sqrt(d_arr.astype(jnp.float64))
            score = scores.trap_score(2.0 * mask, r_in * r, (r_in + 0.5) * r, alpha)
            x0 = jnp.zeros((64, d_max), jnp.float64)
            x = sweeps.masked_ula(key, score, 0.05, x0, 60, mask)
            return jnp.mean(jnp.sum(x**2, axis=1)) / d_arr  # smooth in (r_in, alpha)

        params = jnp.array([1.0, 1.5])
        grads = np.asarray(sweeps.sweep(lambda d, m: jax.grad(trap_metric)(params, d, m), dims, d_max))
        assert grads.shape == (3, 2) and np.all(np.isfinite(grads)) and np.all(grads != 0)
        for i in range(2):
            e = jnp.zeros(2).at[i].set(1e-5)
            plus = sweeps.sweep(lambda d, m, e=e: trap_metric(params + e, d, m), dims, d_max)
            minus = sweeps.sweep(lambda d, m, e=e: trap_metric(params - e, d, m), dims, d_max)
            np.testing.assert_allclose(grads[:, i], (plus - minus) / 2e-5, rtol=1e-4, atol=1e-8)

        lam = 1.0 / jnp.arange(1, d_max + 1, dtype=jnp.float64)

        def dsm_w2_sq(sigma, d_arr, mask):
            k = gaussian_dsm.kernel(sweeps.pad_spectrum(lam, mask), sigma, 0.05)
            return jnp.sum(mask * k)

        g = np.asarray(sweeps.sweep(lambda d, m: jax.grad(dsm_w2_sq)(0.3, d, m), dims, d_max))
        fd = np.asarray((sweeps.sweep(lambda d, m: dsm_w2_sq(0.3 + 1e-6, d, m), dims, d_max)
                         - sweeps.sweep(lambda d, m: dsm_w2_sq(0.3 - 1e-6, d, m), dims, d_max)) / 2e-6)
        np.testing.assert_allclose(g, fd, rtol=1e-6)
        # each d's value equals the unpadded closed form
        for d, v in zip(dims, np.asarray(sweeps.sweep(lambda d, m: dsm_w2_sq(0.3, d, m), dims, d_max))):
            np.testing.assert_allclose(v, float(jnp.sum(gaussian_dsm.kernel(lam[:d], 0.3, 0.05))), rtol=1e-12)
