"""``LEADERBOARD.md``: a board's table, verification records and diagnostics as Markdown. Every text from a
submission is escaped (``md``): control characters become spaces, HTML metacharacters entities, Markdown
metacharacters are backslash-escaped."""

from __future__ import annotations

import html
import re
from typing import Any

from .layout import PRIMARY_BOARD
from .page_rows import (
    SIZES_NOTE,
    diagnostics_intro,
    diagnostics_tables,
    interval_text,
    marks,
    num_text,
    status_text,
    task_cell,
    versions_text,
)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text: Any) -> str:
    """Text from a submission as inert Markdown inside a table cell: control characters become spaces, HTML
    metacharacters entities, Markdown metacharacters (``|`` included) are backslash-escaped."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def markdown(task_names: list[str], table: list[dict[str, Any]], method: str, board: str = PRIMARY_BOARD) -> str:
    """``LEADERBOARD.md`` of a board: the ranked table (rows of ``page_rows.rows``), the verification records, the
    diagnostics and the figure."""
    head = ["rank", "verified rank", "agent", "status", "IQM [95% CI]", "mean [95% CI]", *task_names, "state floats",
            "parameters", "regime"]
    lines = [f"# plastic-gym leaderboard: suite {md(board)}", "",
             "Normalized scores per task: `(score - no_memory) / (oracle - no_memory)` on the same evaluation "
             "episodes, so 0 is the no-memory reference and 1 the privileged oracle. Ranked by the interquartile "
             "mean (IQM) over tasks. `*`: the agent cannot play the task (no-memory fallback, scores 0). "
             "Privileged agents (†) and classical references (‡) are not ranked. Status: `verified` rows were re-run "
             "by `plastic-gym verify` and matched (date below), `self-reported` rows are the submitter's numbers; "
             "*verified rank* ranks the verified rows only. " + SIZES_NOTE, "",
             "| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
    budgets = budget_labels(table)
    for r in table:
        m = r["meta"]
        budget = f" (budget {budgets[m['budget']]})" if m.get("budget") else ""
        cells = [str(r["rank"] or "–"), str(r["verified_rank"] or "–"), f"**{md(m['name'])}{marks(r)}**",
                 status_text(r), interval_text(r["iqm"]), interval_text(r["mean"]),
                 *[task_cell(r, t) for t in task_names], num_text(m["state_floats"]), num_text(m["parameters"]),
                 md(m["regime"]) + budget]
        lines.append("| " + " | ".join(cells) + " |")
    if budgets:
        lines += ["", "Budgets (the regime column names them):"]
        lines += [f"- {label}: {md(text)}" for text, label in budgets.items()]
    verified = [r for r in table if r["status"] == "verified"]
    if verified:
        lines += ["", "Verified with:"]
        lines += [f"- {md(r['name'])}: {md(r['verification'].get('date', ''))}; {md(versions_text(r['verification']))}"
                  for r in verified]
    lines += diagnostics_markdown(table)
    lines += ["", f"Intervals: {md(method)}", "",
              "![leaderboard](leaderboard.png)", "",
              "Regenerate with `plastic-gym render`; add an entry with `plastic-gym evaluate --agent SPEC --out "
              "r.json` then `plastic-gym submit r.json`. What the leaderboard trusts and runs: SECURITY.md.", ""]
    return "\n".join(lines)


def budget_labels(table: list[dict[str, Any]]) -> dict[str, str]:
    """A short label ("B1", "B2", ...) for every distinct training budget of the rows, in row order: the budgets are
    long phrases shared by many entries, so the table names them and lists each once below it."""
    texts = dict.fromkeys(r["meta"]["budget"] for r in table if r["meta"].get("budget"))
    return {text: f"B{k}" for k, text in enumerate(texts, start=1)}


def diagnostics_markdown(table: list[dict[str, Any]]) -> list[str]:
    """The diagnostics section of LEADERBOARD.md: its tables and the figure (no lines when no row has diagnostics)."""
    tables = diagnostics_tables(table)
    if not tables:
        return []
    lines = ["", "## Within-episode diagnostics", "", diagnostics_intro(table)]  # no text from a file
    for caption, head, rows_ in tables:
        lines += ["", md(caption), "", "| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows_]
    return lines + ["", "![diagnostics](diagnostics.png)"]
