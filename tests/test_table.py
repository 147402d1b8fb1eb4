"""The terminal table of ``plastic-gym evaluate`` (``leaderboard.evaluate.table``): agents as rows, tasks as columns,
within the width, every value in its own agent's row and task's column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from plastic_gym.leaderboard.evaluate import _wrap, table

SUBMISSIONS = Path(__file__).resolve().parents[1] / "leaderboard" / "submissions"


def default_suite_doc() -> dict:
    """The committed submissions of suite v0 as one result document (7 tasks, every entry of the board)."""
    docs = [json.loads(p.read_text()) for p in sorted(SUBMISSIONS.glob("*.json"))]
    docs = [d for d in docs if d["suite"]["name"] == "v0"]
    if len(docs) < 3:
        pytest.skip("the committed suite v0 submissions are not in this checkout")
    return {**docs[0], "agents": [a for d in docs for a in d["agents"]]}


def score(value: float, normalized: float) -> dict:
    return {"score": value, "normalized": normalized, "interval": [normalized - 0.1, normalized + 0.1]}


def synthetic_doc(task_names: list[str], higher: list[bool], agents: list[dict]) -> dict:
    """A result document with the fields ``table`` reads; ``agents``: name, normalized per task, flags."""
    tasks = [{"name": n, "primary_metric": "mean_reward" if h else "regret_per_step", "higher_is_better": h,
              "references": {"no_memory": [0.5, 0.7], "oracle": [2.0, 2.0]}}
             for n, h in zip(task_names, higher, strict=True)]
    out = []
    for a in agents:
        norm = a["normalized"]
        iqm = sum(norm) / len(norm)
        out.append({"metadata": {"name": a["name"], "privileged": a.get("privileged", False),
                                 "reference": a.get("reference", False)},
                    "runs": [{n: {"fallback": n in a.get("fallback", ())} for n in task_names}],
                    "scores": {"iqm": {"value": iqm, "interval": [iqm - 0.05, iqm + 0.05]},
                               "mean": {"value": iqm, "interval": [iqm - 0.05, iqm + 0.05]},
                               "tasks": {n: score(10 + x, x) for n, x in zip(task_names, norm, strict=True)}}})
    return {"tasks": tasks, "agents": out}


def normalized_rows(text: str, names: list[str]) -> dict[str, list[str]]:
    """Agent name -> the cells of its rows in the normalized table, in block order (the name column removed)."""
    part = text.split("raw primary metric")[0]
    rows: dict[str, list[str]] = {n: [] for n in names}
    for line in part.splitlines():
        for n in names:
            if re.match(rf"^(! |~ )?{re.escape(n)}(\s|$)", line):
                rows[n] += line[line.index(n) + len(n):].split()
    return rows


def test_default_suite_fits_120_columns_with_every_agent_and_task():
    doc = default_suite_doc()
    text = table(doc)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    assert len(doc["agents"]) >= 15 and len(doc["tasks"]) == 7
    names = [a["metadata"]["name"] for a in doc["agents"]]
    rows = normalized_rows(text, names)
    tasks = [t["name"] for t in doc["tasks"]]
    for a in doc["agents"]:
        cells = rows[a["metadata"]["name"]]
        iqm = a["scores"]["iqm"]
        # IQM, its interval (two tokens), the mean, then one cell per task in the suite's order
        assert cells[0] == f"{iqm['value']:+.3f}" and cells[3] == f"{a['scores']['mean']['value']:+.3f}"
        assert cells[1:3] == [f"[{iqm['interval'][0]:+.2f},", f"{iqm['interval'][1]:+.2f}]"]
        fallback = {t: bool(a["runs"][0][t].get("fallback")) for t in tasks}  # marked *: no model for the task
        assert cells[4:] == [f"{a['scores']['tasks'][t]['normalized']:+.3f}{'*' * fallback[t]}" for t in tasks]
    for t in doc["tasks"]:
        header = "\n".join(lines)
        assert all(piece in header for piece in _wrap(t["name"], "-")) and t["primary_metric"] in header
    # the oracle is privileged: after the ranked rows, marked
    assert "! oracle" in text and "privileged" in text.splitlines()[-1]
    ranked = [line.split()[0] for line in lines[:lines.index("") + 30] if line.split() and line.split()[0] in names]
    iqms = {a["metadata"]["name"]: a["scores"]["iqm"]["value"] for a in doc["agents"]}
    unranked = [a for a in doc["agents"] if a["metadata"].get("privileged") or a["metadata"].get("reference")]
    n_ranked = len(names) - len(unranked)  # the oracle and the unranked references come after the ranked rows
    assert ranked[:n_ranked] == sorted(ranked[:n_ranked], key=lambda n: -iqms[n])


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_every_width_is_kept_and_nothing_is_lost(width):
    doc = default_suite_doc()
    text = table(doc, width=width)
    assert max(map(len, text.splitlines())) <= width
    names = [a["metadata"]["name"] for a in doc["agents"]]
    rows = normalized_rows(text, names)
    assert all(len(cells) == 4 + len(doc["tasks"]) for cells in rows.values()), rows
    if width >= 200:
        assert text.count("\nagent") == 2  # one block per table


def test_mixed_directions_unranked_rows_and_fallbacks():
    """An rl-v0-like suite: six tasks, higher- and lower-is-better metrics mixed, a privileged oracle and a classical
    reference (unranked, after the ranked agents), a fallback cell."""
    names = ["bandit-2arm", "bandit-10arm-long-horizon", "harlow", "harlow-noisy", "maze", "maze-large"]
    higher = [False, False, True, True, True, True]
    agents = [{"name": "oracle", "normalized": [1.0] * 6, "privileged": True},
              {"name": "weak", "normalized": [0.1] * 6, "fallback": ["maze"]},
              {"name": "thompson-sampling", "normalized": [0.9] * 6, "reference": True},
              {"name": "strong", "normalized": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]}]
    doc = synthetic_doc(names, higher, agents)
    text = table(doc, width=100)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    first = {n: next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(n)}\s", line))
             for n in ("strong", "weak", "! oracle", "~ thompson-sampling")}
    assert first["strong"] < first["weak"] < first["! oracle"] < first["~ thompson-sampling"]  # ranked, then unranked
    assert set(lines[first["weak"] + 1]) == {"-"}  # a rule between the ranked and the unranked rows
    legend = text[text.index("unranked rows"):]
    assert "! = privileged" in legend and "~ = classical reference" in legend
    rows = normalized_rows(text, ["strong", "weak"])
    assert rows["strong"][4:] == ["+0.600", "+0.500", "+0.400", "+0.300", "+0.200", "+0.100"]
    assert rows["weak"][4:] == ["+0.100"] * 4 + ["+0.100*", "+0.100"]
    raw = text[text.index("raw primary metric"):]
    assert raw.count("(lower)") == 2 and raw.count("(higher)") == 4
    assert "regret_per_" in raw and "mean_reward" in raw
    assert re.search(r"\(no-memory reference\)\s+0\.6(\s+0\.6){5}", raw)
    assert re.search(r"\(oracle reference\)\s+2(\s+2){5}", raw)


def test_long_names_are_cut_and_narrow_widths_refused():
    long = "an-agent-with-a-very-long-name-that-goes-on-and-on-and-on-for-ever"[:64]
    doc = synthetic_doc(["copy"], [False], [{"name": long, "normalized": [0.5]}])
    text = table(doc, width=60)
    assert max(map(len, text.splitlines())) <= 60
    assert long not in text and long[:20] in text and "~" in text
    with pytest.raises(ValueError, match="at least 60"):
        table(doc, width=40)


def test_baseline_report_shows_all_mse_beside_the_primary_metric():
    """``baselines/report.py``'s claims table: the paper's ``all_mse`` next to each task's primary metric, the mean
    over seeds then each seed, "-" where a result lacks it, tasks without it left out."""
    from plastic_gym.baselines.report import metric_table

    def agent(iqm: float, means: dict) -> dict:
        return {"scores": {"iqm": {"value": iqm}}, "runs": [{t: {"means": m} for t, m in means.items()}]}

    results = {"a": {0: agent(0.5, {"reg": {"test_mse": 0.2, "all_mse": 0.4}, "acc": {"accuracy": 0.9}}),
                     1: agent(0.4, {"reg": {"test_mse": 0.4, "all_mse": 0.6}, "acc": {"accuracy": 0.7}})},
               "b": {0: agent(0.9, {"reg": {"test_mse": 0.1}, "acc": {"accuracy": 0.5}})}}
    text = metric_table(results, {"reg": "test_mse", "acc": "accuracy"}, ["all_mse"])
    lines = text.splitlines()
    assert lines[2] == "| entry (seeds) | reg `test_mse` | reg `all_mse` |"
    assert lines[4] == "| b (0) | 0.100 | - |"  # ranked by IQM; b's file lacks all_mse
    assert lines[5] == "| a (0, 1) | 0.300 (0.200 / 0.400) | 0.500 (0.400 / 0.600) |"
    assert "accuracy" not in text
    assert "no result records" in metric_table(results, {"acc": "accuracy"}, ["all_mse"])


def test_baseline_report_leaves_fallback_seeds_out_of_a_task_mean():
    """A seed without a model for a task (a campaign in progress) is not averaged with the seeds that have one: it is
    listed with a ``*``; a task no seed has a model for shows the fallback's value with a ``*``, and so does an IQM
    whose every seed lacks some task."""
    from plastic_gym.baselines.report import metric_table, tables

    def agent(iqm: float, tasks: dict) -> dict:  # task -> (normalized, score, all_mse or None, fallback)
        return {"scores": {"iqm": {"value": iqm},
                           "tasks": {t: {"normalized": n, "score": v} for t, (n, v, _, _) in tasks.items()}},
                "runs": [{t: {"fallback": f, "means": {"err": v, **({"all_mse": m} if m is not None else {})}}
                          for t, (n, v, m, f) in tasks.items()}]}

    results = {"a": {0: agent(0.4, {"copy": (0.3, 0.2, 0.5, False), "assoc": (0.0, 0.34, None, True)}),
                     1: agent(0.0, {"copy": (0.0, 0.33, None, True), "assoc": (0.0, 0.34, None, True)})}}
    text = tables(results, ["copy", "assoc"])
    assert "| a (0, 1) | 0.200* (0.400* / 0.000*) | 0.300 (0.300 / 0.000*) | 0.000* |" in text
    assert "| a (0, 1) | 0.200 (0.200 / 0.330*) | 0.340* |" in text
    lines = metric_table(results, {"copy": "err"}, ["all_mse"]).splitlines()
    assert lines[-1] == "| a (0, 1) | 0.200 (0.200 / 0.330*) | 0.500 (0.500 / -) |"


def test_paired_difference_closed_forms():
    """``scoring.paired_difference``: an agent against itself differs by exactly 0, the oracle against the no-memory
    agent by exactly 1 (in every resample), the sign says which is better whichever way the metric goes."""
    from plastic_gym.leaderboard.scoring import paired_difference

    rng = np.random.default_rng(0)
    no_memory, oracle = rng.uniform(0.8, 1.2, 64), rng.uniform(0.0, 0.1, 64)
    task = {"references": {"no_memory": no_memory, "oracle": oracle}, "higher_is_better": False}
    agent = rng.uniform(0.2, 0.6, 64)
    assert paired_difference(task, agent, agent) == {"difference": 0.0, "interval": [0.0, 0.0], "a_better": 0.0}
    best = paired_difference(task, oracle, no_memory)
    assert best["difference"] == pytest.approx(1.0) and best["interval"] == pytest.approx([1.0, 1.0])
    assert best["a_better"] == 1.0
    worse = paired_difference(task, agent + 0.1, agent)
    assert worse["difference"] < 0 and worse["interval"][1] < 0 and worse["a_better"] == 0.0
    up = {"references": {"no_memory": np.full(64, 0.2), "oracle": np.ones(64)}, "higher_is_better": True}
    assert paired_difference(up, np.full(64, 0.6), np.full(64, 0.2))["difference"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same episodes"):
        paired_difference(task, agent, agent[:10])


def test_baseline_report_pairs_two_result_files(capsys):
    """``report --pair A B``: task by task on the shared episodes, A against itself 0 everywhere, swapping A and B
    flips the sign, fallback tasks left out, results of other suites refused."""
    from plastic_gym.baselines import report

    results = report.RESULT_DIR
    gradient, hebbian = results / "plastic-rnn-gradient-s0.json", results / "plastic-rnn-hebbian-s0.json"
    assert report.main(["--pair", str(gradient), str(gradient)]) == 0
    same = capsys.readouterr().out.splitlines()
    assert len(same) == 4 + 7 and all("+0.000 [+0.000, +0.000] | 0% of" in line for line in same[4:])

    def differences(a, b):
        return {line.split(" | ")[0]: line.split(" | ")[4] for line in report.pair_table(a, b).splitlines()[4:]}

    forth, back = differences(gradient, hebbian), differences(hebbian, gradient)
    assert forth.keys() == back.keys() and len(forth) == 7
    for task, cell in forth.items():
        assert float(cell.split()[0]) == pytest.approx(-float(back[task].split()[0]), abs=1e-3)
    prototype = report.pair_table(results / "prototype-reference.json", gradient).splitlines()
    assert [line.split(" | ")[0] for line in prototype[4:]] == ["| oneshot"]
    with pytest.raises(ValueError, match="different suites"):
        report.pair_table(gradient, results / "rl-ppo-mlp-s0.json")


def test_baseline_report_pools_only_seeds_of_one_budget(tmp_path):
    """``report.load_results``: the seeds of a recipe trained at one budget share a row; seeds trained at different
    budgets (one retrained at a larger budget) get a row each, numbered by seed order, with their budgets listed."""
    from plastic_gym.baselines import report

    def write(name: str, seed: int, budget: str, iqm: float) -> None:
        agent = {"metadata": {"name": f"{name}-s{seed}", "budget": budget}, "seed": seed,
                 "scores": {"iqm": {"value": iqm}}, "runs": [{}]}
        doc = {"suite": {"name": "v0"}, "tasks": [], "agents": [agent]}
        (tmp_path / f"{name}-s{seed}.json").write_text(json.dumps(doc))

    write("same", 0, "copy 1000", 0.1)
    write("same", 1, "copy 1000", 0.2)
    write("mixed", 0, "copy 10000", 0.5)
    write("mixed", 1, "copy 1000", 0.3)
    write("mixed", 2, "copy 10000", 0.6)
    results = report.load_results(tmp_path)
    assert {n: sorted(seeds) for n, seeds in results.items()} == {
        "same": [0, 1], "mixed, budget 1": [0, 2], "mixed, budget 2": [1]}
    assert report.budget_notes(results).splitlines() == ["- mixed, budget 1 (seeds 0, 2): copy 10000",
                                                         "- mixed, budget 2 (seeds 1): copy 1000"]
    assert report.budget_notes({"same": results["same"]}) == ""


def test_baseline_report_pools_a_partly_trained_seed_with_its_recipe(tmp_path):
    """A seed that holds some tasks (a campaign in progress) shares its recipe's row when each task it holds was
    trained at the row's budget, even with a comma inside a task's note; a differing task budget or setting still
    splits. Its IQM (which counts the fallback's scores) is marked and left out of the row's mean."""
    from plastic_gym.baselines import report

    unit = "outer steps of 64 episodes (unless stated) per task: "
    full = unit + "copy 10000, assoc 20000 (loss on all steps), oneshot 3000 (encoder pretrained 3000 steps, frozen)"
    budgets = {0: full, 1: unit + "copy 10000, oneshot 3000 (encoder pretrained 3000 steps, frozen)",
               2: unit + "copy 1000", 3: unit + "assoc 20000 (loss on all steps); AdamW weight decay 0.01"}
    tasks = ["copy", "assoc", "oneshot"]
    for seed, budget in budgets.items():
        held = [t for t in tasks if t in report._budget_parts(budget)[1]]
        agent = {"metadata": {"name": f"r-s{seed}", "budget": budget}, "seed": seed,
                 "scores": {"iqm": {"value": 0.1 * (seed + 1)}},
                 "runs": [{t: {"fallback": t not in held} for t in tasks}]}
        doc = {"suite": {"name": "v0"}, "tasks": [], "agents": [agent]}
        (tmp_path / f"r-s{seed}.json").write_text(json.dumps(doc))
    results = report.load_results(tmp_path)
    assert {n: sorted(seeds) for n, seeds in results.items()} == {
        "r, budget 1": [0, 1], "r, budget 2": [2], "r, budget 3": [3]}
    assert report.budget_notes(results).splitlines()[0] == f"- r, budget 1 (seeds 0, 1): {full}"
    assert report._budget_parts(full)[1]["oneshot"] == "oneshot 3000 (encoder pretrained 3000 steps, frozen)"
    assert report._budget_parts("1000000 env steps per task") is None
    pooled = list(results["r, budget 1"].values())
    assert report._iqm_cell(pooled) == "0.100 (0.100 / 0.200*)"
    assert report._iqm_cell(list(results["r, budget 2"].values())) == "0.300*"


def test_baseline_report_is_a_cli_subcommand(capsys):
    """``plastic-gym baseline report`` takes the module's options and prints what ``python -m ...report`` prints;
    a refused pair exits 2 in both."""
    from plastic_gym.baselines import report
    from plastic_gym.cli import main

    gradient, hebbian = (str(report.RESULT_DIR / f"plastic-rnn-{r}-s0.json") for r in ("gradient", "hebbian"))
    assert report.main(["--pair", gradient, hebbian]) == 0
    direct = capsys.readouterr().out
    assert main(["baseline", "report", "--pair", gradient, hebbian]) == 0
    assert capsys.readouterr().out == direct and direct.count("| copy |") == 1
    other = str(report.RESULT_DIR / "rl-ppo-mlp-s0.json")
    assert main(["baseline", "report", "--pair", gradient, other]) == 2
    assert "different suites" in capsys.readouterr().err


def test_baseline_report_draws_each_rows_mean_and_seeds_per_task(tmp_path):
    """``report.scores_figure``: one bar per row and task at the mean over the seeds with a model for the task, each
    such seed a dot; a task no seed has a model for has no bar; ``--plot`` writes the PNG."""
    from plastic_gym.baselines import report

    def agent(iqm, scores):  # task -> (normalized, fallback)
        return {"scores": {"iqm": {"value": iqm}, "tasks": {t: {"normalized": n} for t, (n, _) in scores.items()}},
                "runs": [{t: {"fallback": f} for t, (_, f) in scores.items()}]}

    results = {"a": {0: agent(0.6, {"copy": (0.2, False), "assoc": (0.8, False)}),
                     1: agent(0.3, {"copy": (0.4, False), "assoc": (0.0, True)})},
               "b": {0: agent(0.1, {"copy": (0.1, False), "assoc": (0.0, True)})}}
    ax = report.scores_figure(results, ["copy", "assoc"]).axes[0]
    assert [round(p.get_height(), 6) for p in ax.patches] == [0.3, 0.8, 0.1]  # a: copy, assoc; b: copy only
    dots = [list(line.get_ydata()) for line in ax.get_lines() if line.get_marker() == "o"]
    assert dots == [[0.2, 0.4], [0.8], [0.1]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (0, 1)", "b (0)"]
    out = tmp_path / "scores.png"
    assert report.main(["--results", str(report.RESULT_DIR), "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
