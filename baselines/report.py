"""Tables of the committed baseline results, for ``RESULTS.md``: ``python -m plastic_gym.baselines.report``.

Reads ``results/<recipe>-s<seed>.json`` and prints, per recipe (its seeds pooled, those of one budget only: see
``load_results``), markdown tables: the normalized score of every suite task (0 = no memory, 1 = oracle) with the IQM
over tasks, the raw primary metric of every task, and the primary metric beside other metrics the result files store
per task (``--metrics``, default ``all_mse``: the paper's metric for regression and cue-reward, the error over every
step of the episode). Cells give the mean over seeds, then each seed. A seed that has no model for a task yet (a
campaign in progress: it played the no-memory fallback) is left out of the task's mean and marked ``*`` in the list; a
cell whose every seed is such is the fallback's value, marked ``*``.

``--pair A.json B.json`` compares two result files of one suite instead, task by task on their shared episodes (the
suite's episodes are the same for every agent): the difference of the normalized scores with a paired bootstrap
interval (``leaderboard.scoring.paired_difference``), which is what a claim "A beats B on task T" needs; the
spread of one seed's episodes, not of training seeds.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from .common import CHECKPOINT_DIR, RESULT_DIR
from .recipes import available, load_recipe


def load_results(result_dir: Path = RESULT_DIR, suite: str = "v0") -> dict[str, dict[int, dict]]:
    """Row name -> seed -> the agent record of ``results/<recipe>-s<seed>.json``, for the results of ``suite``.

    A row pools the seeds of a recipe that were trained at the same budget (the ``budget`` of their metadata). When
    a recipe's seeds were trained at different budgets (a campaign that retrains one seed at a larger budget), a
    mean over them would describe neither, so each budget gets a row of its own, ``<recipe>, budget <k>``, numbered
    in the order of the seeds; ``budget_notes`` says which budget each such row is."""
    from plastic_gym.leaderboard.results import read_json

    by_recipe: dict[str, dict[int, dict]] = defaultdict(dict)
    for path in sorted(Path(result_dir).glob("*.json")):
        match = re.fullmatch(r"(.+)-s(\d+)", path.stem)
        doc = read_json(path) if match else None
        if match and doc["suite"]["name"] == suite:
            by_recipe[match[1]][int(match[2])] = doc["agents"][0]
    out: dict[str, dict[int, dict]] = {}
    for recipe, seeds in by_recipe.items():
        budgets = list(dict.fromkeys(seeds[s]["metadata"].get("budget") for s in sorted(seeds)))
        for k, budget in enumerate(budgets, start=1):
            name = recipe if len(budgets) == 1 else f"{recipe}, budget {k}"
            out[name] = {s: a for s, a in sorted(seeds.items()) if a["metadata"].get("budget") == budget}
    return out


def budget_notes(results: dict[str, dict[int, dict]]) -> str:
    """The budget of every row that ``load_results`` split off by budget, one line each ("" when none was)."""
    split = [n for n in results if re.search(r", budget \d+$", n)]
    return "\n".join(f"- {n} (seeds {', '.join(map(str, results[n]))}): "
                     f"{next(iter(results[n].values()))['metadata'].get('budget')}" for n in split)


def _cell(values: list[float], digits: int) -> str:
    mean = f"{np.mean(values):.{digits}f}"
    return mean if len(values) == 1 else f"{mean} ({' / '.join(f'{v:.{digits}f}' for v in values)})"


def _task_cell(agents: list[dict], task: str, value, digits: int = 3) -> str:
    """One task's cell over the seeds of an entry (module docstring): ``value(agent)`` of each seed, averaged over
    the seeds that played the task with a model of their own; ``None`` values (a metric a result lacks) are left out
    too, "-" when none is left."""
    played = [not a["runs"][0][task].get("fallback") for a in agents]
    values = [value(a) for a in agents]
    if not any(played):
        kept = [v for v in values if v is not None]
        return f"{np.mean(kept):.{digits}f}*" if kept else "-"
    kept = [v for v, p in zip(values, played, strict=True) if p and v is not None]
    if not kept:
        return "-"
    if len(values) == 1:
        return f"{kept[0]:.{digits}f}"
    each = " / ".join("-" if v is None else f"{v:.{digits}f}" + ("" if p else "*")
                      for v, p in zip(values, played, strict=True))
    return f"{np.mean(kept):.{digits}f} ({each})"


def tables(results: dict[str, dict[int, dict]], task_names: list[str]) -> str:
    order = [n for n in available() if n in results] + sorted(set(results) - set(available()))
    norm = ["| entry (seeds) | IQM | " + " | ".join(task_names) + " |", "|---|---|" + "---|" * len(task_names)]
    raw = ["| entry (seeds) | " + " | ".join(task_names) + " |", "|---|" + "---|" * len(task_names)]
    ranked = sorted(order, key=lambda n: -np.mean([a["scores"]["iqm"]["value"] for a in results[n].values()]))
    for name in ranked:
        seeds = sorted(results[name])
        agents = [results[name][s] for s in seeds]
        label = f"{name} ({', '.join(map(str, seeds))})"
        iqm = _cell([a["scores"]["iqm"]["value"] for a in agents], 3)
        cells = [_task_cell(agents, t, lambda a, t=t: a["scores"]["tasks"][t]["normalized"]) for t in task_names]
        norm.append(f"| {label} | {iqm} | " + " | ".join(cells) + " |")
        raw.append(f"| {label} | " + " | ".join(_task_cell(agents, t, lambda a, t=t: a["scores"]["tasks"][t]["score"])
                                              for t in task_names) + " |")
    return "\n".join(["Normalized scores (0 = no memory, 1 = oracle; * = no model, no-memory fallback):", "",
                      *norm, "", "Raw primary metric on the suite's episodes:", "", *raw])


def metric_table(results: dict[str, dict[int, dict]], primary: dict[str, str], metrics: list[str]) -> str:
    """Per entry, each task's primary metric (``primary``: task -> its name, in column order) and then each of
    ``metrics`` that the results record for it (the means over the task's episodes, ``runs[0][task]["means"]``).
    Tasks where no entry records any of ``metrics`` are left out; a cell is "-" where an entry lacks the metric."""
    order = sorted(results, key=lambda n: -np.mean([a["scores"]["iqm"]["value"] for a in results[n].values()]))
    columns: list[tuple[str, str]] = []
    for t, name in primary.items():
        recorded = {m for seeds in results.values() for a in seeds.values() for m in a["runs"][0][t].get("means", {})}
        extra = [m for m in metrics if m in recorded and m != name]
        columns += [(t, name)] + [(t, m) for m in extra] if extra else []
    if not columns:
        return f"(no result records {', '.join(metrics)})"
    lines = ["| entry (seeds) | " + " | ".join(f"{t} `{m}`" for t, m in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in order:
        agents = [results[name][s] for s in sorted(results[name])]
        cells = [_task_cell(agents, t, lambda a, t=t, m=m: a["runs"][0][t].get("means", {}).get(m)) for t, m in columns]
        lines.append(f"| {name} ({', '.join(map(str, sorted(results[name])))}) | " + " | ".join(cells) + " |")
    return "\n".join([f"Primary metric beside {', '.join(metrics)} (means over each task's evaluation episodes):", "",
                      *lines])


def primary_metrics(result_dir: Path, task_names: list[str], suite: str = "v0") -> dict[str, str]:
    """Task -> name of its primary metric, as recorded in the result files of ``suite`` (in the order of
    ``task_names``)."""
    from plastic_gym.leaderboard.results import read_json

    found: dict[str, str] = {}
    for path in sorted(Path(result_dir).glob("*.json")):
        doc = read_json(path)
        if doc["suite"]["name"] == suite:
            found.update({t["name"]: t["primary_metric"] for t in doc["tasks"]})
    return {t: found[t] for t in task_names if t in found}


def training_seconds(entry_dir: Path) -> dict[str, float]:
    """Task -> wall seconds its model took to train, as recorded in an entry folder (the supervised trainer's
    ``elapsed_s``, the RL recipes' ``train_seconds``; tasks without a record are left out)."""
    from plastic_gym.agents.checkpoint import load_checkpoint
    from plastic_gym.io import read_json_file

    out: dict[str, float] = {}
    curves = entry_dir / "curves.json"
    if curves.exists():
        out.update({t: c["train_seconds"] for t, c in read_json_file(curves, "curves").items() if "train_seconds" in c})
    for path in sorted(entry_dir.glob("*.pt")):
        records = load_checkpoint(path).get("metrics") or []
        if records and "elapsed_s" in records[-1]:
            out[path.stem] = float(records[-1]["elapsed_s"])
    return out


def time_table(checkpoint_dir: Path, task_names: list[str], suite: str = "v0") -> str:
    """Training wall time per task of every entry folder whose recipe belongs to ``suite``."""
    suite_of = {n: load_recipe(n).suite for n in available()}
    lines = ["| entry | " + " | ".join(task_names) + " | total |", "|---|" + "---|" * (len(task_names) + 1)]
    for entry in sorted(p for p in Path(checkpoint_dir).iterdir() if (p / "manifest.json").exists()
                        and suite_of.get(re.sub(r"-s\d+$", "", p.name), "v0") == suite):
        secs = training_seconds(entry)
        cells = [f"{secs[t]:.0f}" if t in secs else "-" for t in task_names]
        total = f"{sum(secs.values()) / 60:.0f} min" if secs else "-"
        lines.append(f"| {entry.name} | " + " | ".join(cells) + f" | {total} |")
    return "\n".join(["Training wall time per task in seconds, as recorded (a shared 2-core machine):", "", *lines])


def pair_table(path_a: Path, path_b: Path) -> str:
    """Task by task, the agent of result file ``path_a`` against that of ``path_b`` on the same episodes (tasks
    where either plays the no-memory fallback are left out)."""
    from plastic_gym.leaderboard.results import read_json
    from plastic_gym.leaderboard.scoring import paired_difference

    doc_a, doc_b = read_json(path_a), read_json(path_b)
    if doc_a["suite"] != doc_b["suite"]:
        raise ValueError(f"{path_a} and {path_b} are results of different suites: {doc_a['suite']} vs {doc_b['suite']}")
    name_a, name_b = (d["agents"][0]["metadata"]["name"] for d in (doc_a, doc_b))
    lines = [f"| task | metric | {name_a} | {name_b} | normalized A - B [95% interval] | A better on |",
             "|---|---|---|---|---|---|"]
    runs = [d["agents"][0]["runs"] for d in (doc_a, doc_b)]
    for task, other in zip(doc_a["tasks"], doc_b["tasks"], strict=True):
        if (task["name"], task["seed"], task["episodes"]) != (other["name"], other["seed"], other["episodes"]):
            raise ValueError(f"task {task['name']!r}: {path_a} and {path_b} were not played on the same episodes")
        if any(run[task["name"]].get("fallback") for r in runs for run in r):
            continue
        a, b = (np.mean([run[task["name"]]["primary"] for run in r], axis=0) for r in runs)
        pair = paired_difference(task, a, b)
        low, high = pair["interval"]
        lines.append(f"| {task['name']} | {task['primary_metric']} | {a.mean():.4f} | {b.mean():.4f} | "
                     f"{pair['difference']:+.3f} [{low:+.3f}, {high:+.3f}] | {pair['a_better']:.0%} of "
                     f"{task['episodes']} episodes |")
    return "\n".join([f"A = {name_a} ({path_a}), B = {name_b} ({path_b}); paired over the same episodes:", "",
                      *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULT_DIR, help="folder of result files")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR, help="folder of entry folders")
    parser.add_argument("--metrics", nargs="+", default=["all_mse"],
                        help="metrics shown beside each task's primary metric (default: all_mse, the paper's)")
    parser.add_argument("--suite", default="v0", help="the suite whose results are tabled (default v0; e.g. rl-v0)")
    parser.add_argument("--pair", nargs=2, type=Path, metavar=("A", "B"),
                        help="compare two result files task by task on their shared episodes instead")
    args = parser.parse_args(argv)
    if args.pair:
        try:
            print(pair_table(*args.pair))
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    from plastic_gym.leaderboard.suite import load_suite

    results = load_results(args.results, args.suite)
    names = load_suite(args.suite).task_names
    print(tables(results, names))
    notes = budget_notes(results)
    if notes:
        print("\nSeeds trained at different budgets are not pooled; the rows' budgets:\n")
        print(notes)
    print()
    print(metric_table(results, primary_metrics(args.results, names, args.suite), args.metrics))
    print()
    print(time_table(args.checkpoints, names, args.suite))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
