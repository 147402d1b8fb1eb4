"""``PlasticParallelEnv``: what every multi-agent task shares (seeding, action checks, episode lifecycle, factories).

A multi-agent episode, like a single-agent one, is a pure function of one 64-bit key (``plastic_gym.core.rng``);
the agents' actions are the only other input. Subclasses draw everything random from ``KeyedRandom(key)`` or
from a single-agent task's ``generate(key)``, so no task logic is written twice.
"""

from __future__ import annotations

import inspect
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec

from ..core.rng import episode_keys
from ..core.task import check_actions, reject_unknown_kwargs


class PlasticParallelEnv(ParallelEnv):
    """Base class of the plastic-gym PettingZoo envs: a fixed set of agents that all act at every step.

    Subclasses set ``possible_agents`` and the per-agent spaces in ``__init__`` (through ``_set_spaces``) and
    implement ``_start(key)``, ``_step(actions)`` and ``_render_lines()``. Every episode lasts ``episode_length``
    steps and ends for all agents at once (``terminations`` all True, zero observations); there is no truncation.

    Seeding follows ``PlasticEnv``: ``reset(seed=s)`` always plays the same episode; later unseeded resets play a
    fixed sequence of further episodes (each key derived from the previous one).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "name": "plastic_parallel_env",
                                          "is_parallelizable": True, "render_fps": 4}

    def __init__(self, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.agents: list[str] = []
        self._key: np.ndarray | None = None
        self._started = False
        self.t = 0

    # -- spaces -------------------------------------------------------------------------------------------
    def _set_spaces(self, agents: list[str], observation_space: spaces.Space, action_space: spaces.Space) -> None:
        """Every agent gets the same (shared, cached) spaces, which is what parameter sharing needs."""
        self.possible_agents = list(agents)
        self.observation_spaces = {a: observation_space for a in agents}
        self.action_spaces = {a: action_space for a in agents}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[self._known(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[self._known(agent)]

    def _known(self, agent: str) -> str:
        if agent not in self.observation_spaces:
            raise ValueError(f"unknown agent {agent!r}; expected one of {self.possible_agents}")
        return agent

    # -- episode lifecycle ----------------------------------------------------------------------------------
    @property
    @abstractmethod
    def episode_length(self) -> int:
        """T, the number of steps of every episode."""

    def reset(self, seed: int | None = None, options: dict | None = None):
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be a dict or None, got {type(options).__name__}")
        self._key = episode_keys(self._key, seed, np.random.default_rng())
        self.agents = list(self.possible_agents)
        self.t = 0
        self._started = True
        obs = self._start(self._key)
        return obs, {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self._started:
            raise RuntimeError("step() called before reset(): call reset() to start an episode")
        if not self.agents:
            raise RuntimeError("step() called after the episode ended (all agents terminated): call reset() first")
        if not isinstance(actions, dict) or set(actions) != set(self.agents):
            got = sorted(actions) if isinstance(actions, dict) else type(actions).__name__
            raise ValueError(f"step() expects a dict with one action for each of {self.agents}, got {got}")
        checked = {a: check_action(self.action_spaces[a], actions[a], a) for a in self.agents}
        obs, rewards, infos = self._step(checked)
        self.t += 1
        done = self.t >= self.episode_length
        if done:
            obs = {a: np.zeros(self.observation_spaces[a].shape, self.observation_spaces[a].dtype) for a in self.agents}
            self.agents = []
        terminations = {a: done for a in self.possible_agents}
        truncations = {a: False for a in self.possible_agents}
        return obs, rewards, terminations, truncations, infos

    @abstractmethod
    def _start(self, key: np.ndarray) -> dict[str, np.ndarray]:
        """Generate the episode of ``key`` (shape ``[1]``) and return every agent's first observation."""

    @abstractmethod
    def _step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict]:
        """Score the checked actions of step ``self.t``; return (next observations, rewards, infos) per agent."""

    # -- rendering ---------------------------------------------------------------------------------------
    def render(self) -> str | None:
        """``"ansi"``: the episode so far as text (returned); ``"human"``: the same text printed to stdout (returns
        None, as PettingZoo's ``render_test`` expects); no render mode: None."""
        if self.render_mode is None:
            return None
        text = self._render_text()
        if self.render_mode == "human":
            print(text, end="", flush=True)
            return None
        return text

    def _render_text(self) -> str:
        if not self._started:
            return "(not started: call reset())\n"
        head = f"{type(self).__name__} episode, step {self.t}/{self.episode_length}"
        return "\n".join([head, *self._render_lines()]) + "\n"

    @abstractmethod
    def _render_lines(self) -> list[str]:
        """One line per step taken so far (the text of the ``ansi`` and ``human`` views)."""

    def close(self):
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"

    @property
    def kwargs(self) -> dict[str, Any]:
        """The env's configuration (every constructor argument but ``render_mode``)."""
        return {n: getattr(self, n) for n in _kwarg_names(type(self))}


def check_action(space: spaces.Space, action: Any, agent: str) -> Any:
    """One agent's action, checked against its space (``core.task.check_actions``, bounds included): an int for
    ``Discrete``, a float32 array for ``Box``. Raises ``ValueError`` naming the agent and what was expected."""
    checked = check_actions(space, action, (), who=f"action of {agent}", check_bounds=True)
    return int(checked) if isinstance(space, spaces.Discrete) else checked


def _kwarg_names(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "render_mode")]


def factories(cls: type[PlasticParallelEnv]):
    """PettingZoo-style module functions for an env class: ``parallel_env(**kw)``, ``env(**kw)`` (AEC), ``raw_env``.

    Unknown kwargs are a ``ValueError`` that lists the valid ones (not a ``TypeError``), as for the single-agent tasks.
    """

    def parallel_env(**kwargs: Any) -> PlasticParallelEnv:
        reject_unknown_kwargs(cls, kwargs)
        return cls(**kwargs)

    def env(**kwargs: Any):
        """The AEC view (``pettingzoo.utils.parallel_to_aec``): agents act one after another within a step."""
        return parallel_to_aec(parallel_env(**kwargs))

    parallel_env.__doc__ = f"The ``ParallelEnv`` view. {cls.__doc__}"
    return parallel_env, env, env


def run_episodes(env: PlasticParallelEnv, policy, n_episodes: int, seed: int = 0) -> np.ndarray:
    """The return (sum of rewards) of each of ``n_episodes`` episodes played by ``policy``: ``[n_episodes, agents]``.

    ``policy(env, observations, memory) -> actions`` sees the env (scripted references may read its privileged
    episode data) and a ``memory`` dict that starts empty each episode. Episode e is played with ``seed + e``.
    """
    returns = np.zeros((n_episodes, len(env.possible_agents)))
    for e in range(n_episodes):
        obs, _ = env.reset(seed=seed + e)
        memory: dict = {}
        while env.agents:
            obs, rewards, *_ = env.step(policy(env, obs, memory))
            returns[e] += [rewards[a] for a in env.possible_agents]
    return returns
