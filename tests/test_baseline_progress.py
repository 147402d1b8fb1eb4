"""``plastic-gym baseline progress``: a runs folder read against the recipes' budgets, and the time left."""

from __future__ import annotations

import json

import pytest

from plastic_gym.baselines.progress import _duration, campaign_progress, report, seconds_left, start_order, wall_seconds
from plastic_gym.baselines.recipes import load_recipe
from plastic_gym.cli import main

RL_TASKS = ["bandit-2", "bandit-10", "bandit-2-reversal", "harlow", "harlow-glyphs", "maze"]
RNN = load_recipe("rnn")
ASSOC, COPY, COPY_DELAY40 = (RNN.train_fields(t)["steps"] for t in ("assoc", "copy", "copy-delay40"))


def _rl_run(root, recipe, seed, task, steps, seconds):
    run = root / recipe / f"s{seed}" / task
    run.mkdir(parents=True)
    (run / "records.json").write_text(json.dumps({"env_steps": steps, "train_seconds": seconds, "records": []}))


def _supervised_run(root, recipe, seed, task, step, seconds):
    run = root / recipe / f"s{seed}" / task
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"step": step, "elapsed_s": seconds}))


@pytest.fixture
def runs(tmp_path):
    _rl_run(tmp_path, "rl-recurrent-ppo-lstm", 0, "bandit-2", 1_001_472, 400.0)
    _rl_run(tmp_path, "rl-recurrent-ppo-lstm", 0, "harlow", 250_000, 500.0)
    _supervised_run(tmp_path, "rnn", 1, "assoc", 2500, 100.0)
    return tmp_path


def test_every_seed_and_task_of_a_recipe_against_its_budget(runs):
    rows = campaign_progress(runs)
    lstm = [r for r in rows if r.recipe == "rl-recurrent-ppo-lstm"]
    assert [(r.seed, r.task) for r in lstm] == [(s, t) for s in (0, 1, 2) for t in RL_TASKS]
    first = lstm[0]
    assert (first.done, first.budget, first.seconds, first.finished) == (1_001_472, 1_000_000, 400.0, True)
    assert (lstm[3].done, lstm[3].finished) == (250_000, False)
    assert not any(r.done for r in lstm[6:])
    assoc = [r for r in rows if r.recipe == "rnn" and r.task == "assoc"]
    assert [(r.seed, r.done, r.budget) for r in assoc] == [(0, 0, ASSOC), (1, 2500, ASSOC)]


def test_time_left_from_each_runs_rate(runs):
    rows = campaign_progress(runs)
    left = dict(zip([(r.recipe, r.seed, r.task) for r in rows], seconds_left(rows), strict=True))
    assert left["rl-recurrent-ppo-lstm", 0, "bandit-2"] == 0
    assert left["rl-recurrent-ppo-lstm", 0, "harlow"] == pytest.approx(750_000 * 500 / 250_000)
    # a task not started: the same task's rate in another seed, else the recipe's slowest rate per unit of work
    # (an env step for RL; batch x episode length for a supervised step)
    assert left["rl-recurrent-ppo-lstm", 1, "harlow"] == pytest.approx(1_000_000 * 500 / 250_000)
    assert left["rl-recurrent-ppo-lstm", 1, "maze"] == pytest.approx(1_000_000 * 500 / 250_000)
    assert left["rnn", 0, "assoc"] == pytest.approx(ASSOC * 100 / 2500)
    work = {r.task: r.work for r in rows if r.recipe == "rnn" and r.seed == 0}
    assert (work["assoc"], work["copy"], work["copy-delay40"]) == (64 * 20, 64 * 60, 64 * 80)  # 20 + 20 + delay
    assert left["rnn", 0, "copy"] == pytest.approx(COPY * 3 * 100 / 2500)
    assert left["rnn", 0, "copy-delay40"] == pytest.approx(COPY_DELAY40 * 4 * 100 / 2500)
    # an image task shares no rate with the vector tasks: no guess until an image task has run
    assert {r.kind for r in rows if r.recipe == "rnn"} == {"vector", "image"}
    assert [r.kind for r in rows if r.recipe == "rnn" and r.task == "oneshot"] == ["image", "image"]
    assert left["rnn", 0, "oneshot"] is None


def test_report_lists_the_runs_and_the_total(runs):
    text = report(campaign_progress(runs))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["recipe", "seed", "task"]
    assert lines[1].split()[:6] == ["rl-recurrent-ppo-lstm", "0", "bandit-2", "1,001,472", "1,000,000", "100%"]
    assert lines[1].endswith("done")
    assert lines[-1].startswith("1 of 32 runs finished")


def test_cli_prints_the_report_and_refuses_a_bad_folder(runs, tmp_path, capsys):
    assert main(["baseline", "progress", str(runs)]) == 0
    assert "runs finished" in capsys.readouterr().out
    assert main(["baseline", "progress", str(tmp_path / "missing")]) == 2
    assert "expected a runs folder" in capsys.readouterr().err
    (runs / "not-a-recipe").mkdir()
    assert main(["baseline", "progress", str(runs)]) == 2
    assert "not-a-recipe" in capsys.readouterr().err


def test_wall_time_lays_the_runs_out_on_the_workers_in_order():
    """A free worker starts the next run: one worker takes the sum, enough workers the longest run, and the order
    matters (a long run last keeps one worker busy after the others are done)."""
    assert wall_seconds([3, 1, 1, 1], 1) == 6
    assert wall_seconds([3, 1, 1, 1], 4) == 3
    assert wall_seconds([3, 1, 1, 1], 2) == 3
    assert wall_seconds([1, 1, 1, 3], 2) == 4
    assert wall_seconds([], 2) == 0


def test_wall_time_follows_a_campaigns_queue(tmp_path, capsys):
    """``start_order``: the open runs of a campaign folder in the order the campaign starts them (its task_order,
    seed by seed), finished ones left out; ``--workers`` adds the wall time to the report; a bad count is refused."""
    (tmp_path / "campaign.json").write_text(json.dumps({"runs": [["rnn", 0], ["rnn", 1]], "task_order": ["assoc"]}))
    _supervised_run(tmp_path, "rnn", 0, "copy", COPY, 300.0)  # finished
    _supervised_run(tmp_path, "rnn", 1, "copy", 100, 10.0)  # half-way: keeps its place in the queue
    rows = campaign_progress(tmp_path)
    queue = [(rows[i].seed, rows[i].task) for i in start_order(tmp_path, rows)]
    tasks = [r.task for r in rows if r.seed == 0]
    assert queue == [(0, "assoc"), *[(0, t) for t in tasks if t not in ("assoc", "copy")],
                     (1, "assoc"), *[(1, t) for t in tasks if t != "assoc"]]
    assert [(r.seed, r.task) for r in rows if not r.finished] != queue  # not the table's order
    left = seconds_left(rows)
    known = [left[i] for i in start_order(tmp_path, rows) if left[i] is not None]
    assert main(["baseline", "progress", str(tmp_path), "--workers", "2"]) == 0
    total = capsys.readouterr().out.splitlines()[-1]
    assert total.endswith(f"about {_duration(wall_seconds(known, 2))} of wall time with 2 at once (not counting those)"
                          f"; 2 runs with no rate of their kind yet")  # the oneshot runs: no image task has run
    assert main(["baseline", "progress", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def _metrics(folder, recipe, seed, task, values):
    run = folder / recipe / f"s{seed}" / task
    run.mkdir(parents=True)
    lines = [json.dumps({"step": 200 * k, "train_loss": v, "val": {"test_mse": v, "all_mse": 2 * v}})
             for k, v in enumerate(values)]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def test_curves_of_one_task_across_folders(tmp_path, capsys):
    """``baseline curves``: one line per (recipe, seed) of the task, from every folder given; other tasks left out;
    a run in two folders, no run at all and a missing folder refused."""
    from plastic_gym.baselines.run_curves import read_runs

    a, b = tmp_path / "a", tmp_path / "b"
    _metrics(a, "hebbian", 0, "regression", [1.0, 0.5])
    _metrics(a, "hebbian", 0, "copy", [0.3])
    _metrics(b, "gradient-loss-all", 1, "regression", [1.0, 0.4, 0.2])
    runs = read_runs([a, b], "regression")
    assert list(runs) == ["hebbian s0", "gradient-loss-all s1"]
    assert [r["val"]["test_mse"] for r in runs["gradient-loss-all s1"]] == [1.0, 0.4, 0.2]
    out = tmp_path / "regression.png"
    assert main(["baseline", "curves", str(a), str(b), "--task", "regression", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="in two of the folders"):
        read_runs([a, a], "regression")
    with pytest.raises(ValueError, match="no supervised run of task 'assoc'"):
        read_runs([a, b], "assoc")
    assert main(["baseline", "curves", str(tmp_path / "none"), "--task", "copy", "--out", str(out)]) == 2
    assert "is not a folder" in capsys.readouterr().err
