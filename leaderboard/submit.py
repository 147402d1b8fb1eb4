"""Submitting result files to a board, and verifying a submission by re-running it.

``submit`` validates every agent of the file first (schema, suite hash, references, recomputed scores, flags,
names) and then adds them, with the re-rendered pages, in one atomic step (``Board.update``): all or nothing, also
when two submits run at once or one is killed. A submission is data: nothing in it is executed.

``verify`` re-runs submissions and compares them per episode; a match is recorded (date, versions, the file's
sha256) and the row shows as verified. A name on the board's trusted list is re-run from the trusted list's own
source (package data), never from the file. Any other submission's ``source`` is code from whoever submitted it:
``verify`` refuses it unless ``trust=True`` (``plastic-gym verify NAME --trust``), and then says what it loads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .board import Board
from .results import ResultError, canonical, read_json, split_agents, validate


def submit(path: str | Path, root: str | Path | None = None, replace: bool = False, allow_short: bool = False,
           check_references: bool = True, runtime_kwargs: dict[str, Any] | None = None, suite=None) -> list[Path]:
    """Validate the result file at ``path`` and add each of its agents to its suite's board under ``root``.

    Raises ``ResultError`` (nothing written) if the file is invalid, or ``FileExistsError`` if an agent's name is
    already on the board and not ``replace``. Returns the submission files written.
    """
    doc = read_json(path)
    suite = validate(doc, allow_short=allow_short, check_references=check_references, runtime_kwargs=runtime_kwargs,
                     suite=suite)
    board = Board.for_suite(suite, root)
    singles = {d["agents"][0]["metadata"]["name"]: d for d in split_agents(canonical(doc))}
    written = board.update(add=singles, replace=replace)
    return [p for p in written if p.parent == board.submissions]


def _trusted_or_refused(board: Board, name: str, doc: dict[str, Any], trust: bool,
                        announce: Callable[[str], None]) -> Any:
    """The factory that re-creates submission ``name``: from the trusted list, or (only with ``trust``) from the
    file's own source, announced with what loading it runs."""
    from .adapters import describe_source, load_agent
    from .trusted import trusted_entry, trusted_factories

    agent = doc["agents"][0]
    if trusted_entry(board.name, name) is not None:
        return trusted_factories(board.name, seed=agent["seed"], names=[name])[0]
    source = agent["metadata"].get("source")
    if not source:
        raise ValueError(f"submission {name!r} has no metadata.source (the agent spec to re-run); it cannot be "
                         "verified")
    what = describe_source(source)
    if not trust:
        raise ValueError(f"submission {name!r} is not on the trusted list of board {board.name!r}; re-running it "
                         f"would load its source {source!r}, which {what}. Re-run with --trust only if you trust "
                         f"whoever wrote {board.submission_path(name)} and the files it names")
    announce(f"verify --trust: loading {source!r} for submission {name!r}: {what}")
    factory = load_agent(source, seed=agent["seed"])
    factory.metadata = factory.metadata.__class__(**agent["metadata"])
    return factory


def _compare(doc: dict[str, Any], new: dict[str, Any]) -> tuple[bool, list[str]]:
    """Per task, whether the re-run's per-episode values agree with the stored ones to 1e-5 relative (float noise of
    another BLAS/torch build; the aggregates then agree to far better than their intervals)."""
    agent = doc["agents"][0]
    lines, ok = [], True
    old_run, new_run = agent["runs"][0], new["runs"][0]
    for t in doc["tasks"]:
        a, b = np.asarray(old_run[t["name"]]["primary"]), np.asarray(new_run[t["name"]]["primary"])
        bad = int(np.sum(~np.isclose(a, b, rtol=1e-5, atol=1e-7))) if a.shape == b.shape else len(a)
        ok &= bad == 0
        lines.append(f"{t['name']:<16} {'ok' if bad == 0 else 'MISMATCH':<8} submitted {np.mean(a):.6g}  re-run "
                     f"{np.mean(b):.6g}  ({bad} of {len(a)} episodes differ)")
    old_iqm, new_iqm = agent["scores"]["iqm"]["value"], new["scores"]["iqm"]["value"]
    lines.append(f"IQM submitted {old_iqm:.6f}, re-run {new_iqm:.6f}: {'MATCH' if ok else 'DOES NOT MATCH'}")
    return ok, lines


def verify(names: str | list[str], root: str | Path | None = None, board: str = "v0", trust: bool = False,
           progress: bool = True, runtime_kwargs: dict[str, Any] | None = None, suite=None,
           announce: Callable[[str], None] = print) -> tuple[bool, str]:
    """Re-run submissions of a board and compare per episode; record each match as verified.

    Returns (all match, report). ``suite`` defaults to the shipped suite the submissions name. Names on the board's
    trusted list are re-run from it; others only with ``trust`` (see the module docstring). Submissions that share
    an episode count and a seed are evaluated together.
    """
    from .board import default_root, sha256_hex
    from .evaluate import evaluate, package_versions
    from .results import parse_json
    from .suite import load_suite
    from .trusted import trusted_entry

    names = [names] if isinstance(names, str) else list(dict.fromkeys(names))
    if not names:
        raise ValueError("verify: expected at least one submission name")
    board_ = Board(Path(root) if root is not None else default_root(), board)
    board_.load()  # finishes an interrupted commit and checks every file of the board
    by_name, digests = {}, {}
    for name in names:
        data = board_.submission_path(name).read_bytes()  # a plain entry of the submissions folder, else ValueError
        by_name[name], digests[name] = parse_json(data, board_.submission_path(name)), sha256_hex(data)
    suite = suite or load_suite(by_name[names[0]]["suite"]["name"])
    groups: dict[tuple[int | None, int], list[str]] = {}
    for name in names:
        doc = by_name[name]
        if doc["suite"]["hash"] != suite.hash:
            raise ResultError(f"submission {name!r}: suite hash {doc['suite']['hash']} is not that of suite "
                              f"{suite.name!r} ({suite.hash})")
        counts = [t["episodes"] for t in doc["tasks"]]
        full = counts == [t.episodes for t in suite.tasks]
        groups.setdefault((None if full else min(counts), doc["agents"][0]["seed"]), []).append(name)
    factories = {name: _trusted_or_refused(board_, name, by_name[name], trust, announce) for name in names}
    lines, all_ok, records = [], True, {}
    for (episodes, seed), group in groups.items():  # episodes None: the suite's own counts
        new = evaluate([factories[n] for n in group], suite, episodes=episodes, seed=seed, progress=progress,
                       runtime_kwargs=runtime_kwargs)
        for name, agent in zip(group, new["agents"], strict=True):
            ok, report = _compare(by_name[name], agent)
            all_ok &= ok
            lines += [f"{name}:"] + ["  " + line for line in report]
            if ok:
                # bound to the bytes that were compared: a file replaced meanwhile stays self-reported
                records[name] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                 "versions": package_versions(), "source": factories[name].metadata.source,
                                 "trusted_list": trusted_entry(board_.name, name) is not None,
                                 "sha256": digests[name]}
    if records:
        board_.update(verified=records)
    return all_ok, "\n".join(lines)
