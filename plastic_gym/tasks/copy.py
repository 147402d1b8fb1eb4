"""PlasticCopy-v0: see a sequence, wait, reproduce it (SPEC section 3)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..core.rng import KeyedRandom
from ..core.task import DELAY, QUERY, STUDY, Episodes, Task, require_int
from ..envs import PlasticEnv, PlasticVectorEnv


class CopyTask(Task):
    """Sequence reproduction: n study steps show s_t ~ U(-1,1)^dim, m delay steps show nothing, and at the
    n recall steps the agent must output s_1..s_n in order. T = 2n + m.

    obs ``[value(dim), study_flag, recall_flag]``; target s_t at recall steps, 0 elsewhere; scored: recall steps.
    """

    kind = "regression"
    primary_metric = "recall_mse"
    success_threshold = 0.05  # no memory: 1/3 (predict 0); oracle: 0

    def __init__(self, seq_length: int = 20, delay: int = 20, dim: int = 1):
        self.seq_length = require_int("seq_length", seq_length, 1)
        self.delay = require_int("delay", delay, 0)
        self.dim = require_int("dim", dim, 1)
        self.observation_space = spaces.Box(-1.0, 1.0, (self.dim + 2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (self.dim,), np.float32)

    @property
    def episode_length(self) -> int:
        return 2 * self.seq_length + self.delay

    def _generate(self, rand: KeyedRandom) -> Episodes:
        n, m, d, T, B = self.seq_length, self.delay, self.dim, self.episode_length, rand.batch_size
        seq = rand.uniform((n, d), -1.0, 1.0).astype(np.float32)
        recall = slice(n + m, T)
        obs = np.zeros((B, T, d + 2), np.float32)
        obs[:, :n, :d] = seq
        obs[:, :n, d] = 1.0
        obs[:, recall, d + 1] = 1.0
        target = np.zeros((B, T, d), np.float32)
        target[:, recall] = seq
        phase = np.full((B, T), DELAY, np.int8)
        phase[:, :n] = STUDY
        phase[:, recall] = QUERY
        return Episodes(obs, target, phase == QUERY, phase, rand.keys, {"sequence": seq})

    def oracle_actions(self, episodes: Episodes) -> np.ndarray:
        """Perfect memory: reproduce the studied values (computable from the observations alone)."""
        return episodes.target.copy()


class PlasticCopyEnv(PlasticEnv):
    """Sequence reproduction (PlasticCopy-v0), from "Hebbian and Gradient-based Plasticity Enables Robust Memory
    and Rapid Learning in RNNs" (ICLR 2023).

    ## Description
    The agent sees ``seq_length`` random values, one per step, then ``delay`` empty steps, then must output the
    values in the order it saw them, one per step. Nothing but memory helps: without it the best output is 0.

    ## Action Space
    ``Box(-1, 1, (dim,), float32)``: the value recalled at this step (ignored outside the recall phase).

    ## Observation Space
    ``Box(-1, 1, (dim + 2,), float32)``: ``[value(dim), study_flag, recall_flag]``. Study steps ``[s_t, 1, 0]``,
    delay steps all zero, recall steps ``[0, 0, 1]``. s_t ~ U(-1, 1)^dim.

    ## Rewards
    On recall steps ``-mean((a_t - s_t)^2)``, else 0.

    ## Episode End
    Terminates after T = 2 * seq_length + delay steps, returning a zero observation. ``info["episode_metrics"]``
    holds ``recall_mse`` (primary, lower is better; no memory 1/3, oracle 0) and ``all_mse``; ``is_success`` is
    ``recall_mse <= 0.05``. Every step's info has ``target``, ``scored`` and ``phase``.

    ## Arguments
    ``gym.make("PlasticCopy-v0", seq_length=20, delay=20, dim=1, render_mode=None)``; render modes: ``"ansi"``.

    ## Version History
    * v0: initial version (suite v0).
    """

    task_class = CopyTask


class PlasticCopyVectorEnv(PlasticVectorEnv):
    """PlasticCopy-v0 as a native vector env (see ``PlasticCopyEnv``)."""

    task_class = CopyTask
