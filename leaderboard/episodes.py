"""Playing a suite task's eval episodes: its vector env, the no-memory and oracle references on the same episodes,
and the step loop that plays an agent to the end of every episode (the evaluator's and the diagnostics' shared
primitives).

All eval episodes of a task run in one ``gym.make_vec(env_id, num_envs=episodes, **kwargs)`` reset with the
task's eval seed; the loop is over time steps only. The references are computed on the same episodes straight from
the task (``task.no_memory_actions`` / ``task.oracle_actions``, scored with ``task.episode_metrics``).
"""

from __future__ import annotations

import contextlib
import platform
from typing import Any

import numpy as np

from .suite import SuiteTask

#: Significant digits of the per-episode metrics stored in result files (float32 actions: 7 is all there is).
DIGITS = 7

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
    """The Python version and the installed versions of the packages a result depends on (those installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("plastic-gym", "numpy", "scipy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def make_env(task: SuiteTask, episodes: int, runtime_kwargs: dict[str, Any] | None = None):
    """The vector env of a suite task with ``episodes`` envs, reset to its eval episodes."""
    import gymnasium as gym

    import plastic_gym  # noqa: F401  (registers the ids)

    env = gym.make_vec(task.env_id, num_envs=episodes, **task.kwargs, **(runtime_kwargs or {}).get(task.env_id, {}))
    obs, _ = env.reset(seed=task.seed)
    return env, obs


#: Seed of the random numbers of the interactive tasks' no-memory reference (a random policy): fixed, so that a
#: result file's references can be replayed exactly, and shared with the ``no-memory`` agent, which therefore plays
#: the same actions and scores exactly 0.
REFERENCE_POLICY_SEED = 0


def is_interactive(task) -> bool:
    """Whether ``task`` is an interactive (meta-RL) task (SPEC section 6), played by policies rather than read from
    pre-generated episodes."""
    return getattr(task, "kind", None) == "interactive"


def reference_metrics(task, env) -> dict[str, np.ndarray]:
    """Per-episode primary metric of the no-memory and oracle references on the episodes ``env`` was reset to.

    Suite-v0 tasks: the references' actions are computed from the episodes (``task.no_memory_actions``,
    ``task.oracle_actions``). Interactive tasks: the task's ``"no_memory"`` and ``"oracle"`` reference policies play
    the same episode keys (``rollout``), the random policy with ``REFERENCE_POLICY_SEED``.
    """
    m = task.primary_metric
    if is_interactive(task):
        from plastic_gym.core.interactive import rollout

        keys = env.state["keys"]
        return {name: rollout(task, task.references[name](task), keys, REFERENCE_POLICY_SEED)[m]
                for name in ("no_memory", "oracle")}
    episodes = env.episodes
    return {"no_memory": task.episode_metrics(task.no_memory_actions(episodes), episodes)[m],
            "oracle": task.episode_metrics(oracle_actions(task, episodes), episodes)[m]}


def play(agent, env, obs, progress=None, on_step=None) -> dict[str, np.ndarray]:
    """Play the env's current episodes to the end with ``agent``; returns the per-episode metrics.

    The agent sees observations only; ``info`` (targets, metrics) is read here, by the evaluator, and handed with
    the step's actions to ``on_step(actions, info)`` after every step if given (the diagnostics' per-step curves).
    """
    n = env.num_envs
    state = agent.reset(n)
    episode_start = np.ones(n, dtype=bool)
    length = env.task.episode_length
    info: dict[str, Any] = {}
    for _ in range(length):
        actions, state = agent.act(obs, state, episode_start)
        obs, _, terminated, _, info = env.step(actions)
        episode_start = np.zeros(n, dtype=bool)
        if on_step is not None:
            on_step(actions, info)
        if progress is not None:
            progress.update(1)
    if "episode_metrics" not in info or not terminated.all():
        raise RuntimeError("the episodes did not end after episode_length steps")
    return {k: np.asarray(v, np.float64) for k, v in info["episode_metrics"].items()}
