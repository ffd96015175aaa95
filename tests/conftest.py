import jax
import numpy as np
import pytest


@pytest.fixture
def key():
    return jax.random.key(20261124)


def assert_within_se(estimate, expected, se, num_se=5.0, what=""):
    """Assert |estimate - expected| <= num_se * se elementwise (Monte Carlo check)."""
    estimate, expected, se = (np.asarray(a, np.float64) for a in (estimate, expected, se))
    z = np.abs(estimate - expected) / se
    assert np.all(z <= num_se), f"{what}: z-scores {z} exceed {num_se} (est {estimate}, exp {expected})"


def variance_se(variance, n):
    """Standard error of the sample variance of n i.i.d. Gaussian draws."""
    return np.sqrt(2.0 / (n - 1)) * np.asarray(variance)
