"""Stepping a batch of episodes in lockstep: the one stepping logic behind the env and the vector env.

Every episode of a task has the same length T, so all rows of a batch start, step and end together;
stepping is a handful of numpy operations on the whole batch, with no loop over rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .task import PHASE_NAMES, Episodes, Obs, Task, zeros_like_space

_PHASE_NAMES = np.array(PHASE_NAMES, dtype=object)


class EpisodePlayer:
    """Plays a batch of ``Episodes`` step by step and scores the actions.

    ``start(keys)`` generates the episodes and returns u_0; ``step(actions)`` scores a_t against y_t and
    returns u_{t+1} (a zero observation after the last step, when ``done`` becomes True).
    """

    def __init__(self, task: Task):
        self.task = task
        self.episodes: Episodes | None = None
        self.t = 0
        self.actions: np.ndarray | None = None  # [B, T, *action_shape], the actions taken so far
        self.rewards: np.ndarray | None = None  # [B, T]

    @property
    def done(self) -> bool:
        return self.episodes is not None and self.t >= self.episodes.length

    def start(self, keys: np.ndarray) -> Obs:
        """Generate the episodes of ``keys`` and return their first observations."""
        self.episodes = self.task.generate(keys)
        self.t = 0
        space = self.task.action_space
        batch, length = self.episodes.batch_size, self.episodes.length
        self.actions = np.zeros((batch, length, *space.shape), dtype=space.dtype)
        self.rewards = np.zeros((batch, length), dtype=np.float64)
        return self.episodes.obs_at(0)

    def step(self, actions: Any) -> tuple[Obs, np.ndarray, dict[str, Any]]:
        """Score one action per episode; return (next observations, rewards ``[B]``, info arrays)."""
        if self.episodes is None:
            raise RuntimeError("step() called before reset(): call reset() to start an episode")
        if self.done:
            raise RuntimeError("step() called after the episode ended (terminated=True): call reset() first")
        ep, t = self.episodes, self.t
        actions = self.task.validate_actions(actions, ep.batch_size)
        rewards = self.task.rewards(actions, ep, t)
        self.actions[:, t] = actions
        self.rewards[:, t] = rewards
        info: dict[str, Any] = {
            "target": ep.extras["label"][:, t].copy() if self.task.kind == "classification" else ep.target[:, t].copy(),
            "scored": ep.scored[:, t].copy(),
            "phase": _PHASE_NAMES[ep.phase[:, t]],
        }
        self.t += 1
        if self.done:
            metrics = self.task.episode_metrics(self.actions, ep)
            info["episode_metrics"] = metrics
            info["is_success"] = self.task.is_success(metrics)
            obs = zeros_like_space(self.task.observation_space, ep.batch_size)
        else:
            obs = ep.obs_at(self.t)
        return obs, rewards, info

    def render_rgb(self, i: int = 0) -> np.ndarray | None:
        """A picture of episode ``i`` at the current step (the ``rgb_array`` render mode), drawn by the task."""
        if self.episodes is None:
            return None
        return self.task.render_rgb(self.episodes, i, min(self.t, self.episodes.length - 1), self.actions)

    def render_text(self, i: int = 0) -> str:
        """A readable text view of episode ``i`` so far (the ``ansi`` render mode)."""
        if self.episodes is None:
            return "(not started: call reset())\n"
        ep = self.episodes
        lines = [f"{type(self.task).__name__} episode, step {self.t}/{ep.length}"]
        for s in range(min(self.t + 1, ep.length)):
            line = f"t={s:3d} {PHASE_NAMES[ep.phase[i, s]]:<5} {self.task.describe_step(ep, i, s)}"
            if s < self.t:
                target = ep.extras["label"][i, s] if self.task.kind == "classification" else ep.target[i, s]
                line += f"  target={_fmt(target)} action={_fmt(self.actions[i, s])}"
                if ep.scored[i, s]:
                    line += f" reward={self.rewards[i, s]:+.3f}"
            lines.append(line)
        return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    v = np.asarray(v)
    if v.dtype.kind in "iu":
        return str(v.tolist())
    return "[" + " ".join(f"{x:+.2f}" for x in v.ravel()) + "]"
