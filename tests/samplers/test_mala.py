import jax
import jax.numpy as jnp
import numpy as np

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
