"""The worked examples of the docs, run as their readers run them, with their results checked.

``docs/bayesian_logistic.md`` ("A Bayesian model end to end"): its ```python blocks run in order
as one script in a subprocess, in a temporary working directory (the page writes its figure to
``docs/figures/`` under the working directory, so the repository's copy is left alone), followed
by a few lines that print the page's results as JSON. Those are checked against the statistics
that make the example worth reading (R-hat, ESS, acceptance) and against a reference posterior
computed here independently, with NumPy in float64: self-normalised importance sampling from a
Student-t fitted at the mode (Laplace), not MCMC.
"""

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "bayesian_logistic.md"
FIGURE = Path("docs") / "figures" / "bayes_logistic_trace.png"

# after the page's code: its results, from the names the page defines (out, table, r_hat, bulk, tail)
EPILOGUE = """
import json as _json
_w = [f"w[{j}]" for j in range(30)] + ["b"]
print("RESULT " + _json.dumps({
    "r_hat": [float(v) for v in np.append(r_hat["w"], r_hat["b"])],
    "ess_bulk": [float(v) for v in np.append(bulk["w"], bulk["b"])],
    "ess_tail": [float(v) for v in np.append(tail["w"], tail["b"])],
    "acceptance": float(out.info.acceptance_rate),
    "num_nonfinite": int(out.info.num_nonfinite),
    "trajectory_shape": list(out.trajectory["w"].shape),
    "posterior_shape": list(idata.posterior["w"].shape),
    "mean": [float(table.loc[n, "mean"]) for n in _w],
    "mcse_mean": [float(table.loc[n, "mcse_mean"]) for n in _w],
    "sigma": SIGMA,
}))
"""


def _page_blocks() -> list:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) >= 5, "the page lost its code blocks"
    return blocks


def _png_size(path: Path) -> tuple:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _reference_posterior(sigma: float, num_draws: int = 60_000, seed: int = 0):
    """The posterior's mean, sd and mode of the page's model by importance sampling, NumPy float64.

    The mode by Newton's method; the proposal a multivariate Student-t (10 degrees of freedom)
    centred there with the inverse Hessian as scale; self-normalised weights. Returns the mean,
    its Monte Carlo standard error (sd / sqrt(Kish's ESS of the weights)), the sd and the mode,
    ordered as ``w[0], ..., w[29], b``.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    a = np.hstack([x, np.ones((x.shape[0], 1))])
    y = data.target.astype(np.float64)
    d = a.shape[1]
    mode = np.zeros(d)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-a @ mode))
        grad = a.T @ (y - p) - mode / sigma**2
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.eye(d) / sigma**2
        step = np.linalg.solve(hess, grad)
        mode = mode + step
        if np.max(np.abs(step)) < 1e-12:
            break
    chol = np.linalg.cholesky(np.linalg.inv(hess))
    rng = np.random.default_rng(seed)
    df = 10.0
    log_w, draws = [], []
    for _ in range(num_draws // 10_000):  # in chunks: [10,000, 569] logits at a time
        z = rng.standard_normal((10_000, d))
        u = rng.chisquare(df, 10_000) / df
        theta = mode + (z @ chol.T) / np.sqrt(u)[:, None]
        eta = theta @ a.T
        log_post = eta @ y - np.logaddexp(0.0, eta).sum(axis=1) - 0.5 * np.sum(theta**2, axis=1) / sigma**2
        log_q = -0.5 * (df + d) * np.log1p(np.sum(z**2, axis=1) / u / df)  # up to a constant
        log_w.append(log_post - log_q)
        draws.append(theta)
    log_w, draws = np.concatenate(log_w), np.concatenate(draws)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    mean = w @ draws
    sd = np.sqrt(w @ (draws - mean) ** 2)
    ess = 1.0 / np.sum(w**2)
    assert ess > 1000, f"the importance sampler's ESS is {ess:.0f}: the reference is too noisy"
    return mean, sd / np.sqrt(ess), sd, mode


@pytest.mark.slow
def test_bayesian_logistic_page(tmp_path):
    """The page's code runs as one script (UserWarnings, a stuck chain's included, are errors),
    writes its figure where it says, and its posterior is converged and right: R-hat < 1.01 and
    bulk and tail ESS > 2000 for each of the 31 coefficients, the sampling acceptance within 0.05
    of MALA's target 0.574, and every posterior mean within 5 Monte Carlo standard errors of an
    independent importance-sampling reference (which the Laplace mode is not: the check can
    fail)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    script = "\n".join(_page_blocks()) + EPILOGUE
    proc = subprocess.Popen([sys.executable, "-W", "error::UserWarning", "-c", script], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the reference, meanwhile (the page's model, with the page's prior scale read from the page)
        sigma = float(re.search(r"^SIGMA = ([0-9.]+)", PAGE.read_text(), re.M).group(1))
        ref_mean, ref_se, ref_sd, mode = _reference_posterior(sigma)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    res = json.loads(line[len("RESULT "):])
    assert res["sigma"] == sigma

    # the page's printed claims
    assert res["trajectory_shape"] == [1000, 16, 30]  # [draw, chain, ...]
    assert res["posterior_shape"] == [16, 1000, 30]  # ArviZ's [chain, draw, ...]
    assert res["num_nonfinite"] == 0
    r_hat, ess_bulk, ess_tail = (np.asarray(res[k]) for k in ("r_hat", "ess_bulk", "ess_tail"))
    assert r_hat.shape == ess_bulk.shape == ess_tail.shape == (31,)
    assert np.all(r_hat < 1.01), f"max R-hat {r_hat.max():.4f}"
    assert np.all(ess_bulk > 2000), f"min bulk ESS {ess_bulk.min():.0f}"
    assert np.all(ess_tail > 2000), f"min tail ESS {ess_tail.min():.0f}"
    assert abs(res["acceptance"] - 0.574) < 0.05, res["acceptance"]

    # the posterior means against the reference: within 5 combined Monte Carlo standard errors
    mean, mcse = np.asarray(res["mean"]), np.asarray(res["mcse_mean"])
    tol = 5.0 * np.sqrt(mcse**2 + ref_se**2)
    assert np.all(np.abs(mean - ref_mean) < tol), (
        f"worst coefficient {int(np.argmax(np.abs(mean - ref_mean) / tol))}: "
        f"max |mean - ref| / tol = {np.max(np.abs(mean - ref_mean) / tol):.2f}")
    assert np.all(tol < 0.2 * ref_sd)  # a tight check: each mean to a fifth of its posterior sd
    assert np.max(np.abs(mode - ref_mean) / tol) > 1  # the mode would fail it: the check can tell

    # the figure, where the page says, at the page's size (8 in wide at 150 dpi)
    figure = tmp_path / FIGURE
    assert figure.is_file(), f"the page did not write {FIGURE}"
    width, height = _png_size(figure)
    assert width == 1200 and 600 <= height <= 1600, (width, height)
    assert (ROOT / FIGURE).is_file(), "the page embeds a figure the repository lacks"
