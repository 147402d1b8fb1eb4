"""Leaderboard subcommands of ``plastic-gym``: ``evaluate``, ``submit``, ``verify``, ``render`` (and ``diagnose``,
in ``diagnose_board.py``).

Nothing read from a submission or result file is executed, except by ``verify NAME --trust`` (SECURITY.md).

Only argparse is imported at module level; numpy, scipy, matplotlib and torch load inside the commands.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from pathlib import Path
from typing import Any

from plastic_gym.cli import int_at_least


def _board_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", "--board-dir", dest="board", type=Path, default=None, metavar="DIR",
                        help="the boards' folder: suite v0's board at its top, other suites' under boards/<suite>/ "
                             "(default: $PLASTIC_GYM_BOARD, else the checkout's leaderboard/ folder when run from a "
                             "source checkout, else $PLASTIC_GYM_HOME/leaderboard, by default "
                             "~/.local/share/plastic-gym/leaderboard; never inside the installed package)")


def runtime_kwargs(args) -> dict:
    """The envs' runtime kwargs of ``--data-root``: the Omniglot root of the suite's tasks (never recorded)."""
    root = getattr(args, "data_root", None)
    return {"PlasticOmniglot-v0": {"root": str(root)}} if root else {}


def with_data_root(command):
    """Run a command inside ``omniglot.data_root(--data-root)``: the flag then also says where agents find the data
    of the task they were trained on (an Omniglot model's checkpoint rebuilds its training task when it loads)."""

    @functools.wraps(command)
    def run(args) -> int:
        from plastic_gym.tasks.omniglot import data_root

        with data_root(getattr(args, "data_root", None)):
            return command(args)

    return run


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate agents on a leaderboard suite and write a result file",
        description="Play every task of a suite with each agent (all eval episodes of a task in one native vector env) "
                    "and write a result file with per-episode metrics, normalized scores and IQM/mean with 95%% "
                    "bootstrap intervals. Without --agent (the main job): the suite's trusted list shipped in the "
                    "package (reference agents and committed baselines); nothing in submissions/ is loaded.")
    p.add_argument("--agent", action="append", metavar="SPEC",
                   help="random | no-memory | oracle | thompson | thompson-window | ucb1 | wsls | explore-exploit | "
                        "sb3:ALGO:PATH (e.g. sb3:PPO:model.zip) | PATH.zip (a zip that stores its algorithm) | "
                        "checkpoint:PATH | PATH.pt | prototype:PATH | MANIFEST.json | module:factory (repeat for "
                        "several agents)")
    p.add_argument("--suite", default="v0",
                   help="suite name (v0, rl-v0, omniglot, omniglot-v1) or path to a suite .json (default: v0)")
    p.add_argument("--tasks", nargs="+", metavar="TASK", default=None,
                   help="play only these tasks of the suite, with the same episodes (e.g. --tasks regression "
                        "--diagnostics for a one-task model); the result file names a suite of its own, "
                        "<suite>-<task>_..., that the full suite's board does not take")
    p.add_argument("--episodes", type=int_at_least(2, " (the bootstrap needs two episodes)"), default=None,
                   metavar="N",
                   help="evaluate only the first N eval episodes of each task (default: the suite's count; a shorter "
                        "result is accepted by submit only with --allow-short)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="result file (default: results-<suite>-<time>.json in the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--seed", type=int, default=0, help="seed of the agents' own randomness (not of the episodes, which "
                                                      "the suite fixes); default 0")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite (not recorded)")
    p.add_argument("--omniglot-runs", type=Path, default=None, metavar="PATH",
                   help="instead of a suite: play Lake et al.'s official 20-way one-shot runs (all_runs.zip or its "
                        "folder) with each --agent and print the accuracy (--out: a JSON file of it)")
    p.add_argument("--diagnostics", action="store_true",
                   help="also compute the within-episode diagnostics of each agent (memory span over copy delays, "
                        "regression error by number of training points, plasticity ablation, bandit regret curves; "
                        "128 fixed episodes of the suite each) into the result file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("submit", help="validate a result file and add it to the leaderboard",
                              description="Validate a result file (JSON schema, suite hash, references replayed on the "
                                          "suite's episodes, every score recomputed from the per-episode data), write "
                                          "the agents and the re-rendered board of the file's suite in one atomic "
                                          "step. Nothing is written if any check fails; nothing in the file is "
                                          "executed.")
    p.add_argument("file", type=Path)
    p.add_argument("--replace", action="store_true", help="replace a submission of the same name")
    p.add_argument("--allow-short", action="store_true", help="accept fewer eval episodes than the suite's")
    p.add_argument("--suite", default=None, help="check against this suite file instead of the shipped suite the "
                                                 "result names (a suite that is not a shipped one gets its own board, "
                                                 "boards/custom-<hash>)")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite")
    _board_dir(p)
    p.set_defaults(func=_submit)

    p = subparsers.add_parser("verify", help="re-run submissions and compare; matches show as verified",
                              description="Re-evaluate submissions and compare them per episode; each match is "
                                          "recorded (date, versions) and its row shows as verified. A name on the "
                                          "suite's trusted list is re-run from that list. Any other submission's "
                                          "source is code from its submitter: it is refused unless --trust is given.")
    p.add_argument("names", nargs="*", metavar="NAME", help="submission names (plain names of the board's entries)")
    p.add_argument("--trusted", action="store_true", help="verify every trusted entry the board holds")
    p.add_argument("--trust", action="store_true",
                   help="load a submission's own source (imports modules, unpickles SB3 zips: runs its code)")
    p.add_argument("--suite", default="v0",
                   help="the board's suite: a shipped suite name or a suite .json (default v0)")
    p.add_argument("--data-root", type=Path, default=None, help="Omniglot root for the omniglot suite")
    p.add_argument("--no-progress", action="store_true")
    _board_dir(p)
    p.set_defaults(func=_verify)

    p = subparsers.add_parser("render", help="re-render every board's LEADERBOARD.md, leaderboard.png and index.html",
                              description="Re-render the pages of every board from its submissions.")
    p.add_argument("--status", choices=("verified", "self-reported"), default=None,
                   help="print only the rows of this status (the pages show all, filterable)")
    _board_dir(p)
    p.set_defaults(func=_render)

    from .diagnose_board import register as register_diagnose

    register_diagnose(subparsers, _board_dir)


def _nonfinite_to_null(value: Any) -> Any:
    """``value`` with every NaN/inf float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _nonfinite_to_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nonfinite_to_null(v) for v in value]
    return value


def _write_result(out: Path, doc: dict, force: bool) -> int:
    """Write a finished evaluation. Non-finite values cannot be a valid result; what was measured is still written
    (null in their place, which submit rejects), then the command fails."""
    from .results import write_json_atomic

    try:
        write_json_atomic(out, doc, overwrite=force)
    except ValueError:
        write_json_atomic(out, _nonfinite_to_null(doc), overwrite=force)
        print(f"error: the evaluation measured non-finite values; wrote what was measured to {out} with null in "
              "their place (not a valid result file: submit rejects it)", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


@with_data_root
def _evaluate(args) -> int:
    import time

    from .adapters import check_suite_tasks, load_agent
    from .board import board_name_of
    from .evaluate import AgentsFailed, evaluate, table
    from .suite import load_suite
    from .trusted import trusted_factories

    if args.omniglot_runs is not None:
        from .omniglot_runs import evaluate_command

        return evaluate_command(args.agent, args.omniglot_runs, args.seed, args.out, args.force)
    try:
        full = load_suite(args.suite)
        suite = full.subset(args.tasks) if args.tasks else full
    except ValueError as err:
        print(f"error: --suite/--tasks: {err}", file=sys.stderr)
        return 2
    out = args.out or Path(f"results-{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    if out.exists() and not args.force:
        print(f"error: {out} exists; refusing to overwrite it (use --force)", file=sys.stderr)
        return 2
    if out.parent.exists() and not out.parent.is_dir():
        print(f"error: --out {out}: {out.parent} is not a folder", file=sys.stderr)
        return 2
    try:
        factories = ([load_agent(spec, seed=args.seed) for spec in args.agent] if args.agent
                     else trusted_factories(board_name_of(full.name, full.hash), seed=args.seed))
        for factory in factories:  # a manifest is checked against the suite it was made for, --tasks or not
            check_suite_tasks(factory, full.task_names)
        doc = evaluate(factories, suite, episodes=args.episodes, seed=args.seed, progress=not args.no_progress,
                       runtime_kwargs=runtime_kwargs(args), diagnostics=args.diagnostics)
    except AgentsFailed as failed:  # keep what the other agents measured, then fail
        for name, why in failed.failures.items():
            print(f"error: agent {name!r} failed and was dropped: {why}", file=sys.stderr)
        if failed.doc is None:
            print("no agent finished: no result file written", file=sys.stderr)
            return 2
        print(table(failed.doc))
        _write_result(out, failed.doc, args.force)
        return 1
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as err:  # an agent's code called exit(): not a successful evaluation
        print(f"error: an agent exited during the evaluation (SystemExit({err.code!r})); no result file written",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no result file written", file=sys.stderr)
        return 130
    print(f"suite {suite.name} ({suite.hash[:19]}...), {len(doc['agents'])} agent(s), {doc['elapsed_s']:.1f} s")
    print(table(doc))
    return _write_result(out, doc, args.force)


@with_data_root
def _submit(args) -> int:
    from .results import ResultError
    from .submit import submit
    from .suite import load_suite

    try:
        suite = load_suite(args.suite) if args.suite else None
        written = submit(args.file, args.board, replace=args.replace, allow_short=args.allow_short,
                         runtime_kwargs=runtime_kwargs(args), suite=suite)
    except (ResultError, FileExistsError, ValueError, OSError) as err:
        print(f"error: {args.file} rejected: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"submitted {path}")
    print(f"rendered {written[0].parent.parent / 'LEADERBOARD.md'}, leaderboard.png, index.html")
    return 0


@with_data_root
def _verify(args) -> int:
    from .board import Board
    from .results import ResultError
    from .submit import verify
    from .suite import load_suite
    from .trusted import trusted_entries

    try:
        suite = load_suite(args.suite)
        board = Board.for_suite(suite, args.board)
        names = list(args.names)
        if args.trusted:
            names += [e.name for e in trusted_entries(board.name) if e.name in board.names() and e.name not in names]
        if not names:
            raise ValueError("expected submission NAME(s) or --trusted")
        ok, report = verify(names, board.root, board.name, trust=args.trust, progress=not args.no_progress,
                            runtime_kwargs=runtime_kwargs(args), suite=suite)
    except (ValueError, ResultError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as err:  # the loaded agent's code called exit(): nothing was verified
        print(f"error: the agent exited during verification (SystemExit({err.code!r})); nothing recorded",
              file=sys.stderr)
        return 2
    print(report)
    return 0 if ok else 1


def _render(args) -> int:
    from .board import all_boards, default_root
    from .render import summary
    from .results import ResultError

    root = args.board if args.board is not None else default_root()
    try:
        boards = all_boards(root)
        if not boards:
            print(f"no boards in {root} (they appear with the first submit; --board DIR names another folder)")
        for board in boards:
            paths = board.update()
            docs, statuses = board.load()
            print(f"board {board.name}:")
            print(summary(docs, statuses, board.name, args.status))
            print("wrote " + ", ".join(str(p) for p in paths))
    except (ResultError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
