"""Boards: one per suite, each a folder with its submissions, its verification records and its rendered pages
(the layout and the board names: ``layout.py``).

The boards' folder is mutable user data, never the installed package: ``--board DIR`` on the commands that read or
write boards, else ``default_root()``: ``$PLASTIC_GYM_BOARD``, else the checkout's ``leaderboard/`` folder when the
package runs from a source checkout, else ``$PLASTIC_GYM_HOME/leaderboard`` (the user data folder, by default
``$XDG_DATA_HOME/plastic-gym``, i.e. ``~/.local/share/plastic-gym``).

Every change of a board (submit, verify, render) is one ``plastic_gym.io.commit_files`` under the board's lock, after
``recover``: the new submission files, ``verified.json`` and the three pages re-rendered from the whole folder, all
or nothing. A board left stale (pages not matching the submissions) is rendered afresh by the next change.

A row's status is ``verified`` if ``verified.json`` has a record for it whose sha256 is that of the submission file
as stored now (replacing a submission drops its verification), else ``self-reported``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plastic_gym.io import commit_files, folder_lock, read_json_file, recover

from .layout import MAX_FILE_BYTES, PRIMARY_BOARD, STATUSES, board_name_of
from .protocol import valid_name

__all__ = ["MAX_FILE_BYTES", "PACKAGE_DIR", "PRIMARY_BOARD", "STATUSES", "Board", "all_boards", "board_name_of",
           "default_root", "from_checkout", "sha256_hex", "statuses", "user_home"]

PACKAGE_DIR = Path(__file__).resolve().parent


def from_checkout() -> bool:
    """Whether the package runs from a source checkout (an editable install): its folder sits beside the project's
    ``pyproject.toml``, which an installed wheel never has."""
    return (PACKAGE_DIR.parent / "pyproject.toml").is_file()


def user_home() -> Path:
    """plastic-gym's user data folder: ``$PLASTIC_GYM_HOME``, else ``$XDG_DATA_HOME/plastic-gym`` (by default
    ``~/.local/share/plastic-gym``)."""
    if os.environ.get("PLASTIC_GYM_HOME"):
        return Path(os.environ["PLASTIC_GYM_HOME"]).expanduser()
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "plastic-gym"


def default_root() -> Path:
    """The boards' folder when no ``--board`` is given: ``$PLASTIC_GYM_BOARD``, else the checkout's ``leaderboard/``
    folder when the package runs from a checkout, else ``user_home() / "leaderboard"``: never inside site-packages."""
    if os.environ.get("PLASTIC_GYM_BOARD"):
        return Path(os.environ["PLASTIC_GYM_BOARD"]).expanduser()
    if from_checkout():
        return PACKAGE_DIR
    return user_home() / "leaderboard"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Board:
    """The board ``name`` under ``root``."""

    root: Path
    name: str

    @classmethod
    def for_suite(cls, suite, root: str | Path | None = None) -> Board:
        return cls(Path(root) if root is not None else default_root(), board_name_of(suite.name, suite.hash))

    @property
    def dir(self) -> Path:
        return self.root if self.name == PRIMARY_BOARD else self.root / "boards" / self.name

    @property
    def submissions(self) -> Path:
        return self.dir / "submissions"

    def submission_path(self, name: str) -> Path:
        """The file of submission ``name``: a plain entry of the submissions folder (no path, no link), or a
        ``ValueError`` saying which names exist."""
        path = self.submissions / f"{name}.json" if valid_name(name) else None
        if path is None or path.is_symlink() or not path.is_file():
            raise ValueError(f"no submission named {name!r} on board {self.name!r} ({self.submissions}); expected one "
                             f"of {self.names()}")
        return path

    def names(self) -> list[str]:
        if not self.submissions.is_dir():
            return []
        return sorted(p.stem for p in self.submissions.glob("*.json") if valid_name(p.stem) and not p.is_symlink())

    def _read(self) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, Any]]]:
        """Every submission (checked: schema, one agent, named like its file, this board's suite), the sha256 of each
        file, and the verification records. Call under the lock."""
        from .results import ResultError, parse_json, schema_problems

        docs, digests = [], {}
        for path in sorted(self.submissions.glob("*.json")) if self.submissions.is_dir() else []:
            if path.is_symlink() or not valid_name(path.stem):
                raise ResultError(f"{path}: expected a plain file named <name>.json with a leaderboard name; "
                                  "move it away")
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)  # parse_json refuses more
            doc = parse_json(data, path)
            problems = schema_problems(doc)
            if not problems and (len(doc["agents"]) != 1 or doc["agents"][0]["metadata"]["name"] != path.stem):
                problems = [f"expected exactly one agent named {path.stem!r} (the file's name)"]
            if not problems and board_name_of(doc["suite"]["name"], doc["suite"]["hash"]) != self.name:
                problems = [f"its suite ({doc['suite']['name']}, {doc['suite']['hash'][:19]}...) belongs to board "
                            f"{board_name_of(doc['suite']['name'], doc['suite']['hash'])!r}, not {self.name!r}"]
            if problems:
                raise ResultError(f"{path} is not a valid submission of board {self.name!r}: " + "; ".join(problems)
                                  + " (fix or move it away; nothing was written)")
            docs.append(doc)
            digests[path.stem] = sha256_hex(data)
        verified_path = self.dir / "verified.json"
        records = {}
        if verified_path.exists():
            records = read_json_file(verified_path, "verification records", MAX_FILE_BYTES)
            if not isinstance(records, dict):
                raise ResultError(f"{verified_path}: expected an object {{name: record}}")
        return docs, digests, records

    def load(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any] | None]]:
        """The submissions and, per name, its verification record (None: self-reported), after finishing any
        interrupted commit. A board that does not exist yet is empty (and is not created)."""
        if not self.dir.is_dir():
            return [], {}
        with folder_lock(self.dir):
            recover(self.dir)
            docs, digests, records = self._read()
        return docs, statuses(digests, records)

    def update(self, add: dict[str, dict[str, Any]] | None = None, replace: bool = False,
               verified: dict[str, dict[str, Any]] | None = None) -> list[Path]:
        """Add (or with ``replace`` replace) submissions and verification records, and re-render the pages: one
        atomic step. Returns the submission files written and the pages."""
        from .render import pages
        from .results import dumps

        add, verified = add or {}, verified or {}
        with folder_lock(self.dir):
            recover(self.dir)
            docs, digests, records = self._read()
            taken = sorted(set(add) & set(digests))
            if taken and not replace:
                raise FileExistsError(f"agent name(s) {taken} already on board {self.name!r} ({self.submissions}); "
                                      "rename the agent or use --replace")
            files = {f"submissions/{n}.json": dumps(d).encode() for n, d in add.items()}
            docs = [d for d in docs if d["agents"][0]["metadata"]["name"] not in add] + list(add.values())
            docs.sort(key=lambda d: d["agents"][0]["metadata"]["name"])
            for n in add:
                digests[n] = sha256_hex(files[f"submissions/{n}.json"])
            records = {**records, **verified}
            files["verified.json"] = (json.dumps(records, indent=1, sort_keys=True) + "\n").encode()
            files.update(pages(docs, statuses(digests, records), self.name))
            new = set() if replace else {f"submissions/{n}.json" for n in add}
            return commit_files(self.dir, files, new=new)


def statuses(digests: dict[str, str], records: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Per submission, its verification record if it is for the file as stored now, else None (self-reported)."""
    return {n: records[n] if isinstance(records.get(n), dict) and records[n].get("sha256") == d else None
            for n, d in digests.items()}


def all_boards(root: str | Path | None = None) -> list[Board]:
    """The primary board (if it has a submissions folder) and every board under ``<root>/boards``."""
    root = Path(root) if root is not None else default_root()
    others = sorted(p.name for p in (root / "boards").glob("*") if p.is_dir()) if (root / "boards").is_dir() else []
    primary = [Board(root, PRIMARY_BOARD)] if (root / "submissions").is_dir() else []
    return [*primary, *(Board(root, n) for n in others if valid_name(n))]
