"""``plastic-gym baseline``: list, train and sweep the baseline recipes (torch is imported only when one runs)."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("baseline", help="train and submit the reference baselines",
                                   description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)

    sub.add_parser("list", help="the shipped recipes").set_defaults(func=_list)

    progress = sub.add_parser("progress", help="how far the trainings in a runs folder have come, and the time left")
    progress.add_argument("runs_dir", nargs="?", default="runs/baselines",
                          help="a --runs-dir of baseline train (default runs/baselines)")
    progress.add_argument("--workers", type=int, help="also the wall time left with this many trainings at once")
    progress.set_defaults(func=_progress)

    from .report import add_arguments as report_arguments

    report = sub.add_parser("report", help="tables of result files: each recipe's seeds pooled, or two paired (--pair)")
    report_arguments(report)
    report.set_defaults(func=_report)

    curves = sub.add_parser("curves", help="validation curves of one task's supervised runs in several runs folders")
    curves.add_argument("folders", nargs="+", help="runs folders or campaign folders (<recipe>/s<seed>/<task>/)")
    curves.add_argument("--task", required=True, help="the suite task whose runs are drawn")
    curves.add_argument("--out", required=True, help="the PNG file to write")
    curves.add_argument("--metrics", nargs="+", help="validation metrics drawn (default: every one recorded)")
    curves.set_defaults(func=_curves)

    def common(p):
        p.add_argument("name", help="recipe name (see `plastic-gym baseline list`) or path to a recipe .json")
        p.add_argument("--steps", type=int, help="outer steps per task (default: the recipe's)")
        p.add_argument("--tasks", nargs="+", metavar="TASK", help="only these suite tasks (default: all)")
        p.add_argument("--runs-dir", default="runs/baselines",
                       help="trainer folders, where interrupted runs resume from (default runs/baselines)")
        p.add_argument("--checkpoint-dir", metavar="DIR",
                       help="entry folders to write (default: baselines/checkpoints in a source checkout, else "
                            "$PLASTIC_GYM_HOME/baselines/checkpoints), e.g. to train a longer budget beside the "
                            "committed entries")
        p.add_argument("--result-dir", metavar="DIR",
                       help="result files to write (default: baselines/results in a source checkout, else "
                            "$PLASTIC_GYM_HOME/baselines/results)")
        p.add_argument("--force", action="store_true", help="retrain an entry that already exists")
        p.add_argument("--no-progress", dest="progress", action="store_false")

    campaign = sub.add_parser("campaign", help="train a campaign folder's recipes and seeds, resuming its run folders")
    campaign.add_argument("folder", help="a campaign folder (holding campaign.json), e.g. baselines/campaigns/rl-1m")
    campaign.add_argument("--workers", type=int, default=1, help="trainings at once, one core each (default 1)")
    campaign.set_defaults(func=_campaign)

    train = sub.add_parser("train", help="train one seed of a recipe, evaluate it and submit it")
    common(train)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-submit", dest="submit", action="store_false", help="write the result file only")
    train.add_argument("--replace", action="store_true", help="replace an existing submission of the same name")
    train.set_defaults(func=_train)

    sweep = sub.add_parser("sweep", help="train several seeds of a recipe (local processes or Ray tasks)")
    common(sweep)
    sweep.add_argument("--seeds", type=int, nargs="+", help="default: the recipe's seeds")
    sweep.add_argument("--workers", type=int, default=1, help="parallel seeds (default 1)")
    sweep.add_argument("--ray", action="store_true", help="run the seeds as Ray tasks (needs the [ray] extra)")
    sweep.add_argument("--ray-address", metavar="ADDRESS",
                       help="run the Ray tasks on this running cluster (implies --ray; default: $RAY_ADDRESS if set, "
                            "else a local Ray instance of --workers CPUs)")
    sweep.set_defaults(func=_sweep)


def _list(args: argparse.Namespace) -> int:
    from .recipes import available, load_recipe

    names = available()
    width = max(map(len, names), default=0)
    for name in names:
        r = load_recipe(name)
        unit = "env steps/task" if r.kind == "rl" else "outer steps/task (default)"
        print(f"{name:<{width}} {r.kind:<11} {r.steps:>7} {unit:<26} seeds {list(r.seeds)}  {r.description}")
    return 0


def _progress(args: argparse.Namespace) -> int:
    from .progress import campaign_progress, report, start_order

    try:
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        rows = campaign_progress(args.runs_dir)
        order = start_order(args.runs_dir, rows) if args.workers else None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report(rows, args.workers, order))
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import run

    return run(args)


def _curves(args: argparse.Namespace) -> int:
    from .run_curves import plot

    try:
        out = plot(args.folders, args.task, args.out, args.metrics)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0


def _campaign(args: argparse.Namespace) -> int:
    from .campaign import load_campaign, run_campaign
    from .progress import campaign_progress, report, start_order

    try:
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}")
        campaign = load_campaign(args.folder)
        rows = campaign_progress(campaign.folder)
        print(report(rows, args.workers, start_order(campaign.folder, rows)), flush=True)
        done = run_campaign(campaign, workers=args.workers)
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(done, indent=2))
    return 1 if any("error" in d for d in done) else 0


def _train_kwargs(args: argparse.Namespace) -> dict:
    kwargs = {"steps": args.steps, "tasks": args.tasks, "runs_dir": args.runs_dir, "force": args.force,
              "progress": args.progress}
    kwargs.update({k: v for k, v in (("checkpoint_dir", args.checkpoint_dir), ("result_dir", args.result_dir))
                   if v is not None})
    return kwargs


def _train(args: argparse.Namespace) -> int:
    from .entries import run
    from .recipes import load_recipe

    try:
        info = run(load_recipe(args.name), args.seed, submit=args.submit, replace=args.replace,
                              **_train_kwargs(args))
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .recipes import load_recipe
    from .sweep import sweep

    try:
        seeds = args.seeds or list(load_recipe(args.name).seeds)
        use_ray = args.ray or args.ray_address is not None
        infos = sweep(args.name, seeds, workers=args.workers, backend="ray" if use_ray else "process",
                      ray_address=args.ray_address, **_train_kwargs(args))
    except (ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(infos, indent=2))
    return 0
