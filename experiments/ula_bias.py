"""ULA's discretisation bias on an anisotropic Gaussian: exact law versus simulation.

Target ``N(0, diag(lambda))`` with ``lambda_i = i^(-a)`` rescaled to ``[lambda_min, 1]``.
ULA with step ``h`` has the exact stationary law ``N(0, diag(lambda / (1 - h / (2 lambda))))``
(for ``h < 2 lambda_min``), so its KL and W2 to the target are closed forms. This
experiment runs the chains and compares the Gaussian-fit KL of the samples with the
exact value for several ``h``, and MALA at the same ``h`` for contrast.

Each step size is one part, stored in ``DIR/.parts`` when done: an interrupted run resumes
from the finished step sizes (``--force`` recomputes them).

Run ``python -m experiments.ula_bias --help``.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Sequence

import jax
import jax.numpy as jnp
import tyro

import langevin_jax as lj
from experiments import _cli, _output, _plotting
from langevin_jax import metrics, theory

NAME = "ula_bias"


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol.

    Attributes:
      d: dimension of the target N(0, diag(lambda)).
      lambda_min: smallest target variance; the variances are evenly spaced in [lambda_min, 1].
      step_sizes: ULA / MALA step sizes h, one row each (each must be < 2 lambda_min).
      num_chains: chains per step size and sampler (all start at 0).
      num_steps: iterations per chain.
    """

    d: int = 20
    lambda_min: float = 0.25
    step_sizes: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.4)
    num_chains: Annotated[int, tyro.conf.arg(name="chains", aliases=("--num-chains",))] = 10_000
    num_steps: Annotated[int, tyro.conf.arg(name="steps", aliases=("--num-steps",))] = 2_000

    @classmethod
    def quick(cls) -> "Config":
        return cls(d=10, num_chains=4_000, num_steps=800, step_sizes=(0.02, 0.1, 0.3))

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_counts(self, num_chains=1, num_steps=1)
        _cli.check_nonempty(self, "step_sizes")
        _cli.check_positive(self, "lambda_min", "step_sizes")
        if self.d < 2:
            raise ValueError(f"d must be >= 2, got {self.d}")
        if self.num_chains <= self.d + 1:
            raise ValueError(f"num_chains={self.num_chains} must be > d + 1 = {self.d + 1} (the Gaussian "
                             "fit needs a non-singular covariance)")
        limit = 2 * min(self.lambda_min, 1.0)
        if max(self.step_sizes) >= limit:
            raise ValueError(f"step_sizes must all be < 2 lambda_min = {limit:g} (ULA's stationary "
                             f"law exists only there), got {_output.format_value(self.step_sizes)}")
        # ULA's and MALA's chains [num_chains, d] (a few float32 copies, float64 fits) and step keys
        _cli.check_memory(self, ("num_chains", "d", "num_steps"), 48 * self.num_chains * self.d + 8 * self.num_steps,
                          "the chains [num_chains, d] and step keys [num_steps]")
        return self


def _fit_kl(samples: jax.Array, target: lj.Gaussian) -> float:
    return metrics.gaussian_fit_kl_report(samples, target.mean, target.covariance).value


def _one(config: Config, key: jax.Array, lam: jax.Array, target: lj.Gaussian, h: float) -> dict:
    """One row: ULA and MALA at step size ``h``, beside ULA's exact KL."""
    x0 = jnp.zeros((config.num_chains, config.d))
    k_ula, k_mala = jax.random.split(key)
    ula = lj.run(k_ula, lj.ula(target.score, h), x0, config.num_steps)
    mala = lj.run(k_mala, lj.mala(target.log_prob, h), x0, config.num_steps)
    with jax.enable_x64(True):  # KL(ULA's stationary law || target), both diagonal
        lam64 = jnp.asarray(lam, jnp.float64)
        v = theory.ula_gaussian_stationary_variance(lam64, h)
        zero = jnp.zeros_like(lam64)
        exact = float(theory.gaussian_kl(zero, jnp.diag(v), zero, jnp.diag(lam64)))
    return dict(
        h=h,
        exact_kl_ula=exact,
        fit_kl_ula=_fit_kl(ula.positions, target),
        fit_kl_mala=_fit_kl(mala.positions, target),
        mala_acceptance=float(mala.info.acceptance_rate),
        nonfinite_ula=int(ula.info.num_nonfinite),
        nonfinite_mala=int(mala.info.num_nonfinite),
    )


def run(config: Config, key: jax.Array, cache: _output.PartCache | None = None) -> dict:
    """Every step size; with a ``cache``, finished step sizes (one part each) are re-used."""
    config = config.validate()  # checked before any work, also when called from Python
    lam = jnp.linspace(config.lambda_min, 1.0, config.d)
    target = lj.Gaussian.from_spectrum(jnp.zeros(config.d), lam)
    rows = []
    for i, h in enumerate(config.step_sizes):
        compute = lambda i=i, h=h: _one(config, jax.random.fold_in(key, i), lam, target, h)  # noqa: E731
        rows.append(cache.get_or_compute(f"h={h}", compute) if cache else compute())
    # finite-sample bias of the Gaussian-fit KL at KL=0: ~ d(d+3)/(4n)
    return dict(rows=rows, fit_kl_bias=metrics.gaussian_fit_kl_bias(config.d, config.num_chains))


@_plotting.styled
def _plot(result: dict, out):
    """``out/ula_bias.png``: one panel, KL against the step size h (8 inches wide, for the docs)."""
    rows = result["rows"]
    hs = [r["h"] for r in rows]
    fig, ax = _plotting.subplots(row_height=4.0)
    ax.loglog(*_plotting.finite_points(hs, [r["exact_kl_ula"] for r in rows], log=True), "k-", zorder=2,
              label="ULA exact (closed form)")
    # ULA's and MALA's simulated values can coincide (h = 0.02): ULA large hollow circles drawn on
    # top, MALA small filled squares inside them, so both stay visible
    ax.plot(*_plotting.finite_points(hs, [r["fit_kl_ula"] for r in rows], log=True), ls="none", marker="o",
            ms=12, mfc="none", mew=1.8, color="tab:blue", zorder=5, label="ULA simulated (Gaussian fit)")
    ax.plot(*_plotting.finite_points(hs, [r["fit_kl_mala"] for r in rows], log=True), ls="none", marker="s",
            ms=5.5, color="tab:orange", zorder=4, label="MALA simulated (Gaussian fit)")
    ax.axhline(result["fit_kl_bias"], ls=":", c="gray", label="fit bias at KL = 0")
    ax.set_xlabel("step size h")
    ax.set_ylabel("KL(samples || target)")
    ax.set_xlim(min(hs) / 1.5, max(hs) * 1.5)
    ax.margins(y=0.08)
    _plotting.log_ticks(ax, "x", hs)  # labels at the step sizes, no colliding minor labels
    _plotting.log_ticks(ax, "y")
    for key, what in (("exact_kl_ula", "ULA exact KL"), ("fit_kl_ula", "ULA fit KL"), ("fit_kl_mala", "MALA fit KL")):
        _plotting.mark_nonfinite(ax, hs, [r[key] for r in rows], what=what, log=True)
    ax.legend(loc="upper left")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _markdown(config: Config, result: dict) -> str:
    table = _output.markdown_table(
        ["h", "exact KL (ULA)", "fit KL (ULA)", "fit KL (MALA)", "MALA acc.", "non-finite"],
        [[r["h"], r["exact_kl_ula"], r["fit_kl_ula"], r["fit_kl_mala"], r["mala_acceptance"],
          r["nonfinite_ula"] + r["nonfinite_mala"]] for r in result["rows"]],
    )
    return (f"# ULA bias on a Gaussian\n\n{table}\n"
            f"Gaussian-fit KL finite-sample bias at KL=0: about {result['fit_kl_bias']:.3g}.\n")


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, __doc__.splitlines()[0], Config, run, _plot, _markdown)


if __name__ == "__main__":
    main()
