"""The terminal table of a result document (``plastic-gym evaluate``): agents as rows, tasks as columns, first the
normalized scores with the aggregates, then the raw primary metric with the references, within a given width."""

from __future__ import annotations

import functools
import textwrap
from typing import Any

import numpy as np


def table(doc: dict[str, Any], width: int = 120) -> str:
    """Plain-text tables of a result document, agents as rows and tasks as columns, at most ``width`` characters wide.

    First the normalized scores (0 = no memory, 1 = oracle) with the IQM, its 95% interval and the mean over tasks,
    ranked agents by IQM and then the unranked rows (privileged agents such as the oracle, classical references);
    then the raw primary metric of each task, with its name and direction (lower or higher is better) and the
    no-memory and oracle references as the last rows. Task columns that do not fit beside the agent column continue
    in further blocks, each repeating the agent column; names too long for a column are cut.
    """
    if width < 60:
        raise ValueError(f"table width must be at least 60 characters, got {width}")
    tasks = doc["tasks"]
    agents = sorted(doc["agents"], key=lambda a: (bool(_unranked(a)), -a["scores"]["iqm"]["value"]))
    ranked = sum(not _unranked(a) for a in agents)
    names = [_MARKS[_unranked(a)] + a["metadata"]["name"] for a in agents]
    key = _Column(["agent"], names, "<")
    iqm, mean = ([a["scores"][k] for a in agents] for k in ("iqm", "mean"))
    aggregates = [_Column(["IQM"], [f"{s['value']:+.3f}" for s in iqm]),
                  _Column(["95% CI"], [f"[{s['interval'][0]:+.2f}, {s['interval'][1]:+.2f}]" for s in iqm]),
                  _Column(["mean"], [f"{s['value']:+.3f}" for s in mean])]
    norm_cols, raw_cols = [], []
    for t in tasks:
        name = t["name"]
        fallback = ["*" if any(run[name].get("fallback") for run in a["runs"]) else "" for a in agents]
        norm_cols.append(_Column(_wrap(name, "-"), [f"{a['scores']['tasks'][name]['normalized']:+.3f}{fb}"
                                                     for a, fb in zip(agents, fallback, strict=True)]))
        refs = [float(np.mean(t["references"][k])) for k in ("no_memory", "oracle")]
        raw_cols.append(_Column(_wrap(name, "-") + _wrap(t["primary_metric"], "_")
                                + ["(higher)" if t["higher_is_better"] else "(lower)"],
                                [f"{a['scores']['tasks'][name]['score']:.4g}{fb}"
                                 for a, fb in zip(agents, fallback, strict=True)] + [f"{v:.4g}" for v in refs]))
    raw_key = _Column(["agent"], names + ["(no-memory reference)", "(oracle reference)"], "<")
    legend = ["cells: * = the agent cannot play the task (no-memory fallback)"]
    kinds = sorted({_unranked(a) for a in agents} - {False})
    if kinds:
        legend.append("unranked rows: " + "; ".join(f"{_MARKS[k].strip()} = {_KINDS[k]}" for k in kinds))
    fill = functools.partial(textwrap.fill, width=width, subsequent_indent="  ")
    lines = [fill("normalized score (0 = no memory, 1 = oracle; higher is better), ranked by IQM:"), ""]
    lines += _grid(key, aggregates, norm_cols, width, rules={ranked} - {0, len(agents)})
    lines += ["", fill("raw primary metric on the same episodes:"), ""]
    lines += _grid(raw_key, [], raw_cols, width, rules={ranked, len(agents)} - {0})
    return "\n".join(lines + [""] + [fill(line) for line in legend])


#: Name prefixes of the rows: none for ranked agents, "! " for privileged agents, "~ " for classical references.
_MARKS = {False: "", "privileged": "! ", "reference": "~ "}
_KINDS = {"privileged": "privileged (reads what an agent cannot see)", "reference": "classical reference"}


def _unranked(agent: dict[str, Any]) -> str | bool:
    """``"privileged"``, ``"reference"`` (an unranked classical reference) or False (a ranked agent)."""
    meta = agent["metadata"]
    return "privileged" if meta.get("privileged") else "reference" if meta.get("reference") else False


class _Column:
    """A table column: header lines, one cell per row, alignment ("<" left, ">" right)."""

    def __init__(self, header: list[str], cells: list[str], align: str = ">"):
        self.header, self.cells, self.align = header, cells, align

    @property
    def width(self) -> int:
        return max(len(x) for x in [*self.header, *self.cells])

    def clipped(self, width: int) -> _Column:
        """This column with every line cut to ``width`` characters (the cut marked by "~")."""
        cut = [x if len(x) <= width else x[: width - 1] + "~" for x in [*self.header, *self.cells]]
        return _Column(cut[: len(self.header)], cut[len(self.header):], self.align)


def _wrap(name: str, sep: str, width: int = 11) -> list[str]:
    """A header name as lines of at most ``width`` characters where it can be, broken after ``sep``."""
    parts = [p + sep for p in name.split(sep)[:-1]] + [name.split(sep)[-1]]
    lines = [""]
    for p in parts:
        if lines[-1] and len(lines[-1]) + len(p) > width:
            lines.append("")
        lines[-1] += p
    return lines


def _grid(key: _Column, first: list[_Column], cols: list[_Column], width: int, gap: int = 2,
          rules: set[int] = frozenset()) -> list[str]:
    """``key`` and ``first`` beside ``cols``, in as few blocks of at most ``width`` characters as fit (the columns
    shared out evenly between blocks; every block repeats ``key``), with a rule line before each row in ``rules``."""
    def span(block: list[_Column]) -> int:
        return sum(c.width for c in block) + gap * (len(block) - 1)

    # the key leaves room for the aggregates, and for the widest column beside it
    room = width - gap - max([span(first), *(c.width for c in cols)])
    key = key.clipped(max(8, min(key.width, room)))
    cols = [c.clipped(width - key.width - gap) for c in cols]

    def split(cols: list[_Column], lead: list[_Column]) -> list[list[_Column]] | None:
        """The fewest even blocks of ``cols`` that fit, ``lead`` beside the first; None if none does."""
        for n in range(1, max(len(cols), 1) + 1):
            size = max(-(-len(cols) // n), 1)
            groups = [cols[i: i + size] for i in range(0, len(cols), size)] or [[]]
            blocks = [[key, *lead, *groups[0]]] + [[key, *g] for g in groups[1:]]
            if all(span(b) <= width for b in blocks):
                return blocks
        return None

    # the task columns beside the aggregates; else the aggregates in a block of their own (clipped to the width)
    blocks = split(cols, first) or [[key, *first]] + (split(cols, []) or [[key, c] for c in cols])
    lines: list[str] = []
    for b in blocks:
        if lines:
            lines.append("")
        depth = max(len(c.header) for c in b)
        pad = " " * gap
        for i in range(depth):
            lines.append(pad.join(f"{([''] * (depth - len(c.header)) + c.header)[i]:{c.align}{c.width}}"
                                  for c in b).rstrip())
        rule = "-" * span(b)
        lines.append(rule)
        for r in range(len(key.cells)):
            if r in rules:
                lines.append(rule)
            lines.append(pad.join(f"{c.cells[r]:{c.align}{c.width}}" for c in b).rstrip())
    return lines
