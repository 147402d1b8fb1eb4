"""Adding the within-episode diagnostics to a board's submissions without retraining: ``plastic-gym diagnose``.

For each selected submission (by default every one without ``diagnostics``; ``--redo``: every one; or the names
given) that the board's trusted list can rebuild (the reference agents and the committed checkpoints: never a
submitter's own code), the suite is evaluated again with diagnostics (``evaluate(..., diagnostics=True)``) on the
submission's own episode count and seed. Same episodes and same weights give the same per-episode values, so the
re-run must match the stored ones per episode (``submit._compare``, rtol 1e-5); a mismatch refuses that submission
and the report says where. Each matched submission gets the re-run's ``diagnostics`` and nothing else changed; the
new files are validated (``results.validate``) and written with the re-rendered pages in one atomic step
(``Board.update(replace=True)``). The re-run is a verification (the trusted source, matched per episode, as
``verify`` does), so each written file is recorded as verified. A file replaced on the board while the re-run ran is
left alone.

Only argparse is imported at module level (``register``); the rest loads inside the command.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli import runtime_kwargs, with_data_root


def _selected(docs: dict[str, dict[str, Any]], names: list[str] | None, redo: bool) -> list[str]:
    """The submissions to diagnose: ``names`` (each must be on the board), else those without diagnostics (all with
    ``redo``)."""
    if names:
        unknown = [n for n in names if n not in docs]
        if unknown:
            raise ValueError(f"no submission(s) named {unknown} on the board; expected some of {sorted(docs)}")
        return list(dict.fromkeys(names))
    return [n for n, d in docs.items() if redo or "diagnostics" not in d["agents"][0]]


def diagnose_board(suite, root: str | Path | None = None, names: list[str] | None = None, redo: bool = False,
                   progress: bool = True, runtime_kwargs: dict[str, Any] | None = None,
                   announce: Callable[[str], None] = print) -> tuple[bool, str]:
    """Add diagnostics to the submissions of ``suite``'s board under ``root`` (see the module docstring).

    Returns (no submission refused or failed, report). Submissions that the trusted list cannot rebuild are skipped
    and named in the report; so are those for which no diagnostic applies.
    """
    from .board import Board, sha256_hex
    from .evaluate import AgentsFailed, evaluate, package_versions
    from .results import dumps, validate
    from .submit import _compare
    from .trusted import trusted_entry, trusted_factories

    board = Board.for_suite(suite, root)
    docs_list, _ = board.load()  # finishes an interrupted commit and checks every file of the board
    docs = {d["agents"][0]["metadata"]["name"]: d for d in docs_list}
    digests = {n: sha256_hex(board.submission_path(n).read_bytes()) for n in docs}
    lines, ok = [], True
    groups: dict[tuple[int | None, int], dict[str, Any]] = {}  # (episodes or None: the suite's, seed) -> factories
    for name in _selected(docs, names, redo):
        doc = docs[name]
        if doc["suite"]["hash"] != suite.hash:
            lines.append(f"{name}: skipped: its suite hash is not that of suite {suite.name!r}")
            continue
        if trusted_entry(board.name, name) is None:
            lines.append(f"{name}: skipped: not on the trusted list of board {board.name!r} (re-running it would "
                         "run its submitter's code)")
            continue
        counts = [t["episodes"] for t in doc["tasks"]]
        key = (None if counts == [t.episodes for t in suite.tasks] else min(counts), doc["agents"][0]["seed"])
        try:
            groups.setdefault(key, {})[name] = trusted_factories(board.name, seed=key[1], names=[name])[0]
        except (ValueError, OSError) as err:
            ok = False
            lines.append(f"{name}: FAILED: cannot rebuild it from the trusted list: {err}")
    updated, records = {}, {}
    for (episodes, seed), factories in groups.items():
        announce(f"diagnose: re-evaluating {sorted(factories)} on suite {suite.name} with diagnostics")
        try:
            new = evaluate(list(factories.values()), suite, episodes=episodes, seed=seed, progress=progress,
                           runtime_kwargs=runtime_kwargs, diagnostics=True)
        except AgentsFailed as failed:  # keep the agents that finished
            ok = False
            lines += [f"{n}: FAILED: {why}" for n, why in failed.failures.items()]
            new = failed.doc or {"agents": []}
        for agent in new["agents"]:
            name = agent["metadata"]["name"]
            same, report = _compare(docs[name], agent)
            if not same:
                ok = False
                lines += [f"{name}: REFUSED: the re-run's scores differ from the stored ones (other weights or "
                          "episodes); nothing written for it"] + ["  " + line for line in report]
                continue
            if "diagnostics" not in agent:
                lines.append(f"{name}: skipped: no diagnostic applies to it on suite {suite.name!r}")
                continue
            doc = copy.deepcopy(docs[name])
            doc["agents"][0]["diagnostics"] = agent["diagnostics"]
            validate(doc, allow_short=True, check_references=False, suite=suite)
            updated[name] = doc
            # versions sorted as verified.json stores them: the pages rendered now equal any later render
            records[name] = {"date": new["created"], "versions": dict(sorted(package_versions().items())),
                             "source": trusted_entry(board.name, name).source, "trusted_list": True,
                             "sha256": sha256_hex(dumps(doc).encode())}
            kinds = ", ".join(k for k in agent["diagnostics"] if k != "episodes")
            lines.append(f"{name}: scores unchanged ({report[-1]}); diagnostics added: {kinds}")
    for name in list(updated):  # replaced on the board meanwhile: leave the new file alone
        if sha256_hex(board.submission_path(name).read_bytes()) != digests[name]:
            ok = False
            lines.append(f"{name}: NOT WRITTEN: its file changed on the board during the re-run; run diagnose again")
            del updated[name], records[name]
    if updated:
        board.update(add=updated, replace=True, verified=records)
        lines.append(f"wrote {len(updated)} submission(s) of board {board.name!r} and re-rendered {board.dir}")
    elif not lines:
        lines.append(f"nothing to do: every submission of board {board.name!r} has diagnostics (--redo recomputes)")
    return ok, "\n".join(lines)


def register(subparsers, board_dir: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``diagnose`` subcommand; ``board_dir`` adds the ``--board`` option that every board command shares."""
    p = subparsers.add_parser(
        "diagnose", help="add within-episode diagnostics to a board's submissions (no retraining)",
        description="Re-evaluate the board's submissions that have no diagnostics (trusted entries only: reference "
                    "agents and committed checkpoints) with --diagnostics on the same episodes, check that every "
                    "per-episode score is unchanged, and write each submission with its diagnostics (nothing else "
                    "changed) and the re-rendered board in one atomic step.")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these submissions (default: every one without "
                                                            "diagnostics)")
    p.add_argument("--suite", default="v0", help="the board's suite: a shipped suite name or a suite .json "
                                                 "(default v0)")
    p.add_argument("--redo", action="store_true", help="also recompute the diagnostics of submissions that have some")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite")
    board_dir(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_diagnose)


@with_data_root
def _diagnose(args: argparse.Namespace) -> int:
    from .results import ResultError
    from .suite import load_suite

    started = time.time()
    try:
        ok, report = diagnose_board(load_suite(args.suite), args.board, args.names, args.redo,
                                    progress=not args.no_progress, runtime_kwargs=runtime_kwargs(args))
    except (ValueError, ResultError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report)
    print(f"diagnose: {time.time() - started:.1f} s")
    return 0 if ok else 1
