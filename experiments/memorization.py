"""Learned-score memorisation (Cao, Chen, Sridharan & Wu 2026, Sections 4 and 9).

A denoiser MLP ``(x_t, t) -> eps`` is trained on ``num_train`` i.i.d. samples of ``pi``, each
duplicated ``duplicates`` times, with the DDPM epsilon loss on the lowest noise levels only
(``1..100`` of a linear schedule of 1000), full batch, to encourage memorisation. Its score at
level ``score_level``, ``s_hat(x) = -eps_theta(x, 10) / sqrt(1 - alphabar_10)``, drives ULA
(``h = 0.0025``, 1000 iterations) from three starts:

* *vanilla*: ``N(0, I)``;
* *fresh*: ``num_seeds`` fresh samples of ``pi``, each duplicated to fill the chains;
* *train*: ``num_seeds`` random training samples, duplicated.

Per trial: the Gaussian-fit KL to ``pi`` of all chains (Gaussian target only) and the Sinkhorn
divergence (GeomLoss ``p = 2, blur = 0.01``) between ``sinkhorn_points`` chains and as many of
``reference_samples`` fresh samples of ``pi``, along the iterations. Theorem 7 predicts
*train* clearly worse than *fresh*.

Targets (SPEC defaults): ``N(ones(d), 2 I)`` with ``d = 50``; ``1/2 N(-ones, 2 I) + 1/2 N(4 ones,
2 I)`` with ``d = 25``. The trained parameters are saved in ``--out`` (a checkpoint of
:func:`langevin_jax.nn.train_denoiser`) and re-used when the experiment is rerun with the same
configuration and seed (an interrupted training resumes).

``--config quick`` is a CPU-sized variant that still shows the effect; see
``docs/paper1_learned_scores.md`` for how it was found.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _cli, _learned, _plotting, _status
from experiments._learned import (
    STARTS, Config, SinkhornPairs, all_starts, denoiser_source_markdown,
    fit_kl, fmt_pm, mean_std, memorization, memorization_markdown, near_train_fraction, prepare, reference_summary,
    reused_note)
from langevin_jax import diffusion, nn

NAME = "memorization"


def run(config: Config, key: jax.Array, cache: Optional[_cli.PartCache] = None, retrain: bool = False) -> dict:
    """Use the shipped pretrained denoiser (or train one), run ULA from the three starts, measure.

    Args:
      config: a :class:`Config`.
      key: a PRNG key.
      cache: the run's :class:`experiments._cli.PartCache`: the denoiser checkpoint is kept in
        ``cache.out`` (and deleted first when ``cache.fresh``); ``None``: no checkpoint.
      retrain: train here even when a shipped denoiser matches ``config`` and the seed
        (:func:`langevin_jax.nn.load_pretrained`; the ``paper`` configurations with seed 0).

    Returns:
      A dict with ``train`` (training summary), ``iterations``, ``sinkhorn_iterations``,
      ``curves`` and ``final`` per start, ``reference`` values and diagnostics.
    """
    config = config.resolved()
    den = prepare(NAME, config, key, cache, retrain)
    target, train, k_ref, k_runs = den.target, den.train, den.k_ref, den.k_runs
    schedule = den.tcfg.noise_schedule()
    # the network's score at the Langevin level, checked to lie among the levels it was trained on
    score_fn = diffusion.score_at_level(nn.trained_eps_fn(den.params, den.tcfg), schedule, config.score_level)

    # score error E_pi |s_hat - s|^2 (Monte Carlo), relative to E_pi |s|^2
    x_err = target.sample(jax.random.fold_in(k_ref, 1), 5000)
    s_hat, s_true = jax.vmap(score_fn)(x_err), jax.vmap(target.score)(x_err)
    score_error = float(jnp.mean(jnp.sum((s_hat - s_true) ** 2, 1)))
    score_norm = float(jnp.mean(jnp.sum(s_true**2, 1)))

    reference = np.asarray(target.sample(k_ref, config.reference_samples), np.float64)
    algorithm = lj.ula(score_fn, config.step_size)
    iterations = list(range(0, config.langevin_steps + 1, config.save_every))
    sk_iters = list(range(0, config.langevin_steps + 1, config.sinkhorn_every))
    sk_idx = [iterations.index(k) for k in sk_iters]
    train_np = np.asarray(train, np.float64)
    n_sk = config.sinkhorn_points

    kl = {s: np.full((config.trials, len(iterations)), np.nan) for s in STARTS}
    near = {s: [] for s in STARTS}
    finals = {s: [] for s in STARTS}  # per trial, the finite final positions (memorisation report)
    nonfinite = {s: 0 for s in STARTS}
    pairs = SinkhornPairs(reference, n_sk)  # pairs for the one batched Sinkhorn call
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_ref)).sum())
    example = {}
    _status.status(NAME, f"sampling: {config.trials} trials x {len(STARTS)} starts ({', '.join(STARTS)}) x "
                         f"{config.chains} chains, {config.langevin_steps} ULA steps")
    t_sampling = time.perf_counter()
    for trial in range(config.trials):
        t_trial = time.perf_counter()
        k_trial = jax.random.fold_in(k_runs, trial)
        x0 = all_starts(k_trial, train, config, target)
        # the bar (stderr) only reports the step count: same numbers with --no-progress
        res = lj.run(jax.random.fold_in(k_trial, 99), algorithm, x0, config.langevin_steps,
                     save_every=config.save_every, progress_bar=config.progress_bar)
        traj = np.concatenate([np.asarray(x0, np.float64)[None],
                               np.asarray(res.trajectory, np.float64)])  # [saves + 1, 3 chains, d]
        finite_all = ~np.asarray(res.info.nonfinite)
        y_sub = pairs.trial_reference(rng)
        for j, s in enumerate(STARTS):
            sl = slice(j * config.chains, (j + 1) * config.chains)
            chain_traj = traj[:, sl]
            finite = finite_all[sl] & np.all(np.isfinite(chain_traj), axis=(0, 2))
            nonfinite[s] += int((~finite).sum())
            good = chain_traj[:, finite]
            if config.target == "gaussian" and good.shape[1] >= 2:
                kl[s][trial] = [fit_kl(good[i], target) for i in range(len(iterations))]
            near[s].append(near_train_fraction(good[-1], train_np, config.d))
            finals[s].append(good[-1])
            if good.shape[1] >= n_sk:
                pick = rng.choice(good.shape[1], n_sk, replace=False)
                for i_sk, i_it in enumerate(sk_idx):
                    pairs.add(good[i_it, pick], y_sub, (s, trial, i_sk))
            if trial == 0:
                example[s] = good[-1, :200, :2]
        _status.status(NAME, f"sampling: trial {trial + 1}/{config.trials} done in "
                             f"{time.perf_counter() - t_trial:.1f} s"
                             + (" (incl. compilation)" if trial == 0 else "")
                             + f", {time.perf_counter() - t_sampling:.0f} s so far")
    # one batched Sinkhorn call for every (start, trial, iteration) and the pi-vs-pi floor
    values, converged, floor, sk_seconds = pairs.compute(NAME, config.blur)
    sk = {s: np.full((config.trials, len(sk_iters)), np.nan) for s in STARTS}
    for (s, trial, i_sk), v, ok in zip(pairs.where, values, converged):
        sk[s][trial, i_sk] = v if ok else np.nan

    curves, final = {}, {}
    for s in STARTS:
        kl_ok = config.target == "gaussian"
        curves[s] = dict(
            kl_mean=np.nanmean(kl[s], 0).tolist() if kl_ok else None,
            kl_std=np.nanstd(kl[s], 0).tolist() if kl_ok else None,
            sinkhorn_mean=np.nanmean(sk[s], 0).tolist(), sinkhorn_std=np.nanstd(sk[s], 0).tolist(),
        )
        sk_mean, sk_std = mean_std(sk[s][:, -1].tolist())
        kl_mean, kl_std = mean_std(kl[s][:, -1].tolist()) if kl_ok else (None, None)
        final[s] = dict(sinkhorn_mean=sk_mean, sinkhorn_std=sk_std, kl_mean=kl_mean, kl_std=kl_std,
                        near_train_fraction=float(np.mean(near[s])), nonfinite_chains=nonfinite[s])
    with _status.Phase(NAME, "memorisation report"):
        # baseline: the reference draws of pi, never trained on
        mem = memorization(finals, train_np, reference, config.d)
    return dict(
        d=config.d, width=config.training.model.width, train=den.train_summary,
        memorization=mem,
        score_error=score_error, score_error_relative=score_error / score_norm,
        iterations=iterations, sinkhorn_iterations=sk_iters, curves=curves, final=final,
        reference=reference_summary(floor, config),
        sinkhorn_all_converged=bool(np.all(converged)), sinkhorn_pairs=int(len(values)),
        sinkhorn_seconds=sk_seconds, nonfinite_chains_total=int(sum(nonfinite.values())),
        example_final_xy={s: v.tolist() for s, v in example.items()},
        train_xy=train_np[:200, :2].tolist(),
        **den.loss_history(),
    )


def plot(result: dict, out: Path, config: Config) -> None:
    """``out/memorization.png``: the KL (Gaussian target) and Sinkhorn curves per start, the
    training loss and the final chains of trial 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one look per start in every figure (_plotting.START_STYLE); vanilla dashed with hollow
    # markers and drawn on top, so it shows where it coincides with fresh
    style = _plotting.START_STYLE
    has_kl = result["curves"]["train"]["kl_mean"] is not None
    fig, axes = plt.subplots(1, 4 if has_kl else 3, figsize=(17 if has_kl else 13, 3.6))
    ax_iter = list(axes[:2] if has_kl else axes[:1])
    if has_kl:
        its = result["iterations"]
        for s in STARTS:
            m, sd = np.asarray(result["curves"][s]["kl_mean"]), np.asarray(result["curves"][s]["kl_std"])
            axes[0].plot(its, m, label=s, markevery=max(1, len(its) // 10), **style[s])
            axes[0].fill_between(its, m - sd, m + sd, color=style[s]["color"], alpha=0.15, lw=0, zorder=1)
        axes[0].axhline(result["reference"]["kl_fit_bias"], color="k", ls=":", label="fit bias at KL=0")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("Gaussian-fit KL to $\\pi$")
        _plotting.log_ticks(axes[0], "y")
    ax = ax_iter[-1]
    its = np.asarray(result["sinkhorn_iterations"], float)
    dodge = 0.012 * (its[-1] - its[0])  # coinciding error bars side by side, not on top of each other
    for i, s in enumerate(STARTS):
        m, sd = np.asarray(result["curves"][s]["sinkhorn_mean"]), np.asarray(result["curves"][s]["sinkhorn_std"])
        ax.errorbar(its + (i - 1) * dodge, m, sd, capsize=3, label=s, **style[s])
    ax.axhline(result["reference"]["sinkhorn_pi_vs_pi_mean"], color="k", ls=":", label="$\\pi$ vs $\\pi$")
    ax.set_ylabel(f"Sinkhorn divergence (blur {config.blur})")
    for a in ax_iter:
        a.set_xlabel("Langevin iteration")
        a.legend(fontsize=7)
    ax = axes[-2]
    every = result["loss_history_every"]
    hist = np.asarray(result["loss_history"])
    ax.plot(np.arange(len(hist)) * every, hist, lw=0.7)
    ax.set_yscale("log")
    _plotting.log_ticks(ax, "y")
    _plotting.count_ticks(ax, "x")
    ax.set_xlabel("training step")
    ax.set_ylabel("epsilon loss")
    ax.set_title(f"levels {config.training.min_level}..{config.training.max_level}", fontsize=8)
    ax = axes[-1]
    tr = np.asarray(result["train_xy"])
    ax.scatter(tr[:, 0], tr[:, 1], s=25, facecolors="none", edgecolors="k", lw=0.6, label="training pts")
    for s in STARTS:
        xy = np.asarray(result["example_final_xy"][s])
        if xy.size:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, color=style[s]["color"], alpha=0.6, label=f"{s} (final)",
                       zorder=style[s]["zorder"])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("trial 0, final chains (first 2 coords)", fontsize=8)
    ax.legend(fontsize=6, markerscale=2)
    fig.suptitle(f"Learned score, {config.target} target, d = {config.d}, width {config.training.model.width}, "
                 f"{config.training.num_steps} training steps on {config.num_train} x {config.duplicates} points",
                 fontsize=9)
    _cli.save_figure(fig, Path(out) / f"{NAME}.png")


def _markdown(config: Config, payload: dict) -> str:
    res = payload["final"]
    rows = []
    for s in STARTS:
        f = res[s]
        kl = fmt_pm(f["kl_mean"], f["kl_std"])
        skv = fmt_pm(f["sinkhorn_mean"], f["sinkhorn_std"], 4)
        rows.append([s, kl, skv, f"{f['near_train_fraction']:.2f}", f["nonfinite_chains"]])
    table = _cli.markdown_table(
        ["start", f"Gaussian-fit KL (mean ± std, {config.trials} trials)", "Sinkhorn (mean ± std)",
         "fraction within 0.15 sqrt(d) of a training point", "non-finite chains"], rows)
    tr = payload["train"]
    ref = payload["reference"]
    bias = "" if ref["kl_fit_bias"] is None else f", Gaussian-fit KL bias at KL = 0: {ref['kl_fit_bias']:.3g}"
    return (
        f"# Learned-score memorisation ({config.target}, d = {config.d})\n\n"
        f"{denoiser_source_markdown(tr)}"
        f"Denoiser: MLP {config.training.model.depth} x {config.training.model.width}, "
        f"{tr['num_params']:,} parameters, trained {tr['steps']} steps on levels "
        f"{config.training.min_level}..{config.training.max_level} "
        f"({config.num_train} points x {config.duplicates}), loss {tr['loss_first']:.3f} -> "
        f"{tr['loss_final']:.3f}{reused_note(tr)}. Score at level "
        f"{config.score_level}: relative error E|s_hat - s|^2 / E|s|^2 = "
        f"{payload['score_error_relative']:.3g}.\n\n"
        f"ULA h = {config.step_size}, {config.langevin_steps} iterations, {config.chains} chains per "
        f"start ({config.num_seeds} seeds), final values:\n\n{table}\n"
        f"Sinkhorn between two {config.sinkhorn_points}-point samples of pi: "
        f"{ref['sinkhorn_pi_vs_pi_mean']:.4g} ± {ref['sinkhorn_pi_vs_pi_std']:.2g}{bias}. "
        f"All Sinkhorn values converged: {payload['sinkhorn_all_converged']}. "
        f"Elapsed {payload['elapsed_seconds']:.0f} s.\n\n"
        + (memorization_markdown(payload["memorization"], "start") if payload.get("memorization") else "")
    )


def main(argv=None) -> dict:
    return _learned.main(argv, NAME, "Paper 1, Sections 4/9: learned-score memorisation", Config, run, plot,
                         _markdown)


if __name__ == "__main__":
    main()
