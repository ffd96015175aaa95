r"""Eager argument checks of the Gaussian DSM pipeline (private).

Not a section of the paper: the checks every public function of
[`langevin_jax.gaussian_dsm`][langevin_jax.gaussian_dsm] runs before its jitted computation. They
read concrete values only (with NumPy), so they are skipped for traced arguments; each raises
``ValueError`` naming the argument. The stability conditions of the derivation (DSM gradient descent
converges, $M = \hat\Sigma + \sigma^2 I$ invertible, ULA stable) are stated here once; the one that
needs the learned eigenvalues $a(\mu)$ is applied in ``_check_pipeline``, and
``_validate_spectral`` is the whole check of the spectral functions' arguments.
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, theory


def _all_concrete(*xs: Any) -> bool:
    return all(x is None or _checks.is_concrete(x) for x in xs)


def _check_nonneg(name: str, value: Any) -> None:
    if not _checks.is_concrete(value):
        return
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number) or arr.ndim != 0:
        raise ValueError(f"{name} must be a real scalar, got {value!r}")
    if not np.isfinite(arr) or arr < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def _check_scalar_positive(name: str, value: Any) -> None:
    if _checks.is_concrete(value) and np.ndim(np.asarray(value)) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {np.shape(value)}")
    _checks.check_positive_finite(name, value)


def _check_steps(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    return _checks.check_int_at_least(name, value, 1)


def _check_dsm_args(gamma: Any, num_dsm_steps: Optional[int],
                    steps_name: str = "num_dsm_steps") -> Optional[int]:
    num_dsm_steps = _check_steps(steps_name, num_dsm_steps)
    if num_dsm_steps is not None:
        if gamma is None:
            raise ValueError(f"gamma (the DSM gradient step) is required when "
                             f"{steps_name}={num_dsm_steps} is given")
        _check_scalar_positive("gamma", gamma)
    return num_dsm_steps


def _float_dtype(x: jax.Array):
    return jnp.result_type(x, jnp.float32)


def _check_spectrum(name: str, spectrum: Any) -> jax.Array:
    spectrum = _checks.check_rank(name, spectrum, 1, "[d]")
    _checks.check_positive_finite(name, spectrum)
    dtype = _float_dtype(spectrum)
    return spectrum if spectrum.dtype == dtype else spectrum.astype(dtype)


def _check_square(name: str, x: Any, d: Optional[int] = None, symmetric: bool = True) -> jax.Array:
    """A finite ``[d, d]`` matrix, symmetric unless ``symmetric=False`` (every matrix of the
    Gaussian setting is, but a basis): a non-symmetric one is refused, never symmetrised."""
    x = _checks.check_rank(name, x, 2, "[d, d]")
    if x.shape[0] != x.shape[1] or (d is not None and x.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "square [d, d]"
        raise ValueError(f"{name} must have shape {want}, got {x.shape}")
    _checks.check_real(name, x)
    _checks.check_finite_array(name, x)
    if symmetric:
        _checks.check_symmetric(name, x)
    dtype = _float_dtype(x)
    return x if x.dtype == dtype else x.astype(dtype)


def _np_eigvalsh(x: Any) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.linalg.eigvalsh(0.5 * (x + x.T))


def _check_dsm_solvable(m: np.ndarray, gamma: Any, num_steps: Optional[int], steps_name: str) -> None:
    r"""DSM has a score for the eigenvalues $m$ of $M = \hat\Sigma + \sigma^2 I$: the minimiser
    needs $M$ invertible, $K$ gradient steps need $\gamma \lambda_\text{max}(M) < 2$."""
    if num_steps is None:
        if not np.min(m) > 0:
            raise ValueError("sigma: Sigma_hat + sigma^2 I is singular; use sigma > 0 "
                             f"(or finitely many gradient steps, {steps_name})")
        return
    m_max = float(np.max(m))
    if float(gamma) * m_max >= 2.0:
        raise ValueError(
            f"gamma={float(gamma):.4g} makes DSM gradient descent diverge: need "
            f"gamma * (lambda_max(Sigma_hat) + sigma^2) < 2, i.e. gamma < {2.0 / m_max:.4g}")


def _check_eta_stable(eta: Any, a_max: float) -> None:
    if not float(eta) * a_max < 2.0:
        raise ValueError(
            f"eta={float(eta):.4g} is unstable for this score: ULA needs eta * a_max < 2 where "
            f"a_max={a_max:.4g} is the largest eigenvalue of the learned score matrix A, "
            f"i.e. eta < {2.0 / a_max:.4g} (the chain's covariance grows geometrically)")


def _check_pipeline(mu: Any, sigma: Any, eta: Any, gamma: Any,
                    num_dsm_steps: Optional[int]) -> None:
    r"""Eager stability checks from the eigenvalues $\mu$ of $\hat\Sigma$ (when concrete).

    ULA's bound uses the learned eigenvalues $a(\mu)$ of
    [`dsm_eigenvalue`][langevin_jax.gaussian_dsm.dsm_eigenvalue] (its one implementation,
    [`langevin_jax.theory.gradient_descent_inverse`][langevin_jax.theory.gradient_descent_inverse]), evaluated now in float64
    (even while a user's ``jit`` is traced), so the error message states the bound that
    [`max_stable_eta`][langevin_jax.gaussian_dsm.max_stable_eta] returns.
    """
    if not _all_concrete(mu, sigma, eta, gamma):
        return
    mu = np.asarray(mu, np.float64)
    _check_dsm_solvable(mu + float(sigma) ** 2, gamma, num_dsm_steps, "num_dsm_steps")
    with jax.enable_x64(True), jax.ensure_compile_time_eval():
        a = theory.gradient_descent_inverse(jnp.asarray(mu) + float(sigma) ** 2,
                                            None if gamma is None else float(gamma), num_dsm_steps)
        a_max = float(jnp.max(a))
    _check_eta_stable(eta, a_max)


def _validate_spectral(spectrum, sigma, eta, gamma, num_dsm_steps, num_ula_steps):
    spectrum = _check_spectrum("spectrum", spectrum)
    _check_nonneg("sigma", sigma)
    _check_scalar_positive("eta", eta)
    num_dsm_steps = _check_dsm_args(gamma, num_dsm_steps)
    num_ula_steps = _check_steps("num_ula_steps", num_ula_steps)
    _check_pipeline(spectrum, sigma, eta, gamma, num_dsm_steps)
    return spectrum, num_dsm_steps, num_ula_steps
