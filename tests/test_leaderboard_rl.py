"""Suite rl-v0 on the leaderboard: the interactive tasks' references, normalization and result files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plastic_gym.leaderboard.agents import CLASSICAL_REFERENCES, PolicyAgent, load_agent
from plastic_gym.leaderboard.evaluate import evaluate
from plastic_gym.leaderboard.results import validate
from plastic_gym.leaderboard.suite import load_suite
from plastic_gym.leaderboard.trusted import trusted_entries

EPISODES = 48


@pytest.fixture(scope="module")
def rl_doc():
    suite = load_suite("rl-v0")
    factories = [load_agent(name) for name in ("random", "no-memory", "oracle", *CLASSICAL_REFERENCES)]
    return evaluate(factories, suite, episodes=EPISODES, progress=False)


def _scores(doc, name):
    agent = next(a for a in doc["agents"] if a["metadata"]["name"] == name)
    return {t: s["normalized"] for t, s in agent["scores"]["tasks"].items()}, agent


def test_rl_suite_tasks():
    suite = load_suite("rl-v0")
    assert suite.task_names == ["bandit-2", "bandit-10", "bandit-2-reversal", "harlow", "harlow-glyphs", "maze"]
    assert {t.env_id for t in suite.tasks} == {"PlasticBandit-v0", "PlasticHarlow-v0", "PlasticMaze-v0"}


def test_trusted_list_of_rl_suite_is_the_references():
    entries = {e.name: e for e in trusted_entries("rl-v0")}
    references = {"random", "no-memory", "oracle", *CLASSICAL_REFERENCES}
    assert references <= set(entries)
    for name in set(entries) - references:  # the committed baselines: their manifests ship with the package
        assert entries[name].source == f"baselines/checkpoints/{name}/manifest.json"
        assert not (entries[name].privileged or entries[name].reference)
        assert (Path(__file__).resolve().parents[1] / entries[name].source).is_file()
    assert entries["oracle"].privileged and not entries["oracle"].reference
    assert all(entries[n].reference and not entries[n].privileged for n in CLASSICAL_REFERENCES)


def test_no_memory_scores_zero_and_oracle_one_exactly(rl_doc):
    no_memory, _ = _scores(rl_doc, "no-memory")
    oracle, _ = _scores(rl_doc, "oracle")
    assert all(v == 0.0 for v in no_memory.values())  # the same random numbers as the reference: the same episodes
    assert all(v == 1.0 for v in oracle.values())


def test_classical_references_beat_random_where_they_apply(rl_doc):
    thompson, agent = _scores(rl_doc, "thompson")
    ucb1, _ = _scores(rl_doc, "ucb1")
    explore, explore_agent = _scores(rl_doc, "explore-exploit")
    assert thompson["bandit-2"] > ucb1["bandit-2"] > 0.3
    assert thompson["bandit-10"] > ucb1["bandit-10"] > 0.3
    assert explore["harlow"] == 1.0 and explore["harlow-glyphs"] == 1.0  # random first pick, then the rewarded object
    assert 0.2 < explore["maze"] < 1.0
    # A classical reference plays only the tasks that have it; the others are no-memory fallbacks (exactly 0).
    assert [t for t, run in agent["runs"][0].items() if run["fallback"]] == ["harlow", "harlow-glyphs", "maze"]
    assert thompson["maze"] == 0.0
    assert [t for t, run in explore_agent["runs"][0].items() if run["fallback"]] == ["bandit-2", "bandit-10",
                                                                                 "bandit-2-reversal"]


def test_rl_result_file_validates_and_replays_its_references(rl_doc):
    assert validate(rl_doc, allow_short=True).name == "rl-v0"
    bad = {**rl_doc, "tasks": [dict(t) for t in rl_doc["tasks"]]}
    maze = bad["tasks"][-1]
    maze["references"] = {**maze["references"], "no_memory": [v + 1.0 for v in maze["references"]["no_memory"]]}
    with pytest.raises(Exception, match="references/no_memory"):
        validate(bad, allow_short=True)


def test_policy_agent_errors():
    import plastic_gym

    task = plastic_gym.make_task("PlasticBandit-v0")
    with pytest.raises(RuntimeError, match="privileged"):
        PolicyAgent(task, "oracle")
    agent = PolicyAgent(task, "thompson")
    state = agent.reset(2)
    with pytest.raises(ValueError, match="lockstep"):
        agent.act(np.zeros((2, *task.observation_space.shape), np.float32), state, np.array([True, False]))


def test_an_agent_that_fails_loses_no_other_agents_run(tmp_path, capsys):
    from plastic_gym.cli import main

    crashes = tmp_path / "crashes.py"
    crashes.write_text("class A:\n    def reset(self, n): return None\n"
                       "    def act(self, obs, state, start): raise RuntimeError('boom')\ndef make(): return A()\n")
    out = tmp_path / "r.json"
    code = main(["evaluate", "--agent", f"{crashes}:make", "--agent", "thompson", "--suite", "rl-v0", "--episodes", "4",
                 "--out", str(out), "--no-progress"])
    assert code == 1
    assert "agent 'make' failed and was dropped: task bandit-2: RuntimeError: boom" in capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert [a["metadata"]["name"] for a in doc["agents"]] == ["thompson"]
    assert validate(doc, allow_short=True).name == "rl-v0"  # what the other agent measured is a valid result
