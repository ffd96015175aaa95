import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import langevin_jax as lj
from tests.conftest import assert_within_se, variance_se

LAMBDA = jnp.array([0.5, 1.0, 2.0, 4.0])


def test_mala_unbiased_where_ula_is_biased():
    target = lj.Gaussian.from_spectrum(jnp.zeros(4), LAMBDA)
    h, num_chains, num_steps = 0.4, 10_000, 1500
    x0 = target.sample(jax.random.key(0), num_chains) * 0.0
    mala = lj.run(jax.random.key(1), lj.mala(target.log_prob, h), x0, num_steps)
    ula = lj.run(jax.random.key(1), lj.ula(target.score, h), x0, num_steps)
    assert 0.3 < mala.info.acceptance_rate < 1.0
    mala_var = np.asarray(mala.positions, np.float64).var(0, ddof=1)
    ula_var = np.asarray(ula.positions, np.float64).var(0, ddof=1)
    se = variance_se(LAMBDA, num_chains)
    assert_within_se(mala_var, LAMBDA, se, what="MALA variance")
    assert np.abs(ula_var[0] - LAMBDA[0]) / se[0] > 10, "ULA should be visibly biased here"


def test_mala_with_given_score_equals_autodiff_score():
    target = lj.IsotropicGaussian.create(jnp.ones(3), 2.0)
    a = lj.run(jax.random.key(2), lj.mala(target.log_prob, 0.5), jnp.zeros((16, 3)), 50)
    b = lj.run(jax.random.key(2), lj.mala(target.log_prob, 0.5, score_fn=target.score),
               jnp.zeros((16, 3)), 50)
    np.testing.assert_allclose(a.positions, b.positions, rtol=1e-5, atol=1e-5)


def test_mala_rejects_nonfinite_proposals():
    # log density is -inf outside the unit ball: proposals there are always rejected
    logdensity = lambda x: jnp.where(jnp.sum(x**2) < 1.0, 0.0, -jnp.inf)  # noqa: E731
    out = lj.run(jax.random.key(0), lj.mala(logdensity, 0.5, score_fn=lambda x: 0.0 * x),
                 jnp.zeros((64, 2)), 100)
    assert out.info.num_nonfinite == 0
    assert np.all(np.sum(np.asarray(out.positions) ** 2, 1) < 1.0)
    assert_within_se(out.info.acceptance_rate, 0.3, 0.3, num_se=1.0, what="acceptance in (0,0.6)")


@pytest.mark.parametrize("value", [jnp.nan, jnp.inf])
def test_mala_refuses_a_nan_log_density_at_the_start(value):
    # (issue 13, item 11) MALA rejects every proposal from a NaN (or +inf) log-density and used
    # to return its starting points, with acceptance 0 the only sign
    logdensity = lambda x: value * jnp.sum(x**2 + 1.0)  # noqa: E731
    with pytest.raises(ValueError, match=f"logdensity_fn returned {value} at the initial position"):
        lj.run(jax.random.key(0), lj.mala(logdensity, 0.1), jnp.zeros((4, 2)), 10)


def test_mala_warns_about_chains_stuck_at_a_nan_log_density():
    # chain 0 starts where the log-density is finite, chain 1 where it is NaN
    logdensity = lambda x: jnp.where(x[0] > 1.0, jnp.nan, -0.5 * jnp.sum(x**2))  # noqa: E731
    x0 = jnp.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    with pytest.warns(lj.NonFiniteWarning, match="1 of 3 chains .*log-density"):
        out = lj.run(jax.random.key(0), lj.mala(logdensity, 0.1, score_fn=lambda x: -x), x0, 20)
    np.testing.assert_array_equal(np.asarray(out.positions[1]), [2.0, 0.0])
    # under jit the check is skipped (traced positions), and so is the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", lj.NonFiniteWarning)
        jax.jit(lambda x: lj.run(jax.random.key(0), lj.mala(logdensity, 0.1, score_fn=lambda x: -x), x, 20)
                .positions)(x0)
