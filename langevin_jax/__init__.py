"""langevin_jax: a JAX-native functional toolkit for Langevin and score-based sampling.

``import langevin_jax`` loads the core (samplers, ``run``, targets, closed forms) on JAX and
NumPy alone. The subpackages ``adaptation``, ``annealing``, ``diagnostics``, ``diffusion``,
``gaussian_dsm``, ``metrics``, ``scores``, ``sweeps`` and ``nn`` load on first use
(``lj.annealing...`` or ``import langevin_jax.annealing``); ``nn`` needs the ``nn`` extra
(Flax, Optax), ``diagnostics``' functions the ``diagnostics`` extra (ArviZ).
"""

import importlib
from typing import Any

from langevin_jax import targets, theory
from langevin_jax.runner import NonFiniteWarning, RunInfo, RunResult, StuckChainWarning, chain_keys, run
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
    "StuckChainWarning",
    "SamplingAlgorithm",
    "ula",
    "mala",
    "annealed_langevin",
    "array_schedule",
    "Gaussian",
    "IsotropicGaussian",
    "GaussianMixture",
]

# the subpackages loaded on first attribute access (PEP 562), not by ``import langevin_jax``
_LAZY_SUBPACKAGES = ("adaptation", "annealing", "diagnostics", "diffusion", "gaussian_dsm", "metrics", "nn", "scores",
                     "sweeps")


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it here too
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
