"""What the baseline trainers of every kind share: entry names, folders, task selection and the entry manifest.

An *entry* is one seed of one recipe (``<recipe>-s<seed>``): a folder ``checkpoints/<entry>/`` with one model per suite
task and a ``manifest.json`` (the leaderboard's agent spec), and a result file ``results/<entry>.json``.
The trainers (``supervised.py``, ``rl.py``) and the train -> evaluate -> submit run (``entries.py``) import this
module; it imports none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plastic_gym.validation import reject_unknown

from .recipes import Recipe

__all__ = ["CHECKPOINT_DIR", "PACKAGE_DIR", "RESULT_DIR", "check_not_trained", "default_checkpoint_dir",
           "default_result_dir", "entry_dir", "entry_name", "select_tasks", "training_kwargs", "write_entry_manifest"]

PACKAGE_DIR = Path(__file__).resolve().parent
#: The shipped entries (package data: read by the trusted list, the curves and the report).
CHECKPOINT_DIR = PACKAGE_DIR / "checkpoints"
RESULT_DIR = PACKAGE_DIR / "results"


def _output_root() -> Path:
    """Where a training run writes its entries when no folder is named: the package's own folder in a source
    checkout (so ``baseline train`` there updates the committed baselines), else ``$PLASTIC_GYM_HOME/baselines``
    (the user data folder of the boards, ``leaderboard/board.py``): an installed package never writes into
    site-packages."""
    from plastic_gym.leaderboard.board import from_checkout, user_home

    return PACKAGE_DIR if from_checkout() else user_home() / "baselines"


def default_checkpoint_dir() -> Path:
    """The folder of entry folders that ``baseline train`` writes by default (see ``_output_root``)."""
    return _output_root() / "checkpoints"


def default_result_dir() -> Path:
    """The folder of result files that ``baseline train`` writes by default (see ``_output_root``)."""
    return _output_root() / "results"


def entry_name(recipe: Recipe, seed: int) -> str:
    """The leaderboard name of one seed of a recipe."""
    return f"{recipe.name}-s{seed}"


def entry_dir(recipe: Recipe, seed: int, checkpoint_dir: str | Path | None = None) -> Path:
    """The entry folder of one seed of a recipe under ``checkpoint_dir`` (default ``default_checkpoint_dir()``)."""
    return Path(checkpoint_dir if checkpoint_dir is not None else default_checkpoint_dir()) / entry_name(recipe, seed)


def select_tasks(recipe: Recipe, tasks: list[str] | None = None) -> list:
    """The suite tasks to train: ``tasks``, else the recipe's ``tasks``, else the whole suite (in suite order)."""
    from plastic_gym.leaderboard.suite import load_suite

    suite = load_suite(recipe.suite)
    wanted = tasks or recipe.tasks
    reject_unknown([*(wanted or ()), *recipe.task_overrides, *recipe.plays, *recipe.plays.values()], suite.task_names,
                   "task name", f"suite {suite.name!r}")
    return [t for t in suite.tasks if wanted is None or t.name in wanted]


def check_not_trained(out: Path, selected: list, suffix: str, force: bool) -> None:
    """Refuse to overwrite the models of an entry folder unless ``force``."""
    done = [t.name for t in selected if (out / f"{t.name}{suffix}").exists()]
    if done and not force:
        raise FileExistsError(f"{out} already holds trained models for {done}; use force=True (--force) to retrain "
                              "them")


def training_kwargs(task) -> dict[str, Any]:
    """The kwargs a suite task is trained on: its own, but the training classes where the task has splits."""
    from plastic_gym import make_task

    kwargs = dict(task.kwargs)
    if "split" in make_task(task.env_id, **kwargs).kwargs:
        kwargs["split"] = "train"
    return kwargs


def write_entry_manifest(recipe: Recipe, seed: int, out: Path, regime: str, budget: str, tasks: dict[str, str],
                         curves: dict[str, list[dict[str, Any]]], curve_title: str, **plot_kwargs: Any) -> Path:
    """Write an entry's ``manifest.json`` (the leaderboard's agent spec: metadata and task -> model spec, tasks in
    suite order) and ``curves.png`` (one line per task, ``agents.plots.plot_curves``). Returns the manifest path."""
    from plastic_gym.agents.plots import plot_curves
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.suite import load_suite

    order = load_suite(recipe.suite).task_names
    borrowed = {p: t for p, t in recipe.plays.items() if t in tasks and p not in tasks}
    tasks = {**tasks, **{p: tasks[t] for p, t in borrowed.items()}}
    untrained = [t for t in order if t not in tasks]
    manifest = {
        "metadata": {
            "name": entry_name(recipe, seed),
            "regime": regime,
            "budget": budget,
            "description": f"{recipe.description} (seed {seed}; one model per task"
                           + "".join(f"; {p} played by the {t} model" for p, t in borrowed.items())
                           + (f"; not trained on {untrained}: no-memory fallback)" if untrained else ")"),
        },
        "tasks": {t: tasks[t] for t in order if t in tasks},
    }
    write_json_atomic(out / "manifest.json", manifest, overwrite=True)
    plot_curves({t: curves[t] for t in order if t in curves}, out / "curves.png",
                title=f"{entry_name(recipe, seed)}: {curve_title}", **plot_kwargs)
    return out / "manifest.json"
