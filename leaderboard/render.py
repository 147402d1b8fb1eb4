"""Rendering the leaderboard from ``submissions/*.json``: ``LEADERBOARD.md``, ``leaderboard.png`` and a static
``index.html`` (sortable table with the plot embedded as a data URI; inline CSS and JS, no network).

Rows are ranked by IQM of normalized scores (0 = no memory, 1 = the privileged oracle); privileged agents are
marked and not ranked.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from plastic_gym.io import write_atomic

from .results import ResultError, read_json

LEADERBOARD_DIR = Path(__file__).resolve().parent
SUBMISSIONS_DIR = LEADERBOARD_DIR / "submissions"
OUTPUTS = ("LEADERBOARD.md", "leaderboard.png", "index.html")


def load_submissions(submissions_dir: str | Path = SUBMISSIONS_DIR) -> list[dict[str, Any]]:
    """Every submission file (one agent each), sorted by name."""
    docs = []
    for path in sorted(Path(submissions_dir).glob("*.json")):
        doc = read_json(path)
        if not isinstance(doc, dict) or len(doc.get("agents", [])) != 1:
            raise ResultError(f"{path} is not a submission (expected a result document with exactly one agent)")
        docs.append(doc)
    return docs


def rows(docs: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Task names (of the first suite seen) and one row per submission, best IQM first, privileged ones last."""
    task_names = [t["name"] for t in docs[0]["tasks"]] if docs else []
    out = []
    for doc in docs:
        agent = doc["agents"][0]
        meta, scores = agent["metadata"], agent["scores"]
        fallback = {t: any(run.get(t, {}).get("fallback", False) for run in agent["runs"]) for t in task_names}
        out.append({
            "name": meta["name"], "meta": meta, "suite": f"{doc['suite']['name']}",
            "iqm": scores["iqm"], "mean": scores["mean"],
            "tasks": {t: scores["tasks"].get(t) for t in task_names}, "fallback": fallback,
            "episodes": min(t["episodes"] for t in doc["tasks"]), "created": doc["created"][:10],
        })
    out.sort(key=lambda r: (r["meta"]["privileged"], -r["iqm"]["value"], r["name"]))
    rank = 0
    for r in out:
        rank = rank if r["meta"]["privileged"] else rank + 1
        r["rank"] = None if r["meta"]["privileged"] else rank
    return task_names, out


def _num(v: Any, fmt: str = "{:,}") -> str:
    return "–" if v is None else fmt.format(v)


def _interval(agg: dict[str, Any]) -> str:
    lo, hi = agg["interval"]
    return f"{agg['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def _task_cell(r: dict[str, Any], t: str) -> str:
    s = r["tasks"].get(t)
    if s is None:
        return "–"
    return f"{s['normalized']:.3f}" + ("*" if r["fallback"].get(t) else "")


#: What the two size columns mean (both pages).
SIZES_NOTE = ("State floats: the numbers an agent carries from one step to the next per env (hidden state, plastic "
              "weights, the kept frames of a frame stack); they and the parameters are those of the largest model "
              "where an entry trains one model per task.")


def markdown(task_names: list[str], table: list[dict[str, Any]], method: str) -> str:
    head = ["rank", "agent", "IQM [95% CI]", "mean [95% CI]", *task_names, "state floats", "parameters", "regime"]
    lines = ["# plastic-gym leaderboard", "",
             "Normalized scores per task: `(score - no_memory) / (oracle - no_memory)` on the same evaluation "
             "episodes, so 0 is the no-memory reference and 1 the privileged oracle. Ranked by the interquartile "
             "mean (IQM) over tasks. `*`: the agent cannot play the task (no-memory fallback, scores 0). "
             "Privileged agents (†) are references, not ranked. " + SIZES_NOTE, "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        m = r["meta"]
        name = m["name"] + (" †" if m["privileged"] else "")
        cells = [str(r["rank"] or "–"), f"**{name}**", _interval(r["iqm"]), _interval(r["mean"]),
                 *[_task_cell(r, t) for t in task_names], _num(m["state_floats"]), _num(m["parameters"]),
                 m["regime"] + (f" ({m['budget']})" if m.get("budget") else "")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Intervals: {method}", "",
              "![leaderboard](leaderboard.png)", "",
              "Regenerate with `plastic-gym render`; add an entry with `plastic-gym evaluate --agent SPEC --out r.json` "
              "then `plastic-gym submit r.json`.", ""]
    return "\n".join(lines)


def plot_png(task_names: list[str], table: list[dict[str, Any]]) -> bytes:
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
    cmap = plt.get_cmap("tab10")
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
        err = np.clip(np.stack([shown - np.clip(lows, lo_lim, hi_lim), np.clip(highs, lo_lim, hi_lim) - shown]), 0, None)
        label = r["name"] + (" (privileged)" if r["meta"]["privileged"] else "")
        ax.bar(pos, shown, width, yerr=err, capsize=2, color=cmap(i % 10), label=label,
               hatch="//" if r["meta"]["privileged"] else None, edgecolor="white", linewidth=0.5)
        for p, v in zip(pos, vals):
            if np.isfinite(v) and (v < lo_lim or v > hi_lim):
                ax.annotate(f"{v:.1f}", (p, lo_lim if v < lo_lim else hi_lim), xytext=(0, 3 if v < lo_lim else -3),
                            textcoords="offset points", ha="center", va="bottom" if v < lo_lim else "top",
                            fontsize=7, rotation=90, color="white", fontweight="bold")
    ax.axhline(0, color="gray", lw=0.8)
    ax.axhline(1, color="gray", lw=0.8, ls="--")
    ax.axvline(len(task_names) - 0.5, color="lightgray", lw=1)
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylim(lo_lim, hi_lim)
    ax.set_ylabel("normalized score (0 = no memory, 1 = oracle)")
    ax.set_title("plastic-gym leaderboard: per-task normalized scores and IQM (95% bootstrap CI)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em} p{max-width:70em;line-height:1.4}
table{border-collapse:collapse;font-size:.9em;margin:1em 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"} th.sorted-desc::after{content:" \\25BC"}
td.name,th.name{text-align:left;font-weight:600} tr.privileged td{color:#777;font-style:italic}
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
"""


def page_html(task_names: list[str], table: list[dict[str, Any]], png: bytes, method: str) -> str:
    esc = html.escape
    head = ["rank", "agent", "IQM", "IQM 95% CI", "mean", *task_names, "state floats", "parameters", "regime",
            "budget", "episodes/task", "date"]
    body = []
    for r in table:
        m = r["meta"]
        tasks = [(_task_cell(r, t), r["tasks"][t]["normalized"] if r["tasks"].get(t) else "") for t in task_names]
        cells = [(str(r["rank"] or "–"), r["rank"] or 10**9),
                 (m["name"] + (" †" if m["privileged"] else ""), m["name"]),
                 (f"{r['iqm']['value']:.3f}", r["iqm"]["value"]),
                 (f"[{r['iqm']['interval'][0]:.3f}, {r['iqm']['interval'][1]:.3f}]", r["iqm"]["interval"][0]),
                 (f"{r['mean']['value']:.3f}", r["mean"]["value"]), *tasks,
                 (_num(m["state_floats"]), "" if m["state_floats"] is None else m["state_floats"]),
                 (_num(m["parameters"]), "" if m["parameters"] is None else m["parameters"]),
                 (m["regime"], m["regime"]), (m.get("budget") or "–", m.get("budget") or ""),
                 (str(r["episodes"]), r["episodes"]), (r["created"], r["created"])]
        tds = "".join(f'<td{" class=name" if i == 1 else ""} data-sort="{esc(str(s))}" '
                      f'title="{esc(m["description"]) if i == 1 else ""}">{esc(str(v))}</td>'
                      for i, (v, s) in enumerate(cells))
        body.append(f'<tr{" class=privileged" if m["privileged"] else ""}>{tds}</tr>')
    ths = "".join(f'<th{" class=name" if i == 1 else ""}>{esc(h)}</th>' for i, h in enumerate(head))
    img = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>plastic-gym leaderboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>plastic-gym leaderboard</h1>
<p>Normalized score per task: <code>(score - no_memory) / (oracle - no_memory)</code> on the same evaluation episodes
(0 = the no-memory reference, 1 = the privileged oracle). Ranked by the interquartile mean (IQM) over tasks.
<code>*</code>: the agent cannot play the task (no-memory fallback). † privileged references, not ranked.
{html.escape(SIZES_NOTE)} Click a column header to sort.</p>
<div class="scroll"><table class="sortable"><thead><tr>{ths}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table></div>
<img alt="per-task normalized scores with 95% intervals" src="data:image/png;base64,{img}">
<p><small>Intervals: {esc(method)}</small></p>
<script>{_JS}</script>
</body></html>
"""


def render(submissions_dir: str | Path = SUBMISSIONS_DIR, out_dir: str | Path = LEADERBOARD_DIR) -> list[Path]:
    """Re-render the three leaderboard files in ``out_dir`` from the submissions (each written atomically)."""
    docs = load_submissions(submissions_dir)
    task_names, table = rows(docs)
    method = docs[0]["bootstrap"]["method"] if docs else ""
    png = plot_png(task_names, table)
    out_dir = Path(out_dir)
    texts = {"LEADERBOARD.md": markdown(task_names, table, method).encode(), "leaderboard.png": png,
             "index.html": page_html(task_names, table, png, method).encode()}
    return [write_atomic(out_dir / name, data, overwrite=True) for name, data in texts.items()]


def summary(docs: list[dict[str, Any]]) -> str:
    """A one-line-per-agent text view (for the CLI)."""
    _, table = rows(docs)
    return "\n".join(f"{r['rank'] or '-':>3} {r['name']:<24} IQM {_interval(r['iqm'])}" for r in table)


__all__ = ["OUTPUTS", "SUBMISSIONS_DIR", "load_submissions", "markdown", "page_html", "plot_png", "render", "rows",
           "summary"]
