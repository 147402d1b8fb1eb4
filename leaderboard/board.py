"""Boards: one per suite, each a folder with its submissions, its verification records and its rendered pages.

    <root>/                         suite v0's board (root: the checkout's leaderboard/ folder, or a user data folder)
        submissions/<name>.json     one agent each (data: never executed)
        verified.json               {name: {date, versions, sha256, source, trusted}}: rows re-run by ``verify``
        LEADERBOARD.md, leaderboard.png, index.html
        boards/<board>/...          every other suite's board, the same layout

A suite's board is named by the suite only when its hash is that of the shipped suite of that name; any other suite
file gets ``custom-<first 12 hex digits of its hash>``, so a custom suite can never land on a built-in board.

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

from .protocol import valid_name

PACKAGE_DIR = Path(__file__).resolve().parent
#: The board whose files stay at the root (the paths the README links).
PRIMARY_BOARD = "v0"
#: Largest result or submission file read (a full main-job result of 17 agents is about 1.5 MB).
MAX_FILE_BYTES = 16 * 2**20
STATUSES = ("verified", "self-reported")


def default_root() -> Path:
    """``$PLASTIC_GYM_BOARD``, else the checkout's ``leaderboard/`` folder when the package runs from a checkout
    (an editable install), else ``$XDG_DATA_HOME/plastic-gym/leaderboard``: never inside site-packages."""
    if os.environ.get("PLASTIC_GYM_BOARD"):
        return Path(os.environ["PLASTIC_GYM_BOARD"])
    if (PACKAGE_DIR.parent / "pyproject.toml").is_file():
        return PACKAGE_DIR
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "plastic-gym" / "leaderboard"


def board_name_of(suite_name: str, suite_hash: str) -> str:
    """The board of a suite: its name if it is the shipped suite of that name (same hash), else ``custom-<hash>``."""
    from .suite import available_suites, load_suite

    if suite_name in available_suites() and load_suite(suite_name).hash == suite_hash:
        return suite_name
    return "custom-" + suite_hash.partition(":")[2][:12]


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
