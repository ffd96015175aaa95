r"""Target distributions with closed-form log-densities, scores and moments.

Each target is an immutable pytree (so it can be passed through ``jit``/``vmap``)
with

* ``log_prob(x)``: log-density at one point ``x`` of shape ``[d]`` (normalised);
* ``score(x)``: $\nabla \log \pi(x)$, shape ``[d]``, in closed form;
* ``sample(key, num)``: ``[num, d]`` exact samples;
* ``mean`` (``[d]``) and ``covariance`` (``[d, d]``): exact moments.

Batching over points is ``jax.vmap(target.score)``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from langevin_jax import _checks, theory
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = ["Gaussian", "IsotropicGaussian", "GaussianMixture", "random_orthogonal"]


def random_orthogonal(key: PRNGKey, d: int, dtype: DTypeLike | None = None) -> jax.Array:
    """A Haar-random orthogonal ``[d, d]`` matrix, e.g. the eigenbasis of
    [`Gaussian.from_spectrum`][langevin_jax.targets.Gaussian.from_spectrum].

    The QR factor of a standard normal matrix with each column's sign set by the sign of
    $R$'s diagonal (Mezzadri 2007; without it $Q$ is not Haar-distributed). ``dtype``:
    the floating dtype (default: JAX's default float, float64 under x64). Traceable in ``key``.
    """
    _checks.check_key("key", key)
    d = _checks.check_int_at_least("d", d, 1)
    z = jax.random.normal(key, (d, d), dtype if dtype is not None else jnp.result_type(float))
    q, r = jnp.linalg.qr(z)
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0).astype(q.dtype)


@jax.tree_util.register_dataclass  # every field an array leaf
@dataclasses.dataclass(frozen=True)
class Gaussian:
    r"""Gaussian $\mathcal{N}(\text{mean}, \text{covariance})$ on $\mathbb{R}^d$ with a full covariance.

    Build it from ``(mean, covariance)`` with [`create`][langevin_jax.targets.Gaussian.create], or from a spectrum
    in a given orthonormal basis with [`from_spectrum`][langevin_jax.targets.Gaussian.from_spectrum]
    (``covariance = basis @ diag(eigenvalues) @ basis.T``).

    Attributes:
      mean: ``[d]``.
      covariance: ``[d, d]``, symmetric positive definite.
      scale_tril: ``[d, d]`` lower Cholesky factor of the covariance.
      precision: ``[d, d]`` inverse covariance.
    """

    mean: jax.Array
    covariance: jax.Array
    scale_tril: jax.Array
    precision: jax.Array

    @classmethod
    def create(cls, mean: ArrayLike, covariance: ArrayLike) -> "Gaussian":
        """Gaussian from its mean ``[d]`` and covariance ``[d, d]``."""
        for name, value in (("mean", mean), ("covariance", covariance)):  # before jnp.asarray: 1e39 -> inf
            _checks.check_representable(name, value, underflow=False)
        mean = _checks.check_rank("mean", mean, 1, "[d]")
        if mean.shape[0] < 1:
            raise ValueError("mean must have at least one coordinate, got shape (0,)")
        covariance = _checks.check_rank("covariance", covariance, 2, "[d, d]")
        d = mean.shape[0]
        if covariance.shape != (d, d):
            raise ValueError(
                f"covariance must have shape ({d}, {d}) to match mean, got {covariance.shape}"
            )
        _checks.check_finite_array("mean", mean)
        _checks.check_finite_array("covariance", covariance)
        _checks.check_symmetric("covariance", covariance)
        dtype = jnp.result_type(mean, covariance, jnp.float32)
        mean, covariance = mean.astype(dtype), covariance.astype(dtype)
        covariance = 0.5 * (covariance + covariance.T)  # removes rounding-level asymmetry only
        scale_tril = jnp.linalg.cholesky(covariance)
        if _checks.is_concrete(scale_tril) and not bool(jnp.all(jnp.isfinite(scale_tril))):
            raise ValueError("covariance must be symmetric positive definite")
        eye = jnp.eye(d, dtype=dtype)
        inv_l = jax.scipy.linalg.solve_triangular(scale_tril, eye, lower=True)
        precision = inv_l.T @ inv_l
        return cls(mean, covariance, scale_tril, precision)

    @classmethod
    def from_spectrum(cls, mean: ArrayLike, eigenvalues: ArrayLike, basis: ArrayLike | None = None) -> "Gaussian":
        """Gaussian with covariance ``basis @ diag(eigenvalues) @ basis.T``.

        Args:
          mean: ``[d]``.
          eigenvalues: ``[d]``, all > 0 (the power spectrum).
          basis: ``[d, d]`` orthonormal matrix whose columns are the eigenvectors;
            identity when omitted.
        """
        _checks.check_representable("eigenvalues", eigenvalues)  # before jnp.asarray: 1e-50 -> 0
        eigenvalues = _checks.check_rank("eigenvalues", eigenvalues, 1, "[d]")
        _checks.check_positive_finite("eigenvalues", eigenvalues)
        if basis is None:
            cov = jnp.diag(eigenvalues)
        else:
            basis = _checks.check_rank("basis", basis, 2, "[d, d]")
            if basis.shape != (eigenvalues.shape[0],) * 2:
                raise ValueError(
                    f"basis must have shape {(eigenvalues.shape[0],) * 2}, got {basis.shape}"
                )
            _checks.check_orthonormal("basis", basis)
            cov = (basis * eigenvalues) @ basis.T
        return cls.create(mean, cov)

    @property
    def dim(self) -> int:
        return self.mean.shape[-1]

    def log_prob(self, x: jax.Array) -> jax.Array:
        _checks.check_point(x, self.dim)
        diff = x - self.mean
        z = jax.scipy.linalg.solve_triangular(self.scale_tril, diff, lower=True)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(self.scale_tril)))
        return theory.gaussian_log_density(jnp.dot(z, z), logdet, self.dim)

    def score(self, x: jax.Array) -> jax.Array:
        _checks.check_point(x, self.dim)
        return -self.precision @ (x - self.mean)

    def sample(self, key: PRNGKey, num: int) -> jax.Array:
        _checks.check_key("key", key)
        _checks.check_int_at_least("num", num, 1)
        z = jax.random.normal(key, (num, self.dim), self.mean.dtype)
        return self.mean + z @ self.scale_tril.T


@jax.tree_util.register_dataclass  # every field an array leaf
@dataclasses.dataclass(frozen=True)
class IsotropicGaussian:
    r"""Isotropic Gaussian $\mathcal{N}(\text{mean}, \text{variance} \cdot I_d)$.

    Attributes:
      mean: ``[d]``.
      variance: scalar > 0.
    """

    mean: jax.Array
    variance: jax.Array

    @classmethod
    def create(cls, mean: ArrayLike, variance: ArrayLike = 1.0) -> "IsotropicGaussian":
        mean = _checks.check_rank("mean", mean, 1, "[d]")
        _checks.check_finite_array("mean", mean)
        if jnp.ndim(variance) != 0:
            raise ValueError(f"variance must be a scalar (isotropic), got shape {jnp.shape(variance)}; "
                             "use Gaussian.from_spectrum for a diagonal covariance")
        dtype = jnp.result_type(mean, jnp.float32)
        _checks.check_positive_finite("variance", variance, dtype)  # 1e-50 is 0 in float32
        return cls(mean.astype(dtype), jnp.asarray(variance, dtype))

    @property
    def dim(self) -> int:
        return self.mean.shape[-1]

    @property
    def covariance(self) -> jax.Array:
        return self.variance * jnp.eye(self.dim, dtype=self.mean.dtype)

    def log_prob(self, x: jax.Array) -> jax.Array:
        _checks.check_point(x, self.dim)
        diff = x - self.mean
        return theory.gaussian_log_density(jnp.dot(diff, diff) / self.variance,
                                           self.dim * jnp.log(self.variance), self.dim)

    def score(self, x: jax.Array) -> jax.Array:
        _checks.check_point(x, self.dim)
        return -(x - self.mean) / self.variance

    def sample(self, key: PRNGKey, num: int) -> jax.Array:
        _checks.check_key("key", key)
        _checks.check_int_at_least("num", num, 1)
        z = jax.random.normal(key, (num, self.dim), self.mean.dtype)
        return self.mean + jnp.sqrt(self.variance) * z


@jax.tree_util.register_dataclass  # every field an array leaf
@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    r"""Mixture $\sum_k w_k\, \mathcal{N}(m_k, C_k)$ of full-covariance Gaussians.

    Attributes:
      weights: ``[K]``, the $w_k$: positive, summing to one.
      means: ``[K, d]``, the $m_k$.
      covariances: ``[K, d, d]``, the $C_k$.
      scale_trils: ``[K, d, d]`` Cholesky factors.
      precisions: ``[K, d, d]``.
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    scale_trils: jax.Array
    precisions: jax.Array

    @classmethod
    def create(cls, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike) -> "GaussianMixture":
        """Mixture from weights ``[K]``, means ``[K, d]`` and covariances.

        ``covariances`` may be ``[K, d, d]`` (full), ``[K, d]`` (diagonal) or
        ``[K]`` (isotropic variances).
        """
        weights = _checks.check_rank("weights", weights, 1, "[K]")
        means = _checks.check_rank("means", means, 2, "[K, d]")
        num, d = means.shape
        if weights.shape != (num,):
            raise ValueError(f"weights must have shape ({num},) to match means, got {weights.shape}")
        _checks.check_positive_finite("weights", weights)
        if _checks.is_concrete(weights):
            total = float(np.sum(np.asarray(weights, np.float64)))
            if abs(total - 1.0) > 1e-5 * num:
                raise ValueError(f"weights must sum to 1, got sum {total:.6g}; pass weights / weights.sum() "
                                 "(they are not renormalised silently)")
        _checks.check_finite_array("means", means)
        # before jnp.asarray: a variance of 1e-50 is 0 in float32 (off-diagonal entries may be)
        _checks.check_representable("covariances", covariances, underflow=jnp.ndim(covariances) < 3)
        covariances = jnp.asarray(covariances)
        if covariances.shape == (num,):
            _checks.check_positive_finite("covariances", covariances)
            covariances = covariances[:, None, None] * jnp.eye(d)
        elif covariances.shape == (num, d):
            _checks.check_positive_finite("covariances", covariances)
            covariances = jax.vmap(jnp.diag)(covariances)
        elif covariances.shape != (num, d, d):
            raise ValueError(
                f"covariances must have shape ({num}, {d}, {d}), ({num}, {d}) or ({num},), "
                f"got {covariances.shape}"
            )
        else:
            _checks.check_finite_array("covariances", covariances)
            _checks.check_symmetric("covariances", covariances)
        dtype = jnp.result_type(means, covariances, jnp.float32)
        weights = (weights / jnp.sum(weights)).astype(dtype)
        comps = jax.vmap(lambda m, c: Gaussian.create(m, c))(means.astype(dtype),
                                                            covariances.astype(dtype))
        if _checks.is_concrete(comps.scale_tril) and not bool(
            jnp.all(jnp.isfinite(comps.scale_tril))
        ):
            raise ValueError("covariances must all be symmetric positive definite")
        return cls(weights, comps.mean, comps.covariance, comps.scale_tril, comps.precision)

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    def _component_log_probs(self, x: jax.Array) -> jax.Array:
        def one(m, tril):
            z = jax.scipy.linalg.solve_triangular(tril, x - m, lower=True)
            logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(tril)))
            return theory.gaussian_log_density(jnp.dot(z, z), logdet, self.dim)

        return jnp.log(self.weights) + jax.vmap(one)(self.means, self.scale_trils)

    def log_prob(self, x: jax.Array) -> jax.Array:
        _checks.check_point(x, self.dim)
        return jax.nn.logsumexp(self._component_log_probs(x))

    def responsibilities(self, x: jax.Array) -> jax.Array:
        """Posterior component probabilities ``[K]`` at one point ``x``."""
        _checks.check_point(x, self.dim)
        return jax.nn.softmax(self._component_log_probs(x))

    def score(self, x: jax.Array) -> jax.Array:
        r"""$\sum_k r_k(x) \bigl(-C_k^{-1} (x - m_k)\bigr)$ with responsibilities $r_k$."""
        r = self.responsibilities(x)
        comp_scores = -jnp.einsum("kij,kj->ki", self.precisions, x - self.means)
        return r @ comp_scores

    def sample(self, key: PRNGKey, num: int) -> jax.Array:
        _checks.check_key("key", key)
        _checks.check_int_at_least("num", num, 1)
        key_c, key_z = jax.random.split(key)
        comp = jax.random.categorical(key_c, jnp.log(self.weights), shape=(num,))
        z = jax.random.normal(key_z, (num, self.dim), self.means.dtype)
        return self.means[comp] + jnp.einsum("nij,nj->ni", self.scale_trils[comp], z)

    @property
    def mean(self) -> jax.Array:
        return self.weights @ self.means

    @property
    def covariance(self) -> jax.Array:
        m = self.mean
        second = jnp.einsum("k,kij->ij", self.weights, self.covariances) + jnp.einsum(
            "k,ki,kj->ij", self.weights, self.means, self.means
        )
        return second - jnp.outer(m, m)
