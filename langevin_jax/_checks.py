"""Input validation shared by the public API (private).

Every check raises ``ValueError`` naming the offending argument and what was
expected, and runs eagerly, before anything is traced or compiled.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_positive_finite(name: str, value: Any) -> None:
    """Raise if a concrete scalar or array is not finite and > 0 everywhere."""
    if not _is_concrete(value):
        return
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")


def check_int_at_least(name: str, value: Any, lower: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {lower}, got {value!r}")
    if value < lower:
        raise ValueError(f"{name} must be >= {lower}, got {value}")
    return int(value)


def check_rank(name: str, x: Any, rank: int, what: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != rank:
        raise ValueError(f"{name} must have shape {what} (rank {rank}), got shape {x.shape}")
    return x


def check_finite_array(name: str, x: Any) -> None:
    """Raise if a concrete array holds NaN/inf. A ``jax.Array`` is tested where it lives (one
    reduction on the device, one bool back), never copied to the host: on a GPU, copying a
    ``[chains, d]`` array to NumPy cost more than the whole ULA run at ``d = 1000``."""
    if not _is_concrete(x):
        return
    if isinstance(x, jax.Array):
        # evaluated now even when called while a user's jit is being traced (x is concrete)
        with jax.ensure_compile_time_eval():
            finite = bool(jnp.all(jnp.isfinite(x))) if jnp.issubdtype(x.dtype, jnp.inexact) else True
    else:
        finite = bool(np.all(np.isfinite(np.asarray(x))))
    if not finite:
        raise ValueError(f"{name} contains NaN or inf")



def check_step_size(name: str, step_size: Any) -> None:
    """A step size is a positive finite float or a callable schedule."""
    if callable(step_size):
        return
    if isinstance(step_size, (int, float)) and not isinstance(step_size, bool):
        if not math.isfinite(step_size) or step_size <= 0:
            raise ValueError(f"{name} must be a finite float > 0 or a schedule, got {step_size!r}")
        return
    arr = np.asarray(step_size) if _is_concrete(step_size) else None
    if arr is not None and arr.ndim != 0:
        raise ValueError(
            f"{name} must be a scalar or a callable schedule k -> h_k, got shape {arr.shape}"
        )
    check_positive_finite(name, step_size)


def check_schedule_values(name: str, values: Any) -> None:
    """Check the values a schedule produced over the run; skipped when they are traced."""
    if not _is_concrete(values):
        return
    arr = np.asarray(values)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite and > 0 at every step; step {k} gives {arr[k]!r}")


def check_symmetric(name: str, matrix: Any) -> None:
    """Raise if a concrete matrix (or batch ``[..., d, d]``) is not symmetric to float precision:
    ``|C - C^T| <= 1e-6 max|C| + 1e-5 |C|`` elementwise. Skipped when traced."""
    if not _is_concrete(matrix):
        return
    c = np.asarray(matrix, np.float64)
    if c.size == 0:
        return
    ct = np.swapaxes(c, -1, -2)
    scale = max(float(np.max(np.abs(c))), 1e-300)
    if not np.allclose(c, ct, rtol=1e-5, atol=1e-6 * scale):
        raise ValueError(f"{name} must be symmetric, max |C - C^T| = {np.max(np.abs(c - ct)):.3g}")
