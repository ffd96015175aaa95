"""File plumbing (private): atomic writes, an early writability check, and JSON reads whose
errors name the file.

A crash mid-write never leaves a truncated file behind (`write_atomic`), and the temp file
of a write that was killed is removed by the next write of the same file; a write that
does not fit on the disk fails before it starts (`check_free_space`); an unwritable output
is found before the work, not after it (`check_writable_dir`); two runs writing the same
results cannot overlap (`exclusive`); a corrupt file read back says which file it is and
what to do (`read_json`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

# the free space a write leaves at least (the file system's own bookkeeping)
SPARE_BYTES = 1 << 20


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: keep its file
    return True


def remove_stale_temps(path) -> list[Path]:
    """Remove the temp files that writes of ``path`` by processes no longer running left
    behind (a write killed between creating its temp file and renaming it). Returns them."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        parts = tmp.name[len(path.name) + 2:].split(".")
        if len(parts) >= 3 and parts[0].isdigit() and not _alive(int(parts[0])):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def check_free_space(folder, num_bytes: int, what: str) -> None:
    """Raise ``OSError(ENOSPC)`` naming ``what``, the folder, the bytes needed and the bytes
    free, when ``num_bytes`` (plus `SPARE_BYTES`) do not fit in ``folder``'s file system."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # no way to tell (an exotic file system): the write itself will say
    if num_bytes + SPARE_BYTES > free:
        raise OSError(errno.ENOSPC, f"not enough free space for {what} in {folder}: it needs "
                      f"{num_bytes + SPARE_BYTES:,} bytes, {free:,} are free; free some space or "
                      "write elsewhere")


def write_atomic(path, data: str | bytes) -> None:
    """Write ``data`` (text or bytes) to ``path`` atomically: a temp file in the same folder
    (named after ``path`` and this process), then ``os.replace``. Parent folders are created;
    the free space is checked first (`check_free_space`); stale temp files of ``path`` are
    removed (`remove_stale_temps`); the temp file is removed on every error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    blob = data.encode() if isinstance(data, str) else data
    check_free_space(path.parent, len(blob), str(path.name))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; give it the mode an ordinary write would (0666 - umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable_dir(path, what: str, need_bytes: int = 0) -> Path:
    """Make sure files can be written into the folder ``path``, before any long computation.

    Creates the folder (and its parents) when missing, then creates and removes a temp file
    in it, the way `write_atomic` will, and checks that ``need_bytes`` fit (a full disk is
    found before the work, not after it). Returns ``path`` as a `Path`.

    Args:
      path: the folder.
      what: the argument it came from (``"--out"``, ``"checkpoint_path"``), named in the error.
      need_bytes: what the work will write there (an estimate; 0: not checked).

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
    if need_bytes:
        try:
            check_free_space(path, need_bytes, "the results")
        except OSError as err:
            raise ValueError(f"{what} {path}: {err.strerror}") from err
    return path


@contextlib.contextmanager
def exclusive(path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block;
    when another process holds it, raise ``ValueError`` at once, naming ``what``, the lock and
    the process that holds it. The operating system releases the lock when the process ends
    (a killed run never leaves a stale lock). Without ``fcntl`` (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise ValueError(f"{what} is in use: {holder} is writing there now (lock {path}); wait "
                             "for it to finish, or pass another folder") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()}")
        f.flush()
        yield
    finally:
        f.close()


def read_json(path, remedy: str = "delete it") -> Any:
    """``json.loads`` of the file ``path``; a corrupt or truncated file raises a ``ValueError``
    naming the file, the parser's complaint and ``remedy`` (what the user should do)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON (corrupt or truncated: {err}); "
                         f"{remedy}") from err
