"""Convert the ``paper`` checkpoints of the learned-score experiments into the package's
pretrained files (a maintainer's command, not an experiment).

``python -m experiments.export_pretrained SRC [--dest DIR]``: ``SRC`` holds the checkpoints
written by ``python -m experiments.memorization --config paper`` and
``python -m experiments.diffusion_vs_langevin --config paper`` (renamed as in
:data:`experiments._pretrained.SHIPPED`) and their exact training points,
``train_<target>_seed0.npz``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Optional

import jax.numpy as jnp
import numpy as np

from experiments import diffusion_vs_langevin, memorization
from experiments._pretrained import PROVENANCE, SHIPPED, training_fields
from langevin_jax import nn


def export(src: Path, directory: Optional[Path] = None) -> list[Path]:
    """Convert the ``paper`` checkpoints in ``src`` into pretrained files (see module doc)."""
    paths = []
    for name, (experiment, target, ckpt_name) in SHIPPED.items():
        if ckpt_name is None:  # exported by its own experiment (memorization_digits --export-pretrained)
            continue
        mod = memorization if experiment == "memorization" else diffusion_vs_langevin
        config = mod.Config.paper(target)
        tcfg = config.training
        ckpt_path = Path(src) / ckpt_name
        ckpt = nn.load_checkpoint(ckpt_path, tcfg)
        train = np.load(Path(src) / f"train_{target}_seed0.npz")["train"]
        data_hash = nn.data_hash(jnp.repeat(jnp.asarray(train), config.duplicates, axis=0))
        if data_hash != ckpt["data_hash"]:
            raise ValueError(f"{ckpt_path}: the training points do not match the checkpoint's data hash")
        hist = ckpt["loss_history"]
        every = max(1, len(hist) // 2000)
        command = (f"python -m experiments.{experiment} --config paper --target {target} --no-progress")
        provenance = dict(PROVENANCE, command=command, source_checkpoint=ckpt_name,
                          source_checkpoint_sha256=hashlib.sha256(ckpt_path.read_bytes()).hexdigest(),
                          train_steps=int(ckpt["step"]))
        paths.append(nn.export_pretrained(
            name, ckpt["params"], tcfg, train,
            loss_history=hist[::every], loss_history_every=every,
            experiment_config=training_fields(config), provenance=provenance, directory=directory))
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.export_pretrained",
                                     description="Export the paper checkpoints as pretrained files")
    parser.add_argument("src", type=Path, help="folder with the checkpoints and train_<target>_seed0.npz")
    parser.add_argument("--dest", type=Path, default=None, help="default: the package's nn/pretrained_data")
    args = parser.parse_args(argv)
    for p in export(args.src, args.dest):
        print(p)


if __name__ == "__main__":
    main()
