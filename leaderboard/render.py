"""Rendering a board (``board.py``) from its submissions: ``LEADERBOARD.md`` (``page_markdown``), ``leaderboard.png``
and ``diagnostics.png`` (``page_plots``) and a static ``index.html`` (``page_html``), from the rows of
``page_rows``. Every text from a submission is escaped for Markdown and HTML.
"""

from __future__ import annotations

from typing import Any

from .layout import PRIMARY_BOARD
from .page_html import page_html
from .page_markdown import diagnostics_markdown, markdown, md
from .page_plots import diagnostics_png, plot_png
from .page_rows import diagnostics_tables, interval_text, rows

__all__ = ["OUTPUTS", "diagnostics_markdown", "diagnostics_png", "diagnostics_tables", "markdown", "md", "page_html",
           "pages", "plot_png", "render", "rows", "summary"]

OUTPUTS = ("LEADERBOARD.md", "leaderboard.png", "index.html")


def pages(docs: list[dict[str, Any]], statuses: dict[str, dict[str, Any] | None],
          board: str = PRIMARY_BOARD) -> dict[str, bytes]:
    """The three files of a board (``OUTPUTS``) from its submissions and their statuses, and ``diagnostics.png``
    when some submission carries diagnostics."""
    task_names, table = rows(docs, statuses, board)
    method = docs[0]["bootstrap"]["method"] if docs else ""
    png = plot_png(task_names, table, board)
    diag = diagnostics_png(table, board)
    out = {"LEADERBOARD.md": markdown(task_names, table, method, board).encode(), "leaderboard.png": png,
           "index.html": page_html(task_names, table, png, method, board, diag).encode()}
    if diag is not None:  # only boards whose submissions carry diagnostics
        out["diagnostics.png"] = diag
    return out


def render(board) -> list:
    """Re-render a board's pages from its submissions (one atomic step with nothing else changed)."""
    return board.update()


def summary(docs: list[dict[str, Any]], statuses: dict[str, dict[str, Any] | None], board: str = PRIMARY_BOARD,
            status: str | None = None) -> str:
    """A one-line-per-agent text view (for the CLI), optionally only the rows of one status."""
    _, table = rows(docs, statuses, board, status)
    return "\n".join(f"{r['rank'] or '-':>3} {r['name']:<26} {r['status']:<13} IQM {interval_text(r['iqm'])}"
                     for r in table)
