r"""Kernel distances between two sample sets: the unbiased Gaussian-kernel $\mathrm{MMD}^2$
([`mmd_squared`][langevin_jax.metrics.mmd_squared]) and the energy distance
([`energy_distance`][langevin_jax.metrics.energy_distance]), both U-statistics over the
full pairwise-distance matrices (memory $O(n m)$). Both clouds are first moved by the
midpoint of their means (neither distance changes under a common shift), so the float32
$|x|^2 + |y|^2 - 2\, x \cdot y$ expansion loses precision relative to the clouds' spread, not to
their distance from the origin.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.metrics._clouds import _check_cloud, _sq_dists
from langevin_jax.types import ArrayLike


def mmd_squared(x: ArrayLike, y: ArrayLike, bandwidth: float = 1.0) -> jax.Array:
    r"""Unbiased estimate of $\mathrm{MMD}^2$ with the Gaussian kernel $k(x, y) = \exp\bigl(-|x - y|^2 / (2 l^2)\bigr)$.

    $\mathrm{MMD}^2 = \mathbb{E}\, k(X, X') + \mathbb{E}\, k(Y, Y') - 2\, \mathbb{E}\, k(X, Y)$ with the
    U-statistics (diagonal terms excluded), so its expectation is exact and it can be negative.

    Args:
      x: ``[n, d]``; y: ``[m, d]``; bandwidth: $l > 0$.
    """
    x, y = _check_cloud("x", x), _check_cloud("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension d, got {x.shape[1]} and "
                         f"{y.shape[1]}")
    _checks.check_positive_finite("bandwidth", bandwidth)
    x, y = _centred(x, y)
    n, m = x.shape[0], y.shape[0]
    k = lambda u, v: jnp.exp(-_sq_dists(u, v) / (2.0 * bandwidth**2))  # noqa: E731
    kxx = (jnp.sum(k(x, x)) - n) / (n * (n - 1))
    kyy = (jnp.sum(k(y, y)) - m) / (m * (m - 1))
    return kxx + kyy - 2.0 * jnp.mean(k(x, y))


def energy_distance(x: ArrayLike, y: ArrayLike) -> jax.Array:
    r"""Energy distance $2\, \mathbb{E}|X - Y| - \mathbb{E}|X - X'| - \mathbb{E}|Y - Y'|$ (U-statistics within samples).

    Args:
      x: ``[n, d]``; y: ``[m, d]``.
    """
    x, y = _check_cloud("x", x), _check_cloud("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension d, got {x.shape[1]} and "
                         f"{y.shape[1]}")
    x, y = _centred(x, y)
    n, m = x.shape[0], y.shape[0]
    dist = lambda u, v: jnp.sqrt(_sq_dists(u, v) + 1e-30)  # noqa: E731
    exx = (jnp.sum(dist(x, x)) - n * 1e-15) / (n * (n - 1))
    eyy = (jnp.sum(dist(y, y)) - m * 1e-15) / (m * (m - 1))
    return 2.0 * jnp.mean(dist(x, y)) - exx - eyy


def _centred(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x`` and ``y`` moved by the midpoint of their means."""
    c = 0.5 * (jnp.mean(x, 0) + jnp.mean(y, 0))
    return x - c, y - c
