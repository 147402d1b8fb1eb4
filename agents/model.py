"""Task models: a plastic network with the input and output layout of a plastic-gym task.

Vector observations ``[B, T, D]`` feed the plastic network directly. Image tasks (``Dict`` obs with ``image`` uint8
``[B, T, C, H, W]`` and ``label`` float32 ``[B, T, n_way]``) go through a non-plastic Conv-4 encoder; its features and
the label one-hot are the plastic cell's input u_t. The output width is ``task.target_dim``: the predicted value of a
regression task, or the class logits of a classification task.

Size matching (the paper's ``scale_modelsize``, a comparison at about equal parameter counts): a plastic layer has two
parameters per connection (w and alpha), so every non-plastic network (``rule="none"``, RNN and LSTM alike) gets
``NONPLASTIC_SCALE = 1.5`` times the hidden units (128 plastic -> 192 non-plastic) when ``size_match`` is on.
``size_matched_hidden`` is that rule; recipes and the trainer state the plastic-equivalent size ("hidden 128,
size-matched") and the model is built with what the rule gives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from . import defaults
from .config import PlasticConfig
from .encoder import Conv4Encoder
from .network import PlasticNetwork
from .rules import get_rule

__all__ = ["ModelConfig", "NONPLASTIC_SCALE", "TaskModel", "build_model", "outputs_to_actions", "size_matched_hidden"]

#: Hidden-size factor of a non-plastic network matched to a plastic one (the paper's ``scale_modelsize``).
NONPLASTIC_SCALE = 1.5
#: The factor of a model config that does not record one (``nonplastic_scale`` absent): such configs were sized
#: by matching the non-plastic RNN only, and the committed LSTM baselines are built that way.
_UNRECORDED_SCALE = {"rnn": 1.5, "lstm": 1.0}


def size_matched_hidden(hidden_dim: int, rule: str, size_match: bool = True, scale: float = NONPLASTIC_SCALE) -> int:
    """The hidden units to build for a network of plastic-equivalent size ``hidden_dim``: ``round(scale *
    hidden_dim)`` for a non-plastic network (a rule without plastic weights, ``rule="none"``) when ``size_match``
    is on, else ``hidden_dim``."""
    if size_match and not get_rule(rule).plastic:
        return int(round(hidden_dim * scale))
    return hidden_dim


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a ``TaskModel`` (plain types only, so it can live in a checkpoint).

    Attributes:
        input: ``"vector"`` (obs ``[B, T, input_dim]``) or ``"image"`` (Dict obs ``image`` + ``label``).
        input_dim: width of a vector observation, or of the label one-hot (n_way) for image tasks.
        output_dim: ``task.target_dim``.
        cell, rule, hidden_dim: of the plastic network; ``hidden_dim`` is the plastic-equivalent size requested.
        size_match: scale the hidden size of a non-plastic (``rule="none"``) network by ``nonplastic_scale``.
        plastic: further ``PlasticConfig`` keyword arguments (modulation, p_lr, ...).
        encoder: ``Conv4Encoder`` arguments for image tasks, else None.
        nonplastic_scale: the size-matching factor (``NONPLASTIC_SCALE``); recorded so that a checkpoint is rebuilt
            at the size it was trained at.
    """

    input: str
    input_dim: int
    output_dim: int
    cell: str = defaults.CELL
    rule: str = defaults.RULE
    hidden_dim: int = defaults.HIDDEN_DIM
    size_match: bool = True
    plastic: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] | None = None
    nonplastic_scale: float = NONPLASTIC_SCALE

    def __post_init__(self):
        if self.input not in ("vector", "image"):
            raise ValueError(f"ModelConfig.input must be 'vector' or 'image', got {self.input!r}")
        if (self.input == "image") != (self.encoder is not None):
            raise ValueError("ModelConfig.encoder must be given exactly for input='image'")
        if isinstance(self.nonplastic_scale, bool) or not isinstance(self.nonplastic_scale, (int, float)) \
                or not self.nonplastic_scale > 0:
            raise ValueError(f"ModelConfig.nonplastic_scale must be a number > 0, got {self.nonplastic_scale!r}")

    @property
    def effective_hidden_dim(self) -> int:
        """The hidden size actually built: ``hidden_dim``, times the size-matching factor for a non-plastic network."""
        return size_matched_hidden(self.hidden_dim, self.rule, self.size_match, self.nonplastic_scale)

    def plastic_config(self) -> PlasticConfig:
        cell_input = self.input_dim + (self.encoder["out_dim"] if self.encoder else 0)
        return PlasticConfig(cell_input, self.output_dim, hidden_dim=self.effective_hidden_dim, cell=self.cell,
                             rule=self.rule, **self.plastic)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of ``to_dict``; a dict without ``nonplastic_scale`` gets the factor its cell was sized with then
        (1.5 for the RNN, 1 for the LSTM)."""
        if isinstance(data, dict) and "nonplastic_scale" not in data:
            data = {**data, "nonplastic_scale": _UNRECORDED_SCALE.get(data.get("cell", "rnn"), 1.0)}
        try:
            return cls(**data)
        except TypeError as err:
            raise ValueError(f"not a valid model config ({err}); expected the keys of ModelConfig") from err


class TaskModel(nn.Module):
    """[encoder +] plastic network for one task's observation layout; see the module docstring."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Conv4Encoder(**config.encoder) if config.encoder else None
        self.net = PlasticNetwork(config.plastic_config())

    # -- inputs ---------------------------------------------------------------------------------------
    def _tensor(self, x: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, device=device)
        return t if dtype is None else t.to(dtype)

    def encode(self, obs: Any) -> torch.Tensor:
        """Observations with any leading axes (``[B, T, ...]`` or ``[B, ...]``) -> cell inputs ``[..., D_in]``."""
        if self.encoder is None:
            if isinstance(obs, dict):
                raise ValueError("this model takes vector observations, got a dict")
            x = self._tensor(obs, torch.float32)
            if x.shape[-1] != self.config.input_dim:
                raise ValueError(f"expected observations with last axis {self.config.input_dim}, got {tuple(x.shape)}")
            return x
        if not isinstance(obs, dict) or not {"image", "label"} <= set(obs):
            raise ValueError(f"this model takes dict observations with 'image' and 'label', got {type(obs).__name__}")
        image, label = obs["image"], self._tensor(obs["label"], torch.float32)
        lead = label.shape[:-1]
        if self.feature_cache is not None:
            image = image if isinstance(image, (np.ndarray, torch.Tensor)) else np.asarray(image)
            feats = self.feature_cache(image.reshape(-1, *image.shape[len(lead):]))
        else:
            image = self._tensor(image)
            feats = self.encoder(image.reshape(-1, *image.shape[len(lead):]))
        return torch.cat([feats.reshape(*lead, -1), label], dim=-1)

    # -- running ---------------------------------------------------------------------------------------
    def initial_state(self, batch_size: int):
        return self.net.initial_state(batch_size)

    def forward(self, obs: Any, state=None):
        """Whole sequences: obs ``[B, T, ...]`` -> (outputs ``[B, T, output_dim]``, final state)."""
        return self.net(self.encode(obs), state)

    def step(self, obs_t: Any, state, inplace: bool = False):
        """One step for acting: obs ``[B, ...]`` -> (outputs ``[B, output_dim]``, next state); ``inplace``: the
        network updates the plastic weights of ``state`` in place (``PlasticNetwork.step``)."""
        x = self.encode(obs_t)
        return self.net.step(x, state, inplace=True) if inplace else self.net.step(x, state)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- a pretrained encoder ------------------------------------------------------------------------------------
    encoder_frozen = False
    #: The frozen encoder's features of a task's finite image set (``cache_features``), or None.
    feature_cache = None

    def freeze_encoder(self) -> None:
        """Meta-train only the plastic network on top of a pretrained encoder: the encoder's parameters get no
        gradient and its batch norm keeps the running statistics of pretraining (eval mode, also under ``train()``)."""
        if self.encoder is None:
            raise ValueError("freeze_encoder: this model has no image encoder (vector observations)")
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()

    def cache_features(self, images) -> None:
        """Encode ``images`` (uint8 ``[N, C, H, W]``: every image a task can show, ``OneShotTask.distinct_images``)
        once with the frozen encoder and look them up from now on (``feature_cache.FeatureCache``); None drops the
        cache. Needs a frozen encoder: a trained one changes its features at every step."""
        if images is None:
            self.feature_cache = None
            return
        if not self.encoder_frozen:
            raise ValueError("cache_features needs a frozen encoder (freeze_encoder): a trained encoder's features "
                             "change at every step")
        from .feature_cache import FeatureCache

        self.feature_cache = FeatureCache(self.encoder, images)

    def train(self, mode: bool = True) -> TaskModel:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self


def build_model(task, cell: str = defaults.CELL, rule: str = defaults.RULE, hidden_dim: int = defaults.HIDDEN_DIM,
                size_match: bool = True, encoder_dim: int = 64, encoder_channels: int = 64,
                encoder_normalize: bool = False, **plastic: Any) -> TaskModel:
    """The ``TaskModel`` for ``task``'s observation space (vector, or Dict of image + label).

    ``encoder_dim`` and ``encoder_channels`` size the Conv-4 encoder of image tasks (projection width, conv width;
    the paper's Conv-4 has 64 channels, fewer make CPU training several times cheaper); ``encoder_normalize``
    puts its features on a sphere (``Conv4Encoder(normalize=True)``).
    """
    return TaskModel(model_config_for(task, cell, rule, hidden_dim, size_match, encoder_dim, encoder_channels,
                                      encoder_normalize, **plastic))


def model_config_for(task, cell: str = defaults.CELL, rule: str = defaults.RULE,
                     hidden_dim: int = defaults.HIDDEN_DIM, size_match: bool = True, encoder_dim: int = 64,
                     encoder_channels: int = 64, encoder_normalize: bool = False, **plastic: Any) -> ModelConfig:
    space = task.observation_space
    common = dict(output_dim=task.target_dim, cell=cell, rule=rule, hidden_dim=hidden_dim, size_match=size_match,
                  plastic=dict(plastic))
    if isinstance(space, spaces.Dict):
        if not {"image", "label"} <= set(space.spaces):
            raise ValueError(f"dict observations need 'image' and 'label' entries, got {sorted(space.spaces)}")
        c, h, w = space["image"].shape
        if h != w:
            raise ValueError(f"the Conv-4 encoder expects square images, got {h}x{w}")
        encoder = {"in_channels": int(c), "image_size": int(h), "channels": int(encoder_channels),
                   "out_dim": int(encoder_dim), **({"normalize": True} if encoder_normalize else {})}
        return ModelConfig("image", int(space["label"].shape[0]), encoder=encoder, **common)
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"expected a flat Box or a Dict(image, label) observation space, got {space}")
    return ModelConfig("vector", int(space.shape[0]), **common)


def outputs_to_actions(task, outputs: np.ndarray) -> np.ndarray:
    """Network outputs ``[..., K]`` -> actions ``[..., *action_shape]``: the argmax class for classification, else the
    predicted value clipped to the action space (clipping never increases the error of an in-bounds target)."""
    outputs = np.asarray(outputs)
    if task.kind == "classification":
        return outputs.argmax(-1).astype(np.int64)
    space = task.action_space
    values = outputs.reshape(*outputs.shape[:-1], *space.shape)
    return np.clip(values, space.low, space.high).astype(np.float32)
