"""What every baseline entry shares, whatever trained it: names, folders, evaluation and the train -> submit run.

An *entry* is one seed of one recipe (``<recipe>-s<seed>``): a folder ``checkpoints/<entry>/`` with one model per suite
task and a ``manifest.json`` (the leaderboard's agent spec), and a result file ``results/<entry>.json``.
``run`` trains an entry with the trainer of its recipe's kind (``supervised.train_recipe`` or ``rl.train_recipe``),
evaluates it on the recipe's suite and submits it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .recipes import Recipe

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = PACKAGE_DIR / "checkpoints"
RESULT_DIR = PACKAGE_DIR / "results"


def entry_name(recipe: Recipe, seed: int) -> str:
    """The leaderboard name of one seed of a recipe."""
    return f"{recipe.name}-s{seed}"


def select_tasks(recipe: Recipe, tasks: list[str] | None = None) -> list:
    """The suite tasks to train: ``tasks``, else the recipe's ``tasks``, else the whole suite (in suite order)."""
    from plastic_gym.leaderboard.suite import load_suite

    suite = load_suite(recipe.suite)
    wanted = tasks or recipe.tasks
    unknown = sorted(set(wanted or ()) - set(suite.task_names)) + sorted(set(recipe.task_overrides) - set(suite.task_names))
    if unknown:
        raise ValueError(f"unknown task name(s) {unknown}; suite {suite.name!r} tasks: {suite.task_names}")
    return [t for t in suite.tasks if wanted is None or t.name in wanted]


def check_not_trained(out: Path, selected: list, suffix: str, force: bool) -> None:
    """Refuse to overwrite the models of an entry folder unless ``force``."""
    done = [t.name for t in selected if (out / f"{t.name}{suffix}").exists()]
    if done and not force:
        raise FileExistsError(f"{out} already holds trained models for {done}; use force=True (--force) to retrain them")


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
    suite order) and ``curves.png`` (one line per task, ``agents.trainer.plot_curves``). Returns the manifest path."""
    from plastic_gym.agents.trainer import plot_curves
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.suite import load_suite

    order = load_suite(recipe.suite).task_names
    untrained = [t for t in order if t not in tasks]
    manifest = {
        "metadata": {
            "name": entry_name(recipe, seed),
            "regime": regime,
            "budget": budget,
            "description": f"{recipe.description} (seed {seed}; one model per task"
                           + (f"; not trained on {untrained}: no-memory fallback)" if untrained else ")"),
        },
        "tasks": {t: tasks[t] for t in order if t in tasks},
    }
    write_json_atomic(out / "manifest.json", manifest, overwrite=True)
    plot_curves({t: curves[t] for t in order if t in curves}, out / "curves.png",
                title=f"{entry_name(recipe, seed)}: {curve_title}", **plot_kwargs)
    return out / "manifest.json"


def evaluate_entry(manifest: Path, suite_name: str = "v0", result_dir: str | Path = RESULT_DIR,
                   episodes: int | None = None, force: bool = False, progress: bool = True) -> Path:
    """Evaluate a manifest on its suite and write the result file ``results/<name>.json`` (atomically)."""
    from plastic_gym.leaderboard.agents import load_agent
    from plastic_gym.leaderboard.evaluate import evaluate, table
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.suite import load_suite

    factory = load_agent(str(_source_path(manifest)))
    doc = evaluate([factory], load_suite(suite_name), episodes=episodes, progress=progress)
    print(table(doc))
    return write_json_atomic(Path(result_dir) / f"{factory.metadata.name}.json", doc, overwrite=force)


def _source_path(path: Path) -> Path:
    """A manifest path relative to the source tree when it lies inside it (so committed sources are portable)."""
    path = Path(path).resolve()
    root = PACKAGE_DIR.parent
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def train_entry(recipe: Recipe, seed: int, **train_kwargs: Any) -> Path:
    """Train one seed of a recipe with the trainer of its kind; returns the manifest path."""
    if recipe.kind == "rl":
        from .rl import train_recipe
    else:
        from .supervised import train_recipe
    return train_recipe(recipe, seed, **train_kwargs)


def run(recipe: Recipe, seed: int, submit: bool, replace: bool = False, episodes: int | None = None,
        result_dir: str | Path = RESULT_DIR, **train_kwargs: Any) -> dict[str, Any]:
    """Train, evaluate and (optionally) submit one seed of a recipe; returns the paths written.

    ``episodes`` shortens the evaluation (such a result can only be submitted with ``allow_short``: tests).
    """
    from plastic_gym.leaderboard.submit import submit as submit_result

    manifest = train_entry(recipe, seed, **train_kwargs)
    result = evaluate_entry(manifest, recipe.suite, result_dir=result_dir, episodes=episodes,
                            force=train_kwargs.get("force", False) or replace, progress=train_kwargs.get("progress", True))
    written = submit_result(result, replace=replace) if submit else []
    return {"manifest": str(manifest), "result": str(result), "submissions": [str(p) for p in written]}
