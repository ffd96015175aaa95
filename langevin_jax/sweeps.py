r"""Differentiable sweeps over dimension under one compilation.

A sweep evaluates ``fn(d, mask)`` for every $d$ in a list by padding every array to
``d_max`` and masking the unused coordinates, then ``vmap``-ping over the dimensions inside
one ``jit``: one trace, one compilation for the whole sweep. For this to be honest, a
padded computation must equal the unpadded one at that $d$; the pieces here are built so
that it does:

* **noise** ([`prefix_normal`][langevin_jax.sweeps.prefix_normal]): with JAX's partitionable threefry (the default since
  JAX 0.5) coordinate $i$ of ``jax.random.normal(key, (d,))`` depends on ``(key, i)`` only,
  so the first $d$ coordinates do not depend on ``d_max``;
* **dynamics** ([`masked_ula`][langevin_jax.sweeps.masked_ula]): ULA run by [`langevin_jax.run`][langevin_jax.run]
  with the diagonal
  step $h \cdot \mathrm{mask}$, so padded coordinates stay exactly at their start (0), and a sweep and a
  plain run with the same key agree;
* **targets and metrics**: padded coordinates carry the target's own law (mean 0,
  variance 1) and contribute exactly zero to the masked error formulas.

Everything is differentiable in the continuous parameters (step size, noise level, trap
radius, $\alpha$) through the reparametrised noise.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from langevin_jax import _checks, theory
from langevin_jax.runner import chain_keys, run
from langevin_jax.samplers.ula import build_kernel as build_ula_kernel
from langevin_jax.samplers.ula import init as ula_init
from langevin_jax.samplers.base import SamplingAlgorithm, check_score_shape, euler_maruyama
from langevin_jax.types import ArrayLike, PRNGKey, PyTree

__all__ = [
    # the sweep machinery
    "dimension_masks",
    "prefix_normal",
    "prefix_noise",
    "masked_ula",
    "sweep",
    # closed forms and fits on padded coordinates
    "pad_spectrum",
    "ula_gaussian_w2_masked",
    "diag_fit_w2_masked",
    "masked_gaussian_fit_kl",
]


def dimension_masks(dims: Sequence[int], d_max: int | None = None) -> jax.Array:
    """``[len(dims), d_max]`` float masks, row ``j`` is 1 on the first ``dims[j]`` coordinates."""
    dims = [_checks.check_int_at_least("dims entries", d, 1) for d in dims]
    if not dims:
        raise ValueError("dims must list at least one dimension, got an empty sequence")
    d_max = max(dims) if d_max is None else _checks.check_int_at_least("d_max", d_max, 1)
    if max(dims) > d_max:
        raise ValueError(f"every d in dims must be <= d_max={d_max}, got {max(dims)}")
    return jnp.asarray(np.arange(d_max)[None, :] < np.asarray(dims)[:, None], jnp.float32)


def _check_mask(mask: ArrayLike, d_max: int, against: str) -> jax.Array:
    """A ``[d_max]`` mask of 0/1 (the values when concrete)."""
    mask = jnp.asarray(mask)
    if mask.shape != (d_max,):
        raise ValueError(f"mask must have shape ({d_max},) to match {against}, got {mask.shape}")
    _checks.check_real("mask", mask)
    if _checks.is_concrete(mask) and not np.all(np.isin(np.asarray(mask), (0, 1))):
        raise ValueError("mask must hold only 0 and 1")
    return mask


def _check_padding(name: str, x: jax.Array, mask: jax.Array) -> None:
    """Padded coordinates (``mask == 0``, the last axis) of a concrete ``x`` are exactly 0."""
    if not (_checks.is_concrete(x) and _checks.is_concrete(mask)):
        return
    padded = np.asarray(mask) == 0
    values = np.asarray(x)[..., padded]
    if values.size and np.any(values != 0):
        raise ValueError(f"{name} must be 0 on the padded coordinates (where mask == 0), got "
                         f"{values.ravel()[np.flatnonzero(values.ravel())[0]]!r} there")


def _check_partitionable() -> None:
    if not jax.config.values["jax_threefry_partitionable"]:
        raise ValueError(
            "sweeps need jax_threefry_partitionable=True (JAX's default since 0.5): only then is "
            "jax.random.normal(key, (d_max,))[:d] == jax.random.normal(key, (d,)), which makes a "
            "padded run equal the unpadded one"
        )


def prefix_normal(key: PRNGKey, d: int, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """``[d]`` standard normals, prefix-consistent: ``prefix_normal(key, d)[:k] == prefix_normal(key, k)``.

    This is ``jax.random.normal(key, (d,))``: with JAX's partitionable threefry (the default
    since JAX 0.5) coordinate $i$ depends on ``(key, i)`` only, so the first $d$
    coordinates do not depend on the padding, and a sweep draws exactly the noise of
    [`langevin_jax.run`][langevin_jax.run] (which is what makes a sweep and a plain run agree).
    """
    _check_partitionable()
    _checks.check_key("key", key)
    d = _checks.check_count("d", d, 1)
    return jax.random.normal(key, (d,), dtype)


def prefix_noise(key: PRNGKey, num_steps: int, num_chains: int, d: int,
                 dtype: DTypeLike = jnp.float32) -> jax.Array:
    """``[num_steps, num_chains, d]``: exactly the noise [`masked_ula`][langevin_jax.sweeps.masked_ula] (and
    [`langevin_jax.run`][langevin_jax.run]) draws, chain ``c`` at step ``k`` from ``chain_keys(key, k)[c]``.

    Precompute it once to reuse the same noise (common random numbers) across many
    evaluations, e.g. gradient descent on a step size through simulated chains.
    """
    _check_partitionable()
    _checks.check_key("key", key)
    num_steps = _checks.check_count("num_steps", num_steps, 1)
    num_chains = _checks.check_count("num_chains", num_chains, 1)
    d = _checks.check_count("d", d, 1)
    _checks.check_memory(f"prefix_noise's result [num_steps, num_chains, d] = [{num_steps}, {num_chains}, {d}]",
                         num_steps * num_chains * d * np.dtype(dtype).itemsize)

    def one(k):
        keys = chain_keys(key, k, num_chains)
        return jax.vmap(lambda kk: jax.random.normal(kk, (d,), dtype))(keys)

    return jax.lax.map(one, jnp.arange(num_steps))


# ULA's kernel (its public layer): the step of ``masked_ula``, whose diagonal step ``h * mask``
# is zero on padded coordinates, so it skips ``lj.ula``'s eager check (h > 0 everywhere)
_ULA_KERNEL = build_ula_kernel()


def _masked_ula_step(score_fn, step_size, rng_key, state):
    return _ULA_KERNEL(rng_key, state, score_fn, step_size)


def masked_ula(
    key: PRNGKey,
    score_fn: Callable[[jax.Array], jax.Array],
    step_size: ArrayLike,
    initial_positions: ArrayLike,
    num_steps: int,
    mask: ArrayLike,
    noise: ArrayLike | None = None,
) -> jax.Array:
    r"""ULA on the coordinates selected by ``mask``; padded coordinates stay where they start.

    $x_{k+1} = x_k + (h m)\, s(x_k) + \sqrt{2 h m}\, \xi_k$: ULA with the diagonal step $h m$, $m$ = ``mask``,
    run by [`langevin_jax.run`][langevin_jax.run] with ULA's kernel (one implementation, one key scheme), so
    on the used coordinates it agrees with ``lj.run(key, lj.ula(score, h), x0[:, :d], num_steps)``
    up to float rounding of the score. Differentiable in ``step_size`` and in anything
    ``score_fn`` closes over (the padded coordinates contribute zero derivative). Call it
    inside ``jit``/``vmap`` (e.g. from [`sweep`][langevin_jax.sweeps.sweep]).

    Args:
      key: PRNG key.
      score_fn: ``[d_max] -> [d_max]`` (finite on padded coordinates, which it sees as 0).
      step_size: $h > 0$ (a traced scalar is fine).
      initial_positions: ``[num_chains, d_max]``.
      num_steps: static number of steps.
      mask: ``[d_max]`` of 0/1.
      noise: optional ``[num_steps, num_chains, d_max]`` from [`prefix_noise`][langevin_jax.sweeps.prefix_noise] (then
        ``key`` is unused); the result equals drawing it on the fly up to float rounding
        (a few ulps: XLA fuses the two code paths differently).

    Returns:
      ``[num_chains, d_max]`` final positions.
    """
    _check_partitionable()
    _checks.check_callable("score_fn", score_fn)
    num_steps = _checks.check_count("num_steps", num_steps, 1)
    initial_positions = _checks.check_rank("initial_positions", initial_positions, 2,
                                           "[num_chains, d_max]")
    d_max = initial_positions.shape[1]
    mask = _check_mask(mask, d_max, "initial_positions")
    _checks.check_positive_finite("step_size", step_size)
    _checks.check_real("initial_positions", initial_positions)
    _check_padding("initial_positions", initial_positions, mask)
    check_score_shape("score_fn", score_fn,  # one chain's point, abstractly: nothing runs
                      jax.ShapeDtypeStruct(initial_positions.shape[1:], initial_positions.dtype))
    if noise is not None:
        noise = jnp.asarray(noise)
        want = (num_steps,) + initial_positions.shape
        if noise.shape != want:
            raise ValueError(f"noise must have shape {want} ([num_steps, num_chains, d_max]), got "
                             f"{noise.shape}")
    h = jnp.asarray(step_size, initial_positions.dtype) * jnp.asarray(mask, initial_positions.dtype)
    if noise is not None:
        def advance(x, xi):
            return euler_maruyama(x, jax.vmap(score_fn)(x), h, xi), None

        x, _ = jax.lax.scan(advance, initial_positions, noise)
        return x
    algorithm = SamplingAlgorithm(ula_init, jax.tree_util.Partial(_masked_ula_step, score_fn, h))
    return run(key, algorithm, initial_positions, num_steps).positions


def sweep(fn: Callable[[jax.Array, jax.Array], PyTree], dims: Sequence[int],
          d_max: int | None = None) -> PyTree:
    """Evaluate ``fn(d, mask)`` for every ``d`` in ``dims`` under one ``jit`` of a ``vmap``.

    Args:
      fn: ``(d: int32 scalar, mask: [d_max]) -> pytree``; must be traceable with ``d`` traced.
      dims: the dimensions.
      d_max: padding size (default ``max(dims)``).

    Returns:
      ``fn``'s outputs stacked along a leading ``[len(dims)]`` axis.
    """
    _checks.check_callable("fn", fn)
    masks = dimension_masks(dims, d_max)
    return jax.jit(jax.vmap(fn))(jnp.asarray(list(dims), jnp.int32), masks)


# --------------------------------------------------------------------------------------
# Closed forms and fits on padded coordinates (padded coordinates contribute exactly zero)
# --------------------------------------------------------------------------------------


def pad_spectrum(eigenvalues: ArrayLike, mask: ArrayLike) -> jax.Array:
    """Eigenvalues on the used coordinates, 1 on the padded ones."""
    eigenvalues = _checks.check_rank("eigenvalues", eigenvalues, 1, "[d_max]")
    _checks.check_real("eigenvalues", eigenvalues)
    mask = _check_mask(mask, eigenvalues.shape[0], "eigenvalues")
    return jnp.where(mask > 0, eigenvalues, 1.0)


def ula_gaussian_w2_masked(step_size: ArrayLike, eigenvalues: ArrayLike, mask: ArrayLike, num_steps: int,
                           start: float = 1.0) -> jax.Array:
    r"""Closed-form $W_2$ between ULA's law after $k$ steps and $\mathcal{N}(0, \operatorname{diag}(\lambda))$.

    ULA on $\mathcal{N}(0, \operatorname{diag}(\lambda))$ started at $x_0 = \text{start} \cdot \mathbf{1}$
    (deterministic): per coordinate the law is $\mathcal{N}\bigl(\rho^k\, \text{start},\, v (1 - \rho^{2k})\bigr)$
    with $\rho = 1 - h / \lambda$ and $v = \lambda / \bigl(1 - h / (2 \lambda)\bigr)$
    ([`langevin_jax.theory.ula_gaussian_law`][langevin_jax.theory.ula_gaussian_law], from
    $\mathcal{N}(\text{start}, 0)$); the laws commute, so

    $$
    W_2^2 = \sum_i \mathrm{mask}_i \Bigl[(\rho^k\, \text{start})^2
    + \bigl(\sqrt{\lambda_i} - \sqrt{\mathrm{var}_i}\bigr)^2\Bigr].
    $$

    A finite budget $k$ makes small $h$ slow and large $h$ biased: the optimal $h$
    depends on $d$ through the smallest eigenvalue in play. Differentiable in ``step_size``
    and ``eigenvalues`` (padded coordinates see $\lambda = 1$ and add zero).
    """
    _checks.check_real("num_steps", num_steps)
    _checks.check_real("step_size", step_size)
    _checks.check_real("start", start)
    lam = pad_spectrum(eigenvalues, mask)
    mean_k, var_k = theory.ula_gaussian_law_unchecked(0.0, lam, step_size, num_steps, start, 0.0)
    terms = mean_k**2 + (jnp.sqrt(lam) - jnp.sqrt(jnp.maximum(var_k, 0.0))) ** 2
    return jnp.sqrt(jnp.sum(mask * terms))


def diag_fit_w2_masked(samples: jax.Array, eigenvalues: ArrayLike, mask: ArrayLike,
                       debias: bool = True) -> jax.Array:
    r"""Smooth $W_2$ estimate from samples ``[n, d_max]`` to $\mathcal{N}(0, \operatorname{diag}(\lambda))$ on
    the mask.

    Fits an independent Gaussian per coordinate (the law of ULA on a diagonal Gaussian is
    one) and sums $\mathrm{mean}_i^2 + (\sqrt{\lambda_i} - \mathrm{sd}_i)^2$ over used coordinates. With
    ``debias`` the squared sample mean's bias $\mathrm{var}_i / n$ is subtracted (the remaining bias,
    from $\mathbb{E}[\mathrm{sd}] \approx \sigma \bigl(1 - 1/(4n)\bigr)$, is $O(1/n^2)$ per coordinate in
    $W_2^2$).
    Differentiable through the samples.
    """
    samples = _checks.check_rank("samples", samples, 2, "[n, d_max]")
    n = samples.shape[0]
    if n < 2:
        raise ValueError(f"samples must hold n >= 2 rows (a variance is fitted), got {n}")
    eigenvalues = _checks.check_rank("eigenvalues", eigenvalues, 1, "[d_max]")
    if eigenvalues.shape[0] != samples.shape[1]:
        raise ValueError(f"eigenvalues must have shape ({samples.shape[1]},) to match samples, "
                         f"got {eigenvalues.shape}")
    mask = _check_mask(mask, samples.shape[1], "samples")
    lam = pad_spectrum(eigenvalues, mask)
    mean = jnp.mean(samples, axis=0)
    var = jnp.var(samples, axis=0, ddof=1)
    # padded coordinates have zero variance: keep sqrt's gradient finite there
    sd = jnp.where(mask > 0, jnp.sqrt(jnp.where(mask > 0, var, 1.0)), 0.0)
    mean_sq = mean**2 - var / n if debias else mean**2
    w2sq = jnp.sum(mask * (mean_sq + (jnp.sqrt(lam) - sd) ** 2))
    return jnp.sqrt(jnp.maximum(w2sq, 1e-12))


def masked_gaussian_fit_kl(samples: jax.Array, mean: ArrayLike, mask: ArrayLike) -> jax.Array:
    r"""Gaussian-fit $\mathrm{KL}\bigl(\mathcal{N}(\hat m, \hat S) \,\|\, \mathcal{N}(\text{mean}, I)\bigr)$ on the
    masked coordinates.

    Padded coordinates (zero in ``samples`` and ``mean``) get the target's law (variance 1)
    substituted, so they add exactly zero; equals
    [`langevin_jax.metrics.gaussian_fit_kl`][langevin_jax.metrics.gaussian_fit_kl] of the unpadded samples.
    """
    samples = _checks.check_rank("samples", samples, 2, "[n, d_max]")
    n, d_max = samples.shape
    if n < 2:
        raise ValueError(f"samples must hold n >= 2 rows (a covariance is fitted), got {n}")
    _checks.check_real("samples", samples)
    mean = _checks.check_vector("mean", mean, d_max)
    mask = _check_mask(mask, d_max, "samples")
    _check_padding("samples", samples, mask)
    _check_padding("mean", mean, mask)
    m = jnp.mean(samples, axis=0)
    c = samples - m
    cov = (c.T @ c) / (n - 1) + jnp.diag(1.0 - mask)
    diff = (m - mean) * mask
    chol = jnp.linalg.cholesky(cov)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    return 0.5 * (jnp.trace(cov) + jnp.dot(diff, diff) - d_max - logdet)
