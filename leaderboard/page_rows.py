"""The rows of a board's pages, shared by ``LEADERBOARD.md`` and ``index.html``: one row per submission, ranked by
IQM of normalized scores (0 = no memory, 1 = the privileged oracle), its cells as text, and the diagnostics tables.

Whether a row is privileged or an unranked reference comes from the board's trusted list (``trusted.py``), never
from the file; such rows are marked and not ranked. Each row shows its status: ``verified`` (re-run by
``plastic-gym verify``: date and versions) or ``self-reported``; the rank among verified rows is a column of its own.
"""

from __future__ import annotations

from typing import Any

from .diagnostics import MAX_STUDY
from .layout import PRIMARY_BOARD, STATUSES
from .trusted import trusted_entry


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


def status_text(r: dict[str, Any]) -> str:
    """A row's status cell: ``verified <date>`` or ``self-reported``."""
    return f"verified {r['verification'].get('date', '')[:10]}" if r["status"] == "verified" else "self-reported"


def versions_text(record: dict[str, Any]) -> str:
    """The package versions of a verification record, ``name version, ...``."""
    versions = record.get("versions") or {}
    return ", ".join(f"{k} {v}" for k, v in versions.items() if isinstance(v, str))


def num_text(v: Any, fmt: str = "{:,}") -> str:
    """A number with thousands separators, or a dash when unknown."""
    return "–" if v is None else fmt.format(v)


def interval_text(agg: dict[str, Any]) -> str:
    """An aggregate with its 95% interval, ``value [lo, hi]``."""
    lo, hi = agg["interval"]
    return f"{agg['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def task_cell(r: dict[str, Any], t: str) -> str:
    """A row's normalized score on task ``t``, ``*`` marking a no-memory fallback."""
    s = r["tasks"].get(t)
    if s is None:
        return "–"
    return f"{s['normalized']:.3f}" + ("*" if r["fallback"].get(t) else "")


#: What the two size columns mean (both pages).
SIZES_NOTE = ("State floats: the numbers an agent carries from one step to the next per env (hidden state, plastic "
              "weights, the kept frames of a frame stack); they and the parameters are those of the largest model "
              "where an entry trains one model per task.")


def marks(r: dict[str, Any]) -> str:
    """The mark after an unranked row's name: † privileged, ‡ classical reference."""
    return " †" if r["privileged"] else (" ‡" if r["reference"] else "")


def rows_with(table: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rows whose diagnostics have ``kind`` (``memory_span``, ``points``, ``ablation``, ``study_count``,
    ``regret``)."""
    return [r for r in table if (r.get("diagnostics") or {}).get(kind)]


def _curve_rows(table: list[dict[str, Any]], kind: str, tasks: list[str], x: str, y: str,
                grid: list[int]) -> list[list[str]]:
    """Per row, its curves of diagnostic ``kind`` as cells: for each task, ``y`` at each ``x`` of ``grid``
    (– where a row has no value there)."""
    out = []
    for r in table:
        cells = []
        for t in tasks:
            v = r["diagnostics"][kind].get(t) or {x: [], y: []}
            by = dict(zip(v[x], v[y], strict=True))
            cells += [f"{by[k]:.3f}" if k in by else "–" for k in grid]
        out.append([r["name"] + marks(r), *cells])
    return out


def diagnostics_tables(table: list[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The diagnostics tables of a board as plain text, ``[(caption, header, rows)]`` (none when no row has
    diagnostics): memory span, regression error by number of training points, plasticity ablation, association
    error by study count and bandit regret (``diagnostics.py``). Both pages render them."""
    span, ablation, regret = (rows_with(table, k) for k in ("memory_span", "ablation", "regret"))
    out: list[tuple[str, list[str], list[list[str]]]] = []
    if span:
        delays = span[0]["diagnostics"]["memory_span"]["delays"]
        out.append(("Memory span: normalized copy score (0 = no memory, 1 = oracle; each delay normalized with its own "
                    "references) as a function of the delay between study and recall. Span: the longest delay with a "
                    "normalized score ≥ 0.5 (bsuite's memory_len), – if none.",
                    ["agent", "span", *[f"delay {d}" for d in delays]],
                    [[r["name"] + marks(r), num_text(r["diagnostics"]["memory_span"]["span"]),
                      *[f"{x:.3f}" for x in r["diagnostics"]["memory_span"]["normalized"]]] for r in span]))
    points = rows_with(table, "points")
    if points:
        tasks = list(dict.fromkeys(t for r in points for t in r["diagnostics"]["points"]))
        grid = list(dict.fromkeys(n for r in points for v in r["diagnostics"]["points"].values() for n in v["points"]))
        rows_ = _curve_rows(points, "points", tasks, "points", "score", grid)
        out.append(("Learning within the episode (regression): test error (MSE, lower is better; no memory scores "
                    "about 1) by the number of training points shown before the test steps. The normalized scores "
                    "are in the result files; with 1-2 points they are ill-conditioned (the oracle is barely better "
                    "than no memory, or worse for the MLP), so the error is shown.",
                    ["agent", *[f"{t} n={n}" for t in tasks for n in grid]], rows_))
    if ablation:
        tasks = list(dict.fromkeys(t for r in ablation for t in r["diagnostics"]["ablation"]["tasks"]))
        rows_ = []
        for r in ablation:
            ab = r["diagnostics"]["ablation"]
            rows_.append([r["name"] + marks(r), f"{ab['mean_drop']:.3f}",
                          *[f"{v['normalized']:.3f} → {v['ablated']:.3f}" if v else "–"
                            for v in (ab["tasks"].get(t) for t in tasks)]])
        out.append(("Plasticity ablation: normalized score → the same with the plastic update switched off at test "
                    "time (eta = 0: the fast weights stay at their start values), on the same episodes. The drop is "
                    "what plasticity adds beyond the recurrent activity.", ["agent", "mean drop", *tasks], rows_))
    studied = rows_with(table, "study_count")
    if studied:
        tasks = list(dict.fromkeys(t for r in studied for t in r["diagnostics"]["study_count"]))
        labels = [f"{k}×" if k < MAX_STUDY else f"{k}+×" for k in range(MAX_STUDY + 1)]
        rows_ = _curve_rows(studied, "study_count", tasks, "counts", "error", list(range(MAX_STUDY + 1)))
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
            rows_.append([r["name"] + marks(r), *cells])
        out.append(("Learning within the episode (bandits): mean cumulative expected regret sum_t (p* - p_a_t) after "
                    "10 steps / at the end of the episode (lower is better; the oracle's is 0).", ["agent", *tasks],
                    rows_))
    return out


def diagnostics_intro(table: list[dict[str, Any]]) -> str:
    episodes = next(r["diagnostics"]["episodes"] for r in table if r.get("diagnostics"))
    return (f"From plastic-gym evaluate --diagnostics: {episodes} episodes per diagnostic, the first eval seeds of "
            "the suite task each derives from (every agent plays the same ones).")
