"""Pretrained paper denoisers shipped with the package, and how to export new ones.

Each pretrained denoiser is two files in ``langevin_jax/nn/pretrained_data/``:

* ``<name>.npz``: the parameters (one array per leaf, keyed ``"params/<layer>/<kernel|bias>"``),
  the exact training points (``"train_points"``, before duplication) and a subsampled loss
  history (``"loss_history"``);
* ``<name>.json``: the model and training configuration, the experiment configuration it
  belongs to, provenance (command, commit, device, date, software, the SHA-256 of the source
  checkpoint), reference outputs ``eps(x, t)`` at a few fixed points, the SHA-256 of the
  ``.npz`` and the SHA-256 of the metadata itself (``metadata_sha256``, over the record's
  other fields), both verified on every read: an edited or corrupt file is a named error,
  never a network that silently differs from the one shipped.

Each JSON also holds ``known_limits``: sentences with numbers that ``docs/measure_pretrained.py``
measured by sampling the network (re-run it after exporting a new one).

The three shipped denoisers were trained on an NVIDIA H100 by this project's own commands (the
``paper`` configurations of `experiments.memorization` and
`experiments.diffusion_vs_langevin`, seed 0): 150,000 full-batch Adam steps, which take
4.4 h and 12.6 h on a 2-core CPU but seconds to sample with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _io, diffusion
from langevin_jax.nn.denoiser import DenoiserConfig, Params, apply_denoiser, init_denoiser, trained_eps_fn
from langevin_jax.nn.train import TrainConfig
from langevin_jax.types import ArrayLike

__all__ = ["Pretrained", "pretrained_names", "pretrained_catalog", "pretrained_metadata", "load_pretrained",
           "export_pretrained", "write_pretrained_metadata", "pretrained_train_config", "PRETRAINED_DIR"]

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained_data"

# run settings that files exported before they became train_denoiser's arguments still record in
# their train_config (with the values None, None, False, 500): read and ignored
_RUN_SETTINGS = ("checkpoint_path", "checkpoint_every", "progress_bar", "chunk_size")


class Pretrained(NamedTuple):
    """What a user needs to sample with a shipped denoiser.

    Attributes:
      name: the name it was loaded by.
      params: the Flax parameters (a pytree of float32 arrays).
      model: its [`DenoiserConfig`][langevin_jax.nn.pretrained.DenoiserConfig].
      train_config: the [`TrainConfig`][langevin_jax.nn.pretrained.TrainConfig] it was trained with.
      schedule: the [`langevin_jax.diffusion.NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] of that training.
      train_points: ``[n, d]`` the exact (distinct) points it was trained on; the training
        data was these points repeated ``experiment_config["duplicates"]`` times.
      loss_history: the training loss, subsampled (every ``loss_history_every`` steps).
      loss_history_every: the subsampling step of ``loss_history``.
      experiment_config: the fields of the experiment configuration it belongs to.
      provenance: command, commit, device, date, software versions, source checksum.
      known_limits: measured limits of the network (sentences with their numbers and the
        command that measured them), e.g. that its DDPM samples are under-dispersed.
    """

    name: str
    params: Params
    model: DenoiserConfig
    train_config: TrainConfig
    schedule: diffusion.NoiseSchedule
    train_points: jax.Array
    loss_history: np.ndarray
    loss_history_every: int
    experiment_config: dict
    provenance: dict
    known_limits: tuple = ()

    @property
    def trained_levels(self) -> tuple[int, int]:
        """``(min_level, max_level)``: the levels it was trained on (and is valid at)."""
        return self.train_config.trained_levels

    @property
    def eps_fn(self):
        """Its noise predictor ``eps_fn(x[d], t[]) -> [d]``, carrying its trained levels (a
        [`langevin_jax.diffusion.LevelledFn`][langevin_jax.diffusion.LevelledFn]): every sampler
        refuses to evaluate it at another level unless told ``allow_untrained_levels=True``."""
        return trained_eps_fn(self.params, self.train_config)

    def score_fn(self, level: int, *, allow_untrained_levels: bool = False):
        r"""The Langevin score at one level $\ell$ = ``level``, $-\varepsilon(x, \ell) / \sqrt{1 - \bar\alpha_\ell}$
        (``level`` inside its trained levels unless ``allow_untrained_levels``)."""
        return diffusion.score_at_level(self.eps_fn, self.schedule, level,
                                        allow_untrained_levels=allow_untrained_levels)


def pretrained_names(directory: Optional[Path] = None) -> list[str]:
    """The names [`load_pretrained`][langevin_jax.nn.pretrained.load_pretrained] accepts (sorted).
    [`pretrained_catalog`][langevin_jax.nn.pretrained.pretrained_catalog] says what each is: its
    data, the levels it was trained on, and its measured limits."""
    directory = PRETRAINED_DIR if directory is None else Path(directory)
    return sorted(p.stem for p in directory.glob("*.json"))


def pretrained_catalog(directory: Optional[Path] = None) -> list[dict]:
    """What each shipped network is, read from its metadata (no parameters loaded).

    Returns:
      One dict per name of [`pretrained_names`][langevin_jax.nn.pretrained.pretrained_names],
      with ``name``; ``data`` (the target, ``d``, the number of distinct training points and their
      duplication, the target's variance); ``trained_levels`` ``[min_level, max_level]`` (the
      levels the samplers may use it at) of ``num_levels``; ``num_params``; ``trained_on``
      (device and date); and ``known_limits``, measured sentences with their numbers (e.g. the
      variance of its DDPM samples against the data's).

    Examples:
      >>> from langevin_jax import nn
      >>> [(c["name"], c["trained_levels"]) for c in nn.pretrained_catalog() if "paper" in c["name"]][:2]
      [('diffusion_vs_langevin_gaussian_paper_seed0', [1, 1000]), ('memorization_gaussian_paper_seed0', [1, 100])]
    """
    out = []
    for name in pretrained_names(directory):
        meta = pretrained_metadata(name, directory)
        exp, train = meta["experiment_config"], meta["train_config"]
        data = {k: exp.get(k) for k in ("target", "d", "num_train", "duplicates", "variance")}
        out.append(dict(name=name, data=data, trained_levels=[train["min_level"], train["max_level"]],
                        num_levels=train["num_levels"], num_params=meta.get("num_params"),
                        trained_on=f"{meta['provenance'].get('device')}, {meta['provenance'].get('date')}",
                        known_limits=list(meta.get("known_limits", []))))
    return out


def pretrained_metadata(name: str, directory: Optional[Path] = None) -> dict:
    """The ``<name>.json`` record (configs, provenance, checksums) without loading the
    parameters, after verifying its own checksum (``metadata_sha256``).

    Raises:
      ValueError: an unknown name (the message lists the known ones), an unreadable file, or
        a record whose checksum is missing or differs (an edited or corrupt file: the message
        names the file and says to reinstall, or to re-export a file of your own).
    """
    directory = PRETRAINED_DIR if directory is None else Path(directory)
    names = pretrained_names(directory)
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"name must be one of {names}, got {name!r}")
    meta_path = directory / f"{name}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"pretrained metadata {meta_path} is unreadable ({err}); reinstall langevin_jax") from err
    if not isinstance(meta, dict) or "metadata_sha256" not in meta:
        raise ValueError(f"pretrained metadata {meta_path} has no metadata_sha256 (written by hand or by an "
                         "older version); reinstall langevin_jax, or re-export the file "
                         "(nn.write_pretrained_metadata signs an edited record)")
    digest = _metadata_digest(meta)
    if digest != meta["metadata_sha256"]:
        raise ValueError(f"pretrained metadata {meta_path} was edited or is corrupt: its SHA-256 {digest} differs "
                         f"from the recorded {meta['metadata_sha256']}; reinstall langevin_jax (or re-export "
                         "the file)")
    return meta


def _metadata_digest(meta: dict) -> str:
    """SHA-256 of the record without its ``metadata_sha256`` (canonical JSON: sorted keys)."""
    body = {k: v for k, v in meta.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_pretrained_metadata(name: str, meta: dict, directory: Optional[Path] = None) -> Path:
    """Sign ``meta`` (set its ``metadata_sha256``) and write it atomically as ``<name>.json``:
    how [`export_pretrained`][langevin_jax.nn.pretrained.export_pretrained] and
    ``docs/measure_pretrained.py`` (which adds ``known_limits``) write a record. Returns the path."""
    directory = PRETRAINED_DIR if directory is None else Path(directory)
    meta = dict(meta, metadata_sha256=_metadata_digest(meta))
    path = directory / f"{name}.json"
    _io.write_atomic(path, json.dumps(meta, indent=1, sort_keys=True))
    return path


def pretrained_train_config(meta: dict) -> TrainConfig:
    """The [`TrainConfig`][langevin_jax.nn.pretrained.TrainConfig] a shipped denoiser was
    trained with, from its metadata ([`pretrained_metadata`][langevin_jax.nn.pretrained.pretrained_metadata])."""
    fields = {k: v for k, v in meta["train_config"].items() if k not in _RUN_SETTINGS}
    return TrainConfig(model=DenoiserConfig(**meta["model"]), **fields)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _unflatten(flat: dict) -> dict:
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = jnp.asarray(value)
    return tree


def _flatten(tree, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else key
        if isinstance(value, dict) or hasattr(value, "items"):
            out.update(_flatten(value, path))
        else:
            out[path] = np.asarray(value)
    return out


def load_pretrained(name: str, directory: Optional[Path] = None) -> Pretrained:
    """Load a shipped denoiser after verifying its checksum.

    Args:
      name: one of [`pretrained_names`][langevin_jax.nn.pretrained.pretrained_names], e.g.
        ``"memorization_gaussian_paper_seed0"``.
      directory: where to look (default: the package's ``nn/pretrained_data`` folder).

    Returns:
      A [`Pretrained`][langevin_jax.nn.pretrained.Pretrained].

    Raises:
      ValueError: an unknown name (the message lists the known ones), or a file that is missing,
        unreadable or whose SHA-256 differs from the one recorded (a corrupt or edited file: the
        message says which file and to reinstall the package).

    Examples:
      >>> from langevin_jax import nn
      >>> p = nn.load_pretrained("memorization_gaussian_paper_seed0")
      >>> p.model.width, p.train_points.shape
      (256, (1000, 50))
    """
    directory = PRETRAINED_DIR if directory is None else Path(directory)
    meta = pretrained_metadata(name, directory)
    data_path = directory / f"{name}.npz"
    if not data_path.exists():
        raise ValueError(f"pretrained parameters {data_path} are missing; reinstall langevin_jax")
    digest = _sha256(data_path)
    if digest != meta.get("npz_sha256"):
        raise ValueError(
            f"pretrained parameters {data_path} are corrupt: SHA-256 {digest} differs from the recorded "
            f"{meta.get('npz_sha256')}; reinstall langevin_jax (or re-export the file)"
        )
    with np.load(data_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    params = _unflatten({k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")})
    train_config = pretrained_train_config(meta)
    model = train_config.model
    _check_param_shapes(params, model, data_path)
    return Pretrained(
        name=name, params=params, model=model, train_config=train_config,
        schedule=train_config.noise_schedule(), train_points=jnp.asarray(arrays["train_points"]),
        loss_history=arrays["loss_history"], loss_history_every=int(meta["loss_history_every"]),
        experiment_config=meta["experiment_config"],
        provenance=meta["provenance"],
        known_limits=tuple(meta.get("known_limits", ())),
    )


def _check_param_shapes(params: Params, model: DenoiserConfig, path: Path) -> None:
    """A ``ValueError`` naming the file when the parameters are not the shapes of ``model``."""
    want = jax.eval_shape(lambda: init_denoiser(jax.random.key(0), model))
    def shapes(tree) -> dict:
        leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
        return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(v.shape) for path, v in leaves}

    got_shapes, want_shapes = shapes(params), shapes(want)
    if got_shapes != want_shapes:
        diff = sorted(k for k in set(got_shapes) | set(want_shapes) if got_shapes.get(k) != want_shapes.get(k))
        raise ValueError(f"pretrained parameters {path} do not fit the recorded model {model}: "
                         f"{', '.join(f'{k} is {got_shapes.get(k)}, expected {want_shapes.get(k)}' for k in diff[:3])}; "
                         "reinstall langevin_jax (or re-export the file)")


def reference_inputs(dim: int, num: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The fixed points ``x [num, d]`` and levels ``t [num]`` whose ``eps`` is recorded at export."""
    rng = np.random.default_rng(20261126)
    return rng.standard_normal((num, dim)).astype(np.float32), np.array([1, 10, 100, 1000][:num], np.int32)


def export_pretrained(name: str, params: Params, train_config: TrainConfig, train_points: ArrayLike, *,
                      loss_history: ArrayLike,
                      experiment_config: dict, provenance: dict, directory: Optional[Path] = None,
                      loss_history_every: int = 1) -> Path:
    """Write ``<name>.npz`` and ``<name>.json`` (atomically) for
    [`load_pretrained`][langevin_jax.nn.pretrained.load_pretrained].

    Records ``eps(x, t)`` at `reference_inputs` so a load can be checked against the
    network it came from. Returns the ``.json`` path.
    """
    directory = PRETRAINED_DIR if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"params/{k}": v.astype(np.float32) for k, v in _flatten(params).items()}
    arrays["train_points"] = np.asarray(train_points, np.float32)
    arrays["loss_history"] = np.asarray(loss_history, np.float32)
    data_path = directory / f"{name}.npz"
    tmp = directory / f".{name}.npz.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    tmp.replace(data_path)
    x, t = reference_inputs(train_config.model.dim)
    eps = np.asarray(apply_denoiser(params, train_config.model, jnp.asarray(x), jnp.asarray(t)))
    fields = dataclasses.asdict(train_config)
    fields.pop("model")
    meta = dict(
        name=name, model=dataclasses.asdict(train_config.model), train_config=fields,
        experiment_config=experiment_config, provenance=provenance,
        loss_history_every=int(loss_history_every),
        num_params=int(sum(v.size for k, v in arrays.items() if k.startswith("params/"))),
        reference_eps=dict(x=x.tolist(), t=t.tolist(), eps=eps.tolist()),
        npz_sha256=_sha256(data_path),
    )
    return write_pretrained_metadata(name, meta, directory)
