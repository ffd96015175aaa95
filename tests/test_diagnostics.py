"""langevin_jax.diagnostics: a run in ArviZ's layout ([chain, draw, ...]), R-hat, ESS and summaries.

The estimators are ArviZ's: checked against known cases (independent draws, an AR(1) chain with a
known integrated autocorrelation time, chains about different means) and against ArviZ called
directly on the same ``[chain, draw]`` arrays (exactly). Each test runs on every installed line of
ArviZ: ``arviz`` 0.x (the ``diagnostics`` extra) and, where installed, ``arviz-base`` /
``arviz-stats`` (the 1.0 line).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import lfilter

import langevin_jax as lj
from langevin_jax import diagnostics as dg

pytest.importorskip("xarray", reason="langevin_jax.diagnostics needs the diagnostics extra (ArviZ)")


def _legacy_arviz():
    if importlib.util.find_spec("arviz") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    return arviz if int(arviz.__version__.split(".")[0]) < 1 else None


@pytest.fixture(params=["arviz", "arviz-base"])
def backend(request, monkeypatch):
    """The ArviZ line the module uses, forced: ``arviz`` 0.x, or ``arviz_base`` and ``arviz_stats``."""
    if request.param == "arviz":
        az = _legacy_arviz()
        if az is None:
            pytest.skip("arviz 0.x is not installed")
        chosen = dg._ArviZ(True, az, az)
    else:
        azb = pytest.importorskip("arviz_base")
        azs = pytest.importorskip("arviz_stats")
        chosen = dg._ArviZ(False, azb, azs)
    monkeypatch.setattr(dg, "_arviz", lambda: chosen)
    return chosen


def _direct_rhat(az, chain_draw):
    """ArviZ's rank-normalised split R-hat of one ``[chain, draw]`` array, called directly."""
    if az.legacy:
        return az.stats.rhat(chain_draw, method="rank")
    return az.stats.rhat(chain_draw, method="rank", chain_axis=0, draw_axis=1)


def _direct_ess(az, chain_draw, method):
    if az.legacy:
        return az.stats.ess(chain_draw, method=method)
    prob = (0.05, 0.95) if method == "tail" else None  # the paper's tail quantiles, arviz 0.x's default
    return az.stats.ess(chain_draw, method=method, chain_axis=0, draw_axis=1, prob=prob)


def _ar1(rng, rho, num_chains, num_draws):
    """Stationary AR(1) chains $x_t = \\rho x_{t-1} + \\epsilon_t$, ``[draw, chain]``."""
    eps = rng.normal(size=(num_chains, num_draws))
    eps[:, 0] /= np.sqrt(1 - rho**2)  # start in the stationary law N(0, 1 / (1 - rho^2))
    return lfilter([1.0], [1.0, -rho], eps, axis=1).T


# --------------------------------------------------------------------------- known cases


def test_independent_draws(backend):
    draws = np.random.default_rng(0).normal(size=(1000, 4, 5))  # [draw, chain, 5]: 4000 draws
    r = dg.rhat(draws)
    assert r.shape == (5,) and np.all(np.abs(r - 1) < 0.01), r
    n = dg.ess(draws)
    # the bulk ESS of 4000 independent draws: relative spread 3.7% over seeds (measured)
    assert n.shape == (5,) and np.all(np.abs(n / 4000 - 1) < 0.15), n
    tail = dg.ess(draws, method="tail")
    assert np.all(np.abs(tail / 4000 - 1) < 0.2), tail


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_ar1_ess_matches_the_autocorrelation_time(backend, rho):
    """ESS = M N / tau with tau = (1 + rho) / (1 - rho) for AR(1) chains."""
    num_chains, num_draws = 4, 10_000
    draws = _ar1(np.random.default_rng(1), rho, num_chains, num_draws)
    expected = num_chains * num_draws * (1 - rho) / (1 + rho)
    n = float(dg.ess(draws))
    # relative spread about 4% at this size (measured over seeds): 5 of them
    assert abs(n / expected - 1) < 0.2, (n, expected)
    assert abs(float(dg.ess(draws, method="mean")) / expected - 1) < 0.2
    assert abs(float(dg.rhat(draws)) - 1) < 0.01


def test_chains_about_different_means(backend):
    draws = np.random.default_rng(2).normal(size=(500, 4, 2))
    draws[:, 3] += 3.0  # one chain elsewhere
    assert np.all(dg.rhat(draws) > 1.1)
    drift = np.random.default_rng(3).normal(size=(500, 4)) + np.linspace(0, 4, 500)[:, None]
    assert float(dg.rhat(drift)) > 1.1  # each chain drifts: split R-hat sees its halves disagree


def test_wrapper_equals_arviz_called_directly(backend):
    """Exactly ArviZ's numbers on the same [chain, draw] arrays: the wrapper only transposes."""
    rng = np.random.default_rng(4)
    trajectory = {"w": _ar1(rng, 0.6, 4, 300)[:, :, None] + rng.normal(size=(300, 4, 3)),
                  "b": _ar1(rng, 0.9, 4, 300)}
    r, n, tail = dg.rhat(trajectory), dg.ess(trajectory), dg.ess(trajectory, method="tail")
    for name in ("w", "b"):
        chain_draw = np.swapaxes(trajectory[name], 0, 1)
        columns = chain_draw.reshape(4, 300, -1)
        want_r = [_direct_rhat(backend, columns[..., i]) for i in range(columns.shape[-1])]
        want_n = [_direct_ess(backend, columns[..., i], "bulk") for i in range(columns.shape[-1])]
        want_t = [_direct_ess(backend, columns[..., i], "tail") for i in range(columns.shape[-1])]
        shape = trajectory[name].shape[2:]
        assert r[name].shape == n[name].shape == tail[name].shape == shape
        np.testing.assert_array_equal(r[name], np.reshape(want_r, shape))
        np.testing.assert_array_equal(n[name], np.reshape(want_n, shape))
        np.testing.assert_array_equal(tail[name], np.reshape(want_t, shape))
    table = dg.summary(trajectory)
    for name in ("w", "b"):
        np.testing.assert_array_equal(table["r_hat"][name], r[name])
        np.testing.assert_array_equal(table["ess_bulk"][name], n[name])
        if backend.legacy:  # the 1.0 line's table takes the tail at its ci_prob quantiles (0.11, 0.89)
            np.testing.assert_array_equal(table["ess_tail"][name], tail[name])
        np.testing.assert_allclose(table["mean"][name], trajectory[name].mean(axis=(0, 1)), rtol=1e-12)
        ddof = 1 if backend.legacy else 0  # each line's own sd
        np.testing.assert_allclose(table["sd"][name], trajectory[name].reshape(1200, -1).std(axis=0, ddof=ddof)
                                   .reshape(trajectory[name].shape[2:]), rtol=1e-12)


def test_summary_dataframe_is_arvizs(backend):
    trajectory = {"w": np.random.default_rng(5).normal(size=(200, 3, 2))}
    table = dg.summary(trajectory, as_dataframe=True)
    idata = dg.to_inference_data(trajectory)
    direct = backend.stats.summary(idata)
    assert list(table.index) == ["w[0]", "w[1]"] and list(table.columns) == list(direct.columns)
    np.testing.assert_array_equal(table.to_numpy(), direct.to_numpy())
    assert "r_hat" in table.columns and "ess_bulk" in table.columns
    stats_only = dg.summary(trajectory, kind="stats")
    assert "mean" in stats_only and "r_hat" not in stats_only


# --------------------------------------------------------------------------- the layout


def _dict_run(num_chains=4, num_steps=200, save_every=5):
    score = lambda p: jax.tree_util.tree_map(lambda v: -v, p)  # noqa: E731 - N(0, I) on every leaf
    positions = {"w": jnp.ones((num_chains, 3)), "b": jnp.zeros((num_chains,))}
    return lj.run(jax.random.key(0), lj.ula(score, 0.1), positions, num_steps, save_every=save_every)


def test_dict_positions_layout(backend):
    out = _dict_run()
    assert out.trajectory["w"].shape == (40, 4, 3)  # run's layout: [draw, chain, 3]
    idata = dg.to_inference_data(out)
    w, b = idata.posterior["w"], idata.posterior["b"]
    assert w.shape == (4, 40, 3) and w.dims == ("chain", "draw", "w_dim_0")
    assert b.shape == (4, 40) and b.dims == ("chain", "draw")
    np.testing.assert_array_equal(w.values, np.swapaxes(np.asarray(out.trajectory["w"]), 0, 1))
    np.testing.assert_array_equal(b.values, np.asarray(out.trajectory["b"]).T)
    assert idata.posterior.attrs["inference_library"] == "langevin_jax"
    stats = idata["sample_stats"]
    assert stats["nonfinite"].dims == ("chain",) and not stats["nonfinite"].values.any()
    r = dg.rhat(out, burn_in=10)
    assert set(r) == {"w", "b"} and r["w"].shape == (3,) and r["b"].shape == ()
    bare = dg.to_inference_data(out, sample_stats=False)
    groups = bare.groups() if callable(bare.groups) else bare.groups  # InferenceData, DataTree
    assert not [g for g in groups if "sample_stats" in g]


def test_not_transposed(backend):
    """4 chains of 100 saved draws stay 4 chains: never [draw, chain] read as [chain, draw]."""
    out = _dict_run(num_chains=4, num_steps=100, save_every=1)
    idata = dg.to_inference_data(out)
    assert dict(idata.posterior["b"].sizes) == {"chain": 4, "draw": 100}
    assert idata.posterior["w"].sel(chain=2, draw=37).values.tolist() == np.asarray(out.trajectory["w"][37, 2]).tolist()
    table = dg.summary(out, as_dataframe=True)
    assert list(table.index) == ["b", "w[0]", "w[1]", "w[2]"]  # tree_leaves order: sorted keys


def test_burn_in_drops_saved_draws(backend):
    draws = np.random.default_rng(6).normal(size=(100, 3, 2))
    idata = dg.to_inference_data(draws, burn_in=30)
    assert idata.posterior["x"].shape == (3, 70, 2)
    assert idata.posterior["draw"].values.tolist() == list(range(30, 100))  # the trajectory's index
    np.testing.assert_array_equal(dg.rhat(draws, burn_in=30), dg.rhat(draws[30:]))
    np.testing.assert_array_equal(dg.ess(draws, burn_in=30), dg.ess(draws[30:]))


def test_names(backend):
    draws = np.random.default_rng(8).normal(size=(10, 2))
    tree = {"a": {"b": draws}, "c": (draws, draws[:, :, None])}
    assert list(dg.to_inference_data(tree).posterior.data_vars) == ["a.b", "c.0", "c.1"]
    assert list(dg.to_inference_data((draws, draws)).posterior.data_vars) == ["x.0", "x.1"]
    assert list(dg.to_inference_data(draws).posterior.data_vars) == ["x"]
    assert list(dg.to_inference_data(draws, var_names="theta").posterior.data_vars) == ["theta"]
    renamed = dg.summary({"w": draws, "b": draws}, var_names=["beta", "weights"], as_dataframe=True)
    assert list(renamed.index) == ["beta", "weights"]  # leaves in tree_leaves order: b, w
    assert dg.to_inference_data(jnp.zeros((10, 2), jnp.bfloat16)).posterior["x"].dtype == np.float32


def test_mala_run_converged(backend):
    """A real run: MALA on a correlated Gaussian, converted and summarised."""
    target = lj.Gaussian.create(jnp.array([1.0, -2.0]), jnp.array([[1.0, 0.5], [0.5, 2.0]]))
    start = jnp.array([[6.0, 6.0], [-6.0, 6.0], [6.0, -6.0], [-6.0, -6.0]])  # overdispersed
    out = lj.run(jax.random.key(1), lj.mala(target.log_prob, 0.6), start, 4000, save_every=2)
    r = dg.rhat(out, burn_in=100)
    assert r.shape == (2,) and np.all(r < 1.02), r
    n = dg.ess(out, burn_in=100)
    assert np.all(n > 300), n
    table = dg.summary(out, burn_in=100)
    np.testing.assert_array_equal(table["r_hat"], r)
    mean, mcse = table["mean"], table["mcse_mean"]
    assert np.all(np.abs(mean - np.array([1.0, -2.0])) < 5 * mcse), (mean, mcse)
    np.testing.assert_allclose(table["sd"], np.sqrt([1.0, 2.0]), rtol=0.15)
    idata = dg.to_inference_data(out, burn_in=100)
    acceptance = idata["sample_stats"]["acceptance_rate"].values
    assert acceptance.shape == (4,) and np.all((acceptance > 0.3) & (acceptance <= 1))
    np.testing.assert_allclose(acceptance.mean(), float(out.info.acceptance_rate), rtol=1e-5)
    # the chains that have not forgotten their starts: their first 4 draws (8 steps; R-hat 1.16-2.5
    # over seeds 1-3)
    early = dg.rhat(out.trajectory[:4])
    assert np.max(early) > 1.1, early


def test_single_chain(backend):
    draws = np.random.default_rng(7).normal(size=(400, 1, 2))
    n = dg.ess(draws)
    assert n.shape == (2,) and np.all(n > 250)
    table = dg.summary(draws)
    assert np.all(np.isnan(table["r_hat"])) and np.all(table["ess_bulk"] == n)


# --------------------------------------------------------------------------- ArviZ's own functions


def test_arviz_functions_work_on_the_container():
    az = _legacy_arviz()
    if az is None:
        pytest.skip("arviz 0.x is not installed")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idata = dg.to_inference_data(_dict_run())
    assert isinstance(idata, az.InferenceData)
    frame = az.summary(idata)
    assert list(frame.index) == ["b", "w[0]", "w[1]", "w[2]"]  # tree_leaves order: sorted keys
    axes = az.plot_trace(idata)
    assert axes.shape == (2, 2)
    plt.close("all")
    assert set(az.rhat(idata).data_vars) == {"w", "b"}


# --------------------------------------------------------------------------- errors


def test_errors_name_the_argument(backend):
    one_draw = np.zeros((1, 4, 2))
    with pytest.raises(ValueError, match="result_or_trajectory has 1 draw"):
        dg.rhat(one_draw)
    with pytest.raises(ValueError, match="result_or_trajectory has 3 draw.*after burn_in=2"):
        dg.ess(np.zeros((5, 4)), burn_in=2)
    with pytest.raises(ValueError, match="result_or_trajectory has 1 chain"):
        dg.rhat(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="burn_in=10 drops every draw"):
        dg.to_inference_data(np.zeros((10, 4)), burn_in=10)
    with pytest.raises(ValueError, match="burn_in must be >= 0"):
        dg.ess(np.zeros((10, 4)), burn_in=-1)
    with pytest.raises(ValueError, match=r"result_or_trajectory\['b'\] has shape \(10,\)"):
        dg.to_inference_data({"w": np.zeros((10, 4)), "b": np.zeros(10)})
    with pytest.raises(ValueError, match=r"\['w'\] has shape \(10, 4\), but the first leaf's \[draw, chain\] is \[10, 3\]"):
        dg.to_inference_data({"w": np.zeros((10, 4)), "b": np.zeros((10, 3))})
    with pytest.raises(ValueError, match="result_or_trajectory has no arrays"):
        dg.to_inference_data({})
    with pytest.raises(ValueError, match="real numbers"):
        dg.to_inference_data(np.zeros((10, 4), complex))
    with pytest.raises(ValueError, match="var_names must be 2"):
        dg.to_inference_data({"w": np.zeros((10, 4)), "b": np.zeros((10, 4))}, var_names=["w"])
    with pytest.raises(ValueError, match=r"var_names gives the variable name\(s\) \['w'\]"):
        dg.to_inference_data({"w": np.zeros((10, 4)), "b": np.zeros((10, 4))}, var_names=["w", "w"])
    with pytest.raises(ValueError, match="positions' pytree gives the variable name"):
        dg.to_inference_data({"a.b": np.zeros((10, 4)), "a": {"b": np.zeros((10, 4))}})
    with pytest.raises(ValueError, match="method must be"):
        dg.ess(np.zeros((10, 4)), method="nope")
    with pytest.raises(ValueError, match="method must be"):
        dg.rhat(np.zeros((10, 4)), method="bulk")
    with pytest.raises(ValueError, match="kind must be"):
        dg.summary(np.zeros((10, 4)), kind="nope")
    no_trajectory = lj.run(jax.random.key(0), lj.ula(lambda x: -x, 0.1), jnp.zeros((2, 1)), 5)
    with pytest.raises(ValueError, match="RunResult without a trajectory: run with save_every"):
        dg.to_inference_data(no_trajectory)


def test_without_arviz_the_error_names_the_extra(monkeypatch):
    for name in ("arviz", "arviz_base", "arviz_stats"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError
    with pytest.raises(ModuleNotFoundError, match=r'pip install "langevin_jax\[diagnostics\]"'):
        dg.rhat(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="burn_in"):  # the arguments are checked first
        dg.to_inference_data(np.zeros((10, 4)), burn_in=10)


def test_import_does_not_load_arviz():
    code = textwrap.dedent("""
        import sys
        import langevin_jax as lj
        assert "langevin_jax.diagnostics" not in sys.modules and "diagnostics" in dir(lj)
        lj.diagnostics.rhat
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("arviz", "arviz_base", "arviz_stats", "xarray"))
        assert not loaded, loaded
        print("ok")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
