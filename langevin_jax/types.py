"""Types shared by the public API (annotations only; nothing here runs).

* ``ArrayLike``: anything ``jnp.asarray`` takes (``jax.typing.ArrayLike``): an array or number
  argument (a matrix, a spectrum, a mean, a scalar such as ``sigma``).
* ``PyTree``: a pytree of arrays, e.g. a sampler's position.
* ``ScalarOrSchedule``: a step size, a number or a function of the step index (Optax's
  ``ScalarOrSchedule``, for Langevin step sizes).
* [`Target`][langevin_jax.types.Target]: what the metrics and experiments assume of a target distribution.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Union, runtime_checkable

import jax

__all__ = ["ArrayLike", "PRNGKey", "PyTree", "Scalar", "Schedule", "ScalarOrSchedule", "ScoreFn", "Target"]

ArrayLike = jax.typing.ArrayLike
"""An array or number argument: anything ``jnp.asarray`` takes (``jax.typing.ArrayLike``)."""
PRNGKey = jax.Array
"""One PRNG key: ``jax.random.key(seed)``, or a legacy ``uint32[2]`` key."""
PyTree = Any
"""A pytree of arrays: a ``[d]`` array, a ``[H, W]`` array, a dict of arrays, ... (any pytree)."""
Scalar = Union[float, jax.Array]
"""A number: a float or a scalar array."""
Schedule = Callable[[jax.Array], jax.Array]
r"""$k \mapsto h_k$: a step size as a function of the (traced) step index."""
ScalarOrSchedule = Union[Scalar, Schedule]
"""A step size: a number or a schedule (like Optax's ``ScalarOrSchedule``)."""
ScoreFn = Callable[[PyTree], PyTree]
r"""``score_fn(x)`` $= \nabla \log p(x)$ on one point (batch with ``jax.vmap``)."""


@runtime_checkable
class Target(Protocol):
    r"""A distribution on $\mathbb{R}^d$ as the library uses it: ``dim``, ``sample(key, num) -> [num,
    d]``, and on one point ``log_prob(x) -> []`` and ``score(x) -> [d]`` (the gradient of
    ``log_prob``). [`Gaussian`][langevin_jax.targets.Gaussian],
    [`IsotropicGaussian`][langevin_jax.targets.IsotropicGaussian] and
    [`GaussianMixture`][langevin_jax.targets.GaussianMixture] are targets; any object with
    these members is one too."""

    @property
    def dim(self) -> int: ...

    def sample(self, key: PRNGKey, num: int) -> jax.Array: ...

    def log_prob(self, x: jax.Array) -> jax.Array: ...

    def score(self, x: jax.Array) -> jax.Array: ...
