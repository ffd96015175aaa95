"""Which shipped pretrained denoiser belongs to a learned-score experiment's configuration and
seed (:func:`find_pretrained`), and what the shipped files record (``SHIPPED``, ``PROVENANCE``).

Loading or training the denoiser is :func:`experiments._learned.load_or_train`; turning the
GPU checkpoints into shipped files is ``python -m experiments.export_pretrained``.
"""

from __future__ import annotations

from typing import Optional

from langevin_jax import nn

# the fields of an experiment Config that fix the training data (the training itself: its
# embedded nn.TrainConfig, compared by fingerprint)
DATA_FIELDS = ("target", "d", "variance", "num_train", "duplicates")

SHIPPED = {  # name -> (experiment, target, source checkpoint)
    "memorization_gaussian_paper_seed0": ("memorization", "gaussian", "memorization_gaussian_paper_seed0.ckpt"),
    "memorization_mixture_paper_seed0": ("memorization", "mixture", "memorization_mixture_paper_seed0.ckpt"),
    "diffusion_vs_langevin_gaussian_paper_seed0": ("diffusion_vs_langevin", "gaussian",
                                                   "diffusion_vs_langevin_gaussian_paper_seed0.ckpt"),
    # trained and exported on a 2-core CPU by the experiment itself (no source checkpoint):
    # python -m experiments.memorization_digits --seed 0 --retrain --export-pretrained
    "memorization_digits_low_levels_seed0": ("memorization_digits", "sklearn_digits_pm1", None),
    "memorization_digits_all_levels_seed0": ("memorization_digits", "sklearn_digits_pm1", None),
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
        shipped = nn.pretrained_train_config(meta)
        if ({f: meta["experiment_config"][f] for f in DATA_FIELDS} == data and _fingerprint(shipped) == want
                and meta["provenance"].get("seed") == seed):
            return name
    return None


def _flat(experiment_config: dict, train_config: nn.TrainConfig) -> dict:
    """Data fields, training fingerprint and network fields of a configuration, flat."""
    out = {f: experiment_config[f] for f in DATA_FIELDS}
    fields = _fingerprint(train_config)
    out.update({k: v for k, v in fields.pop("model").items() if k not in ("dim", "num_levels")})
    out.update({k: v for k, v in fields.items() if k != "num_levels"})
    return out


def closest_pretrained(experiment: str, config, seed: int) -> Optional[tuple[str, list[tuple[str, object]]]]:
    """The shipped denoiser of ``experiment`` whose data, training and seed differ from
    ``config``'s in the fewest fields, and those fields with the shipped values
    (``[("learning_rate", 0.001), ...]``); ``None`` when the experiment has none."""
    want = dict(_flat({f: getattr(config, f) for f in DATA_FIELDS}, config.training), seed=seed)
    best = None
    for name in nn.pretrained_names():
        if not name.startswith(experiment + "_"):
            continue
        meta = nn.pretrained_metadata(name)
        have = dict(_flat(meta["experiment_config"], nn.pretrained_train_config(meta)),
                    seed=meta["provenance"].get("seed"))
        diffs = [(k, have.get(k)) for k in want if have.get(k) != want[k]]
        if best is None or len(diffs) < len(best[1]):
            best = (name, diffs)
    return best
