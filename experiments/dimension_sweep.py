"""Sweeps over dimension under one compilation (``langevin_jax.sweeps``).

(a) Robustness versus ``d`` (Cao et al. 2026): the trap score of Theorem 1
(``|mu| = 7 sqrt(d)``, ``r_in = 4 sqrt(d)``, ``r_out = 5 sqrt(d)``) and the memorising score of
Theorem 7 (``n`` training points, ``r_in = 0.08 sqrt(d)``, ``r_out = 0.16 sqrt(d)``): their
exact score errors fall exponentially with ``d`` while the Gaussian-fit KL of the chains
under them stays large (trap; memorising score from training starts). All dimensions run
in one compiled, padded and masked computation.

(b) The optimal ULA step size versus ``d`` for a finite budget of ``K`` steps on
``N(0, diag(i^-a))`` from ``x_0 = 1``: found by gradient descent on ``log h``, once on the
closed-form ``W2`` and once through simulated chains (reparametrised noise, common random
numbers); the two must agree.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli, _output, _plotting
from langevin_jax import scores, sweeps

NAME = "dimension_sweep"


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol: (a) robustness versus d, (b) the optimal step size versus d.

    Attributes:
      dims: (a) dimensions d, all swept in one compilation.
      chains: (a) chains per score and start.
      steps: (a) ULA iterations per chain.
      step_size: (a) ULA step size h.
      num_train: (a) training points of the memorising score (drawn from N(0, I)).
      num_seeds: (a) distinct starting points of the memorising-score runs, each repeated to
        fill the chains.
      opt_dims: (b) dimensions d, all swept in one compilation.
      spectrum_exponent: (b) the exponent a of the target's variances lambda_i = i^(-a).
      budget: (b) the fixed number K of ULA steps whose final W2 is minimised over h.
      opt_chains: (b) simulated chains of the simulated objective.
      gd_steps: (b) gradient-descent steps on log h.
      gd_lr: (b) initial gradient-descent learning rate on log h (decays by 0.95 a step).
    """

    dims: Sequence[int] = (5, 10, 20, 50, 100)
    chains: int = 1500
    steps: int = 1000
    step_size: float = 0.0025
    num_train: int = 200
    num_seeds: int = 30
    # (b)
    opt_dims: Sequence[int] = (2, 5, 10, 20, 50)
    spectrum_exponent: float = 1.0
    budget: int = 50
    opt_chains: int = 4000
    gd_steps: int = 150
    gd_lr: float = 0.3

    @classmethod
    def quick(cls) -> "Config":
        return cls(dims=(5, 10, 20, 50), chains=900, steps=1000, opt_chains=2000, gd_steps=100)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_counts(self, dims=1, chains=2, steps=1, num_train=1, num_seeds=1, opt_dims=1, budget=1,
                          opt_chains=2, gd_steps=1)
        _cli.check_nonempty(self, "dims", "opt_dims")
        _cli.check_positive(self, "step_size", "gd_lr")
        _cli.check_finite(self, "spectrum_exponent")
        if self.spectrum_exponent < 0:
            raise ValueError(f"spectrum_exponent must be >= 0 (variances i^(-a) <= 1), got {self.spectrum_exponent}")
        if self.num_seeds > self.num_train:
            raise ValueError(f"num_seeds={self.num_seeds} must be <= num_train={self.num_train}")
        # (a) every d at once: chains, training points and their distances [dims, chains, num_train]; step keys
        d = max(self.dims)
        _cli.check_memory(self, ("chains", "num_train", "dims", "steps"),
                          24 * len(self.dims) * (self.chains + self.num_train) * d
                          + 8 * len(self.dims) * self.chains * self.num_train + 8 * self.steps,
                          "(a)'s chains [dims, chains, max(dims)] and training points [num_train, max(dims)]")
        # (b) the shared noise [budget, opt_chains, max(opt_dims)], differentiated through
        _cli.check_memory(self, ("budget", "opt_chains", "opt_dims", "gd_steps"),
                          12 * len(self.opt_dims) * self.budget * self.opt_chains * max(self.opt_dims)
                          + 8 * self.gd_steps,
                          "(b)'s noise and chains [budget, opt_chains, max(opt_dims)]")
        return self


def _robustness(config: Config, key: jax.Array) -> dict:
    dims = list(config.dims)
    d_max = max(dims)
    k_train, k_x0, k_run = jax.random.split(key, 3)
    train_full = jax.random.normal(k_train, (config.num_train, d_max))
    fresh_full = jax.random.normal(k_x0, (config.chains, d_max))

    def per_d(d, mask):
        df = d.astype(jnp.float32)
        sq = jnp.sqrt(df)
        # trap score of Theorem 1, target N(mu, I) with |mu| = 7 sqrt(d)
        mu = 7.0 * mask
        trap = scores.trap_score(mu, 4.0 * sq, 5.0 * sq, 1.0)
        x_trap = sweeps.masked_ula(k_run, trap, config.step_size, fresh_full * mask,
                                   config.steps, mask)
        kl_trap = sweeps.masked_gaussian_fit_kl(x_trap, mu, mask)
        kl_true = sweeps.masked_gaussian_fit_kl(
            sweeps.masked_ula(k_run, lambda x: -(x - mu), config.step_size, fresh_full * mask,
                              config.steps, mask), mu, mask)
        # memorising score of Theorem 7, target N(0, I)
        points = train_full * mask
        memo = scores.memorizing_score(points, 0.08 * sq, 0.16 * sq, 2.0 / 0.08**2, check=False)
        # the paper's protocol: num_seeds starting points, each duplicated
        idx = jnp.arange(config.chains) % config.num_seeds
        x_train = sweeps.masked_ula(k_run, memo, config.step_size, points[idx], config.steps, mask)
        x_fresh = sweeps.masked_ula(k_run, memo, config.step_size, (fresh_full * mask)[idx],
                                    config.steps, mask)
        zero = jnp.zeros(d_max)
        return dict(kl_trap=kl_trap, kl_trap_true_score=kl_true,
                    kl_memo_train=sweeps.masked_gaussian_fit_kl(x_train, zero, mask),
                    kl_memo_fresh=sweeps.masked_gaussian_fit_kl(x_fresh, zero, mask))

    traces = []

    def counted(d, mask):
        traces.append(1)
        return per_d(d, mask)

    start = time.perf_counter()
    out = jax.tree_util.tree_map(np.asarray, sweeps.sweep(counted, dims, d_max))
    elapsed = time.perf_counter() - start
    rows = []
    for j, d in enumerate(dims):
        m = 7.0 * math.sqrt(d)
        train_np = np.asarray(train_full[:, :d], np.float64)
        rows.append(dict(
            d=d,
            trap_score_error_log10=scores.trap_score_error_exact(
                m, d, 4 * math.sqrt(d), 5 * math.sqrt(d)) / math.log(10),
            memo_score_error_log10=scores.memorizing_score_error_exact(
                train_np, 0.08 * math.sqrt(d), 0.16 * math.sqrt(d), 2.0 / 0.08**2) / math.log(10),
            memo_min_pairwise_over_2r_out=scores.general_position(train_np).min_pairwise_distance
            / (0.32 * math.sqrt(d)),
            **{k: float(v[j]) for k, v in out.items()},
        ))
    return dict(rows=rows, num_traces=len(traces), seconds=elapsed)


def _optimal_step(config: Config, key: jax.Array) -> dict:
    dims = list(config.opt_dims)
    d_max = max(dims)
    lam = 1.0 / jnp.arange(1, d_max + 1, dtype=jnp.float32) ** config.spectrum_exponent
    noise = sweeps.prefix_noise(key, config.budget, config.opt_chains, d_max)

    def closed(log_h, mask):
        return sweeps.ula_gaussian_w2_masked(jnp.exp(log_h), lam, mask, config.budget)

    def simulated(log_h, mask):
        lam_p = sweeps.pad_spectrum(lam, mask)
        x0 = jnp.ones((config.opt_chains, d_max)) * mask
        x = sweeps.masked_ula(None, lambda x: -x / lam_p, jnp.exp(log_h), x0, config.budget,
                              mask, noise=noise)
        return sweeps.diag_fit_w2_masked(x, lam, mask)

    def descend(objective, mask):
        # start well inside the stable range h < 2 lambda_min of this d
        lam_min = jnp.min(jnp.where(mask > 0, lam, jnp.inf))
        log_h0 = jnp.log(0.2 * lam_min)
        # descend on log W2 in log h: scale-free, so one learning rate serves every d
        grad = jax.grad(lambda lh, m: jnp.log(objective(lh, m)))

        def step(log_h, k):
            g = grad(log_h, mask)
            lr = config.gd_lr * 0.95**k  # decaying: the simulated valley can be sharp
            return log_h - lr * jnp.clip(g, -1.0, 1.0), objective(log_h, mask)

        log_h, history = jax.lax.scan(step, log_h0, jnp.arange(config.gd_steps))
        return jnp.exp(log_h), objective(log_h, mask), history

    start = time.perf_counter()
    h_c, w_c, hist_c = sweeps.sweep(lambda d, m: descend(closed, m), dims, d_max)
    h_s, w_s, hist_s = sweeps.sweep(lambda d, m: descend(simulated, m), dims, d_max)
    elapsed = time.perf_counter() - start
    # the simulated objective evaluated at the closed-form optimum (and vice versa)
    masks = sweeps.dimension_masks(dims, d_max)
    rows = []
    for j, d in enumerate(dims):
        rows.append(dict(d=d, h_star_closed_form=float(h_c[j]), h_star_simulated=float(h_s[j]),
                         relative_difference=float(abs(h_s[j] - h_c[j]) / h_c[j]),
                         w2_closed_form_at_optimum=float(w_c[j]),
                         w2_simulated_at_optimum=float(w_s[j]),
                         w2_closed_form_at_simulated_optimum=float(
                             closed(jnp.log(h_s[j]), masks[j]))))
    return dict(rows=rows, seconds=elapsed,
                history_closed=np.asarray(hist_c).tolist(),
                history_simulated=np.asarray(hist_s).tolist())


def run(config: Config, key: jax.Array) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    k_a, k_b = jax.random.split(key)
    robustness = _robustness(config, k_a)
    for r in robustness["rows"]:
        print(f"d={r['d']}: trap log10 err {r['trap_score_error_log10']:.1f}, KL trap "
              f"{r['kl_trap']:.3g} (true {r['kl_trap_true_score']:.3g}); memo log10 err "
              f"{r['memo_score_error_log10']:.1f}, KL train {r['kl_memo_train']:.3g} "
              f"fresh {r['kl_memo_fresh']:.3g}", flush=True)
    optimal = _optimal_step(config, k_b)
    for r in optimal["rows"]:
        print(f"d={r['d']}: h* closed {r['h_star_closed_form']:.4g} simulated "
              f"{r['h_star_simulated']:.4g}", flush=True)
    return dict(robustness=robustness, optimal_step=optimal)


@_plotting.styled
def _plot(result, out):
    """``out/dimension_sweep.png``: a 2 x 2 grid, 8 inches wide (for the docs): (a) the score
    errors, (b) the KL of ULA with each score, (c) the optimal step size, all against d; the
    fourth slot holds (b)'s legend."""
    rob = result["robustness"]["rows"]
    opt = result["optimal_step"]["rows"]
    fig, axes = _plotting.subplots(2, 2, row_height=3.1)
    ax_err, ax_kl, ax_h, ax_key = axes.flat
    ds = [r["d"] for r in rob]
    for key, fmt, label in (("trap_score_error_log10", "o-", "trap"), ("memo_score_error_log10", "s-", "memorising")):
        ax_err.plot(*_plotting.finite_points(ds, [r[key] for r in rob]), fmt, label=label)
        _plotting.mark_nonfinite(ax_err, ds, [r[key] for r in rob], what=f"{label} error")
    ax_err.set_ylabel("$\\log_{10}$ score error")
    ax_err.set_title("(a) score error")
    ax_err.legend(loc="lower left")
    series = [("kl_trap", dict(fmt="o-", c="C0"), "trap score"),
              ("kl_trap_true_score", dict(fmt="o--", c="C1"), "true score (trap's target)")]
    for key, look, label in series:
        ax_kl.semilogy(*_plotting.finite_points(ds, [r[key] for r in rob], log=True), look["fmt"], c=look["c"],
                       label=label)
    # the memorising score's starts in their colours of the memorisation figures
    for s in ("train", "fresh"):
        ax_kl.semilogy(*_plotting.finite_points(ds, [r[f"kl_memo_{s}"] for r in rob], log=True),
                       label=f"memorising score, {s} start", **_plotting.START_STYLE[s])
    ax_kl.set_ylabel("Gaussian-fit KL to $\\pi$")
    ax_kl.set_title("(b) KL after ULA")
    _plotting.log_ticks(ax_kl, "y")
    for key in ("kl_trap", "kl_trap_true_score", "kl_memo_train", "kl_memo_fresh"):
        _plotting.mark_nonfinite(ax_kl, ds, [r[key] for r in rob], what=key, log=True)
    od = [r["d"] for r in opt]
    ax_h.loglog(*_plotting.finite_points(od, [r["h_star_closed_form"] for r in opt], log=True), "o-",
                label="closed form")
    # the simulated optimum nearly equals the closed form: a cross drawn over the circle
    ax_h.loglog(*_plotting.finite_points(od, [r["h_star_simulated"] for r in opt], log=True), "x--", ms=8, mew=1.5,
                label="simulated chains")
    ax_h.set_ylabel("optimal step size h*")
    ax_h.set_title("(c) optimal step size")
    # labels at the swept d and at 1-2-5 steps of h*: the default log labels collided
    _plotting.log_ticks(ax_h, "x", od)
    _plotting.log_ticks(ax_h, "y")
    for key in ("h_star_closed_form", "h_star_simulated"):
        _plotting.mark_nonfinite(ax_h, od, [r[key] for r in opt], what=key, log=True)
    ax_h.legend(loc="lower left")
    for ax in (ax_err, ax_kl, ax_h):
        ax.set_xlabel("d")
    ax_key.axis("off")
    ax_key.legend(*ax_kl.get_legend_handles_labels(), loc="center", title="(b): ULA with the")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _markdown(config: Config, result: dict) -> str:
    rob = _output.markdown_table(
        ["d", "log10 err trap", "KL trap", "KL true", "log10 err memo", "KL memo train",
         "KL memo fresh"],
        [[r["d"], f"{r['trap_score_error_log10']:.1f}", f"{r['kl_trap']:.3g}",
          f"{r['kl_trap_true_score']:.3g}", f"{r['memo_score_error_log10']:.1f}",
          f"{r['kl_memo_train']:.3g}", f"{r['kl_memo_fresh']:.3g}"]
         for r in result["robustness"]["rows"]])
    opt = _output.markdown_table(
        ["d", "h* closed form", "h* simulated", "rel. diff", "W2 at h*"],
        [[r["d"], f"{r['h_star_closed_form']:.4g}", f"{r['h_star_simulated']:.4g}",
          f"{r['relative_difference']:.2%}", f"{r['w2_closed_form_at_optimum']:.3g}"]
         for r in result["optimal_step"]["rows"]])
    return (f"# Sweeps over dimension\n\n## (a) Robustness vs d\n\nOne compilation for all d "
            f"({result['robustness']['num_traces']} trace, "
            f"{result['robustness']['seconds']:.1f}s); {config.chains} chains, {config.steps} "
            f"ULA steps of h = {config.step_size}.\n\n{rob}\n## (b) Optimal step size vs d\n\n"
            f"Spectrum i^-{config.spectrum_exponent}, budget {config.budget} steps from x0 = 1; "
            f"gradient descent on log h ({config.gd_steps} steps).\n\n{opt}")


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, "Sweeps over dimension: robustness and optimal step size", Config, run, _plot,
                     _markdown, parts=False)


if __name__ == "__main__":
    main()
