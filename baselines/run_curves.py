"""Validation curves of supervised run folders side by side: ``plastic-gym baseline curves FOLDER... --task T``.

Every ``<recipe>/s<seed>/<task>/metrics.jsonl`` under the given folders (runs folders of ``baseline train
--runs-dir`` or campaign folders; the trainer's records, ``agents/trainer.py``) becomes one line in each panel of
``agents.plots.plot_curves``: one panel per validation metric and the training loss. Recipes trained in different
campaigns (for example on the scored steps and on every step of an episode) are compared on one figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_runs(folders: list[str | Path], task: str) -> dict[str, list[dict[str, Any]]]:
    """``"<recipe> s<seed>"`` -> the validation records of that run of ``task``, for every run under ``folders``."""
    from plastic_gym.agents.trainer import METRICS_NAME

    runs: dict[str, list[dict[str, Any]]] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder; expected a runs folder or a campaign folder")
        for path in sorted(folder.glob(f"*/s[0-9]*/{task}/{METRICS_NAME}")):
            label = f"{path.parents[2].name} s{path.parents[1].name.removeprefix('s')}"
            if label in runs:
                raise ValueError(f"{path}: run {label!r} of {task} is in two of the folders "
                                 f"{[str(f) for f in folders]}")
            runs[label] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not runs:
        raise ValueError(f"no supervised run of task {task!r} (<recipe>/s<seed>/{task}/{METRICS_NAME}) under "
                         f"{[str(f) for f in folders]}")
    return runs


def plot(folders: list[str | Path], task: str, out: str | Path, metrics: list[str] | None = None) -> Path:
    """The figure of ``read_runs(folders, task)`` written to ``out`` (PNG); ``metrics``: the validation metrics
    drawn (default: every one recorded)."""
    from plastic_gym.agents.plots import plot_curves

    return plot_curves(read_runs(folders, task), out, title=f"{task}: validation during meta-training",
                       metrics=tuple(metrics) if metrics else None)
