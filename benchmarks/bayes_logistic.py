"""Bayesian logistic regression: time to a bulk ESS, langevin_jax MALA vs BlackJAX and NumPyro, in one process.

The model of ``docs/bayesian_logistic.md``: scikit-learn's breast-cancer data (569 rows, 30
standardised features, bundled with scikit-learn), ``y_i ~ Bernoulli(logit^-1(x_i . w + b))``,
prior ``w_j, b ~ N(0, sigma^2)`` (``--sigma``, 1 by default), float32, positions ``{"w": [30],
"b": []}``. Every sampler starts its chains at the same points, ``0.1 * N(0, I)`` (a wide start
strands MALA chains in the tails: see the docs page), and every sampler's draws go through the
same ArviZ call (``az.ess(..., method="bulk")`` on ``[chain, draw]`` arrays); the figure of merit
is the smallest bulk ESS over the 31 coefficients.

Rows (all with ``--chains`` chains, run side by side in one process):

* ``langevin_jax MALA``: ``langevin_jax.adaptation.mala_warmup`` (``--warmup`` steps, with
  the diagonal mass matrix; one step size and one diagonal for all chains), then
  ``lj.run(key, lj.mala(logdensity, h, inverse_mass_matrix=m), ..., save_every=--thin)``.
* ``blackjax.mala``: BlackJAX's MALA, ``vmap``-ed by hand over the chains in BlackJAX's idiom
  (``scan`` over ``split(key, steps)``, ``split(k, chains)`` per step), with langevin_jax's
  adapted step size and diagonal, from langevin_jax's warmed-up positions, thinned the same way.
  ``blackjax.mala`` takes no mass matrix, so it runs on the rescaled target ``z = x / sqrt(m)``
  (MALA with step ``h`` on ``z`` is exactly MALA with step ``h`` and ``M^-1 = diag(m)`` on ``x``),
  and its warm-up time is langevin_jax's. BlackJAX's own ``window_adaptation`` tunes only the
  HMC family (it passes an ``inverse_mass_matrix`` that ``blackjax.mala`` does not accept), so
  there is no "blackjax.mala with BlackJAX's adaptation" row.
* ``blackjax.nuts``: ``blackjax.window_adaptation(blackjax.nuts, ...)`` ``vmap``-ed over the
  chains (each chain adapts its own step size and diagonal, ``--warmup`` steps, target
  acceptance 0.8), then NUTS ``vmap``-ed over the chains with each chain's parameters.
* ``numpyro NUTS``: ``numpyro.infer.MCMC(NUTS(model), chain_method="vectorized")``, the same
  model written with ``numpyro.sample`` (the same log density up to a constant), the same
  starts (``init_params``), ``mcmc.warmup`` then ``mcmc.run``.

Timing: each row runs once to compile, then ``--repeats`` timed calls (new keys every call);
the first timed call's draws are the ones measured. ``warm-up s`` and ``sampling s``: the best
over the timed calls of each phase (ended by ``block_until_ready``), less the seconds JAX
itself reports spending on tracing, lowering and compiling inside it (``jax.monitoring``
events): a few milliseconds of tracing for langevin_jax's eager checks, nothing for BlackJAX,
whose later calls re-use the compiled programs, but NumPyro's ``warmup`` and ``run`` compile
their loops afresh on every call; ``recompiled`` shows the programs and seconds of the first
timed call. ``compile s`` = the first call's wall time less the first timed call's ``warm-up s
+ sampling s``: what a first call costs on top. ``ESS/s`` = min bulk ESS / sampling s.
``to ESS N s`` = warm-up s + sampling s x N / min bulk ESS (the ESS grows in proportion to the
draws), compile time excluded, and in brackets that time over langevin_jax's (> 1: langevin_jax
reaches the target sooner). ``grads per chain`` = the gradient evaluations of one chain's
sampling phase (MALA: one per step; NUTS: its leapfrog steps, summed).

Usage::

    python -m benchmarks.bayes_logistic            # 16 chains, 1,000 warm-up, MALA 20,000 steps, NUTS 1,000 draws, best of 3
    python -m benchmarks.bayes_logistic --quick    # a smoke run (a quarter of the steps, one timed call)
    python -m benchmarks.bayes_logistic --sigma 5  # a wider prior: a worse-conditioned posterior

Peers that are not installed (BlackJAX: the ``test`` extra; NumPyro: the ``bench`` extra) are
reported as ``skipped: not installed``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import time
import warnings
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from benchmarks._jit_work import jit_work

LJ_ROW = "langevin_jax MALA"
BJ_MALA_ROW = "blackjax.mala (lj's h and diagonal)"
BJ_NUTS_ROW = "blackjax.nuts (window_adaptation)"
NP_NUTS_ROW = "numpyro NUTS (vectorized)"
START_SCALE = 0.1


class Config(NamedTuple):
    chains: int
    warmup: int
    mala_steps: int
    thin: int
    nuts_draws: int
    sigma: float


class Row(NamedTuple):
    name: str
    warmup_s: float  # the timed call's, less the JIT seconds JAX reported within it
    sampling_s: float  # likewise
    compile_s: float  # the first call's wall time less the timed call's warmup_s + sampling_s
    jit_s: float  # JIT seconds JAX reported within the timed call (subtracted above)
    programs: int  # XLA programs compiled by the timed call
    draws: int  # saved draws per chain
    min_ess: float
    max_rhat: float
    grads: float  # gradient evaluations of one chain's sampling phase (mean over chains)
    mean: np.ndarray  # posterior means of w[0..29], b
    sd: np.ndarray  # posterior sds
    note: str = ""


class Skipped(NamedTuple):
    name: str
    why: str


# --------------------------------------------------------------------------- the model


def load_data():
    """The breast-cancer features, standardised, and the labels, float32 (bundled with scikit-learn)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return jnp.asarray(x, jnp.float32), jnp.asarray(data.target, jnp.float32)


def make_logdensity(x, y, sigma: float) -> Callable:
    def logdensity(params):
        eta = x @ params["w"] + params["b"]
        loglik = jnp.sum(y * eta - jnp.logaddexp(0.0, eta))
        logprior = -0.5 * (jnp.sum(params["w"] ** 2) + params["b"] ** 2) / sigma**2
        return loglik + logprior

    return logdensity


def initial_positions(key, num_chains: int, dim: int):
    key_w, key_b = jax.random.split(key)
    return {"w": START_SCALE * jax.random.normal(key_w, (num_chains, dim)),
            "b": START_SCALE * jax.random.normal(key_b, (num_chains,))}


def diagnose(draws: dict) -> tuple[float, float]:
    """Min bulk ESS and max rank R-hat over every coefficient, by ArviZ, of ``{"w": [chain, draw, 30],
    "b": [chain, draw]}``: the same call for every sampler."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)
        import arviz as az
    data = az.from_dict(posterior={k: np.asarray(v, np.float64) for k, v in draws.items()})
    ess = az.ess(data, method="bulk")
    rhat = az.rhat(data)
    min_ess = min(float(np.min(ess[k].values)) for k in draws)
    max_rhat = max(float(np.max(rhat[k].values)) for k in draws)
    return min_ess, max_rhat


# --------------------------------------------------------------------------- timing


class Phase(NamedTuple):
    seconds: float  # wall time less the JIT seconds reported inside it
    jit_s: float
    programs: int


def _timed(fn, *args):
    """``fn(*args)`` to completion: its output and its ``Phase``."""
    with jit_work() as work:
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        wall = time.perf_counter() - t0
    return out, Phase(max(wall - work[0], 0.0), work[0], work[1])


def _run_timed(sampler: Callable, repeats: int):
    """``sampler(key) -> (draws, warm-up Phase, sampling Phase, grads)`` once to compile, then
    ``repeats`` timed calls (new keys). Returns the first timed call's draws and grads with each
    phase's best seconds over the timed calls, and the first call's wall time less the first
    timed call's net seconds (what compiling cost)."""
    t0 = time.perf_counter()
    sampler(jax.random.key(1))
    first = time.perf_counter() - t0
    outs = [sampler(jax.random.key(2 + i)) for i in range(repeats)]
    draws, warmup, sampling, grads = outs[0]
    compile_s = max(first - warmup.seconds - sampling.seconds, 0.0)
    warmup = warmup._replace(seconds=min(o[1].seconds for o in outs))
    sampling = sampling._replace(seconds=min(o[2].seconds for o in outs))
    return (draws, warmup, sampling, grads), compile_s


# --------------------------------------------------------------------------- samplers


def langevin_jax_mala(logdensity, x0, cfg: Config):
    """``sampler(key)`` for the langevin_jax row; also hands its warm-up to the BlackJAX MALA row."""
    last = {}

    def sampler(key):
        key_warm, key_run = jax.random.split(key)
        warm, warmup = _timed(lambda: lj.adaptation.mala_warmup(
            key_warm, logdensity, x0, cfg.warmup, adapt_mass_matrix=True))
        alg = lj.mala(logdensity, warm.step_size, inverse_mass_matrix=warm.inverse_mass_matrix)
        out, sampling = _timed(lambda: lj.run(key_run, alg, warm.positions, cfg.mala_steps, save_every=cfg.thin))
        last.update(warm=warm, warmup=warmup, acceptance=float(out.info.acceptance_rate))
        draws = {k: np.swapaxes(np.asarray(v), 0, 1) for k, v in out.trajectory.items()}  # [chain, draw, ...]
        return draws, warmup, sampling, float(cfg.mala_steps)

    return sampler, last


def blackjax_mala(blackjax, logdensity, cfg: Config, lj_last: dict):
    """BlackJAX's MALA on ``z = x / sqrt(m)`` with langevin_jax's ``h`` and ``m``, hand-vmapped."""
    num_saves = cfg.mala_steps // cfg.thin

    @jax.jit
    def run(key, z0, h, scale):
        logdensity_z = lambda z: logdensity(jax.tree_util.tree_map(lambda a, s: a * s, z, scale))  # noqa: E731
        mala = blackjax.mala(logdensity_z, h)
        states = jax.vmap(mala.init)(z0)

        def one_step(states, k):
            keys = jax.random.split(k, cfg.chains)
            states, info = jax.vmap(mala.step)(keys, states)
            return states, info.acceptance_rate

        def one_save(states, k):
            states, acc = jax.lax.scan(one_step, states, jax.random.split(k, cfg.thin))
            return states, (states.position, jnp.mean(acc))

        _, (trajectory, acc) = jax.lax.scan(one_save, states, jax.random.split(key, num_saves))
        x = jax.tree_util.tree_map(lambda a, s: a * s, trajectory, scale)
        return x, jnp.mean(acc)

    def sampler(key):
        warm = lj_last["warm"]
        scale = jax.tree_util.tree_map(jnp.sqrt, warm.inverse_mass_matrix)
        z0 = jax.tree_util.tree_map(lambda a, s: a / s, warm.positions, scale)
        (trajectory, acc), sampling = _timed(run, key, z0, warm.step_size, scale)
        lj_last["blackjax_acceptance"] = float(acc)
        draws = {k: np.swapaxes(np.asarray(v), 0, 1) for k, v in trajectory.items()}
        return draws, lj_last["warmup"], sampling, float(cfg.mala_steps)

    return sampler


def blackjax_nuts(blackjax, logdensity, x0, cfg: Config):
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    adaptation = blackjax.window_adaptation(blackjax.nuts, logdensity,
                                            adaptation_info_fn=get_filter_adapt_info_fn())

    @jax.jit
    def warmup(key, x0):
        keys = jax.random.split(key, cfg.chains)
        (states, params), _ = jax.vmap(lambda k, x: adaptation.run(k, x, num_steps=cfg.warmup))(keys, x0)
        return states, params

    @jax.jit
    def sample(key, states, params):
        def one_chain(key, state, params):
            nuts = blackjax.nuts(logdensity, **params)

            def one_step(state, k):
                state, info = nuts.step(k, state)
                return state, (state.position, info.num_integration_steps)

            _, (trajectory, steps) = jax.lax.scan(one_step, state, jax.random.split(key, cfg.nuts_draws))
            return trajectory, jnp.sum(steps)

        keys = jax.random.split(key, cfg.chains)
        return jax.vmap(one_chain)(keys, states, params)  # leaves [chain, draw, ...]

    def sampler(key):
        key_warm, key_run = jax.random.split(key)
        (states, params), warmup_phase = _timed(warmup, key_warm, x0)
        (trajectory, grads), sampling = _timed(sample, key_run, states, params)
        draws = {k: np.asarray(v) for k, v in trajectory.items()}
        return draws, warmup_phase, sampling, float(np.mean(np.asarray(grads)))

    return sampler


def numpyro_nuts(numpyro, x, y, x0, cfg: Config):
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def model(x, y):
        w = numpyro.sample("w", dist.Normal(0.0, cfg.sigma).expand([x.shape[1]]).to_event(1))
        b = numpyro.sample("b", dist.Normal(0.0, cfg.sigma))
        numpyro.sample("y", dist.Bernoulli(logits=x @ w + b), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=cfg.warmup, num_samples=cfg.nuts_draws, num_chains=cfg.chains,
                chain_method="vectorized", progress_bar=False, jit_model_args=True)

    def sampler(key):
        key_warm, key_run = jax.random.split(key)
        def warmup():
            mcmc.warmup(key_warm, x, y, init_params=x0)
            return mcmc.post_warmup_state

        def run():
            mcmc.run(key_run, x, y, extra_fields=("num_steps",))
            return mcmc.get_samples(group_by_chain=True)

        _, warmup_phase = _timed(warmup)
        samples, sampling = _timed(run)
        steps = mcmc.get_extra_fields(group_by_chain=True)["num_steps"]
        draws = {k: np.asarray(v) for k, v in samples.items()}
        return draws, warmup_phase, sampling, float(np.mean(np.sum(np.asarray(steps), axis=1)))

    return sampler


# --------------------------------------------------------------------------- main


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def bench(cfg: Config, repeats: int = 1) -> tuple[list, dict]:
    x, y = load_data()
    logdensity = make_logdensity(x, y, cfg.sigma)
    x0 = initial_positions(jax.random.key(0), cfg.chains, x.shape[1])
    blackjax, numpyro = _import("blackjax"), _import("numpyro")
    rows: list = []
    notes: dict = {}

    def add(name, sampler, draws_per_chain, note=""):
        (draws, warmup, sampling, grads), compile_s = _run_timed(sampler, repeats)
        min_ess, max_rhat = diagnose(draws)
        shared = note.startswith("warm-up: langevin_jax")  # its warm-up was timed in the langevin_jax row
        if shared:  # its first call ran no warm-up
            compile_s += warmup.seconds
        jit_s = sampling.jit_s + (0.0 if shared else warmup.jit_s)
        programs = sampling.programs + (0 if shared else warmup.programs)
        flat = np.concatenate([np.asarray(draws["w"], np.float64).reshape(-1, draws["w"].shape[-1]),
                               np.asarray(draws["b"], np.float64).reshape(-1, 1)], axis=1)
        rows.append(Row(name, warmup.seconds, sampling.seconds, compile_s, jit_s, programs, draws_per_chain,
                        min_ess, max_rhat, grads, flat.mean(axis=0), flat.std(axis=0), note))

    lj_sampler, lj_last = langevin_jax_mala(logdensity, x0, cfg)
    add(LJ_ROW, lj_sampler, cfg.mala_steps // cfg.thin)
    if rows:  # the BlackJAX MALA row is charged langevin_jax's best warm-up
        lj_last["warmup"] = Phase(rows[-1].warmup_s, 0.0, 0)
    notes["lj"] = lj_last
    if blackjax is None:
        rows += [Skipped(BJ_MALA_ROW, "skipped: not installed (blackjax)"),
                 Skipped(BJ_NUTS_ROW, "skipped: not installed (blackjax)")]
    else:
        if "warm" in lj_last:
            add(BJ_MALA_ROW, blackjax_mala(blackjax, logdensity, cfg, lj_last), cfg.mala_steps // cfg.thin,
                "warm-up: langevin_jax's")
        add(BJ_NUTS_ROW, blackjax_nuts(blackjax, logdensity, x0, cfg), cfg.nuts_draws)
    if numpyro is None:
        rows.append(Skipped(NP_NUTS_ROW, "skipped: not installed (numpyro)"))
    else:
        add(NP_NUTS_ROW, numpyro_nuts(numpyro, x, y, x0, cfg), cfg.nuts_draws)
    return rows, notes


def time_to(r: Row, target: int) -> float:
    """Seconds to a min bulk ESS of ``target``: the warm-up, then sampling at the measured ESS/s."""
    return r.warmup_s + r.sampling_s * target / r.min_ess


def format_table(rows: list, targets: Sequence[int]) -> str:
    cols = ["sampler", "warm-up s", "sampling s", "compile s", "recompiled: programs (s)", "draws per chain",
            "grads per chain", "min bulk ESS", "max R-hat", "ESS/s"] + [f"to ESS {t:,} s (/ lj)" for t in targets]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    ref = next((r for r in rows if isinstance(r, Row) and r.name == LJ_ROW), None)
    for r in rows:
        if isinstance(r, Skipped):
            lines.append(f"| {r.name} | {r.why} |" + " |" * (len(cols) - 2))
            continue
        name = r.name + (f" [{r.note}]" if r.note else "")
        cells = [name, f"{r.warmup_s:.2f}", f"{r.sampling_s:.2f}", f"{r.compile_s:.2f}",
                 f"{r.programs} ({r.jit_s:.1f})", f"{r.draws:,}", f"{r.grads:,.0f}", f"{r.min_ess:,.0f}",
                 f"{r.max_rhat:.3f}", f"{r.min_ess / r.sampling_s:,.0f}"]
        for t in targets:
            ratio = f"{time_to(r, t) / time_to(ref, t):.2f}" if ref is not None else "-"
            cells.append(f"{time_to(r, t):.2f} ({ratio})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_line(rows: list) -> str:
    """How far each sampler's posterior means are from langevin_jax's, in posterior sds (max over
    the 31 coefficients): every row samples the same posterior."""
    ref = next((r for r in rows if isinstance(r, Row) and r.name == LJ_ROW), None)
    if ref is None:
        return ""
    parts = [f"{r.name}: {np.max(np.abs(r.mean - ref.mean) / ref.sd):.3f}"
             for r in rows if isinstance(r, Row) and r is not ref]
    return "posterior means vs langevin_jax's, max |difference| / sd: " + ("; ".join(parts) or "-")


def machine_line() -> str:
    versions = []
    for name in ("jax", "jaxlib", "blackjax", "numpyro", "arviz"):
        mod = _import(name)
        versions.append(f"{name} {getattr(mod, '__version__', '?')}" if mod is not None else f"{name} -")
    return (f"{datetime.date.today().isoformat()}; {os.cpu_count()} CPUs, processor {platform.processor()!r}, "
            f"{platform.platform()}, python {platform.python_version()}; backend {jax.default_backend()}, "
            f"devices {jax.devices()}; load average {os.getloadavg()[0]:.1f}; " + ", ".join(versions))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0].replace("``", ""))
    p.add_argument("--chains", type=int, default=16, help="chains of every sampler (16)")
    p.add_argument("--warmup", type=int, default=1000, help="warm-up steps of every sampler (1,000)")
    p.add_argument("--mala-steps", type=int, default=20_000, help="MALA sampling steps per chain (20,000)")
    p.add_argument("--thin", type=int, default=10, help="MALA: keep every THIN-th position (10)")
    p.add_argument("--nuts-draws", type=int, default=1000, help="NUTS draws per chain, all kept (1,000)")
    p.add_argument("--sigma", type=float, default=1.0, help="the prior's scale (1; the docs page's)")
    p.add_argument("--target-ess", type=int, nargs="+", default=[1000, 10_000],
                   help="the min bulk ESS of the 'to ESS' columns (1,000 and 10,000)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per sampler, best kept (3)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 500 warm-up steps, MALA 5,000 steps (thin 5), NUTS 250 draws, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup, args.mala_steps, args.thin, args.nuts_draws, args.repeats = 500, 5000, 5, 250, 1
    cfg = Config(args.chains, args.warmup, args.mala_steps, args.thin, args.nuts_draws, args.sigma)
    print(machine_line())
    print(f"config: {cfg._asdict()}, repeats {args.repeats}")
    t0 = time.perf_counter()
    rows, notes = bench(cfg, args.repeats)
    lj_last = notes["lj"]
    if "warm" in lj_last:
        print(f"langevin_jax warm-up: step size {float(lj_last['warm'].step_size):.4g}; sampling acceptance "
              f"{lj_last['acceptance']:.3f} (target 0.574)"
              + (f", blackjax.mala's {lj_last['blackjax_acceptance']:.3f}" if "blackjax_acceptance" in lj_last else ""))
    print(f"[{time.perf_counter() - t0:.1f}s total; load average now {os.getloadavg()[0]:.1f}]")
    print(agreement_line(rows))
    print(format_table(rows, args.target_ess))


if __name__ == "__main__":
    main()
