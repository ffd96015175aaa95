"""Neural denoisers and their training (the only place Flax and Optax are used).

Samplers never see the network: [`denoiser_score_fn`][langevin_jax.nn.denoiser_score_fn] and
[`denoiser_eps_fn`][langevin_jax.nn.denoiser_eps_fn] turn
parameters into plain ``score_fn(x)`` / ``eps_fn(x, t)`` functions.
"""

from langevin_jax.nn.denoiser import (
    DenoiserConfig,
    MLPDenoiser,
    apply_denoiser,
    denoiser_eps_fn,
    denoiser_score_fn,
    denoiser_time_score_fn,
    flops_per_example,
    init_denoiser,
    num_params,
)
from langevin_jax.nn import pretrained
from langevin_jax.nn.pretrained import (
    Pretrained,
    export_pretrained,
    load_pretrained,
    pretrained_metadata,
    pretrained_names,
)
from langevin_jax.nn.train import (
    TrainConfig,
    TrainResult,
    epsilon_loss,
    load_checkpoint,
    make_optimizer,
    train_denoiser,
)

__all__ = [
    "DenoiserConfig",
    "MLPDenoiser",
    "init_denoiser",
    "apply_denoiser",
    "denoiser_eps_fn",
    "denoiser_score_fn",
    "denoiser_time_score_fn",
    "num_params",
    "flops_per_example",
    "TrainConfig",
    "TrainResult",
    "train_denoiser",
    "load_checkpoint",
    "make_optimizer",
    "epsilon_loss",
    "pretrained",
    "Pretrained",
    "load_pretrained",
    "pretrained_names",
    "pretrained_metadata",
    "export_pretrained",
]
