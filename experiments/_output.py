"""What an experiment writes (no command line and no algorithms here): its JSON with provenance
(written atomically), the Markdown summary, PNG figures, and the cache of finished parts that
lets an interrupted run resume.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

from langevin_jax import _io


def format_value(value: Any) -> str:
    """A config value as it is shown in messages and typed on the command line."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return " ".join(format_value(v) for v in value) if value else "(empty)"
    return str(value)


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON values: dataclasses as dicts, arrays as lists, infinities as ``"inf"``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: Path, obj: Any) -> None:
    """``obj`` (:func:`jsonable`) as indented JSON, written atomically."""
    _io.write_atomic(path, json.dumps(jsonable(obj), indent=2) + "\n")


def environment() -> dict:
    """Where a result was computed: JAX backend and device, versions, OS (recorded in every
    experiment's JSON as ``environment``, and in the docs' figure provenance)."""
    import platform

    import jax
    import jaxlib

    devices = jax.devices()
    return dict(backend=jax.default_backend(), device_kind=devices[0].device_kind,
                num_devices=len(devices), jax=jax.__version__, jaxlib=jaxlib.__version__,
                python=platform.python_version(), platform=platform.platform(terse=True),
                cpu_count=os.cpu_count())


def finish(out: Path, name: str, payload: dict, markdown: str) -> dict:
    """End an experiment: write ``<out>/<name>.md`` and print it, then ``<out>/<name>.json``.

    The JSON is written last, atomically: its presence marks the experiment finished (the
    main job then skips it), so a crash while plotting or summarising never leaves a
    finished-looking experiment without its figures or summary. The JSON gains an
    ``environment`` record (:func:`environment`). Returns ``payload``.
    """
    payload = {**payload, "environment": payload.get("environment") or environment()}
    _io.write_atomic(Path(out) / f"{name}.md", markdown)
    print(markdown)
    write_json(Path(out) / f"{name}.json", payload)
    return payload


def save_figure(fig, path: Path, *, tight: bool = True) -> None:
    """Lay out (``tight``; pass ``False`` for a figure with its own layout engine, e.g.
    constrained), save atomically as PNG at 200 dpi (print quality; the docs show
    them about 800 px wide), and close a matplotlib figure.

    The PNG is rendered in memory and written by :func:`langevin_jax._io.write_atomic` (a temp
    file unique to this process, the free space checked first, nothing left behind on an error),
    so two runs saving the same figure never trip over each other's temp file."""
    import io

    import matplotlib.pyplot as plt

    try:
        if tight:
            fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=200, bbox_inches="tight")
        _io.write_atomic(Path(path), buf.getvalue())
    finally:
        plt.close(fig)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (floats to 4 significant digits)."""

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
    ``out`` is the output folder (where an experiment keeps its own checkpoints, which
    record what they belong to themselves); ``reused`` lists what was re-used.
    """

    def __init__(self, out: Path, name: str, config: Any, seed: int, fresh: bool = False):
        import hashlib

        blob = json.dumps(jsonable(dict(config=config, seed=seed)), sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        self.out = Path(out)
        self.dir = self.out / ".parts" / f"{name}-{digest}"
        self.fresh = fresh
        self.reused: list[str] = []

    def get_or_compute(self, part: str, compute) -> Any:
        path = self.dir / f"{part}.json"
        if path.exists() and not self.fresh:
            value = _io.read_json(path, remedy="rerun with --force to recompute it, or delete the file")
            self.reused.append(part)
            return _from_json(value)
        value = jsonable(compute())
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
