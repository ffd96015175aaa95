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
import types
import zlib
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Optional

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import langevin_jax as lj
from experiments import _cli, _output, _pretrained, _status
from langevin_jax import _checks, _io, metrics, nn, theory
from langevin_jax.targets import GaussianMixture, IsotropicGaussian

STARTS = ("vanilla", "fresh", "train")
# the deepest network the command line builds (the paper's has 3 hidden layers)
MAX_DEPTH = 100
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
        150,000 full-batch Adam steps on levels 1..100). Its model's dim is d.
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
    """

    #: the allowed values of the fields checked against a set
    CHOICES: ClassVar[dict] = dict(target=TARGETS)

    target: Literal["gaussian", "mixture"] = "gaussian"
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
        if training.model.dim != d:
            training = dataclasses.replace(training, model=dataclasses.replace(training.model, dim=d))
        cfg = dataclasses.replace(self, d=d, training=training)
        _cli.check_counts(cfg, langevin_steps=1, chains=1, trials=1, num_train=1, duplicates=1, num_seeds=1,
                          save_every=1, sinkhorn_every=1, sinkhorn_points=1, reference_samples=1, score_level=1)
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
        _cli.check_positive(cfg, "variance")
        model = training.model
        if model.depth > MAX_DEPTH:
            raise ValueError(f"depth must be <= {MAX_DEPTH} (hidden layers of the MLP; each is compiled), "
                             f"got {model.depth}")
        params = (model.input_dim + 1) * model.width + (model.depth - 1) * (model.width + 1) * model.width \
            + (model.width + 1) * d
        sizes = types.SimpleNamespace(width=model.width, depth=model.depth, embedding_dim=model.embedding_dim, d=d)
        # the parameters, their gradients and Adam's two moments in float32
        _cli.check_memory(sizes, ("width", "depth", "embedding_dim", "d"), 16 * params,
                          f"the network's {params:,} parameters (with gradients and Adam's moments)")
        # the training rows, the chains of the three starts and the reference samples, in float32 and float64
        _cli.check_memory(cfg, ("num_train", "duplicates", "chains", "reference_samples", "d"),
                          12 * cfg.num_train * cfg.duplicates * d + 48 * (3 * cfg.chains + cfg.reference_samples) * d,
                          "the training rows [num_train * duplicates, d], chains [3 * chains, d] and reference "
                          "samples [reference_samples, d]")
        if not 1 <= cfg.score_level <= training.num_levels:
            raise ValueError(f"score_level must be in [1, {training.num_levels}], got {cfg.score_level}")
        if not training.min_level <= cfg.score_level <= training.max_level:
            raise ValueError(f"score_level={cfg.score_level} must be within the levels the network is trained on, "
                             f"min_level={training.min_level} to max_level={training.max_level}")
        rows = cfg.num_train * cfg.duplicates
        if training.batch_size is not None and training.batch_size > rows:
            raise ValueError(f"batch_size={training.batch_size} must be <= the {rows} training rows "
                             f"(num_train={cfg.num_train} x duplicates={cfg.duplicates})")
        return cfg

    def validate(self) -> "Config":
        """The harness's name for :meth:`resolved` (every experiment's ``Config`` has one)."""
        return self.resolved()

    @classmethod
    def paper(cls, target: str = "gaussian") -> "Config":
        """Paper 1's protocol (Sections 4 and 9), with one deviation: one noise level per training
        example (``--level-sampling per_example``, as the shipped networks), where the paper draws
        one per batch (``--level-sampling per_batch --retrain`` for that)."""
        return cls(target=target).resolved()

    @classmethod
    def paper_cpu(cls, target: str = "gaussian") -> "Config":
        """Paper 1's protocol (network, data, score level, step size, iterations; one noise level
        per example, the paper draws one per batch) with fewer chains and trials, sized for a CPU:
        with the shipped pretrained denoisers (seed 0) it samples in a few minutes on 2 cores
        instead of training for hours."""
        return cls(target=target, chains=1500, trials=3).resolved()

    @classmethod
    def quick(cls, target: str = "gaussian") -> "Config":
        """CPU-sized (under 10 minutes on 2 cores): fewer distinct points, a smaller network
        and fewer steps with a decaying learning rate; see the docs for the probes."""
        d = 20 if target == "gaussian" else 10
        training = nn.TrainConfig(model=nn.DenoiserConfig(dim=d, width=256), num_steps=4000,
                                  learning_rate=2e-3, lr_schedule="cosine")
        return cls(target=target, d=d, num_train=200, duplicates=5, training=training,
                   chains=510, trials=5, reference_samples=5000, save_every=50, sinkhorn_every=500).resolved()


def make_target(config: Config):
    d = config.d
    if config.target == "gaussian":
        return IsotropicGaussian.create(jnp.ones(d), config.variance)
    means = jnp.stack([-jnp.ones(d), 4.0 * jnp.ones(d)])
    return GaussianMixture.create(jnp.array([0.5, 0.5]), means,
                                  jnp.full((2,), config.variance))


def checkpoint_path(out: Path, config: Config, key: jax.Array, name: str = "denoiser") -> Path:
    """``out/<name>_<hash>.ckpt``, the hash of everything that determines the parameters: the
    training config, the data fields and the run key's data."""
    fields = dict(train=config.training.fingerprint(), steps=config.training.num_steps,
                  target=config.target, d=config.d, variance=config.variance,
                  num_train=config.num_train, duplicates=config.duplicates,
                  seed=str(np.asarray(jax.random.key_data(key)).tolist()))
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return Path(out) / f"{name}_{digest}.ckpt"


@dataclasses.dataclass(frozen=True)
class Denoiser:
    """What :func:`load_or_train` returns: the target, the training points (the shipped file's
    exact ones for a pretrained denoiser), the network's parameters, its training config, its
    loss history and where it came from (``train_summary``), and the keys left for the reference
    samples (``k_ref``) and the runs (``k_runs``)."""

    target: object
    train: jax.Array
    params: object
    tcfg: nn.TrainConfig
    history: np.ndarray
    history_every: int
    train_summary: dict
    k_ref: jax.Array
    k_runs: jax.Array

    @property
    def eps_fn(self):
        """The network's noise predictor, carrying its trained levels (``nn.trained_eps_fn``)."""
        return nn.trained_eps_fn(self.params, self.tcfg)

    def loss_history(self) -> dict:
        """``loss_history_every`` and ``loss_history`` (at most ~500 points) for the JSON."""
        history, every = self.history, self.history_every
        return dict(loss_history_every=every * max(1, len(history) // 500),
                    loss_history=history[:: max(1, len(history) // 500)].tolist())


def load_or_train(experiment: str, config: Config, key: jax.Array, *, seed: Optional[int] = None,
                  retrain: bool = False, cache: Optional[_output.PartCache] = None,
                  checkpoint_name: str = "denoiser", checkpoint_every: int = 5000,
                  progress_bar: bool = False, chunk_size: int = 500) -> Denoiser:
    """The experiment's denoiser: shipped, checkpointed or trained here.

    The key is split into the data, training, reference and run keys; the training points are
    drawn from the target. The shipped pretrained denoiser trained exactly as ``config`` with
    ``seed`` (:func:`experiments._pretrained.find_pretrained`) is used unless ``retrain``; its
    exact training points replace the drawn ones (a CPU redraws them only to within one float32
    ulp of the GPU that trained it). Otherwise the network is trained here from the training
    key, checkpointed every ``checkpoint_every`` steps in ``cache.out`` (an interrupted training
    resumes; with ``cache.fresh``, ``--force``, this configuration's own checkpoint is deleted
    first; ``cache=None``: no checkpoint). A status line on stderr says where it came from.

    Args:
      experiment: the experiment's name (the shipped files are named after it).
      config: the resolved :class:`Config`.
      key: the run's key, ``jax.random.key(seed)`` on the command line.
      seed: the integer seed of ``key``; ``None`` (a key of another origin): no shipped
        denoiser matches.
    """
    target = make_target(config)
    k_data, k_train, k_ref, k_runs = jax.random.split(key, 4)
    train = target.sample(k_data, config.num_train)
    name = None if retrain else _pretrained.find_pretrained(experiment, config, seed)
    if name is not None:
        p = nn.load_pretrained(name)
        hist, every = np.asarray(p.loss_history), p.loss_history_every
        summary = dict(
            source="pretrained", pretrained=name, provenance=p.provenance, steps=config.training.num_steps,
            seconds_this_run=0.0, resumed_from=config.training.num_steps, reused=True, checkpoint=None,
            max_abs_diff_train_points_vs_redrawn=float(jnp.max(jnp.abs(p.train_points - train))),
        )
        params, train = p.params, p.train_points
    else:
        ckpt = None
        if cache is not None:
            ckpt = checkpoint_path(cache.out, config, key, name=checkpoint_name)
            if cache.fresh:
                ckpt.unlink(missing_ok=True)
        data = jnp.repeat(train, config.duplicates, axis=0)
        result = nn.train_denoiser(k_train, data, config.training, checkpoint_path=ckpt,
                                   checkpoint_every=None if ckpt is None else checkpoint_every,
                                   progress_bar=progress_bar, chunk_size=chunk_size)
        params, hist, every = result.params, result.loss_history, 1
        summary = dict(
            source="trained here", pretrained=None, steps=result.step, seconds_this_run=result.elapsed_seconds,
            resumed_from=result.resumed_from, reused=result.resumed_from == config.training.num_steps,
            checkpoint=None if ckpt is None else ckpt.name,
        )
        if cache is not None and summary["reused"]:
            cache.reused.append(f"denoiser checkpoint {ckpt.name}")
    tail = max(1, len(hist) // 100)
    summary.update(loss_first=float(np.mean(hist[:tail])), loss_final=float(np.mean(hist[-tail:])),
                   num_params=nn.num_params(params))
    _status.status(experiment, f"denoiser ready ({denoiser_status(summary)})")
    return Denoiser(target=target, train=train, params=params, tcfg=config.training, history=hist,
                    history_every=every, train_summary=summary, k_ref=k_ref, k_runs=k_runs)


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


# The named key streams of a trial. A trial's key is fold_in(k_runs, trial) (k_runs: the last of
# the four keys the run key splits into, see load_or_train); each stream is fold_in(trial key,
# number). The numbers are the ones these experiments have always used (their results stay
# bit for bit). ``reference`` permutes the reference samples of pi for the trial's Sinkhorn
# divergences; ``subsample`` picks the chains of each method that enter them (folded with the
# method's name, :func:`subsample`).
STREAMS = dict(start_vanilla=0, start_fresh=1, start_train=2, reference=3, subsample=4, noise=7, reverse=98,
               langevin=99)


def stream(k_trial: jax.Array, name: str) -> jax.Array:
    """The key of a trial's named stream (``STREAMS``)."""
    return jax.random.fold_in(k_trial, STREAMS[name])


def subsample(k_trial: jax.Array, method: str, n: int, m: int) -> np.ndarray:
    """``m`` distinct indices of ``n`` chains of ``method`` for its Sinkhorn divergence, from the
    trial's ``subsample`` stream folded with the method's name (so a method's pick does not
    depend on which other methods run)."""
    key = jax.random.fold_in(stream(k_trial, "subsample"), zlib.crc32(method.encode()) & 0x7FFFFFFF)
    return np.asarray(jax.random.choice(key, n, (m,), replace=False))


def all_starts(key, train: jax.Array, config: Config, target) -> jax.Array:
    """``[len(STARTS) * chains, d]``: the :func:`starts` of every start, in the order of
    ``STARTS``, each from its stream of the trial key ``key``."""
    return jnp.concatenate([starts(stream(key, f"start_{s}"), s, train, config, target) for s in STARTS])


@dataclasses.dataclass(frozen=True)
class Sampler:
    """One sampler of a trial of :func:`sample_trials`.

    Attributes:
      algorithm: a ``langevin_jax`` sampling algorithm.
      steps: its number of steps.
      start: ``"starts"`` (the vanilla, fresh and train starts of Theorem 7 in one run: its rows
        are ``prefix + start``), ``"vanilla"`` (the vanilla start alone) or ``"noise"``
        (``N(0, I)`` from the trial's ``noise`` stream: the reverse samplers' start).
      stream: the trial's key stream its noise comes from (``"langevin"`` or ``"reverse"``).
      prefix: the rows' name prefix with ``start="starts"``.
      save_every: keep the chains every this many steps (rows ``[saves + 1, chains, d]``, the
        start first); ``None``: the final positions (rows ``[chains, d]``).
    """

    algorithm: object
    steps: int
    start: str
    stream: str
    prefix: str = ""
    save_every: Optional[int] = None


def sample_trials(experiment: str, config: Config, den: Denoiser, samplers: dict, *, progress_bar: bool = False):
    """The trial loop of the learned-score experiments: for each trial, yield ``(trial,
    outputs)`` with ``outputs[row] = (positions float64, non-finite flags [chains])`` for every
    :class:`Sampler` in ``samplers`` (``{name: Sampler}``; a ``"starts"`` sampler gives one row
    per start). Every sampler of a trial starts from the same points and draws from its named
    stream (common random numbers). Yields ``(trial, trial key, outputs)``. Status lines on
    stderr give each trial's time."""
    t_sampling = time.perf_counter()
    for trial in range(config.trials):
        t_trial = time.perf_counter()
        k_trial = jax.random.fold_in(den.k_runs, trial)
        x0 = all_starts(k_trial, den.train, config, den.target)
        z0 = jax.random.normal(stream(k_trial, "noise"), (config.chains, config.d))
        outputs = {}
        for name, s in samplers.items():
            start = {"starts": x0, "vanilla": x0[: config.chains], "noise": z0}[s.start]
            if progress_bar:
                _status.status(experiment, f"trial {trial + 1}/{config.trials}: {name}")
            # the bars (stderr) only report step counts: the same numbers without them
            res = lj.run(stream(k_trial, s.stream), s.algorithm, start, s.steps, save_every=s.save_every,
                         progress_bar=progress_bar)
            flags = np.asarray(res.info.nonfinite)
            if s.save_every is None:
                pos = np.asarray(res.positions, np.float64)
            else:
                pos = np.concatenate([np.asarray(start, np.float64)[None], np.asarray(res.trajectory, np.float64)])
            if s.start != "starts":
                outputs[name] = (pos, flags)
                continue
            for j, st in enumerate(STARTS):
                sl = slice(j * config.chains, (j + 1) * config.chains)
                outputs[s.prefix + st] = (pos[..., sl, :], flags[sl])
        yield trial, k_trial, outputs
        _status.status(experiment, f"sampling: trial {trial + 1}/{config.trials} done in "
                                   f"{time.perf_counter() - t_trial:.1f} s" + (" (incl. compilation)" if trial == 0 else "")
                                   + f", {time.perf_counter() - t_sampling:.0f} s so far")


class Finals:
    """The finite chains of every method over the trials: ``sets[m]`` the per-trial final
    positions of the chains that stayed finite, ``nonfinite[m]`` the count of the others
    (reported, never averaged in)."""

    def __init__(self, methods):
        self.sets = {m: [] for m in methods}
        self.nonfinite = {m: 0 for m in methods}

    def keep(self, method: str, pos: np.ndarray, flags: np.ndarray) -> np.ndarray:
        """Record a trial's output of ``method`` (:func:`sample_trials`); return its finite
        chains (a trajectory: those finite at every save)."""
        ok = ~flags & np.all(np.isfinite(pos), axis=(0, 2) if pos.ndim == 3 else 1)
        self.nonfinite[method] += int((~ok).sum())
        good = pos[..., ok, :]
        self.sets[method].append(good[-1] if pos.ndim == 3 else good)
        return good


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

    def trial_reference(self, k_trial: jax.Array) -> np.ndarray:
        """A trial's ``points`` reference samples (its floor pair recorded), from the trial's
        ``reference`` stream."""
        perm = np.asarray(jax.random.permutation(stream(k_trial, "reference"), self.reference.shape[0]))
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


def near_mask(xs: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """``[n]`` booleans: row ``i`` of ``xs`` (finite) is within ``radius`` of a row of ``points``
    ([`langevin_jax.metrics.nearest_distance`][langevin_jax.metrics.nearest_distance] in
    float64); empty for no rows."""
    if xs.shape[0] == 0:
        return np.zeros(0, bool)
    with jax.enable_x64(True):
        dist = metrics.nearest_distance(jnp.asarray(xs, jnp.float64), jnp.asarray(points, jnp.float64))
    return np.asarray(dist) < radius


def near_fraction(xs: np.ndarray, points: np.ndarray, radius: float) -> float:
    """The fraction of the rows of ``xs`` within ``radius`` of a row of ``points``
    (:func:`near_mask`); NaN for no rows (every chain diverged)."""
    mask = near_mask(xs, points, radius)
    return float(np.mean(mask)) if mask.size else float("nan")


# the confidence level of the certified TV lower bounds the experiments report
TV_CONFIDENCE = 0.95
# paper 1's claim that the bounds are set against (Theorems 1 and 7)
TV_CLAIM = "TV(Law(X_T), pi) >= 1 - e^{-Omega(d)}"


def tv_report(tv: metrics.TVLowerBound, region: str) -> dict:
    """The JSON entries of a certified TV lower bound
    ([`langevin_jax.metrics.tv_lower_bound`][langevin_jax.metrics.tv_lower_bound]):
    ``tv_lower_bound`` (the bound ``p_lower - pi(A)``, negative when the chains give no evidence)
    and ``tv_lower_bound_detail`` (``p_hat``, ``p_lower``, ``pi_a`` and ``log10_pi_a`` (``pi(A)``,
    or the upper bound on it that was used, and its log10: ``pi_a`` may underflow to 0), ``num_inside``,
    ``num_chains``, ``num_nonfinite``, ``confidence``, ``region``: the set ``A`` in words); the
    bound is ``p_lower - pi_a`` exactly."""
    return dict(tv_lower_bound=float(tv.value), tv_lower_bound_detail=dict(
        p_hat=float(tv.p_hat), p_lower=float(tv.p_lower), pi_a=float(tv.pi_a),
        log10_pi_a=float(tv.log_pi_a) / math.log(10),
        num_inside=int(tv.num_inside), num_chains=int(tv.num_chains), num_nonfinite=int(tv.num_nonfinite),
        confidence=float(tv.confidence), region=region))


def pooled_tv_lower_bound(insides: list, num_nonfinite: int, log_pi_a: float, region: str) -> dict:
    """:func:`tv_report` of the TV lower bound from all chains of all trials: ``insides`` the
    per-trial :func:`near_mask` of the finite chains, ``num_nonfinite`` the chains left out of
    them (counted among the chains and as outside ``A``: never dropped). The chains are
    independent given their starting points, so the bound is on the law of a chain whose start
    is drawn from the ones used (for the fresh and train starts: uniformly among the trials' seeds)."""
    inside = np.concatenate([np.asarray(m, bool) for m in insides] + [np.zeros(num_nonfinite, bool)])
    finite = np.concatenate([np.ones(inside.size - num_nonfinite, bool), np.zeros(num_nonfinite, bool)])
    tv = metrics.tv_lower_bound(inside, log_pi_a, TV_CONFIDENCE, finite=finite)
    return tv_report(tv, region)


def balls_log_probability_bound(target, centers: np.ndarray, radius: float) -> float:
    """An upper bound on ``log pi(A)``, ``A`` the union of the balls ``B(c_i, radius)``, for the
    experiments' targets: the isotropic Gaussian by the union bound over exact ball probabilities
    ([`theory.gaussian_balls_log_probability_bound`][langevin_jax.theory.gaussian_balls_log_probability_bound]),
    the mixture by the union bound inside each component
    ([`theory.gaussian_mixture_balls_log_probability_bound`][langevin_jax.theory.gaussian_mixture_balls_log_probability_bound];
    exact per ball for its isotropic components)."""
    if isinstance(target, IsotropicGaussian):
        return theory.gaussian_balls_log_probability_bound(
            centers, radius, np.asarray(target.mean, np.float64), math.sqrt(float(target.variance)))
    if isinstance(target, GaussianMixture):
        return theory.gaussian_mixture_balls_log_probability_bound(
            centers, radius, np.asarray(target.weights, np.float64), np.asarray(target.means, np.float64),
            np.asarray(target.covariances, np.float64))
    raise TypeError(f"no ball probability bound for a target of type {type(target).__name__}")


@dataclasses.dataclass(frozen=True)
class TrainingBalls:
    """The set ``A`` of the learned-score experiments' TV lower bounds: the union of the balls
    ``B(x_i, trap_radius(d))`` around the distinct training points (the radius of
    :func:`near_train_fraction`, so a chain's membership is its "near a training point"), and
    the bound on ``log pi(A)`` (:func:`balls_log_probability_bound`)."""

    centers: np.ndarray
    radius: float
    log_pi_a: float
    region: str

    @classmethod
    def create(cls, target, train: np.ndarray, d: int) -> "TrainingBalls":
        # duplicated training rows would count twice in the union bound: the distinct ones only
        centers = np.unique(np.asarray(train, np.float64), axis=0)
        radius = trap_radius(d)
        return cls(centers=centers, radius=radius, log_pi_a=balls_log_probability_bound(target, centers, radius),
                   region=f"union of B(x_i, 0.15 sqrt(d)) over the {centers.shape[0]} distinct training points")

    def mask(self, xs: np.ndarray) -> np.ndarray:
        """:func:`near_mask` of the finite chains ``xs`` (``[n, d]``)."""
        return near_mask(xs, self.centers, self.radius)

    def tv(self, insides: list, num_nonfinite: int) -> dict:
        """:func:`pooled_tv_lower_bound` of the per-trial masks ``insides`` of a method's finite
        final chains and its ``num_nonfinite`` others."""
        return pooled_tv_lower_bound(insides, num_nonfinite, self.log_pi_a, self.region)


def tv_note(entries, theorem: str) -> str:
    """The sentence under a table with a TV-lower-bound column: what was bounded, how, and the
    paper's claim (empty for a result written before the bound was reported)."""
    detail = next((e["tv_lower_bound_detail"] for e in entries if e and e.get("tv_lower_bound_detail")), None)
    if detail is None:
        return ""
    return (f"TV lower bound: `TV(Law(X_T), pi) >= P(X_T in A) - pi(A)`, certified at "
            f"{detail['confidence']:.0%} confidence, with A the {detail['region']} (pi(A) <= "
            f"10^{detail['log10_pi_a']:.1f}, a union bound), P(X_T in A) bounded below by Clopper-Pearson from "
            f"all {detail['num_chains']} chains of all trials (non-finite chains count as outside A); a negative "
            f"value is no evidence. Paper 1 ({theorem}) claims `{TV_CLAIM}`.\n\n")


def tv_cell(entry: dict) -> str:
    """A TV lower bound for a table (``n/r``: a result written before it was reported)."""
    value = entry.get("tv_lower_bound") if entry else None
    if value is None:
        return "n/r"
    # four decimals (0.9998 is not 1); a negative value (no evidence, typically -pi(A)) in full
    return f"{value:.4f}" if value >= 0 else f"{value:.2g}"


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
    table = _output.markdown_table(
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


@dataclasses.dataclass(frozen=True)
class Settings:
    """The learned-score experiments' run settings: how a run goes, never its numbers.

    Attributes:
      retrain: train the denoiser here even when a shipped pretrained one matches the
        configuration and seed (paper and paper-cpu, seed 0); resumes from a checkpoint in --out.
      progress_bar: show progress bars on stderr (training, with its loss, and sampling).
      checkpoint_every: write a training checkpoint (in --out) every this many optimiser steps.
      chunk_size: optimiser steps per compiled training scan (one host round trip each).
    """

    retrain: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    progress_bar: bool = True
    checkpoint_every: int = 5000
    chunk_size: int = 500


# flag names kept from earlier versions
ALIASES = {"--train-steps": "--num-steps", "--no-progress": "--no-progress-bar"}
# the command line's rules for the library's training config: the model's dim is --d, the
# number of levels is the protocol's 1000 (the level numbers count in it)
REGISTRY = tyro.constructors.ConstructorRegistry()
REGISTRY.struct_rule(_cli.struct_rule(nn.TrainConfig, suppress=("num_levels",), aliases=ALIASES))
REGISTRY.struct_rule(_cli.struct_rule(nn.DenoiserConfig, suppress=("dim", "num_levels"), aliases=ALIASES))


# matmul FLOP/s of training on the 2-core CPU that timed the paper networks (150,000 steps in
# 4.4 h and 12.6 h: 94 and 112 GFLOP/s, docs/benchmarks.md), for the estimate below
CPU_TRAIN_FLOPS = 1e11
# a training estimated longer than this is started only when asked for (--retrain)
LONG_TRAINING_SECONDS = 600.0


def training_seconds(config: Config) -> float:
    """The time training ``config``'s network takes on a 2-core CPU, estimated from its matmul
    FLOPs (:func:`langevin_jax.nn.flops_per_example`) at :data:`CPU_TRAIN_FLOPS`."""
    batch = config.training.batch_size or config.num_train * config.duplicates
    return config.training.num_steps * batch * nn.flops_per_example(config.training.model) / CPU_TRAIN_FLOPS


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def check_training(experiment: str, config: Config, seed: int, *, retrain: bool, out: Path) -> None:
    """Refuse (``ValueError``) to start a long training nobody asked for.

    When no shipped pretrained denoiser matches ``config`` and ``seed``
    (:func:`experiments._pretrained.find_pretrained`), no checkpoint of this training is in
    ``out`` and the training would take longer than :data:`LONG_TRAINING_SECONDS` on a CPU
    (:func:`training_seconds`), the message names the flags in which the configuration differs
    from the closest shipped network, the estimated time, and ``--retrain`` (which trains it).
    """
    if retrain or _pretrained.find_pretrained(experiment, config, seed) is not None:
        return
    seconds = training_seconds(config)
    if seconds <= LONG_TRAINING_SECONDS or checkpoint_path(out, config, jax.random.key(seed)).exists():
        return
    closest = _pretrained.closest_pretrained(experiment, config, seed)
    if closest is None:
        why = "no shipped pretrained denoiser belongs to this experiment"
    else:
        shipped, diffs = closest
        listed = ", ".join(f"{_cli.flag_of(f)} (shipped {_output.format_value(v)})" for f, v in diffs[:4])
        more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
        why = f"the closest shipped one, {shipped}, differs in {listed}{more}"
    raise ValueError(f"no shipped pretrained denoiser matches this configuration and seed ({why}), so the "
                     f"network would be trained here: about {_duration(seconds)} on a 2-core CPU "
                     f"({config.training.num_steps:,} steps). Pass --retrain to train it (checkpointed in --out "
                     "every --checkpoint-every steps; an interrupted training resumes), or drop the flags "
                     "that differ to sample with the shipped network")


def checkpoint_bytes(config: Config) -> int:
    """The size of a training checkpoint of ``config``'s network, twice over (the old one stays
    until the new one is renamed into place): parameters and Adam's two moments in float32,
    and the loss history."""
    shapes = jax.eval_shape(lambda: nn.init_denoiser(jax.random.key(0), config.training.model))
    params = sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(shapes))
    return 2 * (3 * 4 * params + 4 * config.training.num_steps + 4096)


def main(argv, name: str, description: str, config_cls, run, plot, summary) -> dict:
    """A learned-score experiment's whole ``main``: the named configurations ``--config
    paper|paper-cpu|quick`` (for ``--target``), :class:`Settings`, a flag per field of
    ``config_cls`` and of its embedded training config (``--learning-rate``, ``--width``, ...);
    ``run(config, key, cache, seed=, **settings)``; ``plot(result, out, config)``."""
    parsed = _cli.parse(argv, name, description, config_cls,
                        configs={"paper": config_cls.paper, "paper-cpu": config_cls.paper_cpu,
                                 "quick": config_cls.quick},
                        chosen_by=("target",), settings=Settings, aliases=ALIASES, registry=REGISTRY)
    for setting in ("checkpoint_every", "chunk_size"):
        if parsed.settings[setting] < 1:
            _cli.fail(f"python -m experiments.{name}",
                      f"{_cli.flag_of(setting)} {parsed.settings[setting]}: {setting} must be >= 1")
    try:
        check_training(name, parsed.config, parsed.common.seed, retrain=parsed.settings["retrain"],
                       out=parsed.common.out)
        if parsed.settings["retrain"] or _pretrained.find_pretrained(name, parsed.config, parsed.common.seed) is None:
            _io.check_writable_dir(parsed.common.out, "--out", _cli.RESULT_BYTES + checkpoint_bytes(parsed.config))
    except ValueError as err:
        _cli.fail(f"python -m experiments.{name}", str(err))
    return _cli.execute(parsed, name, run, functools.partial(plot, config=parsed.config), summary,
                        run_options=dict(parsed.settings, seed=parsed.common.seed))
