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
*train* clearly worse than *fresh*. At the final iteration, per start: the fraction of chains
within ``0.15 sqrt(d)`` of a training point and a certified lower bound on ``TV(Law(X_T), pi)``
(``tv_lower_bound``, ``tv_lower_bound_detail``): ``P(X_T in A) - pi(A)`` with ``A`` the union of
those balls (:class:`experiments._learned.TrainingBalls`), ``P(X_T in A)`` bounded below at 95%
confidence from all chains of all trials, ``pi(A)`` bounded above by the union bound; paper 1's
Theorem 7 claims ``TV >= 1 - e^{-Omega(d)}`` from the train start.

Targets (SPEC defaults): ``N(ones(d), 2 I)`` with ``d = 50``; ``1/2 N(-ones, 2 I) + 1/2 N(4 ones,
2 I)`` with ``d = 25``. The trained parameters are saved in ``--out`` (a checkpoint of
:func:`langevin_jax.nn.train_denoiser`) and re-used when the experiment is rerun with the same
configuration and seed (an interrupted training resumes).

``--config quick`` is a CPU-sized variant that still shows the effect; see
``docs/paper1_learned_scores.md`` for how it was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _learned, _output, _plotting, _status
from experiments._learned import (
    STARTS, TV_CONFIDENCE, Config, Finals, Sampler, SinkhornPairs, TrainingBalls, denoiser_source_markdown,
    fit_kl, fmt_pm, load_or_train, mean_std, memorization, memorization_markdown, reference_summary, reused_note,
    sample_trials, subsample, tv_cell, tv_note)
from langevin_jax import diffusion

NAME = "memorization"


def run(config: Config, key: jax.Array, cache: Optional[_output.PartCache] = None, *, seed: Optional[int] = None,
        retrain: bool = False, progress_bar: bool = False, checkpoint_every: int = 5000,
        chunk_size: int = 500) -> dict:
    """Use the shipped pretrained denoiser (or train one), run ULA from the three starts, measure.

    Args:
      config: a :class:`Config`.
      key: a PRNG key (``jax.random.key(seed)`` on the command line).
      cache: the run's :class:`experiments._output.PartCache`: the denoiser checkpoint is kept in
        ``cache.out`` (and deleted first when ``cache.fresh``); ``None``: no checkpoint.
      seed: the integer seed ``key`` was made from: a shipped denoiser trained with it (and
        ``config``) is used (:func:`langevin_jax.nn.load_pretrained`; the ``paper``
        configurations with seed 0); ``None``: none is.
      retrain: train here even when a shipped denoiser matches.
      progress_bar, checkpoint_every, chunk_size: run settings (:class:`experiments._learned.Settings`);
        they never change the numbers.

    Returns:
      A dict with ``train`` (training summary), ``iterations``, ``sinkhorn_iterations``,
      ``curves`` and ``final`` per start, ``reference`` values and diagnostics.
    """
    config = config.resolved()
    den = load_or_train(NAME, config, key, seed=seed, retrain=retrain, cache=cache,
                        checkpoint_every=checkpoint_every, progress_bar=progress_bar, chunk_size=chunk_size)
    target, train, k_ref = den.target, den.train, den.k_ref
    # the network's score at the Langevin level, checked to lie among the levels it was trained on
    score_fn = diffusion.score_at_level(den.eps_fn, den.tcfg.noise_schedule(), config.score_level)

    # score error E_pi |s_hat - s|^2 (Monte Carlo), relative to E_pi |s|^2
    x_err = target.sample(jax.random.fold_in(k_ref, 1), 5000)
    s_hat, s_true = jax.vmap(score_fn)(x_err), jax.vmap(target.score)(x_err)
    score_error = float(jnp.mean(jnp.sum((s_hat - s_true) ** 2, 1)))
    score_norm = float(jnp.mean(jnp.sum(s_true**2, 1)))

    reference = np.asarray(target.sample(k_ref, config.reference_samples), np.float64)
    iterations = list(range(0, config.langevin_steps + 1, config.save_every))
    sk_iters = list(range(0, config.langevin_steps + 1, config.sinkhorn_every))
    sk_idx = [iterations.index(k) for k in sk_iters]
    train_np = np.asarray(train, np.float64)
    n_sk = config.sinkhorn_points

    kl = {s: np.full((config.trials, len(iterations)), np.nan) for s in STARTS}
    near = {s: [] for s in STARTS}
    # the certified TV lower bound's set A: the balls of near_train_fraction around the training points
    balls = TrainingBalls.create(target, train_np, config.d)
    inside = {s: [] for s in STARTS}  # per trial, which finite final chains lie in A
    finals = Finals(STARTS)  # per trial, the finite final positions (memorisation report)
    pairs = SinkhornPairs(reference, n_sk)  # pairs for the one batched Sinkhorn call
    example = {}
    _status.status(NAME, f"sampling: {config.trials} trials x {len(STARTS)} starts ({', '.join(STARTS)}) x "
                         f"{config.chains} chains, {config.langevin_steps} ULA steps")
    ula = Sampler(lj.ula(score_fn, config.step_size), config.langevin_steps, start="starts", stream="langevin",
                  save_every=config.save_every)
    for trial, k_trial, outputs in sample_trials(NAME, config, den, {"ULA": ula}, progress_bar=progress_bar):
        y_sub = pairs.trial_reference(k_trial)
        for s in STARTS:
            good = finals.keep(s, *outputs[s])
            if config.target == "gaussian" and good.shape[1] >= 2:
                kl[s][trial] = [fit_kl(good[i], target) for i in range(len(iterations))]
            inside[s].append(balls.mask(good[-1]))
            near[s].append(float(np.mean(inside[s][-1])) if inside[s][-1].size else float("nan"))
            if good.shape[1] >= n_sk:
                pick = subsample(k_trial, s, good.shape[1], n_sk)
                for i_sk, i_it in enumerate(sk_idx):
                    pairs.add(good[i_it, pick], y_sub, (s, trial, i_sk))
            if trial == 0:
                example[s] = good[-1, :200, :2]
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
                        near_train_fraction=float(np.mean(near[s])), nonfinite_chains=finals.nonfinite[s],
                        # TV(Law(X_T), pi) >= P(X_T in A) - pi(A), from all chains of all trials
                        **balls.tv(inside[s], finals.nonfinite[s]))
    with _status.Phase(NAME, "memorisation report"):
        # baseline: the reference draws of pi, never trained on
        mem = memorization(finals.sets, train_np, reference, config.d)
    return dict(
        d=config.d, width=config.training.model.width, train=den.train_summary,
        memorization=mem,
        score_error=score_error, score_error_relative=score_error / score_norm,
        iterations=iterations, sinkhorn_iterations=sk_iters, curves=curves, final=final,
        reference=reference_summary(floor, config),
        sinkhorn_all_converged=bool(np.all(converged)), sinkhorn_pairs=int(len(values)),
        sinkhorn_seconds=sk_seconds, nonfinite_chains_total=int(sum(finals.nonfinite.values())),
        example_final_xy={s: v.tolist() for s, v in example.items()},
        train_xy=train_np[:200, :2].tolist(),
        **den.loss_history(),
    )


@_plotting.styled
def plot(result: dict, out: Path, config: Config) -> None:
    """``out/memorization.png``, 8 inches wide (for the docs), a 2 x 2 grid: the KL (Gaussian
    target) and Sinkhorn curves per start, the training loss and the final chains of trial 0
    (the mixture has no KL: its fourth slot holds the legend)."""
    # one look per start in every figure (_plotting.START_STYLE); vanilla dashed with hollow
    # markers and drawn on top, so it shows where it coincides with fresh
    style = _plotting.START_STYLE
    has_kl = result["curves"]["train"]["kl_mean"] is not None
    layout = [["kl", "sk"], ["loss", "xy"]] if has_kl else [["sk", "loss"], ["xy", "key"]]
    fig, axd = _plotting.mosaic(layout, row_height=3.1, extra_height=0.9 if has_kl else 0.5)
    if has_kl:
        ax = axd["kl"]
        its = result["iterations"]
        for s in STARTS:
            m = np.asarray([_plotting.as_float(v) for v in result["curves"][s]["kl_mean"]])
            sd = np.asarray([_plotting.as_float(v) for v in result["curves"][s]["kl_std"]])
            ax.plot(its, m, label=s, markevery=max(1, len(its) // 10), **style[s])
            ax.fill_between(its, m - sd, m + sd, color=style[s]["color"], alpha=0.15, lw=0, zorder=1)
        ax.set_yscale("log")
        ax.axhline(_plotting.as_float(result["reference"]["kl_fit_bias"]), color="k", ls=":", lw=1.2)
        ax.set_ylabel("Gaussian-fit KL to $\\pi$")
        ax.set_xlabel("Langevin iteration")
        ax.set_title("KL along the chains")
        _plotting.log_ticks(ax, "y")
        # (last: it fixes the y-limits) an infinite KL is marked, not dropped: at iteration 0 the fresh
        # and train chains sit on num_seeds distinct points, too few for a non-singular Gaussian fit
        _plotting.mark_nonfinite_series(
            ax, its, {s: result["curves"][s]["kl_mean"] for s in STARTS}, {s: style[s]["color"] for s in STARTS},
            what="KL", log=True, why=lambda x: (f"at iteration 0: {config.num_seeds} distinct starts\n"
                                                f"< d = {config.d}, a singular fit") if x == 0 else "")
    ax = axd["sk"]
    its = np.asarray(result["sinkhorn_iterations"], float)
    dodge = 0.012 * (its[-1] - its[0])  # coinciding error bars side by side, not on top of each other
    for i, s in enumerate(STARTS):
        m = np.asarray([_plotting.as_float(v) for v in result["curves"][s]["sinkhorn_mean"]])
        sd = np.asarray([_plotting.as_float(v) for v in result["curves"][s]["sinkhorn_std"]])
        ax.errorbar(its + (i - 1) * dodge, m, sd, capsize=3, label=s, **style[s])
    ax.axhline(_plotting.as_float(result["reference"]["sinkhorn_pi_vs_pi_mean"]), color="k", ls=":", lw=1.2)
    ax.set_ylabel(f"Sinkhorn divergence (blur {config.blur:g})")
    ax.set_xlabel("Langevin iteration")
    ax.set_title("Sinkhorn divergence to $\\pi$")
    _plotting.mark_nonfinite_series(ax, its, {s: result["curves"][s]["sinkhorn_mean"] for s in STARTS},
                                    {s: style[s]["color"] for s in STARTS}, what="Sinkhorn",
                                    why="")
    ax = axd["loss"]
    every = result["loss_history_every"]
    hist = np.asarray(result["loss_history"], float)
    ax.plot(np.arange(len(hist)) * every, hist, lw=0.8)
    ax.set_yscale("log")
    _plotting.log_ticks(ax, "y")
    _plotting.step_ticks(ax, "x")
    ax.set_xlabel("training step")
    ax.set_ylabel("epsilon loss")
    ax.set_title(f"training loss (levels {config.training.min_level}..{config.training.max_level})")
    ax = axd["xy"]
    tr = np.asarray(result["train_xy"])
    ax.scatter(tr[:, 0], tr[:, 1], s=25, facecolors="none", edgecolors="k", lw=0.6, label="training points")
    for s in STARTS:
        xy = np.asarray(result["example_final_xy"][s])
        if xy.size:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, color=style[s]["color"], alpha=0.6, label=f"{s} (final)",
                       zorder=style[s]["zorder"])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("trial 0: final chains (dots, by start)\nand training points (○); first 2 coordinates")
    # the starts' legend, once for every panel: above the panels, or in the free slot
    from matplotlib.lines import Line2D

    reference = ("fit bias at KL = 0 (KL),\n$\\pi$ vs $\\pi$ floor (Sinkhorn)" if has_kl
                 else "$\\pi$ vs $\\pi$ floor (Sinkhorn)")
    handles = _plotting.start_handles(STARTS) + [Line2D([], [], color="k", ls=":", lw=1.2, label=reference)]
    if "key" in axd:
        axd["key"].axis("off")
        axd["key"].legend(handles=handles, loc="center", title="start (every panel)")
    else:
        fig.legend(handles=handles, loc="outside lower center", ncol=4, title="start (every panel)")
    _plotting.suptitle(fig, f"Learned score, {config.target} target, d = {config.d}, width "
                            f"{config.training.model.width}, {config.training.num_steps:,} training steps on "
                            f"{config.num_train} x {config.duplicates} points")
    _output.save_figure(fig, Path(out) / f"{NAME}.png", tight=False)


def _markdown(config: Config, payload: dict) -> str:
    res = payload["final"]
    rows = []
    for s in STARTS:
        f = res[s]
        kl = fmt_pm(f["kl_mean"], f["kl_std"])
        skv = fmt_pm(f["sinkhorn_mean"], f["sinkhorn_std"], 4)
        rows.append([s, kl, skv, f"{f['near_train_fraction']:.2f}", tv_cell(f), f["nonfinite_chains"]])
    table = _output.markdown_table(
        ["start", f"Gaussian-fit KL (mean ± std, {config.trials} trials)", "Sinkhorn (mean ± std)",
         "fraction within 0.15 sqrt(d) of a training point", f"TV lower bound ({TV_CONFIDENCE:.0%})",
         "non-finite chains"], rows)
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
        f"{tv_note([res[s] for s in STARTS], 'Theorem 7, from the train start')}"
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
