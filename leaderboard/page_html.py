"""``index.html``: a board as one static page (sortable, filterable table with the plots embedded as data URIs;
inline CSS and JS, no network). Every text from a submission is HTML-escaped."""

from __future__ import annotations

import base64
import html
from typing import Any

from .layout import PRIMARY_BOARD
from .page_rows import (
    SIZES_NOTE,
    diagnostics_intro,
    diagnostics_tables,
    marks,
    num_text,
    status_text,
    task_cell,
    versions_text,
)

BUDGET_CHARS = 40  # characters of the budget phrase shown in its cell (the rest in its tooltip)
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em} p{max-width:70em;line-height:1.4}
table{border-collapse:collapse;font-size:.9em;margin:1em 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"} th.sorted-desc::after{content:" \\25BC"}
td.name,th.name{text-align:left;font-weight:600}
td.left{text-align:left}
tr.privileged td{color:#777;font-style:italic}
tr:nth-child(even) td{background:#fafafa} small{color:#666} img{max-width:100%;height:auto}
div.scroll{overflow-x:auto}
"""

_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var table = th.closest('table'), body = table.tBodies[0];
    var asc = !th.classList.contains('sorted-asc');
    table.querySelectorAll('th').forEach(function(h){ h.classList.remove('sorted-asc','sorted-desc'); });
    th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var nx = parseFloat(x), ny = parseFloat(y), r;
      if (!isNaN(nx) && !isNaN(ny)) r = nx - ny; else if (isNaN(nx) && isNaN(ny)) r = x.localeCompare(y);
      else r = isNaN(nx) ? 1 : -1;
      return asc ? r : -r;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
document.getElementById('status-filter').addEventListener('change', function(){
  var want = this.value, body = document.querySelector('table.sortable').tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.forEach(function(r){
    r.style.display = (want === 'all' || r.getAttribute('data-status') === want) ? '' : 'none';
  });
  var ranked = rows.filter(function(r){ return r.style.display !== 'none' && r.getAttribute('data-ranked') === '1'; });
  ranked.sort(function(a, b){
    return parseFloat(b.getAttribute('data-iqm')) - parseFloat(a.getAttribute('data-iqm'));
  });
  rows.forEach(function(r){ r.cells[0].textContent = '\\u2013'; r.cells[0].setAttribute('data-sort', '1000000000'); });
  ranked.forEach(function(r, i){
    r.cells[0].textContent = String(i + 1);
    r.cells[0].setAttribute('data-sort', String(i + 1));
  });
});
"""


def page_html(task_names: list[str], table: list[dict[str, Any]], png: bytes, method: str,
              board: str = PRIMARY_BOARD, diagnostics: bytes | None = None) -> str:
    """``index.html`` of a board: the sortable table, the plot ``png`` and, when given, the diagnostics figure."""
    esc = html.escape
    head = ["rank", "verified rank", "agent", "status", "IQM", "IQM 95% CI", "mean", *task_names, "state floats",
            "parameters", "regime", "budget", "episodes/task", "date"]
    body = []
    for r in table:
        m = r["meta"]
        budget = m.get("budget")
        tasks = [(task_cell(r, t), r["tasks"][t]["normalized"] if r["tasks"].get(t) else "") for t in task_names]
        status_title = versions_text(r["verification"]) if r["verification"] else "the submitter's own numbers"
        cells = [(str(r["rank"] or "–"), r["rank"] or 10**9, ""),
                 (str(r["verified_rank"] or "–"), r["verified_rank"] or 10**9, ""),
                 (m["name"] + marks(r), m["name"], m["description"]),
                 (status_text(r), r["status"], status_title),
                 (f"{r['iqm']['value']:.3f}", r["iqm"]["value"], ""),
                 (f"[{r['iqm']['interval'][0]:.3f}, {r['iqm']['interval'][1]:.3f}]", r["iqm"]["interval"][0], ""),
                 (f"{r['mean']['value']:.3f}", r["mean"]["value"], ""), *[(v, k, "") for v, k in tasks],
                 (num_text(m["state_floats"]), "" if m["state_floats"] is None else m["state_floats"], ""),
                 (num_text(m["parameters"]), "" if m["parameters"] is None else m["parameters"], ""),
                 (m["regime"], m["regime"], ""), (short_text(budget or "–"), budget or "", budget or ""),
                 (str(r["episodes"]), r["episodes"], ""), (r["created"], r["created"], "")]
        tds = "".join(f'<td{_column_class(head[i])} data-sort="{esc(str(k))}" title="{esc(str(t))}">'
                      f'{esc(str(v))}</td>' for i, (v, k, t) in enumerate(cells))
        cls = "privileged" if not r["ranked"] else r["status"]
        body.append(f'<tr class="{cls}" data-status="{esc(r["status"])}" data-ranked="{int(r["ranked"])}" '
                    f'data-iqm="{r["iqm"]["value"]!r}">{tds}</tr>')
    ths = "".join(f'<th{_column_class(h)}>{esc(h)}</th>' for h in head)
    img = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>plastic-gym leaderboard: suite {esc(board)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>plastic-gym leaderboard: suite {esc(board)}</h1>
<p>Normalized score per task: <code>(score - no_memory) / (oracle - no_memory)</code> on the same evaluation episodes
(0 = the no-memory reference, 1 = the privileged oracle). Ranked by the interquartile mean (IQM) over tasks.
<code>*</code>: the agent cannot play the task (no-memory fallback). † privileged references and ‡ classical
references are not ranked. <em>verified</em>: re-run by <code>plastic-gym verify</code> and matched (hover for the
versions); <em>self-reported</em>: the submitter's own numbers.
{esc(SIZES_NOTE)} Click a column header to sort.</p>
<p><label>Show <select id="status-filter"><option value="all">all rows</option>
<option value="verified">verified rows</option><option value="self-reported">self-reported rows</option></select>
(ranks are recounted over the rows shown)</label></p>
<div class="scroll"><table class="sortable"><thead><tr>{ths}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table></div>
<img alt="per-task normalized scores with 95% intervals" src="data:image/png;base64,{img}">
{_diagnostics_html(table, diagnostics)}
<p><small>Intervals: {esc(method)}</small></p>
<script>{_JS}</script>
</body></html>
"""


def _column_class(header: str) -> str:
    """The class attribute of a main-table column: the agent's name bold and left-aligned, the budget left-aligned."""
    return {"agent": " class=name", "budget": " class=left"}.get(header, "")


def short_text(text: str, limit: int = BUDGET_CHARS) -> str:
    """``text`` cut after at most ``limit`` characters at a word boundary, with an ellipsis when cut. The budget of a
    supervised entry names every task's steps (several hundred characters): the cell shows its start and the whole
    phrase is the cell's tooltip, so the table stays as wide as its numbers."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,:;(")
    return (cut or text[:limit]) + " …"


def _diagnostics_html(table: list[dict[str, Any]], png: bytes | None) -> str:
    """The page's diagnostics section: the tables of ``diagnostics_tables`` and the figure ("" without diagnostics)."""
    if png is None:
        return ""
    esc = html.escape
    parts = ['<h2 id="diagnostics">Within-episode diagnostics</h2>', f"<p>{esc(diagnostics_intro(table))}</p>"]
    for caption, head, rows_ in diagnostics_tables(table):
        parts.append(f"<p>{esc(caption)}</p>")
        parts.append('<div class="scroll"><table><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head)
                     + "</tr></thead><tbody>"
                     + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows_)
                     + "</tbody></table></div>")
    img = base64.b64encode(png).decode("ascii")
    parts.append(f'<img alt="within-episode diagnostics" src="data:image/png;base64,{img}">')
    return "\n".join(parts)
