"""Evaluation: play every task of a suite with each agent on the native vector env and build a result document.

All eval episodes of a task run in one ``gym.make_vec(env_id, num_envs=episodes, **kwargs)`` reset with the
task's eval seed; the loop is over time steps only. The no-memory and oracle references are computed on the
same episodes straight from the task (``task.no_memory_actions`` / ``task.oracle_actions``, scored with
``task.episode_metrics``) and stored per episode, so every normalized score can be recomputed from the file.
Nothing is written here: the caller writes the finished document atomically (``results.write_result``), so an
interrupted evaluation leaves no file.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np

from .protocol import AgentMetadata, TaskContext, agent_sizes
from .suite import Suite, SuiteTask

#: Significant digits of the per-episode metrics stored in result files (float32 actions: 7 is all there is).
DIGITS = 7
FORMAT = "plastic-gym-result"
SCHEMA_VERSION = 1

_ORACLE_CACHE: dict[tuple, np.ndarray] = {}


def oracle_actions(task, episodes) -> np.ndarray:
    """``task.oracle_actions(episodes)``, cached per (task config, episode keys): the regression-MLP oracle fits a
    model per episode, and the reference and the oracle agent need the same actions."""
    key = (type(task).__name__, repr(sorted(task.kwargs.items())), episodes.keys.tobytes())
    if key not in _ORACLE_CACHE:
        if len(_ORACLE_CACHE) >= 4:
            _ORACLE_CACHE.pop(next(iter(_ORACLE_CACHE)))
        _ORACLE_CACHE[key] = np.asarray(task.oracle_actions(episodes))
    return _ORACLE_CACHE[key]


def rounded(values: np.ndarray) -> list[float]:
    """Per-episode values as JSON floats with ``DIGITS`` significant digits."""
    return [float(f"{v:.{DIGITS}g}") for v in np.asarray(values, np.float64)]


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("plastic-gym", "numpy", "scipy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def make_env(task: SuiteTask, episodes: int, runtime_kwargs: dict[str, Any] | None = None):
    """The vector env of a suite task with ``episodes`` envs, reset to its eval episodes."""
    import gymnasium as gym

    import plastic_gym  # noqa: F401  (registers the ids)

    env = gym.make_vec(task.env_id, num_envs=episodes, **task.kwargs, **(runtime_kwargs or {}).get(task.env_id, {}))
    obs, _ = env.reset(seed=task.seed)
    return env, obs


def reference_metrics(task, episodes) -> dict[str, np.ndarray]:
    """Per-episode primary metric of the no-memory and oracle references on ``episodes``."""
    m = task.primary_metric
    return {"no_memory": task.episode_metrics(task.no_memory_actions(episodes), episodes)[m],
            "oracle": task.episode_metrics(oracle_actions(task, episodes), episodes)[m]}


def play(agent, env, obs, progress=None) -> dict[str, np.ndarray]:
    """Play the env's current episodes to the end with ``agent``; returns the per-episode metrics.

    The agent sees observations only; ``info`` (targets, metrics) is read here, by the evaluator.
    """
    n = env.num_envs
    state = agent.reset(n)
    episode_start = np.ones(n, dtype=bool)
    length = env.episodes.length
    info: dict[str, Any] = {}
    for _ in range(length):
        actions, state = agent.act(obs, state, episode_start)
        obs, _, terminated, _, info = env.step(actions)
        episode_start = np.zeros(n, dtype=bool)
        if progress is not None:
            progress.update(1)
    if "episode_metrics" not in info or not terminated.all():
        raise RuntimeError("the episodes did not end after episode_length steps")
    return {k: np.asarray(v, np.float64) for k, v in info["episode_metrics"].items()}


def evaluate(factories: Iterable[Any], suite: Suite, episodes: int | None = None, seed: int = 0,
             progress: bool = True, runtime_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate agent factories on ``suite``; returns the result document (see ``schema.json``).

    ``episodes`` overrides every task's eval episode count (the first ``episodes`` of the suite's episodes);
    ``seed`` seeds the agents' own randomness (e.g. the random agent); ``runtime_kwargs`` maps an env id to
    kwargs that do not change the task (e.g. ``{"PlasticOmniglot-v0": {"root": PATH}}``) and are not recorded.
    """
    from tqdm.auto import tqdm

    from plastic_gym import make_task

    from . import scoring

    factories = list(factories)
    names = [f.metadata.name for f in factories]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique in one evaluation, got {names}")
    if episodes is not None and (not isinstance(episodes, int) or episodes < 1):
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    started = time.time()
    counts = {t.name: episodes or t.episodes for t in suite.tasks}
    runs: list[dict[str, Any]] = [{} for _ in factories]
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
            refs = reference_metrics(task, env.episodes)
            task_entries.append({
                "name": t.name, "env_id": t.env_id, "kwargs": t.kwargs, "episodes": n, "seed": t.seed,
                "primary_metric": task.primary_metric, "higher_is_better": bool(task.higher_is_better),
                "references": {k: rounded(v) for k, v in refs.items()},
            })
            for i, factory in enumerate(factories):
                if i:
                    obs0 = env.reset(seed=t.seed)[0]
                meta: AgentMetadata = factory.metadata
                context = TaskContext(t.name, t.env_id, dict(t.kwargs), task, env.single_observation_space,
                                      env.single_action_space, n, seed=seed, env=env if meta.privileged else None)
                agent = factory.for_task(context)
                if agent is None:  # cannot play this task: the no-memory reference plays it (normalized 0)
                    metrics, fallback = {task.primary_metric: refs["no_memory"]}, True
                    bar.update(lengths[t.name])
                else:
                    sizes[i].append(agent_sizes(agent))  # before playing: a malformed report fails at once
                    metrics, fallback = play(agent, env, obs0, bar), False
                runs[i][t.name] = {
                    "primary": rounded(metrics[task.primary_metric]),
                    "means": {k: float(np.mean(v)) for k, v in metrics.items()},
                    "fallback": fallback,
                }
            env.close()
    agents = []
    for factory, run, reported in zip(factories, runs, sizes):
        metadata = factory.metadata.with_sizes(reported)
        agents.append({"metadata": metadata.to_dict(), "seed": seed, "runs": [run],
                       "scores": scoring.score(task_entries, [run])})
    return {
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


def table(doc: dict[str, Any]) -> str:
    """A plain-text table of a result document: per task the references' raw scores and, per agent, the raw score
    and the normalized score; then the aggregates with their 95% intervals."""
    agents = doc["agents"]
    names = [a["metadata"]["name"] for a in agents]
    width = max(26, *(len(n) for n in names))
    head = f"{'task':<15} {'metric':<10} {'no-memory':>9} {'oracle':>8} | " + " | ".join(f"{n:>{width}}" for n in names)
    lines = [head, "-" * len(head)]
    for t in doc["tasks"]:
        refs = t["references"]
        cells = []
        for a in agents:
            s = a["scores"]["tasks"][t["name"]]
            fb = "*" if any(run[t["name"]].get("fallback") for run in a["runs"]) else " "
            cells.append(f"{s['score']:.4g} ({s['normalized']:+.3f}){fb}")
        lines.append(f"{t['name']:<15} {t['primary_metric']:<10} {np.mean(refs['no_memory']):>9.4f} "
                     f"{np.mean(refs['oracle']):>8.4f} | " + " | ".join(f"{c:>{width}}" for c in cells))
    lines.append("-" * len(head))
    for key in ("iqm", "mean"):
        cells = [f"{a['scores'][key]['value']:+.3f} [{a['scores'][key]['interval'][0]:+.3f}, "
                 f"{a['scores'][key]['interval'][1]:+.3f}]" for a in agents]
        lines.append(f"{key.upper() + ' normalized (95% CI)':<45} | " + " | ".join(f"{c:>{width}}" for c in cells))
    lines.append("cells: raw primary metric (normalized: 0 = no memory, 1 = oracle); * = the agent cannot play the task, "
                 "no-memory fallback")
    return "\n".join(lines)
