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

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _cli, _plotting, _pretrained, _status
from langevin_jax import metrics, nn
from langevin_jax.targets import GaussianMixture, IsotropicGaussian

NAME = "memorization"
STARTS = ("vanilla", "fresh", "train")
TARGETS = ("gaussian", "mixture")


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol; ``None`` fields take the target's default (``d``: 50 / 25, ``width``:
    256 / 512 for the Gaussian / the mixture).

    Attributes:
      target: gaussian (N(ones(d), variance I)) or mixture (1/2 N(-ones, variance I) + 1/2 N(4 ones,
        variance I)).
      d: dimension; unset: 50 for the Gaussian, 25 for the mixture.
      variance: variance per coordinate of the Gaussian (of each mixture component).
      num_train: distinct training points drawn from pi.
      duplicates: copies of each training point in the training set.
      width: hidden width of the MLP denoiser; unset: 256 for the Gaussian, 512 for the mixture.
      depth: hidden layers of the MLP denoiser.
      time_embedding: how the noise level enters the network.
      train_steps: optimiser (Adam) steps.
      learning_rate: Adam's learning rate.
      lr_schedule: constant, or cosine decay to 0 over the training steps.
      batch_size: minibatch size drawn with replacement each step; unset: full batch.
      min_level: lowest noise level trained on (of a linear schedule of 1000).
      max_level: highest noise level trained on.
      level_sampling: per_example (a level per row) or per_batch (one level per step).
      score_level: the noise level whose score -eps(x, level) / sqrt(1 - alphabar) drives ULA.
      step_size: ULA step size h.
      langevin_steps: ULA iterations per chain.
      num_seeds: distinct starting points of the fresh and train starts, each repeated to fill
        the chains.
      chains: chains per start and trial.
      trials: independent trials (mean and spread over them).
      reference_samples: samples of pi for the Sinkhorn references (at least 2 sinkhorn_points).
      sinkhorn_points: chains (and as many reference samples) per Sinkhorn divergence (at most chains).
      blur: Sinkhorn blur (GeomLoss convention, p = 2).
      save_every: record the chains every this many ULA iterations.
      sinkhorn_every: Sinkhorn divergence every this many ULA iterations (a multiple of save_every).
      checkpoint_every: write a training checkpoint every this many optimiser steps.
      chunk_size: optimiser steps per jitted lax.scan (one host round trip each).
      progress_bar: show a training progress bar with the loss on stderr.
    """

    target: str = "gaussian"
    d: Optional[int] = None
    variance: float = 2.0
    num_train: int = 1000
    duplicates: int = 10
    width: Optional[int] = None
    depth: int = 3
    time_embedding: str = "sinusoidal"
    train_steps: int = 150_000
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: Optional[int] = None
    min_level: int = 1
    max_level: int = 100
    level_sampling: str = "per_example"
    score_level: int = 10
    step_size: float = 0.0025
    langevin_steps: int = 1000
    num_seeds: int = 30
    chains: int = 5000
    trials: int = 10
    reference_samples: int = 5000
    sinkhorn_points: int = 500
    blur: float = 0.01
    save_every: int = 50
    sinkhorn_every: int = 100
    checkpoint_every: int = 5000
    chunk_size: int = 500
    progress_bar: bool = True

    def resolved(self) -> "Config":
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        d = self.d if self.d is not None else (50 if self.target == "gaussian" else 25)
        width = self.width if self.width is not None else (256 if self.target == "gaussian" else 512)
        cfg = dataclasses.replace(self, d=d, width=width)
        for name in ("train_steps", "langevin_steps", "chains", "trials", "num_train", "duplicates",
                     "num_seeds", "save_every", "sinkhorn_every", "sinkhorn_points", "reference_samples"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
        if cfg.sinkhorn_every % cfg.save_every or cfg.langevin_steps % cfg.save_every:
            raise ValueError(f"sinkhorn_every={cfg.sinkhorn_every} and langevin_steps={cfg.langevin_steps} "
                             f"must be multiples of save_every={cfg.save_every}")
        if cfg.sinkhorn_points > min(cfg.chains, cfg.reference_samples // 2):
            raise ValueError(f"sinkhorn_points={cfg.sinkhorn_points} must be <= chains={cfg.chains} and <= "
                             f"reference_samples / 2 = {cfg.reference_samples // 2}")
        if cfg.num_seeds > cfg.num_train:
            raise ValueError(f"num_seeds={cfg.num_seeds} must be <= num_train={cfg.num_train}")
        if not (cfg.step_size > 0 and math.isfinite(cfg.step_size)):
            raise ValueError(f"step_size must be positive and finite, got {cfg.step_size}")
        if not (cfg.blur > 0 and math.isfinite(cfg.blur)):
            raise ValueError(f"blur must be positive and finite, got {cfg.blur}")
        if not 1 <= cfg.score_level <= 1000:
            raise ValueError(f"score_level must be in [1, 1000], got {cfg.score_level}")
        return cfg

    @classmethod
    def paper(cls, target: str = "gaussian") -> "Config":
        return cls(target=target)

    @classmethod
    def paper_cpu(cls, target: str = "gaussian") -> "Config":
        """The paper's protocol (network, data, score level, step size, iterations) with fewer
        chains and trials, sized for a CPU: with the shipped pretrained denoisers (seed 0) it
        samples in a few minutes on 2 cores instead of training for hours."""
        return cls(target=target, chains=1500, trials=3)

    @classmethod
    def quick(cls, target: str = "gaussian") -> "Config":
        """CPU-sized (under 10 minutes on 2 cores): fewer distinct points, a smaller network
        and fewer steps with a decaying learning rate; see the docs for the probes."""
        return cls(target=target, d=20 if target == "gaussian" else 10, num_train=200,
                   duplicates=5, width=256, train_steps=4000, learning_rate=2e-3,
                   lr_schedule="cosine", chains=510, trials=5, reference_samples=5000,
                   save_every=50, sinkhorn_every=500, checkpoint_every=1000)


def make_target(config: Config):
    d = config.d
    if config.target == "gaussian":
        return IsotropicGaussian.create(jnp.ones(d), config.variance)
    means = jnp.stack([-jnp.ones(d), 4.0 * jnp.ones(d)])
    return GaussianMixture.create(jnp.array([0.5, 0.5]), means,
                                  jnp.full((2,), config.variance))


def train_config(config: Config, checkpoint: Optional[Path]) -> nn.TrainConfig:
    return nn.TrainConfig(
        model=nn.DenoiserConfig(dim=config.d, width=config.width, depth=config.depth,
                                time_embedding=config.time_embedding),
        num_steps=config.train_steps, learning_rate=config.learning_rate,
        lr_schedule=config.lr_schedule, batch_size=config.batch_size,
        min_level=config.min_level, max_level=config.max_level,
        level_sampling=config.level_sampling, chunk_size=config.chunk_size,
        checkpoint_every=config.checkpoint_every if checkpoint is not None else None,
        checkpoint_path=None if checkpoint is None else str(checkpoint),
        progress_bar=config.progress_bar,
    )


def checkpoint_path(out: Path, config: Config, seed_tag: str, name: str = "denoiser") -> Path:
    """``out/<name>_<hash>.ckpt``, the hash of everything that determines the parameters."""
    fields = dict(train=train_config(config, None).fingerprint(), steps=config.train_steps,
                  target=config.target, d=config.d, variance=config.variance,
                  num_train=config.num_train, duplicates=config.duplicates, seed=seed_tag)
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return Path(out) / f"{name}_{digest}.ckpt"


def starts(key, start: str, train: jax.Array, config: Config, target) -> jax.Array:
    """``[chains, d]`` initial positions: vanilla ``N(0, I)``, or ``num_seeds`` seeds
    (fresh samples of ``pi`` or training samples) each repeated to fill the chains."""
    k_idx, k_new = jax.random.split(key)
    reps = math.ceil(config.chains / config.num_seeds)
    if start == "vanilla":
        return jax.random.normal(k_new, (config.chains, config.d))
    if start == "fresh":
        seeds = target.sample(k_new, config.num_seeds)
    else:
        idx = jax.random.choice(k_idx, train.shape[0], (config.num_seeds,), replace=False)
        seeds = train[idx]
    return jnp.repeat(seeds, reps, axis=0)[: config.chains]


def fit_kl(samples: np.ndarray, target) -> float:
    with jax.enable_x64(True):
        return float(metrics.gaussian_fit_kl(jnp.asarray(samples, jnp.float64),
                                             jnp.asarray(target.mean, jnp.float64),
                                             jnp.asarray(target.covariance, jnp.float64)))


def batched_sinkhorn(xs: np.ndarray, ys: np.ndarray, blur: float):
    """Sinkhorn divergences of ``P`` pairs ``[P, n, d]`` in one compiled call
    (:func:`langevin_jax.metrics.sinkhorn_divergence_batched`: ``lax.map`` on CPU, ``vmap``
    on accelerators)."""
    res = metrics.sinkhorn_divergence_batched(jnp.asarray(xs, jnp.float32), jnp.asarray(ys, jnp.float32),
                                              blur=blur)
    return np.asarray(res.value, np.float64), np.asarray(res.converged)


def nearest_distance(xs: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distance from each row of ``xs`` to its nearest training point (blocked, no loops
    over points)."""
    out = []
    t2 = (train**2).sum(1)
    for block in np.array_split(xs, max(1, xs.shape[0] // 2000)):
        d2 = (block**2).sum(1)[:, None] + t2[None, :] - 2 * block @ train.T
        out.append(np.sqrt(np.maximum(d2.min(1), 0.0)))
    return np.concatenate(out)


def _mean_std(values):
    """Mean and std over trials. ``None``/NaN entries (a Sinkhorn value that did not
    converge, counted separately) are left out; any ``+inf`` (a Gaussian fit of collapsed
    chains) makes the mean ``inf`` (written as ``"inf"`` in the JSON), never dropped."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None, None
    if any(math.isinf(v) for v in vals):
        return float("inf"), None
    return float(np.mean(vals)), float(np.std(vals))


def fmt_pm(mean, std, digits: int = 3) -> str:
    """``mean ± std`` for a table (``n/a`` when missing, ``inf`` when infinite)."""
    if mean is None:
        return "n/a"
    if std is None:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {std:.2g}"


def run(config: Config, key: jax.Array, out: Optional[Path] = None, retrain: bool = False) -> dict:
    """Use the shipped pretrained denoiser (or train one), run ULA from the three starts, measure.

    Args:
      config: a :class:`Config`.
      key: a PRNG key.
      out: folder for the denoiser checkpoint (``None``: no checkpoint).
      retrain: train here even when a shipped denoiser matches ``config`` and the seed
        (:func:`langevin_jax.nn.load_pretrained`; the ``paper`` configurations with seed 0).

    Returns:
      A dict with ``train`` (training summary), ``iterations``, ``sinkhorn_iterations``,
      ``curves`` and ``final`` per start, ``reference`` values and diagnostics.
    """
    config = config.resolved()
    target = make_target(config)
    k_data, k_train, k_ref, k_runs = jax.random.split(key, 4)
    train = target.sample(k_data, config.num_train)
    data = jnp.repeat(train, config.duplicates, axis=0)

    ckpt = None
    if out is not None:
        seed_tag = str(np.asarray(jax.random.key_data(key)).tolist())
        ckpt = checkpoint_path(out, config, seed_tag)
    tcfg = train_config(config, ckpt)
    params, train, history, history_every, train_summary = _pretrained.denoiser(
        NAME, config, key, k_train, train, data, tcfg, retrain=retrain, checkpoint=ckpt)
    _status.status(NAME, f"denoiser ready ({denoiser_status(train_summary)})")
    schedule = tcfg.noise_schedule()
    score_fn = nn.denoiser_score_fn(params, tcfg.model, schedule, config.score_level)

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
    nonfinite = {s: 0 for s in STARTS}
    sk_x, sk_y, sk_where = [], [], []  # pairs for the one batched Sinkhorn call
    floor_pairs = []
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_ref)).sum())
    example = {}
    _status.status(NAME, f"sampling: {config.trials} trials x {len(STARTS)} starts ({', '.join(STARTS)}) x "
                         f"{config.chains} chains, {config.langevin_steps} ULA steps")
    t_sampling = time.perf_counter()
    for trial in range(config.trials):
        t_trial = time.perf_counter()
        k_trial = jax.random.fold_in(k_runs, trial)
        x0 = jnp.concatenate([starts(jax.random.fold_in(k_trial, j), s, train, config, target)
                              for j, s in enumerate(STARTS)])
        # the bar (stderr) only reports the step count: same numbers with --no-progress
        res = lj.run(jax.random.fold_in(k_trial, 99), algorithm, x0, config.langevin_steps,
                     save_every=config.save_every, progress_bar=config.progress_bar)
        traj = np.concatenate([np.asarray(x0, np.float64)[None],
                               np.asarray(res.trajectory, np.float64)])  # [saves + 1, 3 chains, d]
        finite_all = ~np.asarray(res.info.nonfinite)
        ref_perm = rng.permutation(config.reference_samples)
        y_sub = reference[ref_perm[:n_sk]]
        floor_pairs.append((reference[ref_perm[n_sk:2 * n_sk]], y_sub))
        for j, s in enumerate(STARTS):
            sl = slice(j * config.chains, (j + 1) * config.chains)
            chain_traj = traj[:, sl]
            finite = finite_all[sl] & np.all(np.isfinite(chain_traj), axis=(0, 2))
            nonfinite[s] += int((~finite).sum())
            good = chain_traj[:, finite]
            if config.target == "gaussian" and good.shape[1] >= 2:
                kl[s][trial] = [fit_kl(good[i], target) for i in range(len(iterations))]
            near[s].append(float(np.mean(nearest_distance(good[-1], train_np)
                                         < 0.15 * math.sqrt(config.d))))
            if good.shape[1] >= n_sk:
                pick = rng.choice(good.shape[1], n_sk, replace=False)
                for i_sk, i_it in enumerate(sk_idx):
                    sk_x.append(good[i_it, pick])
                    sk_y.append(y_sub)
                    sk_where.append((s, trial, i_sk))
            if trial == 0:
                example[s] = good[-1, :200, :2]
        _status.status(NAME, f"sampling: trial {trial + 1}/{config.trials} done in "
                             f"{time.perf_counter() - t_trial:.1f} s"
                             + (" (incl. compilation)" if trial == 0 else "")
                             + f", {time.perf_counter() - t_sampling:.0f} s so far")
    # one batched Sinkhorn call for every (start, trial, iteration) and the pi-vs-pi floor
    xs = np.stack(sk_x + [p[0] for p in floor_pairs])
    ys = np.stack(sk_y + [p[1] for p in floor_pairs])
    t_sk = time.perf_counter()
    with _status.Phase(NAME, f"Sinkhorn: {xs.shape[0]} divergences of {xs.shape[1]} points"):
        values, converged = batched_sinkhorn(xs, ys, config.blur)
    sk_seconds = time.perf_counter() - t_sk
    sk = {s: np.full((config.trials, len(sk_iters)), np.nan) for s in STARTS}
    for (s, trial, i_sk), v, ok in zip(sk_where, values, converged):
        sk[s][trial, i_sk] = v if ok else np.nan
    floor = values[len(sk_where):]

    curves, final = {}, {}
    for s in STARTS:
        kl_ok = config.target == "gaussian"
        curves[s] = dict(
            kl_mean=np.nanmean(kl[s], 0).tolist() if kl_ok else None,
            kl_std=np.nanstd(kl[s], 0).tolist() if kl_ok else None,
            sinkhorn_mean=np.nanmean(sk[s], 0).tolist(), sinkhorn_std=np.nanstd(sk[s], 0).tolist(),
        )
        sk_mean, sk_std = _mean_std(sk[s][:, -1].tolist())
        kl_mean, kl_std = _mean_std(kl[s][:, -1].tolist()) if kl_ok else (None, None)
        final[s] = dict(sinkhorn_mean=sk_mean, sinkhorn_std=sk_std, kl_mean=kl_mean, kl_std=kl_std,
                        near_train_fraction=float(np.mean(near[s])), nonfinite_chains=nonfinite[s])
    return dict(
        d=config.d, width=config.width, train=train_summary,
        score_error=score_error, score_error_relative=score_error / score_norm,
        iterations=iterations, sinkhorn_iterations=sk_iters, curves=curves, final=final,
        reference=dict(sinkhorn_pi_vs_pi_mean=float(np.mean(floor)),
                       sinkhorn_pi_vs_pi_std=float(np.std(floor)),
                       kl_fit_bias=metrics.gaussian_fit_kl_bias(config.d, config.chains)
                       if config.target == "gaussian" else None),
        sinkhorn_all_converged=bool(np.all(converged)), sinkhorn_pairs=int(len(values)),
        sinkhorn_seconds=sk_seconds, nonfinite_chains_total=int(sum(nonfinite.values())),
        example_final_xy={s: v.tolist() for s, v in example.items()},
        train_xy=train_np[:200, :2].tolist(),
        loss_history_every=history_every * max(1, len(history) // 500),
        loss_history=history[:: max(1, len(history) // 500)].tolist(),
    )


def plot(result: dict, config: Config, path: Path) -> None:
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
    ax.set_title(f"levels {config.min_level}..{config.max_level}", fontsize=8)
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
    fig.suptitle(f"Learned score, {config.target} target, d = {config.d}, width {config.width}, "
                 f"{config.train_steps} training steps on {config.num_train} x {config.duplicates} points",
                 fontsize=9)
    _cli.save_figure(fig, path)


def _reused_note(train_summary: dict) -> str:
    reused = train_summary["reused"] and train_summary.get("source") != "pretrained"
    return " (re-used checkpoint)" if reused else ""


def denoiser_status(train_summary: dict) -> str:
    """Where the denoiser came from, in a few words (for the status line on stderr)."""
    if train_summary.get("source") == "pretrained":
        return f"shipped pretrained {train_summary['pretrained']}"
    if train_summary.get("reused"):
        return f"re-used checkpoint {train_summary.get('checkpoint')}"
    return f"trained here in {train_summary.get('seconds_this_run', 0.0):.0f} s"


def denoiser_source_markdown(train_summary: dict) -> str:
    """One line saying where the denoiser came from (shipped pretrained, or trained here)."""
    if train_summary.get("source") != "pretrained":
        return "Denoiser trained here" + (" (re-used checkpoint).\n\n" if train_summary.get("reused") else ".\n\n")
    p = train_summary["provenance"]
    return (f"Denoiser: the shipped pretrained `{train_summary['pretrained']}` "
            f"(`langevin_jax.nn.load_pretrained`), trained on {p['device']} by `{p['command']}` at "
            f"commit {p['commit']} on {p['date']}; its exact training points are used (the CPU redraws "
            f"them to within {train_summary['max_abs_diff_train_points_vs_redrawn']:.1e}). "
            f"`--retrain` trains from scratch instead.\n\n")


def summary_markdown(payload: dict, config: Config) -> str:
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
        f"Denoiser: MLP {config.depth} x {config.width}, {tr['num_params']:,} parameters, trained "
        f"{tr['steps']} steps on levels {config.min_level}..{config.max_level} "
        f"({config.num_train} points x {config.duplicates}), loss {tr['loss_first']:.3f} -> "
        f"{tr['loss_final']:.3f}{_reused_note(tr)}. Score at level "
        f"{config.score_level}: relative error E|s_hat - s|^2 / E|s|^2 = "
        f"{payload['score_error_relative']:.3g}.\n\n"
        f"ULA h = {config.step_size}, {config.langevin_steps} iterations, {config.chains} chains per "
        f"start ({config.num_seeds} seeds), final values:\n\n{table}\n"
        f"Sinkhorn between two {config.sinkhorn_points}-point samples of pi: "
        f"{ref['sinkhorn_pi_vs_pi_mean']:.4g} ± {ref['sinkhorn_pi_vs_pi_std']:.2g}{bias}. "
        f"All Sinkhorn values converged: {payload['sinkhorn_all_converged']}. "
        f"Elapsed {payload['elapsed_seconds']:.0f} s.\n"
    )


CONFIGS = ("quick", "paper", "paper-cpu")
# fields checked against a fixed set (reverse: experiments.diffusion_vs_langevin's)
CHOICES = dict(target=TARGETS, time_embedding=("sinusoidal", "linear", "none"),
               lr_schedule=("constant", "cosine"), level_sampling=("per_example", "per_batch"),
               reverse=("ddpm", "ddim"))


def add_protocol_args(parser, config_cls=None) -> _cli.ConfigFlags:
    """The flags shared by the learned-score experiments (this one and
    :mod:`experiments.diffusion_vs_langevin`): ``--config``, ``--retrain`` and one flag per field
    of ``config_cls`` (default :class:`Config`; :class:`experiments._cli.ConfigFlags`)."""
    config_cls = config_cls or Config
    parser.add_argument("--config", choices=CONFIGS, default=None,
                        help="paper (the full protocol; default), paper-cpu (the paper's network and "
                        "protocol with fewer chains and trials, minutes on a CPU with the shipped "
                        "pretrained denoiser), or quick (the same as --quick: trains a small network "
                        "from scratch on a CPU, a training demo)")
    parser.add_argument("--retrain", action="store_true",
                        help="train the denoiser here even when a shipped pretrained one matches the "
                        "configuration and seed (paper and paper-cpu, seed 0); resumes from a checkpoint "
                        "in --out")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    flags = _cli.ConfigFlags(
        parser, config_cls, default=config_cls.paper(),
        variants={"--config paper-cpu": config_cls.paper_cpu(), "--quick": config_cls.quick()},
        choices={k: v for k, v in CHOICES.items() if k in fields},
        # step_size and blur: checked by Config.resolved (an error naming the flag and value)
        positive=("variance", "learning_rate"))
    parser.add_argument("--no-progress", dest="progress_bar", action="store_false", default=None,
                        help="the same as --no-progress-bar")
    return flags


def config_from_args(args, flags: _cli.ConfigFlags):
    """``(config name, resolved config)`` from the flags of :func:`add_protocol_args`: the named
    configuration (for ``--target``), the fields given replaced, then checked
    (:meth:`Config.resolved` and the training settings); a bad value is a parser error naming
    the flags and values."""
    parser, config_cls = flags.parser, flags.config_cls
    if args.quick and args.config not in (None, "quick"):
        parser.error(f"--quick contradicts --config {args.config}")
    name = "quick" if args.quick else (args.config or "paper")
    make = {"quick": config_cls.quick, "paper": config_cls.paper, "paper-cpu": config_cls.paper_cpu}[name]

    def validate(config):
        config = config.resolved()
        train_config(config, None)  # the training settings' own checks (levels, batch size, ...)
        return config

    return name, flags.apply(args, make(args.target or "gaussian"), validate)


def main(argv=None) -> dict:
    parser = _cli.base_parser(NAME, "Paper 1, Sections 4/9: learned-score memorisation")
    flags = add_protocol_args(parser)
    args = parser.parse_args(argv)
    name, config = config_from_args(args, flags)
    if args.force:  # recompute: drop this configuration's own checkpoint (and no other file)
        seed_tag = str(np.asarray(jax.random.key_data(jax.random.key(args.seed))).tolist())
        checkpoint_path(args.out, config, seed_tag).unlink(missing_ok=True)
    start = time.perf_counter()
    result = run(config, jax.random.key(args.seed), out=args.out, retrain=args.retrain)
    payload = dict(config=config, config_name=name, seed=args.seed,
                   elapsed_seconds=time.perf_counter() - start, backend=jax.default_backend(),
                   device=str(jax.devices()[0]), **result)
    plot(result, config, args.out / f"{NAME}.png")
    md = summary_markdown(payload, config)
    return _cli.finish(args.out, NAME, payload, md)


if __name__ == "__main__":
    main()
