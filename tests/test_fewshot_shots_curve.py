"""examples/fewshot_shots_curve.py: the n_shot variants, the numbers it reports and the files it writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_example

import plastic_gym

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def curve():
    return load_example("fewshot_shots_curve")


def test_variants_share_the_one_shot_spaces(curve):
    from plastic_gym.leaderboard.suite import load_suite

    suite = curve.shots_suite(4)
    oneshot = load_suite("v0").task("oneshot")
    first = suite.tasks[0]
    assert (first.env_id, first.seed, first.kwargs) == (oneshot.env_id, oneshot.seed, {**oneshot.kwargs, "n_shot": 1})
    tasks = [plastic_gym.make_task(t.env_id, **t.kwargs) for t in suite.tasks]
    assert [t.episode_length for t in tasks] == [10, 15, 20, 25, 30]
    # a model trained at 1 shot fits every variant: only the support phase is longer
    assert all(t.observation_space == tasks[0].observation_space and t.action_space == tasks[0].action_space
               for t in tasks)


def test_curves_report_means_intervals_and_fallbacks(curve):
    doc = {"tasks": [{"name": f"{k}-shot"} for k in curve.SHOTS],
           "agents": [{"metadata": {"name": "a", "regime": "x"},
                       "runs": [{f"{k}-shot": {"primary": [1.0, 0.0, 0.6, 0.6], "fallback": k == 5}
                                 for k in curve.SHOTS}]}]}
    out = curve.curves(doc, {"b": "task 1-shot: RuntimeError: boom"})
    points = out["a"]["points"]
    assert [p["accuracy"] for p in points[:4]] == [0.55] * 4 and points[4] == {"n_shot": 5, "fallback": True}
    lo, hi = points[0]["ci95"]
    assert 0.0 <= lo < 0.55 < hi <= 1.0
    assert out["b"] == {"failed": "task 1-shot: RuntimeError: boom"}
    values = np.array([1.0, 0.0, 0.6, 0.6])
    assert curve.bootstrap_interval(values) == curve.bootstrap_interval(values)  # fixed resampling seed


def test_script_matches_the_leaderboard_evaluator_and_never_overwrites(curve, tmp_path, monkeypatch, torch_one_thread):
    """One committed one-shot model through the script: its 1-shot point is the leaderboard's oneshot accuracy on the
    same episodes; the figure and the numbers are written once, then refused without --force."""
    from plastic_gym.leaderboard.agents import load_agent
    from plastic_gym.leaderboard.evaluate import evaluate
    from plastic_gym.leaderboard.suite import parse_suite

    model = REPO / "baselines" / "checkpoints" / "rnn-s0" / "oneshot.pt"
    (tmp_path / "ckpt" / "rnn-s0").mkdir(parents=True)
    (tmp_path / "ckpt" / "rnn-s0" / "manifest.json").write_text(json.dumps(
        {"metadata": {"name": "rnn-s0"}, "tasks": {"oneshot": str(model)}}))
    monkeypatch.setattr(curve, "CHECKPOINTS", tmp_path / "ckpt")
    out = tmp_path / "shots"
    argv = ["fewshot_shots_curve.py", "--episodes", "4", "--pretrained", str(tmp_path / "none.pt"), "--out", str(out),
            "--no-progress"]
    monkeypatch.setattr(sys, "argv", argv)
    curve.main()
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert out.with_suffix(".png").stat().st_size > 0
    points = numbers["entries"]["rnn-s0"]["points"]
    assert [p["n_shot"] for p in points] == [1, 2, 3, 4, 5] and not any(p["fallback"] for p in points)
    v0 = parse_suite({"name": "one", "version": 0, "tasks": [{"name": "oneshot", "env_id": "PlasticOneShot-v0",
                                                               "kwargs": {"split": "test"}, "episodes": 4,
                                                               "seed": curve.SEED}]})
    doc = evaluate([load_agent(str(model))], v0, progress=False)
    assert points[0]["accuracy"] == round(doc["agents"][0]["runs"][0]["oneshot"]["means"]["accuracy"], 4)
    with pytest.raises(SystemExit):
        curve.main()  # the files exist: refused
