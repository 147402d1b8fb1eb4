"""Submitting result files to the leaderboard, and verifying a submission by re-running it.

``submit`` validates everything first (schema, suite hash, references, recomputed scores, duplicate names) and
writes nothing unless all agents of the file pass; then it writes ``submissions/<name>.json`` per agent
atomically and re-renders the leaderboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .render import LEADERBOARD_DIR, SUBMISSIONS_DIR, render
from .results import ResultError, read_json, split_agents, validate, write_json_atomic


def submit(path: str | Path, submissions_dir: str | Path = SUBMISSIONS_DIR, out_dir: str | Path = LEADERBOARD_DIR,
           replace: bool = False, allow_short: bool = False, check_references: bool = True,
           runtime_kwargs: dict[str, Any] | None = None, suite=None) -> list[Path]:
    """Validate the result file at ``path`` and add each of its agents to the leaderboard.

    Raises ``ResultError`` (nothing written) if the file is invalid, or ``FileExistsError`` if an agent's name is
    already on the leaderboard and not ``replace``. Returns the submission files written.
    """
    doc = read_json(path)
    validate(doc, allow_short=allow_short, check_references=check_references, runtime_kwargs=runtime_kwargs,
             suite=suite)
    submissions_dir = Path(submissions_dir)
    singles = split_agents(doc)
    targets = [submissions_dir / f"{d['agents'][0]['metadata']['name']}.json" for d in singles]
    taken = [t.stem for t in targets if t.exists()]
    if taken and not replace:
        raise FileExistsError(f"agent name(s) {taken} already on the leaderboard ({submissions_dir}); rename the "
                              "agent or use --replace")
    written = [write_json_atomic(t, d, overwrite=replace) for t, d in zip(targets, singles)]
    render(submissions_dir, out_dir)
    return written


def verify(name: str, submissions_dir: str | Path = SUBMISSIONS_DIR, progress: bool = True,
           runtime_kwargs: dict[str, Any] | None = None, suite=None) -> tuple[bool, str]:
    """Re-run the evaluation of submission ``name`` from its ``metadata.source`` and compare per episode.

    Returns (matches, report); ``suite`` defaults to the shipped suite the submission names. Per-episode values must
    agree to 1e-5 relative (float noise of another BLAS/torch build); the aggregates then agree to far better than
    their intervals.
    """
    from .agents import load_agent
    from .evaluate import evaluate
    from .suite import load_suite

    path = Path(submissions_dir) / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in Path(submissions_dir).glob("*.json"))
        raise ValueError(f"no submission named {name!r} in {submissions_dir}; known: {known}")
    doc = read_json(path)
    agent = doc["agents"][0]
    source = agent["metadata"].get("source")
    if not source:
        raise ValueError(f"submission {name!r} has no metadata.source (the agent spec to re-run); it cannot be verified")
    suite = suite or load_suite(doc["suite"]["name"])
    if suite.hash != doc["suite"]["hash"]:
        raise ResultError(f"submission {name!r}: suite hash {doc['suite']['hash']} is not that of suite "
                          f"{suite.name!r} ({suite.hash})")
    episodes = {t["episodes"] for t in doc["tasks"]}
    short = episodes != {t.episodes for t in suite.tasks}
    factory = load_agent(source, seed=agent["seed"])
    factory.metadata = factory.metadata.__class__(**agent["metadata"])
    new = evaluate([factory], suite, episodes=min(episodes) if short else None, seed=agent["seed"], progress=progress,
                   runtime_kwargs=runtime_kwargs)
    lines, ok = [], True
    old_run, new_run = agent["runs"][0], new["agents"][0]["runs"][0]
    for t in doc["tasks"]:
        a, b = np.asarray(old_run[t["name"]]["primary"]), np.asarray(new_run[t["name"]]["primary"])
        bad = int(np.sum(~np.isclose(a, b, rtol=1e-5, atol=1e-7))) if a.shape == b.shape else len(a)
        ok &= bad == 0
        lines.append(f"{t['name']:<16} {'ok' if bad == 0 else 'MISMATCH':<8} submitted {np.mean(a):.6g}  re-run "
                     f"{np.mean(b):.6g}  ({bad} of {len(a)} episodes differ)")
    old_iqm, new_iqm = agent["scores"]["iqm"]["value"], new["agents"][0]["scores"]["iqm"]["value"]
    lines.append(f"IQM submitted {old_iqm:.6f}, re-run {new_iqm:.6f}: {'MATCH' if ok else 'DOES NOT MATCH'}")
    return ok, "\n".join(lines)
