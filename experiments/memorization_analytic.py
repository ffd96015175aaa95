"""Theorem 7 of Cao et al. (2026) with the analytic memorising score, swept over ``d``.

Target ``N(0, I_d)``; ``n`` training points drawn from it (thinned greedily to general
position where ``d`` is too small for i.i.d. points to be); the memorising score
:func:`langevin_jax.scores.memorizing_score`; ULA with ``h = 0.0025`` for 1000 steps from
three starts: *vanilla* ``N(0, I)``, *fresh* (30 new samples from ``pi``, each duplicated),
*train* (30 training points, each duplicated). Reported per ``d``: the exact score error
(quadrature, in log10) and its Monte Carlo check, and per start the Gaussian-fit KL to
``pi``, the Sinkhorn divergence to ``pi`` (GeomLoss ``p = 2, blur = 0.01``, ``sinkhorn_points``
chains against as many fresh samples of ``pi``; the same for two samples of ``pi`` gives the
noise floor), the fraction of chains still trapped (within ``r_out`` of a training point) and a
certified lower bound on ``TV(Law(X_T), pi)`` (``tv_lower_bound``, ``tv_lower_bound_detail``):
``P(X_T in A) - pi(A)`` with ``A`` the union of the balls ``B(x_i, r_out)`` around the kept
training points (the trapped chains' balls), ``P(X_T in A)`` bounded below at 95% confidence
(Clopper-Pearson) from all chains of all trials, ``pi(A)`` bounded above by the union bound of
exact ball probabilities; Theorem 7 claims ``TV >= 1 - e^{-Omega(d)}`` from the train start.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _cli, _learned, _output, _plotting
from langevin_jax import metrics, scores, theory

NAME = "memorization_analytic"
STARTS = ("vanilla", "fresh", "train")
# the cached rows' version, in their part names: rows of version 2 have the TV lower bounds (parts
# cached by an earlier version lack them and are recomputed, not re-used)
PART_VERSION = 2


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol.

    Attributes:
      dims: dimensions d of the target N(0, I_d), one table row each.
      num_train: training points drawn from pi (before thinning to general position).
      num_seeds: distinct starting points of the fresh and train starts, each repeated to fill
        the chains.
      chains: chains per start and trial.
      steps: ULA iterations per chain.
      step_size: ULA step size h.
      trials: independent trials per start (mean and spread over them).
      r_in_factor: inner radius of the memorising score's bumps, in units of sqrt(d).
      r_out_factor: outer radius of the bumps, in units of sqrt(d); a chain within it of a
        training point counts as trapped.
      score_error_samples: Monte Carlo draws checking the exact score error, per d.
      sinkhorn_points: chains (and as many samples of pi) per Sinkhorn divergence (at most chains).
      blur: Sinkhorn blur (GeomLoss convention, p = 2).
    """

    dims: Sequence[int] = (2, 5, 10, 20, 50, 100)
    num_train: int = 1000
    num_seeds: int = 30
    chains: int = 1500
    steps: int = 1000
    step_size: float = 0.0025
    trials: int = 5
    r_in_factor: float = 0.08
    r_out_factor: float = 0.16
    score_error_samples: int = 20_000
    sinkhorn_points: int = 500
    blur: float = 0.01

    @classmethod
    def quick(cls) -> "Config":
        return cls(dims=(2, 5, 10, 20, 50), trials=2, chains=900, score_error_samples=5000)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_nonempty(self, "dims")
        _cli.check_counts(self, dims=1, num_train=1, num_seeds=1, chains=1, steps=1, trials=1,
                          score_error_samples=2, sinkhorn_points=2)
        _cli.check_positive(self, "step_size", "r_in_factor", "r_out_factor", "blur")
        if min(self.dims) < 2:
            raise ValueError(f"dims must all be >= 2, got {_output.format_value(self.dims)}")
        if self.chains < 2:
            raise ValueError(f"chains must be >= 2, got {self.chains}")
        if self.chains <= max(self.dims) + 1:
            raise ValueError(f"chains={self.chains} must be > max(dims) + 1 = {max(self.dims) + 1} (the Gaussian "
                             "fit needs a non-singular covariance)")
        if self.num_seeds > self.num_train:
            raise ValueError(f"num_seeds={self.num_seeds} must be <= num_train={self.num_train}")
        if not self.r_in_factor < self.r_out_factor:
            raise ValueError(f"r_in_factor={self.r_in_factor} must be < r_out_factor={self.r_out_factor}")
        d = max(self.dims)  # the chains and training points (float32 runs, float64 copies), step keys
        _cli.check_memory(self, ("chains", "num_train", "dims", "steps"),
                          40 * (self.chains + self.num_train) * d + 8 * self.steps,
                          "the chains [chains, d], training points [num_train, d] and step keys [steps]")
        _cli.check_memory(self, ("score_error_samples", "num_train", "dims"),
                          16 * self.score_error_samples * (d + self.num_train),
                          "the Monte Carlo draws [score_error_samples, d] and their distances to the training points")
        return self


def _starts(key, start, train, config, d):
    k_idx, k_fresh = jax.random.split(key)
    reps = math.ceil(config.chains / config.num_seeds)
    if start == "vanilla":
        return jax.random.normal(k_fresh, (config.chains, d))
    if start == "fresh":
        seeds = jax.random.normal(k_fresh, (config.num_seeds, d))
    else:
        idx = jax.random.choice(k_idx, train.shape[0], (config.num_seeds,), replace=False)
        seeds = train[idx]
    return jnp.repeat(seeds, reps, axis=0)[: config.chains]


def run(config: Config, key: jax.Array, cache: _output.PartCache | None = None) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    rows = []
    for i, d in enumerate(config.dims):
        compute = lambda i=i, d=d: _row(config, jax.random.fold_in(key, i), d)  # noqa: E731
        rows.append(cache.get_or_compute(f"d={d}-v{PART_VERSION}", compute) if cache else compute())
        print(f"d={d}: n={rows[-1]['num_train_used']} log10 err={rows[-1]['score_error_log10']:.1f} "
              + " ".join(f"{s}: KL={rows[-1][s]['kl_mean']:.3g} trapped={rows[-1][s]['trapped_mean']:.2f} "
                         f"TV>={rows[-1][s]['tv_lower_bound']:.4g}" for s in STARTS),
              flush=True)
    return dict(rows=rows)


def _row(config: Config, key: jax.Array, d: int) -> dict:
    k_train, k_err, k_runs = jax.random.split(key, 3)
    r_in, r_out = config.r_in_factor * math.sqrt(d), config.r_out_factor * math.sqrt(d)
    raw = np.asarray(jax.random.normal(k_train, (config.num_train, d)), np.float64)
    keep = scores.select_general_position(raw, 2 * r_out)
    train = jnp.asarray(raw[keep], jnp.float32)
    s_hat = scores.memorizing_score(train, r_in, r_out)
    alpha = scores.default_memorizing_alpha(d, r_in)
    log_err = scores.memorizing_score_error_exact(np.asarray(train), r_in, r_out, alpha)
    mc = scores.memorizing_score_error(k_err, train, r_in, r_out, alpha,
                                       config.score_error_samples)
    algorithm = lj.ula(s_hat, config.step_size)
    n_sk = min(config.sinkhorn_points, config.chains)
    k_ref = jax.random.fold_in(k_runs, 12345)
    sk_x, sk_y, sk_where = [], [], []  # every Sinkhorn pair of this d, in one batched call
    per_start = {}
    train64 = np.asarray(train, np.float64)
    # the TV lower bound's set A: the balls B(x_i, r_out) of the trapped fraction around the kept
    # training points; pi(A) = N(0, I)(A) by the union bound of exact ball probabilities, which is
    # exact here: the kept points are pairwise > 2 r_out apart, so the balls are disjoint
    log_pi_a = theory.gaussian_balls_log_probability_bound(train64, r_out, np.zeros(d))
    region = f"union of B(x_i, r_out) over the {train64.shape[0]} kept training points"
    for j, start in enumerate(STARTS):
        kls, trapped, nonfinite, inside, diverged = [], [], 0, [], 0
        for t in range(config.trials):
            k_start, k_run = jax.random.split(jax.random.fold_in(k_runs, 10 * t + j))
            x0 = _starts(k_start, start, train, config, d)
            out = lj.run(k_run, algorithm, x0, config.steps)
            xs = np.asarray(out.positions, np.float64)
            fit = metrics.gaussian_fit_kl_report(xs, np.zeros(d), np.eye(d))
            nonfinite += fit.num_dropped
            kls.append(fit.value)
            finite = np.all(np.isfinite(xs), 1)
            diverged += int(np.count_nonzero(~finite))
            xs = xs[finite]
            inside.append(_learned.near_mask(xs, train64, r_out))  # the trapped chains, as near_fraction
            trapped.append(float(np.mean(inside[-1])) if xs.shape[0] else float("nan"))
            if xs.shape[0] >= n_sk:  # a random subset (chains are grouped by seed)
                pick = np.asarray(jax.random.permutation(jax.random.fold_in(k_ref, 500 + 10 * t + j),
                                                         xs.shape[0]))[:n_sk]
                sk_x.append(xs[pick])
                sk_y.append(np.asarray(jax.random.normal(jax.random.fold_in(k_ref, t), (n_sk, d))))
                sk_where.append(start)
        per_start[start] = dict(
            kl_mean=float(np.mean(kls)), kl_std=float(np.std(kls)),
            trapped_mean=float(np.mean(trapped)), trapped_std=float(np.std(trapped)),
            nonfinite_chains=nonfinite,
            # TV(Law(X_T), pi) >= P(X_T in A) - pi(A), from all chains of all trials (diverged: outside A)
            **_learned.pooled_tv_lower_bound(inside, diverged, log_pi_a, region),
        )
    # noise floor: two independent samples of pi of the same size
    floor_x = [jax.random.normal(jax.random.fold_in(k_ref, 1000 + t), (n_sk, d)) for t in range(config.trials)]
    floor_y = [jax.random.normal(jax.random.fold_in(k_ref, t), (n_sk, d)) for t in range(config.trials)]
    sets = (np.asarray(a, np.float32).reshape(-1, n_sk, d) for a in (sk_x, sk_y, floor_x, floor_y))
    res = metrics.sinkhorn_with_floor(*sets, blur=config.blur)

    def converged_values(r):  # a value that did not converge is not reported (NaN, counted)
        return np.where(np.asarray(r.converged), np.asarray(r.value, np.float64), np.nan)

    values, floor = converged_values(res.divergence), converged_values(res.floor)
    for start in STARTS:
        vals = [v for v, w in zip(values, sk_where) if w == start]
        ok = [v for v in vals if np.isfinite(v)]
        per_start[start].update(sinkhorn_mean=float(np.mean(ok)) if ok else None,
                                sinkhorn_std=float(np.std(ok)) if ok else None,
                                sinkhorn_not_converged=len(vals) - len(ok))
    all_converged = bool(np.all(res.divergence.converged) and np.all(res.floor.converged))
    # the kept points are selected for disjoint balls (what the score needs); whether they also
    # meet Definition 6 (separation 0.4 sqrt(d), norms in [0.5, 2] sqrt(d)) is recorded, not forced
    gp = scores.general_position(train)
    return dict(
        d=d, num_train_used=int(train.shape[0]), r_in=r_in, r_out=r_out, alpha=alpha,
        general_position=dict(min_pairwise_over_sqrt_d=gp.min_pairwise_distance / math.sqrt(d),
                              min_norm_over_sqrt_d=gp.min_norm / math.sqrt(d),
                              max_norm_over_sqrt_d=gp.max_norm / math.sqrt(d),
                              definition_6=gp.definition_6()),
        sinkhorn_pi_vs_pi=float(np.nanmean(floor)), sinkhorn_all_converged=all_converged,
        score_error_log10=log_err / math.log(10),
        score_error_mc_log10=mc.log_value / math.log(10),
        score_error_mc_log10_se=mc.log_std_error / math.log(10),
        fit_kl_bias=metrics.gaussian_fit_kl_bias(d, config.chains),
        **per_start,
    )


@_plotting.styled
def _plot(result: dict, out) -> None:
    """``out/memorization_analytic.png``: a 2 x 2 grid, 8 inches wide (for the docs), against d
    (log scale): (a) KL, (b) fraction trapped, (c) score error, (d) Sinkhorn divergence; one
    legend of the starts below."""
    from matplotlib.lines import Line2D

    rows = result["rows"]
    ds = [r["d"] for r in rows]
    fig, axes = _plotting.subplots(2, 2, row_height=3.0, extra_height=0.7)
    ax_kl, ax_trap, ax_err, ax_sk = axes.flat
    # the starts look the same as in the learned-score figures (_plotting.START_STYLE); vanilla
    # dashed, hollow and on top: it coincides with fresh
    for s in STARTS:
        style = _plotting.START_STYLE[s]
        ax_kl.errorbar(ds, [_plotting.as_float(r[s]["kl_mean"]) for r in rows],
                       [_plotting.as_float(r[s]["kl_std"]) for r in rows], capsize=3, label=s, **style)
        ax_trap.plot(ds, [_plotting.as_float(r[s]["trapped_mean"]) for r in rows], label=s, **style)
        sk_rows = [r for r in rows if r[s].get("sinkhorn_mean") is not None]
        ax_sk.errorbar([r["d"] for r in sk_rows], [_plotting.as_float(r[s]["sinkhorn_mean"]) for r in sk_rows],
                       [_plotting.as_float(r[s]["sinkhorn_std"]) for r in sk_rows], capsize=3, label=s, **style)
    ax_sk.plot(ds, [_plotting.as_float(r.get("sinkhorn_pi_vs_pi")) for r in rows], "k:", lw=1.2)
    ax_sk.set_yscale("log")
    ax_sk.set_ylabel("Sinkhorn divergence to $\\pi$")
    ax_sk.set_title("(d) Sinkhorn divergence (blur 0.01)")
    ax_kl.plot(ds, [r["fit_kl_bias"] for r in rows], "k:", lw=1.2)
    ax_kl.set_yscale("log")
    ax_kl.set_ylabel("Gaussian-fit KL to $\\pi$")
    ax_kl.set_title("(a) KL after ULA")
    ax_trap.set_ylabel("fraction trapped")
    ax_trap.set_title("(b) chains trapped")
    ax_trap.set_ylim(-0.04, 1.04)
    ax_err.plot(*_plotting.finite_points(ds, [r["score_error_log10"] for r in rows]), "o-", c="0.3",
                label="exact (quadrature)")
    mc = [(r["d"], _plotting.as_float(r["score_error_mc_log10"]), _plotting.as_float(r["score_error_mc_log10_se"]))
          for r in rows]
    mc = [m for m in mc if np.isfinite(m[1])]
    ax_err.errorbar([m[0] for m in mc], [m[1] for m in mc], [m[2] for m in mc], fmt="x", ms=8, mew=1.5, c="C1",
                    label="Monte Carlo")
    ax_err.set_ylabel("$\\log_{10} E_\\pi|\\hat s - s|^2$")
    ax_err.set_title("(c) score error")
    ax_err.legend(loc="lower left")
    for ax in axes.flat:
        ax.set_xscale("log")
        _plotting.log_ticks(ax, "x", ds)
        ax.set_xlabel("d")
    for ax in (ax_kl, ax_sk):
        _plotting.log_ticks(ax, "y")
    # last (they fix the y-limits): what cannot be drawn, marked
    colors = {s: _plotting.START_STYLE[s]["color"] for s in STARTS}
    _plotting.mark_nonfinite_series(ax_kl, ds, {s: [r[s]["kl_mean"] for r in rows] for s in STARTS}, colors,
                                    what="KL", log=True)
    _plotting.mark_nonfinite_series(ax_sk, ds, {s: [r[s].get("sinkhorn_mean") for r in rows] for s in STARTS},
                                    colors, what="Sinkhorn", log=True, why="(did not converge)")
    _plotting.mark_nonfinite(ax_err, ds, [r["score_error_log10"] for r in rows], what="exact")
    _plotting.mark_nonfinite(ax_err, ds, [r["score_error_mc_log10"] for r in rows], what="Monte Carlo", color="C1",
                             why="(estimate 0: no draw where $\\hat s \\neq s$)")
    handles = _plotting.start_handles(STARTS) + [
        Line2D([], [], color="k", ls=":", lw=1.2, label="fit bias at KL = 0 (a),\n$\\pi$ vs $\\pi$ floor (d)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, title="start (panels a, b, d)")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _definition_6(row: dict) -> str:
    """'yes', or which of Definition 6's conditions the kept training points miss."""
    gp = row.get("general_position")  # absent in results written before it was recorded
    if gp is None:
        return "n/r"
    missed = ([f"min distance {gp['min_pairwise_over_sqrt_d']:.2f} sqrt(d) < 0.4 sqrt(d)"]
              if gp["min_pairwise_over_sqrt_d"] < 0.4 else [])
    if not 0.5 <= gp["min_norm_over_sqrt_d"] <= gp["max_norm_over_sqrt_d"] <= 2.0:
        missed.append(f"norms in [{gp['min_norm_over_sqrt_d']:.2f}, {gp['max_norm_over_sqrt_d']:.2f}] sqrt(d)")
    return "yes" if gp["definition_6"] else "no: " + "; ".join(missed)


def _log10_pi_a(row: dict) -> str:
    detail = row["train"].get("tv_lower_bound_detail")
    return "n/r" if detail is None else f"{detail['log10_pi_a']:.1f}"


def _markdown(config: Config, result: dict) -> str:
    table = _output.markdown_table(
        ["d", "n used", "Definition 6", "log10 score error", *[f"KL {s}" for s in STARTS],
         *[f"Sinkhorn {s}" for s in STARTS], "Sinkhorn pi vs pi", *[f"trapped {s}" for s in STARTS],
         "TV lower bound " + " / ".join(STARTS), "log10 pi(A)"],
        [[r["d"], r["num_train_used"], _definition_6(r), f"{r['score_error_log10']:.1f}",
          *[f"{r[s]['kl_mean']:.3g}" for s in STARTS],
          *["n/c" if r[s]["sinkhorn_mean"] is None else f"{r[s]['sinkhorn_mean']:.3g}" for s in STARTS],
          f"{r['sinkhorn_pi_vs_pi']:.3g}",
          *[f"{r[s]['trapped_mean']:.2f}" for s in STARTS],
          " / ".join(_learned.tv_cell(r[s]) for s in STARTS), _log10_pi_a(r)] for r in result["rows"]],
    )
    rows = result["rows"]
    tv = ""
    if any(r["train"].get("tv_lower_bound_detail") for r in rows):  # absent in results written before
        detail = next(r["train"]["tv_lower_bound_detail"] for r in rows if r["train"].get("tv_lower_bound_detail"))
        tv = (f"TV lower bound (per start): `TV(Law(X_T), pi) >= P(X_T in A) - pi(A)`, certified at "
              f"{detail['confidence']:.0%} confidence, with A the union of the balls B(x_i, r_out) around the kept "
              f"training points (a chain in A is a trapped one), pi(A) = N(0, I)(A) the sum of the exact ball "
              f"probabilities (the balls are disjoint; column log10 pi(A)), P(X_T in A) bounded below by "
              f"Clopper-Pearson from all chains of all trials (non-finite chains count as outside A); a negative "
              f"value is no evidence. Theorem 7 claims `{_learned.TV_CLAIM}` from the train start.")
    return (f"# Theorem 7: memorising score\n\nh = {config.step_size}, {config.steps} steps, "
            f"{config.chains} chains, {config.trials} trials, r_in = {config.r_in_factor} sqrt(d), "
            f"r_out = {config.r_out_factor} sqrt(d), alpha = 2 d / r_in^2. Sinkhorn: "
            f"{min(config.sinkhorn_points, config.chains)} chains vs as many samples of pi, blur "
            f"{config.blur} (n/c: did not converge, not reported). Definition 6: whether the kept "
            f"training points (selected for pairwise distances > 2 r_out) also have pairwise "
            f"distances >= 0.4 sqrt(d) and norms in [0.5 sqrt(d), 2 sqrt(d)].{' ' + tv if tv else ''}\n\n{table}")


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, "Theorem 7: memorising score, starts vanilla/fresh/train vs d", Config, run,
                     _plot, _markdown)


if __name__ == "__main__":
    main()
