r"""Annealing schedules $t \mapsto \lambda_t$ (paper 3, Section 2: the schedule that defines the
diffusion path $X_t = \sqrt{\lambda_t}\, X + \sqrt{1 - \lambda_t}\, Z$). A schedule is a frozen
dataclass that compares and hashes by value (``OUSchedule(3.0) == OUSchedule(3.0)``), so it is
one static argument of a jitted function however often it is rebuilt; each gives
$\lambda_t$ ([`lam`][langevin_jax.annealing.AnnealingSchedule.lam]) and its rate
$d\lambda / dt$ ([`rate`][langevin_jax.annealing.AnnealingSchedule.rate]), in closed form
for the named schedules and by forward-mode differentiation for a user function.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Callable, Union

import jax
import jax.numpy as jnp
import numpy as np

from langevin_jax import _checks
from langevin_jax._deprecation import alias_getattr

__all__ = [
    "AnnealingSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "OUSchedule",
    "CustomSchedule",
    "linear_schedule",
    "cosine_schedule",
    "ou_schedule",
    "custom_schedule",
    "get_schedule",
]

_RESERVED = ("linear", "cosine", "ou")


def _float_time(t) -> jax.Array:
    t = jnp.asarray(t)
    return t if jnp.issubdtype(t.dtype, jnp.floating) else t.astype(jnp.float32)


def _check_time(t) -> None:
    """Path times in $[0, 1]$, read only when concrete (a traced ``t`` inside DALMC's scan or a
    user's ``jit`` adds nothing to the compiled program)."""
    _checks.check_unit_times("t", t)


class AnnealingSchedule(abc.ABC):
    r"""An annealing schedule $t \mapsto \lambda_t$ on $[0, 1]$: the base type of
    [`LinearSchedule`][langevin_jax.annealing.LinearSchedule],
    [`CosineSchedule`][langevin_jax.annealing.CosineSchedule],
    [`OUSchedule`][langevin_jax.annealing.OUSchedule] and
    [`CustomSchedule`][langevin_jax.annealing.CustomSchedule].

    $\lambda$ is elementwise on arrays of $t$, differentiable, nondecreasing, with values in
    $[0, 1]$ and $\lambda_1 = 1$. Calling a schedule is ``lam``.

    Attributes:
      name: ``"linear"``, ``"cosine"``, ``"ou"`` (these have closed-form Gaussian actions)
        or a user name.
      horizon: the OU horizon $T$ (``nan`` for other schedules).
      lambda_fn: $t \mapsto \lambda_t$ as a function (the user's function for a custom schedule).
    """

    name: str = "custom"  # a class attribute here; a field of CustomSchedule
    horizon: float = math.nan  # a class attribute here; a field of OUSchedule

    @abc.abstractmethod
    def lam(self, t) -> jax.Array:
        r"""$\lambda_t$, elementwise in $t$ (path times in $[0, 1]$: a concrete ``t``
        outside raises ``ValueError``)."""

    @abc.abstractmethod
    def rate(self, t) -> jax.Array:
        r"""$d\lambda / dt$ at $t$, elementwise (a floating array, also for integer ``t``);
        $t$ in $[0, 1]$ as for [`lam`][langevin_jax.annealing.AnnealingSchedule.lam]."""

    def __call__(self, t) -> jax.Array:
        return self.lam(t)

    def lam_and_rate(self, t) -> tuple[jax.Array, jax.Array]:
        r"""$(\lambda_t, d\lambda / dt)$, elementwise in $t$ (an integer ``t`` is read as float32)."""
        t = _float_time(t)
        return self.lam(t), self.rate(t)

    @property
    def lambda_fn(self) -> Callable[[jax.Array], jax.Array]:
        return self.lam


@dataclasses.dataclass(frozen=True)
class LinearSchedule(AnnealingSchedule):
    r"""$\lambda_t = t$, $\lambda'_t = 1$."""

    name = "linear"  # not a field

    def lam(self, t) -> jax.Array:
        _check_time(t)
        return jnp.asarray(t)

    def rate(self, t) -> jax.Array:
        _check_time(t)
        return jnp.ones_like(_float_time(t))


@dataclasses.dataclass(frozen=True)
class CosineSchedule(AnnealingSchedule):
    r"""$\lambda_t = \sin^2(\pi t / 2)$, so $X_t = \sin(\pi t/2)\, X + \cos(\pi t/2)\, Z$;
    $\lambda'_t = (\pi / 2)\, 2 \sin(\pi t / 2) \cos(\pi t / 2)$."""

    name = "cosine"  # not a field

    def lam(self, t) -> jax.Array:
        _check_time(t)
        return jnp.sin(0.5 * jnp.pi * jnp.asarray(t)) ** 2

    def rate(self, t) -> jax.Array:
        _check_time(t)
        # the product in the order forward-mode differentiation of ``lam`` takes: same bits
        x = 0.5 * jnp.pi * _float_time(t)
        return 0.5 * jnp.pi * jnp.cos(x) * (2.0 * jnp.sin(x))


@dataclasses.dataclass(frozen=True)
class OUSchedule(AnnealingSchedule):
    r"""$\lambda_t = e^{-2 T (1 - t)}$, $\lambda'_t = 2 T \lambda_t$: the OU
    (variance-preserving) noising run backwards.

    $X_t$ is the OU process $dX = -X\, dr + \sqrt{2}\, dW$ started at $\pi$ and read at
    $r = T (1 - t)$. Note $\lambda_0 = e^{-2T} > 0$: $\mu_0$ is not exactly $\mathcal{N}(0, I)$.

    Attributes:
      horizon: $T > 0$ (a float; two schedules with the same horizon are equal).
    """

    name = "ou"  # not a field
    horizon: float = 3.0

    def __post_init__(self):
        _checks.check_positive_finite("horizon", self.horizon)
        object.__setattr__(self, "horizon", float(self.horizon))

    def lam(self, t) -> jax.Array:
        _check_time(t)
        return jnp.exp(-2.0 * self.horizon * (1.0 - jnp.asarray(t)))

    def rate(self, t) -> jax.Array:
        return 2.0 * self.horizon * self.lam(_float_time(t))  # lam checks t


@dataclasses.dataclass(frozen=True)
class CustomSchedule(AnnealingSchedule):
    r"""A user-given $\lambda$ (checked eagerly on a grid of 257 points when built), equal and
    hashing by the identity of ``fn`` and by ``name``; the rate is ``jax.jvp`` of ``fn``.

    Attributes:
      fn: $t \mapsto \lambda_t$, elementwise on arrays, differentiable, nondecreasing, with
        values in $[0, 1]$ and ``fn(1) = 1``.
      name: a label; ``"linear"``, ``"cosine"`` and ``"ou"`` are reserved.

    Raises:
      ValueError: naming ``lambda_fn`` if ``fn`` is not callable, not elementwise, leaves
        $[0, 1]$, decreases, has $\lambda_1 \ne 1$ or a non-finite derivative; naming
        ``name`` if reserved.
    """

    fn: Callable[[jax.Array], jax.Array]
    name: str = "custom"

    def __post_init__(self):
        _check_lambda_fn(self.fn, self.name)

    def lam(self, t) -> jax.Array:
        _check_time(t)
        return self.fn(t)

    def rate(self, t) -> jax.Array:
        _check_time(t)
        t = _float_time(t)
        return jax.jvp(self.fn, (t,), (jnp.ones_like(t),))[1]

    @property
    def lambda_fn(self) -> Callable[[jax.Array], jax.Array]:
        return self.fn


def _check_lambda_fn(lambda_fn, name) -> None:
    _checks.check_callable("lambda_fn", lambda_fn)
    if not isinstance(name, str) or name in _RESERVED:
        raise ValueError(f"name must be a string other than {_RESERVED}, got {name!r}")
    grid = jnp.linspace(0.0, 1.0, 257)
    try:
        values = np.asarray(lambda_fn(grid), np.float64)
        slopes = np.asarray(jax.vmap(jax.grad(lambda t: jnp.asarray(lambda_fn(t), float)))(
            grid[1:-1]))
    except Exception as err:  # noqa: BLE001 - re-raised naming the argument
        raise ValueError(f"lambda_fn failed on an array of times: {type(err).__name__}: {err}"
                         ) from err
    if values.shape != grid.shape:
        raise ValueError(f"lambda_fn must act elementwise: on t of shape {grid.shape} it "
                         f"returned shape {values.shape}")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))):
        raise ValueError("lambda_fn must be finite with a finite derivative on (0, 1)")
    if np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        raise ValueError("lambda_fn must take values in [0, 1]")
    if np.any(np.diff(values) < -1e-6):
        raise ValueError("lambda_fn must be nondecreasing on [0, 1]")
    if abs(values[-1] - 1.0) > 1e-5:
        raise ValueError(f"lambda_fn(1) must be 1 (the path must end at the target), "
                         f"got {values[-1]}")


def linear_schedule() -> LinearSchedule:
    r"""$\lambda_t = t$: [`LinearSchedule`][langevin_jax.annealing.LinearSchedule]."""
    return LinearSchedule()


def cosine_schedule() -> CosineSchedule:
    r"""$\lambda_t = \sin^2(\pi t / 2)$: [`CosineSchedule`][langevin_jax.annealing.CosineSchedule]."""
    return CosineSchedule()


def ou_schedule(horizon: float = 3.0) -> OUSchedule:
    r"""$\lambda_t = e^{-2 T (1 - t)}$: [`OUSchedule`][langevin_jax.annealing.OUSchedule].

    Args:
      horizon: $T > 0$.
    """
    return OUSchedule(horizon)


def custom_schedule(lambda_fn: Callable[[jax.Array], jax.Array],
                    name: str = "custom") -> CustomSchedule:
    r"""A user-given schedule, checked eagerly on a grid of 257 points:
    [`CustomSchedule`][langevin_jax.annealing.CustomSchedule].

    Args:
      lambda_fn: $t \mapsto \lambda_t$, elementwise on arrays, differentiable, nondecreasing,
        with values in $[0, 1]$ and ``lambda_fn(1) = 1``.
      name: a label; ``"linear"``, ``"cosine"`` and ``"ou"`` are reserved.

    Raises:
      ValueError: naming ``lambda_fn`` if it is not callable, not elementwise, leaves
        $[0, 1]$, decreases, has $\lambda_1 \ne 1$ or a non-finite derivative; naming
        ``name`` if reserved.
    """
    return CustomSchedule(lambda_fn, name)


def get_schedule(schedule: Union[str, AnnealingSchedule, Callable], *,
                 horizon: float = 3.0) -> AnnealingSchedule:
    """Resolve ``"linear"``, ``"cosine"``, ``"ou"``, an
    [`AnnealingSchedule`][langevin_jax.annealing.AnnealingSchedule] or a callable.

    Args:
      schedule: a name, a schedule, or a user ``lambda_fn`` (checked by
        [`custom_schedule`][langevin_jax.annealing.custom_schedule]).
      horizon: the OU horizon $T$ when ``schedule == "ou"``.
    """
    if isinstance(schedule, AnnealingSchedule):
        return schedule
    if isinstance(schedule, str):
        if schedule == "linear":
            return linear_schedule()
        if schedule == "cosine":
            return cosine_schedule()
        if schedule == "ou":
            return ou_schedule(horizon)
        raise ValueError(f"schedule must be one of {_RESERVED}, a callable or an "
                         f"AnnealingSchedule, got {schedule!r}")
    if callable(schedule):
        return custom_schedule(schedule)
    raise ValueError(f"schedule must be a name, a callable or an AnnealingSchedule, "
                     f"got {type(schedule).__name__}")


# ``make_schedule``, an earlier second name of ``get_schedule``: deprecated, warns
__getattr__ = alias_getattr(__name__, {"make_schedule": ("langevin_jax.annealing.get_schedule", get_schedule)})
