"""``TrainConfig``: the settings of one supervised meta-training run (``agents/trainer.py``), validated on creation.

The network settings default to ``agents/defaults.py``, so ``TrainConfig(task_id)`` trains the network that
``PlasticConfig`` and ``plastic-gym train`` build when nothing is named.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from plastic_gym.validation import reject_unknown, require, require_choice, require_float, require_int

from . import defaults
from .checkpoint import plain

__all__ = ["DEVICES", "LOSSES", "TrainConfig", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda")
LOSSES = ("scored", "all")


@dataclass
class TrainConfig:
    """One training run. ``steps`` is the total number of outer steps (a resumed run continues up to it).

    ``weight_decay`` is AdamW's (0: the paper's value); ``device`` is one of ``DEVICES`` or ``"cuda:N"``.
    """

    task_id: str
    rule: str = defaults.RULE
    cell: str = defaults.CELL
    steps: int = 5000
    hidden_dim: int = defaults.HIDDEN_DIM
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    loss: str = "scored"
    seed: int = 0
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    val_every: int = 200
    val_episodes: int = 512
    val_seed: int = 1_000_003
    size_match: bool = True
    encoder_channels: int = 64
    plastic: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    #: ``PretrainConfig`` fields (``agents/pretrain.py``): pretrain the image encoder by classification before
    #: meta-training (and freeze it there if ``freeze``); None trains the encoder from scratch with the rest.
    pretrain: dict[str, Any] | None = None

    def __post_init__(self):
        require(isinstance(self.device, str) and (self.device in DEVICES or re.fullmatch(r"cuda:\d+", self.device)),
                f"device must be one of {DEVICES} or 'cuda:N', got {self.device!r}")
        require_choice("loss", self.loss, LOSSES)
        require_int("steps", self.steps, minimum=0)
        for name in ("hidden_dim", "batch_size", "val_every", "val_episodes", "encoder_channels"):
            require_int(name, getattr(self, name))
        require_float("lr", self.lr, strict=True)
        require_float("grad_clip", self.grad_clip, strict=True)
        require_float("weight_decay", self.weight_decay)
        if self.pretrain is not None:
            from .pretrain import PretrainConfig

            self.pretrain = PretrainConfig.from_dict(self.pretrain).to_dict()

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        reject_unknown(data, sorted(f.name for f in fields(cls)), "TrainConfig field")
        return cls(**data)


def resolve_device(name: str) -> torch.device:
    """The torch device of a ``TrainConfig.device``: "auto" is CUDA when available, else the CPU; asking for CUDA
    where there is none is an error (not a silent fall back to the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA device (use --device cpu or auto)")
    return torch.device(name)
