"""Diagnostics of a score function: its Monte Carlo $L^p$ error against the true score
([`score_error`][langevin_jax.metrics.score_error], in log space, optionally importance
sampled, with its standard error) and a lower estimate of its Lipschitz constant
([`lipschitz_estimate`][langevin_jax.metrics.lipschitz_estimate]). Both take the PRNG key first.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.types import ArrayLike, PRNGKey, Target


class ScoreError(NamedTuple):
    r"""Monte Carlo estimate of $\mathbb{E}_\pi |\hat s - s|^p$.

    Attributes:
      value: the estimate (a Python float in double precision; 0.0 when it underflows
        even float64 -- read ``log_value`` then).
      std_error: its Monte Carlo standard error.
      log_value: $\log$ of the estimate, computed in log space (finite even for values
        like $10^{-400}$); ``-inf`` when every sample had zero error.
      log_std_error: standard error of ``log_value`` (delta method: ``std_error / value``).
      num_samples: number of draws used.
      importance_sampled: whether a proposal was used.
    """

    value: float
    std_error: float
    log_value: float
    log_std_error: float
    num_samples: int
    importance_sampled: bool

    def __str__(self) -> str:
        if self.log_value == -math.inf:
            return "0 (no sample hit the region where s_hat != s)"
        if self.value == 0.0 or self.value < 1e-30:
            return f"exp({self.log_value:.1f} ± {self.log_std_error:.2f})"
        return f"{self.value:.4g} ± {self.std_error:.2g}"


def score_error(
    key: PRNGKey,
    score_hat_fn: Callable[[jax.Array], jax.Array],
    score_fn: Callable[[jax.Array], jax.Array],
    target: Target,
    num_samples: int = 10_000,
    *,
    p: float = 2.0,
    proposal: Optional[Any] = None,
    batch_size: int = 65_536,
) -> ScoreError:
    r"""$\mathbb{E}_\pi |\hat s(X) - s(X)|^p$ by Monte Carlo, with its standard error, in log space.

    Without ``proposal``, $X \sim$ ``target`` (plain Monte Carlo). When the error lives in a
    region $\pi$ almost never visits (the trap of Theorem 1 has error $\sim e^{-c d}$,
    far below float32's resolution), pass a ``proposal`` $q$ that covers that region:
    the estimate becomes $\operatorname{mean}_i w_i |\hat s - s|^p(Y_i)$ with $Y_i \sim q$ and
    $w = \pi / q$, computed with ``logsumexp`` so it never underflows.

    Args:
      key: PRNG key.
      score_hat_fn: the approximate score $\hat s$, ``[d] -> [d]``.
      score_fn: the true score $s$, ``[d] -> [d]``.
      target: $\pi$, an object with ``sample(key, num)`` and (with a proposal) ``log_prob(x)``.
      num_samples: number of draws, >= 2.
      p: the exponent $p > 0$ of the $L^p$ error.
      proposal: optional object with ``sample`` and ``log_prob`` (e.g. a shifted
        [`langevin_jax.Gaussian`][langevin_jax.Gaussian]); its support must cover where $\hat s \ne s$.
      batch_size: draws evaluated per compiled batch (bounds memory), an int >= 1.

    Returns:
      A [`ScoreError`][langevin_jax.metrics.ScoreError].

    Raises:
      ValueError: a ``key`` that is not a PRNG key, ``num_samples < 2``, ``p <= 0``, a
        ``batch_size`` that is not an int >= 1, a score that does not map a point ``[d]`` of
        the sampled points to ``[d]`` (checked abstractly, before anything runs), or NaN
        errors at the sampled points.
    """
    _checks.check_key("key", key)
    _checks.check_callable("score_hat_fn", score_hat_fn)
    _checks.check_callable("score_fn", score_fn)
    num_samples = _checks.check_int_at_least("num_samples", num_samples, 2)
    batch_size = _checks.check_int_at_least("batch_size", batch_size, 1)
    _checks.check_positive_finite("p", p)
    sampler = target if proposal is None else proposal
    _check_score_shapes(key, sampler, "target" if proposal is None else "proposal", score_hat_fn, score_fn)

    @functools.partial(jax.jit, static_argnums=1)
    def log_terms(k, n):
        y = sampler.sample(k, n)
        diff = jax.vmap(score_hat_fn)(y) - jax.vmap(score_fn)(y)
        sq = jnp.sum(diff * diff, axis=-1)
        # a NaN error stays NaN (it must not read as "no error"), zero error is log 0 = -inf
        log_f = jnp.where(sq > 0, 0.5 * p * jnp.log(jnp.where(sq > 0, sq, 1.0)),
                          jnp.where(sq == 0, -jnp.inf, jnp.nan))
        if proposal is not None:
            log_f = log_f + jax.vmap(target.log_prob)(y) - jax.vmap(proposal.log_prob)(y)
        return log_f

    chunks = []
    for i, start in enumerate(range(0, num_samples, batch_size)):
        n = min(batch_size, num_samples - start)
        chunks.append(np.asarray(log_terms(jax.random.fold_in(key, i), n), np.float64))
    log_t = np.concatenate(chunks)
    if np.any(np.isnan(log_t)):
        raise ValueError(
            f"score_hat_fn or score_fn returned NaN (or inf - inf) at {int(np.sum(np.isnan(log_t)))} of "
            f"{num_samples} sampled points: the L^p error is undefined there, not zero")
    if np.any(np.isposinf(log_t)):  # an infinite score (or an overflowing error): the error is infinite
        inf = math.inf
        return ScoreError(inf, inf, inf, inf, num_samples, proposal is not None)
    finite_max = np.max(log_t)
    if finite_max == -np.inf:
        return ScoreError(0.0, 0.0, -math.inf, 0.0, num_samples, proposal is not None)
    ratios = np.exp(log_t - finite_max)
    mean_ratio = ratios.mean()
    log_value = finite_max + math.log(mean_ratio)
    rel = ratios / mean_ratio
    rel_se = float(np.std(rel, ddof=1) / math.sqrt(num_samples))
    value = math.exp(log_value) if log_value > -745 else 0.0
    return ScoreError(value, value * rel_se, float(log_value), rel_se, num_samples,
                      proposal is not None)


def _check_score_shapes(key, sampler, which: str, score_hat_fn, score_fn) -> None:
    """Abstractly (nothing runs): the sampler gives ``[n, d]`` points and both scores map a point
    ``[d]`` to ``[d]``; a wrong-shape estimate would otherwise broadcast against the true score."""
    if not callable(getattr(sampler, "sample", None)):
        raise ValueError(f"{which} must have a sample(key, num) method, got {type(sampler).__name__}")
    try:
        points = jax.eval_shape(lambda k: sampler.sample(k, 2), key)
    except Exception as err:  # noqa: BLE001 - re-raised naming the argument
        raise ValueError(f"{which}.sample(key, num) failed: {type(err).__name__}: {err}") from err
    if getattr(points, "ndim", None) != 2:
        raise ValueError(f"{which}.sample(key, 2) must return points [2, d], got "
                         f"{getattr(points, 'shape', type(points).__name__)}")
    point = jax.ShapeDtypeStruct(points.shape[1:], points.dtype)
    for name, fn in (("score_hat_fn", score_hat_fn), ("score_fn", score_fn)):
        try:
            out = jax.eval_shape(fn, point)
        except Exception as err:  # noqa: BLE001 - re-raised naming the argument
            raise ValueError(f"{name} failed on a point of shape {point.shape}: {type(err).__name__}: {err}") from err
        if getattr(out, "shape", None) != point.shape:
            raise ValueError(f"{name} must map a point {point.shape} to a score of the same shape, got "
                             f"{getattr(out, 'shape', type(out).__name__)}")


def lipschitz_estimate(
    key: PRNGKey,
    score_fn: Callable[[jax.Array], jax.Array],
    points: ArrayLike,
    num_pairs: int = 1024,
    scale: float = 0.1,
) -> float:
    r"""A lower estimate of the Lipschitz constant of ``score_fn`` around ``points``.

    The maximum of (a) the spectral norm of the Jacobian $\partial s / \partial x$ at every point
    (the local Lipschitz constant, exact where $s$ is differentiable) and (b) the ratio
    $|s(x) - s(y)| / |x - y|$ over ``num_pairs`` random pairs with $y = x + \text{scale} \cdot z$,
    $z \sim \mathcal{N}(0, I)$.
    Any such estimate is a lower bound on the global constant; spread ``points`` over the
    regions of interest (e.g. across the bump's transition annulus).

    Args:
      key: PRNG key.
      score_fn: ``[d] -> [d]``.
      points: ``[m, d]`` evaluation points.
      num_pairs: random perturbed pairs for the finite-difference part, >= 1.
      scale: perturbation size, > 0.

    Raises:
      ValueError: a ``key`` that is not a PRNG key, ``points`` not ``[m >= 1, d >= 1]`` or
        with NaN/inf, ``num_pairs < 1`` or ``scale <= 0``.
    """
    _checks.check_key("key", key)
    points = _checks.check_rank("points", points, 2, "[m, d]")
    if points.shape[0] < 1 or points.shape[1] < 1:
        raise ValueError(f"points must contain at least one point of dimension d >= 1, [m >= 1, d >= 1], "
                         f"got shape {points.shape}")
    _checks.check_real("points", points)
    _checks.check_finite_array("points", points)
    if not jnp.issubdtype(points.dtype, jnp.floating):
        points = points.astype(jnp.float32)
    num_pairs = _checks.check_int_at_least("num_pairs", num_pairs, 1)
    _checks.check_positive_finite("scale", scale)
    jac = jax.jit(jax.vmap(jax.jacfwd(score_fn)))(points)
    local = float(jnp.max(jnp.linalg.norm(jac, ord=2, axis=(1, 2))))
    k_idx, k_z = jax.random.split(key)
    idx = jax.random.randint(k_idx, (num_pairs,), 0, points.shape[0])
    x = points[idx]
    y = x + scale * jax.random.normal(k_z, x.shape, x.dtype)
    sx, sy = jax.vmap(score_fn)(x), jax.vmap(score_fn)(y)
    ratio = jnp.linalg.norm(sx - sy, axis=1) / jnp.linalg.norm(x - y, axis=1)
    return max(local, float(jnp.max(ratio)))
