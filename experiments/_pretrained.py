"""The learned-score experiments' denoisers: a shipped pretrained one when it matches the
configuration and seed, else trained (and checkpointed) here.

``python -m experiments._pretrained export SRC`` converts the ``paper`` checkpoints written by
:mod:`experiments.memorization` / :mod:`experiments.diffusion_vs_langevin` (with their exact
training points, ``train_<target>_seed0.npz``) into the package's pretrained files.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import nn

# the fields of an experiment Config that fix the training data (the training itself: its
# embedded nn.TrainConfig, compared by fingerprint)
DATA_FIELDS = ("target", "d", "variance", "num_train", "duplicates")

SHIPPED = {  # name -> (experiment, target, source checkpoint)
    "memorization_gaussian_paper_seed0": ("memorization", "gaussian", "memorization_gaussian_paper_seed0.ckpt"),
    "memorization_mixture_paper_seed0": ("memorization", "mixture", "memorization_mixture_paper_seed0.ckpt"),
    "diffusion_vs_langevin_gaussian_paper_seed0": ("diffusion_vs_langevin", "gaussian",
                                                   "diffusion_vs_langevin_gaussian_paper_seed0.ckpt"),
}

PROVENANCE = dict(
    commit="2a82abc",
    device="one NVIDIA H100 80GB HBM3 (driver 580.159.04)",
    date="2026-11-26",
    software="jax 0.11.2 (CUDA), flax 0.12.10, optax 0.2.8, ott-jax 0.6.0, Python 3.12",
    seed=0,
)


def training_fields(config) -> dict:
    """The ``experiment_config`` record of a pretrained file: the data fields and the training
    settings, flat (the format of the shipped files)."""
    t = config.training
    return dict({f: getattr(config, f) for f in DATA_FIELDS}, width=t.model.width, depth=t.model.depth,
                time_embedding=t.model.time_embedding, train_steps=t.num_steps, learning_rate=t.learning_rate,
                lr_schedule=t.lr_schedule, batch_size=t.batch_size, min_level=t.min_level,
                max_level=t.max_level, level_sampling=t.level_sampling)


def _fingerprint(train_config: nn.TrainConfig) -> dict:
    """What fixes the parameters trained from given data: the training fingerprint and length."""
    return dict(train_config.fingerprint(), num_steps=train_config.num_steps)


def find_pretrained(experiment: str, config, seed: Optional[int]) -> Optional[str]:
    """The name of a shipped denoiser trained exactly as ``config`` with ``seed``, or ``None``:
    the same data fields, and the same training (every field of the embedded
    [`nn.TrainConfig`][langevin_jax.nn.TrainConfig] and its network that changes the
    parameters)."""
    if seed is None:
        return None
    data = {f: getattr(config, f) for f in DATA_FIELDS}
    want = _fingerprint(config.training)
    for name in nn.pretrained_names():
        if not name.startswith(experiment + "_"):
            continue
        meta = nn.pretrained_metadata(name)
        shipped = nn.TrainConfig(model=nn.DenoiserConfig(**meta["model"]), **meta["train_config"])
        if ({f: meta["experiment_config"][f] for f in DATA_FIELDS} == data and _fingerprint(shipped) == want
                and meta["provenance"].get("seed") == seed):
            return name
    return None


def seed_of(key) -> Optional[int]:
    """``s`` when ``key`` is ``jax.random.key(s)`` for a small ``s`` (the experiments' seeds)."""
    data = np.asarray(jax.random.key_data(key))
    if data.shape == (2,) and data[0] == 0 and data[1] < 2**31:
        candidate = int(data[1])
        if np.array_equal(np.asarray(jax.random.key_data(jax.random.key(candidate))), data):
            return candidate
    return None


def denoiser(experiment: str, config, key, k_train, train_points, data, tcfg, *, retrain: bool,
             checkpoint: Optional[Path]):
    """``(params, train_points, loss_history, loss_history_every, summary)`` for a run.

    A shipped denoiser is used when one matches ``config`` and the seed of ``key`` (the run's
    key) and ``retrain`` is off; its exact training points replace ``train_points`` (a CPU
    redraws them only to within one float32 ulp of the GPU that trained it). Otherwise the
    network is trained here from ``k_train`` (resuming from ``checkpoint``).
    """
    name = None if retrain else find_pretrained(experiment, config, seed_of(key))
    if name is not None:
        p = nn.load_pretrained(name)
        params, hist, every = p.params, np.asarray(p.loss_history), p.loss_history_every
        summary = dict(
            source="pretrained", pretrained=name, provenance=p.provenance, steps=config.training.num_steps,
            seconds_this_run=0.0, resumed_from=config.training.num_steps, reused=True, checkpoint=None,
            max_abs_diff_train_points_vs_redrawn=float(jnp.max(jnp.abs(p.train_points - train_points))),
        )
        train_points = p.train_points
    else:
        result = nn.train_denoiser(k_train, data, tcfg)
        params, hist, every = result.params, result.loss_history, 1
        summary = dict(
            source="trained here", pretrained=None, steps=result.step, seconds_this_run=result.elapsed_seconds,
            resumed_from=result.resumed_from, reused=result.resumed_from == config.training.num_steps,
            checkpoint=None if checkpoint is None else checkpoint.name,
        )
    tail = max(1, len(hist) // 100)
    summary.update(loss_first=float(np.mean(hist[:tail])), loss_final=float(np.mean(hist[-tail:])),
                   num_params=nn.num_params(params))
    return params, train_points, hist, every, summary


def export(src: Path, directory: Optional[Path] = None) -> list[Path]:
    """Convert the ``paper`` checkpoints in ``src`` into pretrained files (see module doc)."""
    from experiments import _learned, diffusion_vs_langevin, memorization

    paths = []
    for name, (experiment, target, ckpt_name) in SHIPPED.items():
        mod = memorization if experiment == "memorization" else diffusion_vs_langevin
        config = mod.Config.paper(target)
        tcfg = _learned.train_config(config, None)
        ckpt_path = Path(src) / ckpt_name
        ckpt = nn.load_checkpoint(ckpt_path, tcfg)
        train = np.load(Path(src) / f"train_{target}_seed0.npz")["train"]
        data_hash = nn.train._data_hash(jnp.repeat(jnp.asarray(train), config.duplicates, axis=0))
        if data_hash != ckpt["data_hash"]:
            raise ValueError(f"{ckpt_path}: the training points do not match the checkpoint's data hash")
        hist = ckpt["loss_history"]
        every = max(1, len(hist) // 2000)
        command = (f"python -m experiments.{experiment} --config paper --target {target} --no-progress")
        provenance = dict(PROVENANCE, command=command, source_checkpoint=ckpt_name,
                          source_checkpoint_sha256=hashlib.sha256(ckpt_path.read_bytes()).hexdigest(),
                          train_steps=int(ckpt["step"]))
        paths.append(nn.export_pretrained(
            name, ckpt["params"], dataclasses.replace(tcfg, progress_bar=False), train,
            loss_history=hist[::every], loss_history_every=every,
            experiment_config=training_fields(config), provenance=provenance, directory=directory))
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Export the paper checkpoints as pretrained files")
    parser.add_argument("command", choices=["export"])
    parser.add_argument("src", type=Path, help="folder with the checkpoints and train_<target>_seed0.npz")
    parser.add_argument("--dest", type=Path, default=None, help="default: the package's nn/pretrained_data")
    args = parser.parse_args(argv)
    for p in export(args.src, args.dest):
        print(p)


if __name__ == "__main__":
    main()
