"""Rendering a board (``board.py``) from its submissions: ``LEADERBOARD.md``, ``leaderboard.png`` and a static
``index.html`` (sortable, filterable table with the plot embedded as a data URI; inline CSS and JS, no network).

Rows are ranked by IQM of normalized scores (0 = no memory, 1 = the privileged oracle). Whether a row is
privileged or an unranked reference comes from the board's trusted list (``trusted.py``), never from the file;
such rows are marked and not ranked. Each row shows its status: ``verified`` (re-run by ``plastic-gym verify``:
date and versions) or ``self-reported``; the rank among verified rows is a column of its own, and the page filters
by status. Every text from a submission is escaped for Markdown and HTML.
"""

from __future__ import annotations

import base64
import html
import io
import re
from typing import Any

import numpy as np

from .board import PRIMARY_BOARD, STATUSES
from .diagnostics import MAX_STUDY
from .trusted import trusted_entry

OUTPUTS = ("LEADERBOARD.md", "leaderboard.png", "index.html")


def _flags(board: str, name: str) -> tuple[bool, bool]:
    entry = trusted_entry(board, name)
    return (bool(entry and entry.privileged), bool(entry and entry.reference))


def rows(docs: list[dict[str, Any]], statuses: dict[str, dict[str, Any] | None], board: str = PRIMARY_BOARD,
         status: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Task names and one row per submission, best IQM first, unranked rows (privileged, references) last.

    ``status`` (``"verified"`` or ``"self-reported"``) keeps only the rows of that status; ranks count the rows shown.
    Each row has ``rank`` (None when unranked) and ``verified_rank`` (the rank among verified rows, else None).
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    task_names = [t["name"] for t in docs[0]["tasks"]] if docs else []
    out = []
    for doc in docs:
        agent = doc["agents"][0]
        meta, scores = agent["metadata"], agent["scores"]
        record = statuses.get(meta["name"])
        row_status = "verified" if record else "self-reported"
        if status is not None and row_status != status:
            continue
        privileged, reference = _flags(board, meta["name"])
        fallback = {t: any(run.get(t, {}).get("fallback", False) for run in agent["runs"]) for t in task_names}
        out.append({
            "name": meta["name"], "meta": meta, "suite": f"{doc['suite']['name']}",
            "privileged": privileged, "reference": reference, "ranked": not (privileged or reference),
            "status": row_status, "verification": record,
            "iqm": scores["iqm"], "mean": scores["mean"],
            "tasks": {t: scores["tasks"].get(t) for t in task_names}, "fallback": fallback,
            "episodes": min(t["episodes"] for t in doc["tasks"]), "created": doc["created"][:10],
            "diagnostics": agent.get("diagnostics"),
        })
    out.sort(key=lambda r: (not r["ranked"], r["privileged"], -r["iqm"]["value"], r["name"]))
    rank = verified_rank = 0
    for r in out:
        rank += r["ranked"]
        verified_rank += r["ranked"] and r["status"] == "verified"
        r["rank"] = rank if r["ranked"] else None
        r["verified_rank"] = verified_rank if r["ranked"] and r["status"] == "verified" else None
    return task_names, out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text: Any) -> str:
    """Text from a submission as inert Markdown inside a table cell: control characters become spaces, HTML
    metacharacters entities, Markdown metacharacters (``|`` included) are backslash-escaped."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _status_text(r: dict[str, Any]) -> str:
    return f"verified {r['verification'].get('date', '')[:10]}" if r["status"] == "verified" else "self-reported"


def _versions_text(record: dict[str, Any]) -> str:
    versions = record.get("versions") or {}
    return ", ".join(f"{k} {v}" for k, v in versions.items() if isinstance(v, str))


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


def _marks(r: dict[str, Any]) -> str:
    return " †" if r["privileged"] else (" ‡" if r["reference"] else "")


def markdown(task_names: list[str], table: list[dict[str, Any]], method: str, board: str = PRIMARY_BOARD) -> str:
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
    for r in table:
        m = r["meta"]
        budget = f" ({md(m['budget'])})" if m.get("budget") else ""
        cells = [str(r["rank"] or "–"), str(r["verified_rank"] or "–"), f"**{md(m['name'])}{_marks(r)}**",
                 _status_text(r), _interval(r["iqm"]), _interval(r["mean"]),
                 *[_task_cell(r, t) for t in task_names], _num(m["state_floats"]), _num(m["parameters"]),
                 md(m["regime"]) + budget]
        lines.append("| " + " | ".join(cells) + " |")
    verified = [r for r in table if r["status"] == "verified"]
    if verified:
        lines += ["", "Verified with:"]
        lines += [f"- {md(r['name'])}: {md(r['verification'].get('date', ''))}; {md(_versions_text(r['verification']))}"
                  for r in verified]
    lines += diagnostics_markdown(table)
    lines += ["", f"Intervals: {md(method)}", "",
              "![leaderboard](leaderboard.png)", "",
              "Regenerate with `plastic-gym render`; add an entry with `plastic-gym evaluate --agent SPEC --out r.json` "
              "then `plastic-gym submit r.json`. What the leaderboard trusts and runs: SECURITY.md.", ""]
    return "\n".join(lines)


def _with(table: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rows whose diagnostics have ``kind`` (``memory_span``, ``ablation``, ``regret``)."""
    return [r for r in table if (r.get("diagnostics") or {}).get(kind)]


def diagnostics_tables(table: list[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The diagnostics tables of a board as plain text, ``[(caption, header, rows)]`` (none when no row has
    diagnostics): memory span, plasticity ablation, association error by study count and bandit regret
    (``diagnostics.py``). Both pages render them."""
    span, ablation, regret = (_with(table, k) for k in ("memory_span", "ablation", "regret"))
    out: list[tuple[str, list[str], list[list[str]]]] = []
    if span:
        delays = span[0]["diagnostics"]["memory_span"]["delays"]
        out.append(("Memory span: normalized copy score (0 = no memory, 1 = oracle; each delay normalized with its own "
                    "references) as a function of the delay between study and recall. Span: the longest delay with a "
                    "normalized score ≥ 0.5 (bsuite's memory_len), – if none.",
                    ["agent", "span", *[f"delay {d}" for d in delays]],
                    [[r["name"] + _marks(r), _num(r["diagnostics"]["memory_span"]["span"]),
                      *[f"{x:.3f}" for x in r["diagnostics"]["memory_span"]["normalized"]]] for r in span]))
    if ablation:
        tasks = list(dict.fromkeys(t for r in ablation for t in r["diagnostics"]["ablation"]["tasks"]))
        rows_ = []
        for r in ablation:
            ab = r["diagnostics"]["ablation"]
            rows_.append([r["name"] + _marks(r), f"{ab['mean_drop']:.3f}",
                          *[f"{v['normalized']:.3f} → {v['ablated']:.3f}" if v else "–"
                            for v in (ab["tasks"].get(t) for t in tasks)]])
        out.append(("Plasticity ablation: normalized score → the same with the plastic update switched off at test "
                    "time (eta = 0: the fast weights stay at their start values), on the same episodes. The drop is "
                    "what plasticity adds beyond the recurrent activity.", ["agent", "mean drop", *tasks], rows_))
    studied = _with(table, "study_count")
    if studied:
        tasks = list(dict.fromkeys(t for r in studied for t in r["diagnostics"]["study_count"]))
        labels = [f"{k}×" if k < MAX_STUDY else f"{k}+×" for k in range(MAX_STUDY + 1)]
        rows_ = []
        for r in studied:
            cells = []
            for t in tasks:
                v = r["diagnostics"]["study_count"].get(t) or {"counts": [], "error": []}
                by = dict(zip(v["counts"], v["error"]))
                cells += [f"{by[k]:.3f}" if k in by else "–" for k in range(MAX_STUDY + 1)]
            rows_.append([r["name"] + _marks(r), *cells])
        out.append(("Learning within the episode (association): query error (a - r)^2 by how many times the queried "
                    "cue was studied (0×, 1×, ...; lower is better).", ["agent", *[f"{t} {c}" for t in tasks
                                                                                  for c in labels]], rows_))
    if regret:
        tasks = list(dict.fromkeys(t for r in regret for t in r["diagnostics"]["regret"]))
        rows_ = []
        for r in regret:
            cells = []
            for t in tasks:
                c = (r["diagnostics"]["regret"].get(t) or {}).get("cumulative")
                cells.append("–" if not c else f"{c[min(9, len(c) - 1)]:.2f} / {c[-1]:.2f}")
            rows_.append([r["name"] + _marks(r), *cells])
        out.append(("Learning within the episode (bandits): mean cumulative expected regret sum_t (p* - p_a_t) after "
                    "10 steps / at the end of the episode (lower is better; the oracle's is 0).", ["agent", *tasks],
                    rows_))
    return out


def _diagnostics_intro(table: list[dict[str, Any]]) -> str:
    episodes = next(r["diagnostics"]["episodes"] for r in table if r.get("diagnostics"))
    return (f"From plastic-gym evaluate --diagnostics: {episodes} episodes per diagnostic, the first eval seeds of "
            "the suite task each derives from (every agent plays the same ones).")


def diagnostics_markdown(table: list[dict[str, Any]]) -> list[str]:
    """The diagnostics section of LEADERBOARD.md: its tables and the figure (no lines when no row has diagnostics)."""
    tables = diagnostics_tables(table)
    if not tables:
        return []
    lines = ["", "## Within-episode diagnostics", "", _diagnostics_intro(table)]  # no text from a file
    for caption, head, rows_ in tables:
        lines += ["", md(caption), "", "| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows_]
    return lines + ["", "![diagnostics](diagnostics.png)"]


def diagnostics_png(table: list[dict[str, Any]], board: str = PRIMARY_BOARD) -> bytes | None:
    """The diagnostics figure (None when no row has diagnostics): normalized copy score vs delay per agent, the
    plasticity ablation (normalized score with and without the plastic update, per task), the query error of each
    association task by times studied, and the cumulative regret curve of each bandit task."""
    span, ablation, regret = (_with(table, k) for k in ("memory_span", "ablation", "regret"))
    studied = _with(table, "study_count")
    regret_tasks = list(dict.fromkeys(t for r in regret for t in r["diagnostics"]["regret"]))
    study_tasks = list(dict.fromkeys(t for r in studied for t in r["diagnostics"]["study_count"]))
    panels = ([("span", None)] if span else []) + ([("ablation", None)] if ablation else []) \
        + [("study", t) for t in study_tasks] + [("regret", t) for t in regret_tasks]
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
    for ax, (kind, task) in zip(axes.flat, panels):
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
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(0.995, 0.95))
    fig.suptitle(f"plastic-gym, suite {board}: within-episode diagnostics")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


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
        label = r["name"] + (" (privileged)" if r["privileged"] else " (reference)" if r["reference"] else "")
        label += "" if r["status"] == "verified" else " (self-reported)"
        ax.bar(pos, shown, width, yerr=err, capsize=2, color=cmap(i % 10), label=label,
               hatch="//" if not r["ranked"] else None, edgecolor="white", linewidth=0.5)
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
    ax.set_title(f"plastic-gym leaderboard, suite {board}: per-task normalized scores and IQM (95% bootstrap CI)")
    if table:
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
    esc = html.escape
    head = ["rank", "verified rank", "agent", "status", "IQM", "IQM 95% CI", "mean", *task_names, "state floats",
            "parameters", "regime", "budget", "episodes/task", "date"]
    body = []
    for r in table:
        m = r["meta"]
        tasks = [(_task_cell(r, t), r["tasks"][t]["normalized"] if r["tasks"].get(t) else "") for t in task_names]
        status_title = _versions_text(r["verification"]) if r["verification"] else "the submitter's own numbers"
        cells = [(str(r["rank"] or "–"), r["rank"] or 10**9, ""),
                 (str(r["verified_rank"] or "–"), r["verified_rank"] or 10**9, ""),
                 (m["name"] + _marks(r), m["name"], m["description"]),
                 (_status_text(r), r["status"], status_title),
                 (f"{r['iqm']['value']:.3f}", r["iqm"]["value"], ""),
                 (f"[{r['iqm']['interval'][0]:.3f}, {r['iqm']['interval'][1]:.3f}]", r["iqm"]["interval"][0], ""),
                 (f"{r['mean']['value']:.3f}", r["mean"]["value"], ""), *[(v, k, "") for v, k in tasks],
                 (_num(m["state_floats"]), "" if m["state_floats"] is None else m["state_floats"], ""),
                 (_num(m["parameters"]), "" if m["parameters"] is None else m["parameters"], ""),
                 (m["regime"], m["regime"], ""), (m.get("budget") or "–", m.get("budget") or "", ""),
                 (str(r["episodes"]), r["episodes"], ""), (r["created"], r["created"], "")]
        tds = "".join(f'<td{" class=name" if i == 2 else ""} data-sort="{esc(str(k))}" title="{esc(str(t))}">'
                      f'{esc(str(v))}</td>' for i, (v, k, t) in enumerate(cells))
        cls = "privileged" if not r["ranked"] else r["status"]
        body.append(f'<tr class="{cls}" data-status="{esc(r["status"])}" data-ranked="{int(r["ranked"])}" '
                    f'data-iqm="{r["iqm"]["value"]!r}">{tds}</tr>')
    ths = "".join(f'<th{" class=name" if i == 2 else ""}>{esc(h)}</th>' for i, h in enumerate(head))
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


def _diagnostics_html(table: list[dict[str, Any]], png: bytes | None) -> str:
    """The page's diagnostics section: the tables of ``diagnostics_tables`` and the figure ("" without diagnostics)."""
    if png is None:
        return ""
    esc = html.escape
    parts = ['<h2 id="diagnostics">Within-episode diagnostics</h2>', f"<p>{esc(_diagnostics_intro(table))}</p>"]
    for caption, head, rows_ in diagnostics_tables(table):
        parts.append(f"<p>{esc(caption)}</p>")
        parts.append('<div class="scroll"><table><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head)
                     + "</tr></thead><tbody>"
                     + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows_)
                     + "</tbody></table></div>")
    img = base64.b64encode(png).decode("ascii")
    parts.append(f'<img alt="within-episode diagnostics" src="data:image/png;base64,{img}">')
    return "\n".join(parts)


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
    return "\n".join(f"{r['rank'] or '-':>3} {r['name']:<26} {r['status']:<13} IQM {_interval(r['iqm'])}"
                     for r in table)


__all__ = ["OUTPUTS", "diagnostics_markdown", "diagnostics_tables", "diagnostics_png", "markdown", "md", "page_html", "pages", "plot_png", "render", "rows", "summary"]
