"""langevin_jax: a JAX-native functional toolkit for Langevin and score-based sampling."""

from langevin_jax import targets, theory
from langevin_jax.runner import NonFiniteWarning, RunInfo, RunResult, chain_keys, run
from langevin_jax.samplers import (
    SamplingAlgorithm,
    annealed_langevin,
    array_schedule,
    mala,
    ula,
)
from langevin_jax.targets import Gaussian, GaussianMixture, IsotropicGaussian

__version__ = "0.1.0"

__all__ = [
    "targets",
    "theory",
    "run",
    "RunResult",
    "RunInfo",
    "chain_keys",
    "NonFiniteWarning",
    "SamplingAlgorithm",
    "ula",
    "mala",
    "annealed_langevin",
    "array_schedule",
    "Gaussian",
    "IsotropicGaussian",
    "GaussianMixture",
]
