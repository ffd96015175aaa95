"""Langevin samplers as ``init``/``step`` pairs of pure functions."""

from langevin_jax.samplers.annealed import (
    AnnealedInfo,
    AnnealedState,
    annealed_langevin,
    array_schedule,
)
from langevin_jax.samplers.base import SamplingAlgorithm
from langevin_jax.samplers.mala import MALAInfo, MALAState, mala
from langevin_jax.samplers.ula import ULAInfo, ULAState, ula

__all__ = [
    "SamplingAlgorithm",
    "ula",
    "ULAState",
    "ULAInfo",
    "mala",
    "MALAState",
    "MALAInfo",
    "annealed_langevin",
    "array_schedule",
    "AnnealedState",
    "AnnealedInfo",
]
