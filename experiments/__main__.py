"""The main job: run every experiment's CPU configuration and write results/REPORT.md.

``python -m experiments [--out results] [--only NAME ...] [--force] [--config quick|paper]``

Each run writes into ``<out>/<run name>/``; a run whose ``<module>.json`` already exists is
skipped (its results are re-used) unless ``--force``, but only when it was made by the main job
with the same flags and seed (recorded in ``main_job_run.json``); otherwise it is recomputed.
With ``--config quick`` (the default) most experiments run their ``--quick`` configuration;
the learned-score ones run ``--config paper-cpu``: paper 1's protocol (with one noise level per
training example where the paper draws one per batch) with fewer chains,
sampling with the shipped pretrained paper denoisers (``langevin_jax.nn.load_pretrained``)
instead of training for hours.

An experiment that fails, its command line refused included, is reported as FAILED in
REPORT.md and the others still run (the exit status is then 1). One main job at a time writes
into a folder (a second one stops at once), and results of another seed there are replaced
only with ``--force``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import time
from pathlib import Path

from experiments import _cli
from langevin_jax import _io

# (module name, paper, one-line description, where the numbers stand next to the published ones)
# run name -> (module, flags for --config quick, flags for --config paper); others: (name, --quick, none)
RUNS = {
    "memorization_gaussian": ("memorization", ["--config", "paper-cpu", "--target", "gaussian", "--no-progress"],
                              ["--config", "paper", "--target", "gaussian", "--no-progress"]),
    "memorization_mixture": ("memorization", ["--config", "paper-cpu", "--target", "mixture", "--no-progress"],
                             ["--config", "paper", "--target", "mixture", "--no-progress"]),
    "diffusion_vs_langevin": ("diffusion_vs_langevin", ["--config", "paper-cpu", "--level-probe", "--no-progress"],
                              ["--config", "paper", "--no-progress"]),
    "memorization_digits": ("memorization_digits", ["--no-progress-bar"], ["--no-progress-bar", "--trials", "10"]),
}


# what the main job ran in a run folder (module, flags, seed): a result is re-used only when it matches
STAMP = "main_job_run.json"


def _read_stamp(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # no stamp (an older or hand-made result) or an unreadable one: recompute


def _read_result(path: Path):
    try:
        return _io.read_json(path)
    except (OSError, ValueError):
        return None


def run_spec(name: str, config: str):
    """``(module, flags)`` of a run of the main job under ``config``."""
    module, quick, paper = RUNS.get(name, (name, ["--quick"], []))
    return module, quick if config == "quick" else paper


EXPERIMENTS = [
    ("ula_bias", "Foundation", "ULA's discretisation bias on a Gaussian: exact law vs simulation vs MALA",
     "Closed form (no published numbers): the simulated variance must match lambda / (1 - h / (2 lambda))."),
    ("table1", "Paper 1 (robustness)", "Table 1: the trap score of Theorem 1",
     "Compare the KL-under-true-score column with the paper's (0.308, 0.815, 1.66, 2.84, 4.35, 6.20, 8.39) "
     "and the closed-form column printed next to it; the KL under s_hat is orders of magnitude larger "
     "for the larger c, as published."),
    ("memorization_analytic", "Paper 1 (robustness)", "Theorem 7: the analytic memorising score vs d",
     "Qualitative claim of the paper (no table): train starts stay trapped while fresh and vanilla "
     "converge, with the score error falling exponentially in d."),
    ("cone_escape", "Paper 1 (robustness)", "Theorem 11: escape through a thin cone of wrong score",
     "Qualitative claim (no table): chains escape through the cone although its score error is small."),
    ("escape_time", "Paper 1 (robustness)", "Lemma 4 / Corollary 2: escape time from the trap balls of Theorem 1 "
     "(trap score) and Theorem 7 (memorising score) versus d, measured with censoring",
     "No published numbers (the paper proves the e^{c d} growth): the fitted growth rate of log(mean escape time) "
     "per dimension must agree, within its interval, with the exact Ornstein-Uhlenbeck prediction at the same d "
     "(our constants, chosen so escapes are seen); the times at the paper's own constants are predicted only."),
    ("memorization_gaussian", "Paper 1 (robustness)", "Sections 4/9, Figures 2-3: learned-score memorisation, "
     "Gaussian target (the paper's network, pretrained on a GPU)",
     "The paper's Figures 2-3: train starts clearly worse than fresh starts (Gaussian-fit KL and Sinkhorn), "
     "vanilla close to fresh. H100 run of the full protocol (10 trials, 5000 chains): KL 8.49 / 9.10 / 25.3, "
     "Sinkhorn 56.3 / 56.8 / 67.3 (vanilla / fresh / train)."),
    ("memorization_mixture", "Paper 1 (robustness)", "Sections 4/9, Figure 4: learned-score memorisation, "
     "mixture target (the paper's network, pretrained on a GPU)",
     "The paper's Figure 4: vanilla starts worst on the mixture. H100 run of the full protocol: Sinkhorn "
     "79.7 / 45.4 / 47.3 (vanilla / fresh / train), pi-vs-pi 28.0."),
    ("diffusion_vs_langevin", "Paper 1 (robustness)", "Sections 4/9: one denoiser, DDPM reverse process vs "
     "Langevin with its low-noise score, beside the exact denoiser (oracle)",
     "The paper's contrast (no table) says the reverse process samples faithfully; with the all-levels "
     "network trained on 1000 duplicated points it does not (see the variance column and the oracle rows)."),
    ("memorization_digits", "Paper 1 (robustness)", "Theorem 7 on real data: learned-score Langevin (vanilla / "
     "fresh / train starts) vs DDPM, DDIM, NCSN and predictor-corrector on scikit-learn's handwritten digits "
     "(shipped CPU-trained denoisers)",
     "No published numbers (the paper has no real-data experiment). Read the copy fractions (nearest/second-nearest "
     "ratio < 1/3) and the median ratios per start: whether train starts copy or stay nearer their own digit than "
     "fresh starts, and whether the diffusion samplers' Sinkhorn divergences approach the held-out floor."),
    ("gaussian_dsm", "Paper 2 (DSM to Langevin)", "Closed-form W2 error of DSM + ULA, checked three ways",
     "Our derivation (the paper's theorem was not available): formula, exact Bures and simulation must agree."),
    ("annealed_langevin", "Paper 3 (annealed Langevin)", "Exact KL vs the kappa A / 4 bound; DALMC on a mixture",
     "Reconstruction (no published table): the exact KL of the continuous-time dynamics must stay below "
     "the bound KL(mu_0 || N(0, I)) + kappa A / 4 for every schedule. The bound is not one for DALMC, "
     "the Euler discretisation: its extra discretisation error can put its KL above it."),
    ("dimension_sweep", "Sweeps", "Sweeps over d in one compilation: robustness and optimal step size",
     "Closed form vs simulated optimal step size must agree."),
]


def _seed(text: str) -> int:
    """argparse type of ``--seed``: an integer in ``[0, MAX_SEED]`` (argparse names the flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= _cli.MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {_cli.MAX_SEED}] (jax.random.key keeps 32 bits)")
    return value


def main(argv=None) -> None:
    # the module docstring without its reST markup, its paragraphs kept
    parser = argparse.ArgumentParser(prog="python -m experiments", description=_cli.plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results"),
                        help="output folder (default results); checked writable at the start")
    parser.add_argument("--only", nargs="+", choices=[e[0] for e in EXPERIMENTS], default=None,
                        metavar="NAME", help="run only these experiments (default: all): "
                        + ", ".join(e[0] for e in EXPERIMENTS))
    parser.add_argument("--force", action="store_true",
                        help="re-run finished experiments (default: re-use a result made with the "
                        "same flags and seed)")
    parser.add_argument("--config", choices=["quick", "paper"], default="quick",
                        help="quick (default): each experiment's --quick configuration, the learned-score "
                        "ones --config paper-cpu with the shipped pretrained denoisers, on a CPU; paper: "
                        "every experiment's full protocol (hours on a CPU)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help=f"PRNG seed, an integer in [0, {_cli.MAX_SEED}] (default 0)")
    args = parser.parse_args(argv)
    # REPORT.md is written after every experiment: find out now that it can be written
    try:
        _io.check_writable_dir(args.out, "--out")
    except ValueError as err:
        parser.error(str(err))
    if (args.out / "REPORT.md").is_dir():
        parser.error(f"--out {args.out}: {args.out / 'REPORT.md'} is a folder, so the report cannot be "
                     "written there; remove it or pass another --out")
    selected = [e for e in EXPERIMENTS if args.only is None or e[0] in args.only]
    stamps = [_read_stamp(args.out / name / STAMP) for name, *_ in selected]
    seeds = {st.get("seed") for st in stamps if isinstance(st, dict)} - {args.seed}
    if seeds and not args.force:  # two seeds are two replicates: never replace one silently
        parser.error(f"--seed {args.seed}: --out {args.out} holds results of seed "
                     f"{', '.join(map(str, sorted(seeds, key=str)))}, which this run would replace; pass --force "
                     "to replace them, or another --out")
    with contextlib.ExitStack() as stack:
        try:  # one main job at a time in a folder: a second one stops here
            stack.enter_context(_io.exclusive(args.out / ".main_job.lock", f"--out {args.out}"))
        except ValueError as err:
            parser.error(str(err))
        _run_all(args, selected)


def _failure(err: BaseException) -> str:
    """What an experiment's failure was, in one line (a parser error's exit status included:
    its message went to stderr above)."""
    if isinstance(err, SystemExit):
        return f"its command line was refused (exit status {err.code}; the message is printed above)"
    return f"{type(err).__name__}: {err}"


def _run_all(args, selected) -> None:
    sections, failed = {}, []
    t_total = time.perf_counter()
    for name, paper, description, comparison in selected:
        out = args.out / name
        module_name, run_flags = run_spec(name, args.config)
        result_path = out / f"{module_name}.json"
        stamp_path = out / STAMP
        want = {"module": module_name, "flags": run_flags, "seed": args.seed}
        have = _read_stamp(stamp_path) if result_path.exists() else None
        if have == want and not args.force and _read_result(result_path) is None:
            print(f"[{name}] {result_path} is unreadable (corrupt or truncated): recomputing")
            have = None
        if have == want and not args.force:
            print(f"[{name}] finished earlier with the same flags and seed, re-using {result_path}")
        else:
            if have is not None and have != want and not args.force:
                print(f"[{name}] the result in {out} was made with {have}, not {want}: recomputing")
            print(f"[{name}] running ({args.config})", flush=True)
            start = time.perf_counter()
            module = importlib.import_module(f"experiments.{module_name}")
            flags = ["--out", str(out), "--seed", str(args.seed)] + run_flags
            if args.force:  # also recompute the experiment's cached parts
                flags.append("--force")
            try:
                module.main(flags)
            except (Exception, SystemExit) as err:  # keep going: one failure must not lose the others
                print(f"[{name}] FAILED: {_failure(err)}", flush=True)
                failed.append(name)
                sections.setdefault(paper, []).append(
                    f"### {name}\n\n{description}. **Failed**: `{_failure(err)}`\n")
                continue
            _io.write_atomic(stamp_path, json.dumps(want))
            print(f"[{name}] done in {time.perf_counter() - start:.1f}s", flush=True)
        summary = (out / f"{module_name}.md").read_text() if (out / f"{module_name}.md").exists() else ""
        summary = summary.replace("\n# ", "\n#### ").removeprefix("# ")
        elapsed = _io.read_json(result_path, remedy="rerun with --force").get("elapsed_seconds")
        elapsed_txt = "" if elapsed is None else f" ({elapsed:.0f} s)"
        figures = "\n".join(f"![{p.stem}]({name}/{p.name})" for p in sorted(out.glob("*.png")))
        sections.setdefault(paper, []).append(
            f"### {name}\n\n{description}. Command: `python -m experiments.{module_name} "
            f"{' '.join(run_flags)}`; output `{out}/`{elapsed_txt}.\n\n"
            f"**Next to the published numbers:** {comparison}\n\n{figures}\n\n#### {summary}\n")
    body = "\n".join(f"## {paper}\n\n" + "\n".join(parts) for paper, parts in sections.items())
    status = "all experiments finished" if not failed else f"FAILED: {', '.join(failed)}"
    report = (f"# langevin_jax: reproduction report\n\nConfiguration `{args.config}`, seed {args.seed}; "
              f"{status}. This run took {time.perf_counter() - t_total:.0f} s (finished parts re-used).\n\n"
              + body)
    _io.write_atomic(args.out / "REPORT.md", report)
    print(f"wrote {args.out / 'REPORT.md'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
