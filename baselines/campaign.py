"""A training campaign: many recipes and seeds trained into one committed runs folder, resumable on any clone.

A campaign folder holds ``campaign.json``::

    {"description": "the rl-v0 recipes at 1M env steps per task",
     "runs": [["rl-recurrent-ppo-lstm", 0], ["rl-plastic-ppo-hebbian", 0], ...],
     "task_order": ["copy", "regression"], "seeds_together": false}

A run names a shipped recipe (``baselines/configs/``) or a recipe file, a relative path being read from the campaign
folder: ``["recipes/hebbian-loss-all.json", 0]`` keeps a campaign's variants of the shipped recipes (a study, not a
board entry) beside its runs.

and, as the trainings progress, their run folders ``<recipe>/s<seed>/<task>/`` (the ``--runs-dir`` layout of
``baseline train``: resumable snapshots). Committing the run folders is what makes a campaign of many core-hours
survive the machine it started on: ``plastic-gym baseline campaign FOLDER --workers 2`` on any clone trains every
task of every (recipe, seed) of ``runs`` whose model the entry does not hold yet, ``workers`` tasks at a time, each
continuing from its last snapshot. Tasks whose run folder already holds the whole budget come first, whatever the
order below: their models are only copied into the entry, so the tables are whole from the first minutes on.

The unit of work is one task of one (recipe, seed), so that every worker stays busy until the last task. Without
``task_order`` the tasks are trained run by run, in the listed order (each run's tasks in suite order). With it,
a campaign fills the board task by task: ordered by seed, then by the task's place in ``task_order`` (tasks it does
not name come after, in suite order), then by the order of ``runs``; so every recipe's first seed of the first
named task is in before any recipe moves on, which is what a comparison of recipes on a task needs. With
``"seeds_together": true`` the task's place comes before the seed: every seed of a task is in before the next
task starts, which is what a claim checked on two seeds needs first.

The entries (``FOLDER/entries/<recipe>-s<seed>/``) and their result files (``FOLDER/results/``) are derived from the
run folders, so they are not committed (``.gitignore``). After every task an entry gains, its manifest is rewritten
from the entry folder and it is evaluated on its suite, the tasks it does not hold yet played by the no-memory
fallback (marked in the result file), so that a task's comparison of the recipes can be read as soon as it is in:
``plastic-gym baseline report --results FOLDER/results --checkpoints FOLDER/entries``. Nothing is
submitted: an entry goes to the board by hand (the campaign's README).
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file
from plastic_gym.validation import reject_unknown, require

from .common import entry_dir, select_tasks
from .progress import read_run
from .recipes import Recipe, load_recipe

CAMPAIGN_FILE = "campaign.json"
#: The model file of one task in an entry folder, per recipe kind.
MODEL_SUFFIX = {"rl": ".zip", "supervised": ".pt"}


@dataclass(frozen=True)
class Campaign:
    """A campaign folder, the (recipe, seed) runs it trains and the order of their tasks (``None``: run by run)."""

    folder: Path
    description: str
    runs: tuple[tuple[Recipe, int], ...]
    task_order: tuple[str, ...] | None = None
    seeds_together: bool = False

    @property
    def entries(self) -> Path:
        return self.folder / "entries"

    @property
    def results(self) -> Path:
        return self.folder / "results"


@dataclass(frozen=True)
class Unit:
    """One task of one (recipe, seed) to train."""

    recipe: Recipe
    seed: int
    task: str

    @property
    def entry(self) -> str:
        return f"{self.recipe.name}-s{self.seed}"


def load_campaign(folder: str | Path) -> Campaign:
    """The campaign of ``folder`` (its ``campaign.json``), every recipe loaded, every seed one of the recipe's and
    every name of ``task_order`` a task of one of its recipes."""
    folder = Path(folder)
    path = folder / CAMPAIGN_FILE
    require(path.is_file(), f"{folder}: no {CAMPAIGN_FILE}; expected a campaign folder (see baselines/campaign.py)")
    data = read_json_file(path, "campaign")
    reject_unknown(data, ["description", "runs", "task_order", "seeds_together"], "field", str(path))
    runs = data.get("runs")
    require(isinstance(runs, list) and runs and all(isinstance(r, list) and len(r) == 2 for r in runs),
            f"{path}: runs must be a non-empty list of [recipe, seed] pairs, got {runs!r}")
    loaded = []
    for name, seed in runs:
        recipe = load_recipe(_recipe_path(folder, name))
        require(isinstance(seed, int) and seed in recipe.seeds,
                f"{path}: seed {seed!r} of {name} is not one of the recipe's seeds {list(recipe.seeds)}")
        loaded.append((recipe, seed))
    require(len({(r.name, s) for r, s in loaded}) == len(loaded), f"{path}: a [recipe, seed] pair is listed twice")
    order = data.get("task_order")
    if order is not None:
        require(isinstance(order, list) and order and all(isinstance(t, str) for t in order)
                and len(set(order)) == len(order),
                f"{path}: task_order must be a non-empty list of distinct task names, got {order!r}")
        reject_unknown(order, sorted({t.name for r, _ in loaded for t in select_tasks(r)}), "task name",
                       f"{path}: task_order (the tasks of its recipes)")
    together = data.get("seeds_together", False)
    require(isinstance(together, bool), f"{path}: seeds_together must be true or false, got {together!r}")
    require(not together or order is not None, f"{path}: seeds_together needs a task_order")
    return Campaign(folder, str(data.get("description", "")), tuple(loaded), tuple(order) if order else None,
                    together)


def _recipe_path(folder: Path, name: Any) -> Any:
    """A run's recipe: a shipped recipe's name as it is, a relative ``.json`` path read from the campaign folder."""
    if isinstance(name, str) and name.endswith(".json") and not Path(name).is_absolute():
        return folder / name
    return name


def missing_tasks(campaign: Campaign, recipe: Recipe, seed: int) -> list[str]:
    """The suite tasks of ``recipe`` whose model the entry folder of ``seed`` does not hold yet."""
    out = entry_dir(recipe, seed, campaign.entries)
    suffix = MODEL_SUFFIX[recipe.kind]
    return [t.name for t in select_tasks(recipe) if not (out / f"{t.name}{suffix}").exists()]


def _finished(campaign: Campaign, unit: Unit) -> bool:
    """Whether the run folder of ``unit`` already holds its whole budget (on a fresh clone: a committed run whose
    model only needs copying into the entry)."""
    done, _ = read_run(campaign.folder / unit.recipe.name / f"s{unit.seed}" / unit.task)
    return done >= int(unit.recipe.train_fields(unit.task)["steps"])


def pending_units(campaign: Campaign) -> list[Unit]:
    """Every task still to train, in the order the campaign trains them (module docstring), the runs already
    finished in their run folders first: rebuilding their models takes seconds."""
    units = [(i, k, Unit(r, s, t)) for i, (r, s) in enumerate(campaign.runs)
             for k, t in enumerate(missing_tasks(campaign, r, s))]
    if campaign.task_order is not None:
        rank = {t: k for k, t in enumerate(campaign.task_order)}
        unnamed = len(rank)  # tasks that task_order does not name: after the named ones, in suite order

        def key(u: tuple[int, int, Unit]) -> tuple[int, ...]:
            i, k, unit = u
            place = (rank.get(unit.task, unnamed), 0 if unit.task in rank else k)
            return (*place, unit.seed, i) if campaign.seeds_together else (unit.seed, *place, i)

        units.sort(key=key)
    return sorted((u for _, _, u in units), key=lambda u: not _finished(campaign, u))


def stale_results(campaign: Campaign) -> list[Unit]:
    """One unit per entry whose result file is missing or plays by the no-memory fallback a task whose model the
    entry now holds (a campaign stopped between a task's landing and its entry's evaluation), so that it is
    evaluated again. Entries without any model are left out."""
    out = []
    for recipe, seed in campaign.runs:
        tasks = [t.name for t in select_tasks(recipe)]
        held = set(tasks) - set(missing_tasks(campaign, recipe, seed))
        if not held:
            continue
        unit = Unit(recipe, seed, next(t for t in tasks if t in held))
        path = campaign.results / f"{unit.entry}.json"
        if not path.is_file():
            out.append(unit)
            continue
        try:
            runs = read_json_file(path, "result file")["agents"][0]["runs"]
            fallback = {t for run in runs for t, cell in run.items() if isinstance(cell, dict) and cell.get("fallback")}
        except (ValueError, KeyError, IndexError, TypeError):
            fallback = held  # unreadable: evaluate again
        if fallback & held:
            out.append(unit)
    return out


def _train_task(campaign: Campaign, unit: Unit) -> dict[str, Any]:
    """Train one unit from its run folder into the entry folder. Torch is limited to one thread so that the workers
    do not oversubscribe the cores."""
    import torch

    from .entries import train_entry

    torch.set_num_threads(1)
    train_entry(unit.recipe, unit.seed, runs_dir=campaign.folder, tasks=[unit.task], checkpoint_dir=campaign.entries,
                progress=False)
    return {"entry": unit.entry, "task": unit.task}


def _evaluate(campaign: Campaign, unit: Unit) -> dict[str, Any]:
    """Rewrite the manifest of the complete entry of ``unit`` from its folder (tasks trained in other processes may
    each have written it with the tasks they saw) and evaluate it on the recipe's suite."""
    import torch

    from . import entries
    from .rl import write_manifest as write_rl_manifest
    from .supervised import write_manifest as write_supervised_manifest

    torch.set_num_threads(1)
    recipe, seed = unit.recipe, unit.seed
    out = entry_dir(recipe, seed, campaign.entries)
    manifest = (write_rl_manifest if recipe.kind == "rl" else write_supervised_manifest)(recipe, seed, out)
    result = entries.evaluate_entry(manifest, recipe.suite, result_dir=campaign.results, force=True, progress=False)
    return {"entry": out.name, "manifest": str(manifest), "result": str(result)}


def _guarded(job, campaign: Campaign, unit: Unit) -> dict[str, Any]:
    """``job`` (``_train_task`` or ``_evaluate``), a failure reported as ``{"entry", "task", "error"}`` (no
    ``task`` for an evaluation) so that the other units go on."""
    try:
        return job(campaign, unit)
    except Exception as err:  # noqa: BLE001 - one failed run must not stop a campaign of many hours
        where = {"entry": unit.entry, **({"task": unit.task} if job is _train_task else {})}
        return {**where, "error": f"{type(err).__name__}: {err}"}


def _announce(done: dict[str, Any]) -> dict[str, Any]:
    where = done["entry"] + (f" {done['task']}" if "task" in done else "")
    print(f"{where} failed: {done['error']}" if "error" in done else f"{where} {done['result']}", flush=True)
    return done


def run_campaign(campaign: Campaign, workers: int = 1) -> list[dict[str, Any]]:
    """Train every pending task of the campaign, ``workers`` at a time (1: in this process), and evaluate an entry
    after every task it gains (ahead of the units still waiting; never twice at once: a task that lands while its
    entry is being evaluated gets a fresh evaluation after that one). The runs already at their budget, only copied
    into their entries, count as one gain per entry: the entry is evaluated after the last of them; an entry whose
    result file is behind its models (``stale_results``) is evaluated first. Returns, in the order they finished, each
    evaluation's paths and each failure (``{"entry", "task", "error"}`` for a task that failed: its entry is not
    evaluated for it; the other units go on)."""
    pending = pending_units(campaign)
    queue: deque = deque(("train", u) for u in pending)
    # Runs already at their budget are only copied (seconds each): their entry is evaluated once, after the last.
    copies = {(u.entry, u.task) for u in pending if _finished(campaign, u)}
    copies_left = Counter(entry for entry, _ in copies)
    copied: set[str] = set()  # entries with one copy at least done
    queue.extendleft(("evaluate", u) for u in reversed(stale_results(campaign)) if not copies_left[u.entry])
    evaluating: set[str] = set()  # entries whose evaluation is running
    stale: set[str] = set()  # ... and that gained a task since it started
    outcomes: list[dict[str, Any]] = []

    def evaluate_later(unit: Unit) -> None:
        if unit.entry in evaluating:
            stale.add(unit.entry)
        elif ("evaluate", unit.entry) not in {(k, u.entry) for k, u in queue}:
            queue.appendleft(("evaluate", unit))

    def started(job: tuple) -> None:
        if job[0] == "evaluate":
            evaluating.add(job[1].entry)

    def finished(job: tuple, outcome: dict[str, Any]) -> None:
        kind, unit = job
        if kind == "evaluate" or "error" in outcome:
            outcomes.append(_announce(outcome))
        if kind == "evaluate":
            evaluating.discard(unit.entry)
            if unit.entry in stale:
                stale.discard(unit.entry)
                evaluate_later(unit)
        elif (unit.entry, unit.task) in copies:
            copies_left[unit.entry] -= 1
            if "error" not in outcome:
                copied.add(unit.entry)
            if copies_left[unit.entry] == 0 and unit.entry in copied:
                evaluate_later(unit)
        elif "error" not in outcome:
            evaluate_later(unit)

    def call(job: tuple) -> tuple:
        kind, unit = job
        return _guarded, _train_task if kind == "train" else _evaluate, campaign, unit

    if workers == 1:
        while queue:
            job = queue.popleft()
            started(job)
            fn, *args = call(job)
            finished(job, fn(*args))
        return outcomes
    with ProcessPoolExecutor(max_workers=workers) as pool:
        running: dict = {}
        while queue or running:
            while queue and len(running) < workers:
                job = queue.popleft()
                started(job)
                running[pool.submit(*call(job))] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished(running.pop(future), future.result())
    return outcomes
