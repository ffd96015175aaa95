import contextlib

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


_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compilations():
    """Count the XLA compilations made inside the block (JAX's public ``jax.monitoring`` hook,
    one event per compiled program, eager helpers included): ``with count_compilations() as n:
    ...``, then ``n[0]``. A run that re-uses its compiled program makes none."""
    count = [0]

    def listener(event, duration, **kwargs):
        if event == _COMPILE_EVENT:
            count[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield count
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# the multi-process workers are scripts run by the tests, not modules to collect (--doctest-modules)
collect_ignore = ["_multiprocess_worker.py", "_multiprocess_experiment_worker.py"]
