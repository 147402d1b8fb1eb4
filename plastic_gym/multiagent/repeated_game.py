"""repeated_game_v0: a repeated two-player team game whose payoff matrix is new each episode and never shown."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ..core.rng import KeyedRandom
from ..core.task import require_float, require_int
from .base import PlasticParallelEnv, factories


class RepeatedGameEnv(PlasticParallelEnv):
    """Adaptive repeated game: find the best joint action of a random, hidden payoff matrix within the episode.

    ## Description
    Each episode draws a payoff matrix ``P ~ U(0, 1)^{n_actions x n_actions}`` from the episode key
    (``KeyedRandom``) and plays ``n_rounds`` rounds of the matrix game. Both players get the same payoff
    ``P[a_0, a_1] + reward_noise * N(0, 1)`` (a team / coordination game). ``P`` is never observed: the players
    learn it only from the rewards of the joint actions they try, so a fixed strategy earns E[P[i, j]] = 0.5 per
    round while pairs that explore jointly and then agree on the best cell approach E[max P].

    ## Agents
    ``["player_0", "player_1"]``, acting simultaneously every round (identical spaces: parameter sharing works).

    ## Action Space
    ``Discrete(n_actions)``.

    ## Observation Space
    ``Box(low, high, (2 * n_actions + 2,), float32)``, from the player's own perspective:
    ``[one_hot(own previous action), one_hot(partner's previous action), previous reward, rounds_left / n_rounds]``
    (zeros for the previous round at round 0). The reward is clipped at 10 noise sigma so that the bounds are finite.

    ## Rewards
    ``P[a_0, a_1] + reward_noise * eps_t`` for both players every round.

    ## Episode End
    Terminates after ``n_rounds`` rounds for both players (zero observations; never truncated). At the last step
    ``info["episode_metrics"]``: ``mean_payoff`` (mean of ``P[a_0, a_1]`` over the rounds, noise-free; higher is
    better), ``best_payoff`` (max P) and ``regret`` (their difference). ``info`` every round: ``payoff``
    (noise-free ``P[a_0, a_1]``). References at the defaults (``docs/multiagent.md``): a fixed joint action 0.5;
    the scripted explore-then-commit pair about 0.78.

    ## Arguments
    ``repeated_game_v0.parallel_env(n_actions=3, n_rounds=30, reward_noise=0.0, render_mode=None)`` (``env(...)``
    for the AEC view). ``n_actions >= 2``; render modes: ``"ansi"``, ``"human"`` (the same text, printed).

    ## Version History
    * v0: initial version.
    """

    metadata = {**PlasticParallelEnv.metadata, "name": "repeated_game_v0"}

    def __init__(self, n_actions: int = 3, n_rounds: int = 30, reward_noise: float = 0.0,
                 render_mode: str | None = None):
        super().__init__(render_mode)
        self.n_actions = require_int("n_actions", n_actions, 2)
        self.n_rounds = require_int("n_rounds", n_rounds, 1)
        self.reward_noise = require_float("reward_noise", reward_noise, 0.0)
        n, clip = self.n_actions, 10 * self.reward_noise
        low = np.r_[np.zeros(2 * n), -clip, 0.0].astype(np.float32)
        high = np.r_[np.ones(2 * n), 1.0 + clip, 1.0].astype(np.float32)
        self._set_spaces(["player_0", "player_1"], spaces.Box(low, high, dtype=np.float32), spaces.Discrete(n))
        self.payoff: np.ndarray | None = None  # privileged (references and tests only): this episode's P

    @property
    def episode_length(self) -> int:
        return self.n_rounds

    def generate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The hidden parameters of the episodes of ``keys``: payoffs ``[B, n, n]`` and reward noise ``[B, T]``."""
        rand = KeyedRandom(keys)
        payoff = rand.uniform((self.n_actions, self.n_actions))
        noise = self.reward_noise * rand.normal((self.n_rounds,))
        return payoff, noise

    def _start(self, key: np.ndarray) -> dict[str, np.ndarray]:
        payoff, noise = self.generate(key)
        self.payoff, self._noise = payoff[0], noise[0]
        self._joint = np.zeros((self.n_rounds, 2), np.int64)
        self._rewards = np.zeros(self.n_rounds)
        return {a: self._observe(0, None, None, 0.0) for a in self.possible_agents}

    def _observe(self, t: int, own: int | None, partner: int | None, reward: float) -> np.ndarray:
        n, clip = self.n_actions, 10 * self.reward_noise
        obs = np.zeros(2 * n + 2, np.float32)
        if own is not None:
            obs[own] = 1.0
            obs[n + partner] = 1.0
        obs[2 * n] = np.clip(reward, -clip, 1.0 + clip)
        obs[2 * n + 1] = (self.n_rounds - t) / self.n_rounds
        return obs

    def _step(self, actions: dict[str, Any]):
        t = self.t
        a0, a1 = actions["player_0"], actions["player_1"]
        self._joint[t] = a0, a1
        payoff = float(self.payoff[a0, a1])
        reward = payoff + float(self._noise[t])
        self._rewards[t] = reward
        infos = {a: {"payoff": payoff} for a in self.possible_agents}
        if t + 1 >= self.n_rounds:
            played = self.payoff[self._joint[:, 0], self._joint[:, 1]]
            best = float(self.payoff.max())
            metrics = {"mean_payoff": float(played.mean()), "best_payoff": best, "regret": best - float(played.mean())}
            for a in self.possible_agents:
                infos[a]["episode_metrics"] = dict(metrics)
            obs = {}
        else:
            obs = {"player_0": self._observe(t + 1, a0, a1, reward), "player_1": self._observe(t + 1, a1, a0, reward)}
        return obs, {a: reward for a in self.possible_agents}, infos

    def _render_lines(self) -> list[str]:
        lines = ["payoff matrix (hidden from the players): "
                 + " / ".join(" ".join(f"{p:.2f}" for p in row) for row in self.payoff)]
        for s in range(self.t):
            a0, a1 = self._joint[s]
            lines.append(f"round {s:3d}: player_0={a0} player_1={a1} payoff={self.payoff[a0, a1]:.2f} "
                         f"reward={self._rewards[s]:+.3f}")
        return lines


parallel_env, env, raw_env = factories(RepeatedGameEnv)


# -- scripted references (tests, docs/multiagent.md, the training plot) ---------------------------------------------
def fixed_actions(env: RepeatedGameEnv, observations: dict[str, np.ndarray], memory: dict) -> dict[str, int]:
    """The fixed strategy: both players always play action 0 (any fixed joint action earns 0.5 on average)."""
    return {a: 0 for a in env.possible_agents}


def explore_commit_actions(env: RepeatedGameEnv, observations: dict[str, np.ndarray], memory: dict) -> dict[str, int]:
    """Scripted adaptive pair, from observations only: try every joint action once, then commit to the best seen.

    Round k < n^2 of exploration: player_0 plays ``k % n``, player_1 plays ``k // n``. Each player keeps the mean
    reward of each (own, partner) cell from its observations; both pick the same best cell because their tables are
    transposes of each other. ``memory`` is a dict kept by the caller across the episode (empty at reset).
    """
    n = env.n_actions
    actions = {}
    for i, a in enumerate(env.possible_agents):
        obs = observations[a]
        mem = memory.setdefault(a, {"sum": np.zeros((n, n)), "count": np.zeros((n, n)), "round": 0})
        k = mem["round"]
        if obs[:n].any():
            own, partner = int(obs[:n].argmax()), int(obs[n:2 * n].argmax())
            mem["sum"][own, partner] += obs[2 * n]
            mem["count"][own, partner] += 1
        if k < n * n:
            actions[a] = k % n if i == 0 else k // n
        else:
            mean = np.where(mem["count"] > 0, mem["sum"] / np.maximum(mem["count"], 1), -np.inf)
            joint = mean if i == 0 else mean.T  # joint[a0, a1] from this player's table
            best = np.unravel_index(np.argmax(joint), joint.shape)
            actions[a] = int(best[i])
        mem["round"] = k + 1
    return actions
