"""The protocol shared by the learned-score experiments, :mod:`experiments.memorization` and
:mod:`experiments.diffusion_vs_langevin` (Cao, Chen, Sridharan & Wu 2026, Sections 4 and 9).

Both draw ``num_train`` samples of the same target ``pi``, use (or train) a denoiser on them
(:mod:`experiments._pretrained`), run ULA with its low-noise score from the same three starts
(vanilla / fresh / train) and compare each sample set with ``pi`` by a Sinkhorn divergence
against a reference sample, beside the pi-vs-pi noise floor. This module holds those pieces,
the :class:`Config` they share, their command-line flags and the formatting of their tables.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import time
from pathlib import Path
from typing import ClassVar, Optional

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli, _pretrained, _status
from langevin_jax import _checks, metrics, nn
from langevin_jax.targets import GaussianMixture, IsotropicGaussian

STARTS = ("vanilla", "fresh", "train")
TARGETS = ("gaussian", "mixture")


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol: the data, the denoiser's training (an embedded
    [`nn.TrainConfig`][langevin_jax.nn.TrainConfig], the library's own), the Langevin runs
    and the metrics. ``None`` fields take the target's default.

    Attributes:
      target: gaussian (N(ones(d), variance I)) or mixture (1/2 N(-ones, variance I) + 1/2 N(4 ones,
        variance I)).
      d: dimension; unset: 50 for the Gaussian, 25 for the mixture.
      variance: variance per coordinate of the Gaussian (of each mixture component).
      num_train: distinct training points drawn from pi.
      duplicates: copies of each training point in the training set.
      training: how the denoiser is trained (langevin_jax.nn.TrainConfig, its network in
        training.model); unset: the paper's (width 256 for the Gaussian, 512 for the mixture,
        150,000 full-batch Adam steps on levels 1..100). Its model's dim is d; its checkpoint
        and progress-bar fields are set by the experiment (checkpoint_every, progress_bar, --out).
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
      checkpoint_every: write a training checkpoint (in --out) every this many optimiser steps.
      progress_bar: show progress bars on stderr (training, with its loss, and sampling).
    """

    #: the allowed values of the fields checked against a set (also the command-line choices)
    CHOICES: ClassVar[dict] = dict(target=TARGETS)
    #: integer fields whose flag allows values below 1 (the harness's default minimum), with theirs
    FLAG_MINIMUM: ClassVar[dict] = {}

    target: str = "gaussian"
    d: Optional[int] = None
    variance: float = 2.0
    num_train: int = 1000
    duplicates: int = 10
    training: Optional[nn.TrainConfig] = None
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
    progress_bar: bool = True

    def default_training(self, d: int) -> nn.TrainConfig:
        """The paper's training for the target in dimension ``d`` (``training`` unset)."""
        width = 256 if self.target == "gaussian" else 512
        return nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=width))

    def resolved(self) -> "Config":
        """The config with its defaults filled in (``d``, ``training``, the model's ``dim``
        set to ``d``), checked: a ``ValueError`` names the field and its value."""
        for name, allowed in self.CHOICES.items():
            _checks.check_choice(name, getattr(self, name), allowed)
        d = self.d if self.d is not None else (50 if self.target == "gaussian" else 25)
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"d must be an integer >= 1, got {d!r}")
        training = self.training if self.training is not None else self.default_training(d)
        if not isinstance(training, nn.TrainConfig):
            raise ValueError(f"training must be a langevin_jax.nn.TrainConfig, got {type(training).__name__}")
        if training.checkpoint_path is not None or training.checkpoint_every is not None or training.progress_bar:
            raise ValueError("training.checkpoint_path, training.checkpoint_every and training.progress_bar "
                             "are set by the experiment (its --out, checkpoint_every and progress_bar), got "
                             f"{training.checkpoint_path!r}, {training.checkpoint_every!r}, "
                             f"{training.progress_bar!r}")
        if training.model.dim != d:
            training = dataclasses.replace(training, model=dataclasses.replace(training.model, dim=d))
        cfg = dataclasses.replace(self, d=d, training=training)
        for name in ("langevin_steps", "chains", "trials", "num_train", "duplicates", "num_seeds",
                     "save_every", "sinkhorn_every", "sinkhorn_points", "reference_samples", "checkpoint_every"):
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
        if not 1 <= cfg.score_level <= training.num_levels:
            raise ValueError(f"score_level must be in [1, {training.num_levels}], got {cfg.score_level}")
        return cfg

    def validate(self) -> "Config":
        """The harness's name for :meth:`resolved` (every experiment's ``Config`` has one)."""
        return self.resolved()

    @classmethod
    def paper(cls, target: str = "gaussian") -> "Config":
        """The paper's protocol (resolved)."""
        return cls(target=target).resolved()

    @classmethod
    def paper_cpu(cls, target: str = "gaussian") -> "Config":
        """The paper's protocol (network, data, score level, step size, iterations) with fewer
        chains and trials, sized for a CPU: with the shipped pretrained denoisers (seed 0) it
        samples in a few minutes on 2 cores instead of training for hours."""
        return cls(target=target, chains=1500, trials=3).resolved()

    @classmethod
    def quick(cls, target: str = "gaussian") -> "Config":
        """CPU-sized (under 10 minutes on 2 cores): fewer distinct points, a smaller network
        and fewer steps with a decaying learning rate; see the docs for the probes."""
        d = 20 if target == "gaussian" else 10
        training = nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=256), num_steps=4000,
                                  learning_rate=2e-3, lr_schedule="cosine")
        return cls(target=target, d=d, num_train=200, duplicates=5, training=training,
                   chains=510, trials=5, reference_samples=5000, save_every=50, sinkhorn_every=500,
                   checkpoint_every=1000).resolved()


def make_target(config: Config):
    d = config.d
    if config.target == "gaussian":
        return IsotropicGaussian.create(jnp.ones(d), config.variance)
    means = jnp.stack([-jnp.ones(d), 4.0 * jnp.ones(d)])
    return GaussianMixture.create(jnp.array([0.5, 0.5]), means,
                                  jnp.full((2,), config.variance))


def train_config(config: Config, checkpoint: Optional[Path]) -> nn.TrainConfig:
    """The resolved config's ``training`` with the experiment's run settings: the checkpoint
    file (``None``: no checkpoint), its cadence and the progress bar."""
    return dataclasses.replace(
        config.training, progress_bar=config.progress_bar,
        checkpoint_every=config.checkpoint_every if checkpoint is not None else None,
        checkpoint_path=None if checkpoint is None else str(checkpoint))


def checkpoint_path(out: Path, config: Config, seed_tag: str, name: str = "denoiser") -> Path:
    """``out/<name>_<hash>.ckpt``, the hash of everything that determines the parameters."""
    fields = dict(train=train_config(config, None).fingerprint(), steps=config.training.num_steps,
                  target=config.target, d=config.d, variance=config.variance,
                  num_train=config.num_train, duplicates=config.duplicates, seed=seed_tag)
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return Path(out) / f"{name}_{digest}.ckpt"


def seed_tag(key: jax.Array) -> str:
    """The run key's data as text (part of :func:`checkpoint_path`'s hash)."""
    return str(np.asarray(jax.random.key_data(key)).tolist())


@dataclasses.dataclass(frozen=True)
class Denoiser:
    """What :func:`prepare` returns: the target, the training points (the shipped file's exact
    ones for a pretrained denoiser), the network, its training settings and summary, and the
    keys left for the reference samples (``k_ref``) and the runs (``k_runs``)."""

    target: object
    train: jax.Array
    params: object
    tcfg: nn.TrainConfig
    history: np.ndarray
    history_every: int
    train_summary: dict
    k_ref: jax.Array
    k_runs: jax.Array

    def loss_history(self) -> dict:
        """``loss_history_every`` and ``loss_history`` (at most ~500 points) for the JSON."""
        history, every = self.history, self.history_every
        return dict(loss_history_every=every * max(1, len(history) // 500),
                    loss_history=history[:: max(1, len(history) // 500)].tolist())


def prepare(name: str, config: Config, key: jax.Array, cache: Optional[_cli.PartCache], retrain: bool,
            checkpoint_name: str = "denoiser") -> Denoiser:
    """Draw the training points of the target, then use the shipped pretrained denoiser that
    matches ``config`` and the seed (or train one, checkpointed in ``cache.out``:
    :func:`experiments._pretrained.denoiser`); a status line says where it came from.

    With ``cache.fresh`` (``--force``) this configuration's own checkpoint is deleted first
    (no other file), so the denoiser is trained afresh; a re-used checkpoint is listed in
    ``cache.reused``. ``cache=None``: no checkpoint."""
    target = make_target(config)
    k_data, k_train, k_ref, k_runs = jax.random.split(key, 4)
    train = target.sample(k_data, config.num_train)
    data = jnp.repeat(train, config.duplicates, axis=0)

    ckpt = None
    if cache is not None:
        ckpt = checkpoint_path(cache.out, config, seed_tag(key), name=checkpoint_name)
        if cache.fresh:
            ckpt.unlink(missing_ok=True)
    tcfg = train_config(config, ckpt)
    params, train, history, history_every, train_summary = _pretrained.denoiser(
        name, config, key, k_train, train, data, tcfg, retrain=retrain, checkpoint=ckpt)
    if cache is not None and train_summary["reused"] and train_summary["source"] != "pretrained":
        cache.reused.append(f"denoiser checkpoint {ckpt.name}")
    _status.status(name, f"denoiser ready ({denoiser_status(train_summary)})")
    return Denoiser(target=target, train=train, params=params, tcfg=tcfg, history=history,
                    history_every=history_every, train_summary=train_summary, k_ref=k_ref, k_runs=k_runs)


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


def all_starts(key, train: jax.Array, config: Config, target) -> jax.Array:
    """``[len(STARTS) * chains, d]``: the :func:`starts` of every start, in the order of ``STARTS``."""
    return jnp.concatenate([starts(jax.random.fold_in(key, j), s, train, config, target)
                            for j, s in enumerate(STARTS)])


def fit_kl(samples: np.ndarray, target) -> float:
    """The Gaussian-fit KL of finite chains to the Gaussian ``target``
    ([`langevin_jax.metrics.gaussian_fit_kl_report`][langevin_jax.metrics.gaussian_fit_kl_report])."""
    return metrics.gaussian_fit_kl_report(samples, target.mean, target.covariance).value


@dataclasses.dataclass
class SinkhornPairs:
    """The Sinkhorn divergences of a run, gathered over its trials for one batched call: each
    sample set against ``points`` of the ``reference`` samples of ``pi``, and per trial the
    pi-vs-pi noise floor (another, disjoint ``points`` of them against the same ones)."""

    reference: np.ndarray
    points: int
    xs: list = dataclasses.field(default_factory=list)
    ys: list = dataclasses.field(default_factory=list)
    where: list = dataclasses.field(default_factory=list)
    floor_pairs: list = dataclasses.field(default_factory=list)

    def trial_reference(self, rng: np.random.Generator) -> np.ndarray:
        """A trial's ``points`` reference samples (its floor pair recorded)."""
        perm = rng.permutation(self.reference.shape[0])
        y_sub = self.reference[perm[: self.points]]
        self.floor_pairs.append((self.reference[perm[self.points: 2 * self.points]], y_sub))
        return y_sub

    def add(self, x: np.ndarray, y: np.ndarray, where) -> None:
        """One pair; ``where`` labels its value in :meth:`compute`'s result."""
        self.xs.append(x)
        self.ys.append(y)
        self.where.append(where)

    def compute(self, name: str, blur: float):
        """``(values, converged, floor, seconds)``: every pair's value and convergence (the
        pairs of :meth:`add` in order, then the floor pairs), the floor values, the time
        (one call of :func:`langevin_jax.metrics.sinkhorn_with_floor`)."""
        t_sk = time.perf_counter()
        shape = (-1, self.points, self.reference.shape[1])  # [pairs, points, d], also for no pairs

        def f32(arrays):
            return np.asarray(arrays, np.float32).reshape(shape)

        with _status.Phase(name, f"Sinkhorn: {len(self.xs) + len(self.floor_pairs)} divergences of "
                                 f"{self.points} points"):
            res = metrics.sinkhorn_with_floor(f32(self.xs), f32(self.ys), f32([p[0] for p in self.floor_pairs]),
                                              f32([p[1] for p in self.floor_pairs]), blur=blur)
        values = np.concatenate([np.asarray(res.divergence.value, np.float64), np.asarray(res.floor.value, np.float64)])
        converged = np.concatenate([np.asarray(res.divergence.converged), np.asarray(res.floor.converged)])
        return values, converged, np.asarray(res.floor.value, np.float64), time.perf_counter() - t_sk


def reference_summary(floor: np.ndarray, config: Config) -> dict:
    """The ``reference`` entry of the JSON: the pi-vs-pi Sinkhorn floor and, for the Gaussian
    target, the Gaussian-fit KL bias of ``chains`` exact samples."""
    return dict(sinkhorn_pi_vs_pi_mean=float(np.mean(floor)), sinkhorn_pi_vs_pi_std=float(np.std(floor)),
                kl_fit_bias=metrics.gaussian_fit_kl_bias(config.d, config.chains)
                if config.target == "gaussian" else None)


def near_fraction(xs: np.ndarray, points: np.ndarray, radius: float) -> float:
    """The fraction of the rows of ``xs`` within ``radius`` of a row of ``points``
    ([`langevin_jax.metrics.nearest_distance`][langevin_jax.metrics.nearest_distance] in
    float64); NaN for no rows (every chain diverged)."""
    if xs.shape[0] == 0:
        return float("nan")
    with jax.enable_x64(True):
        dist = metrics.nearest_distance(jnp.asarray(xs, jnp.float64), jnp.asarray(points, jnp.float64))
    return float(np.mean(np.asarray(dist) < radius))


def near_train_fraction(xs: np.ndarray, train: np.ndarray, d: int) -> float:
    """The fraction of the rows of ``xs`` within ``0.15 sqrt(d)`` of a training point."""
    return near_fraction(xs, train, trap_radius(d))


def trap_radius(d: int) -> float:
    """The radius of "near a training point" of these experiments, ``0.15 sqrt(d)``."""
    return 0.15 * math.sqrt(d)


def memorization(finals: dict, train: np.ndarray, heldout: np.ndarray, d: int) -> dict:
    """The memorisation report of every method (``langevin_jax.metrics.memorization_report``
    against the distinct training points, radius :func:`trap_radius`),
    each trial's numbers summarised as mean and std over trials, and the baseline: the same
    numbers for ``heldout``, fresh draws of pi that were not trained on.

    Args:
      finals: ``{method: [per-trial final positions [n, d]]}`` (finite chains only).
      train: ``[m, d]`` the distinct training points; heldout: ``[k, d]``; d: the dimension.

    Returns:
      ``{"copy_ratio", "radius", "baseline": {...}, "methods": {method: {copy_fraction_mean,
      copy_fraction_std, within_radius_fraction_mean, ..., nearest_distance_median_mean, ...,
      ratio_median_mean, ...}}}`` (``None`` for a method without finite chains).
    """
    radius = trap_radius(d)
    fields = ("copy_fraction", "within_radius_fraction", "copy_distance_median", "nearest_distance_median",
              "ratio_median")
    with jax.enable_x64(True):  # float64, as near_fraction: the radius fraction is its number
        t64 = jnp.asarray(train, jnp.float64)

        def report(x):
            full = metrics.memorization_report(jnp.asarray(x, jnp.float64), t64, radius=radius)
            out = full.summary()
            # the nearest distances are bimodal (copies and the rest): where about half are copies
            # their overall median jumps between the modes, the copies' own median does not
            copies = np.asarray(full.per_sample.is_copy)
            out["copy_distance_median"] = (float(np.median(np.asarray(full.per_sample.nearest_distance)[copies]))
                                           if copies.any() else None)
            return out

        baseline = report(heldout)
        methods = {}
        for m, sets in finals.items():
            reps = [report(x) for x in sets if x.shape[0] > 0]
            if not reps:
                methods[m] = None
                continue
            entry = {}
            for f in fields:
                entry[f"{f}_mean"], entry[f"{f}_std"] = mean_std([r[f] for r in reps])
            methods[m] = entry
    return dict(copy_ratio=1 / 3, radius=radius, baseline={f: baseline[f] for f in fields} | dict(
        num_samples=baseline["num_samples"], copy_fraction_se=baseline["copy_fraction_se"]), methods=methods)


def memorization_markdown(mem: dict, label: str = "sampler") -> str:
    """The memorisation table of :func:`memorization`'s result."""
    rows = []
    for m, e in mem["methods"].items():
        if e is None:
            rows.append([m, "n/a", "n/a", "n/a", "n/a"])  # no finite chain
            continue
        copy_dist = e["copy_distance_median_mean"]
        rows.append([m, fmt_pm(e["copy_fraction_mean"], e["copy_fraction_std"], 3),
                     fmt_pm(e["within_radius_fraction_mean"], e["within_radius_fraction_std"], 3),
                     "n/a" if copy_dist is None else f"{copy_dist:.3g}", f"{e['nearest_distance_median_mean']:.3g}"])
    b = mem["baseline"]
    rows.append([f"held-out draws of pi ({b['num_samples']}, baseline)", f"{b['copy_fraction']:.3f}",
                 f"{b['within_radius_fraction']:.3f}",
                 "n/a" if b["copy_distance_median"] is None else f"{b['copy_distance_median']:.3g}",
                 f"{b['nearest_distance_median']:.3g}"])
    table = _cli.markdown_table(
        [label, "copies: nearest / second-nearest training distance < 1/3 (mean ± std over trials)",
         f"within {mem['radius']:.3g} (0.15 sqrt(d)) of a training point",
         "copies: median distance to their training point", "all: median nearest training distance"], rows)
    return ("Memorisation report (`metrics.memorization_report` against the distinct training points; the "
            "copy criterion of Yoon et al. 2023 and Gu et al. 2023):\n\n" + table)


def mean_std(values):
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


def reused_note(train_summary: dict) -> str:
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


CONFIGS = ("quick", "paper", "paper-cpu")
# the embedded training config's fields without a flag, and why
TRAINING_SKIP = {
    "training.model.dim": "the dimension d, --d",
    "training.num_levels": "1000, the levels the protocol's level numbers count in",
    "training.model.num_levels": "the same as training.num_levels",
    "training.checkpoint_every": "set from --checkpoint-every",
    "training.checkpoint_path": "a file in --out named by the configuration's hash",
    "training.progress_bar": "set from --progress-bar",
}


def add_protocol_args(parser, config_cls=None) -> _cli.ConfigFlags:
    """The flags shared by the learned-score experiments (:mod:`experiments.memorization` and
    :mod:`experiments.diffusion_vs_langevin`): ``--config``, ``--retrain`` and one flag per field
    of ``config_cls`` (default :class:`Config`; :class:`experiments._cli.ConfigFlags`), the
    embedded training config's fields included (``--train-steps``, ``--learning-rate``,
    ``--width``, ...)."""
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
    flags = _cli.ConfigFlags(
        parser, config_cls, default=config_cls.paper(),
        variants={"--config paper-cpu": config_cls.paper_cpu(), "--quick": config_cls.quick()},
        expand=("training", "training.model"), skip=TRAINING_SKIP,
        names={"training.num_steps": "--train-steps"}, minimum=config_cls.FLAG_MINIMUM,
        # step_size and blur: checked by Config.resolved (an error naming the flag and value)
        positive=("variance", "training.learning_rate", "training.beta_min", "training.beta_max",
                  "training.grad_clip"))
    parser.add_argument("--no-progress", dest="progress_bar", action="store_false", default=None,
                        help="the same as --no-progress-bar")
    return flags


def config_from_args(args, flags: _cli.ConfigFlags):
    """``(config name, resolved config)`` from the flags of :func:`add_protocol_args`: the named
    configuration (for ``--target``), the fields given replaced, then checked
    (:meth:`Config.resolved` and the training settings' own checks); a bad value is a parser
    error naming the flags and values."""
    parser, config_cls = flags.parser, flags.config_cls
    if args.quick and args.config not in (None, "quick"):
        parser.error(f"--quick contradicts --config {args.config}")
    name = "quick" if args.quick else (args.config or "paper")
    make = {"quick": config_cls.quick, "paper": config_cls.paper, "paper-cpu": config_cls.paper_cpu}[name]
    return name, flags.apply(args, make(args.target or "gaussian"), config_cls.validate)


def main(argv, name: str, description: str, config_cls, run, plot, summary) -> dict:
    """A learned-score experiment's whole ``main``: :func:`experiments._cli.main` with the named
    configurations (``--config quick|paper|paper-cpu``, ``--target``) and ``--retrain``
    (:func:`add_protocol_args`, :func:`config_from_args`); ``plot(result, out, config)``."""
    parser = _cli.base_parser(name, description)
    flags = add_protocol_args(parser, config_cls)
    args = parser.parse_args(argv)
    config_name, config = config_from_args(args, flags)
    return _cli.execute(args, name, config, run, functools.partial(plot, config=config), summary,
                        config_name=config_name, options=dict(retrain=args.retrain))
