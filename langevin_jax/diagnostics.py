r"""Convergence diagnostics of a run, in the layout of ArviZ and NumPyro: R-hat, ESS, summaries.

[`run`][langevin_jax.runner.run] with ``save_every=k`` saves a trajectory whose leaves are
``[draw, chain, ...]`` (the position after steps $k, 2k, \dots$ of every chain), while ArviZ and
NumPyro put the chain first: ``[chain, draw, ...]``.
[`to_inference_data`][langevin_jax.diagnostics.to_inference_data] converts a run (or its
trajectory) into ArviZ's container, so that ArviZ's summaries and plots work on it directly
(``az.summary(idata)``, ``az.plot_trace(idata)``);
[`rhat`][langevin_jax.diagnostics.rhat], [`ess`][langevin_jax.diagnostics.ess] and
[`summary`][langevin_jax.diagnostics.summary] call ArviZ's own estimators on that container
and hand back plain NumPy arrays shaped like one chain's position (a dict of arrays for dict
positions).

**The extra.** This module needs ArviZ, the ``diagnostics`` extra: ``pip install
"langevin_jax[diagnostics]"``. ``import langevin_jax`` does not import it; ArviZ is imported
by the functions here when they are called. Two lines of ArviZ are supported, and the container
follows the installed one:

* ``arviz`` 0.x (the extra installs it; tested with 0.23.4, the newest release of ``arviz``):
  an ``arviz.InferenceData``, as ``az.from_numpyro`` makes;
* the 1.0 line (``arviz>=1``, or ``arviz-base`` and ``arviz-stats`` installed without
  ``arviz`` 0.x): an ``xarray.DataTree`` made by ``arviz_base.from_dict``, the statistics by
  ``arviz_stats``.

Both are indexed the same way: ``idata.posterior["w"]`` is a ``DataArray`` with dims
``("chain", "draw", "w_dim_0", ...)``.

**Variables.** Each leaf of the positions' pytree is one ArviZ variable, named by its path:
the dict key (``{"w": ..., "b": ...}`` gives ``w`` and ``b``), the path joined by dots for
nested dicts, tuples and NamedTuples (``{"a": {"b": ...}}`` gives ``a.b``, a tuple ``(u, v)``
gives ``x.0`` and ``x.1``), and ``x`` for a bare array. ``var_names`` renames them.

**Draws.** ``burn_in`` drops the first saved draws of every chain (draws, not steps:
``save_every=k`` thins the chain by $k$, so ``burn_in=b`` drops the first $b k$ steps). The
``draw`` coordinate is the index in the trajectory (``burn_in, burn_in + 1, ...``): draw $j$
is the position after step $(j + 1) k$. The ESS counts saved draws (thinned by $k$): divide
it by the number of steps they span, $(\text{num\_saved} - \text{burn\_in})\, k$ per chain,
to compare samplers per step. Chains that went non-finite (``info.nonfinite``) give NaN
statistics: drop them first.

**The estimators** (Vehtari, Gelman, Simpson, Carpenter and Bürkner, *Rank-normalization,
folding, and localization: an improved $\hat R$ for assessing convergence of MCMC*, Bayesian
Analysis 16(2), 2021) are ArviZ's. With $M$ chains of $N$ draws, each chain is split in halves
(so a chain that drifts shows as two chains that disagree), the $2M$ half-chains of $N/2$ draws
are rank-normalised (pooled ranks mapped through the normal quantile function), and with $W$
the mean of the within-half-chain variances and $B$ ($N/2$ times) the variance of their means,

$$\hat R = \sqrt{\frac{\frac{N/2 - 1}{N/2} W + \frac{1}{N/2} B}{W}},$$

the larger of the values for the draws (bulk) and for their distances to the median (tail).
$\hat R$ near 1 (below 1.01 is the paper's recommendation) says the chains agree. The effective
sample size is $\widehat{\mathrm{ESS}} = M N / \hat\tau$ with $\hat\tau = 1 + 2 \sum_{t \ge 1}
\hat\rho_t$ the integrated autocorrelation time (Geyer's initial monotone sequence estimator),
of the rank-normalised draws (bulk) or of the indicators of the 5% and 95% quantiles (tail,
the smaller of the two). For an AR(1) chain with coefficient $\rho$, $\tau = (1 + \rho) / (1 -
\rho)$.

Examples:
  >>> import pytest; _ = pytest.importorskip("arviz")  # the diagnostics extra
  >>> import jax, jax.numpy as jnp, numpy as np, langevin_jax as lj
  >>> from langevin_jax import diagnostics
  >>> alg = lj.mala(lambda x: -0.5 * jnp.sum(x**2), step_size=0.5)
  >>> out = lj.run(jax.random.key(0), alg, jnp.zeros((4, 2)), 2000, save_every=5)
  >>> out.trajectory.shape  # [draw, chain, d]
  (400, 4, 2)
  >>> idata = diagnostics.to_inference_data(out, burn_in=100)
  >>> idata.posterior["x"].dims, idata.posterior["x"].shape
  (('chain', 'draw', 'x_dim_0'), (4, 300, 2))
  >>> bool(np.all(diagnostics.rhat(out, burn_in=100) < 1.05))
  True
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax.runner import RunInfo, RunResult
from langevin_jax.types import PyTree

__all__ = ["to_inference_data", "rhat", "ess", "summary", "RHAT_METHODS", "ESS_METHODS"]

RHAT_METHODS = ("rank", "split", "folded", "z_scale", "identity")
"""The ``method`` values of [`rhat`][langevin_jax.diagnostics.rhat] (ArviZ's names)."""

ESS_METHODS = ("bulk", "tail", "mean", "sd", "median", "mad")
"""The ``method`` values of [`ess`][langevin_jax.diagnostics.ess] (ArviZ's names)."""

_INSTALL = 'pip install "langevin_jax[diagnostics]"'
# ArviZ's own rule (arviz.stats.diagnostics, arviz_stats): fewer draws give NaN, silently
_MIN_DRAWS = 4
# the quantiles of the tail ESS (Vehtari et al., 2021; arviz 0.x's)
_TAIL_QUANTILES = (0.05, 0.95)


# --------------------------------------------------------------------------- the ArviZ line


class _ArviZ(NamedTuple):
    """The installed line of ArviZ: ``arviz`` 0.x (``legacy``), or ``arviz_base`` and ``arviz_stats``."""

    legacy: bool
    base: Any  # arviz 0.x, or arviz_base
    stats: Any  # arviz 0.x, or arviz_stats


def _arviz() -> _ArviZ:
    """ArviZ, imported on first use (``import langevin_jax`` does not), with a clear error without it."""
    arviz: Any
    try:
        with warnings.catch_warnings():
            # arviz 0.2x announces its 1.0 refactor on import: a note for ArviZ's users, not ours
            warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)
            import arviz
    except ModuleNotFoundError:
        arviz = None
    if arviz is not None and int(str(arviz.__version__).split(".")[0]) < 1:
        return _ArviZ(True, arviz, arviz)
    try:
        import arviz_base
        import arviz_stats
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"langevin_jax.diagnostics needs ArviZ, the diagnostics extra: {_INSTALL} ({err})") from err
    return _ArviZ(False, arviz_base, arviz_stats)


# --------------------------------------------------------------------------- the draws


class _Draws(NamedTuple):
    """A trajectory in ArviZ's layout: ``[chain, draw, ...]`` NumPy leaves, their names and tree."""

    names: list
    leaves: list
    treedef: Any
    info: Optional[RunInfo]
    first_draw: int

    @property
    def num_chains(self) -> int:
        return self.leaves[0].shape[0]

    @property
    def num_draws(self) -> int:
        return self.leaves[0].shape[1]


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _path_name(path: tuple) -> str:
    """``w`` for ``{"w": ...}``, ``a.b`` for ``{"a": {"b": ...}}``, ``x.0`` for a tuple's first leaf, ``x`` for an array."""
    parts = [_key_name(k) for k in path]
    if not parts or isinstance(path[0], (jax.tree_util.SequenceKey, jax.tree_util.FlattenedIndexKey)):
        parts.insert(0, "x")
    return ".".join(parts)


def _as_numpy(name: str, leaf: Any) -> np.ndarray:
    x = np.asarray(leaf)
    if x.dtype.kind in "biuf":
        return x
    if x.dtype.kind == "V" and jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(np.float32)  # bfloat16, float8: ArviZ computes in NumPy's float types
    raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _names(var_names: Union[None, str, Sequence[str]], paths: list) -> list:
    if var_names is None:
        names = [_path_name(path) for path in paths]
        where = "the positions' pytree"
    else:
        names = [var_names] if isinstance(var_names, str) else list(var_names)
        if len(names) != len(paths) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"var_names must be {len(paths)} non-empty string(s), one per leaf of the positions "
                             f"(in jax.tree_util.tree_leaves order), got {var_names!r}")
        where = "var_names"
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{where} gives the variable name(s) {repeated} to more than one leaf: pass var_names=[...], "
                         "one distinct name per leaf")
    return names


def _draws(result_or_trajectory: Any, burn_in: int, var_names: Union[None, str, Sequence[str]] = None) -> _Draws:
    """The draws after ``burn_in``, transposed to ``[chain, draw, ...]``, with the checks that name the argument."""
    info = None
    if isinstance(result_or_trajectory, RunResult):
        if result_or_trajectory.trajectory is None:
            raise ValueError("result_or_trajectory is a RunResult without a trajectory: run with save_every=k "
                             "(lj.run(key, algorithm, initial_positions, num_steps, save_every=k)) to save draws")
        trajectory, info = result_or_trajectory.trajectory, result_or_trajectory.info
    else:
        trajectory = result_or_trajectory
    with_path, treedef = jax.tree_util.tree_flatten_with_path(trajectory)
    if not with_path:
        raise ValueError("result_or_trajectory has no arrays: give a RunResult of run(..., save_every=k) or its "
                         "trajectory, leaves [num_saved, num_chains, ...]")
    paths = [path for path, _ in with_path]
    leaves = [_as_numpy(f"result_or_trajectory{jax.tree_util.keystr(path)}", leaf) for path, leaf in with_path]
    lead = None
    for path, leaf in zip(paths, leaves):
        where = f"result_or_trajectory{jax.tree_util.keystr(path)}"
        if leaf.ndim < 2:
            raise ValueError(f"{where} has shape {leaf.shape}, but a trajectory's leaves are [draw, chain, ...] "
                             "(run's layout: [num_steps // save_every, num_chains, ...])")
        if lead is None:
            lead = leaf.shape[:2]
        elif leaf.shape[:2] != lead:
            raise ValueError(f"{where} has shape {leaf.shape}, but the first leaf's [draw, chain] is {list(lead)}: "
                             "every leaf of a trajectory has the same number of draws and chains")
    assert lead is not None
    num_saved, num_chains = lead
    burn_in = _checks.check_int_at_least("burn_in", burn_in, 0)
    if burn_in >= num_saved:
        raise ValueError(f"burn_in={burn_in} drops every draw: result_or_trajectory has {num_saved} saved draw(s) "
                         "per chain (burn_in counts saved draws, not steps)")
    if info is not None and np.shape(info.nonfinite) != (num_chains,):
        info = None  # a RunResult whose info does not match its trajectory (a user's): no sample_stats
    names = _names(var_names, paths)
    leaves = [np.swapaxes(leaf[burn_in:], 0, 1) for leaf in leaves]
    return _Draws(names, leaves, treedef, info, burn_in)


def _check_enough(draws: _Draws, burn_in: int, what: str, min_chains: int) -> None:
    """Refuse what ArviZ would answer with a silent NaN: too few draws, or one chain for R-hat."""
    if draws.num_draws < _MIN_DRAWS:
        kept = f" after burn_in={burn_in}" if burn_in else ""
        raise ValueError(
            f"result_or_trajectory has {draws.num_draws} draw(s) per chain{kept}, but {what} needs at least "
            f"{_MIN_DRAWS} (ArviZ's minimum: the chains are split in halves): save more draws (a smaller save_every "
            "or more steps) or a smaller burn_in")
    if draws.num_chains < min_chains:
        raise ValueError(
            f"result_or_trajectory has {draws.num_chains} chain(s), but {what} needs at least {min_chains} (the "
            "rank-normalised split R-hat compares chains; ArviZ answers NaN for one): run several chains "
            "(initial_positions [num_chains, ...])")


def _sample_stats(info: RunInfo, num_chains: int) -> dict:
    """The run's per-chain info as ``[chain]`` arrays: ``nonfinite`` and each of ``info.means``."""
    stats = {"nonfinite": np.asarray(info.nonfinite, bool)}
    for name, mean in info.means.items():
        value = np.asarray(mean)
        if value.shape == (num_chains,) and name not in stats:
            stats[name] = value
    return stats


def _container(draws: _Draws, sample_stats: bool) -> Any:
    az = _arviz()
    posterior = dict(zip(draws.names, draws.leaves))
    coords = {"draw": np.arange(draws.first_draw, draws.first_draw + draws.num_draws)}
    group_attrs = {"inference_library": "langevin_jax"}
    if az.legacy:
        data = az.base.from_dict(posterior=posterior, coords=coords, posterior_attrs=group_attrs)
    else:
        data = az.base.from_dict({"posterior": posterior}, coords=coords, attrs={"posterior": group_attrs})
    if sample_stats and draws.info is not None:
        import xarray as xr  # a dependency of every ArviZ line

        stats = _sample_stats(draws.info, draws.num_chains)
        dataset = xr.Dataset({name: (("chain",), value) for name, value in stats.items()},
                             coords={"chain": np.arange(draws.num_chains)},
                             attrs={"inference_library": "langevin_jax",
                                    "description": "per chain, over every step of the run (burn-in included)"})
        if az.legacy:
            data.add_groups(sample_stats=dataset)
        else:
            data["sample_stats"] = xr.DataTree(dataset)
    return data


def _per_leaf(draws: _Draws, dataset: Any) -> PyTree:
    """A Dataset of per-variable statistics back in the positions' tree, as NumPy arrays."""
    return jax.tree_util.tree_unflatten(draws.treedef, [np.asarray(dataset[name].values) for name in draws.names])


# --------------------------------------------------------------------------- the public functions


def to_inference_data(
    result_or_trajectory: Any,
    *,
    var_names: Union[None, str, Sequence[str]] = None,
    burn_in: int = 0,
    sample_stats: bool = True,
) -> Any:
    """A run as ArviZ's container: leaves ``[chain, draw, ...]``, one variable per leaf.

    Args:
      result_or_trajectory: a [`RunResult`][langevin_jax.runner.RunResult] of
        ``run(..., save_every=k)``, or a trajectory: a pytree whose leaves are ``[draw, chain,
        ...]`` (``RunResult.trajectory``'s layout, not ArviZ's), all with the same ``[draw,
        chain]``. NumPy or JAX arrays of real numbers.
      var_names: the variables' names, one per leaf in ``jax.tree_util.tree_leaves`` order (a
        string for a bare array). ``None`` (default): the leaves' paths (``w`` and ``b`` for
        ``{"w": ..., "b": ...}``, ``a.b`` for nested dicts, ``x.0`` for a tuple's first leaf,
        ``x`` for a bare array).
      burn_in: the number of saved draws dropped from the start of every chain (draws, not
        steps: ``burn_in * save_every`` steps). The ``draw`` coordinate keeps the trajectory's
        index: ``burn_in, burn_in + 1, ...``.
      sample_stats: for a ``RunResult``, also a ``sample_stats`` group of the run's per-chain
        info: ``nonfinite`` (``[chain]`` bool, [`RunInfo.nonfinite`][langevin_jax.runner.RunInfo])
        and each of ``info.means`` (``[chain]``, e.g. ``acceptance_rate``: the chain's mean over
        every step of the run, burn-in included). These have no ``draw`` dimension.

    Returns:
      With ``arviz`` 0.x an ``arviz.InferenceData``, with the 1.0 line (``arviz-base``) an
      ``xarray.DataTree``; its ``posterior`` holds a leaf ``[num_saved, num_chains, *shape]``
      as a variable with dims ``("chain", "draw", "<name>_dim_0", ...)`` and shape
      ``(num_chains, num_saved - burn_in, *shape)``, and the attribute ``inference_library =
      "langevin_jax"``.

    Raises:
      ValueError: on a ``RunResult`` without a trajectory (run without ``save_every``), a
        leaf with fewer than two axes or a ``[draw, chain]`` that differs from the first
        leaf's, complex numbers, a ``burn_in`` that is not an int in ``[0, num_saved)``, or
        ``var_names`` of the wrong length or with a name twice.
      ModuleNotFoundError: without ArviZ (``pip install "langevin_jax[diagnostics]"``).

    Examples:
      >>> import pytest; _ = pytest.importorskip("arviz")  # the diagnostics extra
      >>> import numpy as np
      >>> from langevin_jax import diagnostics
      >>> trajectory = {"w": np.zeros((100, 4, 3)), "b": np.zeros((100, 4))}  # [draw, chain, ...]
      >>> idata = diagnostics.to_inference_data(trajectory, burn_in=20)
      >>> idata.posterior["w"].dims, idata.posterior["w"].shape
      (('chain', 'draw', 'w_dim_0'), (4, 80, 3))
      >>> int(idata.posterior["draw"][0])  # the index in the trajectory
      20
    """
    draws = _draws(result_or_trajectory, burn_in, var_names)
    return _container(draws, bool(sample_stats))


def rhat(result_or_trajectory: Any, *, burn_in: int = 0, method: str = "rank") -> PyTree:
    r"""The rank-normalised split $\hat R$ of every coordinate (ArviZ's ``rhat``).

    Below 1.01 (Vehtari et al., 2021) the chains agree: each has forgotten its start and they
    explore the same distribution. Needs two chains or more, of four draws or more.

    Args:
      result_or_trajectory: a [`RunResult`][langevin_jax.runner.RunResult] of
        ``run(..., save_every=k)``, or its trajectory (leaves ``[draw, chain, ...]``).
      burn_in: saved draws dropped from the start of every chain.
      method: ``"rank"`` (default: the larger of the bulk and tail rank-normalised split
        $\hat R$), ``"split"``, ``"folded"``, ``"z_scale"`` or ``"identity"`` (the classic
        $\hat R$, chains not split), as ArviZ names them.

    Returns:
      NumPy float arrays in the positions' tree, each leaf shaped like one chain's position
      (``[d]`` for ``[draw, chain, d]``, ``{"w": [3], "b": []}`` for dict positions).

    Raises:
      ValueError: on fewer than 4 draws per chain after ``burn_in`` or fewer than 2 chains
        (naming ``result_or_trajectory``), an unknown ``method``, and what
        [`to_inference_data`][langevin_jax.diagnostics.to_inference_data] refuses.

    Examples:
      >>> import pytest; _ = pytest.importorskip("arviz")  # the diagnostics extra
      >>> import numpy as np
      >>> from langevin_jax import diagnostics
      >>> draws = np.random.default_rng(0).normal(size=(500, 4, 2))  # [draw, chain, d]
      >>> r = diagnostics.rhat(draws)
      >>> r.shape, bool(np.all(np.abs(r - 1) < 0.01))
      ((2,), True)
      >>> stuck = draws + np.arange(4)[:, None]  # each chain about its own mean
      >>> bool(np.all(diagnostics.rhat(stuck) > 1.1))
      True
    """
    _checks.check_choice("method", method, RHAT_METHODS)
    draws = _draws(result_or_trajectory, burn_in)
    _check_enough(draws, burn_in, "rhat", min_chains=2)
    az = _arviz()
    out = az.stats.rhat(_container(draws, False), method=method)
    return _per_leaf(draws, out if az.legacy else out.to_dataset())


def ess(result_or_trajectory: Any, *, burn_in: int = 0, method: str = "bulk") -> PyTree:
    r"""The effective sample size of every coordinate, over all chains (ArviZ's ``ess``).

    $\widehat{\mathrm{ESS}} = M N / \hat\tau$ for $M$ chains of $N$ draws, $\hat\tau$ the
    estimated integrated autocorrelation time: about $M N$ for independent draws, $M N (1 -
    \rho) / (1 + \rho)$ for an AR(1) chain with coefficient $\rho$. It counts saved draws: a
    run saved every $k$ steps has $M N k$ steps.

    Args:
      result_or_trajectory: a [`RunResult`][langevin_jax.runner.RunResult] of
        ``run(..., save_every=k)``, or its trajectory (leaves ``[draw, chain, ...]``).
      burn_in: saved draws dropped from the start of every chain.
      method: ``"bulk"`` (default: of the rank-normalised draws, for the centre of the
        distribution), ``"tail"`` (the smaller of the ESS of the 5% and 95% quantiles),
        ``"mean"``, ``"sd"``, ``"median"`` or ``"mad"``, as ArviZ names them.

    Returns:
      NumPy float arrays in the positions' tree, each leaf shaped like one chain's position.

    Raises:
      ValueError: on fewer than 4 draws per chain after ``burn_in`` (naming
        ``result_or_trajectory``), an unknown ``method``, and what
        [`to_inference_data`][langevin_jax.diagnostics.to_inference_data] refuses.

    Examples:
      >>> import pytest; _ = pytest.importorskip("arviz")  # the diagnostics extra
      >>> import numpy as np
      >>> from langevin_jax import diagnostics
      >>> draws = {"b": np.random.default_rng(0).normal(size=(500, 4))}  # [draw, chain]
      >>> n = diagnostics.ess(draws)
      >>> sorted(n), n["b"].shape, 1500 < float(n["b"]) < 2500  # 2000 draws in all
      (['b'], (), True)
    """
    _checks.check_choice("method", method, ESS_METHODS)
    draws = _draws(result_or_trajectory, burn_in)
    _check_enough(draws, burn_in, "ess", min_chains=1)
    az = _arviz()
    # the 1.0 line's tail ESS defaults to its interval's quantiles (0.11, 0.89): ask for the paper's
    kwargs = {"prob": _TAIL_QUANTILES} if method == "tail" and not az.legacy else {}
    out = az.stats.ess(_container(draws, False), method=method, **kwargs)
    return _per_leaf(draws, out if az.legacy else out.to_dataset())


def summary(
    result_or_trajectory: Any,
    *,
    var_names: Union[None, str, Sequence[str]] = None,
    burn_in: int = 0,
    kind: str = "all",
    as_dataframe: bool = False,
) -> Any:
    """ArviZ's summary table of a run: means, standard deviations, intervals, MCSE, ESS, R-hat.

    Args:
      result_or_trajectory: a [`RunResult`][langevin_jax.runner.RunResult] of
        ``run(..., save_every=k)``, or its trajectory (leaves ``[draw, chain, ...]``).
      var_names: the variables' names (the table's rows), as in
        [`to_inference_data`][langevin_jax.diagnostics.to_inference_data].
      burn_in: saved draws dropped from the start of every chain.
      kind: ``"all"`` (default), ``"stats"`` (mean, sd, interval) or ``"diagnostics"``
        (MCSE, ESS, R-hat).
      as_dataframe: return ArviZ's own ``pandas.DataFrame`` (a row per coordinate, ``w[0]``,
        ``w[1]``, ..., rounded for display as ArviZ rounds it) instead of arrays.

    Returns:
      A dict with a key for every column of ArviZ's table, each holding NumPy arrays (not
      rounded) in the positions' tree, each leaf shaped like one chain's position. The columns
      are ``"mean"``, ``"sd"``, the interval's bounds (ArviZ 0.x: a 94% HDI, ``"hdi_3%"`` and
      ``"hdi_97%"``; the 1.0 line: an 89% equal-tailed interval, ``"eti89_lb"`` and
      ``"eti89_ub"``), ``"mcse_mean"``, ``"mcse_sd"``, ``"ess_bulk"``, ``"ess_tail"`` and
      ``"r_hat"``. Its ``"r_hat"`` equals [`rhat`][langevin_jax.diagnostics.rhat]'s answer
      and its ``"ess_bulk"`` that of [`ess`][langevin_jax.diagnostics.ess]; with one chain,
      ``"r_hat"`` is NaN. The 1.0 line differs in two details of its own: its ``"sd"``
      divides by $M N$ (0.x by $M N - 1$), and its ``"ess_tail"`` is of its interval's
      quantiles (0.11 and 0.89 by default, ArviZ's ``stats.ci_prob``), where ``ess(...,
      method="tail")`` takes 0.05 and 0.95 on both lines. With ``as_dataframe=True``, ArviZ's
      DataFrame instead.

    Raises:
      ValueError: on fewer than 4 draws per chain after ``burn_in`` (naming
        ``result_or_trajectory``), an unknown ``kind``, and what
        [`to_inference_data`][langevin_jax.diagnostics.to_inference_data] refuses.

    Examples:
      >>> import pytest; _ = pytest.importorskip("arviz")  # the diagnostics extra
      >>> import numpy as np
      >>> from langevin_jax import diagnostics
      >>> draws = {"w": np.random.default_rng(0).normal(size=(500, 4, 3))}  # [draw, chain, 3]
      >>> table = diagnostics.summary(draws)
      >>> table["r_hat"]["w"].shape, table["ess_bulk"]["w"].shape
      ((3,), (3,))
      >>> list(diagnostics.summary(draws, as_dataframe=True).index)
      ['w[0]', 'w[1]', 'w[2]']
    """
    _checks.check_choice("kind", kind, ("all", "stats", "diagnostics"))
    draws = _draws(result_or_trajectory, burn_in, var_names)
    _check_enough(draws, burn_in, "summary", min_chains=1)
    az = _arviz()
    data = _container(draws, False)
    with warnings.catch_warnings():
        if draws.num_chains == 1:  # documented: r_hat is NaN for one chain
            warnings.filterwarnings("ignore", message="Shape validation failed")
        if as_dataframe:
            return az.stats.summary(data, kind=kind)
        table = az.stats.summary(data, kind=kind, fmt="xarray", round_to="none")
    metric = "metric" if az.legacy else "summary"
    return {str(m): _per_leaf(draws, table.sel({metric: m})) for m in table[metric].values}
