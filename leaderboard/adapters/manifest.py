"""Manifests: ``PATH.json``, ``{"metadata": {"name": ..., ...}, "tasks": {"<task name>": "<spec>", ...}}``, per-task
agents combined into one leaderboard entry (paths relative to the manifest; ``"*"`` plays every task not named).

Reading the manifest is data; loading its per-task specs runs what each of them runs (SB3 zips are unpickled,
Python specs imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plastic_gym.io import read_json_file

from ..protocol import Agent, AgentMetadata, TaskContext
from .base import AgentKind, LoadContext

#: Largest manifest read.
MAX_BYTES = 2**20


class ManifestFactory:
    """Per-task agents combined into one leaderboard entry (a manifest file)."""

    def __init__(self, metadata: AgentMetadata, factories: dict[str, Any]):
        self.metadata, self.factories = metadata, factories

    def for_task(self, context: TaskContext) -> Agent | None:
        factory = self.factories.get(context.name) or self.factories.get("*")
        return None if factory is None else factory.for_task(context)


def load_manifest(path: Path, context: LoadContext) -> ManifestFactory:
    """The factory of the manifest at ``path``; each per-task spec is loaded relative to its folder."""
    if path.resolve() in context.manifests:
        raise ValueError(f"agent manifest {path} names itself (through {[str(p) for p in context.manifests]}); "
                         "expected per-task specs of checkpoints, models or other manifests without a cycle")
    data = read_json_file(path, "agent manifest", max_bytes=MAX_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict) or "metadata" not in data:
        raise ValueError(f"agent manifest {path} must be an object with 'metadata' (name, ...) and 'tasks' "
                         "({task name: agent spec})")
    factories = {name: context.load(spec, base=path.parent, manifest=path) for name, spec in data["tasks"].items()}
    meta = AgentMetadata.coerce(data["metadata"], default_name=path.stem, source=context.spec)
    return ManifestFactory(meta, factories)


def check_suite_tasks(factory: Any, task_names: list[str]) -> None:
    """A manifest naming a task the suite lacks is an error (it would never be played, and its suite task would
    silently fall back to no-memory)."""
    named = getattr(factory, "factories", None)
    if isinstance(factory, ManifestFactory) and isinstance(named, dict):
        unknown = sorted(set(named) - {*task_names, "*"})
        if unknown:
            raise ValueError(f"agent {factory.metadata.name!r} ({factory.metadata.source}) names task(s) {unknown} "
                             f"that the suite does not have; its tasks: {task_names}")


def _load(rest: str, context: LoadContext) -> ManifestFactory:
    return load_manifest(context.resolve(rest), context)


def _describe(rest: str) -> str:
    return (f"reads the manifest {rest!r} and loads each of its per-task specs, which may name SB3 zips (pickle) or "
            "Python modules (imported and run)")


#: ``PATH.json`` (also ``manifest:PATH``).
KIND = AgentKind("manifest", _load, _describe, suffixes=(".json",))
