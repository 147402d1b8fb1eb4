"""``PrototypeAgent``: the prototypical-network reference (Snell et al. 2017) on a pretrained encoder.

The standard few-shot method, for comparison with a plastic network on the same features: at a support step the
agent adds the encoder's features phi(x_t) of the image to the running sum of its label (read from the one-hot
label input); at a query step it answers the label whose class mean is nearest,

    c_k = (1 / n_k) sum_{t: l_t = k} phi(x_t),     a_t = argmin_k ||phi(x_t) - c_k||^2

(labels not yet shown are never chosen; before any support step the answer is 0). Nothing is learned within an
episode but these sums, and nothing is trained here: the encoder comes from a meta-training checkpoint whose encoder
was pretrained (``plastic-gym train ... --pretrain-encoder classification``). It plays any ``n_way`` with the
encoder's image size, so it also plays 20-way episodes and the official Omniglot runs. A reference row, not a
ranked entry: it is not plastic and its learning rule is hand-written.

    plastic-gym evaluate --agent prototype:runs/oneshot/checkpoint.pt
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from plastic_gym.validation import require_episode_start, require_int

from .checkpoint import load_model
from .fewshot_metrics import prototype_scores

__all__ = ["PrototypeAgent", "PrototypeFactory"]


class PrototypeAgent:
    """Agent protocol (``reset`` / ``act``) of the nearest-class-mean rule on ``encoder``'s features, ``n_way``
    labels. State: ``(sums [N, n_way, D], counts [N, n_way])`` torch tensors."""

    privileged = False

    def __init__(self, encoder: torch.nn.Module, n_way: int, metadata: dict[str, Any] | None = None):
        self.encoder, self.n_way = encoder.eval(), int(n_way)
        dim = encoder.out_dim
        self.metadata = {"parameters": sum(p.numel() for p in encoder.parameters()),
                         "state_floats": self.n_way * (dim + 1), **(metadata or {})}

    def reset(self, num_envs: int):
        n = require_int("num_envs", num_envs)
        return torch.zeros(n, self.n_way, self.encoder.out_dim), torch.zeros(n, self.n_way)

    def act(self, obs, state, episode_start: np.ndarray):
        starts = require_episode_start(episode_start)
        if not isinstance(obs, dict) or not {"image", "label"} <= set(obs):
            raise ValueError("PrototypeAgent takes dict observations with 'image' and 'label', "
                             f"got {type(obs).__name__}")
        sums, counts = self.reset(len(starts)) if state is None else state
        if sums.shape[0] != len(starts):
            raise ValueError(f"state holds {sums.shape[0]} env(s) but episode_start has {len(starts)}")
        keep = torch.as_tensor(~starts, dtype=sums.dtype)
        label = torch.as_tensor(np.asarray(obs["label"]), dtype=sums.dtype)  # one-hot at support steps, else 0
        with torch.no_grad():
            feats = self.encoder(torch.as_tensor(np.asarray(obs["image"])))  # [N, D]
        sums = sums * keep[:, None, None] + label[:, :, None] * feats[:, None, :]
        counts = counts * keep[:, None] + label
        scores = prototype_scores(feats[:, None], sums, counts)[:, 0]  # [N, n_way]
        actions = torch.where(counts.sum(1) > 0, scores.argmax(-1), 0)
        return actions.numpy().astype(np.int64), (sums, counts)


class PrototypeFactory:
    """Builds a ``PrototypeAgent`` for every one-shot task whose images fit the encoder (any ``n_way``)."""

    def __init__(self, encoder: torch.nn.Module, metadata: dict[str, Any]):
        self.encoder, self.metadata = encoder.eval(), metadata

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, name: str | None = None,
                        label: str | None = None) -> PrototypeFactory:
        """The encoder of a meta-training checkpoint (``CheckpointError`` if unusable; ``ValueError`` if the model
        has no image encoder). ``label`` names the checkpoint in the description (default: ``path``)."""
        model, _, ckpt = load_model(path)
        if model.encoder is None:
            raise ValueError(f"checkpoint {path} has no image encoder (task {ckpt['task']['id']}); the prototype "
                             "reference needs a model of an image task")
        pre = ckpt.get("pretrain") or {}
        budget = (f"encoder pretrained {pre['steps']} steps x batch {pre['config']['batch_size']} "
                  f"({pre['config']['source']}, {pre['n_classes']} classes)" if pre else "encoder not pretrained")
        metadata = {"name": name or "prototype-reference", "regime": "reference", "reference": True,
                    "parameters": sum(p.numel() for p in model.encoder.parameters()),
                    "budget": budget, "privileged": False,
                    "description": (f"unranked non-plastic reference: prototypical network (nearest class mean, "
                                    f"Snell et al. 2017) on the encoder of {label or path}")}
        return cls(model.encoder, metadata)

    def for_task(self, context) -> PrototypeAgent | None:
        obs, act = context.observation_space, context.action_space
        enc = self.encoder
        if not (isinstance(obs, spaces.Dict) and {"image", "label"} <= set(obs.spaces)
                and isinstance(act, spaces.Discrete)):
            return None
        if tuple(obs["image"].shape) != (enc.in_channels, enc.image_size, enc.image_size):
            return None
        if tuple(obs["label"].shape) != (act.n,):
            return None
        return PrototypeAgent(enc, act.n)
