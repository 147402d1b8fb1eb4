"""A training campaign: many recipes and seeds trained into one committed runs folder, resumable on any clone.

A campaign folder holds ``campaign.json``::

    {"description": "the rl-v0 recipes at 1M env steps per task",
     "runs": [["rl-recurrent-ppo-lstm", 0], ["rl-plastic-ppo-hebbian", 0], ...]}

and, as the trainings progress, their run folders ``<recipe>/s<seed>/<task>/`` (the ``--runs-dir`` layout of
``baseline train``: resumable snapshots). Committing the run folders is what makes a campaign of many core-hours
survive the machine it started on: ``plastic-gym baseline campaign FOLDER --workers 2`` on any clone trains every
(recipe, seed) of ``runs`` whose entry is not complete yet, in the listed order, ``workers`` at a time, each task
continuing from its last snapshot (a finished task is only re-saved).

The entries (``FOLDER/entries/<recipe>-s<seed>/``) and their result files (``FOLDER/results/``) are derived from the
run folders, so they are not committed (``.gitignore``); once an entry has all its tasks it is evaluated on its
suite, its result file rewritten with the tasks it has now, so that a finished seed can be read before the whole
campaign is in. Nothing is submitted: an entry goes to the board by hand (the campaign's README).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file
from plastic_gym.validation import reject_unknown, require

from .common import entry_dir, select_tasks
from .recipes import Recipe, load_recipe

CAMPAIGN_FILE = "campaign.json"
#: The model file of one task in an entry folder, per recipe kind.
MODEL_SUFFIX = {"rl": ".zip", "supervised": ".pt"}


@dataclass(frozen=True)
class Campaign:
    """A campaign folder and the (recipe, seed) runs it trains, in order."""

    folder: Path
    description: str
    runs: tuple[tuple[Recipe, int], ...]

    @property
    def entries(self) -> Path:
        return self.folder / "entries"

    @property
    def results(self) -> Path:
        return self.folder / "results"


def load_campaign(folder: str | Path) -> Campaign:
    """The campaign of ``folder`` (its ``campaign.json``), every recipe loaded and every seed one of the recipe's."""
    folder = Path(folder)
    path = folder / CAMPAIGN_FILE
    require(path.is_file(), f"{folder}: no {CAMPAIGN_FILE}; expected a campaign folder (see baselines/campaign.py)")
    data = read_json_file(path, "campaign")
    reject_unknown(data, ["description", "runs"], "field", str(path))
    runs = data.get("runs")
    require(isinstance(runs, list) and runs and all(isinstance(r, list) and len(r) == 2 for r in runs),
            f"{path}: runs must be a non-empty list of [recipe, seed] pairs, got {runs!r}")
    loaded = []
    for name, seed in runs:
        recipe = load_recipe(name)
        require(isinstance(seed, int) and seed in recipe.seeds,
                f"{path}: seed {seed!r} of {name} is not one of the recipe's seeds {list(recipe.seeds)}")
        loaded.append((recipe, seed))
    require(len({(r.name, s) for r, s in loaded}) == len(loaded), f"{path}: a [recipe, seed] pair is listed twice")
    return Campaign(folder, str(data.get("description", "")), tuple(loaded))


def missing_tasks(campaign: Campaign, recipe: Recipe, seed: int) -> list[str]:
    """The suite tasks of ``recipe`` whose model the entry folder of ``seed`` does not hold yet."""
    out = entry_dir(recipe, seed, campaign.entries)
    suffix = MODEL_SUFFIX[recipe.kind]
    return [t.name for t in select_tasks(recipe) if not (out / f"{t.name}{suffix}").exists()]


def _train_and_evaluate(campaign: Campaign, recipe: Recipe, seed: int, tasks: list[str]) -> dict[str, Any]:
    """One (recipe, seed): train ``tasks`` from the run folders, then evaluate the complete entry. Torch is limited
    to one thread so that the workers do not oversubscribe the cores."""
    import torch

    from .entries import evaluate_entry, train_entry

    torch.set_num_threads(1)
    manifest = train_entry(recipe, seed, runs_dir=campaign.folder, tasks=tasks, checkpoint_dir=campaign.entries,
                           progress=False)
    result = evaluate_entry(manifest, recipe.suite, result_dir=campaign.results, force=True, progress=False)
    return {"entry": entry_dir(recipe, seed, campaign.entries).name, "manifest": str(manifest), "result": str(result)}


def _job(campaign: Campaign, recipe: Recipe, seed: int, tasks: list[str]) -> dict[str, Any]:
    """``_train_and_evaluate``, a failure reported as ``{"entry", "error"}`` so that the other runs go on."""
    try:
        return _train_and_evaluate(campaign, recipe, seed, tasks)
    except Exception as err:  # noqa: BLE001 - one failed run must not stop a campaign of many hours
        return {"entry": entry_dir(recipe, seed, campaign.entries).name, "error": f"{type(err).__name__}: {err}"}


def _announce(done: dict[str, Any]) -> dict[str, Any]:
    outcome = f"failed: {done['error']}" if "error" in done else done["result"]
    print(f"{done['entry']} {outcome}", flush=True)
    return done


def run_campaign(campaign: Campaign, workers: int = 1) -> list[dict[str, Any]]:
    """Train and evaluate every (recipe, seed) of the campaign whose entry is not complete, ``workers`` at a time
    (1: in this process); returns what each wrote (or its ``error``: a failed run does not stop the others), in the
    order they finished."""
    pending = [(r, s, t) for r, s in campaign.runs if (t := missing_tasks(campaign, r, s))]
    if workers == 1:
        return [_announce(_job(campaign, r, s, t)) for r, s, t in pending]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_job, campaign, r, s, t) for r, s, t in pending]
        return [_announce(f.result()) for f in as_completed(futures)]

