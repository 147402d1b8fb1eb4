"""Leaderboard subcommands of ``plastic-gym``: ``evaluate``, ``submit``, ``verify``, ``render``.

Only argparse is imported at module level; numpy, scipy, matplotlib and torch load inside the commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_DEFAULT_DIRS = "the package's leaderboard/ folder"


def _dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submissions", type=Path, default=None, metavar="DIR",
                        help="submissions folder (default: leaderboard/submissions of the package)")
    parser.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                        help=f"where LEADERBOARD.md, leaderboard.png and index.html go (default: {_DEFAULT_DIRS})")


def _resolve_dirs(args) -> tuple[Path, Path]:
    from .render import LEADERBOARD_DIR, SUBMISSIONS_DIR

    return args.submissions or SUBMISSIONS_DIR, args.out_dir or LEADERBOARD_DIR


def _runtime_kwargs(args) -> dict:
    root = getattr(args, "data_root", None)
    return {"PlasticOmniglot-v0": {"root": str(root)}} if root else {}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate agents on a leaderboard suite and write a result file",
        description="Play every task of a suite with each agent (all eval episodes of a task in one native vector env) "
                    "and write a result file with per-episode metrics, normalized scores and IQM/mean with 95%% "
                    "bootstrap intervals. Without --agent: the reference agents (random, no-memory, oracle) and the "
                    "checkpoints of committed baseline submissions.")
    p.add_argument("--agent", action="append", metavar="SPEC",
                   help="random | no-memory | oracle | sb3:PATH | PATH.zip | checkpoint:PATH | PATH.pt | MANIFEST.json "
                        "| module:factory (repeat for several agents)")
    p.add_argument("--suite", default="v0", help="suite name (v0, omniglot) or path to a suite .json (default: v0)")
    p.add_argument("--episodes", type=int, default=None, metavar="N",
                   help="evaluate only the first N eval episodes of each task (default: the suite's count; a shorter "
                        "result is accepted by submit only with --allow-short)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="result file (default: results-<suite>-<time>.json in the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--seed", type=int, default=0, help="seed of the agents' own randomness (not of the episodes, which "
                                                      "the suite fixes); default 0")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite (not recorded)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--submissions", type=Path, default=None, metavar="DIR",
                   help="where to find the baseline submissions evaluated without --agent (default: the package's)")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("submit", help="validate a result file and add it to the leaderboard",
                              description="Validate a result file (JSON schema, suite hash, references replayed on the "
                                          "suite's episodes, every score recomputed from the per-episode data), write "
                                          "submissions/<name>.json per agent and re-render the leaderboard. Nothing is "
                                          "written if any check fails.")
    p.add_argument("file", type=Path)
    p.add_argument("--replace", action="store_true", help="replace a submission of the same name")
    p.add_argument("--allow-short", action="store_true", help="accept fewer eval episodes than the suite's")
    p.add_argument("--suite", default=None, help="check against this suite file instead of the shipped suite the "
                                                 "result names")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite")
    _dirs(p)
    p.set_defaults(func=_submit)

    p = subparsers.add_parser("verify", help="re-run a submission from its agent source and compare",
                              description="Re-evaluate a submission whose metadata.source names a re-loadable agent "
                                          "(checkpoint, SB3 model, reference) and report whether it matches.")
    p.add_argument("name")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite")
    p.add_argument("--no-progress", action="store_true")
    _dirs(p)
    p.set_defaults(func=_verify)

    p = subparsers.add_parser("render", help="re-render LEADERBOARD.md, leaderboard.png and index.html",
                              description="Re-render the leaderboard files from the submissions folder.")
    _dirs(p)
    p.set_defaults(func=_render)


def _default_factories(submissions_dir: Path, seed: int) -> list:
    """The reference agents, then every committed submission whose source re-creates a trained agent."""
    from .agents import REFERENCE_AGENTS, load_agent
    from .protocol import AgentMetadata
    from .render import load_submissions

    factories = [load_agent(name, seed=seed) for name in REFERENCE_AGENTS]
    for doc in load_submissions(submissions_dir) if submissions_dir.is_dir() else []:
        meta = doc["agents"][0]["metadata"]
        if not meta.get("source") or meta["source"] in REFERENCE_AGENTS:
            continue
        try:
            factory = load_agent(meta["source"], seed=seed)
        except (ValueError, ImportError, OSError) as err:
            print(f"warning: skipping baseline {meta['name']!r}: cannot load {meta['source']!r}: {err}", file=sys.stderr)
            continue
        factory.metadata = AgentMetadata(**meta)
        factories.append(factory)
    return factories


def _evaluate(args) -> int:
    import time

    from .agents import load_agent
    from .evaluate import evaluate, table
    from .render import SUBMISSIONS_DIR
    from .results import write_json_atomic
    from .suite import load_suite

    suite = load_suite(args.suite)
    out = args.out or Path(f"results-{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    if out.exists() and not args.force:
        print(f"error: {out} exists; refusing to overwrite it (use --force)", file=sys.stderr)
        return 2
    try:
        factories = ([load_agent(spec, seed=args.seed) for spec in args.agent] if args.agent
                     else _default_factories(args.submissions or SUBMISSIONS_DIR, args.seed))
        doc = evaluate(factories, suite, episodes=args.episodes, seed=args.seed, progress=not args.no_progress,
                       runtime_kwargs=_runtime_kwargs(args))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no result file written", file=sys.stderr)
        return 130
    print(f"suite {suite.name} ({suite.hash[:19]}...), {len(doc['agents'])} agent(s), {doc['elapsed_s']:.1f} s")
    print(table(doc))
    write_json_atomic(out, doc, overwrite=args.force)
    print(f"wrote {out}")
    return 0


def _submit(args) -> int:
    from .results import ResultError
    from .submit import submit
    from .suite import load_suite

    submissions, out_dir = _resolve_dirs(args)
    try:
        suite = load_suite(args.suite) if args.suite else None
        written = submit(args.file, submissions, out_dir, replace=args.replace, allow_short=args.allow_short,
                         runtime_kwargs=_runtime_kwargs(args), suite=suite)
    except (ResultError, FileExistsError, ValueError) as err:
        print(f"error: {args.file} rejected: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"submitted {path}")
    print(f"rendered {out_dir / 'LEADERBOARD.md'}, leaderboard.png, index.html")
    return 0


def _verify(args) -> int:
    from .results import ResultError
    from .submit import verify

    submissions, _ = _resolve_dirs(args)
    try:
        ok, report = verify(args.name, submissions, progress=not args.no_progress, runtime_kwargs=_runtime_kwargs(args))
    except (ValueError, ResultError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report)
    return 0 if ok else 1


def _render(args) -> int:
    from .render import load_submissions, render, summary

    submissions, out_dir = _resolve_dirs(args)
    paths = render(submissions, out_dir)
    print(summary(load_submissions(submissions)))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
