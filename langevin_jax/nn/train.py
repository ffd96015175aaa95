r"""Training the denoiser with Optax on the DDPM epsilon loss, with checkpoints and resume.

Loss (Ho et al. 2020, Algorithm 1; Cao et al. 2026, Section 9): at step $k$, draw levels
$t$ uniform on $\{\mathtt{min\_level}, \dots, \mathtt{max\_level}\}$ (one per example, or one for the whole
batch), fresh noise $\varepsilon \sim \mathcal{N}(0, I)$, and minimise the mean squared error

$$
L(\theta) = \operatorname*{mean}_{i, j} \Bigl(\varepsilon_\theta\bigl(\sqrt{\bar\alpha_t}\, x_i
+ \sqrt{1 - \bar\alpha_t}\, \varepsilon_i,\, t\bigr)_j - \varepsilon_{ij}\Bigr)^2
$$

over the batch (the whole data set, or a minibatch drawn with replacement), with Adam.

Reproducibility: every random draw of step $k$ comes from ``fold_in(key, k)``, so the
result does not depend on how the steps are cut into jitted chunks, and a run resumed from a
checkpoint ends with bit-identical parameters to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import time
from pathlib import Path
from typing import ClassVar, NamedTuple, Optional, Union, cast

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from langevin_jax import _checks, _io, _progress, diffusion
from langevin_jax.nn.denoiser import DenoiserConfig, MLPDenoiser, Params, init_denoiser, trained_eps_fn
from langevin_jax.samplers.base import tree_is_finite
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train_denoiser",
    "load_checkpoint",
    "make_optimizer",
    "epsilon_loss",
    "data_hash",
]

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    r"""How to train a denoiser.

    Attributes:
      model: the [`DenoiserConfig`][langevin_jax.nn.train.DenoiserConfig].
      num_steps: optimiser steps (150,000 in Cao et al. 2026).
      learning_rate: Adam's step size (the paper's value was lost in our copy; ``1e-3`` is
        a reconstruction).
      lr_schedule: ``"constant"`` or ``"cosine"`` (cosine decay to 0 over ``num_steps``).
      batch_size: ``None`` for full batch (the paper), else a minibatch size drawn with
        replacement each step.
      min_level, max_level: the levels trained on (the paper: $1, \dots, 100$, the 100 lowest).
      level_sampling: ``"per_example"`` (a level per row, as in Ho et al.) or
        ``"per_batch"`` (one level for the whole batch per step, our reading of Section 9).
      schedule, num_levels, beta_min, beta_max: the noise schedule
        ([`langevin_jax.diffusion.make_schedule`][langevin_jax.diffusion.make_schedule]; ``beta_*`` only for ``"linear"``).
      grad_clip: clip the global gradient norm to this value (``None``: no clipping).

    Only what determines the trained parameters is here: where to checkpoint, how often, the
    progress bar and the scan chunk length are arguments of
    [`train_denoiser`][langevin_jax.nn.train.train_denoiser].
    """

    #: the allowed values of the fields checked against a set (also the command-line choices)
    CHOICES: ClassVar[dict] = dict(lr_schedule=("constant", "cosine"), level_sampling=("per_example", "per_batch"),
                                   schedule=("linear", "cosine"))

    model: DenoiserConfig
    num_steps: int = 150_000
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: Optional[int] = None
    min_level: int = 1
    max_level: int = 100
    level_sampling: str = "per_example"
    schedule: str = "linear"
    num_levels: int = 1000
    beta_min: float = 1e-4
    beta_max: float = 0.02
    grad_clip: Optional[float] = None

    def __post_init__(self):
        """Every field checked when the config is made (``ValueError`` naming the field)."""
        if not isinstance(self.model, DenoiserConfig):
            raise ValueError(f"model must be a DenoiserConfig, got {type(self.model).__name__}")
        _checks.check_count("num_steps", self.num_steps, 1)  # the step index is int32
        _checks.check_positive_finite("learning_rate", self.learning_rate)
        for name, allowed in self.CHOICES.items():
            _checks.check_choice(name, getattr(self, name), allowed)
        if self.batch_size is not None:
            _checks.check_int_at_least("batch_size", self.batch_size, 1)
        if self.grad_clip is not None:
            _checks.check_positive_finite("grad_clip", self.grad_clip)
        _checks.check_int_at_least("num_levels", self.num_levels, 1)
        if self.num_levels != self.model.num_levels:
            raise ValueError(f"num_levels = {self.num_levels} must equal model.num_levels = "
                             f"{self.model.num_levels}")
        _checks.check_int_at_least("min_level", self.min_level, 1)
        _checks.check_int_at_least("max_level", self.max_level, 1)
        # the message starts with the field to change (the experiments' CLI names its flag)
        if self.max_level > self.num_levels:
            raise ValueError(f"max_level must be <= num_levels = {self.num_levels} (need 1 <= min_level <= "
                             f"max_level <= num_levels), got max_level={self.max_level}")
        if self.min_level > self.max_level:
            raise ValueError(f"min_level must be <= max_level = {self.max_level} (need 1 <= min_level <= "
                             f"max_level <= num_levels), got min_level={self.min_level}")
        if self.schedule == "linear" and not (0 < self.beta_min <= self.beta_max < 1):
            raise ValueError(f"beta_min, beta_max must satisfy 0 < beta_min <= beta_max < 1, got beta_min="
                             f"{self.beta_min}, beta_max={self.beta_max}")

    @property
    def trained_levels(self) -> tuple[int, int]:
        """``(min_level, max_level)``: the levels a network trained with this config is valid on."""
        return self.min_level, self.max_level

    def noise_schedule(self) -> diffusion.NoiseSchedule:
        kwargs = dict(beta_min=self.beta_min, beta_max=self.beta_max) if self.schedule == "linear" else {}
        return diffusion.make_schedule(self.schedule, self.num_levels, **kwargs)

    def fingerprint(self) -> dict:
        """The config as a dict, compared with a checkpoint's on resume: every field, except
        ``num_steps`` under a constant learning rate (training may then be extended: the first
        ``k`` steps do not depend on the length; a cosine schedule does)."""
        d = dataclasses.asdict(self)
        if self.lr_schedule == "constant":
            d.pop("num_steps")
        return d


class TrainResult(NamedTuple):
    """Output of [`train_denoiser`][langevin_jax.nn.train.train_denoiser].

    Attributes:
      params: the denoiser parameters (pytree).
      opt_state: the Optax state.
      loss_history: ``[step]`` float32, the batch loss of every step so far.
      step: steps done (``num_steps``, or fewer when stopped early).
      resumed_from: the step the run started from (0, or a checkpoint's step).
      elapsed_seconds: wall time of this call.
      config: the [`TrainConfig`][langevin_jax.nn.train.TrainConfig] it was trained with.
    """

    params: Params
    opt_state: optax.OptState
    loss_history: np.ndarray
    step: int
    resumed_from: int
    elapsed_seconds: float
    config: Optional["TrainConfig"] = None

    @property
    def eps_fn(self):
        """The trained noise predictor, carrying the levels it was trained on
        ([`trained_eps_fn`][langevin_jax.nn.denoiser.trained_eps_fn]): samplers refuse other levels."""
        if self.config is None:
            raise ValueError("this TrainResult has no config: use nn.trained_eps_fn(result.params, config)")
        return trained_eps_fn(self.params, self.config)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam, with an optional cosine learning-rate decay and global-norm clipping."""
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        lr = optax.cosine_decay_schedule(config.learning_rate, config.num_steps)
    adam = optax.adam(lr)
    if config.grad_clip is not None:
        return optax.chain(optax.clip_by_global_norm(config.grad_clip), adam)
    return adam


def epsilon_loss(params: Params, model: MLPDenoiser, schedule: diffusion.NoiseSchedule, key: PRNGKey,
                 x0: jax.Array, min_level: int, max_level: int, per_batch: bool) -> jax.Array:
    """The DDPM epsilon loss on a batch ``x0`` ``[n, d]`` with fresh levels and noise."""
    k_t, k_eps = jax.random.split(key)
    shape = () if per_batch else (x0.shape[0],)
    t = diffusion.sample_levels(k_t, shape, min_level, max_level)
    t = jnp.broadcast_to(t, (x0.shape[0],))
    eps = jax.random.normal(k_eps, x0.shape, x0.dtype)
    x_t = diffusion.add_noise(schedule, x0, t, eps)
    pred = cast(jax.Array, model.apply({"params": params}, x_t, t))  # Flax types apply as maybe a tuple
    return jnp.mean((pred - eps) ** 2)


def _validate(data, config: TrainConfig, schedule) -> jax.Array:
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    data = _checks.check_rank("data", data, 2, "[n, d]")
    if data.shape[0] < 1:
        raise ValueError("data must contain at least one row")
    if data.shape[1] != config.model.dim:
        raise ValueError(f"data has d = {data.shape[1]} but config.model.dim = {config.model.dim}")
    if not jnp.issubdtype(data.dtype, jnp.floating):
        data = data.astype(jnp.float32)
    _checks.check_finite_array("data", data)
    # the config's own fields were checked when it was made (TrainConfig.__post_init__)
    diffusion.check_level_range(config.min_level, config.max_level, schedule)
    return data


def data_hash(data: ArrayLike) -> str:
    """The SHA-256 of ``data``'s bytes, shape and dtype: what a checkpoint records of the data it
    was trained on (a resume with other data is refused)."""
    arr = np.ascontiguousarray(np.asarray(data))
    return hashlib.sha256(arr.tobytes() + str((arr.shape, arr.dtype)).encode()).hexdigest()


@functools.lru_cache(maxsize=32)
def _build_chunk(config: TrainConfig, length: int):
    """A jitted ``lax.scan`` over ``length`` optimiser steps starting at a traced step.

    Cached per (config, length), so repeated or resumed calls of [`train_denoiser`][langevin_jax.nn.train.train_denoiser]
    with the same config re-use the compiled program instead of recompiling."""
    schedule = config.noise_schedule()
    optimizer = make_optimizer(config)
    # training allows the backend's fast products (TF32 on a GPU): see MLPDenoiser.precision
    model = MLPDenoiser(config.model, precision=jax.lax.Precision.DEFAULT)
    per_batch = config.level_sampling == "per_batch"
    lo, hi = config.min_level, config.max_level

    def one_step(carry, step, key, data):
        params, opt_state = carry
        k_step = jax.random.fold_in(key, step)
        k_batch, k_loss = jax.random.split(k_step)
        if config.batch_size is None:
            x0 = data
        else:
            idx = jax.random.randint(k_batch, (config.batch_size,), 0, data.shape[0])
            x0 = data[idx]
        loss, grads = jax.value_and_grad(epsilon_loss)(params, model, schedule, k_loss, x0,
                                                       lo, hi, per_batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), loss

    def chunk(params, opt_state, key, data, start):
        steps = start + jnp.arange(length, dtype=jnp.int32)
        (params, opt_state), losses = jax.lax.scan(
            lambda c, s: one_step(c, s, key, data), (params, opt_state), steps
        )
        # the losses show a non-finite state only from the next step on: the last update of
        # the chunk is checked here, so a checkpoint never holds non-finite parameters
        return params, opt_state, losses, tree_is_finite((params, opt_state))

    return jax.jit(chunk)


def _LossBar(num_steps: int, start: int, stream=None) -> _progress.ProgressBar:
    """The training bar: the library's one progress bar, with the running loss."""
    return _progress.ProgressBar(num_steps, start, stream)


def _write_checkpoint(path: Path, *, params, opt_state, step, key, losses, config, data_hash):
    payload = {
        "params": flax.serialization.to_state_dict(params),
        "opt_state": flax.serialization.to_state_dict(opt_state),
        "step": int(step),
        "key_data": np.asarray(jax.random.key_data(key)),
        "key_impl": str(jax.random.key_impl(key)),
        "loss_history": np.asarray(losses, np.float32),
        "fingerprint": json.dumps(config.fingerprint(), sort_keys=True),
        "data_hash": data_hash,
    }
    # arrays as numpy; strings and ints stay native (msgpack cannot restore numpy str arrays)
    blob = flax.serialization.msgpack_serialize(jax.tree_util.tree_map(
        lambda v: v if isinstance(v, (str, int)) else np.asarray(v), payload))
    _io.write_atomic(path, blob)


_CHECKPOINT_KEYS = ("params", "opt_state", "step", "key_data", "loss_history", "fingerprint",
                    "data_hash")


def load_checkpoint(path, config: TrainConfig) -> dict:
    """Read a checkpoint written by [`train_denoiser`][langevin_jax.nn.train.train_denoiser].

    Returns a dict with ``params``, ``opt_state`` (restored into the structures of
    ``config``'s model and optimiser), ``step``, ``key_data``, ``loss_history``,
    ``fingerprint`` (dict) and ``data_hash``.

    Raises:
      ValueError: the file is corrupt or truncated, or holds another model; the message
        names the file and what to do.
    """
    blob = Path(path).read_bytes()  # a missing or unreadable file raises OSError, naming it
    try:
        raw = flax.serialization.msgpack_restore(blob)
        missing = [k for k in _CHECKPOINT_KEYS if k not in raw]
        if missing:
            raise ValueError(f"no {', '.join(missing)} in it")
        fingerprint = json.loads(raw["fingerprint"])
        meta = dict(step=int(raw["step"]), key_data=np.asarray(raw["key_data"]),
                    loss_history=np.asarray(raw["loss_history"]), fingerprint=fingerprint,
                    data_hash=str(raw["data_hash"]))
    except Exception as err:  # msgpack raises its own types (ExtraData, ValueError, ...)
        raise ValueError(
            f"checkpoint_path {path} is not a readable checkpoint (corrupt, truncated or not written "
            f"by train_denoiser: {type(err).__name__}: {err}); delete it to train from step 0 (an "
            "experiment: rerun it with --force, which deletes its own checkpoint)") from err
    template = init_denoiser(jax.random.key(0), config.model)
    opt_template = make_optimizer(config).init(template)
    try:
        params = flax.serialization.from_state_dict(template, raw["params"])
        opt_state = flax.serialization.from_state_dict(opt_template, raw["opt_state"])
    except (ValueError, KeyError) as err:
        raise ValueError(f"checkpoint_path {path} does not hold a model of this config: {err}") from err
    # from_state_dict restores the tree, not the shapes: a network of another width would load
    for what, got, want in (("params", params, template), ("opt_state", opt_state, opt_template)):
        for (where, a), b in zip(jax.tree_util.tree_flatten_with_path(got)[0], jax.tree_util.tree_leaves(want)):
            if np.shape(a) != np.shape(b):
                raise ValueError(
                    f"checkpoint_path {path} holds a model of other shapes than config.model ({config.model}): "
                    f"{what}{jax.tree_util.keystr(where)} has shape {np.shape(a)}, this config makes "
                    f"{np.shape(b)} (another width, depth, dim or time embedding)")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    opt_state = jax.tree_util.tree_map(jnp.asarray, opt_state)
    return dict(params=params, opt_state=opt_state, **meta)


def _diverged(config: TrainConfig, path: Optional[Path], saved_step: Optional[int], start: int,
              chunk_losses: np.ndarray):
    """Raise the ``RuntimeError`` of a chunk starting at step ``start`` that went non-finite.

    ``loss_history[k]`` is the loss of step ``k + 1`` (the state after ``k`` steps): the first
    non-finite entry of the chunk names the step; when every loss is finite, the last update
    of the chunk made the state non-finite."""
    bad = np.flatnonzero(~np.isfinite(chunk_losses))
    if bad.size:
        k = start + int(bad[0])
        what = (f"the loss is non-finite ({chunk_losses[bad[0]]}) at step {k + 1} of "
                f"{config.num_steps} (loss_history[{k}], the first non-finite loss)")
    else:
        k = start + len(chunk_losses)
        what = (f"the parameters or optimiser state became non-finite at step {k} of "
                f"{config.num_steps} (every loss up to it finite)")
    if path is None:
        kept = "no checkpoint_path was set, so no parameters were kept"
    elif saved_step is None:
        kept = f"no checkpoint was written to {path} yet (none before the divergence)"
    else:
        kept = f"{path} still holds the last finite state, of step {saved_step}"
    again = "" if path is None else (
        " (with a new checkpoint_path, or delete the old one: the learning rate is part of its config)")
    raise RuntimeError(
        f"train_denoiser diverged: {what}; {kept}. Lower learning_rate (now "
        f"{config.learning_rate:g}) or set grad_clip (now {config.grad_clip}), then train again{again}")


def train_denoiser(
    key: PRNGKey, data: ArrayLike, config: TrainConfig, *, checkpoint_path: Optional[Union[str, Path]] = None,
    checkpoint_every: Optional[int] = None, progress_bar: bool = False, chunk_size: int = 500,
    stop_at: Optional[int] = None,
) -> TrainResult:
    """Train an [`MLPDenoiser`][langevin_jax.nn.train.MLPDenoiser] on ``data`` with the DDPM epsilon loss.

    The parameters are initialised from ``split(key)[0]``; step ``k`` uses ``fold_in(split(key)[1], k)`` (minibatch indices,
    levels, noise). Steps run in jitted ``lax.scan`` chunks of ``chunk_size`` (cut so that
    checkpoints fall on chunk boundaries).

    Checkpoints (``checkpoint_path``): written atomically (temp file + rename) every
    ``checkpoint_every`` steps and at the end, holding the parameters, the optimiser state,
    the step, the key, the loss history, the config (its
    [`fingerprint`][langevin_jax.nn.train.TrainConfig.fingerprint]) and a hash of the data
    ([`data_hash`][langevin_jax.nn.train.data_hash]). If
    the file exists when this is called, training resumes from it (and returns at once when
    it already holds ``num_steps`` steps); a checkpoint of another config, key or data set
    raises ``ValueError``, and so does one holding more steps than ``num_steps``. The
    checkpoint's folder is checked writable before the first step.

    A loss or state that turns non-finite stops training at the end of its chunk (checked
    once per chunk, on the chunk's losses) with a ``RuntimeError`` naming the first bad step;
    the checkpoint is never overwritten with non-finite parameters, so the file keeps the
    last finite state.

    Args:
      key: a PRNG key.
      data: ``[n, d]`` training points (duplicates allowed: the paper duplicates each point
        10 times).
      config: a [`TrainConfig`][langevin_jax.nn.train.TrainConfig]: what determines the
        parameters. The other arguments change how the run goes, never its result.
      checkpoint_path: the checkpoint file (``None``: no checkpoint); when it exists,
        training resumes from it.
      checkpoint_every: also write the checkpoint every this many steps (``None``: only at
        the end); needs ``checkpoint_path``.
      progress_bar: print a progress bar with the running loss to stderr.
      chunk_size: optimiser steps per jitted ``lax.scan`` (one host round trip per chunk).
      stop_at: stop after this many total steps (checkpointing first), as if interrupted.

    Returns:
      A [`TrainResult`][langevin_jax.nn.train.TrainResult].

    Raises:
      ValueError: wrong shape or non-finite ``data``, a level range outside $[1, T]$,
        bad settings, an incompatible, corrupt or longer (``step > num_steps``) checkpoint,
        or a checkpoint folder that cannot be written; before anything is compiled.
      RuntimeError: training diverged (a non-finite loss or parameters); the message names
        the step and the last checkpoint kept.
    """
    t_start = time.perf_counter()
    _checks.check_key("key", key)
    schedule = config.noise_schedule() if isinstance(config, TrainConfig) else None
    data = _validate(data, config, schedule)
    _checks.check_int_at_least("chunk_size", chunk_size, 1)
    if checkpoint_every is not None:
        _checks.check_int_at_least("checkpoint_every", checkpoint_every, 1)
        if checkpoint_path is None:
            raise ValueError("checkpoint_every needs a checkpoint_path")
    n = data.shape[0]
    if config.batch_size is not None and config.batch_size > n:
        raise ValueError(f"batch_size = {config.batch_size} exceeds the {n} rows of data")
    end = config.num_steps if stop_at is None else min(
        _checks.check_int_at_least("stop_at", stop_at, 1), config.num_steps)
    optimizer = make_optimizer(config)
    k_init, k_steps = jax.random.split(key)
    hashed = data_hash(data)
    path = None if checkpoint_path is None else Path(checkpoint_path)
    if path is not None and path.is_dir():
        raise ValueError(f"checkpoint_path {path} is a folder; pass a file path in it")
    if path is not None and path.exists():
        ckpt = load_checkpoint(path, config)
        if ckpt["fingerprint"] != json.loads(json.dumps(config.fingerprint(), sort_keys=True)):
            raise ValueError(f"checkpoint_path {path} was written with another config: "
                             f"{ckpt['fingerprint']} != {config.fingerprint()}")
        if not np.array_equal(ckpt["key_data"], np.asarray(jax.random.key_data(key))):
            raise ValueError(f"checkpoint_path {path} was written with another key")
        if ckpt["data_hash"] != hashed:
            raise ValueError(f"checkpoint_path {path} was written with other data")
        if ckpt["step"] > config.num_steps:
            raise ValueError(
                f"checkpoint_path {path} holds {ckpt['step']} steps but num_steps = {config.num_steps}: "
                f"training cannot go back; pass num_steps >= {ckpt['step']}, or another checkpoint_path "
                f"(or delete {path}) to train {config.num_steps} steps from scratch")
        params, opt_state, step = ckpt["params"], ckpt["opt_state"], ckpt["step"]
        losses, saved_step = [ckpt["loss_history"]], step  # saved_step: the file's step
    else:
        params = init_denoiser(k_init, config.model)
        opt_state = optimizer.init(params)
        step, losses, saved_step = 0, [], None
    resumed_from = step
    if path is not None and step < end:
        # before any step: a checkpoint that cannot be written would lose the whole run
        _io.check_writable_dir(path.parent, f"checkpoint_path {path}: its folder")

    # the length does not change the compiled step under a constant learning rate: calls
    # differing only in it share one compiled program
    compile_config = dataclasses.replace(config, num_steps=config.num_steps if config.lr_schedule != "constant" else 1)
    chunk_len = chunk_size
    if checkpoint_every is not None:
        chunk_len = math.gcd(chunk_len, checkpoint_every)
    bar = _LossBar(config.num_steps, step) if progress_bar and step < end else None
    while step < end:
        # cut at multiples of chunk_len so checkpoints fall on chunk boundaries
        length = min(chunk_len - step % chunk_len, end - step)
        params, opt_state, chunk_losses, state_finite = _build_chunk(compile_config, length)(
            params, opt_state, k_steps, data, jnp.asarray(step, jnp.int32))
        chunk_losses = np.asarray(chunk_losses)
        if not (np.all(np.isfinite(chunk_losses)) and bool(state_finite)):
            _diverged(config, path, saved_step, step, chunk_losses)
        losses.append(chunk_losses)
        step += length
        if bar is not None:
            bar.update(step, loss=float(np.mean(chunk_losses)))
        due = checkpoint_every is not None and step % checkpoint_every == 0
        if path is not None and (due or step == end):
            _write_checkpoint(path, params=params, opt_state=opt_state, step=step, key=key,
                              losses=np.concatenate(losses), config=config, data_hash=hashed)
            saved_step = step
    history = np.concatenate(losses) if losses else np.zeros((0,), np.float32)
    return TrainResult(params, opt_state, history, step, resumed_from,
                       time.perf_counter() - t_start, config)
