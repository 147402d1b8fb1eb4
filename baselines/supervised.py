"""Train a supervised baseline recipe: one meta-trained model per suite task (``entries.run`` evaluates and submits).

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

from .common import check_not_trained, entry_dir, select_tasks, training_kwargs, write_entry_manifest
from .recipes import Recipe

#: Checkpoint entries that only resuming needs; a committed baseline keeps the rest.
_RESUME_ONLY = ("optimizer", "rng", "pending_losses")


def task_config(recipe: Recipe, task, seed: int, steps: int | None = None):
    """The ``TrainConfig`` of one suite task of ``recipe`` (``steps``: instead of the recipe's budget)."""
    from plastic_gym.agents.trainer import TrainConfig

    fields = recipe.train_fields(task.name)
    if steps is not None:
        fields["steps"] = steps
    task_kwargs = {**training_kwargs(task), **fields.pop("task_kwargs", {})}
    return TrainConfig(task_id=task.env_id, task_kwargs=task_kwargs, seed=seed, **fields)


def train_recipe(recipe: Recipe, seed: int, runs_dir: str | Path = "runs/baselines", steps: int | None = None,
                 tasks: list[str] | None = None, checkpoint_dir: str | Path | None = None,
                 force: bool = False, progress: bool = True) -> Path:
    """Train one model per suite task (or the named ``tasks``) and write the slim checkpoints and the manifest.

    A task that the entry folder already holds is refused unless ``force``; other tasks are added to the entry.
    A task whose trainer folder already holds a checkpoint of the same configuration is resumed (so an interrupted
    sweep continues where it stopped). Returns the manifest path.
    """
    from plastic_gym.agents.checkpoint import load_checkpoint, save_checkpoint
    from plastic_gym.agents.trainer import train

    selected = select_tasks(recipe, tasks)
    out = entry_dir(recipe, seed, checkpoint_dir)
    check_not_trained(out, selected, ".pt", force)
    for task in selected:
        config = task_config(recipe, task, seed, steps)
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

    checkpoints = {p.stem: load_checkpoint(p) for p in out.glob("*.pt")}
    budgets = [f"{t} {c['step']}{_departures(recipe, c['train'], _extra_task_kwargs(recipe, t, c['train']))}"
               for t, c in _in_suite_order(recipe, checkpoints).items()]
    settings = [_weight_decays(_in_suite_order(recipe, checkpoints))]
    if any(c["model"].get("plastic", {}).get("gradient_scale") == "paper" for c in checkpoints.values()):
        settings.append("the paper's inner-loss scale (L_int / 64)")
    return write_entry_manifest(
        recipe, seed, out, regime="supervised-bptt",
        budget="outer steps of 64 episodes (unless stated) per task: " + ", ".join(budgets)
        + "".join(f"; {x}" for x in settings if x),
        tasks={t: f"{t}.pt" for t in checkpoints}, curves={t: c["metrics"] for t, c in checkpoints.items()},
        curve_title="validation during meta-training")


def _departures(recipe: Recipe, train: dict[str, Any], extra_kwargs: dict[str, Any] | None = None) -> str:
    """What one task's training did differently from the recipe's usual run, for the manifest's budget line;
    ``extra_kwargs``: the training task's kwargs beyond the suite task's (a recipe's ``task_kwargs`` override)."""
    pre = train.get("pretrain")
    notes = [" (loss on all steps)" if train["loss"] == "all" else "",
             f" (hidden {train['hidden_dim']})" if train["hidden_dim"] != recipe.train.get("hidden_dim") else "",
             f" (batch {train['batch_size']})" if train.get("batch_size", 64) != 64 else "",
             f" (conv width {train['encoder_channels']})" if train.get("encoder_channels", 64) != 64 else "",
             f" (encoder pretrained {pre['steps']} steps x {pre['batch_size']} as a classifier of "
             f"{pre['source'] if pre['source'] == 'omniglot' else str(pre['n_classes']) + ' glyph'} classes, "
             f"{'frozen' if pre['freeze'] else 'fine-tuned'}"
             f"{', features on the sphere' if pre.get('normalize') else ''})" if pre else "",
             " (trained with " + ", ".join(f"{k}={v!r}" for k, v in extra_kwargs.items()) + ")" if extra_kwargs else ""]
    return "".join(notes)


def _extra_task_kwargs(recipe: Recipe, task_name: str, train: dict[str, Any]) -> dict[str, Any]:
    """The kwargs a task's model was trained with on top of the suite task's training kwargs (``task_kwargs`` of
    the recipe's override), as the checkpoint records them."""
    wanted = recipe.task_overrides.get(task_name, {}).get("task_kwargs", {})
    trained = train.get("task_kwargs", {})
    return {k: trained[k] for k in wanted if k in trained}


def _weight_decays(by_task: dict[str, dict[str, Any]]) -> str:
    """AdamW's weight decay for the budget line: one value, or each value with its tasks ("" if all are 0)."""
    tasks_of: dict[float, list[str]] = {}
    for task, ckpt in by_task.items():
        tasks_of.setdefault(ckpt["train"].get("weight_decay", 0), []).append(task)
    if len(tasks_of) == 1:
        (decay,) = tasks_of
        return f"AdamW weight decay {decay:g}" if decay else ""
    return "AdamW weight decay " + ", ".join(f"{d:g} ({', '.join(t)})" for d, t in tasks_of.items())


def _in_suite_order(recipe: Recipe, by_task: dict[str, Any]) -> dict[str, Any]:
    from plastic_gym.leaderboard.suite import load_suite

    return {t: by_task[t] for t in load_suite(recipe.suite).task_names if t in by_task}
