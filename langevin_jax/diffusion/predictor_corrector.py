r"""Predictor-corrector sampling (Song, Sohl-Dickstein, Kingma, Kumar, Ermon & Poole 2021,
*Score-Based Generative Modeling through Stochastic Differential Equations*, Section 4.2 and
Algorithms 2, 3 and 5) on the discrete variance-preserving (DDPM) levels.

Step $k$ starts at level $t = \mathtt{start\_level} - k$ and ends at $t - 1$:

1. **predictor**, with $s(x, t) = -\mathtt{eps\_fn}(x, t) / \sqrt{1 - \bar\alpha_t}$:

    * ``"reverse_diffusion"`` (the reverse-diffusion predictor, the discretised reverse VP SDE):
      $x \leftarrow \bigl(2 - \sqrt{1 - \beta_t}\bigr) x + \beta_t\, s(x, t) + \sqrt{\beta_t}\, z$;
    * ``"ddpm"`` (ancestral sampling, score_sde's ``ancestral_sampling``, = DDPM with
      $\sigma_t^2 = \beta_t$): $x \leftarrow \bigl(x + \beta_t\, s(x, t)\bigr) / \sqrt{1 - \beta_t} + \sqrt{\beta_t}\, z$;

    with no noise at the last step ($t = 1$: score_sde's ``denoise``, the mean is returned);

2. **corrector**, when $t - 1 \ge 1$: $M$ Langevin steps at the new level $u = t - 1$,
   $x \leftarrow x + e\, g + \sqrt{2 e}\, z$ with $g = s(x, u)$, $z \sim \mathcal{N}(0, I)$ and the
   signal-to-noise rule $e = 2 \alpha_u \bigl(r |z| / |g|\bigr)^2$, $\alpha_u = 1 - \beta_u$.

**The norms of the step rule** (``snr_norms``). The paper's Algorithm 5 writes $|z|$ and
$|g|$ per sample; the score_sde code takes each as a mean over the batch (one step size for
all samples). They differ where it matters here: per sample, the step depends on the chain's own
$|g| \sim |x - \mathbb{E} x| / v$ and on the very $z$ it then adds, which inflates the variance by a
relative amount that grows as the dimension falls (measured with the exact Gaussian denoiser of
$\mathcal{N}(m, \operatorname{diag}(\mathtt{geomspace}(0.5, 2, d)))$, linear schedule, $T = 1000$, $r = 0.16$,
4,000 chains: +10 % at $d = 50$, +60 % at $d = 8$, four times at $d = 3$; negligible for images,
$d \ge 3072$). The batch mean removes that dependence (+1.6 to +2.3 % at the same $d$, close
to the +2.6 % of Langevin steps of relative size $2 r^2$). So ``"batch"`` (the code's rule)
is the default; it averages with ``jax.lax.pmean`` over the chain axis that [`langevin_jax.run`][langevin_jax.run] names
([`CHAIN_AXIS`][langevin_jax.samplers.base.CHAIN_AXIS]), which makes the chains of one run
dependent (the result depends on which chains run together, and a sharded run may differ from an
unsharded one in the last bits of the mean). ``"chain"`` is the paper's per-sample rule, with
independent chains.

One more choice: the code runs the corrector *before* the predictor at the same level, the
paper's Algorithm 2 after it, as here. With ``corrector_steps=0`` this is the predictor alone.

BlackJAX-style layers: [`init`][langevin_jax.diffusion.reverse.init],
[`build_kernel`][langevin_jax.diffusion.predictor_corrector.build_kernel] (``kernel(rng_key,
state, eps_fn, schedule, start_level, snr)``) and
[`pc_sampler`][langevin_jax.diffusion.predictor_corrector.pc_sampler].
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp

from langevin_jax import _checks
from langevin_jax.diffusion import reverse
from langevin_jax.diffusion.denoisers import EpsFn, check_trained_levels
from langevin_jax.diffusion.reverse import DiffusionInfo, DiffusionState, init
from langevin_jax.diffusion.schedules import NoiseSchedule, alphabar
from langevin_jax.samplers.base import CHAIN_AXIS, SamplingAlgorithm, as_pytree_fn, gaussian_noise
from langevin_jax.types import ArrayLike, PRNGKey

__all__ = ["pc_sampler", "init", "build_kernel", "PREDICTORS", "SNR_NORMS"]

#: the choices of ``predictor``
PREDICTORS = ("reverse_diffusion", "ddpm")
#: the choices of ``snr_norms``
SNR_NORMS = ("batch", "chain")


def _corrector(x, key, eps_fn, schedule, level, snr, num_steps, batch):
    """``num_steps`` Langevin steps at ``level`` with the signal-to-noise step rule; ``batch``:
    the norms are means over the chains of the run (``lax.pmean`` over ``CHAIN_AXIS``)."""
    alpha = schedule.alphas[level - 1].astype(x.dtype)
    scale = jnp.sqrt(1.0 - alphabar(schedule, level)).astype(x.dtype)
    keys = jax.random.split(key, num_steps)
    mean = (lambda v: jax.lax.pmean(v, CHAIN_AXIS)) if batch else (lambda v: v)  # noqa: E731

    def one(j, x):
        z = gaussian_noise(keys[j], x)
        g = -eps_fn(x, level) / scale
        g_norm = mean(jnp.sqrt(jnp.sum(g * g)))
        ratio = snr * mean(jnp.sqrt(jnp.sum(z * z))) / jnp.where(g_norm > 0, g_norm, 1.0)
        e = jnp.where(g_norm > 0, 2.0 * alpha * ratio**2, 0.0).astype(x.dtype)
        return x + e * g + jnp.sqrt(2.0 * e) * z

    return jax.lax.fori_loop(0, num_steps, one, x)


def build_kernel(predictor: str = "reverse_diffusion", corrector_steps: int = 1, snr_norms: str = "batch"):
    r"""The predictor-corrector kernel ``kernel(rng_key, state, eps_fn, schedule, start_level,
    snr) -> (DiffusionState, DiffusionInfo)``.

    Args:
      predictor: ``"reverse_diffusion"`` or ``"ddpm"`` (structural, fixed when built).
      corrector_steps: $M \ge 0$ Langevin corrector steps after each predictor step (a loop
        length: structural).
      snr_norms: ``"batch"`` ($|z|$ and $|g|$ averaged over the chains of the run, as the
        score_sde code does: the kernel must then run under ``jax.vmap(...,
        axis_name=CHAIN_AXIS)``, as [`langevin_jax.run`][langevin_jax.run] runs it) or
        ``"chain"`` (each chain its own, as the paper's Algorithm 5 writes it).
    """
    _checks.check_choice("predictor", predictor, PREDICTORS)
    _checks.check_choice("snr_norms", snr_norms, SNR_NORMS)
    batch = snr_norms == "batch"
    num_corr = _checks.check_int_at_least("corrector_steps", corrector_steps, 0)
    ancestral = predictor == "ddpm"

    def kernel(rng_key: PRNGKey, state: DiffusionState, eps_fn: EpsFn, schedule: NoiseSchedule,
               start_level: ArrayLike, snr: ArrayLike):
        x = state.position
        t = jnp.asarray(start_level, jnp.int32) - state.count
        k_pred, k_corr = jax.random.split(rng_key)
        beta = schedule.betas[t - 1].astype(x.dtype)
        alpha = schedule.alphas[t - 1].astype(x.dtype)
        ab = alphabar(schedule, t).astype(x.dtype)
        beta_score = -beta / jnp.sqrt(1.0 - ab) * eps_fn(x, t)  # beta_t s(x, t)
        mean = (x + beta_score) / jnp.sqrt(alpha) if ancestral else (2.0 - jnp.sqrt(alpha)) * x + beta_score
        new = mean + jnp.where(t > 1, jnp.sqrt(beta), 0.0) * gaussian_noise(k_pred, x)
        if num_corr:
            level = jnp.maximum(t - 1, 1)  # a valid level also where the corrector is skipped
            corrected = _corrector(new, k_corr, eps_fn, schedule, level, snr, num_corr, batch)
            new = jnp.where(t > 1, corrected, new)
        new = reverse.nan_where_invalid(t >= 1, new)
        return DiffusionState(new, state.count + 1), DiffusionInfo(jnp.all(jnp.isfinite(new)), t)

    return kernel


def _step(predictor, corrector_steps, snr_norms, eps_fn, schedule, start_level, snr, rng_key, state):
    return build_kernel(predictor, corrector_steps, snr_norms)(rng_key, state, eps_fn, schedule, start_level, snr)


def pc_sampler(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    *,
    predictor: str = "reverse_diffusion",
    corrector_steps: int = 1,
    snr: float = 0.16,
    snr_norms: str = "batch",
    start_level: Optional[int] = None,
    allow_untrained_levels: bool = False,
) -> SamplingAlgorithm:
    r"""Predictor-corrector sampling (Song et al. 2021) as an ``init``/``step`` pair.

    Each step: one predictor step from level $t$ to $t - 1$ (``"reverse_diffusion"``:
    $\bigl(2 - \sqrt{1 - \beta_t}\bigr) x + \beta_t\, s(x, t) + \sqrt{\beta_t}\, z$; ``"ddpm"``: ancestral
    sampling), then ``corrector_steps`` Langevin steps at level $t - 1$ with the step
    $e = 2 (1 - \beta_{t-1}) \bigl(\mathrm{snr}\, |z| / |s(x, t - 1)|\bigr)^2$, the norms averaged over the
    chains of the run (``snr_norms="batch"``, as the score_sde code) or per chain (``"chain"``, as the
    paper; see the module docstring for the bias of each). Run it for ``start_level`` steps from
    $\mathcal{N}(0, I)$ with [`langevin_jax.run`][langevin_jax.run]; each step evaluates ``eps_fn``
    ``1 + corrector_steps`` times.

    A pytree: ``eps_fn``'s arrays, the schedule, the start level and ``snr`` are traced inputs of
    a run; ``predictor`` and ``corrector_steps`` are structural (a new program each).

    Args:
      eps_fn: ``([d], []) -> [d]``, the noise predictor; its trained levels, when it carries
        them, must include the levels $1, \dots,$ ``start_level``.
      schedule: the [`NoiseSchedule`][langevin_jax.diffusion.NoiseSchedule] it was trained with.
      predictor: ``"reverse_diffusion"`` (default, as in score_sde's VP configurations) or ``"ddpm"``.
      corrector_steps: $M \ge 0$ (1 in Song et al.'s experiments; 0: the predictor alone).
      snr: the signal-to-noise ratio $r > 0$ of the corrector (score_sde's default 0.16).
      snr_norms: ``"batch"`` (default) or ``"chain"``. With ``"batch"`` the step must run under
        ``jax.vmap(step, axis_name=CHAIN_AXIS)`` (``run`` does so) and the chains of a run are
        coupled (``metadata["chains_coupled"]``).
      start_level: the level of the initial positions (default $T$).
      allow_untrained_levels: as in [`ddpm_sampler`][langevin_jax.diffusion.ddpm_sampler].

    Returns:
      A [`SamplingAlgorithm`][langevin_jax.samplers.base.SamplingAlgorithm] with
      [`DiffusionState`][langevin_jax.diffusion.DiffusionState] and
      [`DiffusionInfo`][langevin_jax.diffusion.DiffusionInfo].
    """
    reverse.check_common(eps_fn, schedule)
    start = reverse.resolve_start(schedule, start_level)
    _checks.check_choice("predictor", predictor, PREDICTORS)
    corrector_steps = _checks.check_int_at_least("corrector_steps", corrector_steps, 0)
    _checks.check_choice("snr_norms", snr_norms, SNR_NORMS)
    if not (isinstance(snr, (int, float)) and not isinstance(snr, bool) and math.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a finite float > 0, got {snr!r}")
    record = check_trained_levels("eps_fn", eps_fn, [1, start], allow_untrained_levels,
                                  f"predictor-corrector sampling from start_level={start}")
    eps_fn = as_pytree_fn(eps_fn)
    check = reverse.make_check(eps_fn, start, f"start_level={start}")
    step = jax.tree_util.Partial(_step, predictor, corrector_steps, snr_norms, eps_fn, schedule,
                                 jnp.asarray(start, jnp.int32), float(snr))
    metadata = dict(sampler="pc", predictor=predictor, corrector_steps=corrector_steps, snr=float(snr),
                    snr_norms=snr_norms, chains_coupled=snr_norms == "batch" and corrector_steps > 0,
                    start_level=start, **record)
    return SamplingAlgorithm(init, step, check, metadata)


pc_sampler.init = init  # type: ignore[attr-defined]
pc_sampler.build_kernel = build_kernel  # type: ignore[attr-defined]
