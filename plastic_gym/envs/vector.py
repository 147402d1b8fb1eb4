"""``PlasticVectorEnv``: N episodes of a task generated and stepped together with numpy (no loop over envs)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..core.player import EpisodePlayer
from ..core.rng import episode_keys
from ..core.task import Task


def _with_masks(info: dict[str, Any], num_envs: int) -> dict[str, Any]:
    """Gymnasium's vector info layout: every key ``k`` gets a boolean mask ``_k`` (all envs report every key)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = _with_masks(value, num_envs) if isinstance(value, dict) else value
        out[f"_{key}"] = np.ones(num_envs, dtype=bool)
    return out


_AUTORESET_MODES = {"nextstep": AutoresetMode.NEXT_STEP, "samestep": AutoresetMode.SAME_STEP}


class PlasticVectorEnv(VectorEnv):
    """A native vector env over one task: all N episodes are generated in one batch and stepped in lockstep.

    Episodes of a task all have the same length, so every env terminates at the same step. Autoreset
    follows gymnasium 1.x: ``"next_step"`` (default: the call after the last step resets every env, ignores
    the actions and returns zero rewards) or ``"same_step"`` (the last step already returns the next
    episode's first observation; the terminal one is in ``info["final_obs"]``, its info in ``info["final_info"]``).

    Seeding: ``reset(seed=s)`` gives env i the episode of ``gym.make(id).reset(seed=s + i)``; later episodes
    follow the same key sequence as that env's unseeded resets.
    """

    task_class: ClassVar[type[Task]]
    #: What steps the task's episodes: ``EpisodePlayer`` (SPEC section 2) or ``InteractivePlayer`` (section 6).
    player_class: ClassVar[type] = EpisodePlayer
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"],
                                          "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP, **task_kwargs: Any):
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        mode_name = str(getattr(autoreset_mode, "value", autoreset_mode)).lower().replace("_", "")
        autoreset_mode = _AUTORESET_MODES.get(mode_name)
        if autoreset_mode is None:
            raise ValueError('autoreset_mode must be "next_step" or "same_step" (or a gymnasium AutoresetMode)')
        self.metadata = {**self.metadata, "autoreset_mode": autoreset_mode}
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.task = self.task_class.from_kwargs(**task_kwargs)
        self.single_observation_space = self.task.observation_space
        self.single_action_space = self.task.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._player = self.player_class(self.task)
        self._keys: np.ndarray | None = None
        self._needs_reset = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, (list, tuple, np.ndarray)):
            raise ValueError("PlasticVectorEnv.reset takes one int seed (env i gets seed + i), not a list")
        super().reset(seed=seed)
        self._keys = episode_keys(self._keys, seed, self.np_random, self.num_envs)
        self._needs_reset = False
        return self._player.start(self._keys), {}

    def step(self, actions):
        n = self.num_envs
        if self._needs_reset:  # next-step autoreset: this call only starts the next episodes
            obs, info = self.reset()
            return obs, np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), info
        obs, rewards, info = self._player.step(actions)
        done = self._player.done
        terminations = np.full(n, done, dtype=bool)
        info = _with_masks(info, n)
        if done:
            if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
                final_obs, final_info = obs, info
                obs, info = self.reset()
                info = {"final_obs": final_obs, "_final_obs": terminations.copy(),
                        "final_info": final_info, "_final_info": terminations.copy()}
            else:
                self._needs_reset = True
        return obs, rewards, terminations, np.zeros(n, dtype=bool), info

    def render(self):
        """One text or picture per env (a tuple), as ``SyncVectorEnv`` returns them."""
        if self.render_mode == "ansi":
            return tuple(self._player.render_text(i) for i in range(self.num_envs))
        if self.render_mode == "rgb_array":
            frames = tuple(self._player.render_rgb(i) for i in range(self.num_envs))
            return frames if frames[0] is not None else None  # nothing to draw before reset
        return None

    @property
    def episodes(self):
        """The current batch of episodes (privileged: for oracles and tests, never for agents)."""
        return self._player.episodes

    @property
    def t(self) -> int:
        """The step index that the next ``step`` call scores."""
        return self._player.t
