"""What an experiment writes (no command line and no algorithms here): its JSON with provenance
(written atomically), the Markdown summary, PNG figures, and the cache of finished parts that
lets an interrupted run resume.

Across processes (``jax.distributed``, an experiment's ``--num-processes``): process 0 alone
reads and writes the files, and what it finds or fails at reaches every process
(:func:`on_writer`), so they all take the same branches and meet in the same collectives.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from pathlib import Path
from typing import Any, Callable

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

    devices = jax.devices()  # of every process
    return dict(backend=jax.default_backend(), device_kind=devices[0].device_kind,
                num_devices=len(devices), num_processes=jax.process_count(), jax=jax.__version__, jaxlib=jaxlib.__version__,
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
        """The stored ``part``, or ``compute()``'s value, stored. Across processes, process 0
        alone looks for the part and tells the others (so all of them re-use it or all compute
        it, every one running the same collectives), and process 0 alone writes it."""
        path = self.dir / f"{part}.json"

        def load():
            if path.exists() and not self.fresh:
                return dict(value=_io.read_json(path, remedy="rerun with --force to recompute it, or delete the file"))
            return None

        stored = on_writer(load)
        if stored is not None:
            self.reused.append(part)
            return _from_json(stored["value"])
        value = jsonable(compute())
        on_writer(lambda: write_json(path, value))
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


# --------------------------------------------------------------------------- several processes


def multiprocess() -> bool:
    """Whether this process is one of several (``jax.distributed`` initialised, more than one
    process); ``False`` without initialising a JAX backend otherwise."""
    import jax

    return jax.distributed.is_initialized() and jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes the results: the only one, or process 0 of several."""
    import jax

    return not multiprocess() or jax.process_index() == 0


def _texts(text: str) -> list[str]:
    """Every process's ``text``, in process order, on every process (two all-gathers, which
    every process must reach). The buffer is padded to a power of two, so few sizes compile."""
    import numpy as np
    from jax.experimental import multihost_utils

    blob = np.frombuffer(text.encode(), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.int32(blob.size))).reshape(-1)
    padded = np.zeros(max(256, 1 << int(sizes.max() - 1).bit_length()), np.uint8)
    padded[:blob.size] = blob
    rows = np.asarray(multihost_utils.process_allgather(padded))
    return [bytes(row[:n]).decode() for row, n in zip(rows, sizes)]


def _reply(error: BaseException) -> dict:
    return dict(error=str(error), type=type(error).__name__)


def _raise(reply: dict, where: str) -> typing.NoReturn:
    if reply["type"] == "ValueError":  # a refusal (the command line's): the same message everywhere
        raise ValueError(reply["error"])
    raise RuntimeError(f"{where} failed ({reply['type']}: {reply['error']})")


def on_writer(fn: Callable[[], Any]) -> Any:
    """``fn()`` (a file operation) on the process that writes (:func:`is_writer`), its value
    (JSON, :func:`jsonable`) on every process.

    One process: just ``fn()``. Several: ``fn`` runs on process 0 only; the others wait for its
    value, or for its error, which they raise too (a ``ValueError`` with the same message, any
    other error as a ``RuntimeError`` naming it; process 0 raises its own), so every process
    takes the same branch and none is left waiting in a collective the others never reach.
    """
    if not multiprocess():
        return fn()
    error, reply = None, ""
    if is_writer():
        try:
            reply = json.dumps(dict(value=jsonable(fn())))
        except Exception as err:  # noqa: BLE001 - told to the other processes, then raised here
            error, reply = err, json.dumps(_reply(err))
    answer = json.loads(_texts(reply)[0])
    if error is not None:
        raise error
    if "error" in answer:
        _raise(answer, "process 0")
    return answer["value"]


def on_every_process(fn: Callable[[], Any]) -> Any:
    """``fn()`` on every process (a check whose answer may differ between hosts: free memory or
    disk); when it raises on any, every process raises (the first failing process's error, as
    in :func:`on_writer`). One process: just ``fn()``."""
    if not multiprocess():
        return fn()
    error, value, reply = None, None, ""
    try:
        value = fn()
    except Exception as err:  # noqa: BLE001 - told to the other processes, then raised
        error, reply = err, json.dumps(_reply(err))
    import jax

    failed = [(i, json.loads(t)) for i, t in enumerate(_texts(reply)) if t]
    if failed and failed[0][0] == jax.process_index():
        raise typing.cast(BaseException, error)  # this process failed first: its own error
    if failed:
        _raise(failed[0][1], f"process {failed[0][0]}")
    return value
