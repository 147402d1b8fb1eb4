"""Tables of the committed baseline results, for ``RESULTS.md``: ``plastic-gym baseline report`` (or
``python -m plastic_gym.baselines.report``).

Reads ``results/<recipe>-s<seed>.json`` and prints, per recipe (its seeds pooled, those of one budget only: see
``load_results``), markdown tables: the normalized score of every suite task (0 = no memory, 1 = oracle) with the IQM
over tasks, the raw primary metric of every task, and the primary metric beside other metrics the result files store
per task (``--metrics``, default ``all_mse``: the paper's metric for regression and cue-reward, the error over every
step of the episode). Cells give the mean over seeds, then each seed. A seed that has no model for a task yet (a
campaign in progress: it played the no-memory fallback) is left out of the task's mean and marked ``*`` in the list; a
cell whose every seed is such is the fallback's value, marked ``*``. Such a seed's IQM, which counts the fallback's
scores, is marked and left out of the IQM's mean the same way.

``--plot PNG`` also draws the normalized scores task by task: a bar per entry at its mean over seeds, each seed a dot.

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

    A row pools the seeds of a recipe that were trained at one budget (the ``budget`` of their metadata). A seed
    that holds only some of the tasks yet (a campaign in progress) is pooled with the others when every task it
    holds was trained at the same budget as theirs (``_budget_parts``); its missing tasks are left out of those
    tasks' means (``_task_cell``). When a recipe's seeds were trained at different budgets (a campaign that
    retrains one seed at a larger budget), a mean over them would describe neither, so each budget gets a row of
    its own, ``<recipe>, budget <k>``, numbered in the order of the seeds; ``budget_notes`` says which budget each
    such row is."""
    from plastic_gym.leaderboard.results import read_json

    by_recipe: dict[str, dict[int, dict]] = defaultdict(dict)
    for path in sorted(Path(result_dir).glob("*.json")):
        match = re.fullmatch(r"(.+)-s(\d+)", path.stem)
        doc = read_json(path) if match else None
        if match and doc["suite"]["name"] == suite:
            by_recipe[match[1]][int(match[2])] = doc["agents"][0]
    out: dict[str, dict[int, dict]] = {}
    for recipe, seeds in by_recipe.items():
        groups: list[tuple[list, dict[int, dict]]] = []  # (the budget's parts, or [whole line]; its seeds)
        for seed in sorted(seeds):
            budget = seeds[seed]["metadata"].get("budget")
            parts = _budget_parts(budget)
            group = next((g for g in groups if _same_budget(g[0], parts, budget)), None)
            if group is None:
                groups.append(([parts] if parts else [budget], {seed: seeds[seed]}))
            else:
                group[0].append(parts or budget)
                group[1][seed] = seeds[seed]
        for k, (_, members) in enumerate(groups, start=1):
            out[recipe if len(groups) == 1 else f"{recipe}, budget {k}"] = members
    return out


def _budget_parts(budget: str | None) -> tuple[str, dict[str, str], str] | None:
    """A per-task budget line, ``"<unit> per task: copy 10000, assoc 20000 (loss on all steps); <settings>"`` (the
    supervised recipes'), split into the unit, task -> its item and the settings; ``None`` for any other line."""
    if not budget or " per task: " not in budget:
        return None
    unit, rest = budget.split(" per task: ", 1)
    top = _split_top_level(rest, "; ")
    items = _split_top_level(top[0], ", ")
    by_task = {item.split(" ", 1)[0]: item for item in items}
    return (unit, by_task, "; ".join(top[1:])) if len(by_task) == len(items) else None


def _split_top_level(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where it is outside parentheses."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(sep, i):
            pieces.append(text[start:i])
            start = i + len(sep)
    return [*pieces, text[start:]]


def _same_budget(members: list, parts, budget: str | None) -> bool:
    """Whether a seed of budget line ``budget`` (``parts``: its ``_budget_parts``) belongs with the seeds of a row
    (``members``: theirs, or their whole lines): the same line, or the same unit and settings and, on every task both
    hold, the same item."""
    if parts is None:
        return all(m == budget for m in members)
    return all(not isinstance(m, str) and m[0] == parts[0] and m[2] == parts[2]
               and all(m[1][t] == item for t, item in parts[1].items() if t in m[1]) for m in members)


def budget_notes(results: dict[str, dict[int, dict]]) -> str:
    """The budget of every row that ``load_results`` split off by budget, one line each ("" when none was): the
    line of its seed that holds the most tasks."""
    def line(agents: dict[int, dict]) -> str | None:
        budgets = [a["metadata"].get("budget") for a in agents.values()]
        return max(budgets, key=lambda b: len((_budget_parts(b) or ("", {}, ""))[1]))

    split = [n for n in results if re.search(r", budget \d+$", n)]
    return "\n".join(f"- {n} (seeds {', '.join(map(str, results[n]))}): {line(results[n])}" for n in split)


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


def _complete(agent: dict) -> bool:
    """Whether a result's agent played every task with a model of its own (no no-memory fallback)."""
    return not any(run.get("fallback") for run in agent["runs"][0].values())


def _iqm_cell(agents: list[dict]) -> str:
    """The IQM over tasks, over the seeds that hold every task; a seed that does not (its IQM counts the fallback's
    scores) is marked ``*`` and left out of the mean, like a fallback task's cell."""
    values = [a["scores"]["iqm"]["value"] for a in agents]
    done = [_complete(a) for a in agents]
    kept = [v for v, d in zip(values, done, strict=True) if d] or values
    mean = f"{np.mean(kept):.3f}" + ("" if any(done) else "*")
    if len(values) == 1:
        return mean
    return f"{mean} ({' / '.join(f'{v:.3f}' + ('' if d else '*') for v, d in zip(values, done, strict=True))})"


def _rank(agents: list[dict]) -> float:
    """Sort key of a row: minus its mean IQM over the seeds that hold every task (all seeds when none does)."""
    complete = [a for a in agents if _complete(a)] or agents
    return -float(np.mean([a["scores"]["iqm"]["value"] for a in complete]))


def tables(results: dict[str, dict[int, dict]], task_names: list[str]) -> str:
    order = [n for n in available() if n in results] + sorted(set(results) - set(available()))
    norm = ["| entry (seeds) | IQM | " + " | ".join(task_names) + " |", "|---|---|" + "---|" * len(task_names)]
    raw = ["| entry (seeds) | " + " | ".join(task_names) + " |", "|---|" + "---|" * len(task_names)]
    ranked = sorted(order, key=lambda n: _rank(list(results[n].values())))
    for name in ranked:
        seeds = sorted(results[name])
        agents = [results[name][s] for s in seeds]
        label = f"{name} ({', '.join(map(str, seeds))})"
        iqm = _iqm_cell(agents)
        cells = [_task_cell(agents, t, lambda a, t=t: a["scores"]["tasks"][t]["normalized"]) for t in task_names]
        norm.append(f"| {label} | {iqm} | " + " | ".join(cells) + " |")
        raw.append(f"| {label} | " + " | ".join(_task_cell(agents, t, lambda a, t=t: a["scores"]["tasks"][t]["score"])
                                              for t in task_names) + " |")
    return "\n".join(["Normalized scores (0 = no memory, 1 = oracle; * = no model, no-memory fallback):", "",
                      *norm, "", "Raw primary metric on the suite's episodes:", "", *raw])


def scores_figure(results: dict[str, dict[int, dict]], task_names: list[str], title: str = ""):
    """Each task's normalized score as grouped bars, one bar per row of ``load_results`` (ranked as in ``tables``):
    the mean over the seeds that played the task with a model of their own, each such seed a dot on its bar. A task
    no seed of a row has a model for gets no bar. Returns a matplotlib ``Figure`` (object API, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(results, key=lambda n: _rank(list(results[n].values())))
    fig = Figure(figsize=(max(6.0, 1.3 * len(task_names) + 2.5), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / max(len(rows), 1)
    for k, name in enumerate(rows):
        agents = [results[name][s] for s in sorted(results[name])]
        label = f"{name} ({', '.join(map(str, sorted(results[name])))})"
        for j, task in enumerate(task_names):
            played = [a["scores"]["tasks"][task]["normalized"] for a in agents
                      if not a["runs"][0][task].get("fallback")]
            if played:
                x = j - 0.4 + width * (k + 0.5)
                ax.bar(x, np.mean(played), width * 0.9, color=f"C{k % 10}", label=label)
                ax.plot([x] * len(played), played, "o", color="black", markersize=2.5, zorder=3)
                label = None  # one legend entry per row
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="entry (seeds)", title_fontsize=8)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.axhline(1, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(task_names)), task_names, rotation=20, ha="right")
    ax.set_ylabel("normalized score\n(0 = no memory, 1 = oracle)")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def metric_table(results: dict[str, dict[int, dict]], primary: dict[str, str], metrics: list[str]) -> str:
    """Per entry, each task's primary metric (``primary``: task -> its name, in column order) and then each of
    ``metrics`` that the results record for it (the means over the task's episodes, ``runs[0][task]["means"]``).
    Tasks where no entry records any of ``metrics`` are left out; a cell is "-" where an entry lacks the metric."""
    order = sorted(results, key=lambda n: _rank(list(results[n].values())))
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the report (``main`` and ``plastic-gym baseline report``)."""
    parser.add_argument("--results", type=Path, default=RESULT_DIR, help="folder of result files")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR, help="folder of entry folders")
    parser.add_argument("--metrics", nargs="+", default=["all_mse"],
                        help="metrics shown beside each task's primary metric (default: all_mse, the paper's)")
    parser.add_argument("--suite", default="v0", help="the suite whose results are tabled (default v0; e.g. rl-v0)")
    parser.add_argument("--pair", nargs=2, type=Path, metavar=("A", "B"),
                        help="compare two result files task by task on their shared episodes instead")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="also draw the normalized scores, task by task, to this PNG file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Print the tables (or the ``--pair`` comparison) that ``args`` ask for; 2 on a refused pair."""
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
    if args.plot:
        from plastic_gym.io import atomic_path

        with atomic_path(args.plot) as tmp:
            scores_figure(results, names, f"suite {args.suite}: {args.results}").savefig(tmp, dpi=110, format="png")
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
