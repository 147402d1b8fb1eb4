"""Train a supervised baseline recipe: one meta-trained model per suite task, then evaluate and submit it.

Outputs of one run (recipe ``NAME``, seed ``S``):

- ``<runs>/NAME/sS/<task>/``: the trainer's folder (full checkpoint with optimizer state, metrics.jsonl, curve.png);
  not committed (``runs/`` is git-ignored).
- ``checkpoints/NAME-sS/<task>.pt``: the slim checkpoint (weights, configs, validation records; no optimizer
  state), ``manifest.json`` (task name -> checkpoint; the leaderboard's agent spec) and ``curves.png``.
- ``results/NAME-sS.json``: the leaderboard result file of that manifest on the recipe's suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .recipes import Recipe

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = PACKAGE_DIR / "checkpoints"
RESULT_DIR = PACKAGE_DIR / "results"
#: Checkpoint entries that only resuming needs; a committed baseline keeps the rest.
_RESUME_ONLY = ("optimizer", "rng", "pending_losses")


def entry_name(recipe: Recipe, seed: int) -> str:
    """The leaderboard name of one seed of a recipe."""
    return f"{recipe.name}-s{seed}"


def train_recipe(recipe: Recipe, seed: int, runs_dir: str | Path = "runs/baselines", steps: int | None = None,
                 tasks: list[str] | None = None, checkpoint_dir: str | Path = CHECKPOINT_DIR,
                 force: bool = False, progress: bool = True) -> Path:
    """Train one model per suite task (or the named ``tasks``) and write the slim checkpoints and the manifest.

    A task that the entry folder already holds is refused unless ``force``; other tasks are added to the entry.
    A task whose trainer folder already holds a checkpoint of the same configuration is resumed (so an interrupted
    sweep continues where it stopped). Returns the manifest path.
    """
    from plastic_gym.agents.checkpoint import load_checkpoint, save_checkpoint
    from plastic_gym.agents.trainer import TrainConfig, train
    from plastic_gym.leaderboard.suite import load_suite

    suite = load_suite(recipe.suite)
    wanted = tasks or recipe.tasks
    unknown = sorted(set(wanted or ()) - set(suite.task_names)) + sorted(set(recipe.task_overrides) - set(suite.task_names))
    if unknown:
        raise ValueError(f"unknown task name(s) {unknown}; suite {suite.name!r} tasks: {suite.task_names}")
    selected = [t for t in suite.tasks if wanted is None or t.name in wanted]
    name = entry_name(recipe, seed)
    out = Path(checkpoint_dir) / name
    done = [t.name for t in selected if (out / f"{t.name}.pt").exists()]
    if done and not force:
        raise FileExistsError(f"{out} already holds trained models for {done}; use force=True (--force) to retrain them")
    for task in selected:
        fields = recipe.train_fields(task.name)
        if steps is not None:
            fields["steps"] = steps
        config = TrainConfig(task_id=task.env_id, task_kwargs=training_kwargs(task), seed=seed, **fields)
        run_dir = Path(runs_dir) / recipe.name / f"s{seed}" / task.name
        resume = run_dir / "checkpoint.pt"
        train(config, run_dir, resume=resume if resume.exists() and not force else None, force=force, progress=progress)
        ckpt = load_checkpoint(resume)
        save_checkpoint(out / f"{task.name}.pt", {k: v for k, v in ckpt.items() if k not in _RESUME_ONLY})
    write_manifest(recipe, seed, out)
    return out / "manifest.json"


def write_manifest(recipe: Recipe, seed: int, out: Path) -> Path:
    """(Re)write ``manifest.json`` and ``curves.png`` from every slim checkpoint in the entry folder ``out``."""
    from plastic_gym.agents.checkpoint import load_checkpoint
    from plastic_gym.agents.trainer import plot_curves
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.suite import load_suite

    order = load_suite(recipe.suite).task_names
    checkpoints = {p.stem: load_checkpoint(p) for p in sorted(out.glob("*.pt"), key=lambda p: order.index(p.stem))}
    budgets = [f"{t} {c['step']}" + (" (loss on all steps)" if c["train"]["loss"] == "all" else "")
               + (f" (hidden {c['train']['hidden_dim']})" if c["train"]["hidden_dim"] != recipe.train.get("hidden_dim") else "")
               for t, c in checkpoints.items()]
    untrained = [t for t in order if t not in checkpoints]
    manifest = {
        "metadata": {
            "name": entry_name(recipe, seed),
            "regime": "supervised-bptt",
            "budget": "outer steps of 64 episodes per task: " + ", ".join(budgets),
            "description": f"{recipe.description} (seed {seed}; one model per task"
                           + (f"; not trained on {untrained}: no-memory fallback)" if untrained else ")"),
        },
        "tasks": {t: f"{t}.pt" for t in checkpoints},
    }
    write_json_atomic(out / "manifest.json", manifest, overwrite=True)
    plot_curves({t: c["metrics"] for t, c in checkpoints.items()}, out / "curves.png",
                title=f"{entry_name(recipe, seed)}: validation during meta-training")
    return out / "manifest.json"


def training_kwargs(task) -> dict[str, Any]:
    """The kwargs a suite task is trained on: its own, but the training classes where the task has splits."""
    from plastic_gym import make_task

    kwargs = dict(task.kwargs)
    if "split" in make_task(task.env_id, **kwargs).kwargs:
        kwargs["split"] = "train"
    return kwargs


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


def run(recipe: Recipe, seed: int, submit: bool, replace: bool = False, episodes: int | None = None,
        result_dir: str | Path = RESULT_DIR, **train_kwargs: Any) -> dict[str, Any]:
    """Train, evaluate and (optionally) submit one seed of a recipe; returns the paths written.

    ``episodes`` shortens the evaluation (such a result can only be submitted with ``allow_short``: tests).
    """
    from plastic_gym.leaderboard.submit import submit as submit_result

    manifest = train_recipe(recipe, seed, **train_kwargs)
    result = evaluate_entry(manifest, recipe.suite, result_dir=result_dir, episodes=episodes,
                            force=train_kwargs.get("force", False) or replace, progress=train_kwargs.get("progress", True))
    written = submit_result(result, replace=replace) if submit else []
    return {"manifest": str(manifest), "result": str(result), "submissions": [str(p) for p in written]}
