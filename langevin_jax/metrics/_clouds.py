"""Point clouds shared by the sample-set distances (private): validation of a ``[n, d]``
cloud and the squared-distance matrix $|x_i - y_j|^2$ as one full-precision matrix product.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from langevin_jax import _checks


def _check_cloud(name: str, x: Any) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape [n, d], got {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} must contain at least 2 points, got {x.shape[0]}")
    _checks.check_finite_array(name, x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def _sq_dists(x, y):
    r"""$|x_i - y_j|^2$, ``[n, m]``, as $|x|^2 + |y|^2 - 2 x y^\top$ (clamped at 0).

    The product runs at full float32 precision on every backend (``Precision.HIGHEST``): a
    GPU's default float32 product is TF32 (10-bit mantissa), and the cost is a difference of
    large terms, so its rounding is amplified (measurements: ``docs/benchmarks.md``).
    """
    cross = jnp.matmul(x, y.T, precision=jax.lax.Precision.HIGHEST)
    return jnp.maximum(jnp.sum(x * x, 1)[:, None] + jnp.sum(y * y, 1)[None, :] - 2.0 * cross, 0.0)
