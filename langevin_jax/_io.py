"""File plumbing (private): atomic writes, an early writability check, and JSON reads whose
errors name the file.

A crash mid-write never leaves a truncated file behind (`write_atomic`); an unwritable
output is found before the work, not after it (`check_writable_dir`); a corrupt file
read back says which file it is and what to do (`read_json`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path, data: str | bytes) -> None:
    """Write ``data`` (text or bytes) to ``path`` atomically: a temp file in the same folder,
    then ``os.replace``. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; give it the mode an ordinary write would (0666 - umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable_dir(path, what: str) -> Path:
    """Make sure files can be written into the folder ``path``, before any long computation.

    Creates the folder (and its parents) when missing, then creates and removes a temp file
    in it, the way `write_atomic` will. Returns ``path`` as a `Path`.

    Args:
      path: the folder.
      what: the argument it came from (``"--out"``, ``"checkpoint_path"``), named in the error.

    Raises:
      ValueError: ``path`` is a regular file, its folder cannot be created (a parent is a
        file, no permission) or a file cannot be created in it; the message names ``what``,
        ``path`` and the operating system's reason.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is not a writable folder: it is a file; pass a folder "
                         "(a missing one is created)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise ValueError(f"{what} {path} is not a writable folder ({type(err).__name__}: "
                         f"{err.strerror or err}); pass a folder you can create and write to") from err
    return path


def read_json(path, remedy: str = "delete it") -> Any:
    """``json.loads`` of the file ``path``; a corrupt or truncated file raises a ``ValueError``
    naming the file, the parser's complaint and ``remedy`` (what the user should do)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON (corrupt or truncated: {err}); "
                         f"{remedy}") from err
