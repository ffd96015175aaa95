"""The eigendecomposition of a Gaussian target (private): shared by the action bound
(``action_bound``) and the exact laws (``gaussian_laws``), which work in the target's eigenbasis."""

from __future__ import annotations

from typing import Tuple

import jax
import jax.numpy as jnp

from langevin_jax import targets


def gaussian_spectrum(target) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """``(mean, eigenvalues, eigenvectors)`` of a Gaussian target's covariance.

    Raises:
      ValueError: ``target`` is not a [`Gaussian`][langevin_jax.targets.Gaussian] or
        [`IsotropicGaussian`][langevin_jax.targets.IsotropicGaussian].
    """
    if not isinstance(target, (targets.Gaussian, targets.IsotropicGaussian)):
        raise ValueError(f"target must be a Gaussian or IsotropicGaussian, "
                         f"got {type(target).__name__}")
    cov = target.covariance
    eigenvalues, eigenvectors = jnp.linalg.eigh(0.5 * (cov + cov.T))
    return target.mean, eigenvalues, eigenvectors
