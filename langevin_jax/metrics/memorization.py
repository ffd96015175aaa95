"""Did the sampler copy its training data? One call
([`memorization_report`][langevin_jax.metrics.memorization_report]) gives, per sample, the
nearest and second-nearest training points, the nearest-neighbour distance ratio of the
memorisation criterion of Yoon et al. (2023) and Gu et al. (TMLR 2025), and (optionally) whether
the sample lies within a trap radius of a training point; then the fractions with their
standard errors, and the same numbers for held-out draws of the data law (the baseline).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.metrics._clouds import _sq_dists
from langevin_jax.types import ArrayLike


class MemorizationPerSample(NamedTuple):
    r"""Per-sample numbers of a [`MemorizationReport`][langevin_jax.metrics.MemorizationReport]
    ($n$ samples; ``[B, n]`` when the report was ``vmap``-ed over $B$ sample sets).

    Attributes:
      nearest_distance: ``[n]`` $|x_i - p_{j_1(i)}|$, distance to the nearest training point,
        recomputed directly for the chosen point (exactly 0 on a training point).
      nearest_index: ``[n]`` int32 $j_1(i)$, index of the nearest training point; ties go to
        the lowest index.
      second_distance: ``[n]`` $|x_i - p_{j_2(i)}|$, distance to the second-nearest training
        point, a different *index* $j_2 \ne j_1$ (a training point duplicated in the set is
        both the nearest and the second nearest). Always ``>= nearest_distance``.
      ratio: ``[n]`` ``nearest_distance / second_distance`` in $[0, 1]$; 0 when both
        are 0 (the sample sits on a duplicated training point, see
        [`memorization_report`][langevin_jax.metrics.memorization_report]).
      is_copy: ``[n]`` bool, ``ratio < copy_ratio``: the sample is memorised.
      within_radius: ``[n]`` bool, ``nearest_distance <= radius``; ``None`` without a radius.
    """

    nearest_distance: jax.Array
    nearest_index: jax.Array
    second_distance: jax.Array
    ratio: jax.Array
    is_copy: jax.Array
    within_radius: Optional[jax.Array]


class MemorizationReport(NamedTuple):
    r"""What [`memorization_report`][langevin_jax.metrics.memorization_report] returns: a pytree
    of arrays (so it can leave ``jit`` and ``vmap``, where every field gains the batch axes),
    and [`summary`][langevin_jax.metrics.MemorizationReport.summary] for plain Python numbers.

    Attributes:
      per_sample: the ``[n]`` arrays, a
        [`MemorizationPerSample`][langevin_jax.metrics.MemorizationPerSample].
      copy_ratio: ``[]`` the threshold used for ``is_copy``.
      radius: ``[]`` the radius used for ``within_radius``, or ``None``.
      copy_fraction: ``[]`` fraction of samples with ``is_copy`` (the memorisation ratio).
      copy_fraction_se: ``[]`` its binomial standard error $\sqrt{p (1 - p) / n}$.
      within_radius_fraction: ``[]`` fraction of samples with ``within_radius``, or ``None``.
      within_radius_fraction_se: ``[]`` its binomial standard error, or ``None``.
      nearest_distance_median: ``[]`` median of ``nearest_distance``.
      nearest_distance_mean: ``[]`` mean of ``nearest_distance``.
      nearest_distance_mean_se: ``[]`` its standard error $\mathrm{std} / \sqrt n$ (``ddof = 1``;
        NaN when $n = 1$).
      ratio_median: ``[]`` median of ``ratio``.
      baseline: the same report for the held-out points against the training set (what a
        fresh draw of the data law looks like; its own ``baseline`` is ``None``), or ``None``
        without ``heldout``.
    """

    per_sample: MemorizationPerSample
    copy_ratio: jax.Array
    radius: Optional[jax.Array]
    copy_fraction: jax.Array
    copy_fraction_se: jax.Array
    within_radius_fraction: Optional[jax.Array]
    within_radius_fraction_se: Optional[jax.Array]
    nearest_distance_median: jax.Array
    nearest_distance_mean: jax.Array
    nearest_distance_mean_se: jax.Array
    ratio_median: jax.Array
    baseline: Optional[MemorizationReport]

    def summary(self) -> dict[str, Any]:
        """The scalar fields as plain Python numbers, for JSON: ``num_samples`` (int), every
        other scalar field as a float or ``None``, and ``baseline`` as a nested dict or ``None``.
        Eager only, and for one report: index a ``vmap``-ed report first
        (``jax.tree.map(lambda a: a[b], report)``).

        Raises:
          ValueError: the report is traced (inside ``jit``/``vmap``) or batched.
        """
        out: dict[str, Any] = {}
        for name, value in self._asdict().items():
            if name == "per_sample":
                ratio = value.ratio
                if not _checks.is_concrete(ratio):
                    raise ValueError("summary() needs a concrete report: call it outside jit/vmap")
                if ratio.ndim != 1:
                    raise ValueError(f"summary() needs one report, got a batched one (per_sample.ratio has shape "
                                     f"{ratio.shape}); index it first")
                out["num_samples"] = int(ratio.shape[0])
            elif name == "baseline":
                out[name] = None if value is None else value.summary()
            else:
                out[name] = None if value is None else float(value)
        return out


def memorization_report(
    samples: ArrayLike,
    training_points: ArrayLike,
    *,
    heldout: Optional[ArrayLike] = None,
    radius: Optional[ArrayLike] = None,
    copy_ratio: ArrayLike = 1 / 3,
    block: int = 1024,
) -> MemorizationReport:
    r"""Memorisation diagnostics of ``samples`` against the ``training_points`` of the model.

    For each sample $x$, with $\mathrm{NN}_1(x)$, $\mathrm{NN}_2(x)$ its nearest and second-nearest
    training points (two different indices):

    $$
    \mathrm{ratio}(x) = \frac{|x - \mathrm{NN}_1(x)|}{|x - \mathrm{NN}_2(x)|}, \qquad
    \mathtt{is\_copy}(x) = \mathrm{ratio}(x) < \mathtt{copy\_ratio} \quad (\mathtt{copy\_ratio} = 1/3),
    $$

    the criterion of Yoon et al. (2023, "Diffusion Probabilistic Models Generalize when They
    Fail to Memorize", ICML 2023 workshop SPIGM), adopted by Gu et al. ("On Memorization in
    Diffusion Models", TMLR 2025, arXiv:2310.02664), where a generated image is memorised when
    its $\ell_2$ distance to its nearest training image is less than one third of its distance to
    the second-nearest (their code, ``sail-sg/DiffMemorize/mem_ratio.py``:
    ``(knn_distance[:, 0] / knn_distance[:, 1]) < 1/3``, strict, on ``torch.topk(k=2)`` of
    the distances, i.e. two different indices). The copy fraction is their "memorization
    ratio". With a ``radius`` (e.g. the outer radius $r_\text{out}$ of the memorising score of
    Theorem 7 of Cao et al. 2026, within which a chain is trapped by a training point), also
    $\mathtt{within\_radius}(x) = \bigl(|x - \mathrm{NN}_1(x)| \le \mathtt{radius}\bigr)$. With ``heldout``
    (fresh draws of the data law that were *not* trained on), the same report for them is the ``baseline``: a model
    that generalises has a copy fraction and nearest distances like the baseline's.

    $0 / 0$: a sample sitting on a training point that appears twice in the training set has
    $|x - \mathrm{NN}_1| = |x - \mathrm{NN}_2| = 0$; we set its ratio to 0, so it counts as a copy (it *is*
    one). The reference code gives NaN there, which counts as not memorised. Off the point,
    a duplicated training point still gives $\mathrm{ratio} = 1$ (its two copies are equally far),
    so deduplicate the training set if it has repeated rows.

    How it is computed: both clouds are centred by the training mean (a shift of all data
    changes nothing), the training set is scanned in blocks of ``block`` rows (one
    ``lax.scan``), the samples in chunks of ``block`` rows (``lax.map``), and the best two
    ``(squared distance, index)`` per sample are carried along: memory a few ``block`` $\times$ ``block``
    tiles per step (4 MiB each at the default in float32; times the batch under ``vmap``) plus
    $O\bigl((n + m) d\bigr)$, never $n \times m$. Inside a block the
    squared distances use the matrix form $|x|^2 + |p|^2 - 2\, x \cdot p$ at full precision; it only
    *selects* the two points. Their distances are then recomputed directly as $|x - p_j|$
    (on the inputs as given) and ordered by (distance, index), so ``nearest_distance <=
    second_distance``, a sample on a training point gives exactly 0, and exact ties go to the
    lowest index. A point whose squared distance is within the matrix form's rounding
    ($\sim \epsilon\, |x - \mathrm{mean}|^2$, $\epsilon$ the machine epsilon) of the true nearest or second
    nearest may be chosen in its place, which changes the returned distance by at most that rounding.

    Traceable: works under ``jit`` (samples and training points traced) and ``vmap`` (e.g.
    over a batch of sample sets); ``block`` is static. The value checks below are skipped for
    traced inputs, which then must be finite. Not meant for ``grad``.

    Args:
      samples: ``[n, d]`` generated samples, ``n >= 1``.
      training_points: ``[m, d]`` the points the model was trained on, ``m >= 2``.
      heldout: optional ``[k, d]`` fresh draws of the data law, not trained on, ``k >= 1``.
      radius: optional ``[]`` trap radius ``> 0``, finite in the computation dtype.
      copy_ratio: ``[]`` threshold on ``ratio``, ``0 < copy_ratio <= 1`` in the computation
        dtype (default ``1/3`` as in the papers).
      block: rows per block of the training set and per chunk of the samples, an int >= 1.

    Returns:
      A [`MemorizationReport`][langevin_jax.metrics.MemorizationReport]. Distances and
      fractions are in the floating dtype common to the inputs (float32 for integer inputs;
      float64 inputs stay float64 when x64 is enabled); ``nearest_index`` is int32.

    Raises:
      ValueError: ``samples``, ``training_points`` or ``heldout`` not of rank 2, with too few
        points ($n, k \ge 1$, $m \ge 2$) or $d = 0$, of different $d$, not real, or with
        NaN/inf (where concrete); ``radius`` not a finite scalar $> 0$; ``copy_ratio`` not a
        scalar in $(0, 1]$; ``block`` not an int >= 1.
    """
    samples = _check_points("samples", samples, "[n, d]", 1)
    training_points = _check_points("training_points", training_points, "[m, d]", 2)
    clouds = [samples, training_points]
    if heldout is not None:
        heldout = _check_points("heldout", heldout, "[k, d]", 1)
        clouds.append(heldout)
    d = training_points.shape[1]
    for name, cloud in (("samples", samples), ("heldout", heldout)):
        if cloud is not None and cloud.shape[1] != d:
            raise ValueError(f"{name} and training_points must have the same dimension d, got "
                             f"{cloud.shape[1]} and {d}")
    block = _checks.check_int_at_least("block", block, 1)
    dtype = jnp.result_type(*(c.dtype for c in clouds), jnp.float32)
    copy_ratio = _check_scalar("copy_ratio", copy_ratio, dtype, lambda v: 0 < v <= 1, "in (0, 1]")
    if radius is not None:
        radius = _check_scalar("radius", radius, dtype, lambda v: 0 < v < math.inf, "finite and > 0")
    heldout = None if heldout is None else heldout.astype(dtype)
    return _memorization(samples.astype(dtype), training_points.astype(dtype), heldout, copy_ratio, radius, block)


def _check_points(name: str, x: Any, what: str, min_points: int) -> jax.Array:
    x = _checks.check_rank(name, x, 2, what)
    if x.shape[0] < min_points or x.shape[1] < 1:
        points = "one point" if min_points == 1 else f"{min_points} points"
        raise ValueError(f"{name} must contain at least {points} of dimension d >= 1, got shape {x.shape}")
    _checks.check_real(name, x)
    _checks.check_finite_array(name, x)
    return x


def _check_scalar(name: str, value: Any, dtype: Any, ok, what: str) -> jax.Array:
    """A real scalar; when concrete, ``ok(v)`` for its value *in the computation dtype* (a
    radius that is positive as a Python float but 0 in float32 is refused)."""
    _checks.check_real(name, value)
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")
    if _checks.is_concrete(value):
        with np.errstate(over="ignore", under="ignore"):
            cast = float(np.asarray(value).astype(dtype))
        if not ok(cast):
            changed = cast != float(np.asarray(value)) and not math.isnan(cast)
            shown = f" ({cast!r} in {jnp.dtype(dtype).name})" if changed else ""
            raise ValueError(f"{name} must be {what}, got {value!r}{shown}")
    return jnp.asarray(value, dtype)


@functools.partial(jax.jit, static_argnums=5)
def _memorization(x, points, heldout, copy_ratio, radius, block) -> MemorizationReport:
    """One compiled computation; ``heldout`` and ``radius`` may be ``None`` (empty pytrees)."""
    baseline = None if heldout is None else _report(heldout, points, copy_ratio, radius, block, None)
    return _report(x, points, copy_ratio, radius, block, baseline)


def _report(x, points, copy_ratio, radius, block, baseline) -> MemorizationReport:
    nearest, index, second = _nearest_two(x, points, block)
    ratio = jnp.where(second > 0, nearest / jnp.where(second > 0, second, 1), 0).astype(nearest.dtype)
    is_copy = ratio < copy_ratio
    within = None if radius is None else nearest <= radius
    n = x.shape[0]

    def fraction(flags):
        p = jnp.mean(flags.astype(nearest.dtype))
        return p, jnp.sqrt(p * (1 - p) / n)

    copy_fraction, copy_se = fraction(is_copy)
    within_fraction, within_se = (None, None) if within is None else fraction(within)
    mean_se = (jnp.std(nearest, ddof=1) / math.sqrt(n)) if n > 1 else jnp.full((), jnp.nan, nearest.dtype)
    return MemorizationReport(
        per_sample=MemorizationPerSample(nearest, index, second, ratio, is_copy, within),
        copy_ratio=copy_ratio,
        radius=radius,
        copy_fraction=copy_fraction,
        copy_fraction_se=copy_se,
        within_radius_fraction=within_fraction,
        within_radius_fraction_se=within_se,
        nearest_distance_median=jnp.median(nearest),
        nearest_distance_mean=jnp.mean(nearest),
        nearest_distance_mean_se=mean_se,
        ratio_median=jnp.median(ratio),
        baseline=baseline,
    )


def _merge(best, cand):
    """The best two ``(squared distance, index)`` of a carried pair and a block's pair, both
    ordered; the carried indices are all lower, so a tie keeps the carried point."""
    b1, i1, b2, i2 = best
    v1, j1, v2, j2 = cand
    new_first = v1 < b1
    second_from_block = jnp.where(new_first, v2 < b1, v1 < b2)
    s_val = jnp.where(new_first, jnp.where(second_from_block, v2, b1), jnp.where(second_from_block, v1, b2))
    s_idx = jnp.where(new_first, jnp.where(second_from_block, j2, i1), jnp.where(second_from_block, j1, i2))
    return (jnp.where(new_first, v1, b1), jnp.where(new_first, j1, i1), s_val, s_idx)


def _nearest_two(x, points, block):
    """``(nearest distance, nearest index, second distance)`` ``[n]`` each, blocked both ways."""
    n, d = x.shape
    m = points.shape[0]
    centre = jnp.mean(points, axis=0)
    xc, pc = x - centre, points - centre
    p_block, x_block = min(block, m), min(block, n)
    num_p, num_x = -(-m // p_block), -(-n // x_block)
    p_blocks = jnp.pad(pc, ((0, num_p * p_block - m), (0, 0))).reshape(num_p, p_block, d)
    valid = (jnp.arange(num_p * p_block) < m).reshape(num_p, p_block)
    starts = jnp.arange(num_p, dtype=jnp.int32) * p_block
    x_chunks = jnp.pad(xc, ((0, num_x * x_block - n), (0, 0))).reshape(num_x, x_block, d)
    cols = jnp.arange(p_block, dtype=jnp.int32)

    def chunk(xs):
        def scan_block(best, args):
            pts, ok, start = args
            sq = jnp.where(ok[None, :], _sq_dists(xs, pts), jnp.inf)
            j1 = jnp.argmin(sq, axis=1).astype(jnp.int32)  # the first minimum: the lowest index
            v1 = jnp.min(sq, axis=1)
            sq = jnp.where(cols[None, :] == j1[:, None], jnp.inf, sq)
            j2 = jnp.argmin(sq, axis=1).astype(jnp.int32)
            v2 = jnp.min(sq, axis=1)
            return _merge(best, (v1, start + j1, v2, start + j2)), None

        inf = jnp.full((x_block,), jnp.inf, xs.dtype)
        zero = jnp.zeros((x_block,), jnp.int32)
        (_, i1, _, i2), _ = jax.lax.scan(scan_block, (inf, zero, inf, zero), (p_blocks, valid, starts))
        return i1, i2

    if num_x == 1:  # one chunk: no outer loop
        i1, i2 = chunk(x_chunks[0])
    else:
        i1, i2 = jax.lax.map(chunk, x_chunks)
    i1, i2 = i1.reshape(-1)[:n], i2.reshape(-1)[:n]
    # the two chosen distances, recomputed directly on the inputs, then ordered by (distance, index)
    da = jnp.sqrt(jnp.sum((x - points[i1]) ** 2, axis=1))
    db = jnp.sqrt(jnp.sum((x - points[i2]) ** 2, axis=1))
    swap = (db < da) | ((db == da) & (i2 < i1))
    return jnp.where(swap, db, da), jnp.where(swap, i2, i1), jnp.where(swap, da, db)
