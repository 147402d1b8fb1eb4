"""Learning-curve figures of training runs (the trainer's ``curve.png``, the baselines' ``curves.png``).

Matplotlib's object API only (no pyplot, no global backend change), so plotting from a training loop or a test never
opens a window; torch is not imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from plastic_gym.io import atomic_path

__all__ = ["curves_figure", "plot_curves"]


#: The title of the one panel of a figure whose runs have no records yet.
_EMPTY = "no records yet"
#: Up to this many runs, each panel has its legend; with more, one legend stands beside the panels.
_LEGEND_IN_PANEL = 4


def plot_curves(runs: dict[str, list[dict[str, Any]]], path: str | os.PathLike, title: str = "",
                metrics: tuple[str, ...] | None = None, reference: dict[str, float] | None = None,
                xlabel: str = "outer step", train_loss: bool = True) -> Path:
    """The learning curves of ``curves_figure`` written atomically to ``path`` as PNG."""
    fig = curves_figure(runs, title, metrics, reference, xlabel, train_loss)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return Path(path)


def curves_figure(runs: dict[str, list[dict[str, Any]]], title: str = "", metrics: tuple[str, ...] | None = None,
                  reference: dict[str, float] | None = None, xlabel: str = "outer step", train_loss: bool = True):
    """Learning curves: one panel per validation metric (and the training loss), one line per run.

    ``runs`` maps a label to its metric records (``{"step", "val": {metric: value}, "train_loss"}``); ``reference``
    draws horizontal lines (e.g. the paper's values). The training loss is drawn on a log scale when it spans more
    than a factor of 10. Returns a matplotlib ``Figure`` (object API: no pyplot, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(metrics) if metrics else sorted({k for recs in runs.values() for r in recs for k in r["val"]})
    panels = names + (["train_loss"] if train_loss else []) or [_EMPTY]  # e.g. an RL run before its first episode
    fig = Figure(figsize=(4.2 * len(panels) + 2.4 * (len(runs) > _LEGEND_IN_PANEL), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    styles = _line_styles(list(runs))
    for ax, name in zip(axes, panels, strict=True):
        drawn: list[float] = []
        for label, recs in runs.items():
            if name == "train_loss":
                pts = [(r["step"], r["train_loss"]) for r in recs if r.get("train_loss") is not None]
            else:
                pts = [(r["step"], r["val"][name]) for r in recs if name in r.get("val", {})]
            if pts:
                color, dash = styles[label]
                ax.plot(*zip(*pts, strict=True), label=label, color=color, linestyle=dash,
                        marker="." if len(pts) < 30 else None)
                drawn += [v for _, v in pts]
        if name == "train_loss" and drawn and min(drawn) > 0 and max(drawn) > 10 * min(drawn):
            ax.set_yscale("log")  # an early spike would otherwise flatten the rest of the curve
        for ref_label, value in (reference or {}).items():
            if ref_label.startswith(name + ":"):
                ax.axhline(value, ls="--", lw=0.8, color="gray")
                ax.annotate(ref_label.split(":", 1)[1], (0, value), fontsize=7, color="gray",
                            xytext=(2, 2), textcoords="offset points")
        ax.set_xlabel(xlabel)
        ax.set_title(name if name in ("train_loss", _EMPTY) else f"validation {name}")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and len(runs) <= _LEGEND_IN_PANEL:
            ax.legend(fontsize=8)
    if len(runs) > _LEGEND_IN_PANEL:  # one legend beside the panels rather than one over each panel's curves
        handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
        fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _line_styles(labels: list[str]) -> dict[str, tuple[str, str]]:
    """Label -> (color, line style). Runs labelled ``"<name> s<seed>"`` (``baselines.run_curves``) share their
    name's color and take a line style per seed (s0 solid, the next seed dashed, ...), so a figure of several seeds
    reads recipe by recipe; any other label has a color of its own, solid."""
    parsed = {label: re.fullmatch(r"(.+) s(\d+)", label) for label in labels}
    names = list(dict.fromkeys(m[1] if m else label for label, m in parsed.items()))
    seeds = sorted({int(m[2]) for m in parsed.values() if m})
    dashes = ["-", "--", ":", "-."]
    return {label: (f"C{names.index(m[1] if m else label) % 10}",
                    dashes[seeds.index(int(m[2])) % len(dashes)] if m else "-") for label, m in parsed.items()}
