"""The contrast of Cao, Chen, Sridharan & Wu (2026), Sections 4 and 9: diffusion vs Langevin.

One denoiser MLP ``(x_t, t) -> eps`` is trained on **all** noise levels (``1..T``) of the same
data as :mod:`experiments.memorization` (``num_train`` samples of ``pi``, duplicated). The
same network is then used two ways:

* (a) a diffusion model: the DDPM reverse process (ancestral sampling over every level, from
  ``N(0, I)``), or DDIM with ``--reverse ddim``;
* (b) Langevin: ULA with the network's low-noise score ``-eps(x, 10) / sqrt(1 - alphabar_10)``,
  ``h = 0.0025``, 1000 iterations, from the vanilla / fresh / train starts of the
  memorisation experiment.

Each output is compared with ``pi`` by the Sinkhorn divergence (GeomLoss ``p = 2, blur =
0.01``, 500 vs 500 points of 5000 reference samples per trial) and, for the Gaussian target, the
Gaussian-fit KL. The paper's argument: the reverse process samples faithfully while Langevin
with a low-noise score is not robust to its error (it depends on where the chains start).

The rest of the score-based family runs on the same network and starting points as DDPM: NCSN's
annealed Langevin over noise levels (Song & Ermon 2019) and predictor-corrector sampling (Song et
al. 2021), and, for the Gaussian target, every sampler also with the exact denoiser (``*_exact``).
Every sampler's output gets the memorisation report (nearest / second-nearest training distance,
copies, the fraction within ``0.15 sqrt(d)`` of a training point) beside held-out draws of ``pi``.

Outputs under ``--out DIR``: ``diffusion_vs_langevin.json`` (``config``, ``elapsed_seconds``,
``methods``: for ``ddpm``, ``langevin_vanilla``, ``langevin_fresh``, ``langevin_train``, ``ncsn``,
``pc`` (and the ``*_exact`` rows) the keys ``sinkhorn_mean``, ``sinkhorn_std``, ``kl_mean``,
``kl_std``, ``near_train_fraction``, ``nonfinite_chains``, ``tv_lower_bound`` and
``tv_lower_bound_detail`` (a certified lower bound on ``TV(Law(X_T), pi)`` from the balls of
``near_train_fraction`` around the training points, :class:`experiments._learned.TrainingBalls`);
``memorization``; ``samplers``: each
network sampler's levels and the network's trained levels), a PNG and a Markdown summary. The
trained parameters are kept as a checkpoint in ``DIR`` and re-used (or resumed) when the
experiment is run again.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import ClassVar, Literal, Optional

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _learned, _output, _plotting, _status
from experiments._learned import (STARTS, TV_CONFIDENCE, Finals, Sampler, SinkhornPairs, TrainingBalls,
                                  denoiser_source_markdown, fit_kl, fmt_pm, load_or_train, mean_std, memorization,
                                  memorization_markdown, reference_summary, reused_note, sample_trials, subsample,
                                  tv_cell, tv_note)
from langevin_jax import _checks, diffusion, metrics

NAME = "diffusion_vs_langevin"
METHODS = ("ddpm", "langevin_vanilla", "langevin_fresh", "langevin_train")
# Gaussian target only: the same samplers driven by the exact denoiser (diffusion.gaussian_eps_fn)
ORACLE_METHODS = ("ddpm_exact", "langevin_exact_vanilla")
# the rest of the score-based family on the same network (and, Gaussian target, the exact denoiser: "<m>_exact")
FAMILY_METHODS = ("ncsn", "pc")
# the network rows of the figure, the reverse samplers first
PLOT_METHODS = ("ddpm", *FAMILY_METHODS, *METHODS[1:])
CHECKPOINT_NAME = "denoiser_all_levels"  # out/<name>_<hash>.ckpt (experiments._learned.checkpoint_path)


@dataclasses.dataclass(frozen=True)
class Config(_learned.Config):
    """The settings of :class:`experiments._learned.Config` (same data, network, Langevin
    protocol and metrics), trained on **every** level by default, plus the reverse sampler:
    ``reverse`` (``"ddpm"`` over all levels, or ``"ddim"`` over ``ddim_steps`` levels).

    Attributes:
      training: how the denoiser is trained (langevin_jax.nn.TrainConfig); unset: the paper's
        network and steps on every level 1..1000, as the reverse process needs. Its model's dim
        is d.
      reverse: the reverse sampler: ddpm (ancestral, over every level) or ddim (over ddim_steps levels).
      ddim_steps: levels visited by the DDIM reverse sampler.
      level_probe: Gaussian target: also run DDPM with the network at low or high levels only (the
        exact denoiser elsewhere) and measure the network's noise error by level.
      ncsn_noise_levels: NCSN (annealed Langevin over noise levels, Song and Ermon 2019): levels from T
        to 1, geometric in sigma (langevin_jax.diffusion.ncsn_levels).
      ncsn_steps_per_level: NCSN's Langevin steps per level (Song and Ermon's T = 100).
      ncsn_epsilon: NCSN's step at the lowest level (Song and Ermon's 2e-5).
      pc_predictor: the predictor of predictor-corrector sampling (Song et al. 2021): reverse_diffusion or ddpm.
      pc_corrector_steps: Langevin corrector steps after each predictor step (0: the predictor alone).
      pc_snr: the corrector's signal-to-noise ratio r (score_sde's 0.16), norms averaged over the chains.
    """

    CHOICES: ClassVar[dict] = dict(_learned.Config.CHOICES, reverse=("ddpm", "ddim"),
                                   pc_predictor=diffusion.predictor_corrector.PREDICTORS)

    reverse: Literal["ddpm", "ddim"] = "ddpm"
    ddim_steps: int = 100
    level_probe: bool = False
    ncsn_noise_levels: int = 10
    ncsn_steps_per_level: int = 100
    ncsn_epsilon: float = 2e-5
    pc_predictor: Literal["reverse_diffusion", "ddpm"] = "reverse_diffusion"
    pc_corrector_steps: int = 1
    pc_snr: float = 0.16

    def resolved(self) -> "Config":
        cfg = super().resolved()
        for name in ("ncsn_noise_levels", "ncsn_steps_per_level", "ddim_steps"):
            _checks.check_int_at_least(name, getattr(cfg, name), 1)
        _checks.check_int_at_least("pc_corrector_steps", cfg.pc_corrector_steps, 0)
        for name in ("ncsn_epsilon", "pc_snr"):
            _checks.check_positive_finite(name, getattr(cfg, name))
        if cfg.ddim_steps > cfg.training.num_levels:
            raise ValueError(f"ddim_steps={cfg.ddim_steps} must be <= the {cfg.training.num_levels} levels")
        return cfg

    def default_training(self, d: int):
        return dataclasses.replace(super().default_training(d), max_level=1000)

    @classmethod
    def quick(cls, target: str = "gaussian") -> "Config":
        """CPU-sized: the data and network of the memorisation quick configuration, trained on
        every level for 3,000 steps; 500 chains, 3 trials."""
        q = _learned.Config.quick(target)
        fields = {f.name: getattr(q, f.name) for f in dataclasses.fields(_learned.Config)}
        fields.update(training=dataclasses.replace(q.training, max_level=1000, num_steps=3000),
                      chains=500, trials=3)
        return cls(**fields).resolved()


def run(config: Config, key: jax.Array, cache: Optional[_output.PartCache] = None, *, seed: Optional[int] = None,
        retrain: bool = False, progress_bar: bool = False, checkpoint_every: int = 5000,
        chunk_size: int = 500) -> dict:
    """Use the shipped pretrained all-level denoiser (or train one), sample both ways, measure.

    ``cache``, ``seed``, ``retrain`` and the run settings as in
    :func:`experiments.memorization.run` (the checkpoint is ``denoiser_all_levels_<hash>.ckpt``
    in ``cache.out``).

    Beside the paper's two samplers, the score-based family runs on the same network: NCSN's
    annealed Langevin over noise levels (``ncsn``) and predictor-corrector sampling (``pc``).
    For the Gaussian target every sampler also runs with the exact (Bayes-optimal) denoiser
    :func:`langevin_jax.diffusion.gaussian_eps_fn` (methods ``ddpm_exact``,
    ``langevin_exact_vanilla``, ``ncsn_exact``, ``pc_exact``): the oracle rows separate the
    sampler's error from the network's.

    Returns a dict with ``train`` (summary), ``methods`` (per method, see the module
    docstring), ``memorization`` (the memorisation report of every method, and of held-out
    draws of ``pi`` as the baseline), ``samplers`` (each network sampler's metadata: the levels
    it evaluates the network at, the levels the network was trained on), ``reference`` (the
    Sinkhorn noise floor between two samples of ``pi`` and the Gaussian-fit KL bias) and
    diagnostics.
    """
    config = config.resolved()
    den = load_or_train(NAME, config, key, seed=seed, retrain=retrain, cache=cache, checkpoint_name=CHECKPOINT_NAME,
                        checkpoint_every=checkpoint_every, progress_bar=progress_bar, chunk_size=chunk_size)
    target, train, k_ref, k_runs = den.target, den.train, den.k_ref, den.k_runs
    schedule = den.tcfg.noise_schedule()
    # the network carries the levels it was trained on: every sampler below checks its own levels
    eps_fn = den.eps_fn
    score_fn = diffusion.score_at_level(eps_fn, schedule, config.score_level)

    def reverse_of(eps):
        if config.reverse == "ddpm":
            return Sampler(diffusion.ddpm_sampler(eps, schedule), schedule.num_levels, start="noise", stream="reverse")
        return Sampler(diffusion.ddim_sampler(eps, schedule, config.ddim_steps), config.ddim_steps, start="noise",
                       stream="reverse")

    ncsn_levels = diffusion.ncsn_levels(schedule, config.ncsn_noise_levels)

    def family_of(eps, suffix=""):
        """The samplers added to the paper's pair, from the reverse sampler's starting points
        and keys (common random numbers across the samplers of a trial)."""
        ncsn = diffusion.ncsn_sampler(eps, schedule, levels=ncsn_levels, steps_per_level=config.ncsn_steps_per_level,
                                      epsilon=config.ncsn_epsilon)
        pc = diffusion.pc_sampler(eps, schedule, predictor=config.pc_predictor,
                                  corrector_steps=config.pc_corrector_steps, snr=config.pc_snr)
        return {f"ncsn{suffix}": Sampler(ncsn, ncsn.metadata["num_steps"], start="noise", stream="reverse"),
                f"pc{suffix}": Sampler(pc, schedule.num_levels, start="noise", stream="reverse")}

    is_gauss = config.target == "gaussian"
    # the order of the runs of a trial (the numbers do not depend on it: each has its own stream)
    samplers = {"ULA": Sampler(lj.ula(score_fn, config.step_size), config.langevin_steps, start="starts",
                               stream="langevin", prefix="langevin_"),
                "ddpm": reverse_of(eps_fn)}
    if is_gauss:  # the oracle: the exact denoiser of pi = N(m, C)
        exact_eps = diffusion.gaussian_eps_fn(schedule, target.mean, target.covariance)
        samplers["ddpm_exact"] = reverse_of(exact_eps)
        samplers["langevin_exact_vanilla"] = Sampler(
            lj.ula(diffusion.score_at_level(exact_eps, schedule, config.score_level), config.step_size),
            config.langevin_steps, start="vanilla", stream="langevin")
    samplers.update(family_of(eps_fn))
    if is_gauss:
        samplers.update(family_of(exact_eps, "_exact"))
    methods_run = METHODS + (ORACLE_METHODS if is_gauss else ())
    family_run = FAMILY_METHODS + (tuple(f"{m}_exact" for m in FAMILY_METHODS) if is_gauss else ())

    reference = np.asarray(target.sample(k_ref, config.reference_samples), np.float64)
    train_np = np.asarray(train, np.float64)
    n_sk = config.sinkhorn_points
    finals = Finals(methods_run + family_run)
    pairs = SinkhornPairs(reference, n_sk)
    t_sample = time.perf_counter()
    _status.status(NAME, f"sampling: {config.trials} trials; per trial ULA from {len(STARTS)} starts x "
                         f"{config.chains} chains ({config.langevin_steps} steps), {config.reverse} "
                         f"({samplers['ddpm'].steps} steps), NCSN ({samplers['ncsn'].steps} steps) and PC "
                         f"({schedule.num_levels} steps)" + (", each also with the exact denoiser" if is_gauss else ""))
    for _, k_trial, outputs in sample_trials(NAME, config, den, samplers, progress_bar=progress_bar):
        y_sub = pairs.trial_reference(k_trial)
        for m in methods_run + family_run:
            good = finals.keep(m, *outputs[m])
            if good.shape[0] >= n_sk:
                pairs.add(good[subsample(k_trial, m, good.shape[0], n_sk)], y_sub, m)
    sample_seconds = time.perf_counter() - t_sample
    values, converged, floor, sk_seconds = pairs.compute(NAME, config.blur)
    sk = {m: [] for m in methods_run + family_run}
    for m, v, ok in zip(pairs.where, values, converged):
        sk[m].append(float(v) if ok else float("nan"))
    methods = {}
    # the certified TV lower bound's set A: the balls of near_train_fraction around the training points
    balls = TrainingBalls.create(target, train_np, config.d)
    for m in methods_run + family_run:
        kls = [fit_kl(g, target) for g in finals.sets[m] if g.shape[0] >= 2] if is_gauss else []
        inside = [balls.mask(g) for g in finals.sets[m]]  # per trial, which finite final chains lie in A
        near = [float(np.mean(mask)) for mask in inside if mask.size > 0]
        sk_mean, sk_std = mean_std(sk[m])
        kl_mean, kl_std = mean_std(kls) if is_gauss else (None, None)
        methods[m] = dict(sinkhorn_mean=sk_mean, sinkhorn_std=sk_std, kl_mean=kl_mean, kl_std=kl_std,
                          sinkhorn_not_converged=int(np.sum(np.isnan(sk[m]))),
                          near_train_fraction=float(np.mean(near)) if near else None,
                          nonfinite_chains=finals.nonfinite[m],
                          # TV(Law(X_T), pi) >= P(X_T in A) - pi(A), from all chains of all trials
                          **balls.tv(inside, finals.nonfinite[m]),
                          coordinate_variance_mean=float(np.mean([np.var(g, axis=0, ddof=1).mean()
                                                                  for g in finals.sets[m] if g.shape[0] >= 2]))
                          if finals.sets[m] else None)
    with _status.Phase(NAME, "memorisation report"):
        # baseline: the reference draws of pi, never trained on
        mem = memorization(finals.sets, train_np, reference, config.d)
    example = {m: finals.sets[m][0][:200, :2].tolist() for m in METHODS + FAMILY_METHODS}
    probe = None
    if config.level_probe and is_gauss:
        with _status.Phase(NAME, f"level probe: {2 * len(PROBE_CUTOFFS)} hybrid DDPM runs"):
            probe = level_probe(config, target, schedule, eps_fn, exact_eps, jax.random.fold_in(k_runs, 1000))
    metadata = {"ddpm": samplers["ddpm"].algorithm.metadata,
                "langevin": dict(score_level=config.score_level, trained_levels=list(eps_fn.levels)),
                **{m: samplers[m].algorithm.metadata for m in FAMILY_METHODS}}
    return dict(
        level_probe=probe,
        d=config.d, width=config.training.model.width, train=den.train_summary, methods=methods,
        memorization=mem, samplers=metadata,
        reverse_steps=samplers["ddpm"].steps,
        reference=reference_summary(floor, config),
        sinkhorn_all_converged=bool(np.all(converged)), sinkhorn_seconds=sk_seconds,
        sampling_seconds=sample_seconds, example_final_xy=example, train_xy=train_np[:200, :2].tolist(),
        **den.loss_history(),
    )


PROBE_CUTOFFS = (10, 100, 300)
PROBE_LEVELS = (1, 10, 50, 100, 200, 400, 700, 1000)


def level_probe(config: Config, target, schedule, eps_fn, exact_eps, key, num_chains: int = 600) -> dict:
    """Where does the network's reverse process go wrong? (Gaussian target.)

    DDPM with hybrid denoisers: the network at levels ``<= L`` and the exact denoiser above,
    and the reverse; plus the network's error ``E|eps_net - eps_exact|^2 / d`` on noised fresh
    samples of ``pi`` at several levels, beside the exact denoiser's own ``E|eps_exact - eps|^2 / d``.
    """
    z0 = jax.random.normal(jax.random.fold_in(key, 0), (num_chains, config.d))
    rows = []
    for low in (True, False):
        for cut in PROBE_CUTOFFS:
            def eps(x, t, cut=cut, low=low):
                use_net = (t <= cut) if low else (t > cut)
                return jnp.where(use_net, eps_fn(x, t), exact_eps(x, t))

            out = lj.run(jax.random.fold_in(key, 1), diffusion.ddpm_sampler(eps, schedule), z0, schedule.num_levels)
            x = np.asarray(out.positions, np.float64)
            rows.append(dict(network_levels=f"<= {cut}" if low else f"> {cut}",
                             coordinate_variance_mean=float(np.var(x, axis=0, ddof=1).mean()),
                             kl=fit_kl(x, target)))
    x0 = target.sample(jax.random.fold_in(key, 2), 2000)
    errors = []
    for t in PROBE_LEVELS:
        noise = jax.random.normal(jax.random.fold_in(key, 10 + t), x0.shape)
        ts = jnp.full((x0.shape[0],), t)
        xt = diffusion.add_noise(schedule, x0, ts, noise)
        e_net, e_exact = jax.vmap(eps_fn)(xt, ts), jax.vmap(exact_eps)(xt, ts)
        errors.append(dict(level=t, network_vs_exact=float(jnp.mean((e_net - e_exact) ** 2)),
                           exact_vs_true_noise=float(jnp.mean((e_exact - noise) ** 2))))
    return dict(num_chains=num_chains, hybrid_ddpm=rows, eps_error_by_level=errors,
                kl_fit_bias=metrics.gaussian_fit_kl_bias(config.d, num_chains))


@_plotting.styled
def plot(result: dict, out: Path, config: Config) -> None:
    """``out/diffusion_vs_langevin.png``, a 2 x 2 grid 8 inches wide (for the docs): Sinkhorn and
    KL per sampler (bars), the outputs of trial 0 and their legend."""
    # the starts keep their colours of the memorisation figures (_plotting.START_STYLE)
    colors = dict(ddpm="tab:purple", ncsn="tab:brown", pc="tab:pink",
                  **{f"langevin_{s}": _plotting.start_color(s) for s in STARTS})
    shown = [m for m in PLOT_METHODS if m in result["methods"]]  # (results of before NCSN and PC have neither)
    name = lambda m: m.replace("langevin_", "ULA\n")  # noqa: E731 - two short lines: the labels never collide
    fig, axd = _plotting.mosaic([["sk", "kl"], ["xy", "key"]], row_height=3.2, extra_height=0.4)
    ax = axd["sk"]
    value = lambda m, k: _plotting.as_float(result["methods"][m][k])  # noqa: E731 (None: NaN)
    ax.bar(range(len(shown)), [np.nan_to_num(value(m, "sinkhorn_mean"), nan=0.0, posinf=0.0) for m in shown],
           yerr=[value(m, "sinkhorn_std") for m in shown], color=[colors[m] for m in shown], capsize=4)
    ax.axhline(_plotting.as_float(result["reference"]["sinkhorn_pi_vs_pi_mean"]), color="k", ls=":", lw=1.2)
    ax.set_xticks(range(len(shown)), [name(m) for m in shown])
    ax.set_ylabel(f"Sinkhorn divergence to $\\pi$ (blur {config.blur:g})")
    ax.set_title("Sinkhorn divergence")
    _plotting.mark_nonfinite(ax, range(len(shown)), [value(m, "sinkhorn_mean") for m in shown], what="Sinkhorn")
    ax = axd["kl"]
    if result["methods"]["ddpm"]["kl_mean"] is not None:
        kls = [value(m, "kl_mean") for m in shown]
        ax.bar(range(len(shown)), [v if np.isfinite(v) and v > 0 else np.nan for v in kls],
               yerr=[value(m, "kl_std") for m in shown], color=[colors[m] for m in shown], capsize=4)
        ax.axhline(_plotting.as_float(result["reference"]["kl_fit_bias"]), color="k", ls=":", lw=1.2)
        ax.set_yscale("log")
        _plotting.log_ticks(ax, "y")
        ax.set_xticks(range(len(shown)), [name(m) for m in shown])
        ax.set_ylabel(r"Gaussian-fit KL to $\pi$")
        ax.set_title("Gaussian-fit KL")
        _plotting.mark_nonfinite(ax, range(len(shown)), kls, what="KL", log=True,
                                 why="(a collapsed fit)")
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "no Gaussian-fit KL\n(mixture target)", ha="center", va="center", transform=ax.transAxes)
    ax = axd["xy"]
    tr = np.asarray(result["train_xy"])
    ax.scatter(tr[:, 0], tr[:, 1], s=25, facecolors="none", edgecolors="k", lw=0.6, label="training points")
    for m in shown:
        xy = np.asarray(result["example_final_xy"][m])
        if xy.size:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, color=colors[m], alpha=0.6, label=m.replace("langevin_", "ULA "),
                       zorder=_plotting.START_STYLE.get(m.removeprefix("langevin_"), {}).get("zorder", 2))
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("trial 0 outputs (first 2 coordinates)")
    # the legends, out of the data: the dotted reference lines of the bar charts, the outputs' colours
    from matplotlib.lines import Line2D

    key = axd["key"]
    key.axis("off")
    dotted = [Line2D([], [], color="k", ls=":", lw=1.2, label=r"$\pi$ vs $\pi$ floor (Sinkhorn)")]
    if result["methods"]["ddpm"]["kl_mean"] is not None:
        dotted.append(Line2D([], [], color="k", ls=":", lw=1.2, label="fit bias at KL = 0 (KL)"))
    key.add_artist(key.legend(handles=dotted, loc="upper center", title="dotted lines (above)"))
    dots = [Line2D([], [], ls="none", marker="o", ms=7, mfc="none", mec="k", label="training points")]
    dots += [Line2D([], [], ls="none", marker="o", ms=5, color=colors[m], label=m.replace("langevin_", "ULA "))
             for m in shown if np.asarray(result["example_final_xy"][m]).size]
    key.legend(handles=dots, loc="lower center", ncol=2, title="outputs (left)")
    _plotting.suptitle(fig, f"One denoiser (levels {config.training.min_level}..{config.training.max_level}): the "
                            f"reverse samplers (DDPM, NCSN, PC) and ULA with its level-{config.score_level} score; "
                            f"{config.target} target, d = {config.d}")
    _output.save_figure(fig, Path(out) / f"{NAME}.png", tight=False)


def _markdown(config: Config, payload: dict) -> str:
    rows = []
    for m in payload["methods"]:
        f = payload["methods"][m]
        kl = fmt_pm(f["kl_mean"], f["kl_std"])
        skv = fmt_pm(f["sinkhorn_mean"], f["sinkhorn_std"], 4)
        near = "n/a" if f["near_train_fraction"] is None else f"{f['near_train_fraction']:.2f}"
        var = "n/a" if f.get("coordinate_variance_mean") is None else f"{f['coordinate_variance_mean']:.3g}"
        rows.append([m, skv, kl, var, near, tv_cell(f), f["nonfinite_chains"], f["sinkhorn_not_converged"]])
    table = _output.markdown_table(
        ["sampler", f"Sinkhorn to pi (mean ± std, {config.trials} trials)", "Gaussian-fit KL",
         f"mean per-coordinate variance (pi: {config.variance:g})",
         "fraction within 0.15 sqrt(d) of a training point", f"TV lower bound ({TV_CONFIDENCE:.0%})",
         "non-finite chains", "Sinkhorn not converged"], rows)
    tr, ref = payload["train"], payload["reference"]
    bias = "" if ref["kl_fit_bias"] is None else f"; Gaussian-fit KL bias at KL = 0: {ref['kl_fit_bias']:.3g}"
    oracle = ""
    if "ddpm_exact" in payload["methods"]:
        oracle = ("Rows `*_exact`: the same samplers driven by the exact denoiser of pi "
                  "(`diffusion.gaussian_eps_fn`), an oracle that separates the sampler's error from "
                  "the network's. ")
    probe_md = ""
    if payload.get("level_probe"):
        pr = payload["level_probe"]
        t1 = _output.markdown_table(["DDPM with the network at levels", "per-coordinate variance (pi: 2)",
                                  f"Gaussian-fit KL (bias {pr['kl_fit_bias']:.2g})"],
                                 [[r["network_levels"], f"{r['coordinate_variance_mean']:.3g}", f"{r['kl']:.3g}"]
                                  for r in pr["hybrid_ddpm"]])
        t2 = _output.markdown_table(["level t", "network vs exact: mean (eps_net - eps_exact)^2",
                                  "exact vs the true noise: mean (eps_exact - eps)^2"],
                                 [[r["level"], f"{r['network_vs_exact']:.3g}", f"{r['exact_vs_true_noise']:.3g}"]
                                  for r in pr["eps_error_by_level"]])
        probe_md = (f"\n## Where the network's reverse process goes wrong (`--level-probe`)\n\n"
                    f"DDPM from the same {pr['num_chains']} starting points with the network at some levels "
                    f"and the exact denoiser at the others:\n\n{t1}\nThe network's noise prediction on noised "
                    f"fresh samples of pi, against the exact denoiser:\n\n{t2}")
    return (
        f"# Diffusion vs Langevin with one denoiser ({config.target}, d = {config.d})\n\n"
        f"{denoiser_source_markdown(tr)}"
        f"MLP {config.training.model.depth} x {config.training.model.width} trained {tr['steps']} steps on "
        f"levels {config.training.min_level}..{config.training.max_level} ({config.num_train} points x "
        f"{config.duplicates}), loss "
        f"{tr['loss_first']:.3f} -> {tr['loss_final']:.3f}{reused_note(tr)}. "
        f"Reverse process: {config.reverse} over {payload['reverse_steps']} steps from N(0, I). Langevin: "
        f"ULA h = {config.step_size}, {config.langevin_steps} iterations with the score at level "
        f"{config.score_level}. NCSN: {len(payload.get('samplers', {}).get('ncsn', {}).get('noise_levels', []))} "
        f"levels x {config.ncsn_steps_per_level} steps, epsilon {config.ncsn_epsilon:g}. PC: {config.pc_predictor} "
        f"predictor + {config.pc_corrector_steps} Langevin corrector step(s), snr {config.pc_snr:g} (norms "
        f"averaged over the chains, as score_sde). {config.chains} chains per sampler.\n\n{table}\n"
        f"Sinkhorn between two {config.sinkhorn_points}-point samples of pi (noise floor): "
        f"{ref['sinkhorn_pi_vs_pi_mean']:.4g} ± {ref['sinkhorn_pi_vs_pi_std']:.2g}{bias}. "
        f"Elapsed {payload['elapsed_seconds']:.0f} s.\n\n"
        f"{tv_note(payload['methods'].values(), 'Theorem 7, for Langevin from the train start')}"
        f"{oracle}Read the Sinkhorn column with the KL and the variance: a "
        f"{config.sinkhorn_points}-point Sinkhorn divergence at blur {config.blur} can fall *below* the "
        f"pi-vs-pi floor for samples more concentrated than pi (smaller variance), so a low value is "
        f"not by itself a sign of a faithful sampler.\n\n"
        + (memorization_markdown(payload["memorization"]) + "\n" if payload.get("memorization") else "")
        + probe_md
    )


def main(argv=None) -> dict:
    return _learned.main(argv, NAME, "Paper 1, Sections 4/9: a diffusion model vs Langevin with its low-noise "
                         "score, one denoiser", Config, run, plot, _markdown)


if __name__ == "__main__":
    main()
