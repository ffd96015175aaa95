"""Neural denoisers and their training (the only place Flax and Optax are used).

Samplers never see the network: [`denoiser_score_fn`][langevin_jax.nn.denoiser_score_fn] and
[`denoiser_eps_fn`][langevin_jax.nn.denoiser_eps_fn] turn
parameters into plain ``score_fn(x)`` / ``eps_fn(x, t)`` functions.

This package needs the ``nn`` extra (``pip install "langevin_jax[nn]"``: Flax and Optax);
``import langevin_jax`` does not import it (``langevin_jax.nn`` is loaded on first use).
"""

try:
    import flax  # noqa: F401 - the extra this package needs, checked first for a clear message
    import optax  # noqa: F401
except ModuleNotFoundError as err:
    raise ModuleNotFoundError(f"langevin_jax.nn needs Flax and Optax, the nn extra: "
                              f"pip install 'langevin_jax[nn]' ({err})") from err

from langevin_jax.nn import pretrained
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
    trained_eps_fn,
)
from langevin_jax.nn.pretrained import (
    PRETRAINED_DIR,
    Pretrained,
    export_pretrained,
    load_pretrained,
    pretrained_catalog,
    pretrained_metadata,
    pretrained_names,
    pretrained_train_config,
    write_pretrained_metadata,
)
from langevin_jax.nn.train import (
    TrainConfig,
    TrainResult,
    data_hash,
    epsilon_loss,
    load_checkpoint,
    make_optimizer,
    train_denoiser,
)

__all__ = [
    # denoiser
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
    # train
    "TrainConfig",
    "TrainResult",
    "train_denoiser",
    "load_checkpoint",
    "make_optimizer",
    "epsilon_loss",
    "data_hash",
    # pretrained (also the module itself: ``nn.pretrained``)
    "pretrained",
    "Pretrained",
    "pretrained_names",
    "pretrained_catalog",
    "pretrained_metadata",
    "pretrained_train_config",
    "load_pretrained",
    "export_pretrained",
    "write_pretrained_metadata",
    "PRETRAINED_DIR",
]
