"""File I/O shared by every part: atomic writes (checkpoints, results, submissions, pages), JSON config reads, and
all-or-nothing commits of several files under a lock (the leaderboard's folders).

A reader, or a crash halfway, sees either the old file or the complete new one, never half a file: the data is
written to a temp file in the same folder, flushed to disk, then moved over the target with ``os.replace``.
A write that must not replace an existing file links the finished temp file to its name (``os.link`` fails if the
name exists), so of two writers racing for one name exactly one succeeds.

Several files at once (``commit_files``) use a redo log: every file is written into a temp folder beside them,
with a plan of where each goes; renaming that folder to ``.commit`` is the one atomic step that decides; the files
are then moved into place and the folder removed. A crash before the rename leaves the old state (the temp folder is
removed by the next ``recover``); a crash after it is completed by the next ``recover``. Everyone who reads or
writes such a folder does so under its lock (``folder_lock``, ``fcntl.flock``: the kernel releases it when a process
dies, so a killed writer never leaves it held; ``msvcrt.locking`` on Windows) and calls ``recover`` first, so they
see the state before or after a commit, never one between.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Names inside a committed folder that belong to the commit machinery.
LOCK_NAME, COMMIT_NAME, STAGING_PREFIX = ".lock", ".commit", ".staging-"


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames, links) to disk; Windows has no directory handles for this."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[str]:
    """A temp file name beside ``path`` to write to; on success it becomes ``path``, on error it is removed.

    With ``overwrite=False`` an existing ``path`` is refused (``FileExistsError``), up front and again at the end:
    the finished file is linked to its name, which fails if another writer created it meanwhile.
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
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(f"{path} exists; refusing to overwrite it (use --force / --replace)") from None
            Path(tmp).unlink()
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; refuses to replace an existing file unless ``overwrite``."""
    with atomic_path(path, overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def read_text_limited(path: str | os.PathLike, what: str = "file", max_bytes: int | None = None) -> str:
    """The UTF-8 text of a file; a missing, unreadable, too large or non-UTF-8 file is a ``ValueError`` naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(f"{what} {path} is larger than the limit of {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {err.start}: {err.reason}); expected a UTF-8 JSON "
                         "file") from None


def read_json_file(path: str | os.PathLike, what: str = "file", max_bytes: int | None = None) -> Any:
    """Parse a JSON file (a suite, a recipe, a manifest); unreadable, non-UTF-8 or malformed is a ``ValueError``
    naming it."""
    text = read_text_limited(path, what, max_bytes)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise ValueError(f"cannot read {what} {path}: not valid JSON: {err.msg} at line {err.lineno}, column "
                         f"{err.colno}") from None
    except _DuplicateKey as err:
        raise ValueError(f"cannot read {what} {path}: the key {err.args[0]!r} appears twice in one object "
                         "(JSON parsers would silently keep only one of them)") from None


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's dict, refusing a key that appears twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


@contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (its file ``.lock``), waiting for another holder; yields the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: a blocking lock of the file's first byte (msvcrt retries for 10 s, then raises)
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)  # closing releases the lock


def _apply(folder: Path, commit: Path) -> None:
    """Move the files of a decided commit into place (idempotent: a file already moved is skipped)."""
    plan = json.loads((commit / "plan.json").read_text())
    for item in plan:
        staged, target = commit / item["staged"], folder / item["target"]
        if not staged.exists():
            continue  # moved by an earlier, interrupted run
        target.parent.mkdir(parents=True, exist_ok=True)
        if item["new"]:
            try:
                os.link(staged, target)
            except FileExistsError:
                if not os.path.samefile(staged, target):
                    raise FileExistsError(f"{target} appeared while a commit to {folder} was being applied; "
                                          f"refusing to overwrite it (move it away and run again)") from None
            staged.unlink()
        else:
            os.replace(staged, target)
        _fsync_dir(target.parent)
    # Done: rename first (one atomic step), then delete. A kill while deleting leaves a staging folder, which the
    # next recover drops, never a half-deleted .commit without its plan.
    done = folder / f"{STAGING_PREFIX}done-{os.getpid()}-{id(plan)}"
    os.rename(commit, done)
    _fsync_dir(folder)
    shutil.rmtree(done)


def recover(folder: str | os.PathLike) -> bool:
    """Finish a decided commit of ``folder`` and drop undecided staging folders; call it under ``folder_lock``.

    Returns True if a commit had to be completed (its writer died after deciding).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return False
    for staging in folder.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(staging, ignore_errors=True)
    commit = folder / COMMIT_NAME
    if commit.is_dir():
        _apply(folder, commit)
        return True
    return False


def commit_files(folder: str | os.PathLike, files: dict[str, bytes], new: set[str] = frozenset()) -> list[Path]:
    """Write several files under ``folder`` as one atomic step; call it under ``folder_lock`` after ``recover``.

    ``files`` maps a path relative to ``folder`` to its new content; the names in ``new`` must not exist yet
    (``FileExistsError`` before anything is written). Returns the paths written.
    """
    folder = Path(folder)
    for rel in files:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"commit_files: {rel!r} must be a path inside {folder}")
    taken = sorted(rel for rel in new if (folder / rel).exists())
    if taken:
        raise FileExistsError(f"{', '.join(taken)} already exist in {folder}; refusing to overwrite")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    umask = os.umask(0)
    os.umask(umask)
    plan = []
    for i, (rel, data) in enumerate(files.items()):
        staged = staging / f"{i}"
        with open(staged, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(staged, 0o666 & ~umask)
        plan.append({"staged": staged.name, "target": str(rel), "new": rel in new})
    with open(staging / "plan.json", "w") as f:
        json.dump(plan, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(staging)
    os.rename(staging, folder / COMMIT_NAME)  # the decision: from here on the commit happens
    _fsync_dir(folder)
    _apply(folder, folder / COMMIT_NAME)
    return [folder / rel for rel in files]
