"""File I/O shared by every part: atomic writes (checkpoints, results, submissions, pages) and JSON config reads.

A reader, or a crash halfway, sees either the old file or the complete new one, never half a file: the data is
written to a temp file in the same folder, flushed to disk, then moved over the target with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[str]:
    """A temp file name beside ``path`` to write to; on success it replaces ``path``, on error it is removed.

    With ``overwrite=False`` an existing ``path`` is refused up front (``FileExistsError``): nothing is silently lost.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it (use --force / --replace)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions of a normal one
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; refuses to replace an existing file unless ``overwrite``."""
    with atomic_path(path, overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def read_json_file(path: str | os.PathLike, what: str = "file") -> Any:
    """Parse a JSON file (a suite, a recipe, a manifest); unreadable or malformed is a ``ValueError`` naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {what} {path}: {err}") from None
