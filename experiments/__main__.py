"""The main job: run every experiment's quick configuration and write results/REPORT.md.

``python -m experiments [--out results] [--only NAME ...] [--force] [--config quick|paper]``

Each experiment writes into ``<out>/<name>/``; an experiment whose ``<name>.json``
already exists is skipped (its results are re-used) unless ``--force``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

from experiments import _cli

# (module name, one-line description); extended as experiments land.
EXPERIMENTS = [
    ("ula_bias", "ULA's discretisation bias on a Gaussian: exact law vs simulation vs MALA"),
    ("table1", "Paper 1, Table 1: the trap score of Theorem 1"),
    ("memorization_analytic", "Paper 1, Theorem 7: the analytic memorising score vs d"),
    ("cone_escape", "Paper 1, Theorem 11: escape through a thin cone of wrong score"),
    ("dimension_sweep", "Sweeps over d in one compilation: robustness and optimal step size"),
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--only", nargs="+", choices=[n for n, _ in EXPERIMENTS], default=None)
    parser.add_argument("--force", action="store_true", help="re-run finished experiments")
    parser.add_argument("--config", choices=["quick", "paper"], default="quick")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    selected = [(n, d) for n, d in EXPERIMENTS if args.only is None or n in args.only]
    sections = []
    for name, description in selected:
        out = args.out / name
        result_path = out / f"{name}.json"
        if result_path.exists() and not args.force:
            print(f"[{name}] finished earlier, re-using {result_path}")
        else:
            print(f"[{name}] running ({args.config})")
            start = time.perf_counter()
            module = importlib.import_module(f"experiments.{name}")
            flags = ["--out", str(out), "--seed", str(args.seed)]
            if args.config == "quick":
                flags.append("--quick")
            module.main(flags)
            print(f"[{name}] done in {time.perf_counter() - start:.1f}s")
        summary = (out / f"{name}.md").read_text() if (out / f"{name}.md").exists() else ""
        elapsed = json.loads(result_path.read_text()).get("elapsed_seconds")
        sections.append(f"## {name}\n\n{description}. Output: `{out}/` "
                        f"({elapsed:.0f}s).\n\n![{name}]({name}/{name}.png)\n\n{summary}")
    report = "# langevin_jax: reproduction report\n\n" + "\n".join(sections)
    _cli.write_atomic(args.out / "REPORT.md", report)
    print(f"wrote {args.out / 'REPORT.md'}")


if __name__ == "__main__":
    main()
