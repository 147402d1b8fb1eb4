"""``CheckpointAgent``: a meta-trained plastic network acting through the leaderboard's Agent protocol (SPEC section 5).

    agent = CheckpointAgent.from_checkpoint("runs/assoc-hebbian/checkpoint.pt")
    state = agent.reset(num_envs)
    actions, state = agent.act(obs, state, episode_start)   # episode_start: bool [num_envs]

The plastic state (h, F, f, ...) is zeroed for the envs whose ``episode_start`` is set before the step, so F_0 = 0 at
every episode start, as in training. Regression tasks act with the predicted value (clipped to the action space),
classification tasks with the argmax class. The agent never sees ``info`` and uses no privileged information.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

import numpy as np
import torch

from plastic_gym.validation import require_episode_start, require_int

from .checkpoint import load_model
from .model import TaskModel, outputs_to_actions

__all__ = ["CheckpointAgent"]


class CheckpointAgent:
    """Agent protocol (``reset`` / ``act``) around a ``TaskModel`` and its task; see the module docstring."""

    privileged = False

    def __init__(self, model: TaskModel, task, metadata: dict[str, Any] | None = None):
        self.model, self.task = model.eval(), task
        self.observation_space, self.action_space = task.observation_space, task.action_space
        cfg = model.config
        #: The leaderboard's ``AgentMetadata`` fields (``plastic_gym.leaderboard.protocol``).
        self.metadata = {
            "name": f"plastic-{cfg.cell}-{cfg.rule}",
            "parameters": model.num_parameters(),
            "state_floats": model.initial_state(1).state_floats(),
            "regime": "supervised-bptt",
            "privileged": False,
            "description": f"{cfg.cell.upper()} hidden {cfg.effective_hidden_dim}, {cfg.rule} plasticity",
            **(metadata or {}),
        }

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, name: str | None = None) -> CheckpointAgent:
        """Load a trainer checkpoint (``CheckpointError`` if it is corrupt or not one)."""
        model, task, ckpt = load_model(path)
        train, step = ckpt["train"], int(ckpt["step"])
        cfg = model.config
        metadata = {
            "budget": f"{step} steps x batch {train.get('batch_size')}",
            "description": (f"{cfg.cell.upper()} hidden {cfg.effective_hidden_dim}, {cfg.rule} plasticity, "
                            f"meta-trained on {ckpt['task']['id']} (loss on {train.get('loss')} steps, "
                            f"seed {train.get('seed')})"),
        }
        if name is not None:
            metadata["name"] = name
        agent = cls(model, task, metadata)
        agent.checkpoint = {"path": str(path), "task": ckpt["task"], "train": train, "step": step}
        return agent

    @property
    def plastic(self) -> bool:
        """Whether the network has plastic weights F (rule ``"hebbian"`` or ``"gradient"``)."""
        return self.model.config.rule != "none"

    def without_plasticity(self) -> CheckpointAgent:
        """The same trained network with the plastic update switched off at test time (the leaderboard's plasticity
        ablation): a copy whose plastic config has eta = lam = 0 (``p_lr = p_wd = 0``), so in
        F <- (1 - lam_t) F + eta_t alpha ⊙ G_t the fast weights stay at their start value F_0 = 0 for the whole episode
        and only the recurrent activity h_t carries memory. The slow weights are copied unchanged; training code
        paths are untouched. A non-plastic network (rule ``"none"``) acts exactly as before."""
        model = copy.deepcopy(self.model)
        model.net.config = dataclasses.replace(model.net.config, p_lr=0.0, p_wd=0.0)
        ablated = type(self)(model, self.task, dict(self.metadata))
        ablated.checkpoint = getattr(self, "checkpoint", None)
        return ablated

    def reset(self, num_envs: int):
        """The episode-start state of ``num_envs`` envs."""
        return self.model.initial_state(require_int("num_envs", num_envs))

    def act(self, obs, state, episode_start: np.ndarray):
        """Actions ``[num_envs, *action_shape]`` (int64 classes for classification) and the next state.

        The state passed in is consumed: its plastic weights are updated in place (``PlasticNetwork.step``), as the
        evaluator passes each state once; ``state.clone()`` keeps a copy to act from twice."""
        starts = require_episode_start(episode_start)
        if state is None:
            state = self.reset(len(starts))
        if state.batch_size != len(starts):
            raise ValueError(f"state holds {state.batch_size} env(s) but episode_start has {len(starts)}")
        if starts.any():
            state = state.reset_where(starts)
        with torch.no_grad():
            out, state = self.model.step(obs, state, inplace=True)
        return outputs_to_actions(self.task, out.cpu().numpy()), state
