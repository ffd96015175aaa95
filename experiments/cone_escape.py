"""Theorem 11 of Cao et al. (2026), our reconstruction: a thin far-away cone of wrong score.

Target ``N(0, I_d)`` in ``d = 1`` and ``d = 2``. The score estimate equals the true score
except on a cone ``{<x, u> >= R, |x_perp| <= tan(theta) <x, u>}`` (in 1-D the half-line
``x >= R``), where it is the constant outward drift ``drift * u``
(:func:`langevin_jax.scores.cone_escape_score`). Chains start at ``pi`` and run ULA; a chain
counts as escaped once ``<x, u> > escape_radius``. Reported: the fraction escaped versus
time for several cone widths (half-angles in 2-D, apex distances in 1-D), and the L2 score
error of each construction.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

import langevin_jax as lj
from experiments import _cli, _output, _plotting
from langevin_jax import metrics, scores

NAME = "cone_escape"


@dataclasses.dataclass(frozen=True)
class Config:
    """The protocol.

    Attributes:
      starts_1d: 1-D runs: apex distances R of the half-line x >= R of wrong score, one curve each.
      half_angles_2d: 2-D runs: cone half-angles theta in radians, one curve each.
      start_2d: 2-D runs: distance R of the cone's apex from the origin.
      drift: size of the constant outward drift that replaces the score on the cone.
      escape_radius: a chain has escaped once <x, u> exceeds this.
      chains: chains per curve, started at pi = N(0, I).
      step_size: ULA step size h.
      steps: ULA iterations per chain.
      save_every: record the escaped fraction every this many iterations.
      score_error_samples: Monte Carlo draws for each construction's L2 score error.
    """

    starts_1d: Sequence[float] = (2.0, 2.5, 3.0)
    half_angles_2d: Sequence[float] = (0.1, 0.3, 0.6)
    start_2d: float = 2.0
    drift: float = 1.0
    escape_radius: float = 12.0
    chains: int = 2000
    step_size: float = 0.01
    steps: int = 30_000
    save_every: int = 500
    score_error_samples: int = 400_000

    @classmethod
    def quick(cls) -> "Config":
        return cls(chains=1000, steps=10_000, save_every=250, score_error_samples=100_000)

    def validate(self) -> "Config":
        """The config, checked (a ``ValueError`` names the field and its value)."""
        _cli.check_counts(self, chains=1, steps=1, save_every=1, score_error_samples=2)
        _cli.check_positive(self, "starts_1d", "half_angles_2d", "start_2d", "escape_radius", "step_size")
        _cli.check_finite(self, "drift")
        if self.drift < 0:
            raise ValueError(f"drift must be >= 0 (the size of the outward drift), got {self.drift}")
        if not self.starts_1d and not self.half_angles_2d:
            raise ValueError("starts_1d and half_angles_2d are both empty: no curve to run")
        if self.steps < self.save_every:
            raise ValueError(f"steps={self.steps} must be >= save_every={self.save_every}")
        if self.half_angles_2d and max(self.half_angles_2d) >= math.pi / 2:
            raise ValueError(f"half_angles_2d must be < pi / 2 (radians), got "
                             f"{_output.format_value(self.half_angles_2d)}")
        # the saved trajectory [steps // save_every, chains, 2] (float32, and its NumPy copies), step keys
        _cli.check_memory(self, ("steps", "chains", "save_every"),
                          24 * (self.steps // self.save_every) * self.chains + 24 * self.chains + 8 * self.steps,
                          "the saved trajectory [steps // save_every, chains, d <= 2] and step keys [steps]")
        _cli.check_memory(self, ("score_error_samples",), 64 * self.score_error_samples,
                          "the Monte Carlo draws [score_error_samples, d <= 2]")
        return self


def _one(key, d, start, half_angle, config):
    target = lj.IsotropicGaussian.create(jnp.zeros(d))
    axis = jnp.zeros(d).at[0].set(1.0)
    s_hat = scores.cone_escape_score(target.score, axis, start, half_angle, config.drift)
    k_err, k_x0, k_run = jax.random.split(key, 3)
    err = metrics.score_error(k_err, s_hat, target.score, target, config.score_error_samples)
    x0 = target.sample(k_x0, config.chains)
    out = lj.run(k_run, lj.ula(s_hat, config.step_size), x0, config.steps,
                 save_every=config.save_every)
    along = np.asarray(out.trajectory[..., 0])  # [num_saved, chains]
    escaped = np.maximum.accumulate(along > config.escape_radius, axis=0).mean(1)
    return dict(d=d, start=start, half_angle=half_angle if d > 1 else None,
                score_error=err.value, score_error_se=err.std_error,
                times=(config.step_size * config.save_every
                       * np.arange(1, along.shape[0] + 1)).tolist(),
                fraction_escaped=escaped.tolist(), final_fraction_escaped=float(escaped[-1]),
                nonfinite_chains=out.info.num_nonfinite)


def run(config: Config, key: jax.Array, cache: _output.PartCache | None = None) -> dict:
    config = config.validate()  # checked before any work, also when called from Python
    parts = [(f"1d-R={r}", jax.random.fold_in(key, i), 1, r, 0.1)  # 1-D: angle ignored
             for i, r in enumerate(config.starts_1d)]
    parts += [(f"2d-theta={t}", jax.random.fold_in(key, 100 + i), 2, config.start_2d, t)
              for i, t in enumerate(config.half_angles_2d)]
    curves = []
    for name, k, d, start, angle in parts:
        compute = lambda k=k, d=d, start=start, angle=angle: _one(k, d, start, angle, config)  # noqa: E731
        curves.append(cache.get_or_compute(name, compute) if cache else compute())
    for c in curves:
        print(f"d={c['d']} start={c['start']} angle={c['half_angle']}: score error "
              f"{c['score_error']:.3g}, escaped {c['final_fraction_escaped']:.2f}", flush=True)
    return dict(curves=curves)


@_plotting.styled
def _plot(result, out):
    """``out/cone_escape.png``: two panels side by side (8 inches wide, for the docs), the fraction
    of chains escaped along time, 1-D starts and 2-D cones."""
    fig, axes = _plotting.subplots(1, 2, row_height=3.4, sharey=True)
    for c in result["curves"]:
        ax = axes[0] if c["d"] == 1 else axes[1]
        label = (f"R = {c['start']:g}" if c["d"] == 1 else f"θ = {c['half_angle']:g}") + \
            f" ({c['score_error']:.2g})"
        t, f = _plotting.finite_points(c["times"], c["fraction_escaped"])
        line, = ax.plot(t, f, label=label)
        _plotting.mark_nonfinite(ax, c["times"], c["fraction_escaped"], what="fraction escaped",
                                 color=line.get_color())
    axes[0].set_title("1-D: half-line x ≥ R")
    axes[1].set_title("2-D: cone of half-angle θ")
    axes[0].set_ylabel("fraction escaped")
    axes[0].set_ylim(-0.03, 1.03)
    for ax, title in zip(axes, ("start R (score error)", "half-angle θ (score error)")):
        ax.set_xlabel("time t = k h")
        ax.legend(title=title, loc="upper left")
    _output.save_figure(fig, out / f"{NAME}.png", tight=False)


def _markdown(config: Config, result: dict) -> str:
    table = _output.markdown_table(
        ["d", "R", "half-angle", "score error", "escaped at end", "non-finite"],
        [[c["d"], c["start"], c["half_angle"] if c["half_angle"] is not None else "-",
          f"{c['score_error']:.3g} ± {c['score_error_se']:.1g}",
          f"{c['final_fraction_escaped']:.2f}", c["nonfinite_chains"]]
         for c in result["curves"]])
    return (f"# Theorem 11: cone escape\n\nULA h = {config.step_size}, {config.steps} steps, "
            f"{config.chains} chains from pi = N(0, I), drift {config.drift}, escaped = "
            f"<x, u> > {config.escape_radius}.\n\n{table}")


def main(argv=None) -> dict:
    return _cli.main(argv, NAME, "Theorem 11: escape through a thin cone of wrong score", Config, run, _plot,
                     _markdown)


if __name__ == "__main__":
    main()
