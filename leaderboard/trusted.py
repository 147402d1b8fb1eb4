"""The trusted list: per suite, the agents the project itself runs (``trusted.json``, shipped in the package).

Each suite name maps to a list of entries ``{"name", "source", "privileged"?, "reference"?}`` in evaluation order:
the reference agents and the committed baselines. It is the only place where

- the main job (``plastic-gym evaluate`` without ``--agent``) gets the agents it loads (never from ``submissions/``,
  whose files are data written by anyone);
- ``plastic-gym verify NAME`` gets the source it re-runs without ``--trust``;
- a board gets whether a row is ``privileged`` (reads the episodes: the oracle) or an unranked ``reference``
  (a classical algorithm): by the row's name, whatever the submitted file says.

A suite without an entry here (a custom suite file) gets ``DEFAULT_REFERENCES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file

from .protocol import valid_name

TRUSTED_PATH = Path(__file__).resolve().parent / "trusted.json"


@dataclass(frozen=True)
class TrustedEntry:
    """One agent the project runs for a suite: its leaderboard name and the agent spec that re-creates it."""

    name: str
    source: str
    privileged: bool = False
    reference: bool = False


DEFAULT_REFERENCES = (TrustedEntry("random", "random"), TrustedEntry("no-memory", "no-memory"),
                      TrustedEntry("oracle", "oracle", privileged=True))


def parse_trusted(data: Any, where: str = "trusted list") -> dict[str, tuple[TrustedEntry, ...]]:
    """The trusted list from its parsed JSON; a malformed one is a ``ValueError`` naming the field."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object {{suite name: [entries]}}")
    out = {}
    for suite, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"{where}: {suite}: expected a list of entries")
        parsed = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or set(e) - {"name", "source", "privileged", "reference"} or not (
                    valid_name(e.get("name")) and isinstance(e.get("source"), str) and e["source"]
                    and all(isinstance(e.get(k, False), bool) for k in ("privileged", "reference"))):
                raise ValueError(f"{where}: {suite}[{i}]: expected {{'name': NAME, 'source': SPEC, 'privileged'?: "
                                 f"bool, 'reference'?: bool}}, found {e!r}")
            parsed.append(TrustedEntry(**e))
        names = [e.name for e in parsed]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: {suite}: duplicate names {names}")
        out[suite] = tuple(parsed)
    return out


@lru_cache(maxsize=1)
def trusted_list() -> dict[str, tuple[TrustedEntry, ...]]:
    """The shipped trusted list (``trusted.json``)."""
    return parse_trusted(read_json_file(TRUSTED_PATH, "trusted list"), str(TRUSTED_PATH))


def trusted_entries(board: str) -> tuple[TrustedEntry, ...]:
    """The trusted entries of a board (a shipped suite's name; custom suites get ``DEFAULT_REFERENCES``)."""
    return trusted_list().get(board, DEFAULT_REFERENCES)


def trusted_entry(board: str, name: str) -> TrustedEntry | None:
    """The trusted entry of that name on that board, if any."""
    return next((e for e in trusted_entries(board) if e.name == name), None)


#: The folders a trusted source's files may lie in, by their first path part -> the package installed from them.
_PACKAGE_FOLDERS = {"baselines": "plastic_gym.baselines", "leaderboard": "plastic_gym.leaderboard"}


def package_file(path: str) -> Path:
    """The file a trusted source names (``baselines/checkpoints/...``), inside the installed package only: never
    looked up in the current folder, where anyone may have put a file of that name."""
    import importlib

    parts = Path(path).parts
    if Path(path).is_absolute() or not parts or parts[0] not in _PACKAGE_FOLDERS or ".." in parts:
        raise ValueError(f"trusted source path {path!r}: expected a path inside the package, starting with one of "
                         f"{sorted(_PACKAGE_FOLDERS)}")
    package = importlib.import_module(_PACKAGE_FOLDERS[parts[0]])
    return Path(package.__file__).resolve().parent.joinpath(*parts[1:])


def anchored_spec(source: str) -> str:
    """``source`` with the file it names made absolute inside the package (``package_file``); reference names and
    ``module:factory`` specs stay as they are."""
    from .adapters import find_kind
    from .adapters.sb3 import split_spec

    kind, rest = find_kind(source)
    if kind.prefix in ("reference", "python"):
        return source
    if kind.prefix == "sb3":
        algo, path = split_spec(rest)
        return f"sb3:{algo + ':' if algo else ''}{package_file(path)}"
    return str(package_file(rest)) if rest == source else f"{kind.prefix}:{package_file(rest)}"


def trusted_factories(board: str, seed: int = 0, names: list[str] | None = None) -> list[Any]:
    """Agent factories of the trusted entries of a board (all, or ``names`` in that order), their metadata's
    name, source and flags set from the list; files are loaded from the package (``anchored_spec``)."""
    from dataclasses import replace

    from .adapters import load_agent

    entries = trusted_entries(board)
    if names is not None:
        by_name = {e.name: e for e in entries}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"{unknown} are not trusted entries of board {board!r}; trusted: {list(by_name)}")
        entries = tuple(by_name[n] for n in names)
    factories = []
    for e in entries:
        factory = load_agent(anchored_spec(e.source), seed=seed)
        factory.metadata = replace(factory.metadata, name=e.name, source=e.source, privileged=e.privileged,
                                   reference=e.reference)
        factories.append(factory)
    return factories
