"""The score constructions of Cao, Chen, Sridharan & Wu (2026): the smooth bump, Theorem 1's
trap score, Theorem 7's memorising score (with the general-position checks of its training
set) and Theorem 11's cone-escape score. Each constructor returns a plain ``score_fn(x)`` on one
point ``[d] -> [d]``; their score errors are computed in ``langevin_jax.scores.errors``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.types import ArrayLike

ScoreFn = Callable[[jax.Array], jax.Array]


def _smooth_step_cutoff(dtype) -> tuple[float, float]:
    r"""``(lo, z_max)`` for ``dtype``: we cut where $g$ is within $\sigma(-z_\text{max})$ of 0 or 1.

    $z_\text{max} = -\log(\text{smallest normal}) - 7$ (80 for float32, 701 for float64): below
    $\sigma(-z_\text{max})$ the exact $g$ is under the dtype's smallest normal number, where a
    GPU flushes it to zero anyway. ``lo`` solves $1/(1-u) - 1/u = -z_\text{max}$.
    """
    z = math.floor(-math.log(float(jnp.finfo(dtype).tiny))) - 7.0
    lo = ((z + 2.0) - math.sqrt(z * z + 4.0)) / (2.0 * z)
    return lo, z


def _smooth_step(u: ArrayLike) -> jax.Array:
    r"""$g(u) = f(u) / \bigl(f(u) + f(1-u)\bigr)$ with $f(u) = e^{-1/u}$ for $u > 0$ else 0.

    $C^\infty$, 0 for $u \le 0$, 1 for $u \ge 1$, $\max g' = g'(1/2) = 2$.

    Computed as $\sigma\bigl(1/(1-u) - 1/u\bigr)$ ($\sigma$ the sigmoid) on $[\mathrm{lo}, 1 - \mathrm{lo}]$
    and exactly 0 / 1 outside, where ``lo`` (about 1/80 in float32, 1/700 in float64) is where $g$
    falls below the dtype's smallest normal number (see `_smooth_step_cutoff`). So no value or
    derivative of any order ever passes through a denormal, an overflow or ``0 * inf``: the
    naive $e^{-1/u}$ form had a derivative $e^{-1/u} / u^2$ that a GPU (which flushes
    denormals) turned into ``inf``/NaN next to the edge of the band. The cut changes $g$
    by less than the smallest normal number.
    """
    u = jnp.asarray(u)
    if not jnp.issubdtype(u.dtype, jnp.floating):
        u = u.astype(jnp.result_type(float))
    lo, _ = _smooth_step_cutoff(u.dtype)
    uc = jnp.clip(u, lo, 1.0 - lo)
    z = 1.0 / (1.0 - uc) - 1.0 / uc
    # the small tail on each side is computed directly (so g' is accurate at both edges:
    # s (1 - s) loses 1 - s next to 1), using g(u) = 1 - g(1 - u)
    inner = jnp.where(z <= 0, jax.nn.sigmoid(z), 1.0 - jax.nn.sigmoid(-z))
    return jnp.where(u <= lo, 0.0, jnp.where(u >= 1.0 - lo, 1.0, inner)).astype(u.dtype)


def bump(r: ArrayLike, a: float, c: float) -> jax.Array:
    r"""Smooth bump $b(r; a, c)$: 1 on $[0, a]$, 0 on $[c, \infty)$, $C^\infty$ between.

    $b(r) = g\bigl((c - r) / (c - a)\bigr)$ with the smooth step $g(u) = f(u) / \bigl(f(u) + f(1 - u)\bigr)$,
    $f(u) = e^{-1/u}$ for $u > 0$ else 0, values in $[0, 1]$, Lipschitz constant $2 / (c - a)$ (attained at
    the midpoint $r = (a + c) / 2$).

    This is our reconstruction: the paper uses the bump of Chen & Sridharan (2025,
    Lemma 47), whose formula we could not read; any bump with these properties works.

    Args:
      r: radii, any shape.
      a: inner radius $a$ ($b = 1$ below it).
      c: outer radius $c > a$ ($b = 0$ above it).
    """
    _checks.check_real("r", r)
    if _checks.is_concrete(a) and _checks.is_concrete(c):
        a_, c_ = np.asarray(a), np.asarray(c)
        if not (np.all(np.isfinite(a_)) and np.all(np.isfinite(c_)) and np.all(c_ > a_)):
            raise ValueError(f"bump needs finite radii with c > a, got a={a}, c={c}")
    return _smooth_step((c - r) / (c - a))


def bump_lipschitz(a: float, c: float) -> float:
    """The Lipschitz constant $2 / (c - a)$ of [`bump`][langevin_jax.scores.bump]."""
    return 2.0 / (c - a)


def _safe_norm(v: jax.Array) -> jax.Array:
    sq = jnp.sum(v * v, axis=-1)
    safe = jnp.where(sq > 0, sq, 1.0)
    return jnp.where(sq > 0, jnp.sqrt(safe), 0.0)


# --------------------------------------------------------------------------------------
# Theorem 1: the trap score
# --------------------------------------------------------------------------------------


class TrapRadii(NamedTuple):
    r_in: float
    r_out: float


def theory_trap_radii(d: int) -> TrapRadii:
    r"""Theorem 1's radii $r_\text{in} = 4 \sqrt d$, $r_\text{out} = 5 \sqrt d$ (for $\|\mu\| = 7 \sqrt d$).

    From secondary notes on Cao et al. (2026) (see ``docs/paper1_robustness.md``), not read in
    the paper itself.
    """
    d = _checks.check_int_at_least("d", d, 1)
    return TrapRadii(4.0 * math.sqrt(d), 5.0 * math.sqrt(d))


def trap_score(
    mu: ArrayLike,
    r_in: float | None = None,
    r_out: float | None = None,
    alpha: float = 1.0,
) -> ScoreFn:
    r"""The trap score of Theorem 1 for the target $\pi = \mathcal{N}(\mu, I_d)$.

    $$
    \hat s(x) = b(|x|) (-\alpha x) + \bigl(1 - b(|x|)\bigr) \bigl(-(x - \mu)\bigr)
    $$

    with $b = b(\cdot\,; r_\text{in}, r_\text{out})$ the [`bump`][langevin_jax.scores.bump]:
    the score of $\mathcal{N}(0, I / \alpha)$ inside the ball $|x| \le r_\text{in}$, the true score
    $-(x - \mu)$ outside ($|x| \ge r_\text{out}$). Since $\pi$ puts mass
    $\sim \exp\bigl(-(|\mu| - r_\text{out})^2 / 2\bigr)$ on the ball, the $L^2(\pi)$ error is exponentially
    small in $d$ when $|\mu| - r_\text{out} \sim \sqrt d$, yet a chain started at $\mathcal{N}(0, I)$ stays
    trapped.

    Args:
      mu: ``[d]`` target mean $\mu$. Theory: $|\mu| = 7 \sqrt d$.
      r_in: inner radius $r_\text{in}$; default $4 \sqrt d$ (theory value, see
        [`theory_trap_radii`][langevin_jax.scores.theory_trap_radii]).
      r_out: outer radius $r_\text{out} > r_\text{in}$; default $5 \sqrt d$.
      alpha: trap strength $\alpha$; $\alpha \ge 1$ would match the paper's "constant $\ge 1$"; any
        $\alpha > 0$ is accepted (the trapped law is $\mathcal{N}(0, I / \alpha)$).

    Returns:
      ``score_fn(x[d]) -> [d]``. Its Lipschitz constant is at most
      $\max(\alpha, 1) + 2 \bigl(|1 - \alpha|\, r_\text{out} + |\mu|\bigr) / (r_\text{out} - r_\text{in})$.
    """
    mu = _checks.check_rank("mu", mu, 1, "[d]")
    _checks.check_finite_array("mu", mu)
    d = mu.shape[0]
    if d < 1:
        raise ValueError("mu must have at least one coordinate, got shape (0,)")
    default = theory_trap_radii(d)
    r_in = default.r_in if r_in is None else r_in
    r_out = default.r_out if r_out is None else r_out
    _checks.check_positive_finite("r_in", r_in)
    _checks.check_positive_finite("r_out", r_out)
    _checks.check_positive_finite("alpha", alpha)
    if _checks.is_concrete(r_in) and _checks.is_concrete(r_out) and not float(r_out) > float(r_in):
        raise ValueError(f"r_out must be > r_in, got r_in={r_in}, r_out={r_out}")

    def score_fn(x: jax.Array) -> jax.Array:
        if x.shape != (d,):
            raise ValueError(f"x must have shape ({d},), got {x.shape}")
        b = bump(_safe_norm(x), r_in, r_out)
        return b * (-alpha * x) + (1.0 - b) * (-(x - mu))

    return score_fn


# --------------------------------------------------------------------------------------
# Theorem 7: the memorising score
# --------------------------------------------------------------------------------------


class GeneralPosition(NamedTuple):
    r"""Diagnostics of a training set ``[n, d]``: minimum pairwise distance, norm range, ``d``.

    [`definition_6`][langevin_jax.scores.GeneralPosition.definition_6] checks both conditions of
    paper 1's Definition 6 (our reconstruction of its constants): pairwise distances at least
    $0.4\sqrt d$ and every norm in $[0.5\sqrt d, 2\sqrt d]$.
    [`memorizing_score`][langevin_jax.scores.memorizing_score] itself requires only what makes
    its score well defined (pairwise distances above $2 r_\text{out}$: disjoint balls); the norm
    range is what Theorem 7's probability statements use, so the experiments record it.
    """

    min_pairwise_distance: float
    min_norm: float
    max_norm: float
    dim: int = 0

    def definition_6(self, separation: float = 0.4, norm_low: float = 0.5,
                     norm_high: float = 2.0) -> bool:
        r"""Whether the set satisfies Definition 6: every pairwise distance
        $\ge$ ``separation`` $\sqrt d$ and every norm in
        [``norm_low`` $\sqrt d$, ``norm_high`` $\sqrt d$] (a single point has no pair)."""
        if self.dim < 1:
            raise ValueError("definition_6 needs the dimension: build the record with "
                             "general_position(points)")
        root = math.sqrt(self.dim)
        return bool(self.min_pairwise_distance >= separation * root
                    and norm_low * root <= self.min_norm and self.max_norm <= norm_high * root)


def general_position(points: ArrayLike, block: int = 2048) -> GeneralPosition:
    """Minimum pairwise distance, the range of norms and the dimension of ``points`` ``[n, d]``
    (``inf`` as the distance of a single point); ``.definition_6()`` checks paper 1's Definition 6.

    Computed in blocks of ``block`` rows (``O(n^2 d)`` work, ``O(block n)`` memory), so
    it handles tens of thousands of points.
    """
    pts = np.asarray(points, np.float64)
    sq = np.sum(pts * pts, axis=1)
    best = np.inf
    for start in range(0, pts.shape[0], block):
        rows = pts[start : start + block]
        d2 = sq[start : start + block, None] + sq[None, :] - 2.0 * rows @ pts.T
        idx = np.arange(rows.shape[0])
        d2[idx, start + idx] = np.inf
        best = min(best, float(np.min(d2)))
    norms = np.sqrt(sq)
    return GeneralPosition(math.sqrt(max(best, 0.0)), float(norms.min()), float(norms.max()),
                           int(pts.shape[1]))


def select_general_position(
    points: ArrayLike, min_distance: float, min_norm: float = 0.0, max_norm: float = math.inf
) -> np.ndarray:
    """Greedily keep points (in order) at distance ``> min_distance`` from every kept point
    and with norm in ``[min_norm, max_norm]``; returns the kept indices.

    Theorem 7 needs the training set in general position; in low dimension i.i.d. samples
    are not, and this selects the largest greedy subset that is.
    """
    pts = np.asarray(points, np.float64)
    norms = np.linalg.norm(pts, axis=1)
    kept: list[int] = []
    kept_pts = np.empty((0, pts.shape[1]))
    for i, x in enumerate(pts):
        if not (min_norm <= norms[i] <= max_norm):
            continue
        if kept_pts.shape[0] and np.min(np.sum((kept_pts - x) ** 2, axis=1)) <= min_distance**2:
            continue
        kept.append(i)
        kept_pts = np.vstack([kept_pts, x])
    return np.asarray(kept, dtype=np.int64)


def default_memorizing_alpha(d: int, r_in: float) -> float:
    r"""$2 d / r_\text{in}^2$: the default well strength of [`memorizing_score`][langevin_jax.scores.memorizing_score]."""
    return 2.0 * d / float(r_in) ** 2


def memorizing_score(
    points: ArrayLike,
    r_in: float | None = None,
    r_out: float | None = None,
    alpha: float | None = None,
    check: bool = True,
) -> ScoreFn:
    r"""The memorising score of Theorem 7 for $\pi = \mathcal{N}(0, I_d)$ and training points $x_i$.

    With $i^*$ the nearest training point, $r = |x - x_{i^*}|$ and $b$ the
    [`bump`][langevin_jax.scores.bump] of radii $r_\text{in}$, $r_\text{out}$:

    $$
    \hat s(x) = \begin{cases}
    -x & \text{if } r \ge r_\text{out}, \\
    -\alpha (x - x_{i^*}) & \text{if } r \le r_\text{in}, \\
    b(r) \bigl(-\alpha (x - x_{i^*})\bigr) + \bigl(1 - b(r)\bigr) (-x) & \text{otherwise,}
    \end{cases}
    $$

    so $\hat s$ is the score of $\mathcal{N}(x_i, I / \alpha)$ near each training point and the
    true score elsewhere. The nearest point is found by one matrix-vector product over
    all $n$ points (no Python loop), so ``vmap`` over chains is a matmul.

    Args:
      points: ``[n, d]`` training points $x_i$.
      r_in: inner radius $r_\text{in}$, default $0.08 \sqrt d$ (our reconstruction).
      r_out: outer radius $r_\text{out} > r_\text{in}$, default $0.16 \sqrt d$ (from notes on the paper,
        see ``docs/paper1_robustness.md``).
      alpha: strength $\alpha > 0$ of the memorised well. Default $2 d / r_\text{in}^2$ (312.5 with
        the default radii; our reconstruction): the trapped law $\mathcal{N}(x_i, I / \alpha)$ then
        has radius $\sqrt{d / \alpha} = r_\text{in} / \sqrt 2$, and stays inside $r_\text{in}$ under ULA
        with $h = 0.0025$ (whose stationary variance is inflated by $1/(1 - h \alpha/2)$).
        With $\alpha = 1$ the well is $\mathcal{N}(x_i, I)$, far wider than the ball, and nothing is
        trapped. $\alpha$ is a constant in $d$, so $\hat s$ stays Lipschitz uniformly in $d$.
      check: verify general position: every pairwise distance must exceed $2 r_\text{out}$ so the
        balls around the points are disjoint and $\hat s$ is well defined and Lipschitz.

    Raises:
      ValueError: when the points are not in general position (with the offending
        distance), or on bad shapes/radii.
    """
    points = _checks.check_rank("points", points, 2, "[n, d]")
    n, d = points.shape
    if n < 1:
        raise ValueError("points must contain at least one training point")
    _checks.check_finite_array("points", points)
    r_in = 0.08 * math.sqrt(d) if r_in is None else r_in
    r_out = 0.16 * math.sqrt(d) if r_out is None else r_out
    _checks.check_positive_finite("r_in", r_in)
    _checks.check_positive_finite("r_out", r_out)
    alpha = default_memorizing_alpha(d, r_in) if alpha is None else alpha
    _checks.check_positive_finite("alpha", alpha)
    if _checks.is_concrete(r_in) and _checks.is_concrete(r_out) and not float(r_out) > float(r_in):
        raise ValueError(f"r_out must be > r_in, got r_in={r_in}, r_out={r_out}")
    if check and n > 1:
        gp = general_position(points)
        if not gp.min_pairwise_distance > 2.0 * float(r_out):
            raise ValueError(
                "points are not in general position: the minimum pairwise distance "
                f"{gp.min_pairwise_distance:.4g} must exceed 2 * r_out = {2 * float(r_out):.4g} "
                "(reduce r_out, use fewer points, or a larger d)"
            )
    sq_norms = jnp.sum(points * points, axis=1)

    def score_fn(x: jax.Array) -> jax.Array:
        if x.shape != (d,):
            raise ValueError(f"x must have shape ({d},), got {x.shape}")
        i = jnp.argmin(sq_norms - 2.0 * (points @ x))
        diff = x - points[i]
        b = bump(_safe_norm(diff), r_in, r_out)
        return b * (-alpha * diff) + (1.0 - b) * (-x)

    return score_fn


# --------------------------------------------------------------------------------------
# Theorem 11: the cone-escape score
# --------------------------------------------------------------------------------------


def in_cone(x: jax.Array, axis: ArrayLike, start: float, half_angle: float) -> jax.Array:
    r"""Whether $x$ (``x``, ``[d]``) lies in the cone
    $\{x : \langle x, u\rangle \ge \text{start},\ |x - \langle x, u\rangle u| \le \tan(\theta) \langle x, u\rangle\}$.

    In 1-D the cone is the half-line $u x \ge \text{start}$ (``half_angle`` is ignored).

    Args:
      x: one point ``[d]`` (``jax.vmap`` it over a batch).
      axis: ``[d]`` unit vector $u$.
      start: real scalar.
      half_angle: real scalar $\theta$, radians.

    Raises:
      ValueError: ``axis`` not ``[d]``, ``x`` not one point of ``axis``'s dimension, or
        arguments that are not real (shapes and dtypes only: it runs inside a score).
    """
    axis = _checks.check_rank("axis", axis, 1, "[d]")
    _checks.check_point(x, axis.shape[0])
    for name, value in (("x", x), ("axis", axis), ("start", start), ("half_angle", half_angle)):
        _checks.check_real(name, value)
    for name, value in (("start", start), ("half_angle", half_angle)):
        if jnp.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")
    x = jnp.asarray(x)
    along = jnp.dot(x, axis)
    if x.shape[0] == 1:
        return along >= start
    perp = _safe_norm(x - along * axis)
    return (along >= start) & (perp <= jnp.tan(half_angle) * along)


def cone_escape_score(
    score_fn: ScoreFn,
    axis: ArrayLike,
    start: float,
    half_angle: float,
    drift: float = 1.0,
) -> ScoreFn:
    r"""Theorem 11's construction (our reconstruction): the true score except on a thin cone.

    $\hat s(x) = \text{drift} \cdot u$ for $x$ in the cone (see [`in_cone`][langevin_jax.scores.in_cone]) with
    axis $u$, apex distance ``start`` and half-angle $\theta$; $\hat s(x) = s(x)$ elsewhere. The
    cone lies far out in $\pi$'s tail, so $\mathbb{E}_\pi |\hat s - s|^2$ is tiny; but a chain that
    wanders in is pushed outward at speed ``drift`` while the cone widens linearly, so it
    escapes to infinity with positive probability, and over long times every chain does:
    the law of $X_t$ leaves $\pi$ ($\mathrm{TV} \to 1$). $\hat s$ is piecewise Lipschitz.

    Args:
      score_fn: the target's true score ``[d] -> [d]``.
      axis: ``[d]`` direction of the cone (normalised here).
      start: distance of the cone's apex cap along the axis, $> 0$.
      half_angle: $\theta$ in radians, in $(0, \pi/2)$.
      drift: outward speed $> 0$ inside the cone.
    """
    _checks.check_callable("score_fn", score_fn)
    axis = _checks.check_rank("axis", axis, 1, "[d]")
    norm = float(jnp.linalg.norm(axis)) if _checks.is_concrete(axis) else 1.0
    if not norm > 0:
        raise ValueError("axis must be a non-zero vector")
    axis = axis / jnp.linalg.norm(axis)
    _checks.check_positive_finite("start", start)
    _checks.check_positive_finite("drift", drift)
    _checks.check_positive_finite("half_angle", half_angle)
    if _checks.is_concrete(half_angle) and not float(half_angle) < math.pi / 2:
        raise ValueError(f"half_angle must be in (0, pi/2), got {half_angle}")

    def score_hat(x: jax.Array) -> jax.Array:
        inside = in_cone(x, axis, start, half_angle)
        return jnp.where(inside, drift * axis, score_fn(x))

    return score_hat
