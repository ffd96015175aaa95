"""Theorem 7 on real data (issue 23): learned-score Langevin vs the diffusion samplers on
scikit-learn's handwritten digits, with two shipped CPU-trained denoisers.

The 1,797 digits (8 x 8 = 64 dimensions, ``sklearn.datasets.load_digits``, bundled) are scaled
to ``[-1, 1]`` (``x = 2 * pixel / 16 - 1``, :mod:`experiments._digits`) and split by the seed
into ``num_train`` training digits and the held-out rest. Two MLP denoisers ``(x_t, t) -> eps``
are trained on the training digits with the DDPM epsilon loss (paper 1's loss; full batch, a level per example,
linear schedule of 1000 levels): the *low-levels* network on levels ``1..low_max_level`` gives
the Langevin score ``-eps(x, score_level) / sqrt(1 - alphabar)``; the *all-levels* network on
``1..1000`` drives the diffusion samplers. Then, per trial:

* ULA with the low-level score from the three starts of Theorem 7: *vanilla* ``N(0, I)``,
  *fresh* (``num_seeds`` held-out digits, each repeated to fill the chains) and *train*
  (``num_seeds`` training digits, repeated);
* DDPM (every level), DDIM (``ddim_steps`` levels), NCSN (annealed Langevin over noise levels)
  and predictor-corrector sampling, from ``N(0, I)``, with the all-levels network.

Per sampler: the memorisation report against the training digits (nearest training digit,
nearest / second-nearest ratio, copies = ratio < 1/3), the Sinkhorn divergence to
``sinkhorn_points`` held-out digits (the reference) beside the floor (as many *training* digits
against the same reference) and the baseline row ``heldout_draw`` (another, disjoint draw of
held-out digits: what a sampler of the digit law that copies nothing looks like); the fresh
starts' digits are drawn disjoint from both. Mean and spread over ``trials``.

Outputs under ``--out DIR``: ``memorization_digits.json`` (``config``, ``data``, ``networks``,
``methods``: per sampler ``sinkhorn_mean``, ``sinkhorn_std``, ``sinkhorn_not_converged``,
``nonfinite_chains``, ``escaped_fraction``, ``nearest_distance_median_mean``,
``nearest_distance_median_std``, ``copy_fraction_mean``, ``copy_fraction_std``,
``ratio_median_mean``, ``ratio_median_std``; ``memorization`` (the table of
:func:`experiments._learned.memorization`); ``reference`` (the floor); ``samplers``),
``memorization_digits.png`` (ratio and nearest-distance distributions, Sinkhorn),
``memorization_digits_grid.png`` (generated digits beside their nearest training digit) and
``memorization_digits.md``.

The networks are the shipped ``memorization_digits_*_seed0`` (trained by this command on a
2-core CPU, ``langevin_jax.nn.load_pretrained``) for the default and quick configurations with
seed 0, unless ``--retrain``; otherwise they are trained here (minutes) and checkpointed in
``--out``. ``--export-pretrained`` (with ``--retrain``) writes the trained networks into the
package's ``nn/pretrained_data`` (a maintainer's step).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import platform
import subprocess
import time
import types
from pathlib import Path
from typing import Annotated, Optional

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import langevin_jax as lj
from experiments import _cli, _digits, _learned, _output, _plotting, _pretrained, _status
from experiments._learned import fmt_pm, mean_std, memorization, memorization_markdown, stream, subsample
from langevin_jax import _checks, diffusion, metrics, nn

NAME = "memorization_digits"
STARTS = _learned.STARTS
LANGEVIN = tuple(f"langevin_{s}" for s in STARTS)
DIFFUSION = ("ddpm", "ddim", "ncsn", "pc")
BASELINE = "heldout_draw"
METHODS = LANGEVIN + DIFFUSION + (BASELINE,)
NETWORKS = ("low", "all")  # the low-levels (Langevin) and all-levels (diffusion samplers) networks
# a chain is "escaped" when a pixel left [-ESCAPE, ESCAPE] (the data lie in [-1, 1])
ESCAPE = 3.0
# shown digits per sampler in the grid figure
GRID = 8


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol of the digits experiment.

    Attributes:
      num_train: training digits (the other 1797 - num_train are held out).
      width: hidden width of both MLP denoisers.
      depth: hidden layers of both.
      low_max_level: the low-levels network is trained on levels 1..low_max_level (of 1000).
      low_steps: full-batch Adam steps of the low-levels network.
      all_steps: full-batch Adam steps of the all-levels network (levels 1..1000).
      learning_rate: Adam's step size (both networks).
      lr_schedule: constant or cosine (decay to 0 over the steps), both networks.
      score_level: the level whose score -eps(x, level) / sqrt(1 - alphabar) drives ULA.
      step_size: ULA step size h.
      langevin_steps: ULA iterations per chain.
      num_seeds: distinct digits of the fresh and train starts, each repeated to fill the chains.
      chains: chains per sampler and trial.
      trials: independent trials (mean and spread over them).
      sinkhorn_points: chains (and as many held-out reference digits) per Sinkhorn divergence.
      blur: Sinkhorn blur (GeomLoss convention, p = 2).
      ddim_steps: levels visited by DDIM.
      ncsn_noise_levels: NCSN's noise levels (geometric in sigma, from 1000 down to 1).
      ncsn_steps_per_level: NCSN's Langevin steps per level.
      ncsn_epsilon: NCSN's step at the lowest level.
      pc_corrector_steps: Langevin corrector steps after each reverse-diffusion predictor step.
      pc_snr: the corrector's signal-to-noise ratio.
    """

    num_train: int = 1000
    width: int = 256
    depth: int = 3
    low_max_level: int = 100
    low_steps: int = 6000
    all_steps: int = 6000
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    score_level: int = 10
    step_size: float = 1e-4
    langevin_steps: int = 1000
    num_seeds: int = 30
    chains: int = 300
    trials: int = 3
    sinkhorn_points: int = 250
    blur: float = 0.01
    ddim_steps: int = 100
    ncsn_noise_levels: int = 10
    ncsn_steps_per_level: int = 50
    ncsn_epsilon: float = 2e-5
    pc_corrector_steps: int = 1
    pc_snr: float = 0.16

    def training(self, network: str) -> nn.TrainConfig:
        """The :class:`langevin_jax.nn.TrainConfig` of the ``"low"`` or ``"all"`` network."""
        model = nn.DenoiserConfig(dim=_digits.D, width=self.width, depth=self.depth)
        low = network == "low"
        return nn.TrainConfig(model=model, num_steps=self.low_steps if low else self.all_steps,
                              learning_rate=self.learning_rate, lr_schedule=self.lr_schedule,
                              max_level=self.low_max_level if low else model.num_levels)

    def validate(self) -> "Config":
        """Check every field (a ``ValueError`` that starts with the field's name)."""
        _cli.check_counts(self, num_train=2, width=1, depth=1, low_max_level=1, low_steps=1, all_steps=1,
                          score_level=1, langevin_steps=1, num_seeds=1, chains=1, trials=1, sinkhorn_points=2,
                          ddim_steps=1, ncsn_noise_levels=1, ncsn_steps_per_level=1, pc_corrector_steps=0)
        _cli.check_positive(self, "learning_rate", "step_size", "blur", "ncsn_epsilon", "pc_snr")
        _checks.check_choice("lr_schedule", self.lr_schedule, ("constant", "cosine"))
        if self.num_train > _digits.NUM_DIGITS - 1:
            raise ValueError(f"num_train must be <= {_digits.NUM_DIGITS - 1}, got {self.num_train}")
        if self.depth > _learned.MAX_DEPTH:
            raise ValueError(f"depth must be <= {_learned.MAX_DEPTH}, got {self.depth}")
        if self.low_max_level > 1000:
            raise ValueError(f"low_max_level must be <= 1000, got {self.low_max_level}")
        if self.score_level > self.low_max_level:
            raise ValueError(f"score_level must be <= low_max_level = {self.low_max_level} (the low-levels "
                             f"network's trained levels), got {self.score_level}")
        if self.ddim_steps > 1000:
            raise ValueError(f"ddim_steps must be <= 1000, got {self.ddim_steps}")
        heldout = _digits.NUM_DIGITS - self.num_train
        if 2 * self.sinkhorn_points + self.num_seeds > heldout:
            raise ValueError(f"sinkhorn_points must be <= (held-out digits - num_seeds) / 2 = "
                             f"{(heldout - self.num_seeds) // 2} (the reference, the baseline draw and the fresh "
                             f"starts are disjoint draws of the {heldout} held-out digits), got {self.sinkhorn_points}")
        if self.num_seeds > self.num_train:
            raise ValueError(f"num_seeds must be <= num_train = {self.num_train}, got {self.num_seeds}")
        if self.sinkhorn_points > min(self.chains, self.num_train):
            raise ValueError(f"sinkhorn_points must be <= chains = {self.chains} and <= num_train, got "
                             f"{self.sinkhorn_points}")
        self.training("low"), self.training("all")  # the library's own checks
        return self

    @classmethod
    def quick(cls) -> "Config":
        """About a minute with the shipped networks: 120 chains per sampler, 2 trials."""
        return cls(chains=120, trials=2, sinkhorn_points=100)


def pretrained_query(config: Config, network: str) -> types.SimpleNamespace:
    """What :func:`experiments._pretrained.find_pretrained` compares: the data fields
    (``target`` names the data set and its scaling) and the network's training."""
    return types.SimpleNamespace(target="sklearn_digits_pm1", d=_digits.D, variance=None,
                                 num_train=config.num_train, duplicates=1, training=config.training(network))


def pretrained_name(network: str, seed: int) -> str:
    return f"{NAME}_{network}_levels_seed{seed}"


def _checkpoint(out: Path, config: Config, network: str, seed: int) -> Path:
    tc = config.training(network)
    fields = dict(train=tc.fingerprint(), steps=tc.num_steps, data="sklearn_digits_pm1",
                  num_train=config.num_train, seed=seed)
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return Path(out) / f"digits_{network}_levels_{digest}.ckpt"


def _keys(key: jax.Array) -> dict:
    """The run key's streams: the split, each network's training, the trials."""
    k_split, k_low, k_all, k_runs = jax.random.split(key, 4)
    return dict(split=k_split, low=k_low, all=k_all, runs=k_runs)


def load_networks(config: Config, key: jax.Array, train: np.ndarray, *, seed: Optional[int], retrain: bool,
                  cache: Optional[_output.PartCache], progress_bar: bool, chunk_size: int) -> dict:
    """``{network: (params, train_config, summary)}``: the shipped networks when they match the
    configuration, seed and these exact training digits (unless ``retrain``), else trained
    here (checkpointed in ``cache.out``)."""
    keys = _keys(key)
    out = {}
    for network in NETWORKS:
        tc = config.training(network)
        name = None if retrain else _pretrained.find_pretrained(NAME, pretrained_query(config, network), seed)
        if name is not None:
            p = nn.load_pretrained(name)
            diff = float(np.max(np.abs(np.asarray(p.train_points, np.float64) - train)))
            if diff == 0.0:
                hist = np.asarray(p.loss_history)
                tail = max(1, len(hist) // 100)
                out[network] = (p.params, tc, dict(
                    source="pretrained", pretrained=name, provenance=p.provenance, steps=tc.num_steps,
                    seconds_this_run=0.0, loss_first=float(np.mean(hist[:tail])),
                    loss_final=float(np.mean(hist[-tail:])), num_params=nn.num_params(p.params),
                    _history=hist, _every=p.loss_history_every))
                _status.status(NAME, f"{network}-levels denoiser: shipped pretrained {name}")
                continue
            _status.status(NAME, f"{name}: its training digits differ from this split (max {diff:.2g}); training")
        ckpt = None
        if cache is not None:
            ckpt = _checkpoint(cache.out, config, network, -1 if seed is None else seed)
            if cache.fresh:
                ckpt.unlink(missing_ok=True)
        with _status.Phase(NAME, f"training the {network}-levels denoiser ({tc.num_steps} steps, levels "
                                 f"{tc.min_level}..{tc.max_level})"):
            res = nn.train_denoiser(keys[network], jnp.asarray(train, jnp.float32), tc, checkpoint_path=ckpt,
                                    checkpoint_every=None if ckpt is None else max(500, tc.num_steps // 4),
                                    progress_bar=progress_bar, chunk_size=chunk_size)
        hist = np.asarray(res.loss_history)
        tail = max(1, len(hist) // 100)
        reused = res.resumed_from == tc.num_steps
        if cache is not None and reused:
            cache.reused.append(f"denoiser checkpoint {ckpt.name}")
        out[network] = (res.params, tc, dict(
            source="trained here", pretrained=None, steps=res.step, seconds_this_run=res.elapsed_seconds,
            resumed_from=res.resumed_from, reused=reused, checkpoint=None if ckpt is None else ckpt.name,
            loss_first=float(np.mean(hist[:tail])), loss_final=float(np.mean(hist[-tail:])),
            num_params=nn.num_params(res.params), _history=hist, _every=1))
    return out


def _samplers(config: Config, networks: dict) -> dict:
    low_params, low_tc, _ = networks["low"]
    all_params, all_tc, _ = networks["all"]
    schedule = all_tc.noise_schedule()
    eps_low, eps_all = nn.trained_eps_fn(low_params, low_tc), nn.trained_eps_fn(all_params, all_tc)
    score = diffusion.score_at_level(eps_low, low_tc.noise_schedule(), config.score_level)
    ncsn = diffusion.ncsn_sampler(eps_all, schedule, levels=diffusion.ncsn_levels(schedule, config.ncsn_noise_levels),
                                  steps_per_level=config.ncsn_steps_per_level, epsilon=config.ncsn_epsilon)
    return dict(
        ULA=(lj.ula(score, config.step_size), config.langevin_steps, "langevin"),
        ddpm=(diffusion.ddpm_sampler(eps_all, schedule), schedule.num_levels, "reverse"),
        ddim=(diffusion.ddim_sampler(eps_all, schedule, config.ddim_steps), config.ddim_steps, "reverse"),
        ncsn=(ncsn, int(ncsn.metadata["num_steps"]), "reverse"),
        pc=(diffusion.pc_sampler(eps_all, schedule, predictor="reverse_diffusion",
                                 corrector_steps=config.pc_corrector_steps, snr=config.pc_snr),
            schedule.num_levels, "reverse"),
    )


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {_affinity()} cores available, {platform.system()} {platform.release()}"


def _affinity() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def run(config: Config, key: jax.Array, cache: Optional[_output.PartCache] = None, *, seed: Optional[int] = None,
        retrain: bool = False, progress_bar: bool = False, chunk_size: int = 500,
        export_pretrained: bool = False) -> dict:
    """Split, load (or train) both networks, sample every sampler ``trials`` times, measure.

    Returns the result dict of the module docstring (keys starting with ``_`` are for the
    figures only)."""
    config = config.validate()
    keys = _keys(key)
    train, heldout, perm = _digits.split(keys["split"], config.num_train)
    networks = load_networks(config, key, train, seed=seed, retrain=retrain, cache=cache,
                             progress_bar=progress_bar, chunk_size=chunk_size)
    if export_pretrained:
        _export(config, networks, train, seed)
    samplers = _samplers(config, networks)
    n, chains, reps = config.sinkhorn_points, config.chains, -(-config.chains // config.num_seeds)
    sets = {m: [] for m in METHODS}
    nonfinite = {m: 0 for m in METHODS}
    escaped = {m: [] for m in METHODS}
    xs, ys, where, floor_x, floor_y = [], [], [], [], []
    shown = {}
    t_sample = time.perf_counter()
    _status.status(NAME, f"sampling: {config.trials} trials x {chains} chains: ULA from {len(STARTS)} starts "
                         f"({config.langevin_steps} steps), DDPM, DDIM, NCSN, PC from N(0, I)")
    for trial in range(config.trials):
        t_trial = time.perf_counter()
        k_trial = jax.random.fold_in(keys["runs"], trial)
        order = np.asarray(jax.random.permutation(stream(k_trial, "reference"), heldout.shape[0]))
        reference, draw = heldout[order[:n]], heldout[order[n:2 * n]]
        fresh_pool = heldout[order[2 * n:]]
        pick_fresh = np.asarray(jax.random.choice(stream(k_trial, "start_fresh"), fresh_pool.shape[0],
                                                  (config.num_seeds,), replace=False))
        pick_train = np.asarray(jax.random.choice(stream(k_trial, "start_train"), train.shape[0],
                                                  (config.num_seeds,), replace=False))
        x0 = np.concatenate([
            np.asarray(jax.random.normal(stream(k_trial, "start_vanilla"), (chains, _digits.D)), np.float64),
            np.repeat(fresh_pool[pick_fresh], reps, axis=0)[:chains],
            np.repeat(train[pick_train], reps, axis=0)[:chains]]).astype(np.float32)
        z0 = jax.random.normal(stream(k_trial, "noise"), (chains, _digits.D))
        outputs = {}
        for sname, (algorithm, steps, key_stream) in samplers.items():
            start = x0 if sname == "ULA" else z0
            res = lj.run(stream(k_trial, key_stream), algorithm, start, steps, progress_bar=progress_bar)
            pos, flags = np.asarray(res.positions, np.float64), np.asarray(res.info.nonfinite)
            if sname == "ULA":
                for j, m in enumerate(LANGEVIN):
                    sl = slice(j * chains, (j + 1) * chains)
                    outputs[m] = (pos[sl], flags[sl])
            else:
                outputs[sname] = (pos, flags)
        outputs[BASELINE] = (draw, np.zeros(draw.shape[0], bool))
        for m, (pos, flags) in outputs.items():
            ok = ~flags & np.all(np.isfinite(pos), axis=1)
            nonfinite[m] += int((~ok).sum())
            good = pos[ok]
            sets[m].append(good)
            escaped[m].append(float(np.mean(np.abs(good).max(axis=1) > ESCAPE)) if good.shape[0] else float("nan"))
            if good.shape[0] >= n:
                xs.append(good if m == BASELINE else good[subsample(k_trial, m, good.shape[0], n)])
                ys.append(reference)
                where.append(m)
            if trial == 0:
                # one chain per distinct starting digit for the starts that repeat their seeds
                idx = np.arange(0, chains, reps) if m in ("langevin_fresh", "langevin_train") else np.arange(len(pos))
                shown[m] = pos[idx][ok[idx]][:GRID]
        floor_x.append(train[np.asarray(subsample(k_trial, "floor_train", train.shape[0], n))])
        floor_y.append(reference)
        _status.status(NAME, f"sampling: trial {trial + 1}/{config.trials} done in "
                             f"{time.perf_counter() - t_trial:.1f} s" + (" (incl. compilation)" if trial == 0 else ""))
    sampling_seconds = time.perf_counter() - t_sample

    t_sk = time.perf_counter()
    with _status.Phase(NAME, f"Sinkhorn: {len(xs) + len(floor_x)} divergences of {n} points"):
        f32 = lambda a: np.asarray(a, np.float32).reshape(-1, n, _digits.D)  # noqa: E731
        sk = metrics.sinkhorn_with_floor(f32(xs), f32(ys), f32(floor_x), f32(floor_y), blur=config.blur)
    values, conv = np.asarray(sk.divergence.value, np.float64), np.asarray(sk.divergence.converged)
    floor, floor_conv = np.asarray(sk.floor.value, np.float64), np.asarray(sk.floor.converged)
    sk_seconds = time.perf_counter() - t_sk
    per = {m: [] for m in METHODS}
    for m, v, ok in zip(where, values, conv):
        per[m].append(float(v) if ok else float("nan"))

    with _status.Phase(NAME, "memorisation report"):
        mem = memorization(sets, train, heldout, _digits.D)
        ratios, nearest, nearest_digit = {}, {}, {}
        t64 = jnp.asarray(train, jnp.float32)
        for m in METHODS:
            pooled = np.concatenate(sets[m]) if sets[m] else np.zeros((0, _digits.D))
            if pooled.shape[0]:
                rep = metrics.memorization_report(jnp.asarray(pooled, jnp.float32), t64).per_sample
                ratios[m], nearest[m] = np.asarray(rep.ratio, np.float64), np.asarray(rep.nearest_distance, np.float64)
            if m in shown and shown[m].shape[0]:
                rep = metrics.memorization_report(jnp.asarray(shown[m], jnp.float32), t64).per_sample
                nearest_digit[m] = (shown[m], train[np.asarray(rep.nearest_index)], np.asarray(rep.ratio))
    methods = {}
    for m in METHODS:
        sk_mean, sk_std = mean_std(per[m])
        e = mem["methods"].get(m) or {}
        methods[m] = dict(
            sinkhorn_mean=sk_mean, sinkhorn_std=sk_std, sinkhorn_not_converged=int(np.sum(np.isnan(per[m]))),
            nonfinite_chains=nonfinite[m], escaped_fraction=mean_std(escaped[m])[0],
            **{k: e.get(k) for k in ("copy_fraction_mean", "copy_fraction_std", "nearest_distance_median_mean",
                                     "nearest_distance_median_std", "ratio_median_mean", "ratio_median_std",
                                     "within_radius_fraction_mean", "within_radius_fraction_std")})
    nets = {}
    for network, (_, tc, summary) in networks.items():
        nets[network] = {k: v for k, v in summary.items() if not k.startswith("_")} | dict(
            width=tc.model.width, depth=tc.model.depth, levels=[tc.min_level, tc.max_level],
            learning_rate=tc.learning_rate, lr_schedule=tc.lr_schedule)
    alphabar = float(np.asarray(networks["low"][1].noise_schedule().alphabars)[config.score_level - 1])
    return dict(
        data=dict(source="sklearn.datasets.load_digits", num_digits=_digits.NUM_DIGITS, d=_digits.D,
                  scaling=_digits.SCALING, num_train=int(train.shape[0]), num_heldout=int(heldout.shape[0]),
                  split="jax.random.permutation(split(key(seed), 4)[0], 1797): first num_train train, rest held out",
                  train_indices_head=perm[:10].tolist(),
                  heldout_nearest_train_distance_median=mem["baseline"]["nearest_distance_median"]),
        networks=nets, methods=methods, memorization=mem,
        reference=dict(floor_train_vs_heldout_mean=mean_std(floor.tolist())[0],
                       floor_train_vs_heldout_std=mean_std(floor.tolist())[1],
                       floor_not_converged=int(np.sum(~floor_conv))),
        samplers=dict(langevin=dict(score_level=config.score_level, step_size=config.step_size,
                                    sigma_at_score_level=float(np.sqrt(1 - alphabar)),
                                    trained_levels=[1, config.low_max_level]),
                      **{m: samplers[m][0].metadata for m in DIFFUSION}),
        escape_threshold=ESCAPE, sampling_seconds=sampling_seconds, sinkhorn_seconds=sk_seconds,
        sinkhorn_all_converged=bool(np.all(conv) and np.all(floor_conv)),
        _ratios=ratios, _nearest=nearest, _shown=nearest_digit,
    )


def _export(config: Config, networks: dict, train: np.ndarray, seed: Optional[int]) -> None:
    """Write both networks into the package's ``nn/pretrained_data`` (maintainer's step)."""
    if seed is None:
        raise ValueError("export_pretrained needs the integer seed of the run")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import flax
    import optax

    for network, (params, tc, summary) in networks.items():
        if summary["source"] != "trained here":
            raise ValueError("export_pretrained needs networks trained by this run (pass --retrain)")
        name = pretrained_name(network, seed)
        hist = summary["_history"]
        every = max(1, len(hist) // 2000)
        q = pretrained_query(config, network)
        experiment_config = dict(_pretrained.training_fields(q), scaling=_digits.SCALING)
        provenance = dict(
            command=f"python -m experiments.{NAME} --seed {seed} --retrain --export-pretrained --no-progress-bar"
                    + (" --quick" if config == Config.quick() else ""),
            commit=commit, device=f"CPU: {_machine()}", date=datetime.date.today().isoformat(),
            software=f"jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}, "
                     f"Python {platform.python_version()}",
            seed=seed, train_steps=int(summary["steps"]), training_seconds=round(float(summary["seconds_this_run"]), 1),
            source_checkpoint=summary.get("checkpoint"), source_checkpoint_sha256=None)
        path = nn.export_pretrained(name, params, tc, train, loss_history=hist[::every], loss_history_every=every,
                                    experiment_config=experiment_config, provenance=provenance)
        _status.status(NAME, f"exported {path}")


@_plotting.styled
def plot(result: dict, out: Path, config: Config) -> None:
    """``out/memorization_digits.png`` (a 2 x 2 grid, 8 inches wide, for the docs: the ECDFs of
    the nearest / second-nearest ratio and of the nearest training distance, the Sinkhorn
    divergence per sampler, and the samplers' legend) and ``out/memorization_digits_grid.png``
    (samples of trial 0 beside their nearest training digit, 8 inches wide)."""
    import matplotlib.pyplot as plt
    import matplotlib.transforms as mtransforms

    colors = dict(ddpm="tab:purple", ddim="tab:olive", ncsn="tab:brown", pc="tab:pink", heldout_draw="k",
                  **{f"langevin_{s}": _plotting.start_color(s) for s in STARTS})
    label = lambda m: m.replace("langevin_", "ULA ").replace("heldout_draw", "held-out digits")  # noqa: E731
    fig, axd = _plotting.mosaic([["ratio", "nearest"], ["bars", "key"]], row_height=3.2, extra_height=0.5)
    for ax, values, xlabel in ((axd["ratio"], result["_ratios"], "nearest / second-nearest\ntraining distance"),
                               (axd["nearest"], result["_nearest"], "distance to the nearest\ntraining digit")):
        for m in METHODS:
            v = np.sort(np.asarray(values.get(m, np.zeros(0)), float))
            if v.size:
                ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", color=colors[m], label=label(m),
                        lw=2.2 if m == BASELINE else 1.4, ls="--" if m == BASELINE else "-")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction of samples (ECDF)")
    ax = axd["ratio"]
    ax.axvline(1 / 3, color="r", ls=":", lw=1)
    ax.text(1 / 3, 0.97, " copies: < 1/3", color="r", va="top",
            transform=mtransforms.blended_transform_factory(ax.transData, ax.transAxes))
    ax.set_xlim(0, 1)
    ax.set_title("copies: ratio near 0")
    upper = max((np.quantile(v, 0.98) for v in result["_nearest"].values() if np.asarray(v).size), default=1.0)
    axd["nearest"].set_xlim(0, upper)
    axd["nearest"].set_title("nearest training digit\n(x axis to the 98th percentile)")
    # the Sinkhorn divergences as horizontal bars: the samplers' names read across, never collide
    ax = axd["bars"]
    ms = list(METHODS)
    sk = [_plotting.as_float(result["methods"][m]["sinkhorn_mean"]) for m in ms]
    err = [_plotting.as_float(result["methods"][m]["sinkhorn_std"]) for m in ms]
    ys = np.arange(len(ms))[::-1]
    ax.barh(ys, [v if np.isfinite(v) and v > 0 else np.nan for v in sk],
            xerr=[e if np.isfinite(e) else 0.0 for e in err], color=[colors[m] for m in ms], capsize=3)
    ax.axvline(_plotting.as_float(result["reference"]["floor_train_vs_heldout_mean"]), color="r", ls=":", lw=1.2)
    ax.set_yticks(ys, [label(m) for m in ms])
    ax.set_xscale("log")
    _plotting.log_ticks(ax, "x")
    ax.set_xlabel(f"Sinkhorn divergence to held-out\ndigits (blur {config.blur:g})")
    ax.set_title("fit (red dotted: training vs\nheld-out digits, the floor)")
    _plotting.mark_nonfinite_bars(ax, ys, sk, horizontal=True)
    key = axd["key"]
    key.axis("off")
    key.legend(*axd["ratio"].get_legend_handles_labels(), loc="center", title="sampler (ECDFs)")
    _plotting.suptitle(fig, f"Digits (d = 64, {result['data']['num_train']} training digits): copies and fit "
                            f"of each sampler, {config.trials} trials x {config.chains} chains", width=80)
    _output.save_figure(fig, Path(out) / f"{NAME}.png", tight=False)

    shown = [m for m in METHODS if m in result["_shown"]]
    # (sample, its nearest training digit) pairs, a narrow gap between pairs
    ratios = ([1, 1, 0.3] * GRID)[:-1]
    fig = plt.figure(figsize=(_plotting.FIG_WIDTH, 0.64 * len(shown) + 0.95))
    grid = fig.add_gridspec(len(shown), len(ratios), width_ratios=ratios, left=0.15, right=0.995,
                            top=1 - 0.8 / (0.64 * len(shown) + 0.95), bottom=0.01, wspace=0.08, hspace=0.35)
    for i, m in enumerate(shown):
        samples, nearest, ratio = result["_shown"][m]
        samples, nearest, ratio = np.asarray(samples), np.asarray(nearest), np.asarray(ratio)
        for j in range(GRID):
            for k, img in ((0, samples), (1, nearest)):
                ax = fig.add_subplot(grid[i, 3 * j + k])
                ax.set_xticks([])
                ax.set_yticks([])
                if j >= len(samples):
                    ax.axis("off")
                    continue
                ax.imshow(_digits.as_images(img[j]), cmap="gray_r", vmin=-1, vmax=1)
                if k == 0:
                    copy = ratio[j] < 1 / 3
                    ax.set_title(f"{ratio[j]:.2f}", pad=2, color="r" if copy else "k",
                                 fontweight="bold" if copy else "normal")
                    for s in ax.spines.values():
                        s.set_edgecolor("r" if copy else colors[m])
                        s.set_linewidth(2.5 if copy else 1.5)
                else:
                    for s in ax.spines.values():
                        s.set_edgecolor("0.6")
                if j == 0 and k == 0:
                    ax.set_ylabel(label(m), rotation=0, ha="right", va="center", labelpad=6)
    _plotting.suptitle(fig, "Trial 0: each sample (framed in its sampler's colour, its nearest / second-nearest "
                            "ratio above; red and bold when < 1/3, a copy) beside its nearest training digit "
                            "(grey frame). ULA fresh / train: one chain per starting digit.", width=95)
    _output.save_figure(fig, Path(out) / f"{NAME}_grid.png", tight=False)


def findings(payload: dict) -> list[str]:
    """What the numbers show, in sentences computed from them (whatever they show): who copies,
    whether train starts stay nearer their digit than fresh starts, whether fresh starts drift
    towards the training digits, and how close the diffusion samplers come to the floor. Two
    medians count as different when they differ by more than twice their trial spreads."""
    f = payload["methods"]

    def apart(a: str, b: str) -> bool:
        gap = f[a]["ratio_median_mean"] - f[b]["ratio_median_mean"]
        spread = (f[a]["ratio_median_std"] or 0.0) + (f[b]["ratio_median_std"] or 0.0)
        return abs(gap) > 2 * spread

    def ratio(m: str) -> str:
        return fmt_pm(f[m]["ratio_median_mean"], f[m]["ratio_median_std"], 3)

    copying = [m for m in METHODS if f[m]["copy_fraction_mean"] > 0]
    out = ["No sampler copies: no sample has a nearest/second-nearest ratio below 1/3." if not copying else
           "Copies (ratio < 1/3): " + ", ".join(f"{m} {f[m]['copy_fraction_mean']:.3f}" for m in copying) + "."]
    train, fresh = "langevin_train", "langevin_fresh"
    if apart(train, fresh) and f[train]["ratio_median_mean"] < f[fresh]["ratio_median_mean"]:
        out.append(f"Train starts end nearer their own training digit than fresh starts end to any (median ratio "
                   f"{ratio(train)} vs {ratio(fresh)}).")
    else:
        out.append(f"Train and fresh starts are not told apart by the median ratio ({ratio(train)} vs {ratio(fresh)}).")
    if apart(fresh, BASELINE) and f[fresh]["ratio_median_mean"] < f[BASELINE]["ratio_median_mean"]:
        out.append(f"Fresh starts drift towards training digits: median ratio {ratio(fresh)}, held-out digits "
                   f"{ratio(BASELINE)}.")
    else:
        out.append(f"Fresh starts do not drift towards training digits (median ratio {ratio(fresh)}, held-out digits "
                   f"{ratio(BASELINE)}).")
    floor = payload["reference"]["floor_train_vs_heldout_mean"]
    out.append("Diffusion samplers, Sinkhorn divergence to held-out digits against the floor "
               f"{floor:.3g}: " + ", ".join(f"{m} {f[m]['sinkhorn_mean']:.3g} ({f[m]['copy_fraction_mean']:.3f} copies)"
                                           for m in DIFFUSION) + ".")
    return out


def _markdown(config: Config, payload: dict) -> str:
    rows = []
    for m in METHODS:
        f = payload["methods"][m]
        rows.append([m, fmt_pm(f["sinkhorn_mean"], f["sinkhorn_std"], 4),
                     fmt_pm(f["copy_fraction_mean"], f["copy_fraction_std"], 3),
                     fmt_pm(f["nearest_distance_median_mean"], f["nearest_distance_median_std"], 3),
                     fmt_pm(f["ratio_median_mean"], f["ratio_median_std"], 3),
                     "n/a" if f["escaped_fraction"] is None else f"{f['escaped_fraction']:.3f}",
                     f["nonfinite_chains"], f["sinkhorn_not_converged"]])
    table = _output.markdown_table(
        ["sampler", f"Sinkhorn to held-out digits (mean ± std, {config.trials} trials)",
         "copies (ratio < 1/3)", "median nearest training distance", "median nearest / second-nearest ratio",
         f"escaped (a pixel beyond ±{ESCAPE:g})", "non-finite chains", "Sinkhorn not converged"], rows)
    ref, data = payload["reference"], payload["data"]
    nets = []
    for network, s in payload["networks"].items():
        where = (f"shipped `{s['pretrained']}` (trained on {s['provenance']['device']} in "
                 f"{s['provenance'].get('training_seconds', float('nan')):.0f} s)" if s["source"] == "pretrained"
                 else f"trained here in {s['seconds_this_run']:.0f} s")
        nets.append(f"- {network}-levels network: MLP {s['depth']} x {s['width']} ({s['num_params']:,} parameters), "
                    f"levels {s['levels'][0]}..{s['levels'][1]}, {s['steps']} full-batch Adam steps (lr "
                    f"{s['learning_rate']:g}, {s['lr_schedule']}), loss {s['loss_first']:.3f} -> "
                    f"{s['loss_final']:.3f}; {where}.")
    return (
        f"# Theorem 7 on real data: scikit-learn's digits (d = 64)\n\n"
        f"Data: {data['num_digits']} digits, scaled {data['scaling']}; {data['num_train']} training digits, "
        f"{data['num_heldout']} held out (seeded permutation). The reference of each Sinkhorn divergence is "
        f"{config.sinkhorn_points} held-out digits; `heldout_draw` is another, disjoint draw of as many (the "
        f"baseline); the fresh starts are {config.num_seeds} further held-out digits.\n\n"
        + "\n".join(nets) + "\n\n"
        f"ULA: score at level {config.score_level} of the low-levels network, h = {config.step_size:g}, "
        f"{config.langevin_steps} steps; DDPM over 1000 levels, DDIM over {config.ddim_steps}, NCSN "
        f"{config.ncsn_noise_levels} levels x {config.ncsn_steps_per_level} steps, PC reverse diffusion + "
        f"{config.pc_corrector_steps} corrector step(s); {config.chains} chains per sampler and trial.\n\n"
        f"**What the numbers show.** {' '.join(findings(payload))}\n\n"
        f"{table}\n"
        f"Floor (as many training digits against the same held-out reference): "
        f"{fmt_pm(ref['floor_train_vs_heldout_mean'], ref['floor_train_vs_heldout_std'], 4)}. "
        f"Elapsed {payload['elapsed_seconds']:.0f} s (sampling {payload['sampling_seconds']:.0f} s).\n\n"
        + memorization_markdown(payload["memorization"]) + "\n"
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a run goes, never its numbers.

    Attributes:
      retrain: train both networks here even when the shipped ones match (checkpointed in --out).
      progress_bar: progress bars on stderr.
      chunk_size: optimiser steps per compiled training scan.
      export_pretrained: after training (with --retrain), write both networks into the package's
        nn/pretrained_data (a maintainer's step).
    """

    retrain: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    progress_bar: bool = True
    chunk_size: int = 500
    export_pretrained: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False


def main(argv=None) -> dict:
    parsed = _cli.parse(argv, NAME, "Theorem 7 on real data: learned-score Langevin (vanilla / fresh / train "
                        "starts) vs DDPM, DDIM, NCSN and PC on scikit-learn's digits", Config,
                        configs={"default": Config, "quick": Config.quick}, settings=Settings)
    if parsed.settings["chunk_size"] < 1:
        _cli.fail(f"python -m experiments.{NAME}", f"--chunk-size {parsed.settings['chunk_size']}: must be >= 1")
    if parsed.settings["export_pretrained"] and not parsed.settings["retrain"]:
        _cli.fail(f"python -m experiments.{NAME}", "--export-pretrained needs --retrain")
    return _cli.execute(parsed, NAME, run, lambda result, out: plot(result, out, parsed.config), _markdown,
                        run_options=dict(parsed.settings, seed=parsed.common.seed))


if __name__ == "__main__":
    main()
