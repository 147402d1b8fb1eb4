"""coop_assoc_v0: two agents share the cue-reward memory of PlasticAssoc-v0, each seeing half of the rewards."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ..core.task import PHASE_NAMES, QUERY, STUDY, require, require_int
from ..tasks.assoc import AssocTask
from .base import PlasticParallelEnv, factories


class CoopAssocEnv(PlasticParallelEnv):
    """Cooperative cue-reward association: two agents study disjoint halves and must both answer about all cues.

    ## Description
    Each episode is one episode of ``PlasticAssoc-v0`` (``AssocTask.generate``: ``n_cues`` random stimuli with random
    rewards r ~ U(-1, 1); study half, then query half). Both agents see every step's noisy stimulus, but a study step's
    reward is shown only to the **owner** of its cue: agent ``c % 2`` owns cue ``c`` (cue indices are a random
    labelling, so this is a random balanced split). In the query half both agents must output the reward of the
    current cue, including the partner's cues, which they can only know if the partner told them. Each step each
    agent also emits a message vector that the other receives with its next observation: the only channel between
    them. Neither agent can succeed alone (about half of the answers would be the no-memory guess 0).

    ## Agents
    ``["agent_0", "agent_1"]``, acting simultaneously at every step (identical spaces: parameter sharing works).

    ## Action Space
    ``Box(-1, 1, (1 + msg_dim,), float32)``: ``[answer, message_1..message_msg_dim]``. The answer is the predicted
    reward of the current cue; the message reaches the partner at the next step.

    ## Observation Space
    ``Box(low, high, (stim_dim + 3 + msg_dim,), float32)``:
    ``[stimulus + N(0, noise^2), reward_or_0, reward_shown_flag, query_flag, partner_message]``. ``reward_or_0`` is
    r_{c_t} on a study step whose cue this agent owns (then ``reward_shown_flag`` = 1), else 0; ``partner_message``
    is the partner's message of the previous step (zeros at t = 0).

    ## Rewards
    Shared (both agents get the same): on query steps ``-(e_0 + e_1) / 2`` with ``e_i = (answer_i - r_{c_t})^2``,
    else 0.

    ## Episode End
    Terminates after ``trial_length`` steps for both agents (zero observations; never truncated). At the last step
    ``info["episode_metrics"]``: ``query_mse`` (the team's, mean over both agents; lower is better),
    ``query_mse_agent`` (this agent's) and ``all_mse``; ``is_success``: team ``query_mse <= 0.1``. References at the
    defaults (``docs/multiagent.md``): no memory 1/3, a pair that ignores messages about 0.185, the communicating
    oracle pair about 0.051 (the query answers of ``AssocTask.oracle_actions``).

    ## Arguments
    ``coop_assoc_v0.parallel_env(n_cues=6, stim_dim=14, trial_length=20, noise=0.1, msg_dim=2, render_mode=None)``
    (``env(...)`` for the AEC view). ``n_cues >= 2``; render modes: ``"ansi"``, ``"human"`` (the same text, printed).

    ## Version History
    * v0: initial version.
    """

    metadata = {**PlasticParallelEnv.metadata, "name": "coop_assoc_v0"}

    def __init__(self, n_cues: int = 6, stim_dim: int = 14, trial_length: int = 20, noise: float = 0.1,
                 msg_dim: int = 2, render_mode: str | None = None):
        super().__init__(render_mode)
        self.task = AssocTask(n_cues=n_cues, stim_dim=stim_dim, trial_length=trial_length, noise=noise)
        require(self.task.n_cues >= 2, f"n_cues must be >= 2 (each agent owns some cues), got {n_cues!r}")
        self.msg_dim = require_int("msg_dim", msg_dim, 1)
        self.n_cues, self.stim_dim, self.trial_length, self.noise = n_cues, stim_dim, trial_length, noise
        base = self.task.observation_space
        d = self.stim_dim
        low = np.r_[base.low[:d], -1.0, 0.0, 0.0, np.full(self.msg_dim, -1.0)].astype(np.float32)
        high = np.r_[base.high[:d], 1.0, 1.0, 1.0, np.full(self.msg_dim, 1.0)].astype(np.float32)
        self._set_spaces(["agent_0", "agent_1"], spaces.Box(low, high, dtype=np.float32),
                         spaces.Box(-1.0, 1.0, (1 + self.msg_dim,), np.float32))
        self.episodes = None  # privileged (oracles and tests only): the AssocTask episode, a batch of one

    @property
    def episode_length(self) -> int:
        return self.trial_length

    def owner(self, cues: np.ndarray) -> np.ndarray:
        """The index of the agent that owns each cue (sees its reward in study)."""
        return np.asarray(cues) % len(self.possible_agents)

    def _start(self, key: np.ndarray) -> dict[str, np.ndarray]:
        ep = self.episodes = self.task.generate(key)
        d, T, n_agents = self.stim_dim, self.trial_length, len(self.possible_agents)
        u = ep.obs[0]  # [T, d + 2]: stimulus, shown reward, query flag
        study = ep.phase[0] == STUDY
        # [agents, T, d + 3] without the message: each agent's view of the shared episode.
        shown = (self.owner(ep.extras["cue"][0])[None, :] == np.arange(n_agents)[:, None]) & study[None, :]
        self._base = np.zeros((n_agents, T, d + 3), np.float32)
        self._base[:, :, :d] = u[:, :d]
        self._base[:, :, d] = np.where(shown, u[:, d], 0.0)
        self._base[:, :, d + 1] = shown
        self._base[:, :, d + 2] = u[:, d + 1]
        self._actions = np.zeros((n_agents, T, 1 + self.msg_dim), np.float32)
        self._rewards = np.zeros(T)
        return self._observe(0, np.zeros((n_agents, self.msg_dim), np.float32))

    def _observe(self, t: int, messages: np.ndarray) -> dict[str, np.ndarray]:
        """Observations of step ``t`` given the messages sent at step t - 1 (``[agents, msg_dim]``, agent order)."""
        heard = messages[::-1]  # two agents: each hears the other
        return {a: np.concatenate([self._base[i, t], heard[i]]) for i, a in enumerate(self.possible_agents)}

    def _step(self, actions: dict[str, Any]):
        ep, t = self.episodes, self.t
        acts = np.stack([actions[a] for a in self.possible_agents])  # [agents, 1 + msg_dim]
        self._actions[:, t] = acts
        # The single-agent task scores each agent's answer; the team reward is their mean.
        errors = -np.array([self.task.rewards(acts[i, :1][None], ep, t)[0] for i in range(len(acts))])
        reward = -float(errors.mean())
        self._rewards[t] = reward
        scored = bool(ep.scored[0, t])
        base_info = {"target": float(ep.target[0, t, 0]), "scored": scored, "phase": PHASE_NAMES[ep.phase[0, t]]}
        infos = {a: dict(base_info) for a in self.possible_agents}
        if t + 1 >= self.trial_length:
            per_agent = [self.task.episode_metrics(self._actions[i, :, :1][None], ep) for i in range(len(acts))]
            team = {k: float(np.mean([m[k][0] for m in per_agent])) for k in per_agent[0]}
            for i, a in enumerate(self.possible_agents):
                infos[a]["episode_metrics"] = {**team, "query_mse_agent": float(per_agent[i]["query_mse"][0])}
                infos[a]["is_success"] = bool(team["query_mse"] <= self.task.success_threshold)
            obs = {}
        else:
            obs = self._observe(t + 1, acts[:, 1:])
        return obs, {a: reward for a in self.possible_agents}, infos

    def _render_lines(self) -> list[str]:
        ep, lines = self.episodes, []
        cue, target = ep.extras["cue"][0], ep.target[0, :, 0]
        for s in range(min(self.t + 1, self.trial_length)):
            c = int(cue[s])
            line = f"t={s:3d} {PHASE_NAMES[ep.phase[0, s]]:<5} cue={c} owner=agent_{int(self.owner(c))}"
            if ep.phase[0, s] != QUERY:
                line += f" reward={target[s]:+.2f}"
            if s < self.t:
                for i, a in enumerate(self.possible_agents):
                    act = self._actions[i, s]
                    line += f" | {a}: answer={act[0]:+.2f} msg=[{' '.join(f'{m:+.2f}' for m in act[1:])}]"
                if ep.scored[0, s]:
                    line += f" | target={target[s]:+.2f} team_reward={self._rewards[s]:+.3f}"
            lines.append(line)
        return lines


parallel_env, env, raw_env = factories(CoopAssocEnv)


# -- scripted reference pairs (tests, docs/multiagent.md, the training plot) -----------------------------------------
def scripted_coop_actions(env: CoopAssocEnv, observations: dict[str, np.ndarray], memory: dict,
                          communicate: bool = True) -> dict[str, np.ndarray]:
    """One step of a scripted pair; ``memory`` is a dict kept by the caller across the episode (empty at reset).

    Each agent remembers the rewards it saw for each cue (cue identities are read from ``env.episodes``: privileged,
    standing in for a perfect stimulus matcher). With ``communicate=True`` an agent also sends, at every study step,
    the reward it was shown as ``message[0]`` (0 if none), and stores a reward heard from the partner under the
    previous step's cue. Each answers a query with what it knows, else 0. The communicating pair gives the query
    answers of ``AssocTask.oracle_actions`` exactly; the pair with ``communicate=False`` only knows its own cues.
    """
    d, t = env.stim_dim, env.t
    cues, phase = env.episodes.extras["cue"][0], env.episodes.phase[0]
    actions = {}
    for i, a in enumerate(env.possible_agents):
        known = memory.setdefault(a, {})
        obs = observations[a]
        if communicate and t > 0 and phase[t - 1] == STUDY and int(env.owner(cues[t - 1])) != i:
            known[int(cues[t - 1])] = float(obs[d + 3])  # the partner's report of the previous study step
        if obs[d + 1]:
            known[int(cues[t])] = float(obs[d])
        answer = float(obs[d]) if obs[d + 1] else known.get(int(cues[t]), 0.0)
        message = np.zeros(env.msg_dim, np.float32)
        if communicate and obs[d + 1]:
            message[0] = obs[d]
        actions[a] = np.r_[np.float32(answer), message].astype(np.float32)
    return actions
