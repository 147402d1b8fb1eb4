"""``PlasticEnv``: one episode of a task at a time, as a ``gymnasium.Env``."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from ..core.player import EpisodePlayer
from ..core.rng import episode_keys
from ..core.task import Task


def _scalar(value: Any) -> Any:
    """Row 0 of a batch-of-one info value, as a plain Python scalar where it is one (check_env wants bools)."""
    if isinstance(value, dict):
        return {k: _scalar(v) for k, v in value.items()}
    item = value[0]
    if isinstance(item, np.ndarray):
        return item
    return item.item() if isinstance(item, np.generic) else item


def _row0(obs):
    """The observation of the only episode of a batch of one."""
    return {k: v[0] for k, v in obs.items()} if isinstance(obs, dict) else obs[0]


class PlasticEnv(gym.Env):
    """Base class of the plastic-gym envs: subclasses set ``task_class`` and document the task.

    Seeding follows gymnasium: ``reset(seed=s)`` always plays the same episode, and later unseeded resets
    play a fixed sequence of further episodes (each one's key is derived from the previous key), so env i
    of a vector env reset with ``seed=s`` plays exactly what this env plays after ``reset(seed=s + i)``.
    """

    task_class: ClassVar[type[Task]]
    #: What steps the task's episodes: ``EpisodePlayer`` (SPEC section 2) or ``InteractivePlayer`` (section 6).
    player_class: ClassVar[type] = EpisodePlayer
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, **task_kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.task = self.task_class.from_kwargs(**task_kwargs)
        self.observation_space = self.task.observation_space
        self.action_space = self.task.action_space
        self._player = self.player_class(self.task)
        self._key: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._key = episode_keys(self._key, seed, self.np_random)
        return _row0(self._player.start(self._key)), {}

    def step(self, action):
        batch_action = np.asarray(action)[None] if not isinstance(action, dict) else action
        obs, reward, info = self._player.step(batch_action)
        return _row0(obs), float(reward[0]), bool(self._player.done), False, _scalar(info)

    def render(self):
        if self.render_mode == "ansi":
            return self._player.render_text(0)
        if self.render_mode == "rgb_array":
            return self._player.render_rgb(0)
        return None

    @property
    def episodes(self):
        """The current episode as a batch of one (privileged: for oracles and tests, never for agents)."""
        return self._player.episodes
