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


def is_concrete(x: Any) -> bool:
    """Whether ``x`` holds values now (not a tracer under ``jit``/``vmap``/``grad``): the value
    checks of the package run only then; the shape and dtype checks always."""
    return not isinstance(x, jax.core.Tracer)


def _dtype_of(value: Any):
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return dtype
    try:
        return np.asarray(value).dtype
    except Exception:  # noqa: BLE001 - an object NumPy cannot read: reported as its type
        return np.dtype(object)


def is_real_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a real number type (integer or floating; not bool, complex, keys)."""
    try:
        return bool(jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating))
    except TypeError:
        return False


def check_real(name: str, value: Any) -> None:
    """Raise unless ``value`` is a real number or array of them: a complex value (whose imaginary
    part a cast to the positions' dtype would drop), a bool, a string or another object is
    refused. Only the dtype is read, so this also runs on traced values."""
    dtype = _dtype_of(value)
    if is_real_dtype(dtype):
        return
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real, got a complex value {value!r}")
    shown = type(value).__name__ if dtype == np.dtype(object) else f"dtype {dtype}"
    raise ValueError(f"{name} must be a real number, got {shown} ({value!r})")


LOW_PRECISION_DTYPES = (np.dtype(jnp.float16), np.dtype(jnp.bfloat16))


def check_position_dtype(name: str, position: Any) -> None:
    """Raise unless every leaf of ``position`` is real and not of a low-precision float dtype.

    Complex positions are refused (the samplers are real: a cast would drop the imaginary
    parts), and so are float16/bfloat16 ones: the Langevin increment ``h * score`` is then
    below their resolution (a relative spacing, eps, of 2**-7 in bfloat16 and 2**-10 in
    float16), so it rounds away and the chains sample another law (ULA at ``h = 1e-3`` on ``N(0, 1)`` in
    bfloat16: variance 19). Only dtypes are read, so this also runs on traced positions."""
    for leaf in jax.tree_util.tree_leaves(position):
        dtype = _dtype_of(leaf)
        try:
            is_complex = bool(jnp.issubdtype(dtype, jnp.complexfloating))
            is_low = any(dtype == low for low in LOW_PRECISION_DTYPES)
        except TypeError:  # not a NumPy dtype (a PRNG key's): the sampler's own checks see to it
            continue
        if is_complex:
            raise ValueError(f"{name} has the complex dtype {dtype}: complex numbers are not supported "
                             "(Langevin samplers are real; a cast would drop the imaginary parts)")
        if is_low:
            raise ValueError(
                f"{name} has the low-precision dtype {dtype}: not supported, because the Langevin "
                f"increment h * score is below its resolution (eps = {float(jnp.finfo(dtype).eps):.3g}) "
                "and rounds away, so the chains sample the wrong law; cast to float32 "
                "(x.astype(jnp.float32)) or float64")


def check_key(name: str, key: Any) -> None:
    """Raise unless ``key`` is one PRNG key: a typed key of shape ``()`` (``jax.random.key``) or
    a legacy ``uint32[2]`` key (``jax.random.PRNGKey``). Only the dtype and shape are read, so
    this also runs on traced keys (inside ``jit``/``vmap``)."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"{name} must be a single PRNG key, got a key array of shape {key.shape}")
        return
    if dtype == jnp.uint32 and getattr(key, "shape", None) == (2,):
        return
    raise ValueError(
        f"{name} must be a PRNG key (jax.random.key(seed)), got {type(key).__name__} "
        f"{getattr(key, 'dtype', '')}{list(getattr(key, 'shape', ()))}"
    )


def float_dtype(value: Any = None, dtype: Any = None) -> np.dtype:
    """The floating dtype a number is computed in: ``dtype`` when given, else the value's own
    floating dtype, else JAX's default float; canonicalised as JAX does, so it is float32 unless
    ``jax_enable_x64`` is on (a NumPy float64 array is then float32 too)."""
    if dtype is None:
        own = getattr(value, "dtype", None)
        dtype = own if own is not None and jnp.issubdtype(own, jnp.floating) else np.float64
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def check_representable(name: str, value: Any, dtype: Any = None, *, underflow: bool = True) -> None:
    """Raise if a concrete real ``value`` (scalar or array) holds a finite number that rounds to
    inf, or (``underflow``) a nonzero one that rounds to 0 or below the smallest normal number
    (XLA flushes those to 0), in the dtype it is computed in, ``float_dtype(value, dtype)``:
    ``step_size = 1e-50 rounds to 0 in float32``. Eager only: traced, complex and non-numeric
    values pass (other checks refuse the last two)."""
    if not is_concrete(value):
        return
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - not an array: the caller's other checks name it
        return
    if not is_real_dtype(arr.dtype):
        return
    target = float_dtype(value, dtype)
    info = jnp.finfo(target)
    orig = arr.astype(np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = orig.astype(target).astype(np.float64)
    finite = np.isfinite(orig)
    over = finite & ~np.isfinite(cast)
    under = finite & (orig != 0) & (np.abs(cast) < float(info.tiny)) if underflow else np.zeros_like(over)
    bad = over | under
    if not np.any(bad):
        return
    i = np.unravel_index(int(np.argmax(bad)), bad.shape)
    where = f"{name}[{', '.join(str(int(j)) for j in i)}]" if arr.ndim else name
    own = getattr(value, "dtype", None)
    widened = own is None or not jnp.issubdtype(own, jnp.floating) or np.dtype(own).itemsize > 4
    default = "; numbers are computed in float32 unless jax_enable_x64 is on" if (
        dtype is None and target == np.float32 and widened) else ""
    if over[i]:
        raise ValueError(f"{where} = {orig[i]:g} rounds to inf in {target} (its largest number is "
                         f"{float(info.max):.4g}){default}")
    raise ValueError(f"{where} = {orig[i]:g} rounds to 0 in {target} (below its smallest normal number "
                     f"{float(info.tiny):.4g}, which XLA's arithmetic flushes to 0){default}")


def check_positive_finite(name: str, value: Any, dtype: Any = None) -> None:
    """Raise if a scalar or array is not real, or (when concrete) not finite and > 0 everywhere
    in the dtype it is computed in (``check_representable``: ``dtype``, else its own, else
    float32 unless ``jax_enable_x64``)."""
    check_real(name, value)
    if not is_concrete(value):
        return
    arr = np.asarray(value)  # one copy to the host, of the value's own dtype
    check_representable(name, arr, dtype)
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
    if not is_concrete(x):
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
    """A step size is a positive finite real number (a float or scalar array) or a callable
    schedule. Complex, bool and non-numeric values are refused, traced ones included (their
    dtype is known while tracing); a concrete one that rounds to 0 or inf in the dtype it is
    computed in (float32 unless ``jax_enable_x64``) too."""
    if callable(step_size):
        return
    if isinstance(step_size, (int, float)) and not isinstance(step_size, bool):
        if not math.isfinite(step_size) or step_size <= 0:
            raise ValueError(f"{name} must be a finite float > 0 or a schedule, got {step_size!r}")
        check_representable(name, step_size)
        return
    check_real(name, step_size)
    arr = np.asarray(step_size) if is_concrete(step_size) else None
    if arr is not None and arr.ndim != 0:
        raise ValueError(
            f"{name} must be a scalar or a callable schedule k -> h_k, got shape {arr.shape}"
        )
    check_positive_finite(name, step_size)


def check_schedule_values(name: str, values: Any) -> None:
    """Check the values a schedule produced over the run; skipped when they are traced."""
    if not is_concrete(values):
        return
    arr = np.asarray(values)
    dtype = float_dtype(arr)
    info = jnp.finfo(dtype)
    bad = ~(np.isfinite(arr) & (arr >= info.tiny))  # a subnormal h is 0 in XLA's arithmetic
    if np.any(bad):
        k = int(np.argmax(bad))
        v = float(arr[k])
        why = ""
        if 0 < v < info.tiny:
            why = (f", which rounds to 0 in {dtype} (below its smallest normal number "
                   f"{float(info.tiny):.4g}, which XLA's arithmetic flushes to 0)")
        elif v == 0:
            why = f" (a step size below {float(info.tiny):.4g} rounds to 0 in {dtype})"
        elif v == math.inf:
            why = f" (a step size above {float(info.max):.4g} rounds to inf in {dtype})"
        raise ValueError(f"{name} must be finite and > 0 at every step; step {k} gives {arr[k]!r}{why}")


def check_symmetric(name: str, matrix: Any) -> None:
    """Raise if a concrete matrix (or batch ``[..., d, d]``) is not symmetric to float precision:
    ``|C - C^T| <= 1e-6 max|C| + 1e-5 |C|`` elementwise. Skipped when traced."""
    if not is_concrete(matrix):
        return
    c = np.asarray(matrix, np.float64)
    if c.size == 0:
        return
    ct = np.swapaxes(c, -1, -2)
    scale = max(float(np.max(np.abs(c))), 1e-300)
    if not np.allclose(c, ct, rtol=1e-5, atol=1e-6 * scale):
        raise ValueError(f"{name} must be symmetric, max |C - C^T| = {np.max(np.abs(c - ct)):.3g}")


def check_covariance(name: str, matrix: Any, d: int | None = None, *,
                     definite: bool = True) -> jax.Array:
    """A covariance ``[d, d]``: the shape always; when concrete, finite, symmetric and positive
    definite (``definite=False``: semidefinite, down to ``-1e-6`` of its largest eigenvalue).
    Never symmetrises or clips silently: a matrix that is not a covariance is refused."""
    matrix = jnp.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or (d is not None
                                                                   and matrix.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "[d, d]"
        raise ValueError(f"{name} must have shape {want}, got {matrix.shape}")
    check_real(name, matrix)
    if not is_concrete(matrix):
        return matrix
    check_finite_array(name, matrix)
    c = np.asarray(matrix, np.float64)
    check_symmetric(name, c)
    if c.size:
        lam = np.linalg.eigvalsh(0.5 * (c + c.T))
        floor = 0.0 if definite else -1e-6 * max(float(np.max(np.abs(lam))), 1e-300)
        if not (lam[0] > floor if definite else lam[0] >= floor):
            kind = "positive definite" if definite else "positive semidefinite"
            raise ValueError(f"{name} must be {kind}, smallest eigenvalue {lam[0]:.3g}")
    return matrix


def check_vector(name: str, vector: Any, d: int | None = None) -> jax.Array:
    """A finite real vector ``[d]`` (finiteness checked when concrete)."""
    vector = jnp.asarray(vector)
    if vector.ndim != 1 or (d is not None and vector.shape[0] != d):
        want = f"({d},)" if d is not None else "[d]"
        raise ValueError(f"{name} must have shape {want}, got {vector.shape}")
    check_real(name, vector)
    check_finite_array(name, vector)
    return vector


def check_nonnegative(name: str, value: Any, *, allow_inf: bool = False) -> None:
    """Raise unless ``value`` is real and (when concrete) ``>= 0`` everywhere and not NaN
    (``+inf`` allowed with ``allow_inf``)."""
    check_real(name, value)
    if not is_concrete(value):
        return
    arr = np.asarray(value, np.float64)
    if np.any(np.isnan(arr)) or (not allow_inf and not np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must be {'not NaN' if allow_inf else 'finite'}, got {value!r}")
    if not np.all(arr >= 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_orthonormal(name: str, basis: Any, tol: float = 1e-4) -> None:
    """Raise if a concrete square matrix is not orthonormal: ``max |B^T B - I| > tol``."""
    if not is_concrete(basis):
        return
    b = np.asarray(basis, np.float64)
    err = float(np.max(np.abs(b.T @ b - np.eye(b.shape[0])))) if b.size else 0.0
    if not err <= tol:
        raise ValueError(f"{name} must be orthonormal (basis.T @ basis = I), max deviation {err:.3g}")


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    """``value`` one of ``allowed`` (``name must be 'a', 'b' or 'c', got 'x'``)."""
    if value not in allowed:
        quoted = [repr(a) for a in allowed]
        options = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        raise ValueError(f"{name} must be {options}, got {value!r}")


def check_callable(name: str, fn: Any) -> None:
    """Raise unless ``fn`` is callable (a function, a ``Partial``, a bound method)."""
    if not callable(fn):
        raise ValueError(f"{name} must be callable, got {type(fn).__name__}")


def check_point(x: Any, d: int, name: str = "x") -> None:
    """Raise unless ``x`` is one point of shape ``(d,)`` (functions of one point are batched
    with ``jax.vmap``). Reads only the shape, so it runs on traced values too."""
    if jnp.shape(x) != (d,):
        raise ValueError(f"{name} must be one point of shape ({d},); got shape {jnp.shape(x)} "
                         "(use jax.vmap over a batch of points)")


# --------------------------------------------------------------------------- levels, times, counts

INT32_MAX = 2**31 - 1


def check_count(name: str, value: Any, lower: int) -> int:
    """An int ``>= lower`` that also fits the ``int32`` arrays it becomes (a step index, a
    chain count): a larger one would wrap or overflow there."""
    value = check_int_at_least(name, value, lower)
    if value > INT32_MAX:
        raise ValueError(f"{name} must be <= 2**31 - 1 = {INT32_MAX} (it becomes an int32 index), got {value}")
    return value


def check_level_values(name: str, t: Any, num_levels: int, *, lowest: int = 1,
                       integer: bool = False) -> None:
    """Diffusion levels ``lowest..num_levels``: real (with ``integer``: an integer dtype) always,
    and, when concrete, every value inside the range. Traced levels (inside a sampler's scan or
    a user's ``jit``) are not read: the check adds nothing to a compiled program."""
    dtype = _dtype_of(t)
    if integer and not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(f"{name} must be integer levels {lowest}..{num_levels}, got dtype {dtype}")
    check_real(name, t)
    if not is_concrete(t):
        return
    arr = np.asarray(t)
    if arr.size and not (np.all(arr >= lowest) and np.all(arr <= num_levels)):
        bad = arr[~((arr >= lowest) & (arr <= num_levels))].ravel()[0]
        raise ValueError(f"{name} must be levels in {lowest}..{num_levels} (T = {num_levels}), got {bad!r}")


def check_unit_times(name: str, t: Any) -> None:
    """Path times in ``[0, 1]`` (``1 + 1e-6`` tolerated, as for a time grid): real always, the
    values when concrete (skipped for traced times, so nothing is added to a compiled program)."""
    check_real(name, t)
    if not is_concrete(t):
        return
    arr = np.asarray(t, np.float64)
    ok = (arr >= 0.0) & (arr <= 1.0 + 1e-6)  # False at NaN
    if not np.all(ok):
        bad = arr[~ok].ravel()[0]
        raise ValueError(f"{name} must be path times in [0, 1], got {bad!r}")


def available_memory_bytes() -> int | None:
    """Free memory of the default device (its allocator's limit less what is in use), or of the
    host when the device does not say (a CPU): ``MemAvailable``, else the physical memory.
    ``None`` when nothing can be read."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(what: str, num_bytes: int) -> None:
    """Refuse, before any work, a result of ``num_bytes`` that cannot fit in the free memory;
    the message names ``what`` (the arguments that set its size) and the bytes needed."""
    available = available_memory_bytes()
    if available is not None and num_bytes > available:
        raise ValueError(f"{what} needs {num_bytes:,} bytes of memory, more than the {available:,} "
                         "available: use a smaller size")
