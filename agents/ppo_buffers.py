"""Rollout storage of ``PlasticPPO``.

A rollout buffer holds SB3's per-step arrays (``[n_steps, n_envs, ...]``: obs, action, reward, value, log-prob,
advantage, return, episode-start flag) plus ONE packed plastic state per env: the state before the first step of
the rollout. Nothing else of the plastic state is stored, so storage does not grow with n_steps times the state size.
The update reads the buffer by windows (``agents/ppo_windows.py``): ``window_batch`` gathers a minibatch of them.
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer

from .ppo_windows import WindowBatch, Windows

__all__ = ["PlasticDictRolloutBuffer", "PlasticRolloutBuffer"]


class _WindowBufferMixin:
    """Adds the per-env rollout-start states and window minibatches to an SB3 rollout buffer."""

    def _init_state(self, hidden_size: int) -> None:
        """Room for the packed rollout-start state: ``(h, c)``, each ``[n_envs, hidden_size]`` (``PlasticCore``)."""
        self.hidden_size = int(hidden_size)
        self.start_h = np.zeros((self.n_envs, self.hidden_size), np.float32)
        self.start_c = np.zeros((self.n_envs, self.hidden_size), np.float32)

    def set_start_state(self, state: tuple[th.Tensor, th.Tensor]) -> None:
        """Store the packed state ``(h, c)`` of every env before the first step of this rollout."""
        self.start_h[:] = state[0][0].detach().cpu().numpy()
        self.start_c[:] = state[1][0].detach().cpu().numpy()

    def storage_arrays(self) -> dict[str, np.ndarray]:
        """Every array this buffer keeps, by name (the rollout storage measured by ``benchmarks/ppo_memory.py``)."""
        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        if isinstance(getattr(self, "observations", None), dict):
            arrays.update({f"observations.{k}": v for k, v in self.observations.items()})
        return arrays

    def observations_by_env(self) -> th.Tensor | dict[str, th.Tensor]:
        """All observations env-major, ``[n_envs * n_steps, ...]`` (row ``e * n_steps + t``), for the no-grad pass."""

        def one(a: np.ndarray) -> th.Tensor:
            return self.to_torch(np.ascontiguousarray(a.swapaxes(0, 1)).reshape(-1, *a.shape[2:]), copy=False)

        if isinstance(self.observations, dict):
            return {k: one(v) for k, v in self.observations.items()}
        return one(self.observations)

    def window_batch(self, windows: Windows, rows: np.ndarray) -> WindowBatch:
        """The windows ``rows`` of ``windows``, padded to the longest of them (padding repeats the last step and is
        masked out of the loss; the forward pass is causal, so it never changes a real step's output)."""
        length = int(windows.length[rows].max())
        offset = np.arange(length)
        t = np.minimum(windows.start[rows, None] + offset, self.buffer_size - 1)  # [M, L]
        env = windows.env[rows, None]

        def take(a: np.ndarray) -> th.Tensor:
            part = a[t, env]  # [M, L, ...]: a new array (fancy indexing), so the tensor may share its memory
            return self.to_torch(part.reshape(-1, *part.shape[2:]), copy=False)

        obs = ({k: take(v) for k, v in self.observations.items()} if isinstance(self.observations, dict)
               else take(self.observations))
        mask = (offset < windows.length[rows, None]).astype(np.float32).reshape(-1)
        return WindowBatch(obs, take(self.actions), take(self.values).flatten(), take(self.log_probs).flatten(),
                           take(self.advantages).flatten(), take(self.returns).flatten(), self.to_torch(mask),
                           len(rows), length, windows.length[rows])


class PlasticRolloutBuffer(_WindowBufferMixin, RolloutBuffer):
    """SB3's ``RolloutBuffer`` (per-step data) plus one packed state per env: the state at the rollout start."""

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space, hidden_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(hidden_size)


class PlasticDictRolloutBuffer(_WindowBufferMixin, DictRolloutBuffer):
    """``PlasticRolloutBuffer`` for Dict observations."""

    def __init__(self, buffer_size: int, observation_space: spaces.Dict, action_space: spaces.Space, hidden_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(hidden_size)
