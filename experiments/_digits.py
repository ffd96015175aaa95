"""scikit-learn's handwritten digits for :mod:`experiments.memorization_digits`: loading,
scaling and the seeded split into training and held-out digits.

``sklearn.datasets.load_digits`` ships 1,797 images of 8 x 8 pixels (64 dimensions) with
integer intensities 0..16, inside the scikit-learn wheel (no download). They are scaled as
DDPM scales images, ``x = 2 * pixel / 16 - 1``, to ``[-1, 1]`` (background -1, ink +1); the
scaling is exact in float32 (multiples of 1/8). scikit-learn is a dependency of the experiments
only (the ``experiments`` extra), never of ``langevin_jax``.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

NUM_DIGITS = 1797
D = 64
SIDE = 8
#: how the pixels are scaled (recorded in the results and the shipped networks' metadata)
SCALING = "x = 2 * pixel / 16 - 1 (pixel in 0..16): [-1, 1], background -1"


@functools.lru_cache(maxsize=1)
def _raw() -> np.ndarray:
    from sklearn.datasets import load_digits  # the experiments' dependency only

    return np.asarray(load_digits().data, np.float64)


def load() -> np.ndarray:
    """``[1797, 64]`` float64: every digit, scaled to ``[-1, 1]`` (:data:`SCALING`), in
    scikit-learn's order."""
    x = 2.0 * _raw() / 16.0 - 1.0
    if x.shape != (NUM_DIGITS, D):
        raise RuntimeError(f"sklearn.datasets.load_digits returned {x.shape}, expected {(NUM_DIGITS, D)}")
    return x


def split(key: jax.Array, num_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded split: ``(train [num_train, 64], heldout [1797 - num_train, 64], perm)``, from a
    permutation of the digits drawn with ``key`` (``perm[:num_train]`` are the training digits'
    indices in scikit-learn's order, the rest the held-out ones). Disjoint by construction;
    deterministic for a key."""
    if isinstance(num_train, bool) or not isinstance(num_train, int) or not 2 <= num_train <= NUM_DIGITS - 1:
        raise ValueError(f"num_train must be an integer in [2, {NUM_DIGITS - 1}], got {num_train!r}")
    x = load()
    perm = np.asarray(jax.random.permutation(key, NUM_DIGITS))
    return x[perm[:num_train]], x[perm[num_train:]], perm


def as_images(x: np.ndarray) -> np.ndarray:
    """``[..., 64]`` -> ``[..., 8, 8]`` images, clipped to the data range ``[-1, 1]`` for display."""
    return np.clip(np.asarray(x), -1.0, 1.0).reshape(*np.shape(x)[:-1], SIDE, SIDE)
