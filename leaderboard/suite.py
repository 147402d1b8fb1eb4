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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file
from plastic_gym.validation import require

SUITE_DIR = Path(__file__).resolve().parent

#: The content hash of every released suite file (a test checks them; never edit a released suite).
SUITE_HASHES = {
    "v0": "sha256:401042a47c955f0fa7c07ca314b3a6c3ac1f164879d2336c7e527ef72a717f7e",
    "omniglot": "sha256:11a7ebef9406e8c4581f2a07cf35990e32b88536884fed553a6a8eb4b04a1199",
    "rl-v0": "sha256:7351dd82749a7df29b43a5271736eef97203cef4b99cf8ae34c029f284233787",
    "omniglot-v1": "sha256:f3e033a630220f45d52a8e49f0a06feae0f116d9ed08a5c2ce85f09ad0e206e5",
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

    def subset(self, names: Sequence[str]) -> Suite:
        """The tasks ``names`` of this suite alone, with the same episodes, as a suite of its own named
        ``<suite>-<task>_<task>...``: to play or diagnose a few tasks without the others (its own hash, so no board
        of the full suite takes its results)."""
        named = {self.task(n).name for n in names}  # an unknown name: task()'s error
        wanted = [n for n in self.task_names if n in named]  # in the suite's order
        require(bool(wanted), f"suite {self.name!r}: expected at least one task name; its tasks: {self.task_names}")
        data = dict(self.data)
        data["name"] = f"{self.name}-{'_'.join(wanted)}"
        data["description"] = f"The task(s) {wanted} of suite {self.name!r} alone, with the same episodes."
        data["tasks"] = [t for t in self.data["tasks"] if t["name"] in wanted]
        return parse_suite(data, f"suite {self.name!r} restricted to {wanted}")


def available_suites() -> list[str]:
    """Names of the suite files shipped with the package."""
    return sorted(p.stem[len("suite_"):] for p in SUITE_DIR.glob("suite_*.json"))


def parse_suite(data: Any, where: str = "suite file") -> Suite:
    """A ``Suite`` from the parsed content of a suite file; every field is checked (names are leaderboard names and
    unique, env ids strings, kwargs objects, episodes ints >= 2 (the bootstrap needs two), seeds ints >= 0, no
    unknown fields); a bad one is a ``ValueError`` naming ``where`` and the field."""
    from .protocol import valid_name

    def fail(message: str):
        raise ValueError(f"{where}: {message}")

    if not isinstance(data, dict):
        fail(f"expected a JSON object with name, version, tasks, found {type(data).__name__}")
    unknown = sorted(set(data) - {"name", "version", "description", "tasks"})
    if unknown:
        fail(f"unknown field(s) {unknown}; expected name, version, description, tasks")
    for key in ("name", "version", "tasks"):
        if key not in data:
            fail(f"lacks the field {key!r}")
    if not valid_name(data["name"]):
        fail(f"name must be a leaderboard name (letters, digits, '.', '_', '-'), found {data['name']!r}")
    if isinstance(data["version"], bool) or not isinstance(data["version"], int):
        fail(f"version must be an int, found {data['version']!r}")
    if not isinstance(data.get("description", ""), str):
        fail("description must be a string")
    if not isinstance(data["tasks"], list) or not data["tasks"]:
        fail("tasks must be a non-empty list")
    tasks = []
    for i, t in enumerate(data["tasks"]):
        if not isinstance(t, dict):
            fail(f"tasks[{i}] must be an object")
        unknown = sorted(set(t) - {"name", "env_id", "kwargs", "episodes", "seed"})
        missing = sorted({"name", "env_id", "kwargs", "episodes", "seed"} - set(t))
        if unknown or missing:
            fail(f"tasks[{i}] has unknown field(s) {unknown} / lacks {missing}")
        ok = (valid_name(t["name"]) and isinstance(t["env_id"], str) and isinstance(t["kwargs"], dict)
              and all(isinstance(t[k], int) and not isinstance(t[k], bool) for k in ("episodes", "seed"))
              and t["episodes"] >= 2 and t["seed"] >= 0)
        if not ok:
            fail(f"tasks[{i}] ({t.get('name')!r}): expected a leaderboard name, a string env_id, an object kwargs, "
                 "episodes an int >= 2 and seed an int >= 0")
        tasks.append(SuiteTask(t["name"], t["env_id"], dict(t["kwargs"]), t["episodes"], t["seed"]))
    try:
        digest = content_hash(data)
    except ValueError as err:  # NaN or inf in kwargs
        fail(f"not canonical JSON: {err}")
    suite = Suite(data["name"], data["version"], data.get("description", ""), tuple(tasks), digest, data)
    names = suite.task_names
    if len(set(names)) != len(names):
        fail(f"duplicate task names: {names}")
    return suite


def load_suite(name_or_path: str | Path = "v0") -> Suite:
    """A shipped suite by name (``"v0"``, ``"omniglot"``) or a suite file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = SUITE_DIR / f"suite_{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"unknown suite {name_or_path!r}; available: {available_suites()} (or a path to a suite "
                             ".json)")
    return parse_suite(read_json_file(path, "suite file", max_bytes=2**20), f"suite file {path}")
