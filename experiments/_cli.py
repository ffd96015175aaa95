"""Shared command-line and output plumbing for experiments (no algorithms here).

Every experiment takes ``--help``, ``--quick``, ``--seed`` and ``--out DIR`` and
writes ``DIR/<name>.json`` (config + results, written atomically), PNG figures and
``DIR/<name>.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

from langevin_jax import _io


# jax.random.key keeps only the low 32 bits of a seed (without x64): 2**32 and -1 would
# silently alias the seeds 0 and 2**32 - 1, and 2**64 overflows; so seeds are [0, 2**32 - 1]
MAX_SEED = 2**32 - 1


def seed(text: str) -> int:
    """argparse type of ``--seed``: an integer in ``[0, MAX_SEED]`` (argparse names the flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, {MAX_SEED}] (jax.random.key keeps 32 bits), got {value}; "
            "pick a seed in that range")
    return value


class ExperimentParser(argparse.ArgumentParser):
    """The experiments' parser. Every ``type=int`` flag of an experiment is a count (chains,
    steps, trials, dimensions, levels), so a value below 1 is a parser error naming the flag
    (``--chains must be >= 1, got 0``) rather than an error from deep inside naming an
    internal argument; and ``--out`` is checked writable once parsed, before any work."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._counts: list[argparse.Action] = []

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if kwargs.get("type") is int:
            self._counts.append(action)
        return action

    def parse_known_args(self, args=None, namespace=None):
        parsed, extras = super().parse_known_args(args, namespace)
        for action in self._counts:
            value = getattr(parsed, action.dest, None)
            for v in value if isinstance(value, list) else [value]:
                if v is not None and v < 1:
                    self.error(f"{action.option_strings[0]} must be >= 1, got {v}")
        if getattr(parsed, "out", None) is not None:
            try:
                _io.check_writable_dir(parsed.out, "--out")
            except ValueError as err:
                self.error(str(err))
        return parsed, extras


def base_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The flags every experiment takes, on an :class:`ExperimentParser`."""
    parser = ExperimentParser(prog=f"python -m experiments.{name}", description=description)
    parser.add_argument("--quick", action="store_true", help="small configuration (CPU, minutes)")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"PRNG seed, an integer in [0, {MAX_SEED}] (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results") / name,
                        help=f"output folder (default results/{name}); checked writable at the start")
    parser.add_argument("--force", action="store_true",
                        help="recompute parts finished by an earlier (interrupted) run")
    return parser


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename)."""
    _io.write_atomic(path, text)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(_jsonable(obj), indent=2) + "\n")


def finish(out: Path, name: str, payload: dict, markdown: str) -> dict:
    """End an experiment: write ``<out>/<name>.md`` and print it, then ``<out>/<name>.json``.

    The JSON is written last, atomically: its presence marks the experiment finished (the
    main job then skips it), so a crash while plotting or summarising never leaves a
    finished-looking experiment without its figures or summary. Returns ``payload``.
    """
    write_atomic(Path(out) / f"{name}.md", markdown)
    print(markdown)
    write_json(Path(out) / f"{name}.json", payload)
    return payload


def save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure atomically as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class PartCache:
    """Finished parts of an experiment, kept on disk so an interrupted run resumes.

    Each part (a row of a table, one dimension of a sweep) is stored atomically as
    ``<out>/.parts/<name>-<hash>/<part>.json`` where the hash covers the experiment's
    config and seed: a rerun with the same settings re-uses finished parts, a run with
    other settings starts afresh. ``fresh=True`` (``--force``) ignores stored parts.
    """

    def __init__(self, out: Path, name: str, config: Any, seed: int, fresh: bool = False):
        import hashlib

        blob = json.dumps(_jsonable(dict(config=config, seed=seed)), sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        self.dir = Path(out) / ".parts" / f"{name}-{digest}"
        self.fresh = fresh
        self.reused: list[str] = []

    def get_or_compute(self, part: str, compute) -> Any:
        path = self.dir / f"{part}.json"
        if path.exists() and not self.fresh:
            value = _io.read_json(path, remedy="rerun with --force to recompute it, or delete the file")
            self.reused.append(part)
            return _from_json(value)
        value = _jsonable(compute())
        write_json(path, value)
        return _from_json(value)


def _from_json(obj: Any) -> Any:
    """Undo :func:`_jsonable`'s encoding of infinities (``"inf"``/``"-inf"`` back to floats),
    so a re-used part equals a freshly computed one."""
    if isinstance(obj, dict):
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj
