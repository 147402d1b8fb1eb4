"""Baseline recipes: a JSON file per leaderboard entry in ``configs/``, read and validated here.

A supervised recipe::

    {"name": "plastic-rnn-hebbian", "kind": "supervised", "description": "...",
     "train": {"cell": "rnn", "rule": "hebbian", "hidden_dim": 128, "loss": "scored"},   # TrainConfig fields
     "steps": 1000, "seeds": [0, 1], "suite": "v0",
     "tasks": ["assoc", "regression"],                          # optional: the suite tasks trained (default all)
     "task_overrides": {"assoc": {"loss": "all", "steps": 5000}},  # optional: per-task TrainConfig changes
     "plays": {"assoc-noise0.5": "assoc"}}                        # optional: tasks played by another task's model

``train`` holds ``plastic_gym.agents.TrainConfig`` fields except ``task_id``, ``task_kwargs`` and ``seed``, which the
recipe sets per task and run (``steps`` is the recipe's, unless a task override sets it). One model is trained per
listed suite task on that task's kwargs (image tasks on their ``split="train"`` classes); the tasks a recipe does not
train are played by the leaderboard's no-memory fallback and marked as such. A task override may add ``task_kwargs``:
kwargs of the *training* task on top of those (e.g. ``{"rotations": true}``: Omniglot's rotated characters as extra
training classes); the leaderboard still plays the suite's own episodes. ``plays`` lets the model trained for one
task play other suite tasks with the same observation and action spaces (e.g. a 20-way model on the 20-way episodes
drawn from one alphabet) instead of leaving them to the no-memory fallback.

An RL recipe (``"kind": "rl"``) has the same fields; its ``train`` holds the algorithm settings (``algo``,
``frame_stack``, SB3 constructor arguments; see ``rl.py``) and ``steps`` is the env-step budget of each task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file
from plastic_gym.validation import reject_unknown, require, require_choice

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
KINDS = ("supervised", "rl")
_SET_PER_RUN = {"task_id", "task_kwargs", "steps", "seed"}
_OVERRIDABLE = {"steps", "task_kwargs"}  # of those, what a task override may set (task_kwargs: added to the task's)
_FIELDS = {"name", "kind", "description", "train", "steps", "seeds", "suite", "tasks", "task_overrides", "plays"}
_REQUIRED = {"name", "kind", "train", "steps"}


@dataclass(frozen=True)
class Recipe:
    """One baseline entry: how to train it and with what budget."""

    name: str
    kind: str
    description: str
    train: dict[str, Any]
    steps: int
    seeds: tuple[int, ...] = (0, 1)
    suite: str = "v0"
    tasks: tuple[str, ...] | None = None
    task_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    plays: dict[str, str] = field(default_factory=dict)

    def train_fields(self, task_name: str) -> dict[str, Any]:
        """The ``TrainConfig`` fields of one task: the recipe's ``train`` and ``steps``, then the task's overrides."""
        return {**self.train, "steps": self.steps, **self.task_overrides.get(task_name, {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> Recipe:
        where = f"recipe {path}" if path else "recipe"
        reject_unknown(data, sorted(_FIELDS), "field", where)
        missing = sorted(_REQUIRED - set(data))
        require(not missing, f"{where}: missing field(s) {missing}; expected {sorted(_FIELDS)}")
        require_choice(f"{where}: kind", data["kind"], KINDS)
        overrides = data.get("task_overrides", {})
        for part, values in [("train", data["train"]), *[(f"task_overrides.{k}", v) for k, v in overrides.items()]]:
            require(isinstance(values, dict), f"{where}: {part} must be an object, got {values!r}")
            clash = sorted((_SET_PER_RUN - (_OVERRIDABLE if part != "train" else set())) & set(values))
            if clash:
                raise ValueError(f"{where}: {part} must not set {clash} (the recipe sets them per task and seed)")
            kwargs = values.get("task_kwargs", {})
            require(isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs),
                    f"{where}: {part}.task_kwargs must be an object of training-task kwargs, got {kwargs!r}")
            require(not kwargs or data["kind"] == "supervised",
                    f"{where}: {part}.task_kwargs is for supervised recipes; an RL recipe trains on the suite's task")
        steps = data["steps"]
        require(isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1,
                f"{where}: steps must be a positive int, got {steps!r}")
        tasks = data.get("tasks")
        plays = data.get("plays", {})
        require(isinstance(plays, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in plays.items()),
                f"{where}: plays must be an object of suite task -> trained task, got {plays!r}")
        for played, trained in plays.items():
            require(not tasks or (trained in tasks and played not in tasks),
                    f"{where}: plays[{played!r}] = {trained!r} needs {trained!r} in tasks and {played!r} not in "
                    f"them (tasks: {tasks})")
        return cls(data["name"], data["kind"], data.get("description", ""), dict(data["train"]), data["steps"],
                   tuple(data.get("seeds", (0, 1))), data.get("suite", "v0"), tuple(tasks) if tasks else None,
                   {k: dict(v) for k, v in overrides.items()}, path, dict(plays))


def available() -> list[str]:
    """Names of the shipped recipes."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a recipe file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = CONFIG_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"unknown baseline {name_or_path!r}; available: {available()} "
                             "(or a path to a recipe .json)")
    return Recipe.from_dict(read_json_file(path, "recipe"), path)
