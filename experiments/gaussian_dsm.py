"""Paper 2 (Hurault et al. 2025): denoising score matching to Langevin on a Gaussian, closed form.

Data ``N(0, Sigma)`` with a power-law spectrum ``lambda_i = i^(-a)`` (in a random orthonormal basis),
``n`` samples, the linear score learned by DSM at noise ``sigma`` (exact minimiser, or ``K`` gradient
steps of size ``gamma``), ULA with step ``eta`` for ``k`` steps from 0. The closed forms are our
derivation (``langevin_jax.gaussian_dsm``; the paper's theorems were not available to us).

1. Three-way check, per setting: the kernel formula ``sqrt(sum_i k(lambda_i))`` (exact in the
   population limit; for finite ``n`` our first-order ``1/n`` expansion of ``E W2^2``), the exact
   Bures W2 from matrices for the drawn ``Sigma_hat``, and ULA chains actually run with the learned
   score (Gaussian fit of the final positions, W2 to the data law; mean over replicates with its
   standard error, minus the fit's leading-order finite-sample bias, which is also reported).
2. Trade-offs: W2 versus ``sigma`` for several ``eta`` and the optimum ``sigma*(eta)`` found by
   gradient descent on the closed form (checked against a grid); how the exponent ``a`` moves it;
   W2 versus ``n`` (exact, averaged over datasets) and versus ``K``.

Run ``python -m experiments.gaussian_dsm --help``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Annotated, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import langevin_jax as lj
from experiments import _cli, _output, _plotting
from langevin_jax import gaussian_dsm as gd
from langevin_jax import targets, theory

NAME = "gaussian_dsm"


@dataclasses.dataclass(frozen=True)
class Setting:
    """One pipeline configuration of the three-way check (``num_samples=None``: population)."""

    a: float
    num_samples: Optional[int]
    sigma: float
    eta: float
    num_ula_steps: int
    gamma: Optional[float] = None
    num_dsm_steps: Optional[int] = None


DEFAULT_SETTINGS = (
    Setting(a=1.0, num_samples=None, sigma=0.15, eta=0.02, num_ula_steps=300),
    Setting(a=2.0, num_samples=None, sigma=0.15, eta=0.02, num_ula_steps=300, gamma=0.5,
            num_dsm_steps=50),
    Setting(a=1.0, num_samples=None, sigma=0.1, eta=0.005, num_ula_steps=100),
    Setting(a=0.5, num_samples=None, sigma=0.3, eta=0.05, num_ula_steps=300),
    Setting(a=1.0, num_samples=1000, sigma=0.15, eta=0.02, num_ula_steps=300),
    Setting(a=2.0, num_samples=500, sigma=0.15, eta=0.02, num_ula_steps=300, gamma=0.5,
            num_dsm_steps=50),
    Setting(a=1.0, num_samples=20, sigma=0.15, eta=0.02, num_ula_steps=300),
)


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol: closed-form sweeps, exact-matrix sweeps over n and K, the three-way check.

    Attributes:
      d: closed-form sweeps: dimension of the data N(0, Sigma).
      exponents: closed-form sweeps: exponents a of the spectrum lambda_i = i^(-a), one panel each.
      etas: closed-form sweeps: ULA step sizes eta, one curve each.
      sigma_grid: closed-form sweeps: the DSM noise levels sigma, log-spaced: min, max, number.
      d_finite_n: sweeps over n and K: dimension (exact matrices, so smaller than d).
      sweep_a: sweeps over n and K: spectrum exponent a.
      sweep_eta: sweeps over n and K: ULA step size eta.
      sweep_sigmas: sweeps over n and K: DSM noise levels sigma (the middle one for K).
      num_samples_grid: sweep over n: the sample sizes n.
      num_datasets: sweep over n: datasets per n (the exact W2 is averaged over them).
      finite_n_sigma_points: sweep over n: sigmas on the W2(sigma) curves at fixed n (log-spaced
        in [0.01, 1]).
      dsm_steps_grid: sweep over K: numbers K of DSM gradient steps.
      gammas: sweep over K: DSM gradient step sizes gamma, one curve each.
      d_sim: three-way check: dimension.
      settings: three-way check: the pipeline settings (a, n, sigma, eta, k, gamma, K), one row each.
      num_chains: three-way check: ULA chains per replicate.
      num_replicates: three-way check: independent replicates (mean and standard error over them).
    """

    # closed-form (kernel) sweeps
    d: int = 300
    exponents: Sequence[float] = (0.5, 1.0, 1.5, 2.0)
    etas: Sequence[float] = (1e-3, 3e-3, 1e-2, 3e-2)
    sigma_grid: Annotated[tuple[float, float, int], tyro.conf.arg(metavar="MIN MAX NUM")] = (1e-3, 1.0, 120)  # log-spaced
    # exact-matrix sweeps over n and K (each point costs eigen-decompositions: smaller d)
    d_finite_n: int = 100
    sweep_a: float = 1.0
    sweep_eta: float = 0.01
    sweep_sigmas: Sequence[float] = (0.075, 0.15, 0.3)
    num_samples_grid: Sequence[int] = (25, 50, 100, 200, 400, 1000, 3000, 10_000)
    num_datasets: Annotated[int, tyro.conf.arg(name="datasets", aliases=("--num-datasets",))] = 10
    finite_n_sigma_points: int = 25
    dsm_steps_grid: Sequence[int] = (1, 3, 10, 30, 100, 300, 1000, 3000)
    gammas: Sequence[float] = (0.1, 0.5, 1.0)
    # three-way check with simulated chains
    d_sim: int = 100
    settings: Annotated[Sequence[Setting], tyro.conf.Suppress] = DEFAULT_SETTINGS  # --settings N: the first N
    num_chains: Annotated[int, tyro.conf.arg(name="chains", aliases=("--num-chains",))] = 2500
    num_replicates: Annotated[int, tyro.conf.arg(name="replicates", aliases=("--num-replicates",))] = 10

    @classmethod
    def quick(cls) -> "Config":
        return cls(d=100, sigma_grid=(1e-3, 1.0, 60), d_finite_n=50,
                   num_samples_grid=(25, 50, 100, 200, 500, 2000), num_datasets=5,
                   finite_n_sigma_points=15, dsm_steps_grid=(1, 3, 10, 30, 100, 300, 1000),
                   d_sim=40, num_chains=1000, num_replicates=8)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_counts(self, d=2, d_sim=2, num_replicates=2, num_datasets=2, d_finite_n=1,
                          num_samples_grid=1, finite_n_sigma_points=1, dsm_steps_grid=1, num_chains=1)
        _cli.check_nonempty(self, "exponents", "etas", "sweep_sigmas", "num_samples_grid", "dsm_steps_grid", "gammas")
        _cli.check_positive(self, "etas", "sweep_eta", "sweep_sigmas", "gammas")
        for name in ("exponents", "sweep_a"):  # spectrum exponents: lambda_i = i^(-a), a >= 0
            value = getattr(self, name)
            if not all(math.isfinite(a) and a >= 0 for a in (value if isinstance(value, (tuple, list)) else (value,))):
                raise ValueError(f"{name} must be finite and >= 0, got {_output.format_value(value)}")
        if self.sweep_a not in self.exponents:
            raise ValueError(f"sweep_a={self.sweep_a} must be one of exponents={_output.format_value(self.exponents)} "
                             "(the figure shows the closed-form sweep of that exponent beside the sweeps over n and K)")
        if self.num_chains <= self.d_sim + 1:
            raise ValueError(f"num_chains={self.num_chains} must be > d_sim + 1 = {self.d_sim + 1} (the "
                             "Gaussian fit needs a non-singular covariance)")
        lo, hi, num = self.sigma_grid
        if not (0 < lo < hi < math.inf and isinstance(num, int) and num >= 2):
            raise ValueError(f"sigma_grid={_output.format_value(self.sigma_grid)} must be min max number "
                             "with 0 < min < max finite and an integer number >= 2")
        d, dn, m = self.d, self.d_finite_n, self.num_datasets
        n_max = max(max(self.num_samples_grid), 4 * dn)
        num_sigmas = max(len(self.sweep_sigmas), self.finite_n_sigma_points)
        _cli.check_memory(self, ("d", "sigma_grid", "etas"), 32 * d * num * len(self.etas),
                          "the closed-form grid [etas, sigma_grid's number, d]")
        _cli.check_memory(self, ("d_finite_n", "num_datasets", "num_samples_grid", "finite_n_sigma_points"),
                          16 * m * n_max * dn + 8 * (len(self.num_samples_grid) + 3) * m * dn * dn
                          + 32 * m * num_sigmas * dn * dn,
                          "the datasets [num_datasets, max(num_samples_grid), d_finite_n] and their matrices "
                          "[num_datasets, sigmas, d_finite_n, d_finite_n]")
        _cli.check_memory(self, ("num_chains", "num_replicates", "d_sim"),
                          24 * self.num_chains * self.num_replicates * self.d_sim + 64 * self.d_sim ** 2,
                          "the three-way check's chains [num_replicates * num_chains, d_sim]")
        return self


def _pipeline_kwargs(s: Setting) -> dict:
    return dict(gamma=s.gamma, num_dsm_steps=s.num_dsm_steps, num_ula_steps=s.num_ula_steps)


def _simulate(key, score_matrix, data_cov, setting: Setting, num_chains: int,
              num_replicates: int) -> dict:
    """ULA chains with the learned score; Gaussian-fit W2 per replicate, debiased."""
    d = data_cov.shape[0]
    a32 = jnp.asarray(score_matrix, jnp.float32)
    algorithm = lj.ula(lambda x: -(a32 @ x), setting.eta)
    x0 = jnp.zeros((num_chains * num_replicates, d), jnp.float32)
    out = lj.run(key, algorithm, x0, setting.num_ula_steps)
    xs = np.asarray(out.positions, np.float64).reshape(num_replicates, num_chains, d)
    finite = np.all(np.isfinite(xs), axis=-1)
    w2sq = []
    with jax.enable_x64(True):
        zero = jnp.zeros(d, jnp.float64)
        for r in range(num_replicates):
            x = xs[r][finite[r]]
            m, c = jnp.asarray(x.mean(0)), jnp.asarray(np.cov(x.T))
            w2sq.append(float(theory.gaussian_w2(m, c, zero, data_cov)) ** 2)
        pooled = jnp.asarray(np.cov(xs[finite].T))
        bias = float(gd.gaussian_fit_w2_bias(data_cov, pooled, num_chains))
    w2sq = np.asarray(w2sq)
    mean = float(w2sq.mean())
    se_sq = float(w2sq.std(ddof=1) / math.sqrt(num_replicates))
    debiased = max(mean - bias, 0.0)
    w2 = math.sqrt(debiased)
    return dict(simulated_w2=w2,
                simulated_w2_se=se_sq / (2 * w2) if w2 > 0 else math.sqrt(se_sq),
                simulated_w2_raw=math.sqrt(mean),
                simulated_w2_sq=debiased, simulated_w2_sq_se=se_sq,
                fit_bias_w2_sq=bias, nonfinite_chains=int((~finite).sum()))


def _three_way(config: Config, key: jax.Array) -> list:
    rows = []
    d = config.d_sim
    for i, s in enumerate(config.settings):
        start = time.perf_counter()
        k_basis, k_data, k_chains = jax.random.split(jax.random.fold_in(key, i), 3)
        kw = _pipeline_kwargs(s)
        with jax.enable_x64(True):
            lam = gd.power_law_spectrum(d, s.a)
            basis = targets.random_orthogonal(k_basis, d, jnp.float64)
            sigma_data = (basis * lam) @ basis.T
            if s.num_samples is None:
                emp = None
                formula = float(gd.kernel_w2(lam, s.sigma, s.eta, **kw))
                formula_pop = formula
                kind = "population kernel (exact)"
            else:
                emp = gd.sample_empirical_covariance(k_data, lam, s.num_samples, basis)
                formula = float(gd.expected_kernel_w2(lam, s.num_samples, s.sigma, s.eta, **kw))
                formula_pop = float(gd.kernel_w2(lam, s.sigma, s.eta, **kw))
                kind = "sqrt(E W2^2), first order in 1/n (approximate" + (
                    ", n < d: outside its range)" if s.num_samples < d else ")")
            score = gd.dsm_score_matrix(sigma_data if emp is None else emp, s.sigma,
                                        s.num_dsm_steps, s.gamma)
            exact = float(gd.pipeline_w2(sigma_data, emp, s.sigma, s.eta, **kw))
            dec = gd.error_decomposition(sigma_data, emp, s.sigma, s.eta, **kw)
        sim = _simulate(k_chains, score, sigma_data, s, config.num_chains, config.num_replicates)
        row = dict(dataclasses.asdict(s), d=d, formula_w2=formula, exact_w2=exact,
                   formula_is_exact=s.num_samples is None, formula_kind=kind,
                   formula_population_w2=formula_pop,
                   formula_minus_exact=formula - exact,
                   z_simulated_vs_exact=(sim["simulated_w2_sq"] - exact**2)
                   / sim["simulated_w2_sq_se"],
                   num_chains=config.num_chains, num_replicates=config.num_replicates,
                   decomposition=dict(total=float(dec.total),
                                      alone={k: float(v) for k, v in dec.alone._asdict().items()},
                                      marginal={k: float(v)
                                                for k, v in dec.marginal._asdict().items()}),
                   **sim)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        n = "inf" if s.num_samples is None else s.num_samples
        print(f"[three-way {i}] a={s.a} n={n} sigma={s.sigma} eta={s.eta} k={s.num_ula_steps} "
              f"K={s.num_dsm_steps}: formula {formula:.6g}  exact {exact:.6g}  simulated "
              f"{sim['simulated_w2']:.4g} ± {sim['simulated_w2_se']:.2g} "
              f"(raw fit {sim['simulated_w2_raw']:.4g}) [{row['seconds']:.1f}s]", flush=True)
    return rows


def _sigma_grid(config: Config) -> np.ndarray:
    lo, hi, num = config.sigma_grid
    return np.logspace(math.log10(lo), math.log10(hi), int(num))


# Module-level jitted batches: the spectrum and matrices are arguments, so each compiles once per
# shape and is re-used across exponents, datasets and repeated runs.


@jax.jit
def _grid_w2(lam, sigmas, etas):
    """Kernel W2 on a grid, ``[num_etas, num_sigmas]``."""
    return jax.vmap(lambda e: jax.vmap(lambda s: gd.kernel_w2(lam, s, e))(sigmas))(etas)


@jax.jit
def _optimal(lam, etas):
    """sigma*(eta) by gradient descent, the W2 there, and dW2^2/dsigma there (should be ~0)."""
    s, w = jax.vmap(lambda e: gd.optimal_sigma(lam, e))(etas)
    g = jax.vmap(jax.grad(lambda s_, e: gd.kernel_w2(lam, s_, e) ** 2))(s, etas)
    return s, w, g


@jax.jit
def _exact_w2_batch(sigma_data, emps, sigmas, eta):
    """Exact W2 for each empirical covariance and sigma, ``[num_datasets, num_sigmas]``."""
    return jax.vmap(lambda e: jax.vmap(lambda s: gd.pipeline_w2(sigma_data, e, s, eta))(sigmas))(
        emps)


def _rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded from a JAX key (host-side draws need no compilation)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())


def _nested_empirical_covariances(key, lam, basis, n_values, num_datasets) -> dict:
    """``{n: [num_datasets, d, d]}``: dataset r's covariance from its first n points (nested).

    Same law as :func:`langevin_jax.gaussian_dsm.sample_empirical_covariance` for each ``n``;
    nesting the datasets gives common random numbers across ``n``.
    """
    d = lam.shape[0]
    n_max = max(n_values)
    z = _rng(key).standard_normal((num_datasets, n_max, d))
    x = (z * np.sqrt(np.asarray(lam))) @ np.asarray(basis).T
    return {n: jnp.asarray(np.transpose(x[:, :n], (0, 2, 1)) @ x[:, :n] / n) for n in n_values}


def _sigma_sweeps(config: Config) -> tuple[dict, list]:
    """W2(sigma) for each eta and exponent; sigma*(eta) by gradient descent and on the grid."""
    sigmas = _sigma_grid(config)
    curves, optima = [], []
    with jax.enable_x64(True):
        sig = jnp.asarray(sigmas)
        etas = jnp.asarray(config.etas, jnp.float64)
        for a in config.exponents:
            lam = gd.power_law_spectrum(config.d, a)
            grid = np.asarray(_grid_w2(lam, sig, etas))
            s_star, w_star, grad_at = _optimal(lam, etas)
            idx = np.argmin(np.where(np.isfinite(grid), grid, np.inf), axis=1)
            curves.append(dict(a=a, etas=list(config.etas), sigmas=sigmas, w2=grid))
            optima.append(dict(
                a=a, etas=list(config.etas), sigma_star=np.asarray(s_star),
                w2_star=np.asarray(w_star), grad_at_sigma_star=np.asarray(grad_at),
                sigma_star_grid=sigmas[idx], w2_star_grid=grid[np.arange(len(idx)), idx],
                lambda_min=float(jnp.min(lam)),
            ))
    return dict(d=config.d, curves=curves), optima


def _n_sweep(config: Config, key: jax.Array) -> dict:
    """Exact W2 averaged over datasets versus n, and W2(sigma) at a few n (finite-n optimum)."""
    d, eta = config.d_finite_n, config.sweep_eta
    sig_fine = np.logspace(-2, 0, config.finite_n_sigma_points)
    curve_ns = (max(d // 2, 1), d, 4 * d)
    rows, sigma_curves = [], []
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(d, config.sweep_a)
        basis = targets.random_orthogonal(jax.random.fold_in(key, 0), d, jnp.float64)
        sigma_data = (basis * lam) @ basis.T
        emps = _nested_empirical_covariances(
            jax.random.fold_in(key, 1), lam, basis,
            sorted(set(config.num_samples_grid) | set(curve_ns)), config.num_datasets)
        sweep_sigmas = jnp.asarray(config.sweep_sigmas, jnp.float64)
        pop = np.asarray(_grid_w2(lam, sweep_sigmas, jnp.asarray([eta]))[0])
        for n in config.num_samples_grid:
            w = np.asarray(_exact_w2_batch(sigma_data, emps[n], sweep_sigmas, eta))
            w = np.where(np.isfinite(w), w, np.nan)
            expected = [float(gd.expected_kernel_w2(lam, n, s, eta)) for s in config.sweep_sigmas]
            rows.append(dict(
                num_samples=n, sigmas=list(config.sweep_sigmas),
                exact_rms_w2=np.sqrt(np.nanmean(w**2, axis=0)),
                exact_w2_sq_se=np.nanstd(w**2, axis=0, ddof=1) / math.sqrt(config.num_datasets),
                nonfinite=int(np.isnan(w).sum()),
                expected_formula_w2=expected))
        fine = jnp.asarray(sig_fine)
        for n in (*curve_ns, None):
            if n is None:
                w = np.asarray(_grid_w2(lam, fine, jnp.asarray([eta])))
            else:
                w = np.asarray(_exact_w2_batch(sigma_data, emps[n], fine, eta))
            rms = np.sqrt(np.mean(w**2, axis=0))
            idx = int(np.argmin(np.where(np.isfinite(rms), rms, np.inf)))
            sigma_curves.append(dict(num_samples=n, sigmas=sig_fine, rms_w2=rms,
                                     sigma_star_grid=float(sig_fine[idx]),
                                     w2_star_grid=float(rms[idx])))
    return dict(a=config.sweep_a, eta=eta, d=d, population_w2=pop, rows=rows,
                sigma_curves=sigma_curves)


def _k_sweep(config: Config, key: jax.Array) -> dict:
    """W2 versus the number K of DSM gradient steps (population, and one dataset with n = 2d)."""
    d, eta = config.d_finite_n, config.sweep_eta
    sigma = config.sweep_sigmas[len(config.sweep_sigmas) // 2]
    curves = []
    with jax.enable_x64(True):
        lam = gd.power_law_spectrum(d, config.sweep_a)
        basis = targets.random_orthogonal(jax.random.fold_in(key, 1), d, jnp.float64)
        sigma_data = (basis * lam) @ basis.T
        emp = _nested_empirical_covariances(jax.random.fold_in(key, 2), lam, basis, [2 * d],
                                            1)[2 * d][0]
        inf_pop = float(gd.kernel_w2(lam, sigma, eta))
        inf_emp = float(gd.pipeline_w2(sigma_data, emp, sigma, eta))
        lam_emp_max = float(np.max(np.linalg.eigvalsh(np.asarray(emp))))
        for gamma in config.gammas:
            pop, emp_w = [], []
            for k in config.dsm_steps_grid:
                pop.append(float(gd.kernel_w2(lam, sigma, eta, gamma=gamma, num_dsm_steps=k)))
                if gamma * (lam_emp_max + sigma**2) < 2:
                    emp_w.append(float(gd.pipeline_w2(sigma_data, emp, sigma, eta, gamma=gamma,
                                                      num_dsm_steps=k)))
                else:
                    emp_w.append(float("nan"))
            curves.append(dict(gamma=gamma, population_w2=pop, empirical_w2=emp_w))
    return dict(a=config.sweep_a, sigma=sigma, eta=eta, d=d, num_samples=2 * d,
                dsm_steps=list(config.dsm_steps_grid), curves=curves,
                minimiser_population_w2=inf_pop, minimiser_empirical_w2=inf_emp)


def run(config: Config, key: jax.Array) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    k_three, k_n, k_k = jax.random.split(key, 3)
    t = time.perf_counter()
    three_way = _three_way(config, k_three)
    t_three = time.perf_counter() - t
    t = time.perf_counter()
    sigma_sweep, optima = _sigma_sweeps(config)
    n_sweep = _n_sweep(config, k_n)
    k_sweep = _k_sweep(config, k_k)
    t_closed = time.perf_counter() - t
    for o in optima:
        print(f"a={o['a']}: sigma*(eta) GD {np.round(o['sigma_star'], 4)} "
              f"grid {np.round(o['sigma_star_grid'], 4)}", flush=True)
    return dict(three_way=three_way, sigma_sweep=sigma_sweep, optimum_vs_anisotropy=optima,
                n_sweep=n_sweep, k_sweep=k_sweep,
                timings=dict(three_way_seconds=t_three, closed_form_sweeps_seconds=t_closed))


@_plotting.styled
def _plot(result: dict, out) -> None:
    """``out/gaussian_dsm.png``, 8 inches wide (for the docs), four rows: (a) the three-way check
    (full width); (b) W2 against sigma per eta, (c) sigma*(eta) per anisotropy; (d) W2 against
    n, (e) W2 against sigma at finite n; (f) W2 against K and its legend."""
    fig, axd = _plotting.mosaic([["tw", "tw"], ["sig", "opt"], ["n", "nsig"], ["k", "kkey"]], row_height=2.9)
    # (a) three-way
    ax = axd["tw"]
    rows = result["three_way"]
    x = np.arange(len(rows))
    ax.plot(x - 0.15, [r["formula_w2"] for r in rows], "k_", ms=14, mew=2, label="kernel formula")
    ax.plot(x, [r["exact_w2"] for r in rows], "o", c="C0", label="exact Bures (matrices)")
    ax.errorbar(x + 0.15, [r["simulated_w2"] for r in rows],
                [2 * _plotting.as_float(r["simulated_w2_se"]) for r in rows], fmt="s", c="C1", ms=4,
                label="ULA chains (fit, debiased) ± 2 SE")
    ax.plot(x + 0.15, [r["simulated_w2_raw"] for r in rows], "x", c="C3", ms=6,
            label="ULA chains, raw fit")
    ax.set_xticks(x)
    ax.set_xticklabels([f"a={r['a']:g}\nn={'∞' if r['num_samples'] is None else r['num_samples']}"
                        f"\nk={r['num_ula_steps']}" + ("" if r["num_dsm_steps"] is None
                                                       else f"\nK={r['num_dsm_steps']}")
                        for r in rows])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylabel("W2 to the data law")
    ax.set_title(f"(a) three-way check (d = {rows[0]['d']}), one setting per column")
    _plotting.make_room(ax, "top", 0.3)  # a band above the points for the legend
    ax.legend(loc="upper center", ncol=2)
    for key, what in (("formula_w2", "formula"), ("exact_w2", "exact"), ("simulated_w2", "simulated")):
        _plotting.mark_nonfinite(ax, x, [r[key] for r in rows], what=what)
    # (b) W2 vs sigma, one exponent
    ax = axd["sig"]
    sweep_a = result["n_sweep"]["a"]
    curve = next(c for c in result["sigma_sweep"]["curves"] if c["a"] == sweep_a)
    opt = next(o for o in result["optimum_vs_anisotropy"] if o["a"] == sweep_a)
    for j, eta in enumerate(curve["etas"]):
        w = np.asarray([_plotting.as_float(v) for v in curve["w2"][j]])
        ax.loglog(curve["sigmas"], w, c=f"C{j}", label=f"η = {eta:g}")
        ax.plot(opt["sigma_star"][j], opt["w2_star"][j], "o", c=f"C{j}", mfc="none", ms=7)
    ax.set_xlabel("DSM noise σ")
    ax.set_ylabel("W2 (population, stationary)")
    ax.set_title(f"(b) a = {sweep_a:g}: W2(σ); ○ = σ*(η)")
    ax.legend(loc="upper left")
    _plotting.log_ticks(ax, "y")
    # (c) sigma* vs eta per exponent
    ax = axd["opt"]
    for j, o in enumerate(result["optimum_vs_anisotropy"]):
        ax.semilogx(o["etas"], o["sigma_star"], "o-", c=f"C{j}", label=f"a = {o['a']:g}")
        ax.plot(o["etas"], o["sigma_star_grid"], "+", c="k", ms=8)
    etas = np.asarray(result["optimum_vs_anisotropy"][0]["etas"])
    ax.plot(etas, np.sqrt(etas), "k:", label="√η")
    ax.set_xlabel("ULA step η")
    ax.set_ylabel("σ*(η)")
    ax.set_title(f"(c) optimal noise, d = {result['sigma_sweep']['d']}; + = grid")
    _plotting.log_ticks(ax, "x", etas)
    ax.legend(loc="upper left")
    # (d) W2 vs n
    ax = axd["n"]
    ns = result["n_sweep"]
    nvals = [r["num_samples"] for r in ns["rows"]]
    for j, s in enumerate(ns["rows"][0]["sigmas"]):
        rms = np.asarray([r["exact_rms_w2"][j] for r in ns["rows"]], float)
        se = np.asarray([r["exact_w2_sq_se"][j] for r in ns["rows"]], float) / (2 * rms)
        ax.errorbar(nvals, rms, 2 * se, fmt="o", c=f"C{j}", ms=4, label=f"σ = {s:g}")
        ok = [n >= 2 * ns["d"] for n in nvals]
        ax.plot(np.asarray(nvals)[ok],
                np.asarray([r["expected_formula_w2"][j] for r in ns["rows"]], float)[ok],
                "-", c=f"C{j}")
        ax.axhline(ns["population_w2"][j], c=f"C{j}", ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of samples n")
    ax.set_ylabel("W2 (exact, RMS over datasets)")
    ax.set_title(f"(d) vs n (a = {ns['a']:g}, d = {ns['d']}, η = {ns['eta']:g})")
    _plotting.log_ticks(ax, "x", nvals)
    _plotting.log_ticks(ax, "y")
    _plotting.make_room(ax, "bottom", 0.38)
    from matplotlib.lines import Line2D

    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], c="k", ls="-", label="1/n formula (n ≥ 2d)"), Line2D([], [], c="k", ls=":", label="n = ∞")]
    ax.legend(handles=handles, loc="lower left", ncol=3, columnspacing=0.8, handletextpad=0.3)
    # (e) W2 vs sigma at finite n
    ax = axd["nsig"]
    for j, c in enumerate(ns["sigma_curves"]):
        lbl = "n = ∞ (kernel)" if c["num_samples"] is None else f"n = {c['num_samples']}"
        ax.loglog(c["sigmas"], c["rms_w2"], c=f"C{j}", label=lbl)
        ax.plot(c["sigma_star_grid"], c["w2_star_grid"], "v", c=f"C{j}", ms=7)
    ax.set_xlabel("DSM noise σ")
    ax.set_ylabel("W2 (exact, RMS over datasets)")
    ax.set_title(f"(e) finite n moves σ* up (η = {ns['eta']:g}); ▼ = σ*")
    _plotting.log_ticks(ax, "y")
    ax.legend(loc="upper left")
    # (f) W2 vs K, its legend beside it
    ax = axd["k"]
    ks = result["k_sweep"]
    for j, c in enumerate(ks["curves"]):
        ax.loglog(ks["dsm_steps"], c["population_w2"], "o-", c=f"C{j}", ms=4,
                  label=f"γ = {c['gamma']:g}, n = ∞")
        ax.loglog(ks["dsm_steps"], c["empirical_w2"], "s--", c=f"C{j}", ms=4,
                  label=f"γ = {c['gamma']:g}, n = {ks['num_samples']}")
    ax.axhline(ks["minimiser_population_w2"], c="k", ls=":", label="K = ∞, n = ∞")
    ax.axhline(ks["minimiser_empirical_w2"], c="gray", ls=":", label=f"K = ∞, n = {ks['num_samples']}")
    ax.set_xlabel("DSM gradient steps K")
    ax.set_ylabel("W2")
    ax.set_title(f"(f) vs K (σ = {ks['sigma']:g}, η = {ks['eta']:g})")
    _plotting.log_ticks(ax, "x", ks["dsm_steps"])
    _plotting.log_ticks(ax, "y")
    axd["kkey"].axis("off")
    axd["kkey"].legend(*ax.get_legend_handles_labels(), loc="center", ncol=2, title="(f): step size γ, samples n")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _markdown(config: Config, result: dict) -> str:
    rows = result["three_way"]
    table = _output.markdown_table(
        ["a", "n", "σ", "η", "k", "K (γ)", "formula", "exact", "simulated ± SE", "raw fit",
         "fit bias (W2²)", "formula exact?"],
        [[r["a"], "∞" if r["num_samples"] is None else r["num_samples"], r["sigma"], r["eta"],
          r["num_ula_steps"], "∞" if r["num_dsm_steps"] is None
          else f"{r['num_dsm_steps']} ({r['gamma']:g})", f"{r['formula_w2']:.6g}",
          f"{r['exact_w2']:.6g}", f"{r['simulated_w2']:.4g} ± {r['simulated_w2_se']:.2g}",
          f"{r['simulated_w2_raw']:.4g}", f"{r['fit_bias_w2_sq']:.3g}",
          "yes" if r["formula_is_exact"] else "no (1/n)"] for r in rows])
    dec = _output.markdown_table(
        ["setting", "total", "samples", "optimisation", "noise σ", "discretisation η",
         "finite time k"],
        [[i, f"{r['decomposition']['total']:.4g}"]
         + [f"{r['decomposition']['alone'][k]:.3g} / {r['decomposition']['marginal'][k]:.3g}"
            for k in ("finite_samples", "optimisation", "noise_level", "discretisation",
                      "finite_time")] for i, r in enumerate(rows)])
    opt = _output.markdown_table(
        ["a"] + [f"σ*(η={e:g})" for e in config.etas],
        [[o["a"]] + [f"{s:.4g} (grid {g:.3g})" for s, g in zip(o["sigma_star"],
                                                              o["sigma_star_grid"])]
         for o in result["optimum_vs_anisotropy"]])
    ns = result["n_sweep"]
    nstar = ", ".join(f"n={'∞' if c['num_samples'] is None else c['num_samples']}: "
                      f"σ*≈{c['sigma_star_grid']:.3g}" for c in ns["sigma_curves"])
    return (
        f"# Denoising score matching to Langevin, Gaussian setting (paper 2)\n\n"
        f"Closed forms: our derivation (`langevin_jax.gaussian_dsm`, docs/paper2_gaussian_dsm.md).\n\n"
        f"## Three-way check (d = {config.d_sim}, spectrum i^-a in a random basis)\n\n"
        f"Simulated: {config.num_replicates} replicates × {config.num_chains} ULA chains from 0 "
        f"with the learned score; Gaussian fit (mean and covariance) of the final positions, Bures "
        f"W2 to N(0, Σ) in float64. The fit over-estimates W2² by a leading-order bias "
        f"(column 'fit bias', ours: tr C/N + Σ_pq (1+δ_pq) r_p r_q / (2(r_p+r_q)) / (N-1)), "
        f"which 'simulated' subtracts; 'raw fit' is without the correction. SE from the spread "
        f"over replicates. For finite n the formula is the first-order 1/n expansion of E W2² "
        f"(a different quantity from the W2 of the one dataset drawn).\n\n{table}\n"
        f"## Error sources per setting: alone / marginal (W2)\n\n"
        f"alone = W2 with only that source on; marginal = total − W2 with only that source off "
        f"(inf: ULA with the exact score is unstable at that η).\n\n{dec}\n"
        f"## Optimal noise σ*(η), population, stationary, d = {config.d}\n\n"
        f"Gradient descent on the closed form (grid minimum in brackets). σ* = 0 when no "
        f"eigenvalue is below about η.\n\n{opt}\n"
        f"Finite n (a = {ns['a']:g}, η = {ns['eta']:g}, grid): {nstar}.\n"
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """gaussian_dsm's own flag (the three-way settings are dataclasses, not flags).

    Attributes:
      settings: use only the first N three-way settings (default all).
    """

    settings: Annotated[Optional[int], tyro.conf.arg(metavar="N")] = None


def _keep_settings(config: Config, settings: dict) -> Config:
    n = settings["settings"]
    if n is not None and n < 1:
        raise ValueError(f"settings must be >= 1, got {n}")
    return config if n is None else dataclasses.replace(config, settings=tuple(config.settings[:n]))


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, __doc__.splitlines()[0], Config, run, _plot, _markdown, parts=False,
                     settings=Settings, adjust=_keep_settings)


if __name__ == "__main__":
    main()
