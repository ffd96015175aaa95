"""Bad inputs of the point-cloud metrics that issue 22 added (the pattern of
``tests/test_bad_inputs.py``): each must raise ``ValueError``/``TypeError`` naming the argument,
before anything long runs; never a silent result, never a raw JAX error.

One row per probe: ``(id, thunk, argument name the message must contain)``. The thunks build
their inputs lazily so that a failure in one row cannot break the table's collection.

A blur far *above* the clouds' scale is not refused: the divergence is computed there by its
large-blur closed form (``tests/test_metrics.py::test_sinkhorn_large_blur_is_its_analytic_limit``).
A blur far *below* it, where the float32 solver overflows, is refused.
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from langevin_jax import metrics
from tests._bad_inputs import assert_named


def _cloud(n=8, d=2, scale=1.0, shift=0.0):
    """A deterministic ``[n, d]`` cloud of spread ``~ scale``."""
    grid = jnp.arange(n * d, dtype=jnp.float32).reshape(n, d) / (n * d)
    return scale * jnp.sin(7.0 * grid + jnp.arange(d, dtype=jnp.float32)) + shift


def _pair(**kw):
    return _cloud(**kw), _cloud(**kw)[::-1] + 0.25 * kw.get("scale", 1.0)


CASES = [
    ("sinkhorn/blur 1e-12 for unit clouds",
     lambda: metrics.sinkhorn_divergence(*_pair(), blur=1e-12), "blur"),
    ("sinkhorn/blur 1e-6 for clouds of scale 1e4",
     lambda: metrics.sinkhorn_divergence(*_pair(scale=1e4), blur=1e-6), "blur"),
    ("sinkhorn/blur 1e-12 far from the origin",
     lambda: metrics.sinkhorn_divergence(*_pair(shift=1e4), blur=1e-12), "blur"),
    ("sinkhorn/blur too small as an array",
     lambda: metrics.sinkhorn_divergence(*_pair(), blur=jnp.asarray(1e-12)), "blur"),
    ("sinkhorn/blur too small, online costs",
     lambda: metrics.sinkhorn_divergence(*_pair(), blur=1e-12, batch_size=4), "blur"),
    ("sinkhorn/blur too small, weighted",
     lambda: metrics.sinkhorn_divergence(*_pair(), blur=1e-12, x_weights=jnp.arange(1.0, 9.0)), "blur"),
    ("sinkhorn_batched/blur too small (map)",
     lambda: metrics.sinkhorn_divergence_batched(jnp.stack(_pair()), jnp.stack(_pair()[::-1]),
                                                 method="map", blur=1e-12), "blur"),
    ("sinkhorn_batched/blur too small (vmap)",
     lambda: metrics.sinkhorn_divergence_batched(jnp.stack(_pair()), jnp.stack(_pair()[::-1]),
                                                 method="vmap", blur=1e-12), "blur"),
    ("sinkhorn_with_floor/blur too small",
     lambda: metrics.sinkhorn_with_floor(jnp.stack(_pair()), jnp.stack(_pair()[::-1]), jnp.stack(_pair()),
                                         jnp.stack(_pair()[::-1]), blur=1e-12), "blur"),
]


@pytest.mark.parametrize("thunk, argument", [pytest.param(t, a, id=i) for i, t, a in CASES])
def test_bad_input_is_named(thunk, argument):
    assert_named(thunk, argument)
