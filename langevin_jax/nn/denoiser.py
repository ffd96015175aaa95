r"""An MLP noise predictor $(x_t, t) \mapsto \varepsilon$ (Flax linen) behind a pure-function boundary.

The network is a Flax module, but nothing outside [`langevin_jax.nn`][langevin_jax.nn] sees it: samplers
get a plain ``eps_fn(x, t)`` or ``score_fn(x)`` closing over the parameters (a pytree).

Architecture (Cao et al. 2026, Section 9: "a fully connected network with 3 hidden layers"
taking $x_t$ and $t$; how $t$ enters is not stated, so the time embedding is our
choice and an option): the input is ``concat(x_t, emb(t))``, followed by ``depth`` hidden
``Dense(width)`` layers with an activation, and a linear ``Dense(d)`` output.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, ClassVar, Optional, cast

import flax.linen as nn
from flax.typing import PrecisionLike
import jax
import jax.numpy as jnp

from langevin_jax import _checks, diffusion
from langevin_jax.types import PRNGKey, PyTree

__all__ = [
    "DenoiserConfig",
    "MLPDenoiser",
    "init_denoiser",
    "apply_denoiser",
    "denoiser_eps_fn",
    "trained_eps_fn",
    "denoiser_score_fn",
    "denoiser_time_score_fn",
    "num_params",
    "flops_per_example",
]

Params = PyTree  # the Flax parameters: a pytree of arrays

_ACTIVATIONS: dict[str, Callable] = {"silu": nn.silu, "relu": nn.relu, "gelu": nn.gelu,
                                     "tanh": jnp.tanh}


@dataclasses.dataclass(frozen=True)
class DenoiserConfig:
    """Hyperparameters of [`MLPDenoiser`][langevin_jax.nn.denoiser.MLPDenoiser] (hashable, JSON-able).

    Attributes:
      dim: $d$, the data dimension.
      width: hidden width (256 for the Gaussian, 512 for the mixture in Cao et al. 2026).
      depth: number of hidden layers (3 in the paper).
      time_embedding: ``"sinusoidal"`` (``embedding_dim`` sin/cos features of $t$, as in
        Ho et al. 2020), ``"linear"`` (the scalar $t / T$), or ``"none"``.
      embedding_dim: size of the sinusoidal embedding (even).
      num_levels: $T$, used to scale $t$.
      activation: ``"silu"``, ``"relu"``, ``"gelu"`` or ``"tanh"``.
    """

    #: the allowed values of the fields checked against a set (also the command-line choices)
    CHOICES: ClassVar[dict] = dict(time_embedding=("sinusoidal", "linear", "none"), activation=tuple(_ACTIVATIONS))

    dim: int
    width: int = 256
    depth: int = 3
    time_embedding: str = "sinusoidal"
    embedding_dim: int = 32
    num_levels: int = 1000
    activation: str = "silu"

    def __post_init__(self):
        _checks.check_int_at_least("dim", self.dim, 1)
        _checks.check_int_at_least("width", self.width, 1)
        _checks.check_int_at_least("depth", self.depth, 1)
        _checks.check_int_at_least("num_levels", self.num_levels, 1)
        _checks.check_choice("time_embedding", self.time_embedding, self.CHOICES["time_embedding"])
        if self.time_embedding == "sinusoidal":
            _checks.check_int_at_least("embedding_dim", self.embedding_dim, 2)
            if self.embedding_dim % 2:
                raise ValueError(f"embedding_dim must be even, got {self.embedding_dim}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.activation!r}")

    @property
    def input_dim(self) -> int:
        extra = {"sinusoidal": self.embedding_dim, "linear": 1, "none": 0}[self.time_embedding]
        return self.dim + extra


def _time_features(config: DenoiserConfig, t: jax.Array, dtype) -> jax.Array:
    """``[..., k]`` features of the integer level ``t`` ``[...]``."""
    t = jnp.asarray(t, dtype)
    if config.time_embedding == "linear":
        return (t / config.num_levels)[..., None]
    half = config.embedding_dim // 2
    # transformer frequencies 1 / 10000^(k / half) on the level t (Ho et al. 2020)
    freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half, dtype=dtype) / half)
    angles = t[..., None] * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class MLPDenoiser(nn.Module):
    r"""$\varepsilon_\theta(x_t, t)$: ``([..., d], [...]) -> [..., d]``.

    ``precision`` is the matrix-product precision of every layer. The default, ``HIGHEST``,
    is full float32 on every backend: a GPU's default (TF32 on NVIDIA, bf16 passes on TPU)
    keeps about 10 mantissa bits, a relative error near $10^{-3}$ in $\varepsilon$ that the score
    $-\varepsilon / \sqrt{1 - \bar\alpha_t}$ multiplies by up to 100 at the low noise levels the
    learned-score experiments sample at. Training ([`langevin_jax.nn.train_denoiser`][langevin_jax.nn.train_denoiser])
    passes ``DEFAULT``: the epsilon loss is a Monte Carlo estimate whose noise is far larger
    than TF32's rounding, and the faster products are worth having there.
    """

    config: DenoiserConfig
    precision: PrecisionLike = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        cfg = self.config
        t = jnp.broadcast_to(jnp.asarray(t), x.shape[:-1])
        h = x
        if cfg.time_embedding != "none":
            h = jnp.concatenate([x, _time_features(cfg, t, x.dtype)], axis=-1)
        act = _ACTIVATIONS[cfg.activation]
        for i in range(cfg.depth):
            h = act(nn.Dense(cfg.width, precision=self.precision, name=f"hidden_{i}")(h))
        return nn.Dense(cfg.dim, precision=self.precision, name="out")(h)


def init_denoiser(key: PRNGKey, config: DenoiserConfig) -> Params:
    """Initial parameters (a pytree of float32 arrays; LeCun-normal weights, zero biases)."""
    x = jnp.zeros((1, config.dim), jnp.float32)
    t = jnp.ones((1,), jnp.int32)
    return MLPDenoiser(config).init(key, x, t)["params"]


def _check_inputs(config: DenoiserConfig, x: jax.Array, t: jax.Array) -> None:
    """``x [..., dim]`` and levels ``t`` broadcastable to ``x.shape[:-1]``: the shapes always (at
    trace time, nothing in the compiled program), the levels ``1..num_levels`` when concrete."""
    if not isinstance(config, DenoiserConfig):
        raise ValueError(f"config must be a DenoiserConfig, got {type(config).__name__}")
    shape = jnp.shape(x)
    if len(shape) < 1 or shape[-1] != config.dim:
        raise ValueError(f"x must have shape [..., {config.dim}] (config.dim = {config.dim}), got {shape}")
    _checks.check_real("x", x)
    try:
        fits = jnp.broadcast_shapes(jnp.shape(t), shape[:-1]) == shape[:-1]
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"t must be levels broadcastable to x.shape[:-1] = {shape[:-1]}, got shape {jnp.shape(t)}")
    # the network was trained on levels 1..num_levels: beyond them it extrapolates
    _checks.check_level_values("t", t, config.num_levels)


def apply_denoiser(params: Params, config: DenoiserConfig, x: jax.Array, t: jax.Array) -> jax.Array:
    r"""$\varepsilon_\theta(x, t)$ on one point ``[d]`` or a batch ``[n, d]`` (``t`` broadcast), in
    full float32 precision on every backend (see [`MLPDenoiser`][langevin_jax.nn.denoiser.MLPDenoiser]).

    Raises:
      ValueError: ``x`` whose last axis is not ``config.dim``, ``t`` not broadcastable to
        ``x.shape[:-1]``, or (when concrete) a level outside ``1..config.num_levels``.
    """
    _check_inputs(config, x, t)
    return cast(jax.Array, MLPDenoiser(config).apply({"params": params}, x, t))  # no mutable collections


def denoiser_eps_fn(params: Params, config: DenoiserConfig, *, levels: Optional[tuple[int, int]] = None):
    """``eps_fn(x[d], t[]) -> [d]``: a `jax.tree_util.Partial` holding ``params``.

    The parameters are pytree leaves, so under [`langevin_jax.run`][langevin_jax.run] they are traced
    inputs: a new set of parameters (another checkpoint) re-uses the compiled program, and
    ``run`` can be ``vmap``-ped or differentiated over them.

    Args:
      params: the network's parameters.
      config: its [`DenoiserConfig`][langevin_jax.nn.denoiser.DenoiserConfig].
      levels: ``(min_level, max_level)``, the levels it was trained on: the result is then a
        [`langevin_jax.diffusion.LevelledFn`][langevin_jax.diffusion.LevelledFn] and every sampler
        refuses to evaluate it elsewhere. [`trained_eps_fn`][langevin_jax.nn.denoiser.trained_eps_fn],
        ``TrainResult.eps_fn`` and ``Pretrained.eps_fn`` set them from the training config.
    """
    fn = jax.tree_util.Partial(_apply_eps, config, params)
    if levels is None:
        return fn
    if not isinstance(levels, (tuple, list)) or len(levels) != 2:
        raise ValueError(f"levels must be a pair (min_level, max_level), got {levels!r}")
    levelled = diffusion.with_levels(fn, *levels)  # checks 1 <= min_level <= max_level
    if levelled.max_level > config.num_levels:
        raise ValueError(f"levels must satisfy max_level <= num_levels = {config.num_levels}, got {tuple(levels)}")
    return levelled


def trained_eps_fn(params: Params, train_config) -> diffusion.LevelledFn:
    """The noise predictor of a network trained with ``train_config`` (an
    [`nn.TrainConfig`][langevin_jax.nn.TrainConfig]), carrying the levels it was trained on
    (``train_config.min_level..max_level``): samplers refuse to use it at other levels."""
    return denoiser_eps_fn(params, train_config.model, levels=train_config.trained_levels)


def _apply_eps(config: DenoiserConfig, params: Params, x: jax.Array, t: jax.Array) -> jax.Array:
    _check_inputs(config, x, t)
    return cast(jax.Array, MLPDenoiser(config).apply({"params": params}, x, t))  # no mutable collections


def denoiser_score_fn(
    params: Params, config: DenoiserConfig, schedule: diffusion.NoiseSchedule, level: int, *,
    levels: Optional[tuple[int, int]] = None, allow_untrained_levels: bool = False,
) -> Callable[[jax.Array], jax.Array]:
    r"""The Langevin score of the denoiser at a fixed level:

    $\hat s(x) = -\varepsilon_\theta(x, \ell) / \sqrt{1 - \bar\alpha_\ell}$ with $\ell$ = ``level`` (Cao et al.
    2026, Section 9, with ``level = 10``). Returns ``score_fn(x[d]) -> [d]``. With ``levels`` (the trained
    levels, as in [`denoiser_eps_fn`][langevin_jax.nn.denoiser.denoiser_eps_fn]) a ``level``
    outside them is refused unless ``allow_untrained_levels``.
    """
    _check_dim(config, schedule)
    return diffusion.score_at_level(denoiser_eps_fn(params, config, levels=levels), schedule, level,
                                    allow_untrained_levels=allow_untrained_levels)


def denoiser_time_score_fn(params: Params, config: DenoiserConfig, schedule: diffusion.NoiseSchedule, *,
                           levels: Optional[tuple[int, int]] = None):
    r"""``score_fn(x[d], t[])`` $= -\varepsilon_\theta(x, t) / \sqrt{1 - \bar\alpha_t}$ for every level (a
    [`langevin_jax.diffusion.LevelledFn`][langevin_jax.diffusion.LevelledFn] with ``levels``)."""
    _check_dim(config, schedule)
    return diffusion.score_from_eps(denoiser_eps_fn(params, config, levels=levels), schedule)


def _check_dim(config: DenoiserConfig, schedule: diffusion.NoiseSchedule) -> None:
    if schedule.num_levels != config.num_levels:
        raise ValueError(f"schedule has T = {schedule.num_levels} levels but the denoiser "
                         f"config says num_levels = {config.num_levels}")


def num_params(params: Params) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def flops_per_example(config: DenoiserConfig, training: bool = True) -> int:
    """Matmul FLOPs per example (2 per multiply-add); a training step is about 3x a forward
    pass (forward, and two matmuls per layer backward). Element-wise work is not counted."""
    sizes = [config.input_dim] + [config.width] * config.depth + [config.dim]
    fwd = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 3 * fwd if training else fwd
