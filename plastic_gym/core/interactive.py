"""The interactive-task contract (SPEC section 6): tasks where what the agent sees depends on what it did.

A meta-RL task (bandit, Harlow, maze) cannot be generated as whole episodes in advance, so its generator has two
halves, both numpy over a batch of B episodes, and every view (env, native vector env, references, leaderboard)
goes through them:

    task.start(batch_size, rng) -> (state, obs[B, D])                   # or task.start_keys(keys)
    task.advance(state, actions[B]) -> (state, obs, reward[B], done[B], info)

``state`` is a dict of ``[B, ...]`` arrays: the episode keys, the step index ``t``, the history the observation
shows, the per-episode hidden parameters (arm probabilities, objects, reward cell, ...) and the metric sums.
``advance`` never writes into the arrays of the state it is given; it returns a new dict.

Randomness. Episode b is a pure function of its key ``keys[b]`` (``core/rng.py``) and of the actions taken: every
random number of the episode, including the ones used during it (Bernoulli rewards, slot orders, teleports), is
drawn at ``start`` from the episode's ``KeyedRandom`` stream, the number used at step t at a counter fixed by t.
So the same key and the same actions give the same episode for every batch size, and two policies played on the
same keys meet the same random numbers (common random numbers: their difference has a smaller variance than two
independent samples).

Observations (RL^2 convention): ``[task features, onehot(a_{t-1}), r_{t-1}, t / T]``, float32, with zeros for
the missing previous action and reward at t = 0. Every episode of a task has the same length T, so all rows of a
batch end together; the observation returned with ``done`` is all zeros (as in SPEC section 2).

References are policies over ``(task state, obs)`` (``ReferencePolicy``); ``rollout`` plays them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from .rng import KeyedRandom, random_keys
from .task import Configurable, _fmt, check_actions, value_picture

State = dict[str, np.ndarray]


class InteractiveTask(Configurable, ABC):
    """A family of interactive episodes (SPEC section 6), stepped in batches with numpy.

    Subclasses set ``primary_metric``, ``higher_is_better``, ``success_threshold`` and ``references``, validate
    their kwargs in ``__init__`` and call ``_make_spaces``, and implement ``episode_length``, ``_start``,
    ``_advance``, ``_features`` and ``episode_metrics``. The base class keeps the keys, ``t``, the previous action
    and reward (``prev_action``, -1 before the first step; ``prev_reward``) and the return (``return``, the sum of
    rewards) in the state, validates actions and assembles observations and the end-of-episode info.
    """

    kind: ClassVar[str] = "interactive"
    #: Reference policies by name: ``"no_memory"`` (the normalization's 0), ``"oracle"`` (privileged, its 1) and
    #: the classical non-privileged ones (``"thompson"``, ``"ucb1"``, ``"wsls"``, ``"explore_exploit"``, ...).
    references: ClassVar[dict[str, type[ReferencePolicy]]] = {}

    observation_space: spaces.Box
    action_space: spaces.Discrete

    # -- construction ------------------------------------------------------------------------------------------
    def _make_spaces(self, low: np.ndarray, high: np.ndarray, n_actions: int, reward_low: float,
                     reward_high: float) -> None:
        """Build the spaces of one env: the task features' bounds ``low``/``high`` [F], ``Discrete(n_actions)``, and
        the range of one step's reward (the bounds of the shown previous reward)."""
        self.action_space = spaces.Discrete(n_actions)
        low = np.r_[np.asarray(low, np.float64).reshape(-1), np.zeros(n_actions), min(reward_low, 0.0), 0.0]
        high = np.r_[np.asarray(high, np.float64).reshape(-1), np.ones(n_actions), max(reward_high, 0.0), 1.0]
        self.observation_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)

    @property
    def n_actions(self) -> int:
        return int(self.action_space.n)

    @property
    def feature_dim(self) -> int:
        """F, the number of task features at the front of an observation (before the history part)."""
        return self.observation_space.shape[0] - self.n_actions - 2

    @property
    @abstractmethod
    def episode_length(self) -> int:
        """T (the horizon): the number of steps of every episode."""

    # -- the two halves of the generator ------------------------------------------------------------------------
    def start(self, batch_size: int, rng: np.random.Generator | int | None = None) -> tuple[State, np.ndarray]:
        """``batch_size`` new episodes with keys drawn from ``rng`` (a numpy Generator or an int seed)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self.start_keys(random_keys(rng, int(batch_size)))

    def start_keys(self, keys: np.ndarray) -> tuple[State, np.ndarray]:
        """The episodes of the given keys (row i depends only on ``keys[i]``): ``(state, obs [B, D])``."""
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        B = keys.shape[0]
        state = self._start(KeyedRandom(keys))
        state.update(keys=keys, t=np.zeros(B, np.int64), prev_action=np.full(B, -1, np.int64),
                     prev_reward=np.zeros(B), **{"return": np.zeros(B)})
        return state, self.observe(state)

    def advance(self, state: State, actions: Any) -> tuple[State, np.ndarray, np.ndarray, np.ndarray, dict]:
        """One step of every episode: ``(state, obs [B, D], reward [B] float64, done [B] bool, info)``.

        ``info`` holds ``[B]`` arrays; when done, also ``episode_metrics`` (name -> ``[B]`` float64) and
        ``is_success`` (``[B]`` bool). Raises ``ValueError`` for bad actions, ``RuntimeError`` past the end.
        """
        t = state["t"]
        B = t.shape[0]
        actions = check_actions(self.action_space, actions, (B,))
        if np.any(t >= self.episode_length):
            raise RuntimeError("advance() called on an episode that has ended (t == episode_length): start a new one")
        new, reward, info = self._advance(dict(state), actions)
        reward = np.asarray(reward, np.float64)
        new.update(t=t + 1, prev_action=actions, prev_reward=reward, **{"return": state["return"] + reward})
        done = new["t"] >= self.episode_length
        obs = np.zeros((B, *self.observation_space.shape), np.float32) if done.all() else self.observe(new)
        if done.any():
            obs[done] = 0.0
            metrics = {k: np.asarray(v, np.float64) for k, v in self.episode_metrics(new).items()}
            info["episode_metrics"] = metrics
            info["is_success"] = self.is_success(metrics)
        return new, obs, reward, done, info

    def observe(self, state: State) -> np.ndarray:
        """The observation of the current step: ``[features, onehot(prev action), prev reward, t / T]`` float32."""
        B, K = state["t"].shape[0], self.n_actions
        features = np.asarray(self._features(state), np.float32).reshape(B, -1)
        obs = np.zeros((B, features.shape[1] + K + 2), np.float32)
        obs[:, :features.shape[1]] = features
        taken = state["prev_action"] >= 0
        obs[np.flatnonzero(taken), features.shape[1] + state["prev_action"][taken]] = 1.0
        obs[:, -2] = state["prev_reward"]
        obs[:, -1] = state["t"] / self.episode_length
        return obs

    def split_obs(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read an observation batch back: ``(features [B, F], prev_action [B] (-1 at t = 0), prev_reward [B],
        t [B])``. What non-privileged references use: nothing but the observation."""
        obs = np.asarray(obs)
        F, K = self.feature_dim, self.n_actions
        onehot = obs[:, F:F + K]
        prev_action = np.where(onehot.any(1), onehot.argmax(1), -1)
        t = np.rint(obs[:, -1].astype(np.float64) * self.episode_length).astype(np.int64)
        return obs[:, :F], prev_action, obs[:, F + K].astype(np.float64), t

    @abstractmethod
    def _start(self, rand: KeyedRandom) -> State:
        """The hidden parameters of each episode, and every random number it will use, drawn from ``rand``."""

    @abstractmethod
    def _advance(self, state: State, actions: np.ndarray) -> tuple[State, np.ndarray, dict[str, np.ndarray]]:
        """Apply ``actions`` at step ``state["t"]``: return the state (a fresh dict: rebind entries, never write
        into the arrays), the rewards ``[B]`` and the step's info arrays. The base class then sets ``t``,
        ``prev_action``, ``prev_reward`` and ``return``."""

    @abstractmethod
    def _features(self, state: State) -> np.ndarray:
        """The task part of the current observation, ``[B, F]`` (``F = 0`` for a bandit)."""

    @abstractmethod
    def episode_metrics(self, state: State) -> dict[str, np.ndarray]:
        """Per-episode metrics ``[B]`` of episodes that have ended."""

    # -- rendering ----------------------------------------------------------------------------------------------
    def describe(self, obs_row: np.ndarray) -> str:
        """One line of text for the ``ansi`` view of an observation (tasks override it with a readable form)."""
        return f"u={_fmt(obs_row[:self.feature_dim])}" if self.feature_dim else ""

    def describe_state(self, state: State, i: int) -> str:
        """What the ``ansi`` view shows of episode ``i``'s hidden state (arm probabilities, the maze, ...)."""
        return ""

    def picture(self, state: State, i: int) -> np.ndarray | None:
        """A picture of episode ``i`` now (``uint8 [H, W, 3]``) for the ``rgb_array`` view, or None: then the view
        draws the observations, actions and rewards so far."""
        return None


class ReferencePolicy:
    """A reference player (SPEC section 6), vectorized over B episodes.

    ``reset(batch_size, rng) -> pstate``; ``act(task_state, obs, pstate) -> (actions [B] int64, pstate)``.
    Non-privileged policies read only ``obs`` and their own ``pstate`` (``rollout`` passes them ``None`` as the
    task state); privileged ones (the oracle) may read the task state. A row whose observation shows no previous
    action (the first step of an episode) starts its memory afresh, so a policy can play a vector env across
    autoresets without ``reset``.
    """

    privileged: ClassVar[bool] = False

    def __init__(self, task: InteractiveTask):
        self.task = task

    def reset(self, batch_size: int, rng: np.random.Generator) -> dict[str, Any]:
        return {"rng": rng}

    def act(self, task_state: State | None, obs: np.ndarray, pstate: dict[str, Any]) -> tuple[np.ndarray, dict]:
        raise NotImplementedError


class RandomPolicy(ReferencePolicy):
    """Uniformly random actions: the no-memory reference of the bandit and Harlow, the random walk of the maze."""

    def act(self, task_state, obs, pstate):
        return pstate["rng"].integers(0, self.task.n_actions, size=len(obs)), pstate


def rollout(task: InteractiveTask, policy: ReferencePolicy, keys: np.ndarray,
            rng: np.random.Generator | int | None = None) -> dict[str, np.ndarray]:
    """Play the episodes of ``keys`` to the end with ``policy``; return their metrics (name -> ``[B]`` float64).

    Loops over time only. A non-privileged policy gets ``None`` for the task state.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    state, obs = task.start_keys(keys)
    pstate = policy.reset(len(obs), rng)
    for _ in range(task.episode_length):
        actions, pstate = policy.act(state if policy.privileged else None, obs, pstate)
        state, obs, _, done, info = task.advance(state, actions)
    assert done.all()
    return info["episode_metrics"]


class InteractivePlayer:
    """Steps a batch of interactive episodes for the env views (the counterpart of ``EpisodePlayer``):
    the errors for a step before reset or after the end, and the history for rendering."""

    def __init__(self, task: InteractiveTask):
        self.task = task
        self.state: State | None = None
        self._obs: list[np.ndarray] = []  # the observations shown so far, [B, D] each
        self._actions: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []

    @property
    def t(self) -> int:
        return 0 if self.state is None else int(self.state["t"][0])

    @property
    def done(self) -> bool:
        return self.state is not None and self.t >= self.task.episode_length

    def start(self, keys: np.ndarray) -> np.ndarray:
        self.state, obs = self.task.start_keys(keys)
        self._obs, self._actions, self._rewards = [obs], [], []
        return obs.copy()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One action per episode; returns (next observations, rewards ``[B]``, info arrays)."""
        if self.state is None:
            raise RuntimeError("step() called before reset(): call reset() to start an episode")
        if self.done:
            raise RuntimeError("step() called after the episode ended (terminated=True): call reset() first")
        self.state, obs, reward, _, info = self.task.advance(self.state, actions)
        self._actions.append(self.state["prev_action"])
        self._rewards.append(reward)
        if not self.done:
            self._obs.append(obs)
        return obs.copy(), reward, info

    def render_text(self, i: int = 0) -> str:
        """A readable text view of episode ``i`` so far (the ``ansi`` render mode)."""
        if self.state is None:
            return "(not started: call reset())\n"
        lines = [f"{type(self.task).__name__} episode, step {self.t}/{self.task.episode_length}"]
        hidden = self.task.describe_state(self.state, i)
        lines += [hidden] if hidden else []
        for s, obs in enumerate(self._obs):
            line = f"t={s:3d} {self.task.describe(obs[i])}"
            if s < len(self._actions):
                line += f"  action={self._actions[s][i]} reward={self._rewards[s][i]:+.2f}"
            lines.append(line)
        return "\n".join(lines) + "\n"

    def render_rgb(self, i: int = 0) -> np.ndarray | None:
        """A picture of episode ``i`` so far: one row per step, the observation, then onehot(action) and reward."""
        if self.state is None:
            return None
        own = self.task.picture(self.state, i)
        if own is not None:
            return own
        T, D, K = self.task.episode_length, self.task.observation_space.shape[0], self.task.n_actions
        values = np.full((T, D + 1 + K + 1), np.nan)
        values[:len(self._obs), :D] = np.stack([o[i] for o in self._obs])
        if self._actions:
            n = len(self._actions)
            values[:n, D + 1:D + 1 + K] = np.stack([a[i] for a in self._actions])[:, None] == np.arange(K)
            values[:n, -1] = [r[i] for r in self._rewards]
        return value_picture(values, min(self.t, T - 1), [D])
