"""The reference agents: ``random``, ``no-memory``, the privileged ``oracle`` on every task, and the classical
algorithms of the interactive tasks (SPEC section 6: Thompson sampling, UCB1, ...) on the tasks that have them.

Their specs are plain names (``--agent no-memory``); they run package code only.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from gymnasium import spaces

from ..episodes import REFERENCE_POLICY_SEED, is_interactive, oracle_actions
from ..protocol import Agent, AgentMetadata, TaskContext
from .base import AgentKind, LoadContext

#: The classical algorithms of the interactive tasks (SPEC section 6), by agent name -> the task's reference name.
#: Non-privileged, shown as unranked reference rows; a task without that reference falls back to no-memory.
CLASSICAL_REFERENCES = {"thompson": "thompson", "thompson-window": "thompson_window", "ucb1": "ucb1",
                        "wsls": "wsls", "explore-exploit": "explore_exploit"}

REFERENCE_AGENTS = ("random", "no-memory", "oracle", *CLASSICAL_REFERENCES)


class RandomAgent:
    """Uniform random actions from the action space (numpy, seeded; ``seed`` may be a sequence of ints)."""

    def __init__(self, action_space: spaces.Space, seed: int | tuple[int, ...] = 0):
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int):
        return None

    def act(self, obs, state, episode_start):
        n = len(episode_start)
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return space.start + self.rng.integers(0, space.n, n), state
        low = np.broadcast_to(space.low, space.shape)
        high = np.broadcast_to(space.high, space.shape)
        return self.rng.uniform(low, high, (n, *space.shape)).astype(space.dtype), state


class NoMemoryAgent:
    """The task's no-memory actions (``task.no_memory_actions``: the target mean 0, or a fixed class).

    Those actions may depend on the step index (a clock is not memory of the episode), so they are read as a
    per-step table from one generated episode; the state is the step counter.
    """

    def __init__(self, task):
        from plastic_gym.core.rng import seed_keys

        self.table = np.asarray(task.no_memory_actions(task.generate(seed_keys([0]))))[0]  # [T, *action_shape]

    def reset(self, num_envs: int):
        return 0

    def act(self, obs, state, episode_start):
        t = np.where(np.asarray(episode_start), 0, state)
        t = int(np.max(t)) if np.size(t) else 0
        actions = np.repeat(self.table[t][None], len(episode_start), axis=0)
        return actions, t + 1


class OracleAgent:
    """Privileged upper reference: reads the vector env's ``episodes`` and ``t`` and plays
    ``task.oracle_actions(episodes)[:, t]`` (cached per batch of episodes)."""

    def __init__(self, task, env):
        if env is None:
            raise RuntimeError("the oracle is privileged: it needs the vector env (TaskContext.env)")
        self.task, self.env = task, env

    def reset(self, num_envs: int):
        return None

    def act(self, obs, state, episode_start):
        return oracle_actions(self.task, self.env.episodes)[:, self.env.t], state


class PolicyAgent:
    """A reference policy of an interactive task (``task.references[name]``, SPEC section 6) as an ``Agent``.

    Non-privileged policies see the observations only (their task state argument is None); the privileged oracle
    reads the vector env's current task state (``env.state``). The policies play lockstep batches: every env starts
    its episode at the same step, as in the native vector env.
    """

    def __init__(self, task, name: str, seed: Any = 0, env=None):
        self.policy = task.references[name](task)
        if self.policy.privileged and env is None:
            raise RuntimeError(f"the {name!r} reference is privileged: it needs the vector env (TaskContext.env)")
        self.env, self.seed = env, seed

    def reset(self, num_envs: int):
        return self.policy.reset(num_envs, np.random.default_rng(self.seed))

    def act(self, obs, state, episode_start):
        episode_start = np.asarray(episode_start, dtype=bool)
        if episode_start.any():
            if not episode_start.all():
                raise ValueError("reference policies play lockstep batches: every env must start its episode at the "
                                 f"same step, got episode_start={episode_start.tolist()}")
            state = self.reset(len(episode_start))
        task_state = self.env.state if self.policy.privileged else None
        actions, state = self.policy.act(task_state, np.asarray(obs), state)
        return np.asarray(actions, np.int64), state


class ReferenceFactory:
    """Factory of one of the reference agents: random, no-memory and the privileged oracle on every task, and the
    classical algorithms of the interactive tasks (``CLASSICAL_REFERENCES``) on the tasks that have them."""

    _META = {
        "random": dict(state_floats=0, description="uniform random actions from the action space"),
        "no-memory": dict(state_floats=0, description="the best output without memory: target mean 0, or class 0; "
                                                      "interactive tasks: the random policy (random walk)"),
        "oracle": dict(state_floats=None, privileged=True,
                       description="privileged upper reference: reads the episode (task.oracle_actions) or, on "
                                   "interactive tasks, the hidden task state (best arm, rewarded object, shortest "
                                   "path)"),
        "thompson": dict(reference=True, description="Thompson sampling with Beta(1, 1) priors (bandits)"),
        "thompson-window": dict(reference=True, description="Thompson sampling over the last 20 pulls (bandits; "
                                                            "tracks a reversal)"),
        "ucb1": dict(reference=True, description="UCB1 (Auer et al. 2002) (bandits)"),
        "wsls": dict(reference=True, description="win-stay lose-shift (bandits, Harlow)"),
        "explore-exploit": dict(reference=True, description="Bayes-optimal explore then exploit (Harlow: random "
                                                            "first pick, then the rewarded object; maze: systematic "
                                                            "explorer, then shortest paths)"),
    }

    def __init__(self, kind: str, seed: int = 0):
        if kind not in REFERENCE_AGENTS:
            raise ValueError(f"unknown reference agent {kind!r}; expected one of {REFERENCE_AGENTS}")
        self.kind, self.seed = kind, seed
        self.metadata = AgentMetadata(name=kind, parameters=0, regime="none", source=kind, **self._META[kind])

    def for_task(self, context: TaskContext) -> Agent | None:
        task = context.task
        if self.kind == "random":
            return RandomAgent(context.action_space, seed=(self.seed, zlib.crc32(context.name.encode())))
        if self.kind in CLASSICAL_REFERENCES:
            name = CLASSICAL_REFERENCES[self.kind]
            if not (is_interactive(task) and name in task.references):
                return None
            return PolicyAgent(task, name, seed=(self.seed, zlib.crc32(context.name.encode())))
        if is_interactive(task):  # the task's own no-memory (the same random numbers as its reference) and oracle
            if self.kind == "no-memory":
                return PolicyAgent(task, "no_memory", seed=REFERENCE_POLICY_SEED)
            return PolicyAgent(task, "oracle", env=context.env)
        if self.kind == "no-memory":
            return NoMemoryAgent(task)
        return OracleAgent(task, context.env)


def _load(name: str, context: LoadContext) -> ReferenceFactory:
    return ReferenceFactory(name, context.seed)


def _describe(name: str) -> str:
    return f"the built-in reference agent {name!r} (package code only)"


#: ``random``, ``no-memory``, ``oracle``, ... (also as ``reference:NAME``).
KIND = AgentKind("reference", _load, _describe, names=REFERENCE_AGENTS)
