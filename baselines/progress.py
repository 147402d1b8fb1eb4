"""How far the trainings in a runs folder have come: ``plastic-gym baseline progress RUNS_DIR``.

A runs folder (``--runs-dir`` of ``baseline train``) holds one run folder per recipe, seed and task,
``RUNS_DIR/<recipe>/s<seed>/<task>/``: an RL run's ``records.json`` says how many env steps it has done and in how many
training seconds, a supervised run's ``summary.json`` how many outer steps (``baselines/rl.py``, ``agents/trainer.py``).
For every (recipe, seed) of a campaign folder (``campaign.json``, ``campaign.py``), or else every recipe found there
and its seeds, this lists each suite task against the recipe's budget, the ones not started included, and estimates
the time left from the rate each run has shown. Rates are counted per unit of work: an RL step is one env step, a
supervised outer step is ``batch_size x episode_length`` env steps of the training task (a copy step at delay 40
costs four times an association step). A task not started yet takes the rate of the same task in another seed of
the recipe, else the recipe's slowest rate per unit so far on tasks of the same kind (a supervised task with image
observations costs far more per time step than one with vectors, so the two kinds do not share rates; an RL recipe's
tasks share one): a rough guess until that task has run once, and no guess ("?") for a kind not run yet.

With ``--workers N`` it also says how long the open runs take on the wall clock when N train at once, each worker
taking the next open run as it frees up, in the order a campaign starts them (``campaign.pending_units``; a plain
runs folder: the table's order). The rates are those measured on the machine as it was shared, so this is the
same rough guess, laid out in time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

from plastic_gym.io import read_json_file

from .common import select_tasks
from .recipes import Recipe, load_recipe


@dataclass(frozen=True)
class RunProgress:
    """One recipe, seed and task: steps done of the budget, and the training seconds they took."""

    recipe: str
    seed: int
    task: str
    done: int
    budget: int
    seconds: float
    #: What one step costs in the recipe's unit of work, and the tasks that share a rate (module docstring).
    work: float = 1.0
    kind: str = "env step"

    @property
    def finished(self) -> bool:
        return self.done >= self.budget


def read_run(run_dir: Path) -> tuple[int, float]:
    """(steps done, training seconds) of one run folder; (0, 0.0) if it holds neither kind of record yet."""
    if (run_dir / "records.json").is_file():
        data = read_json_file(run_dir / "records.json", "run records")
        return int(data["env_steps"]), float(data.get("train_seconds", 0.0))
    if (run_dir / "summary.json").is_file():
        data = read_json_file(run_dir / "summary.json", "run summary")
        return int(data["step"]), float(data.get("elapsed_s", 0.0))
    return 0, 0.0


def _work_per_step(recipe: Recipe, task) -> tuple[float, str]:
    """One step's work and kind: ``batch_size x episode_length`` of the training task for a supervised recipe, of
    kind "image" or "vector" by its observations; 1 env step for RL."""
    if recipe.kind != "supervised":
        return 1.0, "env step"
    from plastic_gym import make_task

    from .supervised import task_config

    config = task_config(recipe, task, seed=0)
    made = make_task(config.task_id, **config.task_kwargs)
    kind = "image" if "image" in getattr(made.observation_space, "spaces", {}) else "vector"
    return float(config.batch_size * made.episode_length), kind


def _runs_found(runs_dir: Path) -> list[tuple[Recipe, int]]:
    """(recipe, seed) for every recipe with a folder in ``runs_dir``: the recipe's seeds and any other seed started."""
    runs = []
    for recipe_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        try:
            recipe = load_recipe(recipe_dir.name)
        except ValueError as err:
            raise ValueError(f"{recipe_dir}: the folder is named for no shipped recipe ({err})") from None
        started = {int(p.name.removeprefix("s")) for p in recipe_dir.glob("s[0-9]*") if p.is_dir()}
        runs += [(recipe, seed) for seed in sorted(set(recipe.seeds) | started)]
    return runs


def campaign_progress(runs_dir: str | Path) -> list[RunProgress]:
    """Every task of every (recipe, seed) of ``runs_dir``: a campaign folder's runs (``campaign.py``), else every
    recipe that has a folder there, in the recipe's seed and suite order."""
    from .campaign import CAMPAIGN_FILE, load_campaign

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise ValueError(f"{runs_dir} is not a folder; expected a runs folder (the --runs-dir of baseline train)")
    runs = load_campaign(runs_dir).runs if (runs_dir / CAMPAIGN_FILE).exists() else _runs_found(runs_dir)
    rows = []
    for recipe, seed in runs:
        for task in select_tasks(recipe):
            done, seconds = read_run(runs_dir / recipe.name / f"s{seed}" / task.name)
            budget = int(recipe.train_fields(task.name)["steps"])
            rows.append(RunProgress(recipe.name, seed, task.name, done, budget, seconds, *_work_per_step(recipe, task)))
    return rows


def seconds_left(rows: list[RunProgress]) -> list[float | None]:
    """The estimated training seconds each row still needs (module docstring); None where no rate is known yet."""
    rate = {(r.recipe, r.seed, r.task): r.seconds / (r.done * r.work) for r in rows if r.done and r.seconds}
    by_task: dict[tuple[str, str], list[float]] = {}
    for (recipe, _, task), value in rate.items():
        by_task.setdefault((recipe, task), []).append(value)
    kind = {(r.recipe, r.task): r.kind for r in rows}
    slowest: dict[tuple[str, str], float] = {}
    for (recipe, task), values in by_task.items():
        pool = (recipe, kind[recipe, task])
        slowest[pool] = max(slowest.get(pool, 0.0), *values)
    left = []
    for r in rows:  # per unit of work
        per_step = rate.get((r.recipe, r.seed, r.task))
        if per_step is None and (r.recipe, r.task) in by_task:
            per_step = sum(by_task[r.recipe, r.task]) / len(by_task[r.recipe, r.task])
        per_step = per_step if per_step is not None else slowest.get((r.recipe, r.kind))
        left.append(None if per_step is None else max(r.budget - r.done, 0) * r.work * per_step)
    return left


def start_order(runs_dir: str | Path, rows: list[RunProgress]) -> list[int]:
    """Indices of the open ``rows`` in the order they are started: a campaign folder's queue
    (``campaign.pending_units``), else the rows' own order."""
    from .campaign import CAMPAIGN_FILE, load_campaign, pending_units

    open_rows = {(r.recipe, r.seed, r.task): i for i, r in enumerate(rows) if not r.finished}
    if not (Path(runs_dir) / CAMPAIGN_FILE).exists():
        return list(open_rows.values())
    queue = [(u.recipe.name, u.seed, u.task) for u in pending_units(load_campaign(runs_dir))]
    return [open_rows[key] for key in queue if key in open_rows]


def wall_seconds(seconds: list[float], workers: int) -> float:
    """Wall seconds until the last of the runs ends, when they take ``seconds`` each, ``workers`` of them run at
    once and a free worker starts the next run in list order."""
    ends = [0.0] * workers
    for s in seconds:
        heapq.heappush(ends, heapq.heappop(ends) + s)
    return max(ends)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes}m"


def report(rows: list[RunProgress], workers: int | None = None, order: list[int] | None = None) -> str:
    """The table of ``campaign_progress`` rows with the time left, and a total line; with ``workers``, the wall time
    the open runs take in ``order`` (``start_order``; default: the rows' order)."""
    left = seconds_left(rows)
    header = ("recipe", "seed", "task", "done", "budget", "%", "train time", "left (est.)")
    lines = [(r.recipe, str(r.seed), r.task, f"{r.done:,}", f"{r.budget:,}", f"{min(r.done / r.budget, 1):.0%}",
              _duration(r.seconds) if r.done else "-", "done" if r.finished else _duration(s))
             for r, s in zip(rows, left, strict=True)]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    right = {1, 3, 4, 5, 6, 7}
    fmt = [lambda v, w=w, i=i: v.rjust(w) if i in right else v.ljust(w) for i, w in enumerate(widths)]
    out = ["  ".join(f(v) for f, v in zip(fmt, row, strict=True)).rstrip() for row in [header, *lines]]
    finished = sum(r.finished for r in rows)
    open_left = [s for r, s in zip(rows, left, strict=True) if not r.finished]
    known = [s for s in open_left if s is not None]
    unknown = len(open_left) - len(known)
    parts = [f"{finished} of {len(rows)} runs finished"]
    if known:
        parts.append(f"about {_duration(sum(known))} of training (one core per run) left at the rates measured so far")
    if known and workers:
        queue = order if order is not None else [i for i, r in enumerate(rows) if not r.finished]
        wall = wall_seconds([left[i] or 0.0 for i in queue], workers)
        parts.append(f"about {_duration(wall)} of wall time with {workers} at once"
                     + (" (not counting those)" if unknown else ""))
    if unknown:
        parts.append(f"{unknown} runs with no rate of their kind yet")
    out.append("; ".join(parts))
    return "\n".join(out)
