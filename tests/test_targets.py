import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from tests.conftest import assert_within_se


def _random_spd(key, d):
    a = jax.random.normal(key, (d, d))
    return a @ a.T / d + 0.5 * jnp.eye(d)


def _targets():
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    d = 4
    q, _ = jnp.linalg.qr(jax.random.normal(k1, (d, d)))
    return {
        "gaussian": lj.Gaussian.create(jnp.arange(d, dtype=jnp.float32), _random_spd(k2, d)),
        "spectrum": lj.Gaussian.from_spectrum(jnp.ones(d), jnp.array([0.5, 1.0, 2.0, 4.0]), q),
        "isotropic": lj.IsotropicGaussian.create(jnp.ones(d), 2.0),
        "mixture": lj.GaussianMixture.create(
            jnp.array([0.3, 0.7]),
            jnp.stack([-jnp.ones(d), 2 * jnp.ones(d)]),
            jnp.stack([_random_spd(k3, d), 0.5 * jnp.eye(d)]),
        ),
    }


TARGETS = _targets()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_score_equals_grad_log_prob(name):
    target = TARGETS[name]
    xs = 2.0 * jax.random.normal(jax.random.key(2), (16, target.dim))
    expected = jax.vmap(jax.grad(target.log_prob))(xs)
    got = jax.vmap(target.score)(xs)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4)
    # and under jit
    np.testing.assert_allclose(jax.jit(jax.vmap(target.score))(xs), got, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["gaussian", "spectrum", "isotropic"])
def test_gaussian_log_prob_matches_scipy_formula(name):
    target = TARGETS[name]
    xs = jax.random.normal(jax.random.key(3), (8, target.dim))
    expected = jax.scipy.stats.multivariate_normal.logpdf(xs, target.mean, target.covariance)
    np.testing.assert_allclose(jax.vmap(target.log_prob)(xs), expected, rtol=1e-4, atol=1e-4)


def test_mixture_log_prob_is_normalised_in_1d():
    mix = lj.GaussianMixture.create(jnp.array([0.25, 0.75]), jnp.array([[-2.0], [3.0]]),
                                    jnp.array([0.5, 2.0]))
    grid = jnp.linspace(-15, 20, 20001)[:, None]
    dens = jnp.exp(jax.vmap(mix.log_prob)(grid))
    np.testing.assert_allclose(jnp.trapezoid(dens, grid[:, 0]), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_sample_moments_match_closed_form(name):
    target = TARGETS[name]
    n = 200_000
    xs = np.asarray(target.sample(jax.random.key(4), n), np.float64)
    var = np.diag(np.asarray(target.covariance))
    assert_within_se(xs.mean(0), target.mean, np.sqrt(var / n), what="mean")
    emp_cov = np.cov(xs.T)
    # SE of a covariance entry for Gaussian data: sqrt((S_ii S_jj + S_ij^2)/n); mixtures have
    # heavier fourth moments, so allow a looser factor there (still an MC-derived tolerance).
    cov = np.asarray(target.covariance)
    se = np.sqrt((np.outer(var, var) + cov**2) / n)
    num_se = 5.0 if name != "mixture" else 10.0
    assert_within_se(emp_cov, cov, se, num_se=num_se, what="covariance")


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="covariance must have shape"):
        lj.Gaussian.create(jnp.zeros(3), jnp.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        lj.Gaussian.create(jnp.zeros(2), -jnp.eye(2))
    with pytest.raises(ValueError, match="eigenvalues must be > 0"):
        lj.Gaussian.from_spectrum(jnp.zeros(2), jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="variance"):
        lj.IsotropicGaussian.create(jnp.zeros(2), 0.0)
    with pytest.raises(ValueError, match="weights must have shape"):
        lj.GaussianMixture.create(jnp.ones(3), jnp.zeros((2, 2)), jnp.ones(2))
    with pytest.raises(ValueError, match="x must be one point"):
        TARGETS["isotropic"].score(jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="num must be"):
        TARGETS["isotropic"].sample(jax.random.key(0), 0)


def test_targets_are_pytrees_through_jit():
    target = TARGETS["mixture"]
    f = jax.jit(lambda t, x: t.log_prob(x))
    x = jnp.ones(target.dim)
    np.testing.assert_allclose(f(target, x), target.log_prob(x), rtol=1e-6)


@pytest.mark.parametrize("make, match", [
    # (issue 13, item 5) each of these used to build a different distribution silently
    (lambda: lj.Gaussian.create(jnp.zeros(2), jnp.array([[1.0, 5.0], [-5.0, 1.0]])), "covariance must be symmetric"),
    (lambda: lj.Gaussian.from_spectrum(jnp.zeros(2), jnp.array([1.0, 2.0]), jnp.array([[1.0, 1.0], [0.0, 1.0]])),
     "basis must be orthonormal"),
    (lambda: lj.Gaussian.create(jnp.array([0.0, jnp.nan]), jnp.eye(2)), "mean contains NaN"),
    (lambda: lj.IsotropicGaussian.create(jnp.array([jnp.nan, 0.0])), "mean contains NaN"),
    (lambda: lj.IsotropicGaussian.create(jnp.zeros(2), jnp.array([1.0, 2.0])), "variance must be a scalar"),
    (lambda: lj.GaussianMixture.create(jnp.array([1.0, 3.0]), jnp.zeros((2, 1)), jnp.ones(2)),
     "weights must sum to 1, got sum 4"),
    (lambda: lj.GaussianMixture.create(jnp.array([0.5, 0.5]), jnp.array([[0.0], [jnp.nan]]), jnp.ones(2)),
     "means contains NaN"),
    (lambda: lj.GaussianMixture.create(jnp.array([0.5, 0.5]), jnp.zeros((2, 2)),
                                       jnp.array([[[1.0, 0.5], [0.0, 1.0]]] * 2)), "covariances must be symmetric"),
])
def test_targets_never_change_the_distribution_silently(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_rotated_spectrum_keeps_its_eigenvalues():
    theta = 0.3
    basis = jnp.array([[jnp.cos(theta), -jnp.sin(theta)], [jnp.sin(theta), jnp.cos(theta)]])
    g = lj.Gaussian.from_spectrum(jnp.zeros(2), jnp.array([1.0, 2.0]), basis)
    np.testing.assert_allclose(np.linalg.eigvalsh(np.asarray(g.covariance)), [1.0, 2.0], rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TARGETS))
@pytest.mark.parametrize("bad", [0, 1.5, jnp.zeros(3, jnp.uint32), jnp.zeros(2, jnp.float32),
                                 jax.random.split(jax.random.key(0), 2)])
def test_sample_names_a_bad_key(name, bad):
    # (issue 13, item 11) an int key died in JAX's "invalid PRNG key data" TypeError
    with pytest.raises(ValueError, match="key must be a PRNG key|single PRNG key"):
        TARGETS[name].sample(bad, 3)
    assert TARGETS[name].sample(jax.random.PRNGKey(0), 3).shape == (3, 4)  # legacy uint32[2]


def test_targets_satisfy_the_target_protocol():
    """The members the metrics and experiments assume (issue 15), as a checked protocol."""
    import jax.numpy as jnp

    from langevin_jax.types import Target

    eye = jnp.eye(2)
    for t in (lj.Gaussian.create(jnp.zeros(2), eye), lj.IsotropicGaussian.create(jnp.zeros(2)),
              lj.GaussianMixture.create(jnp.array([0.5, 0.5]), jnp.zeros((2, 2)),
                                        jnp.stack([eye, eye]))):
        assert isinstance(t, Target)

    class NoScore:
        dim = 2

        def sample(self, key, num):
            return jnp.zeros((num, 2))

        def log_prob(self, x):
            return 0.0

    assert not isinstance(NoScore(), Target)


def test_random_orthogonal_is_orthogonal_and_haar():
    from langevin_jax.targets import random_orthogonal

    q = random_orthogonal(jax.random.key(0), 6)
    np.testing.assert_allclose(np.asarray(q.T @ q), np.eye(6), atol=1e-5)
    with jax.enable_x64(True):
        assert random_orthogonal(jax.random.key(0), 3).dtype == jnp.float64
    # Haar in d = 2: the first column is uniform on the circle, E[Q_11] = 0, E[Q_11^2] = 1/2.
    # Plain QR (no sign correction by R's diagonal) puts it in the half plane Q_11 <= 0 only
    reps = 4000
    qs = jax.vmap(lambda k: random_orthogonal(k, 2))(jax.random.split(jax.random.key(1), reps))
    q11 = np.asarray(qs[:, 0, 0], np.float64)
    assert abs(q11.mean()) < 5 * q11.std() / np.sqrt(reps)
    assert abs((q11**2).mean() - 0.5) < 5 * (q11**2).std() / np.sqrt(reps)
    # first column uniform on the circle: its angle's quadrants are equally likely
    angle = np.arctan2(np.asarray(qs[:, 1, 0]), q11)
    counts = np.histogram(angle, bins=4, range=(-np.pi, np.pi))[0]
    se = np.sqrt(reps * 0.25 * 0.75)
    assert np.all(np.abs(counts - reps / 4) < 5 * se), counts
    with pytest.raises(ValueError, match="d must be"):
        random_orthogonal(jax.random.key(0), 0)
