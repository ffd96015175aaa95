"""Langevin samplers: each a
[`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] ``(init, step, check)`` of
pure functions (it unpacks as an ``init``/``step`` pair, as in BlackJAX)."""

from langevin_jax.samplers.annealed import (
    AnnealedInfo,
    AnnealedState,
    ArraySchedule,
    annealed_langevin,
    array_schedule,
)
from langevin_jax.samplers.base import LangevinState, SamplingAlgorithm, euler_maruyama, gaussian_noise
from langevin_jax.samplers.dalmc import dalmc
from langevin_jax.samplers.mala import MALAInfo, MALAState, mala
from langevin_jax.samplers.ula import ULAInfo, ULAState, ula

__all__ = [
    "SamplingAlgorithm",
    "LangevinState",
    "euler_maruyama",
    "gaussian_noise",
    "ArraySchedule",
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
    "dalmc",
]
