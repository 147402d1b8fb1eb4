"""The figures of a board: ``leaderboard.png`` (normalized score per task and IQM, one bar per agent, 95%
intervals) and ``diagnostics.png`` (memory span, regression error by number of training points, plasticity
ablation, learning within the episode). PNG bytes, with no timestamp in them, so that the same submissions render
the same files."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .diagnostics import MAX_STUDY
from .layout import PRIMARY_BOARD
from .page_rows import rows_with


def diagnostics_png(table: list[dict[str, Any]], board: str = PRIMARY_BOARD) -> bytes | None:
    """The diagnostics figure (None when no row has diagnostics): normalized copy score vs delay per agent, the
    regression test error by number of training points (``_points_panel``), the plasticity ablation (normalized
    score with and without the plastic update, per task), the query error of each association task by times
    studied, and the cumulative regret curve of each bandit task."""
    span, ablation, regret = (rows_with(table, k) for k in ("memory_span", "ablation", "regret"))
    studied, points = rows_with(table, "study_count"), rows_with(table, "points")
    point_tasks = list(dict.fromkeys(t for r in points for t in r["diagnostics"]["points"]))
    regret_tasks = list(dict.fromkeys(t for r in regret for t in r["diagnostics"]["regret"]))
    study_tasks = list(dict.fromkeys(t for r in studied for t in r["diagnostics"]["study_count"]))
    panels = ([("span", None)] if span else []) + [("points", t) for t in point_tasks] \
        + ([("ablation", None)] if ablation else []) + [("study", t) for t in study_tasks] \
        + [("regret", t) for t in regret_tasks]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols + 2, 4.4 * nrows), dpi=100, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    cmap = plt.get_cmap("tab20")
    colors = {r["name"]: cmap(i % 20) for i, r in enumerate(table)}
    for ax, (kind, task) in zip(axes.flat, panels, strict=False):  # spare axes are hidden
        if kind == "span":
            for r in span:
                ms = r["diagnostics"]["memory_span"]
                x = np.arange(len(ms["delays"]))
                ax.plot(x, np.clip(ms["normalized"], -1.5, 1.2), marker="o", ms=3, color=colors[r["name"]],
                        label=r["name"], ls="--" if not r["ranked"] else "-")
                ax.set_xticks(x, [str(d) for d in ms["delays"]])
            ax.axhline(0.5, color="gray", lw=0.8, ls=":")
            ax.axhline(0, color="gray", lw=0.8)
            ax.set(xlabel="delay between study and recall (steps)", ylabel="normalized copy score (clipped)",
                   title="memory span (dotted: threshold 0.5)")
        elif kind == "points":
            _points_panel(ax, task, points, colors)
        elif kind == "ablation":
            tasks = list(dict.fromkeys(t for r in ablation for t in r["diagnostics"]["ablation"]["tasks"]))
            width = 0.8 / len(ablation)
            for i, r in enumerate(ablation):
                ab = r["diagnostics"]["ablation"]["tasks"]
                pos = np.arange(len(tasks)) - 0.4 + width * (i + 0.5)
                on = np.clip([ab[t]["normalized"] if t in ab else np.nan for t in tasks], -1, 1.2)
                off = np.clip([ab[t]["ablated"] if t in ab else np.nan for t in tasks], -1, 1.2)
                ax.bar(pos, on, width, color=colors[r["name"]], label=r["name"], alpha=0.9)
                ax.scatter(pos, off, marker="_", s=120, color="black", zorder=3,
                           label="eta = 0 at test time" if i == 0 else None)
            ax.axhline(0, color="gray", lw=0.8)
            ax.set_xticks(np.arange(len(tasks)), tasks, rotation=25, ha="right")
            ax.set(ylabel="normalized score (clipped)", title="plasticity ablation (bar: on, tick: off)")
        elif kind == "study":
            for r in studied:
                v = r["diagnostics"]["study_count"].get(task)
                if v:
                    ax.plot(v["counts"], np.clip(v["error"], 0, 1.5), marker="o", ms=3, color=colors[r["name"]],
                            label=r["name"], ls="--" if not r["ranked"] else "-")
            ax.set_xticks(range(MAX_STUDY + 1), [str(k) if k < MAX_STUDY else f"{k}+" for k in range(MAX_STUDY + 1)])
            ax.set(xlabel="times the queried cue was studied", ylabel="query error (a - r)^2 (clipped)",
                   title=f"{task}: learning within the episode")
        else:
            for r in regret:
                v = r["diagnostics"]["regret"].get(task)
                if v:
                    ax.plot(np.arange(1, len(v["cumulative"]) + 1), v["cumulative"], color=colors[r["name"]],
                            label=r["name"], ls="--" if not r["ranked"] else "-")
            ax.set(xlabel="step t", ylabel="cumulative expected regret", title=f"{task}: regret within the episode")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(0.995, 0.95))
    fig.suptitle(f"plastic-gym, suite {board}: within-episode diagnostics")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _points_panel(ax, task: str, points: list[dict[str, Any]], colors: dict[str, Any]) -> None:
    """Test error vs number of training points on regression task ``task``: one line per agent (unranked rows
    dashed) and the no-memory and oracle references of the same episodes in black, dashed and dotted. Log axes: the
    errors span from the oracle's at 20 points to the random agent's."""
    refs = None
    for r in points:
        v = r["diagnostics"]["points"].get(task)
        if v:
            refs = refs or v
            ax.plot(v["points"], v["score"], marker="o", ms=3, color=colors[r["name"]], label=r["name"],
                    ls="--" if not r["ranked"] else "-")
    for key, style, label in (("no_memory", "--", "no-memory reference"), ("oracle", ":", "oracle reference")):
        ax.plot(refs["points"], refs[key], color="black", lw=1.2, ls=style, label=label, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(refs["points"], [str(n) for n in refs["points"]])
    ax.minorticks_off()
    ax.set(xlabel="training points shown (train_length)", ylabel="test error (MSE, log)",
           title=f"{task}: error by number of training points")


def plot_png(task_names: list[str], table: list[dict[str, Any]], board: str = PRIMARY_BOARD) -> bytes:
    """Grouped bars: normalized score per task and the IQM, one bar per agent, with 95% intervals. Values beyond
    the axis range (the random agent is far below 0 on regression) are clipped and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [*task_names, "IQM"]
    lo_lim, hi_lim = -0.6, 1.3
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(groups) + 2), 4.8), dpi=110)
    n = max(len(table), 1)
    width = 0.8 / n
    x = np.arange(len(groups))
    cmap = plt.get_cmap("tab20")
    for i, r in enumerate(table):
        vals, lows, highs = [], [], []
        for g in groups:
            s = r["iqm"] if g == "IQM" else r["tasks"].get(g)
            v, (lo, hi) = (np.nan, (np.nan, np.nan)) if s is None else (s["normalized" if g != "IQM" else "value"],
                                                                          s["interval"])
            vals.append(v), lows.append(lo), highs.append(hi)
        vals, lows, highs = map(np.asarray, (vals, lows, highs))
        shown = np.clip(vals, lo_lim, hi_lim)
        pos = x - 0.4 + width * (i + 0.5)
        err = np.clip(np.stack([shown - np.clip(lows, lo_lim, hi_lim), np.clip(highs, lo_lim, hi_lim) - shown]), 0,
                      None)
        label = r["name"] + (" (privileged)" if r["privileged"] else " (reference)" if r["reference"] else "")
        label += "" if r["status"] == "verified" else " (self-reported)"
        ax.bar(pos, shown, width, yerr=err, capsize=2, color=cmap(i % 20), label=label,
               hatch="//" if not r["ranked"] else None, edgecolor="white", linewidth=0.5)
        for p, v in zip(pos, vals, strict=True):
            if np.isfinite(v) and (v < lo_lim or v > hi_lim):
                ax.annotate(f"{v:.1f}", (p, lo_lim if v < lo_lim else hi_lim), xytext=(0, 3 if v < lo_lim else -3),
                            textcoords="offset points", ha="center", va="bottom" if v < lo_lim else "top",
                            fontsize=7, rotation=90, color="black",
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.axhline(0, color="gray", lw=0.8)
    ax.axhline(1, color="gray", lw=0.8, ls="--")
    ax.axvline(len(task_names) - 0.5, color="lightgray", lw=1)
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylim(lo_lim, hi_lim)
    ax.set_ylabel("normalized score (0 = no memory, 1 = oracle)")
    ax.set_title(f"plastic-gym leaderboard, suite {board}: per-task normalized scores and IQM (95% bootstrap CI)")
    if table:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
