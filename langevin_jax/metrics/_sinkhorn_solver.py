"""The Sinkhorn solver behind [`sinkhorn_divergence`][langevin_jax.metrics.sinkhorn_divergence]
(private): annealed, warm-started log-domain Sinkhorn on OTT-JAX geometries, dense or with the
costs computed online. The only module of the package that imports OTT-JAX, inside functions,
so OTT is imported only when a Sinkhorn divergence is computed.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from langevin_jax.metrics._clouds import _sq_dists


@functools.lru_cache(maxsize=None)
def _online_cloud_cls():
    """A ``PointCloud`` whose log-kernel is applied online, ``batch_size`` rows at a time, with
    `_sq_dists`'s full-precision costs (``lax.map(..., batch_size=...)``; OTT 0.6's own
    online mode fails on this JAX: ``batching.is_vmappable`` was removed). Only
    ``apply_lse_kernel`` is needed by the log-domain Sinkhorn (updates, marginals). Built on
    first use: OTT is imported only when a Sinkhorn divergence is computed."""
    from ott.geometry import pointcloud
    from ott.math import utils as ott_math

    @jax.tree_util.register_pytree_node_class
    class OnlineSqEuclideanCloud(pointcloud.PointCloud):
        def apply_lse_kernel(self, f, g, eps, vec=None, axis=0):
            # as Geometry.apply_lse_kernel on the [n, m] matrix f_i + g_j - C_ij, one output
            # entry (a column for axis 0, a row for axis 1) at a time
            mapped, other = (self.y, self.x) if axis == 0 else (self.x, self.y)
            pot_mapped, pot_other = (g, f) if axis == 0 else (f, g)

            def one(args):
                z, p = args
                centred = (pot_other + p - _sq_dists(z[None], other)[0]) / eps
                if vec is None:
                    return eps * ott_math.logsumexp(centred), jnp.ones((), centred.dtype)
                res, sgn = ott_math.logsumexp(centred, b=vec, return_sign=True)
                return eps * res, sgn

            res, sgn = jax.lax.map(one, (mapped, pot_mapped), batch_size=self._batch_size)
            remove = f if axis == 1 else g
            sgn = jnp.array([1.0]) if vec is None else sgn
            return res - jnp.where(jnp.isfinite(remove), remove, 0), sgn

    return OnlineSqEuclideanCloud


def _max_sq_dist(x, y, batch_size):
    r"""$\max_{ij} |x_i - y_j|^2$ without the ``[n, m]`` matrix: ``batch_size`` rows at a time."""
    rows = jax.lax.map(lambda xi: jnp.max(_sq_dists(xi[None], y)), x, batch_size=batch_size)
    return jnp.max(rows)


#: At and above this ratio of OTT's ``eps = 2 blur^2`` to the bound ``4 max |z - c|^2`` of the
#: costs ``|x - y|^2`` (centred points ``z - c``), the divergence is its large-blur expansion
#: (`_large_blur_value`) instead of a Sinkhorn solve. The expansion's remainder was measured at
#: ``<= 4e-5 bound / ratio^2`` (Gaussian, exponential and two-cluster clouds against a float64
#: Sinkhorn): ``<= 4e-7 bound`` from here on. A float32 log-domain Sinkhorn loses ``~ eps
#: ulp(log n)`` to rounding in every potential: measured ``~ 1e-6 bound`` up to ratio 30, then
#: growing with ``eps`` (``7e-5 bound`` at ratio 270), and the value means nothing far above it
#: (``-1.5e5`` for ``1.5`` at ``blur = 1e6`` on unit-scale clouds).
_CLOSED_FORM_RATIO = 10.0


def _centre(x, y, a, b):
    r"""$x - c$, $y - c$ with $c$ the midpoint of the two weighted means: the divergence is
    translation-invariant, and the costs $|x|^2 + |y|^2 - 2\, x \cdot y$ of the centred points lose
    $\sim \mathrm{ulp}(\max |z - c|^2)$ instead of $\sim \mathrm{ulp}(|z|^2)$ (all of $|x - y|^2$ at a shift of
    $10^4$). Weighted sums, not a matrix product: no TF32 on a GPU."""
    c = 0.5 * (jnp.sum(a[:, None] * x, axis=0) + jnp.sum(b[:, None] * y, axis=0))
    return x - c, y - c


def _cost_bound(x, y):
    r"""$4 \max |z|^2$ over the points of both (centred) clouds: a bound on every cost
    $|u - v|^2$ of the three problems, within a factor 4 of the largest."""
    return 4.0 * jnp.maximum(jnp.max(jnp.sum(x * x, axis=1)), jnp.max(jnp.sum(y * y, axis=1)))


def _max_cost_ratio(dtype) -> float:
    r"""The largest $\mathrm{bound} / \varepsilon$ the float solver is given: the square root of the dtype's
    largest number ($1.8 \cdot 10^{19}$ in float32). Far above it its intermediate quantities overflow
    (float32: ``-inf`` or NaN from $\sim 10^{29}$ on); far below it already (ratio $> 1 / \mathrm{ulp}(1)$)
    $\varepsilon$ is under the costs' rounding $\mathrm{ulp}(\mathrm{bound})$, so a smaller blur is not resolved anyway."""
    return math.sqrt(float(jnp.finfo(dtype).max))


@jax.jit
def _centred_cost_bound(x, y, a, b):
    """`_cost_bound` of the clouds as `_sinkhorn_impl` centres them (for the eager check)."""
    return _cost_bound(*_centre(x, y, a, b))


def _large_blur_value(x, y, a, b, blur):
    r"""The debiased divergence's expansion in $1 / \varepsilon$ ($\varepsilon = \mathrm{blur}^2$, cost
    $|x - y|^2 / 2$):

    $$
    S_\varepsilon = \frac{|m_x - m_y|^2}{2} + \frac{|\Sigma_x - \Sigma_y|_F^2}{4 \varepsilon}
    + O\bigl(|x - y|^6 / \varepsilon^2\bigr)
    $$

    ($m$, $\Sigma$: weighted means and covariances).
    $\mathrm{OT}_\varepsilon(a, b) = \langle C, a \otimes b\rangle - |\tilde C|^2 / (2 \varepsilon) + \dots$
    with $\tilde C$ the doubly centred cost, $-(x - m_x) \cdot (y - m_y)$ here, whose
    $|\cdot|^2$ under $a \otimes b$ is $\operatorname{tr}(\Sigma_x \Sigma_y)$; the debiasing leaves the two
    terms above. $\varepsilon \to \infty$: half the squared distance between the means."""
    mx, my = jnp.sum(a[:, None] * x, axis=0), jnp.sum(b[:, None] * y, axis=0)
    zx, zy = x - mx, y - my
    mm = functools.partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)
    d = x.shape[1]
    if d <= x.shape[0] + y.shape[0]:  # d x d covariances
        diff = mm((zx * a[:, None]).T, zx) - mm((zy * b[:, None]).T, zy)
        frob = jnp.sum(diff * diff)
    else:  # |Z^T W Z|_F^2 = sum_ij w_i w_j (z_i . z_j)^2 over both clouds, W = diag(a, -b)
        z = jnp.concatenate([zx, zy])
        w = jnp.concatenate([a, -b])
        gram = mm(z, z.T)
        frob = jnp.sum(w[:, None] * w[None, :] * gram * gram)
    return 0.5 * jnp.sum((mx - my) ** 2) + frob / (4.0 * blur**2)


@functools.partial(
    jax.jit, static_argnames=("decay", "block", "max_iterations", "threshold", "rtol", "batch_size")
)
def _sinkhorn_impl(x, y, a, b, blur, *, decay, block, max_iterations, threshold, rtol, batch_size=None):
    r"""``(value, converged, num_iterations)`` of the debiased divergence (the fields of a
    ``SinkhornResult``); the arguments are validated by ``sinkhorn_divergence``.

    The points are centred first (`_centre`). With ``bound`` the cost bound `_cost_bound` and
    OTT's $\varepsilon = 2\, \mathrm{blur}^2$: ``eps >= _CLOSED_FORM_RATIO * bound`` (a blur far above the clouds'
    scale) gets the closed form `_large_blur_value` with ``converged = True`` and
    ``num_iterations = 0``; ``bound > _max_cost_ratio(dtype) * eps`` (a blur so far below it that
    the float solver overflows; refused by ``sinkhorn_divergence`` where the values are
    concrete) gets ``value = NaN``, ``converged = False``, ``num_iterations = 0``; anything
    else the annealed Sinkhorn of `_solve`."""
    x, y = _centre(x, y, a, b)
    bound = _cost_bound(x, y)
    target = 2.0 * blur**2

    def closed_form(x, y, a, b, blur):
        return (_large_blur_value(x, y, a, b, blur).astype(x.dtype), jnp.asarray(True),
                jnp.asarray(0, jnp.int32))

    def meaningless(x, y, a, b, blur):
        return jnp.full((), jnp.nan, x.dtype), jnp.asarray(False), jnp.asarray(0, jnp.int32)

    def solve(x, y, a, b, blur):
        value, done, iters = _solve(x, y, a, b, blur, decay=decay, block=block, max_iterations=max_iterations,
                                    threshold=threshold, rtol=rtol, batch_size=batch_size)
        return value.astype(x.dtype), jnp.asarray(done, bool), jnp.asarray(iters, jnp.int32)

    limit = jnp.asarray(_max_cost_ratio(x.dtype), x.dtype)
    branch = jnp.where(target >= _CLOSED_FORM_RATIO * bound, 0, jnp.where(bound > limit * target, 1, 2))
    return jax.lax.switch(branch, (closed_form, meaningless, solve), x, y, a, b, blur)


def _solve(x, y, a, b, blur, *, decay, block, max_iterations, threshold, rtol, batch_size):
    """The annealed, warm-started Sinkhorn solve of `_sinkhorn_impl` (on centred points)."""
    from ott.geometry import epsilon_scheduler, geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import acceleration, sinkhorn

    # GeomLoss: cost |x - y|^2 / 2 at eps = blur^2. OTT's PointCloud cost is |x - y|^2; the
    # regularised OT value with cost C/2 at eps equals half the value with cost C at 2 eps.
    target = 2.0 * blur**2
    pairs = ((x, y), (x, x), (y, y))
    if batch_size is None:
        # cost matrices |u - v|^2, computed once (PointCloud would recompute them at every
        # kernel application, which also batches poorly under vmap)
        costs = [_sq_dists(u, v) for u, v in pairs]
        cmax = jnp.maximum(jnp.max(costs[0]), target)

        def geometries(eps):
            return [geometry.Geometry(cost_matrix=c, epsilon=eps) for c in costs]
    else:
        # online: the costs are recomputed batch_size rows at a time at every kernel
        # application, so no [n, m] matrix is ever stored
        cloud = _online_cloud_cls()
        cmax = jnp.maximum(_max_sq_dist(x, y, batch_size), target)

        def geometries(eps):
            return [cloud(u, v, batch_size=batch_size, epsilon=eps) for u, v in pairs]
    common = dict(threshold=threshold, inner_iterations=10, lse_mode=True)
    symmetric = dict(common, parallel_dual_updates=True,
                     momentum=acceleration.Momentum(start=0, value=0.5), anderson=None)

    def solve(eps, iters, init):
        geoms = geometries(eps)
        probs = [linear_problem.LinearProblem(geoms[0], a, b),
                 linear_problem.LinearProblem(geoms[1], a, a),
                 linear_problem.LinearProblem(geoms[2], b, b)]
        outs = []
        for i, (prob, kw) in enumerate(zip(probs, (common, symmetric, symmetric))):
            solver = sinkhorn.Sinkhorn(max_iterations=iters, **kw)
            outs.append(solver(prob, init=None if init is None else init[i]))
        value = 0.5 * (outs[0].reg_ot_cost - 0.5 * (outs[1].reg_ot_cost + outs[2].reg_ot_cost))
        potentials = tuple((o.f, o.g) for o in outs)
        converged = jnp.all(jnp.stack([o.converged for o in outs]))
        n_iters = jnp.max(jnp.stack([o.n_iters for o in outs]))
        return value, potentials, converged, n_iters

    # phase 1: geometric annealing of eps from the largest cost down to the target (OTT's
    # Epsilon scheduler). Its length is static: enough iterations for a cost/eps ratio of
    # 1e10, plus one block at the target.
    anneal_cap = min(max_iterations, int(math.ceil(math.log(1e10) / -math.log(decay))) + block)
    sched = epsilon_scheduler.Epsilon(target=target, init=cmax / target, decay=decay)
    value, pots, marg_ok, iters0 = solve(sched, anneal_cap, None)

    # phase 2: warm-started blocks at the target eps until the value is stable
    def cond(state):
        _, _, done, it = state
        return (~done) & (it < max_iterations)

    def body(state):
        value, pots, _, it = state
        new_value, new_pots, marg, n = solve(target, block, pots)
        stable = jnp.abs(new_value - value) <= rtol * jnp.abs(new_value)
        return new_value, new_pots, marg | stable, it + n

    value, _, done, iters = jax.lax.while_loop(cond, body, (value, pots, marg_ok, iters0))
    return value, done, iters
