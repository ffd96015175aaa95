# Maintainers' note: the dual averaging update is copied from BlackJAX (Apache-2.0),
# `blackjax/optimizers/dual_averaging.py` and `blackjax/adaptation/step_size.py`, and the window
# schedule from `blackjax/adaptation/staged_adaptation.py::build_schedule`; they are not imported
# because the core depends on jax/numpy/scipy/ott-jax only (blackjax is a test extra).
# tests/test_adaptation.py checks both against BlackJAX, step for step.
r"""Warm-up for MALA: the step size by dual averaging, optionally a diagonal preconditioner.

[`mala_warmup`][langevin_jax.adaptation.mala_warmup] runs $T$ steps of MALA on all chains at once
and adapts, while it runs, the step size $h$ so that the mean Metropolis acceptance probability
reaches a target $\delta$ (0.574 by default, the optimal MALA acceptance in high dimension,
Roberts & Rosenthal, 1998). It returns the adapted step size and the chains' last positions; the
warm-up draws themselves are discarded (they are not samples of $\pi$: the step size moved while
they were drawn). Sampling is then an ordinary run from there:

```python
warm = lj.adaptation.mala_warmup(key_warm, logdensity_fn, x0, 1000)
alg = lj.mala(logdensity_fn, warm.step_size, inverse_mass_matrix=warm.inverse_mass_matrix)
samples = lj.run(key_run, alg, warm.positions, 5000, save_every=10)
```

**Dual averaging** (Nesterov, 2009; Hoffman & Gelman, 2014, Algorithm 5 and section 3.2.1).
With $x = \log h$, $H_t = \delta - \alpha_t$ the error of step $t$ ($\alpha_t$: this step's
acceptance probability, averaged over the chains) and $\mu = \log(10\, h_0)$:

$$
\bar H_t = \Bigl(1 - \frac{1}{t + t_0}\Bigr) \bar H_{t-1} + \frac{H_t}{t + t_0}, \qquad
x_{t+1} = \mu - \frac{\sqrt{t}}{\gamma} \bar H_t, \qquad
\bar x_{t} = t^{-\kappa} x_t + (1 - t^{-\kappa})\, \bar x_{t-1},
$$

with $t_0 = 10$, $\gamma = 0.05$, $\kappa = 0.75$. The warm-up steps with $h_t = e^{x_t}$; the
adapted step size is $e^{\bar x_T}$, the weighted average, whose noise vanishes as $T$ grows.
This is BlackJAX's ``blackjax.optimizers.dual_averaging`` (and
``blackjax.adaptation.step_size.dual_averaging_adaptation``) to the letter, copied rather than
imported (BlackJAX is not a dependency of this package): like BlackJAX, the average takes in
the iterate *before* the update ($x_t$ above; Hoffman & Gelman's Algorithm 5 and NumPyro take
$x_{t+1}$), a difference of one step in hundreds.

**The first step size** $h_0$, when not given, is found as NumPyro's and BlackJAX's
``find_reasonable_step_size`` find it (Hoffman & Gelman, Algorithm 4): from $h = 1$, double or
halve $h$ until one MALA step from the initial positions has a mean acceptance on the other side
of $\delta$.

**The preconditioner** (``adapt_mass_matrix=True``): MALA with the inverse mass matrix
$M^{-1} = \operatorname{diag}(m)$ (see [`langevin_jax.mala`][langevin_jax.mala]), $m$ the marginal
variances of the warm-up's positions, estimated in Stan's windows (BlackJAX's
``window_adaptation``, [`build_schedule`][langevin_jax.adaptation.build_schedule]): a first window
of 75 steps adapts $h$ only (the chains reach the typical set), then windows of 25, 50, 100, ...
steps each estimate $m$ afresh from their positions (Welford's algorithm), regularised as Stan
does, $m = \frac{n}{n + 5} \hat\sigma^2 + 10^{-3} \frac{5}{n + 5}$, and restart the dual
averaging from the step size reached; a last window of 50 steps adapts $h$ to the final $m$.

**Where this differs from BlackJAX and NumPyro**, both of which adapt one chain (a ``vmap`` over
chains gives each chain its own step size and mass matrix):

* one step size, and one $m$, **shared by all chains**: $H_t$ is the target less the acceptance
  probability *averaged over the chains*, and $m$ pools the positions of all chains (each step
  adds ``num_chains`` draws to the window's Welford estimate). One step size gives one
  compiled sampler (``lj.mala(logdensity_fn, h)`` with a scalar $h$) and chains that are
  exchangeable draws of one Markov kernel, so that averages across chains are averages of one
  law; and the averaged $H_t$ is ``num_chains`` times less noisy. The price: chains stuck in
  different modes get one compromise step size.
* the target is 0.574 (MALA's), not BlackJAX's default 0.8 (HMC's and NUTS').
* the first step size comes from the doubling/halving search (as NumPyro), where BlackJAX's
  ``window_adaptation`` starts from ``initial_step_size = 1``; the search is not re-run at
  the end of each window (as BlackJAX; NumPyro re-runs it).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks, _static
from langevin_jax.runner import chain_keys
from langevin_jax.samplers import base
from langevin_jax.samplers.mala import build_kernel, init as mala_init, mala
from langevin_jax.types import ArrayLike, PRNGKey, PyTree

__all__ = [
    "mala_warmup",
    "WarmupResult",
    "WarmupInfo",
    "DualAveragingState",
    "dual_averaging",
    "build_schedule",
]

# Hoffman & Gelman (2014)'s values, BlackJAX's and NumPyro's defaults
T0, GAMMA, KAPPA = 10, 0.05, 0.75
# Stan's regularisation of a window's variance estimate (BlackJAX's mass_matrix_adaptation)
_SHRINK_COUNT, _SHRINK_TARGET = 5.0, 1e-3


class DualAveragingState(NamedTuple):
    r"""The state of [`dual_averaging`][langevin_jax.adaptation.dual_averaging], all scalars (the fields
    of BlackJAX's ``DualAveragingAdaptationState``, in its order).

    Attributes:
      log_step_size: $x_t = \log h_t$, the step size of the next step.
      log_step_size_avg: $\bar x_t$, the weighted average of the iterates; $e^{\bar x_t}$ is the
        adapted step size.
      step: $t$, starting at 1 (int32).
      avg_error: $\bar H_t$, the weighted average of the errors.
      mu: $\mu = \log(10\, h_0)$, the point the iterates are shrunk towards.
    """

    log_step_size: jax.Array
    log_step_size_avg: jax.Array
    step: jax.Array
    avg_error: jax.Array
    mu: jax.Array


def dual_averaging(t0: float = T0, gamma: float = GAMMA,
                   kappa: float = KAPPA) -> tuple[Callable, Callable, Callable]:
    r"""Nesterov's dual averaging of $\log h$, as Hoffman & Gelman (2014) adapt a step size.

    BlackJAX's ``blackjax.optimizers.dual_averaging(t0, gamma, kappa)``, with the same
    ``(init, update, final)`` and the same arithmetic (see the module's formulas), in arrays of
    one dtype so that it is carried through a ``lax.scan``.

    Args:
      t0: $t_0 \geq 0$, damps the first iterations (10).
      gamma: $\gamma > 0$, the speed of adaptation (0.05).
      kappa: $\kappa \in (0.5, 1]$, how fast the average forgets the first iterates (0.75).

    Returns:
      ``init(h0) -> DualAveragingState`` (with $\mu = \log(10\, h_0)$),
      ``update(state, gradient) -> DualAveragingState`` (``gradient`` is $H_t = \delta -
      \alpha_t$: the target acceptance less this step's) and ``final(state) ->`` $e^{\bar x_t}$.

    Examples:
      >>> from langevin_jax.adaptation import dual_averaging
      >>> init, update, final = dual_averaging()
      >>> state = init(0.1)
      >>> for _ in range(3):
      ...     state = update(state, 0.574 - 0.9)  # acceptance too high: h grows
      >>> bool(final(state) > 0.1), int(state.step)
      (True, 4)
    """
    _checks.check_nonnegative("t0", t0)
    _checks.check_positive_finite("gamma", gamma)
    _checks.check_positive_finite("kappa", kappa)

    def init(x_init: ArrayLike) -> DualAveragingState:
        x = jnp.asarray(x_init)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return DualAveragingState(jnp.log(x), jnp.zeros((), x.dtype), jnp.ones((), jnp.int32),
                                  jnp.zeros((), x.dtype), jnp.log(10 * x))

    def update(state: DualAveragingState, gradient: ArrayLike) -> DualAveragingState:
        log_step, avg_log_step, step, avg_error, mu = state
        dtype = log_step.dtype
        t = step.astype(dtype)
        reg_step = t + t0
        eta_t = t ** (-kappa)
        avg_error = (1 - (1 / reg_step)) * avg_error + jnp.asarray(gradient, dtype) / reg_step
        log_x = mu - (jnp.sqrt(t) / gamma) * avg_error
        log_x_avg = eta_t * log_step + (1 - eta_t) * avg_log_step
        return DualAveragingState(log_x.astype(dtype), log_x_avg.astype(dtype), step + 1,
                                  avg_error.astype(dtype), mu)

    def final(state: DualAveragingState) -> jax.Array:
        return jnp.exp(state.log_step_size_avg)

    return init, update, final


def build_schedule(num_steps: int, initial_buffer_size: int = 75, first_window_size: int = 25,
                   final_buffer_size: int = 50) -> np.ndarray:
    """Stan's warm-up windows, as BlackJAX's ``build_schedule``: ``[num_steps, 2]`` int,
    ``(stage, window_end)`` per step.

    ``stage`` is 0 in a fast window (the step size alone is adapted) and 1 in a slow one (the
    positions also feed the variance estimate); ``window_end`` is 1 at the last step of a slow
    window, where the inverse mass matrix is computed and the dual averaging restarted. Under 20
    steps there is no slow window; when the three buffers do not fit, they become 15%, 75% and
    10% of the steps; slow windows double in size, the last one stretched to the final buffer.

    Examples:
      >>> from langevin_jax.adaptation import build_schedule
      >>> s = build_schedule(1000)
      >>> [int(i) for i in s[:, 1].nonzero()[0]]  # the last steps of the slow windows
      [99, 149, 249, 449, 949]
    """
    num_steps = _checks.check_count("num_steps", num_steps, 1)
    schedule: list[tuple[int, int]] = []
    if num_steps < 20:
        schedule += [(0, 0)] * num_steps
        return np.asarray(schedule, np.int32).reshape(num_steps, 2)
    if initial_buffer_size + first_window_size + final_buffer_size > num_steps:
        initial_buffer_size = int(0.15 * num_steps)
        final_buffer_size = int(0.1 * num_steps)
        first_window_size = num_steps - initial_buffer_size - final_buffer_size
    schedule += [(0, 0)] * initial_buffer_size
    final_buffer_start = num_steps - final_buffer_size
    next_window_size, next_window_start = first_window_size, initial_buffer_size
    while next_window_start < final_buffer_start:
        current_start, current_size = next_window_start, next_window_size
        if 3 * current_size <= final_buffer_start - current_start:
            next_window_size = 2 * current_size
        else:
            current_size = final_buffer_start - current_start
        next_window_start = current_start + current_size
        schedule += [(1, 0)] * (next_window_start - 1 - current_start) + [(1, 1)]
    schedule += [(0, 0)] * (num_steps - final_buffer_start)
    return np.asarray(schedule, np.int32)


class WarmupInfo(NamedTuple):
    """The warm-up step by step (arrays; ``T = num_steps``).

    Attributes:
      acceptance_rate: ``[T]``, the Metropolis acceptance probability of each warm-up step,
        averaged over the chains (what the dual averaging reads).
      step_size: ``[T]``, the step size each warm-up step used.
      initial_step_size: ``[]``, $h_0$: the step size the dual averaging started from (the one
        given, or the search's).
    """

    acceptance_rate: jax.Array
    step_size: jax.Array
    initial_step_size: jax.Array


class WarmupResult(NamedTuple):
    """What [`mala_warmup`][langevin_jax.adaptation.mala_warmup] returns (a pytree of arrays).

    Attributes:
      positions: the chains' positions after the last warm-up step, the structure and shapes of
        ``initial_positions`` (``[num_chains, d]``): where to start sampling. The warm-up draws
        before them are not returned.
      step_size: ``[]``, the adapted step size, one for all chains.
      inverse_mass_matrix: the adapted diagonal $m$ of $M^{-1}$, shaped like one position
        (``[d]``), with ``adapt_mass_matrix=True``; else ``None``.
      info: a [`WarmupInfo`][langevin_jax.adaptation.WarmupInfo].
    """

    positions: PyTree
    step_size: jax.Array
    inverse_mass_matrix: Optional[PyTree]
    info: WarmupInfo


# --------------------------------------------------------------------------- the functions as jit inputs


def _is_dynamic(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic, float, int)) and not isinstance(x, bool)


def _partition(tree):
    return _static.partition(tree, _is_dynamic)


# --------------------------------------------------------------------------- the compiled warm-up

_KERNEL = build_kernel()


def _mean_acceptance(states, keys, logdensity_fn, score_fn, h, m):
    step = lambda k, s: _KERNEL(k, s, logdensity_fn, h, score_fn, m)  # noqa: E731
    new, info = jax.vmap(step)(keys, states)
    return new, jnp.mean(info.acceptance_rate)


def _search_step_size(key, states, logdensity_fn, score_fn, m, target, dtype):
    """Hoffman & Gelman's Algorithm 4 as BlackJAX's ``find_reasonable_step_size``: from 1,
    double (halve) the step size while one step's mean acceptance is above (below) target."""
    finfo = jnp.finfo(dtype)
    num_chains = jax.tree_util.tree_leaves(states.position)[0].shape[0]

    def keep_going(carry):
        _, direction, previous, h = carry
        not_too_large = (h < finfo.max) | (direction <= 0)
        not_too_small = (h > finfo.tiny) | (direction >= 0)
        not_crossed = (previous == 0) | (direction == previous)
        return not_too_large & not_too_small & not_crossed

    def one(carry):
        i, direction, _, h = carry
        h = jnp.asarray(2.0, dtype) ** direction.astype(dtype) * h
        keys = jax.random.split(jax.random.fold_in(key, i), num_chains)
        _, acc = _mean_acceptance(states, keys, logdensity_fn, score_fn, h, m)
        new_direction = jnp.where(target < acc, 1, -1).astype(jnp.int32)
        return i + 1, new_direction, direction, h

    zero = jnp.zeros((), jnp.int32)
    return jax.lax.while_loop(keep_going, one, (zero, zero, zero, jnp.ones((), dtype)))[3]


def _welford_merge(stats, batch):
    """Chan et al.'s pairwise update of ``(n, mean, m2)`` with the ``[num_chains, ...]`` draws
    of one step (Welford's algorithm, pooled over the chains)."""
    n_a, mean_a, m2_a = stats
    num = jax.tree_util.tree_leaves(batch)[0].shape[0]
    n_b = jnp.asarray(num, n_a.dtype)
    n = n_a + n_b
    mean_b = jax.tree_util.tree_map(lambda x: jnp.mean(x, 0), batch)
    m2_b = jax.tree_util.tree_map(lambda x, mu: jnp.sum((x - mu) ** 2, 0), batch, mean_b)
    delta = jax.tree_util.tree_map(lambda b, a: b - a, mean_b, mean_a)
    mean = jax.tree_util.tree_map(lambda a, dl: a + dl * (n_b / n), mean_a, delta)
    m2 = jax.tree_util.tree_map(lambda a, b, dl: a + b + dl * dl * (n_a * n_b / n), m2_a, m2_b, delta)
    return n, mean, m2


def _regularised_variance(stats):
    n, _, m2 = stats
    w = n / (n + _SHRINK_COUNT)
    return jax.tree_util.tree_map(
        lambda s: w * (s / (n - 1)) + _SHRINK_TARGET * (_SHRINK_COUNT / (n + _SHRINK_COUNT)), m2)


@functools.partial(jax.jit, static_argnames=("static", "num_steps", "adapt_mass_matrix"))
def _warmup_core(key, dynamic, initial_positions, target, initial_step_size, *, static, num_steps,
                 adapt_mass_matrix):
    logdensity_fn, score_fn = static.merge(dynamic)
    dtype = jax.tree_util.tree_leaves(initial_positions)[0].dtype
    num_chains = jax.tree_util.tree_leaves(initial_positions)[0].shape[0]
    target = jnp.asarray(target, dtype)
    key_search, key_steps = jax.random.split(key)
    states = jax.vmap(lambda x: mala_init(x, logdensity_fn, score_fn))(initial_positions)
    one_position = jax.tree_util.tree_map(lambda x: x[0], initial_positions)
    m = (jax.tree_util.tree_map(jnp.ones_like, one_position) if adapt_mass_matrix else None)
    if initial_step_size is None:
        h0 = _search_step_size(key_search, states, logdensity_fn, score_fn, m, target, dtype)
    else:
        h0 = jnp.asarray(initial_step_size, dtype)
    da_init, da_update, da_final = dual_averaging()
    da = da_init(h0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, one_position)
    fresh = (jnp.zeros((), dtype), zeros, zeros)
    schedule = jnp.asarray(build_schedule(num_steps) if adapt_mass_matrix
                           else np.zeros((num_steps, 2), np.int32))

    def one_step(carry, xs):
        states, da, m, stats = carry
        k, (stage, window_end) = xs
        h = jnp.exp(da.log_step_size)
        states, acc = _mean_acceptance(states, chain_keys(key_steps, k, num_chains), logdensity_fn,
                                       score_fn, h, m)
        da = da_update(da, target - acc)
        if adapt_mass_matrix:
            slow, end = stage == 1, window_end == 1
            pick = lambda cond, a, b: jax.tree_util.tree_map(  # noqa: E731
                lambda u, v: jnp.where(cond, u, v), a, b)
            stats = pick(slow, _welford_merge(stats, states.position), stats)
            m = pick(end, _regularised_variance(stats), m)
            stats = pick(end, fresh, stats)
            da = pick(end, da_init(da_final(da)), da)
        return (states, da, m, stats), (acc, h)

    steps = jnp.arange(num_steps, dtype=jnp.int32)
    (states, da, m, _), (acc, hs) = jax.lax.scan(one_step, (states, da, m, fresh), (steps, schedule))
    return WarmupResult(states.position, da_final(da), m, WarmupInfo(acc, hs, h0))


# --------------------------------------------------------------------------- the eager shell


def _check_initial_positions(initial_positions: Any) -> tuple[PyTree, PyTree]:
    """The positions as arrays, and the first chain's position (for the sampler's check)."""
    leaves = jax.tree_util.tree_leaves(initial_positions)
    if not leaves:
        raise ValueError(f"initial_positions must be arrays with the chains first, "
                         f"[num_chains, ...], got {initial_positions!r}")
    _checks.check_position_dtype("initial_positions", initial_positions)
    for leaf in leaves:
        _checks.check_real("initial_positions", leaf)
    initial_positions = jax.tree_util.tree_map(jnp.asarray, initial_positions)
    shapes = [x.shape for x in jax.tree_util.tree_leaves(initial_positions)]
    if any(len(s) == 0 for s in shapes):
        raise ValueError("initial_positions must carry the chain axis first, [num_chains, d] (a "
                         f"scalar leaf has none), got shapes {shapes}")
    if len({s[0] for s in shapes}) != 1:
        raise ValueError(f"initial_positions' leaves must have the same number of chains (axis 0), "
                         f"got shapes {shapes}")
    if shapes[0][0] < 1:
        raise ValueError("initial_positions must hold at least one chain, got 0 along axis 0")
    dtypes = {x.dtype for x in jax.tree_util.tree_leaves(initial_positions)}
    if len(dtypes) != 1 or not jnp.issubdtype(next(iter(dtypes)), jnp.floating):
        raise ValueError(f"initial_positions must be floating arrays of one dtype, got {sorted(map(str, dtypes))}")
    for x in jax.tree_util.tree_leaves(initial_positions):
        _checks.check_finite_array("initial_positions", x)
    return initial_positions, jax.tree_util.tree_map(lambda x: x[0], initial_positions)


def _check_target(target_acceptance: Any) -> None:
    _checks.check_real("target_acceptance", target_acceptance)
    if jnp.ndim(target_acceptance) != 0:
        raise ValueError(f"target_acceptance must be a scalar in (0, 1), got shape {jnp.shape(target_acceptance)}")
    if _checks.is_concrete(target_acceptance):
        value = float(np.asarray(target_acceptance))
        if not 0.0 < value < 1.0:  # False at NaN
            raise ValueError(f"target_acceptance must be in (0, 1) (0.574 for MALA), got {value!r}")


def mala_warmup(
    key: PRNGKey,
    logdensity_fn: Callable[[PyTree], jax.Array],
    initial_positions: PyTree,
    num_steps: int,
    *,
    target_acceptance: float = 0.574,
    initial_step_size: Optional[float] = None,
    adapt_mass_matrix: bool = False,
    score_fn: Optional[Callable[[PyTree], PyTree]] = None,
) -> WarmupResult:
    r"""Warm MALA chains up and adapt their step size (and preconditioner) to a target acceptance.

    Runs ``num_steps`` MALA steps on every chain, one ``jax.jit`` of a ``lax.scan``, adapting
    the step size by dual averaging on the acceptance probability averaged over the chains (one
    step size for all chains; see the module's text for the algorithm and where it differs
    from BlackJAX and NumPyro). Sample afterwards with
    ``lj.run(key, lj.mala(logdensity_fn, out.step_size,
    inverse_mass_matrix=out.inverse_mass_matrix), out.positions, n)``: the warm-up draws are
    not samples, and only the last positions are returned.

    The adapted step size is an average over the warm-up's last few hundred iterates: while
    the chains are still moving into the bulk of $\pi$ at the end of the warm-up, it lags
    behind, and sampling then accepts more often than the target (on a 31-parameter Bayesian
    logistic regression started at 0, with 16 chains: 0.61 after 1000 warm-up steps, 0.59
    after 2000, for a target of 0.574). A longer warm-up, or ``adapt_mass_matrix=True``,
    narrows the gap.

    A pure JAX function of ``key``, ``initial_positions`` and the numbers of the target (a
    ``Partial``'s or a pytree target's arrays): it runs under ``jax.jit`` (with
    ``logdensity_fn``, ``score_fn``, ``num_steps`` and ``adapt_mass_matrix`` static) and
    ``jax.vmap``; a new key, new positions or a new ``target_acceptance`` re-use the compiled
    program.

    Args:
      key: a PRNG key.
      logdensity_fn: $\log \pi(x)$ up to a constant, one position -> ``[]``.
      initial_positions: the chains' starting points, leaves with the chain axis first:
        ``[num_chains, d]``, or a pytree of such (floating, one dtype, finite).
      num_steps: $T \geq 1$, the number of warm-up steps (a Python int). A few hundred for the
        step size alone; with ``adapt_mass_matrix``, at least 150 for Stan's windows (75 + 25 +
        50), 1000 as Stan.
      target_acceptance: $\delta \in (0, 1)$, the mean acceptance probability to reach.
      initial_step_size: $h_0 > 0$, where the dual averaging starts. ``None`` (default):
        searched for, from 1, by doubling or halving until one step from ``initial_positions``
        crosses $\delta$.
      adapt_mass_matrix: also adapt a diagonal preconditioner, the chains' marginal variances
        in Stan's windows ([`build_schedule`][langevin_jax.adaptation.build_schedule]; none under
        20 steps, then $m = 1$).
      score_fn: $\nabla \log \pi$; ``jax.grad(logdensity_fn)`` when omitted.

    Returns:
      A [`WarmupResult`][langevin_jax.adaptation.WarmupResult] ``(positions, step_size,
      inverse_mass_matrix, info)``: the last positions (``[num_chains, d]``), the adapted step
      size (``[]``), the adapted diagonal (``[d]``, or ``None`` without ``adapt_mass_matrix``)
      and the traces of the mean acceptance and the step size (``[num_steps]`` each).

    Raises:
      ValueError: before anything is compiled, naming the argument: a key that is not a PRNG
        key, ``logdensity_fn`` or ``score_fn`` not callable, ``num_steps`` not an int $\geq
        1$, ``target_acceptance`` outside $(0, 1)$, ``initial_step_size`` not finite and
        $> 0$, ``initial_positions`` without a chain axis, with chain counts that differ, of
        complex, integer or low-precision dtype, or holding NaN/inf, a ``logdensity_fn`` that
        is not scalar or fails on a position, a score of another shape, and a NaN/``+inf``
        log-density at the first chain's start. Value checks are skipped where the values
        are traced.

    Examples:
      >>> import jax, jax.numpy as jnp, langevin_jax as lj
      >>> logp = lambda x: -0.5 * jnp.sum(x**2 / jnp.array([0.5, 2.0]))
      >>> warm = lj.adaptation.mala_warmup(jax.random.key(0), logp, jnp.zeros((8, 2)), 200)
      >>> warm.positions.shape, warm.step_size.shape, warm.info.acceptance_rate.shape
      ((8, 2), (), (200,))
      >>> out = lj.run(jax.random.key(1), lj.mala(logp, warm.step_size), warm.positions, 100)
      >>> bool(0.3 < out.info.acceptance_rate < 0.85)
      True
    """
    _checks.check_key("key", key)
    _checks.check_callable("logdensity_fn", logdensity_fn)
    if score_fn is not None and not callable(score_fn):
        raise ValueError(f"score_fn must be callable or None, got {type(score_fn).__name__}")
    num_steps = _checks.check_count("num_steps", num_steps, 1)
    _check_target(target_acceptance)
    if initial_step_size is not None:
        if callable(initial_step_size):
            raise ValueError("initial_step_size must be a number > 0 (or None), got a callable")
        _checks.check_step_size("initial_step_size", initial_step_size)
    if not isinstance(adapt_mass_matrix, (bool, np.bool_)):
        raise ValueError(f"adapt_mass_matrix must be True or False, got {adapt_mass_matrix!r}")
    initial_positions, first = _check_initial_positions(initial_positions)
    logdensity_fn = base.as_pytree_fn(logdensity_fn)
    score_fn = None if score_fn is None else base.as_pytree_fn(score_fn)
    # the sampler's own eager checks: a scalar log-density, the score's shape, a finite start
    check = mala(logdensity_fn, 1.0, score_fn).check
    assert check is not None
    check(first, num_steps)
    dynamic, static = _partition((logdensity_fn, score_fn))
    return _warmup_core(key, dynamic, initial_positions, target_acceptance, initial_step_size,
                        static=static, num_steps=num_steps, adapt_mass_matrix=bool(adapt_mass_matrix))
