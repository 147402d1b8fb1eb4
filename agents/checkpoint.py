"""Checkpoints of the supervised meta-trainer: one self-describing file, safe to load with ``weights_only=True``.

A checkpoint is a plain dict (tensors, dicts, lists, str/int/float/bool/None only)::

    {"format": "plastic-gym-checkpoint", "version": 1, "plastic_gym_version": str,
     "task": {"id": str, "kwargs": {...}}, "model": ModelConfig.to_dict(), "train": TrainConfig.to_dict(),
     "step": int, "state_dict": {...}, "optimizer": {...}, "rng": {"numpy": {...}, "torch": ByteTensor},
     "metrics": [validation records], "summary": {...}}

It is written atomically (temp file in the same folder + ``os.replace``), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from plastic_gym.io import atomic_path

__all__ = ["atomic_path", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "check_matches",
           "load_checkpoint", "load_model", "plain", "save_checkpoint", "to_cpu"]

CHECKPOINT_FORMAT = "plastic-gym-checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED = ("task", "model", "train", "step", "state_dict")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, not a plastic-gym checkpoint, or not matching what was asked."""


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor (in nested dicts, lists and tuples) moved to the CPU, for a device-free
    checkpoint."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """``value`` as JSON-like plain types (numpy scalars and tuples converted), so ``weights_only`` loading accepts
    it."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else list(v)))


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (with format and version added) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint (``torch.load(weights_only=True)``); ``CheckpointError`` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, corrupt, or unsafe content: all mean "not usable"
        first_line = (str(err).splitlines() or [""])[0][:200]
        raise CheckpointError(f"checkpoint {path} is corrupt or not a plastic-gym checkpoint "
                              f"(torch.load failed: {type(err).__name__}: {first_line})") from err
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a plastic-gym checkpoint "
                              f"(expected a dict with format={CHECKPOINT_FORMAT!r})")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {data.get('version')!r}; this plastic-gym reads "
                              f"version {CHECKPOINT_VERSION}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}; expected all of {list(_REQUIRED)}")
    return data


def check_matches(checkpoint: dict[str, Any], expected: dict[str, Any], path: str | os.PathLike = "checkpoint",
                  ignore: tuple[str, ...] = ()) -> None:
    """Raise ``CheckpointError`` naming every field (``section.key``) where ``checkpoint`` differs from ``expected``.

    ``expected`` maps top-level sections (``task``, ``model``, ``train``) to the dicts they must equal; keys listed in
    ``ignore`` (as ``section.key``) may differ (e.g. ``train.steps`` when resuming to a later step).
    """
    diffs = []
    for section, want in expected.items():
        have = checkpoint.get(section)
        if not isinstance(want, dict) or not isinstance(have, dict):
            if plain(have) != plain(want):
                diffs.append(f"{section}: checkpoint {have!r} vs requested {want!r}")
            continue
        for key in sorted(set(want) | set(have)):
            name = f"{section}.{key}"
            if name not in ignore and plain(have.get(key)) != plain(want.get(key)):
                diffs.append(f"{name}: checkpoint {have.get(key)!r} vs requested {want.get(key)!r}")
    if diffs:
        raise CheckpointError(f"checkpoint {path} does not match the requested run: " + "; ".join(diffs))


def load_model(path: str | os.PathLike):
    """``(model, task, checkpoint)`` from a checkpoint file: the task rebuilt from its id and kwargs, the model in eval
    mode."""
    from plastic_gym import make_task

    from .model import ModelConfig, TaskModel

    checkpoint = load_checkpoint(path)
    task = make_task(checkpoint["task"]["id"], **checkpoint["task"]["kwargs"])
    model = TaskModel(ModelConfig.from_dict(checkpoint["model"]))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path}: weights do not fit its model config ({str(err)[:300]})") from err
    model.eval()
    return model, task, checkpoint
