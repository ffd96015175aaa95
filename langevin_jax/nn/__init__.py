"""Neural denoisers and their training (the only place Flax and Optax are used).

Samplers never see the network: [`denoiser_score_fn`][langevin_jax.nn.denoiser_score_fn] and
[`denoiser_eps_fn`][langevin_jax.nn.denoiser_eps_fn] turn
parameters into plain ``score_fn(x)`` / ``eps_fn(x, t)`` functions.
"""

from langevin_jax.nn import denoiser, pretrained, train
from langevin_jax.nn.denoiser import *  # noqa: F401,F403 - re-exported, listed in __all__ below
from langevin_jax.nn.pretrained import *  # noqa: F401,F403
from langevin_jax.nn.train import *  # noqa: F401,F403

# the public names of the three modules, in one place each (their own ``__all__``)
__all__ = [*denoiser.__all__, *train.__all__, "pretrained", *pretrained.__all__]
