"""Rollout storage of ``PlasticPPO`` and the windows its update trains on.

A rollout buffer holds SB3's per-step arrays (``[n_steps, n_envs, ...]``: obs, action, reward, value, log-prob,
advantage, return, episode-start flag) plus ONE packed plastic state per env: the state before the first step of
the rollout. Nothing else of the plastic state is stored, so storage does not grow with n_steps times the state size.

The update cuts every env's rollout into *windows* (``plan_windows``): a window never contains an episode start
except at its first step, and is at most ``max_len`` steps long (an episode piece longer than that is split into
near-equal windows). A window therefore starts from one of three states: zero (it begins an episode: F_0 = 0,
h_0 = 0), the stored rollout-start state (it begins the rollout mid-episode), or a state recomputed by a no-grad pass
over the rollout (it begins mid-episode inside the rollout). Minibatches of many windows then run as one call of
the parallel-over-time form with no resets inside, and the gradient is BPTT truncated at the window starts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer

__all__ = ["PlasticRolloutBuffer", "PlasticDictRolloutBuffer", "Windows", "WindowBatch", "plan_windows"]


class Windows(NamedTuple):
    """The windows of one rollout (one entry per window, env-major then time order)."""

    env: np.ndarray  # [N] env index
    start: np.ndarray  # [N] first step (index into the rollout)
    length: np.ndarray  # [N] steps, 1..max_len
    begins_episode: np.ndarray  # [N] bool: the first step starts an episode (start state zero)

    @property
    def needs_recompute(self) -> np.ndarray:
        """Windows that start mid-episode inside the rollout: their start state comes from the no-grad pass."""
        return ~self.begins_episode & (self.start > 0)


class WindowBatch(NamedTuple):
    """A minibatch of M windows padded to L steps, window-major (row ``i * L + l`` is window i, step l)."""

    observations: th.Tensor | dict[str, th.Tensor]  # [M * L, ...]
    actions: th.Tensor  # [M * L, action_dim]
    old_values: th.Tensor  # [M * L]
    old_log_prob: th.Tensor  # [M * L]
    advantages: th.Tensor  # [M * L]
    returns: th.Tensor  # [M * L]
    mask: th.Tensor  # [M * L] float: 1 on real steps, 0 on padding
    n_seq: int  # M
    length: int  # L
    lengths: np.ndarray  # [M] real steps of each window


def plan_windows(episode_starts: np.ndarray, max_len: int) -> Windows:
    """Cut each env's rollout (``episode_starts [n_steps, n_envs]``) at its episode starts, then split every piece of
    n steps into ceil(n / max_len) windows of near-equal length (piece j of k starts at ``j * n // k``)."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    starts = np.asarray(episode_starts, dtype=bool).T  # [n_envs, n_steps]
    n_envs, n_steps = starts.shape
    cut = starts.copy()
    cut[:, 0] = True  # every rollout start begins a piece
    env, t = np.nonzero(cut)  # env-major, time-ascending
    same_env = np.append(env[1:] == env[:-1], False)
    end = np.where(same_env, np.append(t[1:], n_steps), n_steps)
    n = end - t
    k = -(-n // max_len)  # windows per piece
    piece = np.repeat(np.arange(len(t)), k)
    j = np.arange(len(piece)) - np.repeat(np.cumsum(k) - k, k)  # index of the window inside its piece
    w_start = t[piece] + (j * n[piece]) // k[piece]
    w_end = t[piece] + ((j + 1) * n[piece]) // k[piece]
    w_env = env[piece]
    return Windows(w_env, w_start, w_end - w_start, starts[w_env, w_start])


class _WindowBufferMixin:
    """Adds the per-env rollout-start states and window minibatches to an SB3 rollout buffer."""

    def _init_state(self, state_size: int) -> None:
        self.state_size = int(state_size)
        self.start_h = np.zeros((self.n_envs, self.state_size), np.float32)
        self.start_c = np.zeros((self.n_envs, self.state_size), np.float32)

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
            return self.to_torch(np.ascontiguousarray(a.swapaxes(0, 1)).reshape(-1, *a.shape[2:]))

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
            part = a[t, env]  # [M, L, ...]
            return self.to_torch(part.reshape(-1, *part.shape[2:]))

        obs = ({k: take(v) for k, v in self.observations.items()} if isinstance(self.observations, dict)
               else take(self.observations))
        mask = (offset < windows.length[rows, None]).astype(np.float32).reshape(-1)
        return WindowBatch(obs, take(self.actions), take(self.values).flatten(), take(self.log_probs).flatten(),
                           take(self.advantages).flatten(), take(self.returns).flatten(), self.to_torch(mask),
                           len(rows), length, windows.length[rows])


class PlasticRolloutBuffer(_WindowBufferMixin, RolloutBuffer):
    """SB3's ``RolloutBuffer`` (per-step data) plus one packed state per env: the state at the rollout start."""

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space, state_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(state_size)


class PlasticDictRolloutBuffer(_WindowBufferMixin, DictRolloutBuffer):
    """``PlasticRolloutBuffer`` for Dict observations."""

    def __init__(self, buffer_size: int, observation_space: spaces.Dict, action_space: spaces.Space, state_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(state_size)
