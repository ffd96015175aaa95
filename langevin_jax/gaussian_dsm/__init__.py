r"""Denoising score matching to Langevin sampling in the Gaussian setting: closed forms.

Source: Hurault, Terris, Moreau & Peyré (2025), *From Denoising Score Matching to Langevin
Sampling: a fine-grained error analysis in the Gaussian setting* (arXiv 2503.11615). We could read
only its abstract and summary: the $W_2$ sampling error of the pipeline
data $\to$ score learned by DSM $\to$ Langevin sampler depends on the data power spectrum through a
*kernel-type norm* whose kernel depends on the noise level, the step sizes and $n$. **Every
formula here is our own derivation** (``docs/paper2_gaussian_dsm.md``), checked three ways:
closed-form kernel vs exact matrices vs simulated chains. Normalisations (DSM loss scaling,
zero-mean data, ULA started at 0) are our choices; the paper's may differ by constants.

The pipeline: $x_1, \dots, x_n \sim \mathcal{N}(0, \Sigma)$ give
$\hat\Sigma = \frac{1}{n} \sum_j x_j x_j^\top$; DSM of the linear score $s_A(y) = -A y$ at noise $\sigma$
has the minimiser $A_\infty = (\hat\Sigma + \sigma^2 I)^{-1}$ (or $K$ gradient steps $A_K$ of size $\gamma$);
ULA with step $\eta$ from $x_0 = 0$ has the law $\mathcal{N}(0, C_k)$,
$C_\infty = [A (I - \eta A / 2)]^{-1}$; the error is the Bures
$W_2\bigl(\mathcal{N}(0, \Sigma), \mathcal{N}(0, C)\bigr)$. $C = \varphi(\hat\Sigma)$ is a spectral function of
$\hat\Sigma$, so in the population limit $\hat\Sigma = \Sigma$, exactly,

$$
W_2^2 = \sum_i k(\lambda_i), \qquad k(\lambda) = \Bigl(\sqrt{\lambda} - \sqrt{\varphi(\lambda)}\Bigr)^2
$$

([`kernel`][langevin_jax.gaussian_dsm.kernel]); for finite $n$ a two-point kernel adds the
$1/n$ term ([`finite_sample_kernel`][langevin_jax.gaussian_dsm.finite_sample_kernel]). The exact
value for a given $\hat\Sigma$ is [`pipeline_w2`][langevin_jax.gaussian_dsm.pipeline_w2], computed
from the matrices independently of the scalar map $\varphi$.

One module per section of the derivation, every public name re-exported here:

* ``data``: the power-law spectrum and the empirical covariance;
* ``exact``: the pipeline in exact matrices (DSM loss and score, ULA covariance, Bures $W_2$);
* ``spectral``: the per-eigenvalue closed forms and the kernel of the population limit;
* ``finite_samples``: the $1/n$ two-point kernel and the Gaussian-fit bias;
* ``noise_tradeoff``: the largest stable ULA step and the optimal noise level;
* ``decomposition``: the error sources, each switched on or off alone.

Every function is pure JAX and differentiable with ``jax.grad`` in ``sigma``, ``gamma``, ``eta``
and the spectrum; integer step counts are static Python ints. The public functions validate their
arguments eagerly (on concrete values) and then call one internally jitted computation (compiled
once per shape and step counts; they compose with ``jit``, ``vmap`` and ``grad``). Use float64
(``with jax.enable_x64(True):``) for precise values. Bad inputs raise ``ValueError`` naming the
argument, eagerly, when the arguments are concrete; an unstable ULA step ($\eta a \ge 2$) raises when
detectable eagerly, and under ``jit``/``grad`` makes the stationary covariance (and the $W_2$) ``+inf``.
"""

from langevin_jax.gaussian_dsm.data import power_law_spectrum, sample_empirical_covariance
from langevin_jax.gaussian_dsm.decomposition import ErrorDecomposition, ErrorSources, error_decomposition
from langevin_jax.gaussian_dsm.exact import (
    dsm_loss,
    dsm_score_matrix,
    pipeline_covariance,
    pipeline_w2,
    sampling_w2,
    ula_covariance,
)
from langevin_jax.gaussian_dsm.finite_samples import expected_kernel_w2, finite_sample_kernel, gaussian_fit_w2_bias
from langevin_jax.gaussian_dsm.noise_tradeoff import max_stable_eta, optimal_sigma
from langevin_jax.gaussian_dsm.spectral import dsm_eigenvalue, kernel, kernel_w2, sampled_variance, ula_variance

__all__ = [
    # data
    "power_law_spectrum",
    "sample_empirical_covariance",
    # exact
    "dsm_loss",
    "dsm_score_matrix",
    "ula_covariance",
    "pipeline_covariance",
    "sampling_w2",
    "pipeline_w2",
    # spectral
    "dsm_eigenvalue",
    "ula_variance",
    "sampled_variance",
    "kernel",
    "kernel_w2",
    # finite_samples
    "finite_sample_kernel",
    "expected_kernel_w2",
    "gaussian_fit_w2_bias",
    # noise_tradeoff
    "max_stable_eta",
    "optimal_sigma",
    # decomposition
    "ErrorSources",
    "ErrorDecomposition",
    "error_decomposition",
]
