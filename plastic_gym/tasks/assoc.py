"""PlasticAssoc-v0: bind stimuli to rewards, then recall the reward of each cue (SPEC section 3)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..core.rng import KeyedRandom
from ..core.task import QUERY, STUDY, Episodes, Task, require_float, require_int
from ..envs import PlasticEnv, PlasticVectorEnv


class AssocTask(Task):
    """Cue-reward association.

    Per episode: stimuli ~ U(0,1)^{n_cues x stim_dim}, rewards r ~ U(-1,1)^{n_cues}; the cue c_t of each step is
    i.i.d. uniform. obs ``[stimulus_{c_t} + N(0, noise^2), r_{c_t} or 0, query_flag]``: the first
    ``trial_length // 2`` steps are study (reward shown, flag 0), the rest query (reward 0, flag 1).
    target r_{c_t} at every step; scored: query steps.
    """

    kind = "regression"
    primary_metric = "query_mse"
    success_threshold = 0.1  # no memory: 1/3; oracle: (1 - 1/n_cues)^(T/2) / 3, about 0.036 at the defaults

    def __init__(self, n_cues: int = 5, stim_dim: int = 14, trial_length: int = 20, noise: float = 0.1):
        self.n_cues = require_int("n_cues", n_cues, 1)
        self.stim_dim = require_int("stim_dim", stim_dim, 1)
        self.trial_length = require_int("trial_length", trial_length, 2)
        self.noise = require_float("noise", noise, 0.0)
        # Noise beyond 10 sigma (probability < 1e-22) is clipped so that the space can have finite bounds.
        low = np.r_[np.full(self.stim_dim, -10 * self.noise), -1.0, 0.0].astype(np.float32)
        high = np.r_[np.full(self.stim_dim, 1 + 10 * self.noise), 1.0, 1.0].astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    @property
    def episode_length(self) -> int:
        return self.trial_length

    @property
    def study_length(self) -> int:
        return self.trial_length // 2

    def _generate(self, rand: KeyedRandom) -> Episodes:
        B, T, n, d = rand.batch_size, self.trial_length, self.n_cues, self.stim_dim
        stimuli = rand.uniform((n, d))
        cue_rewards = rand.uniform((n,), -1.0, 1.0)
        cues = rand.integers(n, (T,))
        noise = self.noise * rand.normal((T, d))
        rows = np.arange(B)[:, None]
        reward = cue_rewards[rows, cues]  # [B, T]
        query = np.arange(T) >= self.study_length  # [T]
        obs = np.empty((B, T, d + 2), np.float32)
        obs[..., :d] = np.clip(stimuli[rows, cues] + noise, -10 * self.noise, 1 + 10 * self.noise)
        obs[..., d] = np.where(query, 0.0, reward)
        obs[..., d + 1] = query
        phase = np.broadcast_to(np.where(query, QUERY, STUDY).astype(np.int8), (B, T)).copy()
        extras = {"cue": cues, "stimuli": stimuli.astype(np.float32), "cue_rewards": cue_rewards.astype(np.float32)}
        return Episodes(obs, reward[..., None].astype(np.float32), phase == QUERY, phase, rand.keys, extras)

    def oracle_actions(self, episodes: Episodes) -> np.ndarray:
        """Privileged: knows the cue identities, so predicts each cue's reward if it was shown in study, else 0."""
        cues, reward = episodes.extras["cue"], episodes.target[..., 0]
        n_study = self.study_length
        shown = np.zeros((episodes.batch_size, self.n_cues), bool)
        np.put_along_axis(shown, cues[:, :n_study], True, axis=1)
        known = np.take_along_axis(shown, cues, axis=1)
        known[:, :n_study] = True  # at a study step the reward is on screen
        return np.where(known, reward, 0.0).astype(np.float32)[..., None]

    def describe_step(self, episodes: Episodes, i: int, t: int) -> str:
        u = episodes.obs[i, t]
        return f"cue={episodes.extras['cue'][i, t]} shown_reward={u[-2]:+.2f} query_flag={int(u[-1])}"


class PlasticAssocEnv(PlasticEnv):
    """Cue-reward association (PlasticAssoc-v0), the paper's main memory task.

    ## Description
    Each episode draws ``n_cues`` random stimuli and a random reward for each. In the study half, a noisy copy of
    a random cue's stimulus is shown with its reward; in the query half only the noisy stimulus is shown and the
    agent must output that cue's reward. The agent must bind stimuli to rewards within the episode.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the predicted reward of the current cue.

    ## Observation Space
    ``Box(low, high, (stim_dim + 2,), float32)``: ``[stimulus + N(0, noise^2), reward_or_0, query_flag]``; the noise
    is clipped at 10 sigma so that the bounds are finite.

    ## Rewards
    On query steps ``-(a_t - r_{c_t})^2``, else 0.

    ## Episode End
    Terminates after ``trial_length`` steps with a zero observation. ``info["episode_metrics"]``: ``query_mse``
    (primary, lower is better; no memory 1/3; the privileged oracle about 0.036, since a cue never studied cannot
    be known) and ``all_mse`` (every step, the paper's metric). ``is_success``: ``query_mse <= 0.1``.

    ## Arguments
    ``gym.make("PlasticAssoc-v0", n_cues=5, stim_dim=14, trial_length=20, noise=0.1, render_mode=None)``;
    render modes: ``"ansi"``.

    ## Version History
    * v0: initial version (suite v0).
    """

    task_class = AssocTask


class PlasticAssocVectorEnv(PlasticVectorEnv):
    """PlasticAssoc-v0 as a native vector env (see ``PlasticAssocEnv``)."""

    task_class = AssocTask
