"""Copy each experiment's figures from a real run into ``docs/figures/`` and record where they
came from (``docs/figures/README.md``): the docs pages embed these files.

Run the main job, then refresh the figures from its output folder::

    python -m experiments --out results            # every experiment, CPU, about 10 minutes
    python docs/make_figures.py results --label cpu

``--label`` prefixes the file names (``cpu_table1.png``), so figures from another machine
(``--label h100``) can sit next to these. Figures are copied only from finished experiments
(their JSON exists): the main figure ``<module>.png`` and any secondary one ``<module>_*.png``
(``memorization_digits_grid.png``). The provenance table lists, per figure, the flags and seed
the main job ran, the machine recorded in the result (``environment``) and the run's date and
commit.

``--replot`` re-renders every figure from the finished run's JSON first, with the plot function
of the code checked out now (a new figure layout needs no rerun of the experiments)::

    python docs/make_figures.py results --label cpu --replot
    python docs/make_figures.py docs/figures/data/h100 --label h100 --replot

The plot function gets the JSON's result (infinities decoded) and, where it takes one, the
configuration rebuilt from the JSON's ``config``. Two figures also draw data the JSON does not
hold (its ``_`` keys): ``annealed_langevin``'s final samples are read back from the run's part
cache (``.parts``), and ``memorization_digits``' per-sample distances and image grid are
recomputed with the shipped networks from the recorded config and seed (about a minute on 2
cores), and used only when the recomputed numbers equal the JSON's. A folder holding a
``runs.json`` manifest (``docs/figures/data/h100``: results of an H100 session copied into the
repository) lists its result files and their provenance instead of a main job's layout; its
figures are rendered in a temporary folder. A re-rendered figure keeps its run's provenance
(command, machine, run date) in the table, which adds when and at which commit it was re-rendered.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any, Optional

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
FIGURES = DOCS / "figures"
STAMP = "main_job_run.json"
MANIFEST = "runs.json"

if str(ROOT) not in sys.path:  # `python docs/make_figures.py` from anywhere: import experiments
    sys.path.insert(0, str(ROOT))


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


# ---------------------------------------------------------------------------------------------
# reading a result back: the JSON, the config, the plot-only data


def load_result(path: Path) -> dict:
    """A result JSON with the infinities the JSON spells ``"inf"`` / ``"-inf"`` as floats."""
    from experiments import _output

    return _output._from_json(json.loads(Path(path).read_text()))


def _convert(tp: Any, value: Any) -> Any:
    """``value`` (from JSON) as the type ``tp`` of a config field: nested dataclasses from dicts,
    tuples from lists."""
    if value is None:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        return _convert(kinds[0], value) if len(kinds) == 1 else _tuples(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return build_dataclass(tp, value)
    if isinstance(value, list):
        elem = args[0] if origin in (tuple, list) and args else Any
        return tuple(_convert(elem, v) for v in value)
    return value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def build_dataclass(cls: type, data: dict) -> Any:
    """``cls(**data)`` with nested dataclass fields rebuilt and lists as tuples (the JSON of
    :func:`experiments._output.jsonable`); keys that are not fields of ``cls`` are ignored."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: _convert(hints.get(k, Any), v) for k, v in data.items() if k in fields})


def _legacy_learned_config(cls: type, data: dict) -> Any:
    """A learned-score config from the flat JSON of older results (the H100 runs of 2026-11-26:
    ``width``, ``train_steps``, ... beside the data fields, no ``training``)."""
    from langevin_jax import nn

    model = nn.DenoiserConfig(dim=data["d"], **{k: data[k] for k in ("width", "depth", "time_embedding")
                                                 if k in data})
    names = {f.name for f in dataclasses.fields(nn.TrainConfig)}
    train = {k: data[k] for k in ("learning_rate", "lr_schedule", "batch_size", "min_level", "max_level",
                                  "level_sampling") if k in data and k in names}
    training = nn.TrainConfig(model=model, num_steps=data.get("train_steps", 150_000), **train)
    return build_dataclass(cls, {**data, "training": training})


def config_of(module, result: dict) -> Any:
    """The experiment's ``Config`` rebuilt from the result's recorded ``config`` (and checked)."""
    cls, data = module.Config, dict(result.get("config") or {})
    from experiments import _learned

    if issubclass(cls, _learned.Config) and "training" not in data and "width" in data:
        config = _legacy_learned_config(cls, data)
    else:
        config = build_dataclass(cls, data)
    try:
        return config.validate()
    except ValueError:
        return config


class _CachedPartsOnly:
    """A part cache that only reads finished parts (a missing part is an error, never computed)."""

    def __init__(self, out: Path, name: str, config: Any, seed: int):
        from experiments import _output

        self._cache = _output.PartCache(out, name, config, seed)
        self.out, self.dir, self.fresh, self.reused = self._cache.out, self._cache.dir, False, []

    def get_or_compute(self, part: str, compute):
        if not (self.dir / f"{part}.json").exists():
            raise LookupError(f"part {part} is not in {self.dir}")
        return self._cache.get_or_compute(part, compute)


def _restore_annealed_langevin(module, result: dict, config: Any, folder: Path) -> str:
    """The final samples and the reference sample of the mixture panel, from the part cache."""
    import jax

    with contextlib.redirect_stdout(io.StringIO()):  # (run prints its rows)
        full = module.run(config, jax.random.key(result["seed"]),
                          _CachedPartsOnly(folder, module.NAME, config, result["seed"]))
    if full["mixture"]["rows"] != result["mixture"]["rows"]:
        raise ValueError("the part cache does not hold this result's mixture rows")
    result.update({k: v for k, v in full.items() if k.startswith("_")})
    return "final samples read back from the run's part cache"


def _restore_memorization_digits(module, result: dict, config: Any, folder: Path) -> str:
    """The per-sample distances and the image grid, recomputed with the shipped networks from
    the recorded config and seed; used only when the recomputed numbers equal the JSON's."""
    import math

    import jax

    seed = result["seed"]
    with contextlib.redirect_stdout(io.StringIO()):
        full = module.run(config, jax.random.key(seed), seed=seed)
    for m, want in result["methods"].items():
        for k in ("sinkhorn_mean", "ratio_median_mean", "nearest_distance_median_mean"):
            a, b = want.get(k), full["methods"].get(m, {}).get(k)
            if not (a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9))):
                raise ValueError(f"recomputed {m} {k} = {b}, the JSON has {a}: the per-sample data would "
                                 "not be this run's")
    result.update({k: v for k, v in full.items() if k.startswith("_")})
    return "per-sample panels recomputed from the recorded config and seed, equal to the JSON's numbers"


#: experiments whose figures draw data the JSON does not hold, and how to get it back
RESTORE = {"annealed_langevin": _restore_annealed_langevin,
           "memorization_digits": _restore_memorization_digits}


def replot(module_name: str, result_path: Path, out: Path, name: Optional[str] = None) -> str:
    """Re-render ``module_name``'s figures from the result JSON at ``result_path`` into ``out``
    (as ``<module>.png``, and its secondary figures; renamed to ``<name>.png`` and
    ``<name>_*.png`` when ``name`` is given). Returns a note on what was recomputed ("" if
    nothing)."""
    module = importlib.import_module(f"experiments.{module_name}")
    result = load_result(result_path)
    plot = getattr(module, "plot", None) or module._plot
    needs_config = "config" in inspect.signature(plot).parameters
    config = config_of(module, result) if (needs_config or module_name in RESTORE) else None
    note = ""
    if module_name in RESTORE:
        note = RESTORE[module_name](module, result, config, Path(result_path).parent)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if needs_config:
        plot(result, out, config)
    else:
        plot(result, out)
    if name and name != module_name:
        for png in out.glob(f"{module_name}*.png"):
            png.replace(out / f"{name}{png.stem[len(module_name):]}.png")
    return note


# ---------------------------------------------------------------------------------------------
# collecting figures and their provenance


def _figures_of(folder: Path, stem: str) -> list[Path]:
    """``<stem>.png`` and the secondary figures ``<stem>_*.png`` in ``folder``."""
    main = folder / f"{stem}.png"
    return ([main] if main.exists() else []) + sorted(folder.glob(f"{stem}_*.png"))


def _runs(run_dir: Path) -> list[dict]:
    """The finished runs in ``run_dir``: one dict per run (``name``, ``module``, ``result``
    path, ``folder`` of its figures, ``stamp``; a manifest run also its provenance)."""
    manifest = run_dir / MANIFEST
    if manifest.exists():
        runs = []
        for r in json.loads(manifest.read_text())["runs"]:
            runs.append(dict(name=r["figure"], module=r["module"], result=run_dir / r["result"], folder=None,
                             stamp=dict(flags=r.get("flags", []), seed=r.get("seed")), provenance=r))
        return runs
    runs = []
    for sub in sorted(p for p in Path(run_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        stamp = json.loads((sub / STAMP).read_text()) if (sub / STAMP).exists() else {}
        module = stamp.get("module", sub.name)
        if (sub / f"{module}.json").exists():
            runs.append(dict(name=sub.name, module=module, result=sub / f"{module}.json", folder=sub,
                             stamp=stamp, provenance=None))
    return runs


def collect(run_dir: Path, label: str, *, replot_figures: bool = False) -> list[dict]:
    """Copy ``<run_dir>/<run>/<module>.png`` (and ``<module>_*.png``) to
    ``docs/figures/<label>_<run>[_*].png`` for every finished run, re-rendering them first
    with ``replot_figures``; return one provenance row per figure."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for run in _runs(Path(run_dir)):
            module = run["module"]
            folder, note = run["folder"], ""
            if replot_figures:
                if folder is None:  # a manifest's folder is the repository's: render elsewhere
                    folder = Path(scratch) / run["name"]
                note = replot(module, run["result"], folder)
                print(f"re-rendered {run['name']} ({module})" + (f": {note}" if note else ""), flush=True)
            if folder is None:
                continue
            result = json.loads(Path(run["result"]).read_text())
            for figure in _figures_of(folder, module):
                target = FIGURES / f"{label}_{run['name']}{figure.stem[len(module):]}.png"
                shutil.copyfile(figure, target)
                rows.append(dict(figure=target.name, main_figure=f"{label}_{run['name']}.png", experiment=module, run=run,
                                 flags=" ".join(run["stamp"].get("flags", [])) or "(defaults)",
                                 seed=result.get("seed", run["stamp"].get("seed")), machine=_machine(result),
                                 seconds=round(float(result.get("elapsed_seconds", float("nan"))), 1),
                                 replotted=replot_figures, note=note,
                                 result_mtime=Path(run["result"]).stat().st_mtime))
    return rows


_ROW = re.compile(r"^\| (?P<figure>[^|]+?) \| (?P<command>.*?) \| (?P<machine>[^|]*?) \| (?P<seconds>[^|]*?) \| "
                  r"(?P<made>.*) \|$")
_RUN = re.compile(r"(?:^|run )(?P<date>\d{4}-\d{2}-\d{2}),? \(?commit (?P<commit>[^,;)]+)")


def _old_rows(path: Path) -> dict:
    """The table rows of ``path`` by figure name."""
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            m = _ROW.match(line)
            if m and m["figure"] != "figure" and not line.startswith("|---"):
                rows[m["figure"]] = dict(m.groupdict(), line=line)
    return rows


def _row(r: dict, run_dir: Path, old: dict) -> str:
    today, commit = datetime.date.today().isoformat(), _commit()
    prov = r["run"]["provenance"]
    if prov:  # a manifest's run: its own record
        command, machine = f"`{prov['command']}`", prov["machine"]
        seconds, run_date, run_commit = prov.get("seconds", r["seconds"]), prov["date"], prov.get("commit", "not recorded")
    else:
        command = f"`python -m experiments.{r['experiment']} {r['flags']} --seed {r['seed']}`"
        machine, seconds = r["machine"], r["seconds"]
        run_date = datetime.date.fromtimestamp(r["result_mtime"]).isoformat()
        run_commit = "not recorded"
        # the same run copied before (this figure, or the run's main figure): its date and commit
        before = old.get(r["figure"]) or old.get(r["main_figure"])
        if before and f"`{run_dir}`" in before["made"]:
            m = _RUN.search(before["made"])
            if m:
                run_date, run_commit = m["date"], m["commit"].strip()
    if not r["replotted"]:
        return f"| {r['figure']} | {command} | {machine} | {seconds} | {today}, commit {commit}, from `{run_dir}` |"
    made = (f"run {run_date}, commit {run_commit}, from `{run_dir}`; re-rendered {today}, commit {commit}, "
            f"from its JSON by `make_figures.py --replot`" + (f"; {r['note']}" if r["note"] else ""))
    return f"| {r['figure']} | {command} | {machine} | {seconds} | {made} |"


def write_provenance(rows: list[dict], run_dir: Path, label: str) -> Path:
    """Merge ``rows`` into ``docs/figures/README.md`` (rows of other labels are kept)."""
    path = FIGURES / "README.md"
    old = _old_rows(path)
    keep = [o["line"] for name, o in old.items() if not name.startswith(f"{label}_")]
    new = [_row(r, run_dir, old) for r in rows]
    lines = ["# Figures in the docs", "",
             "Each figure is the main figure (or a secondary one, `_grid`) of a real run, copied by "
             "`python docs/make_figures.py RUN_DIR --label LABEL` after `python -m experiments --out RUN_DIR`. "
             "Refresh them when the numbers change. With `--replot` the figures are re-rendered from each run's "
             "JSON by the current plot functions, without rerunning the experiment: the row keeps the run's "
             "command, machine, seconds and date, and says when the figure was re-rendered. The `h100_` figures "
             "are re-rendered from the H100 results kept in `docs/figures/data/h100/` "
             "(`python docs/make_figures.py docs/figures/data/h100 --label h100 --replot`; their provenance is "
             "that folder's `runs.json`).",
             "", "| figure | command | machine | seconds | made |", "|---|---|---|---|---|",
             *sorted(keep + new), ""]
    path.write_text("\n".join(lines))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python docs/make_figures.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="the main job's --out folder (one subfolder per run), or a "
                                                   "folder with a runs.json manifest (docs/figures/data/h100)")
    parser.add_argument("--label", default="cpu", help="file-name prefix naming the machine (default cpu)")
    parser.add_argument("--replot", action="store_true",
                        help="re-render every figure from its run's JSON with the current plot functions first")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        parser.error(f"run_dir {args.run_dir} is not a folder")
    rows = collect(args.run_dir, args.label, replot_figures=args.replot)
    if not rows:
        parser.error(f"no finished experiment with a figure under {args.run_dir}"
                     + ("" if args.replot else " (a folder of results without figures needs --replot)"))
    path = write_provenance(rows, args.run_dir, args.label)
    for r in rows:
        machine = r["run"]["provenance"]["machine"] if r["run"]["provenance"] else r["machine"]
        print(f"docs/figures/{r['figure']}  <- {r['experiment']} ({machine})")
    print(f"provenance: {path}")


if __name__ == "__main__":
    main()
