"""Evaluation suites: versioned data files ``suite_<name>.json`` listing (task name, env id, kwargs, eval episodes,
eval seed), identified by a content hash.

The hash is the sha256 of the canonical JSON of the file's content (keys sorted, no whitespace, ASCII), so
reformatting the file does not change it but any change of a task, a kwarg, an episode count or a seed does.
``SUITE_HASHES`` records the hash of every released suite; a test checks that the files still have it, so a
released suite is never changed in place (make ``suite_v1.json`` instead).

Episodes of task i are those of seeds ``seed, seed + 1, ..., seed + episodes - 1``: env j of
``gym.make_vec(env_id, num_envs=episodes, **kwargs).reset(seed=seed)`` plays seed + j (the gymnasium seeding
convention of ``PlasticVectorEnv``). Evaluation seeds start at 10,000,000, far from the small seeds of training,
and the tasks' ranges are disjoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file

SUITE_DIR = Path(__file__).resolve().parent

#: The content hash of every released suite file (a test checks them; never edit a released suite).
SUITE_HASHES = {
    "v0": "sha256:401042a47c955f0fa7c07ca314b3a6c3ac1f164879d2336c7e527ef72a717f7e",
    "omniglot": "sha256:11a7ebef9406e8c4581f2a07cf35990e32b88536884fed553a6a8eb4b04a1199",
}


def canonical_json(value: Any) -> str:
    """The canonical text of a JSON value: sorted keys, no whitespace, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_hash(value: Any) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class SuiteTask:
    """One entry of a suite."""

    name: str
    env_id: str
    kwargs: dict[str, Any]
    episodes: int
    seed: int


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    tasks: tuple[SuiteTask, ...]
    hash: str
    data: dict[str, Any] = field(repr=False, default_factory=dict)

    def task(self, name: str) -> SuiteTask:
        for t in self.tasks:
            if t.name == name:
                return t
        raise ValueError(f"suite {self.name!r} has no task {name!r}; its tasks: {[t.name for t in self.tasks]}")

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]


def available_suites() -> list[str]:
    """Names of the suite files shipped with the package."""
    return sorted(p.stem[len("suite_"):] for p in SUITE_DIR.glob("suite_*.json"))


def parse_suite(data: dict[str, Any]) -> Suite:
    """A ``Suite`` from the parsed content of a suite file (checked: names unique, episodes and seeds valid)."""
    try:
        tasks = []
        for i, t in enumerate(data["tasks"]):
            unknown = sorted(set(t) - {"name", "env_id", "kwargs", "episodes", "seed"})
            if unknown:
                raise ValueError(f"tasks[{i}] has unknown field(s) {unknown}")
            if not (isinstance(t["episodes"], int) and t["episodes"] >= 1 and isinstance(t["seed"], int) and t["seed"] >= 0):
                raise ValueError(f"tasks[{i}] ({t.get('name')}): episodes must be an int >= 1 and seed an int >= 0")
            tasks.append(SuiteTask(t["name"], t["env_id"], dict(t["kwargs"]), t["episodes"], t["seed"]))
        suite = Suite(data["name"], int(data["version"]), data.get("description", ""), tuple(tasks),
                      content_hash(data), data)
    except KeyError as err:
        raise ValueError(f"suite file lacks the field {err.args[0]!r}") from None
    names = suite.task_names
    if len(set(names)) != len(names):
        raise ValueError(f"suite {suite.name!r} has duplicate task names: {names}")
    return suite


def load_suite(name_or_path: str | Path = "v0") -> Suite:
    """A shipped suite by name (``"v0"``, ``"omniglot"``) or a suite file by path."""
    path = Path(name_or_path)
    if not path.suffix == ".json":
        path = SUITE_DIR / f"suite_{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"unknown suite {name_or_path!r}; available: {available_suites()} (or a path to a suite .json)")
    return parse_suite(read_json_file(path, "suite file"))
