"""Copy each experiment's main figure from a real run into ``docs/figures/`` and record where it
came from (``docs/figures/README.md``): the docs pages embed these files.

Run the main job, then refresh the figures from its output folder::

    python -m experiments --out results            # every experiment, CPU, about 10 minutes
    python docs/make_figures.py results --label cpu

``--label`` prefixes the file names (``cpu_table1.png``), so figures from another machine
(``--label h100``) can sit next to these. Figures are copied only from finished experiments
(their JSON exists); the provenance table lists, per figure, the flags and seed the main job
ran, the machine recorded in the result (``environment``) and the run's date and commit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
from pathlib import Path

DOCS = Path(__file__).resolve().parent
FIGURES = DOCS / "figures"
STAMP = "main_job_run.json"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=DOCS, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _machine(result: dict) -> str:
    env = result.get("environment") or {}
    if not env:
        return "not recorded"
    if env.get("backend") == "cpu":
        where = f"{env.get('cpu_count', '?')}-core CPU ({env.get('platform', '?')})"
    else:
        where = f"{env.get('num_devices', 1)} x {env.get('device_kind', '?')} ({env.get('backend')})"
    return f"{where}, jax {env.get('jax', '?')}"


def collect(run_dir: Path, label: str) -> list[dict]:
    """Copy ``<run_dir>/<run>/<module>.png`` to ``docs/figures/<label>_<run>.png`` for every
    finished run; return one provenance row per figure."""
    rows = []
    for sub in sorted(p for p in Path(run_dir).iterdir() if p.is_dir()):
        stamp = json.loads((sub / STAMP).read_text()) if (sub / STAMP).exists() else {}
        module = stamp.get("module", sub.name)
        result_path, figure = sub / f"{module}.json", sub / f"{module}.png"
        if not (result_path.exists() and figure.exists()):
            continue
        result = json.loads(result_path.read_text())
        target = FIGURES / f"{label}_{sub.name}.png"
        shutil.copyfile(figure, target)
        rows.append(dict(figure=target.name, experiment=module,
                         flags=" ".join(stamp.get("flags", [])) or "(defaults)",
                         seed=result.get("seed", stamp.get("seed")), machine=_machine(result),
                         seconds=round(float(result.get("elapsed_seconds", float("nan"))), 1)))
    return rows


def write_provenance(rows: list[dict], run_dir: Path, label: str) -> Path:
    """Merge ``rows`` into ``docs/figures/README.md`` (rows of other labels are kept)."""
    path = FIGURES / "README.md"
    keep = []
    if path.exists():
        keep = [line for line in path.read_text().splitlines()
                if line.startswith("| ") and not line.startswith(f"| {label}_")
                and not line.startswith("| figure") and not line.startswith("|---")]
    stamp = f"{datetime.date.today().isoformat()}, commit {_commit()}, from `{run_dir}`"
    new = [f"| {r['figure']} | `python -m experiments.{r['experiment']} {r['flags']} --seed {r['seed']}` | "
           f"{r['machine']} | {r['seconds']} | {stamp} |" for r in rows]
    lines = ["# Figures in the docs", "",
             "Each figure is the main figure of a real run, copied by `python docs/make_figures.py RUN_DIR "
             "--label LABEL` after `python -m experiments --out RUN_DIR`. Refresh them when the numbers change.",
             "", "| figure | command | machine | seconds | made |", "|---|---|---|---|---|",
             *sorted(keep + new), ""]
    path.write_text("\n".join(lines))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python docs/make_figures.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="the main job's --out folder (one subfolder per run)")
    parser.add_argument("--label", default="cpu", help="file-name prefix naming the machine (default cpu)")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        parser.error(f"run_dir {args.run_dir} is not a folder")
    rows = collect(args.run_dir, args.label)
    if not rows:
        parser.error(f"no finished experiment with a figure under {args.run_dir}")
    path = write_provenance(rows, args.run_dir, args.label)
    for r in rows:
        print(f"docs/figures/{r['figure']}  <- {r['experiment']} ({r['machine']})")
    print(f"provenance: {path}")


if __name__ == "__main__":
    main()
