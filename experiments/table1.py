"""Table 1 of Cao, Chen, Sridharan & Wu (2026): the trap score of Theorem 1.

Target ``N(mu, I_d)`` with ``mu = c * ones(d)``, start ``N(0, I_d)``, ULA with step ``h``
for ``steps`` iterations, under the trap score ``s_hat`` and under the true score. Columns:
``|mu|``, the score error ``E_pi |s_hat - s|^2``, and the Gaussian-fit KL of the samples
to ``pi`` under each score (mean and spread over trials).

Trap radii (our choice; the paper does not print them): ``r_in = (4/7)|mu|`` and
``r_out = (5/7)|mu|``. They scale with ``|mu|`` and equal Theorem 1's ``4 sqrt(d)`` and
``5 sqrt(d)`` at ``c = 7`` (``|mu| = 7 sqrt(d)``); the start ``N(0, I)`` (norm about
``sqrt(d)``) lies inside ``r_in`` once ``c >= 2``, which is when the trap bites.

Certified total variation (paper 1's Theorem 1 claims ``TV(Law(X_T), pi) >= 1 - e^{-Omega(d)}``):
``TV >= P(X_T in A) - pi(A)`` for any set ``A``; with ``A = B(0, r_out)``, ``P(X_T in A)`` bounded
below at 95% confidence (one-sided Clopper-Pearson) from the final positions of all chains of all
trials (independent; a non-finite chain counts as outside ``A``) and ``pi(A)`` exact (a
non-central chi-square probability), :func:`langevin_jax.metrics.ball_tv_lower_bound`. ``A`` is
``B(0, r_out)`` rather than ``B(0, r_in)``: it is the closed support of ``s_hat - s`` (the bump is 0
beyond ``r_out``), whose ``pi``-mass makes the score error small, and the ball of the
``trapped`` column (``p_hat`` is that fraction); the chains trapped near ``N(0, I / alpha)`` lie in
it, while ``B(0, r_in)`` would miss those in the annulus (about 7% of ``N(0, I_50)`` lies beyond
``r_in`` at ``c = 2``). The same bound for the chains under the true score is a negative control
(they leave the ball: about ``-pi(A)``, i.e. no evidence).

The score error is computed exactly (2-D quadrature in log space,
:func:`langevin_jax.scores.trap_score_error_exact`) and checked by Monte Carlo per trial.
The KL under the true score is also given in closed form (ULA's law on a Gaussian is
Gaussian), with the Gaussian fit's finite-sample bias ``d (d + 3) / (4 n)`` for ``n`` chains
per trial: with ``n = 5000`` it reproduces the paper's column.

Across processes (``--coordinator HOST:PORT --num-processes N --process-id I``, see
``experiments._cli``): every run spreads its chains over every device of every process
(``shard=True``), the final positions are gathered to every process, and the rest (fits, score
error, TV bound) is computed on each from the same arrays. The noise of a chain depends on its
index, not on its device, so the numbers are those of one process; process 0 writes them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

import langevin_jax as lj
from experiments import _cli, _learned, _output, _plotting
from langevin_jax import metrics, scores, theory

NAME = "table1"
# runs across processes (the harness's --coordinator, --num-processes, --process-id)
MULTIPROCESS = True
PAPER_KL_TRUE = {1: 0.308, 2: 0.815, 3: 1.66, 4: 2.84, 5: 4.35, 6: 6.20, 7: 8.39}
# the cached rows' version, in their part names: rows of version 2 have the TV lower bounds (parts
# cached by an earlier version lack them and are recomputed, not re-used)
PART_VERSION = 2
# the TV lower bound's set A (see the module docstring)
TV_REGION = "B(0, r_out)"


@dataclasses.dataclass(frozen=True)
class Config:
    """Table 1's protocol.

    Attributes:
      d: dimension of the target N(c 1, I_d).
      c: the values of c, one table row each (mean mu = c * ones(d), |mu| = c sqrt(d)).
      steps: ULA iterations per chain.
      step_size: ULA step size h.
      chains: chains per trial (the Gaussian fit of each trial uses them all).
      trials: independent trials per row (mean and spread of the KL over them).
      alpha: strength of the trap score's wrong drift (Theorem 1's alpha).
      r_in_fraction: inner trap radius as a fraction of |mu| (4/7: Theorem 1's 4 sqrt(d) at c = 7).
      r_out_fraction: outer trap radius as a fraction of |mu| (5/7: 5 sqrt(d) at c = 7).
      score_error_samples: Monte Carlo draws checking the exact score error, per row.
    """

    d: int = 50
    c: Sequence[float] = (1, 2, 3, 4, 5, 6, 7)
    steps: int = 1000
    step_size: float = 0.0025
    chains: int = 5000
    trials: int = 10
    alpha: float = 1.0
    r_in_fraction: float = 4.0 / 7.0
    r_out_fraction: float = 5.0 / 7.0
    score_error_samples: int = 100_000

    @classmethod
    def quick(cls) -> "Config":
        return cls(trials=3, score_error_samples=20_000)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_counts(self, d=2, steps=1, chains=2, trials=1, score_error_samples=2)
        _cli.check_nonempty(self, "c")
        _cli.check_positive(self, "step_size", "alpha", "r_in_fraction", "r_out_fraction")
        _cli.check_finite(self, "c")
        if self.chains <= self.d + 1:
            raise ValueError(f"chains={self.chains} must be > d + 1 = {self.d + 1} (each trial's Gaussian fit "
                             "needs a non-singular covariance)")
        if any(c == 0 for c in self.c):
            raise ValueError(f"c must be non-zero (the trap radii scale with |mu| = |c| sqrt(d)), "
                             f"got {_output.format_value(self.c)}")
        for c in self.c:  # the trap's squared radii (r |c| sqrt(d))^2, computed in float32
            for r in (self.r_in_fraction, self.r_out_fraction):
                if not 1.2e-38 < (r * abs(c)) ** 2 * self.d < 3.4e38:
                    raise ValueError(f"c must give trap radii whose squares are float32 numbers ((r_in_fraction or "
                                     f"r_out_fraction) * |c| * sqrt(d) in [1e-19, 1e19]), got "
                                     f"{_output.format_value(self.c)}")
        if not self.r_in_fraction < self.r_out_fraction:
            raise ValueError(f"r_in_fraction={self.r_in_fraction} must be < "
                             f"r_out_fraction={self.r_out_fraction}")
        # every trial's chains at once [trials * chains, d] (float32 runs, float64 fits), step keys
        _cli.check_memory(self, ("trials", "chains", "d", "steps"),
                          40 * self.trials * self.chains * self.d + 8 * self.steps,
                          "the chains [trials * chains, d] and step keys [steps]")
        _cli.check_memory(self, ("score_error_samples", "d"), 16 * self.score_error_samples * self.d,
                          "the Monte Carlo draws [score_error_samples, d]")
        if _output.multiprocess() and (self.trials * self.chains) % jax.device_count():
            raise ValueError(f"chains={self.chains} times trials={self.trials} must be divisible by the "
                             f"{jax.device_count()} devices of the {jax.process_count()} processes (every run "
                             "spreads its trials * chains chains evenly over them)")
        return self


def exact_ula_kl(d: int, c: float, h: float, steps: int) -> float:
    """KL(Law(ULA_k) || N(mu, I)) for the true score from N(0, I), in closed form
    (:func:`langevin_jax.theory.ula_gaussian_law`: every coordinate is the same AR(1) chain)."""
    with jax.enable_x64(True):
        m, v = (float(x) for x in theory.ula_gaussian_law(c, 1.0, h, steps, 0.0, 1.0))
    return 0.5 * d * (m - c) ** 2 + 0.5 * d * (v - 1.0 - math.log(v))


def _trial_kls(key, score_fn, mu, config):
    """Run trials x chains chains at once; return per-trial fit KLs, non-finite count, positions."""
    k_x0, k_run = jax.random.split(key)
    n = config.trials * config.chains
    x0 = jax.random.normal(k_x0, (n, config.d))  # the same on every process
    if _output.multiprocess():  # one run over every device of every process, gathered to each
        out = lj.run(k_run, lj.ula(score_fn, config.step_size), x0, config.steps, shard=True)
        positions = multihost_utils.process_allgather(out.positions, tiled=True)
    else:
        positions = lj.run(k_run, lj.ula(score_fn, config.step_size), x0, config.steps).positions
    xs = np.asarray(positions, np.float64).reshape(config.trials, config.chains, config.d)
    kls, nonfinite = [], 0
    for t in range(config.trials):
        fit = metrics.gaussian_fit_kl_report(xs[t], mu, np.eye(config.d))
        nonfinite += fit.num_dropped
        kls.append(fit.value)
    return np.asarray(kls), nonfinite, xs


def run(config: Config, key: jax.Array, cache: _output.PartCache | None = None) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    rows = []
    bias = metrics.gaussian_fit_kl_bias(config.d, config.chains)
    for i, c in enumerate(config.c):
        compute = lambda i=i, c=c: _row(config, jax.random.fold_in(key, i), c, bias)  # noqa: E731
        rows.append(cache.get_or_compute(f"c={c}-v{PART_VERSION}", compute) if cache else compute())
        if _output.is_writer():  # one line per row, not one per process
            print(f"c={c}: |mu|={rows[-1]['mu_norm']:.2f} log10 err="
                  f"{rows[-1]['score_error_log10']:.1f} KL(s_hat)={rows[-1]['kl_score_hat']:.3g} "
                  f"KL(s)={rows[-1]['kl_true_score']:.3g} TV(s_hat)>={rows[-1]['tv_lower_bound']:.4g} "
                  f"TV(s)>={rows[-1]['tv_lower_bound_true_score']:.4g}", flush=True)
    return dict(rows=rows, fit_kl_bias=bias)


def _row(config: Config, key: jax.Array, c: float, bias: float) -> dict:
    k_err, k_hat, k_true = jax.random.split(key, 3)
    mu = jnp.full((config.d,), float(c))
    mu_norm = float(jnp.linalg.norm(mu))
    r_in, r_out = config.r_in_fraction * mu_norm, config.r_out_fraction * mu_norm
    s_hat = scores.trap_score(mu, r_in, r_out, config.alpha)
    true_score = lambda x, mu=mu: -(x - mu)  # noqa: E731
    log_err = scores.trap_score_error_exact(mu_norm, config.d, r_in, r_out, config.alpha)
    # the exact value is deterministic; one Monte Carlo estimate per c checks it
    mc = scores.trap_score_error(k_err, mu, r_in, r_out, config.alpha,
                                 config.score_error_samples)
    kl_hat, nf_hat, xs_hat = _trial_kls(k_hat, s_hat, mu, config)
    # same starting points and noise for the true score: a paired comparison
    kl_true, nf_true, xs_true = _trial_kls(k_hat, true_score, mu, config)
    trapped = float(np.mean(np.linalg.norm(xs_hat, axis=-1) < r_out))
    # TV(Law(X_T), pi) >= P(X_T in A) - pi(A), A = B(0, r_out) (module docstring), from all
    # trials * chains final positions (non-finite ones counted as outside A); pi(A) exact
    log_pi_a = theory.gaussian_ball_log_probability(np.zeros(config.d), r_out, np.asarray(mu, np.float64))
    tv_hat, tv_true = (
        _learned.tv_report(metrics.ball_tv_lower_bound(xs.reshape(-1, config.d), np.zeros(config.d), r_out, log_pi_a,
                                                       _learned.TV_CONFIDENCE), TV_REGION)
        for xs in (xs_hat, xs_true))
    exact_true = exact_ula_kl(config.d, float(c), config.step_size, config.steps)
    return dict(
        c=float(c),
        mu_norm=mu_norm,
        r_in=r_in,
        r_out=r_out,
        score_error=math.exp(log_err) if log_err > -745 else 0.0,
        score_error_log10=log_err / math.log(10),
        score_error_mc_log10=mc.log_value / math.log(10),
        score_error_mc_log10_se=mc.log_std_error / math.log(10),
        kl_score_hat=float(kl_hat.mean()),
        kl_score_hat_std=float(kl_hat.std(ddof=1)) if config.trials > 1 else 0.0,
        kl_true_score=float(kl_true.mean()),
        kl_true_score_std=float(kl_true.std(ddof=1)) if config.trials > 1 else 0.0,
        kl_true_score_exact=exact_true,
        kl_true_score_exact_plus_fit_bias=exact_true + bias,
        paper_kl_true_score=PAPER_KL_TRUE.get(int(c)) if float(c).is_integer() else None,
        fraction_trapped=trapped,
        nonfinite_chains=nf_hat + nf_true,
        **tv_hat,
        tv_lower_bound_true_score=tv_true["tv_lower_bound"],
        tv_lower_bound_true_score_detail=tv_true["tv_lower_bound_detail"],
    )


@_plotting.styled
def _plot(result: dict, out) -> None:
    """``out/table1.png``: two panels side by side (8 inches wide, for the docs): the KL with the
    trap score and with the true score (beside the paper's values), and the score error; a Monte
    Carlo estimate of ``log 0 = -inf`` is marked at the bottom edge and explained."""
    rows = result["rows"]
    x = [r["mu_norm"] for r in rows]
    fig, (ax1, ax2) = _plotting.subplots(1, 2, row_height=3.6)
    handles = [ax1.errorbar(x, [r["kl_score_hat"] for r in rows], [r["kl_score_hat_std"] for r in rows],
                            fmt="o-", ms=7, label="ULA, trap score $\\hat s$")]
    # the paper's column and ours nearly coincide: the paper's markers hollow, larger and on
    # top (they used to be hidden under ours), ours small and semi-transparent inside them; the
    # trap score's larger circle shows around them where all coincide (||mu|| = 7.07)
    handles.append(ax1.errorbar(x, [r["kl_true_score"] for r in rows], [r["kl_true_score_std"] for r in rows],
                                fmt="s-", ms=4, alpha=0.75, zorder=3, label="ULA, true score (ours)"))
    handles += ax1.plot(x, [r["kl_true_score_exact_plus_fit_bias"] for r in rows], ":", c="0.3", lw=1,
                        zorder=2, label="true score: closed form + fit bias")
    paper = [(r["mu_norm"], r["paper_kl_true_score"]) for r in rows if r["paper_kl_true_score"]]
    if paper:
        handles += ax1.plot(*zip(*paper), ls="none", marker="D", ms=9, mfc="none", mec="tab:red", mew=1.6,
                            zorder=5, label="paper's Table 1, true score")
    ax1.set_yscale("log")
    _plotting.log_ticks(ax1, "y")
    ax1.set_xlabel("$\\|\\mu\\|$")
    ax1.set_ylabel("Gaussian-fit KL to $\\pi$")
    ax1.set_title("KL after ULA")
    for key, what in (("kl_score_hat", "KL, trap score"), ("kl_true_score", "KL, true score")):
        _plotting.mark_nonfinite(ax1, x, [r[key] for r in rows], what=what, log=True)
    ax1.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)

    h_exact = ax2.plot(*_plotting.finite_points(x, [r["score_error_log10"] for r in rows]), "o-",
                       label="exact (quadrature)")
    mc = [(r["mu_norm"], r["score_error_mc_log10"], r["score_error_mc_log10_se"]) for r in rows
          if math.isfinite(_plotting.as_float(r["score_error_mc_log10"]))]
    h_mc = ax2.errorbar([m[0] for m in mc], [m[1] for m in mc], [_plotting.as_float(m[2]) for m in mc], fmt="x",
                        ms=7, mew=1.5, label="Monte Carlo")
    ax2.set_xlim(ax1.get_xlim())
    ax2.set_xlabel("$\\|\\mu\\|$")
    ax2.set_ylabel("$\\log_{10} E_\\pi|\\hat s - s|^2$")
    ax2.set_title("score error")
    # a Monte Carlo estimate of 0 (no draw where s_hat != s) has log10 = -inf: marked, not dropped
    draws = (result.get("config") or {}).get("score_error_samples")
    n = f"{draws:,}" if draws else "all"
    _plotting.mark_nonfinite(ax2, x, [r["score_error_log10"] for r in rows], what="exact")
    _plotting.mark_nonfinite(ax2, x, [r["score_error_mc_log10"] for r in rows], what="Monte Carlo", color="C1",
                             why=f"estimate 0: none of {n} draws\nreached |x| < r_out (where $\\hat s \\neq s$)")
    ax2.legend(handles=[*h_exact, h_mc], loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _markdown(config: Config, result: dict) -> str:
    rows = result["rows"]
    table = _output.markdown_table(
        ["c", "‖μ‖", "score error", "KL with ŝ", f"TV ≥ with ŝ ({_learned.TV_CONFIDENCE:.0%})",
         "KL with true score", "TV ≥ with true score", "log10 π(A)", "closed form + bias", "paper", "trapped",
         "non-finite"],
        [[r["c"], f"{r['mu_norm']:.2f}", f"1e{r['score_error_log10']:.1f}",
          f"{r['kl_score_hat']:.4g} ± {r['kl_score_hat_std']:.2g}", _learned.tv_cell(r),
          f"{r['kl_true_score']:.3g} ± {r['kl_true_score_std']:.2g}",
          _learned.tv_cell(dict(tv_lower_bound=r.get("tv_lower_bound_true_score"))),
          "n/r" if r.get("tv_lower_bound_detail") is None else f"{r['tv_lower_bound_detail']['log10_pi_a']:.1f}",
          f"{r['kl_true_score_exact_plus_fit_bias']:.3g}",
          r["paper_kl_true_score"] if r["paper_kl_true_score"] is not None else "",
          f"{r['fraction_trapped']:.2f}", r["nonfinite_chains"]] for r in rows],
    )
    return (f"# Table 1 (trap score, Theorem 1)\n\nd = {config.d}, h = {config.step_size}, "
            f"{config.steps} steps, {config.chains} chains per trial, {config.trials} trials, "
            f"alpha = {config.alpha}, r_in = {config.r_in_fraction:.3f}‖μ‖, "
            f"r_out = {config.r_out_fraction:.3f}‖μ‖. Gaussian-fit KL bias at this n: "
            f"{result['fit_kl_bias']:.4f}.\n\n{_tv_note(rows)}{table}")


def _tv_note(rows: list) -> str:
    """The sentence on the TV columns (empty for a result written before they were reported)."""
    detail = next((r["tv_lower_bound_detail"] for r in rows if r.get("tv_lower_bound_detail")), None)
    if detail is None:
        return ""
    return (f"Total variation: Theorem 1 claims `{_learned.TV_CLAIM}` under the trap score ŝ. The TV ≥ "
            f"columns certify `TV(Law(X_T), π) ≥ P(X_T ∈ A) − π(A)` at {detail['confidence']:.0%} confidence with "
            f"A = {detail['region']} (the closed support of ŝ − s, the trapped column's ball): P(X_T ∈ A) "
            f"bounded below by Clopper-Pearson from all {detail['num_chains']} chains of all trials (non-finite "
            f"ones count as outside A), π(A) exact (column log10 π(A)). A negative value is no evidence; the "
            f"true-score column is the negative control.\n\n")


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, "Table 1: the trap score of Theorem 1 (Cao et al. 2026)", Config, run, _plot,
                     _markdown, multiprocess=MULTIPROCESS)


if __name__ == "__main__":
    main()
