"""The certified TV lower bound of ``langevin_jax.metrics.total_variation``: its coverage when
the chains sample pi itself, its exact values for a point mass, non-finite chains, Theorem 1's
trap at the Table 1 protocol, and its bad inputs."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import langevin_jax as lj
from langevin_jax import metrics, scores, theory
from tests._bad_inputs import assert_named


def test_point_mass_inside_gives_the_closed_form():
    d, n, conf = 5, 50, 0.95
    center, radius = np.zeros(d), 1.0
    log_pi = theory.gaussian_ball_log_probability(center, radius, np.full(d, 2.0))
    tv = metrics.ball_tv_lower_bound(np.full((n, d), 0.1), center, radius, log_pi, conf)
    assert tv.p_hat == 1.0 and tv.num_inside == n and tv.num_chains == n and tv.num_nonfinite == 0
    np.testing.assert_allclose(tv.p_lower, (1 - conf) ** (1 / n), rtol=1e-14)
    np.testing.assert_allclose(tv.value, (1 - conf) ** (1 / n) - math.exp(log_pi), rtol=1e-14)
    assert tv.pi_a == math.exp(log_pi) and tv.log_pi_a == log_pi and tv.confidence == conf
    # the Clopper-Pearson bound between: the beta quantile
    inside = np.arange(n) < 30
    tv = metrics.tv_lower_bound(inside, math.log(0.1), 0.9)
    np.testing.assert_allclose(tv.p_lower, stats.beta.ppf(0.1, 30, n - 30 + 1), rtol=1e-12)
    assert tv.p_hat == 30 / n and tv.p_lower < 30 / n
    # no chain inside: p_lower = 0 and the bound is -pi(A), negative, not clipped
    tv = metrics.tv_lower_bound(np.zeros(n, bool), math.log(0.25))
    assert tv.p_lower == 0.0 and tv.value == -0.25
    tv = metrics.tv_lower_bound(np.ones(3, bool), -math.inf)  # pi(A) = 0
    assert tv.pi_a == 0.0 and tv.value == tv.p_lower


def test_coverage_when_the_chains_sample_pi():
    """Chains drawn from pi = N(0, I_5) itself (TV = 0): the bound must be <= 0 in at least
    `confidence` of the trials (Clopper-Pearson is conservative), here 200 trials of 100 chains,
    with 3 binomial standard errors of slack; for one ball (exact pi(A)) and a union of three
    disjoint balls (pi(A) the exact sum, the union bound), through both distance paths."""
    rng = np.random.default_rng(0)
    d, n, trials, conf = 5, 100, 200, 0.95
    one = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    three = np.array([[2.2, 0, 0, 0, 0], [-2.2, 0, 0, 0, 0], [0, 2.2, 0, 0, 0]])  # 2.2 sqrt(2) > 3: disjoint
    for centers, radius in ((one, 2.0), (three, 1.5)):
        log_pi = theory.gaussian_balls_log_probability_bound(centers, radius, np.zeros(d))
        assert 0.05 < math.exp(log_pi) < 0.95
        values = np.array([metrics.ball_tv_lower_bound(rng.standard_normal((n, d)), centers, radius, log_pi,
                                                       conf).value for _ in range(trials)])
        covered = np.mean(values <= 0)
        assert covered >= conf - 3 * math.sqrt(conf * (1 - conf) / trials), covered
        assert np.all(values < 0.2)


def test_bound_below_a_known_tv():
    """N(delta e_1, I_2) against pi = N(0, I_2): TV = 2 Phi(delta / 2) - 1, attained by
    A = {x_1 > delta / 2}; the bound from 20000 chains lies below it and within 0.03."""
    rng = np.random.default_rng(3)
    delta, n = 1.0, 20_000
    x = rng.standard_normal((n, 2)) + np.array([delta, 0.0])
    tv_true = 2 * stats.norm.cdf(delta / 2) - 1
    bound = metrics.tv_lower_bound(x[:, 0] > delta / 2, stats.norm.logsf(delta / 2))
    assert tv_true - 0.03 < bound.value <= tv_true


def test_nonfinite_chains_are_counted_and_outside():
    d, n = 3, 20
    x = np.zeros((n, d))
    x[:4, 1] = np.nan
    x[4, 0] = np.inf
    log_pi = math.log(0.01)
    tv = metrics.ball_tv_lower_bound(x, np.zeros(d), 1.0, log_pi)
    assert tv.num_nonfinite == 5 and tv.num_inside == 15 and tv.num_chains == n
    np.testing.assert_allclose(tv.p_lower, stats.beta.ppf(0.05, 15, 6), rtol=1e-12)
    many = metrics.ball_tv_lower_bound(jnp.asarray(x), np.stack([np.zeros(d), np.ones(d) * 5]), 1.0, log_pi)
    assert many == tv
    finite = np.all(np.isfinite(x), axis=1)
    assert metrics.tv_lower_bound(np.ones(n, bool), log_pi, finite=finite) == tv
    all_nan = metrics.ball_tv_lower_bound(np.full((4, d), np.nan), np.zeros(d), 1.0, log_pi)
    assert all_nan.num_nonfinite == 4 and all_nan.num_inside == 0 and all_nan.p_lower == 0.0


def test_theorem1_trap_at_the_table1_horizon():
    """Theorem 1's trap at d = 50 (Table 1's c = 7: |mu| = 7 sqrt(d), r_in = 4/7 |mu|, r_out = 5/7
    |mu|, alpha = 1), 500 ULA chains from N(0, I) for 1000 steps of h = 0.0025: all stay in
    A = B(0, r_in), whose pi-mass is ~e^-243, so TV(Law(X_T), pi) > 0.99 at 95% confidence."""
    d, c, n = 50, 7.0, 500
    mu = jnp.full((d,), c)
    mu_norm = c * math.sqrt(d)
    r_in, r_out = 4.0 / 7.0 * mu_norm, 5.0 / 7.0 * mu_norm
    score = scores.trap_score(mu, r_in, r_out, 1.0)
    key_init, key_run = jax.random.split(jax.random.key(11))
    x0 = jax.random.normal(key_init, (n, d))
    out = lj.run(key_run, lj.ula(score, 0.0025), x0, 1000)
    log_pi = theory.gaussian_ball_log_probability(np.zeros(d), r_in, np.asarray(mu))
    assert log_pi < -200
    tv = metrics.ball_tv_lower_bound(out.positions, np.zeros(d), r_in, log_pi)
    assert tv.num_inside == n and tv.num_nonfinite == 0
    assert tv.value > 0.99


def _x(n=6, d=3):
    return np.zeros((n, d))


@pytest.mark.parametrize("thunk, argument", [
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), 0.0, confidence=1.0), "confidence", id="conf=1"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), 0.0, confidence=0.0), "confidence", id="conf=0"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), 0.0, confidence=math.nan), "confidence",
                 id="conf=nan"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), 0.1), "log_pi_a", id="log_pi_a>0"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), math.nan), "log_pi_a", id="log_pi_a nan"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), np.zeros(2) - 1), "log_pi_a", id="log_pi_a vector"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(0, bool), -1.0), "inside", id="empty"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4), -1.0), "inside", id="inside float"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones((2, 2), bool), -1.0), "inside", id="inside rank 2"),
    pytest.param(lambda: metrics.tv_lower_bound(np.ones(4, bool), -1.0, finite=np.ones(3, bool)), "finite",
                 id="finite shape"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(3), 0.0, -1.0), "radius", id="radius=0"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(3), -1.0, -1.0), "radius", id="radius<0"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(3), math.inf, -1.0), "radius", id="radius inf"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(2), 1.0, -1.0), "centers", id="centers d"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros((2, 4)), 1.0, -1.0), "centers", id="centers [m, d]"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.full(3, np.nan), 1.0, -1.0), "centers",
                 id="centers nan"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(np.zeros(3), np.zeros(3), 1.0, -1.0), "positions",
                 id="positions rank 1"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(np.zeros((0, 3)), np.zeros(3), 1.0, -1.0), "positions",
                 id="positions empty"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x() + 1j, np.zeros(3), 1.0, -1.0), "positions",
                 id="positions complex"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(3), 1.0, 0.5), "log_pi_a", id="ball log_pi_a>0"),
    pytest.param(lambda: metrics.ball_tv_lower_bound(_x(), np.zeros(3), 1.0, -1.0, 1.5), "confidence",
                 id="ball conf"),
])
def test_bad_inputs_are_named(thunk, argument):
    assert_named(thunk, argument)
