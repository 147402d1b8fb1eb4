"""The train -> evaluate -> submit run of one baseline entry, whatever kind of recipe trained it.

``run`` trains an entry with the trainer of its recipe's kind (``supervised.train_recipe`` or ``rl.train_recipe``),
evaluates it on the recipe's suite (``evaluate_entry``) and submits it. Entry names and folders: ``common.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import CHECKPOINT_DIR as CHECKPOINT_DIR
from .common import PACKAGE_DIR, default_result_dir
from .recipes import Recipe


def evaluate_entry(manifest: Path, suite_name: str = "v0", result_dir: str | Path | None = None,
                   episodes: int | None = None, force: bool = False, progress: bool = True) -> Path:
    """Evaluate a manifest on its suite and write the result file ``<result_dir>/<name>.json`` (atomically;
    ``result_dir`` defaults to ``common.default_result_dir()``)."""
    from plastic_gym.leaderboard.agents import load_agent
    from plastic_gym.leaderboard.evaluate import evaluate, table
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.suite import load_suite

    factory = load_agent(str(_source_path(manifest)))
    doc = evaluate([factory], load_suite(suite_name), episodes=episodes, progress=progress)
    print(table(doc))
    folder = Path(result_dir) if result_dir is not None else default_result_dir()
    return write_json_atomic(folder / f"{factory.metadata.name}.json", doc, overwrite=force)


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
        result_dir: str | Path | None = None, **train_kwargs: Any) -> dict[str, Any]:
    """Train, evaluate and (optionally) submit one seed of a recipe; returns the paths written.

    ``episodes`` shortens the evaluation (such a result can only be submitted with ``allow_short``: tests).
    """
    from plastic_gym.leaderboard.submit import submit as submit_result

    manifest = train_entry(recipe, seed, **train_kwargs)
    result = evaluate_entry(manifest, recipe.suite, result_dir=result_dir, episodes=episodes,
                            force=train_kwargs.get("force", False) or replace,
                            progress=train_kwargs.get("progress", True))
    written = submit_result(result, replace=replace) if submit else []
    return {"manifest": str(manifest), "result": str(result), "submissions": [str(p) for p in written]}
