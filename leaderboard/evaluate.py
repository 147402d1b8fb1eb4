"""Evaluation: play every task of a suite with each agent on the native vector env and build a result document.

All eval episodes of a task run in one vector env (``episodes.make_env``); the no-memory and oracle references are
computed on the same episodes (``episodes.reference_metrics``) and stored per episode, so every normalized score can
be recomputed from the file. Nothing is written here: the caller writes the finished document atomically
(``results.write_json_atomic``), so an interrupted evaluation leaves no file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .episodes import (
    DIGITS,
    REFERENCE_POLICY_SEED,
    is_interactive,
    make_env,
    oracle_actions,
    package_versions,
    play,
    reference_metrics,
    rounded,
)
from .protocol import AgentMetadata, TaskContext, agent_sizes
from .suite import Suite
from .table import _wrap, table

#: The names this module has always offered (the episode primitives and the text table live in their own modules).
__all__ = ["DIGITS", "FORMAT", "REFERENCE_POLICY_SEED", "SCHEMA_VERSION", "AgentsFailed", "evaluate", "is_interactive",
           "make_env", "oracle_actions", "package_versions", "play", "reference_metrics", "rounded", "table", "_wrap"]

FORMAT = "plastic-gym-result"
SCHEMA_VERSION = 1


class AgentsFailed(RuntimeError):
    """Some agents raised (or exited) while playing; ``doc`` is the result document of the agents that finished every
    task (None if none did) and ``failures`` maps each failed agent's name to what went wrong and where."""

    def __init__(self, doc: dict[str, Any] | None, failures: dict[str, str]):
        self.doc, self.failures = doc, failures
        super().__init__("; ".join(f"agent {name!r} failed: {why}" for name, why in failures.items()))


def evaluate(factories: Iterable[Any], suite: Suite, episodes: int | None = None, seed: int = 0,
             progress: bool = True, runtime_kwargs: dict[str, Any] | None = None,
             diagnostics: bool = False) -> dict[str, Any]:
    """Evaluate agent factories on ``suite``; returns the result document (see ``schema.json``).

    ``episodes`` overrides every task's eval episode count (the first ``episodes`` of the suite's episodes);
    ``seed`` seeds the agents' own randomness (e.g. the random agent); ``runtime_kwargs`` maps an env id to
    kwargs that do not change the task (e.g. ``{"PlasticOmniglot-v0": {"root": PATH}}``) and are not recorded.

    An agent that raises (or calls ``exit``) while building or playing a task is dropped and the others play on;
    at the end ``AgentsFailed`` carries the document of the agents that finished, so that no finished run is lost.

    ``diagnostics``: also compute the within-episode diagnostics of every agent (``diagnostics.py``: memory span,
    plasticity ablation, bandit regret curves, on fixed episodes of the suite) into ``agents[i].diagnostics``.
    """
    from tqdm.auto import tqdm

    from plastic_gym import make_task

    from . import scoring

    factories = list(factories)
    names = [f.metadata.name for f in factories]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique in one evaluation, got {names}")
    if episodes is not None and (not isinstance(episodes, int) or episodes < 2):  # the bootstrap needs two
        raise ValueError(f"episodes must be an int >= 2, got {episodes!r}")
    started = time.time()
    counts = {t.name: episodes or t.episodes for t in suite.tasks}
    runs: list[dict[str, Any]] = [{} for _ in factories]
    failures: dict[str, str] = {}
    sizes: list[list[dict]] = [[] for _ in factories]  # what each factory's agents report of their size
    task_entries = []
    extra = runtime_kwargs or {}
    lengths = {t.name: make_task(t.env_id, **t.kwargs, **extra.get(t.env_id, {})).episode_length for t in suite.tasks}
    total = sum(lengths.values()) * len(factories)
    with tqdm(total=total, desc="evaluate", unit="step", disable=not progress, leave=False) as bar:
        for t in suite.tasks:
            n = counts[t.name]
            bar.set_postfix_str(t.name)
            env, obs0 = make_env(t, n, runtime_kwargs)
            task = env.task
            refs = reference_metrics(task, env)
            task_entries.append({
                "name": t.name, "env_id": t.env_id, "kwargs": t.kwargs, "episodes": n, "seed": t.seed,
                "primary_metric": task.primary_metric, "higher_is_better": bool(task.higher_is_better),
                "references": {k: rounded(v) for k, v in refs.items()},
            })
            for i, factory in enumerate(factories):
                if names[i] in failures:
                    bar.update(lengths[t.name])
                    continue
                if i:
                    obs0 = env.reset(seed=t.seed)[0]
                meta: AgentMetadata = factory.metadata
                context = TaskContext(t.name, t.env_id, dict(t.kwargs), task, env.single_observation_space,
                                      env.single_action_space, n, seed=seed, env=env if meta.privileged else None)
                try:
                    agent = factory.for_task(context)
                    if agent is None:  # cannot play this task: the no-memory reference plays it (normalized 0)
                        metrics, fallback = {task.primary_metric: refs["no_memory"]}, True
                        bar.update(lengths[t.name])
                    else:
                        sizes[i].append(agent_sizes(agent))  # before playing: a malformed report fails at once
                        metrics, fallback = play(agent, env, obs0, bar), False
                except SystemExit as err:  # agent code called exit(): report it, keep the others
                    failures[names[i]] = f"task {t.name}: exited during the evaluation (SystemExit({err.code!r}))"
                    continue
                except Exception as err:  # noqa: BLE001 (agent code: report it, keep the others)
                    failures[names[i]] = f"task {t.name}: {type(err).__name__}: {err}"
                    continue
                runs[i][t.name] = {
                    "primary": rounded(metrics[task.primary_metric]),
                    "means": {k: float(np.mean(v)) for k, v in metrics.items()},
                    "fallback": fallback,
                }
            env.close()
    diagnosed: dict[str, dict[str, Any]] = {}
    if diagnostics:
        from .diagnostics import diagnose

        diagnosed = diagnose([f for f in factories if f.metadata.name not in failures], suite, seed, progress,
                             runtime_kwargs, failures)
    agents = []
    for factory, run, reported in zip(factories, runs, sizes, strict=True):
        if factory.metadata.name in failures:
            continue
        metadata = factory.metadata.with_sizes(reported)
        agents.append({"metadata": metadata.to_dict(), "seed": seed, "runs": [run],
                       "scores": scoring.score(task_entries, [run])})
        if factory.metadata.name in diagnosed:
            agents[-1]["diagnostics"] = diagnosed[factory.metadata.name]
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": round(time.time() - started, 3),
        "versions": package_versions(),
        "bootstrap": scoring.bootstrap_method(),
        "tasks": task_entries,
        "agents": agents,
    }
    if failures:
        raise AgentsFailed(doc if agents else None, failures)
    return doc
