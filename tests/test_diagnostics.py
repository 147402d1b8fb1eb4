"""Within-episode diagnostics (leaderboard/diagnostics.py): closed forms on the reference agents, the plasticity
ablation of checkpoint agents, the bandit regret curve, and result files with and without diagnostics."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from plastic_gym import make_task
from plastic_gym.leaderboard import diagnostics as D
from plastic_gym.leaderboard.agents import SingleModelFactory, load_agent
from plastic_gym.leaderboard.evaluate import evaluate, make_env
from plastic_gym.leaderboard.protocol import AgentMetadata
from plastic_gym.leaderboard.results import ResultError, schema_problems, validate
from plastic_gym.leaderboard.suite import SuiteTask, load_suite

COPY = {"name": "copy", "env_id": "PlasticCopy-v0", "kwargs": {"seq_length": 4, "delay": 2}, "episodes": 8,
        "seed": 10000000}
BANDIT = {"name": "bandit-2", "env_id": "PlasticBandit-v0", "kwargs": {"horizon": 12}, "episodes": 8,
          "seed": 20000000}


def _suite(tmp_path, name, tasks):
    path = tmp_path / f"suite_{name}.json"
    path.write_text(json.dumps({"name": name, "version": 0, "description": "diagnostics test", "tasks": tasks}))
    return load_suite(path)


def _agent(doc, name):
    return next(a for a in doc["agents"] if a["metadata"]["name"] == name)


@pytest.fixture(scope="module")
def copy_doc(tmp_path_factory):
    suite = _suite(tmp_path_factory.mktemp("s"), "diag-copy", [COPY])
    doc = evaluate([load_agent(n) for n in ("no-memory", "oracle", "random")], suite, progress=False,
                   diagnostics=True)
    return suite, doc


def test_memory_span_of_the_references_is_closed_form(copy_doc):
    _, doc = copy_doc
    oracle, no_memory = (_agent(doc, n)["diagnostics"]["memory_span"] for n in ("oracle", "no-memory"))
    assert oracle["delays"] == no_memory["delays"] == list(D.DELAYS)
    assert oracle["normalized"] == [1.0] * len(D.DELAYS) and oracle["span"] == max(D.DELAYS)
    assert no_memory["normalized"] == [0.0] * len(D.DELAYS) and no_memory["span"] is None
    # the no-memory reference predicts 0: its recall MSE is the mean of s^2 over the same sequences at every delay
    assert len(set(no_memory["score"])) == 1 and oracle["score"] == [0.0] * len(D.DELAYS)
    assert _agent(doc, "oracle")["diagnostics"]["episodes"] == D.EPISODES
    assert "ablation" not in _agent(doc, "oracle")["diagnostics"]  # no reference agent is plastic


def test_span_is_the_longest_delay_reaching_the_threshold():
    assert D.span([0, 10, 20, 40], [0.9, 0.4, 0.6, 0.1]) == 20
    assert D.span([0, 10], [0.49, 0.2]) is None
    assert D.span([0, 10], [0.5, 0.5]) == 10


def test_variants_seeds_are_the_suite_tasks(tmp_path):
    suite = _suite(tmp_path, "diag-v", [COPY])
    plan = D.variants(suite)
    assert [(v.kwargs["delay"], v.seed, v.episodes, built) for v, built, _ in plan["memory_span"]] == \
        [(d, COPY["seed"], D.EPISODES, "copy") for d in D.DELAYS]
    assert all(v.kwargs["seq_length"] == 4 for v, _, _ in plan["memory_span"])
    # the same sequences at every delay: an episode's sequence is a function of its seed only
    seqs = [make_env(v, 4)[0].episodes.extras["sequence"] for v, _, _ in plan["memory_span"][:2]]
    np.testing.assert_array_equal(seqs[0], seqs[1])


def test_result_with_diagnostics_validates_and_tampering_is_rejected(copy_doc):
    suite, doc = copy_doc
    validate(doc, suite=suite)
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["memory_span"]["span"] = 10
    with pytest.raises(ResultError, match="memory_span/span: expected 160"):
        validate(bad, suite=suite)
    bad = copy.deepcopy(doc)
    _agent(bad, "random")["diagnostics"]["memory_span"]["normalized"][0] = 0.9
    with pytest.raises(ResultError, match="memory_span/normalized/0"):
        validate(bad, suite=suite)


def test_diagnostics_are_data_with_size_limits(copy_doc):
    _, doc = copy_doc
    bad = copy.deepcopy(doc)
    ms = _agent(bad, "oracle")["diagnostics"]["memory_span"]
    ms["score"] = [0.0] * 33
    assert any("memory_span/score" in p for p in schema_problems(bad))
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["note"] = "x"
    assert any("Additional properties" in p for p in schema_problems(bad))
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["regret"] = {"bandit": {"cumulative": ["1"], "no_memory": 1, "oracle": 0}}
    assert any("regret/bandit/cumulative/0" in p for p in schema_problems(bad))


def test_result_without_diagnostics_is_unchanged_and_still_validates(copy_doc, tmp_path):
    suite, doc = copy_doc
    plain = evaluate([load_agent("oracle")], suite, progress=False)
    assert "diagnostics" not in plain["agents"][0]
    validate(plain, suite=suite)
    stripped = copy.deepcopy(doc)
    for a in stripped["agents"]:
        a.pop("diagnostics")
    validate(stripped, suite=suite)
    # the committed board's files (written before diagnostics existed) still pass the schema
    from plastic_gym.leaderboard.board import Board

    board = Board.for_suite(load_suite("v0"))
    docs, _ = board.load()
    assert docs and all(not schema_problems(d) for d in docs)


# -- plasticity ablation ---------------------------------------------------------------------------------------
def _checkpoint_agent(rule: str, seed: int = 0):
    from plastic_gym.agents import CheckpointAgent
    from plastic_gym.agents.model import build_model

    task = make_task(COPY["env_id"], **COPY["kwargs"])
    torch.manual_seed(seed)
    return CheckpointAgent(build_model(task, rule=rule, hidden_dim=16), task, {"name": f"tiny-{rule}"})


def _actions(agent, n=8):
    env, obs = make_env(SuiteTask(**COPY), n)
    state, out = agent.reset(n), []
    start = np.ones(n, bool)
    for _ in range(env.task.episode_length):
        a, state = agent.act(obs, state, start)
        out.append(a)
        obs, *_ = env.step(a)
        start[:] = False
    return np.stack(out), state


def test_ablation_of_a_non_plastic_agent_changes_nothing():
    agent = _checkpoint_agent("none")
    assert not agent.plastic
    np.testing.assert_array_equal(_actions(agent)[0], _actions(agent.without_plasticity())[0])


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_ablation_of_a_plastic_agent_keeps_the_fast_weights_at_their_start(rule):
    agent = _checkpoint_agent(rule)
    ablated = agent.without_plasticity()
    assert agent.plastic and ablated.model.net.config.p_lr == 0.0 and ablated.model.net.config.p_wd == 0.0
    assert agent.model.net.config.p_lr > 0  # the original is untouched
    (acts, state), (acts_off, state_off) = _actions(agent), _actions(ablated)
    assert not np.array_equal(acts, acts_off)
    assert all(torch.count_nonzero(F) == 0 for F in state_off.F.values())
    assert any(torch.count_nonzero(F) > 0 for F in state.F.values())
    # the slow weights are the same: with plasticity on, the ablated copy's network acts as the original
    for p, q in zip(agent.model.parameters(), ablated.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_ablation_in_the_diagnostics(tmp_path):
    suite = _suite(tmp_path, "diag-ab", [COPY])
    factories = []
    for rule in ("hebbian", "none"):
        agent = _checkpoint_agent(rule)
        factories.append(SingleModelFactory(agent, AgentMetadata(f"tiny-{rule}"), agent.observation_space,
                                            agent.action_space))
    diag = D.diagnose(factories, suite, progress=False)
    ab = diag["tiny-hebbian"]["ablation"]
    assert list(ab["tasks"]) == ["copy"] and "ablation" not in diag["tiny-none"]
    t = ab["tasks"]["copy"]
    assert t["drop"] == pytest.approx(t["normalized"] - t["ablated"]) and t["score"] != t["ablated_score"]
    assert not D.check(diag["tiny-hebbian"], "d")


# -- bandit regret ---------------------------------------------------------------------------------------------
def test_regret_curve_of_the_bandit_references(tmp_path):
    suite = _suite(tmp_path, "diag-bandit", [BANDIT])
    doc = evaluate([load_agent(n) for n in ("no-memory", "oracle")], suite, progress=False, diagnostics=True)
    validate(doc, suite=suite)
    oracle = _agent(doc, "oracle")["diagnostics"]["regret"]["bandit-2"]
    assert oracle["cumulative"] == [0.0] * BANDIT["kwargs"]["horizon"] and oracle["oracle"] == 0.0
    no_memory = _agent(doc, "no-memory")["diagnostics"]["regret"]["bandit-2"]
    # the no-memory agent plays the no-memory reference's random policy: its curve ends at that reference's regret
    assert len(no_memory["cumulative"]) == BANDIT["kwargs"]["horizon"]
    assert no_memory["cumulative"][-1] == pytest.approx(no_memory["no_memory"], rel=1e-6)
    assert np.all(np.diff(no_memory["cumulative"]) >= 0)
    assert "memory_span" not in _agent(doc, "oracle")["diagnostics"]


def test_cli_flag(tmp_path, monkeypatch):
    from plastic_gym.cli import main

    suite_path = tmp_path / "suite_diag-cli.json"
    suite_path.write_text(json.dumps({"name": "diag-cli", "version": 0, "tasks": [BANDIT]}))
    out = tmp_path / "r.json"
    assert main(["evaluate", "--suite", str(suite_path), "--agent", "oracle", "--diagnostics", "--no-progress",
                 "--out", str(out)]) == 0
    assert "regret" in json.loads(out.read_text())["agents"][0]["diagnostics"]


# -- pages -----------------------------------------------------------------------------------------------------
def test_pages_show_the_diagnostics_only_when_there_are_some(copy_doc):
    from plastic_gym.leaderboard.render import pages
    from plastic_gym.leaderboard.results import split_agents

    _, doc = copy_doc
    docs = split_agents(doc)
    statuses = {d["agents"][0]["metadata"]["name"]: None for d in docs}
    out = pages(docs, statuses, "diag-copy")
    text = out["LEADERBOARD.md"].decode()
    assert "## Within-episode diagnostics" in text and "![diagnostics](diagnostics.png)" in text
    assert "| oracle † | 160 | 1.000 |" in text and "| no-memory | – | 0.000 |" in text
    assert out["diagnostics.png"].startswith(b"\x89PNG") and 'id="diagnostics"' in out["index.html"].decode()
    for d in docs:
        d["agents"][0].pop("diagnostics")
    plain = pages(docs, statuses, "diag-copy")
    assert "diagnostics" not in plain["LEADERBOARD.md"].decode() and "diagnostics.png" not in plain
    assert 'id="diagnostics"' not in plain["index.html"].decode()


# -- association error by study count ---------------------------------------------------------------------------
ASSOC = {"name": "assoc", "env_id": "PlasticAssoc-v0", "kwargs": {"n_cues": 3, "trial_length": 8}, "episodes": 8,
         "seed": 10200000}


def test_study_count_curve_of_the_references_is_closed_form(tmp_path):
    suite = _suite(tmp_path, "diag-assoc", [ASSOC])
    doc = evaluate([load_agent(n) for n in ("no-memory", "oracle")], suite, progress=False, diagnostics=True)
    validate(doc, suite=suite)
    oracle, no_memory = (_agent(doc, n)["diagnostics"]["study_count"]["assoc"] for n in ("oracle", "no-memory"))
    assert oracle["counts"] == no_memory["counts"] and oracle["counts"][0] == 0
    assert sum(oracle["queries"]) == D.EPISODES * ASSOC["kwargs"]["trial_length"] // 2
    # the agents play exactly their references; the oracle knows every studied cue and guesses 0 for the others
    assert oracle["error"] == oracle["oracle"] and no_memory["error"] == no_memory["no_memory"]
    assert oracle["error"][1:] == [0.0] * (len(oracle["counts"]) - 1)
    assert oracle["error"][0] == no_memory["error"][0] > 0
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["study_count"]["assoc"]["counts"] = [0, 0, 1, 2, 3][:len(oracle["counts"])]
    with pytest.raises(ResultError, match="study_count/assoc"):
        validate(bad, suite=suite)


def test_study_counts_count_the_study_steps_of_each_cue():
    task = make_task(ASSOC["env_id"], **ASSOC["kwargs"])
    episodes = task.sample(16, 0)
    counts = D.study_counts(task, episodes)
    cues, S = episodes.extras["cue"], task.study_length
    assert (counts[:, :S] == -1).all()
    expected = [[(cues[b, :S] == cues[b, t]).sum() for t in range(S, task.episode_length)] for b in range(16)]
    np.testing.assert_array_equal(counts[:, S:], expected)


def test_submit_round_trip_keeps_the_diagnostics_and_renders_them(copy_doc, tmp_path):
    from plastic_gym.leaderboard.board import Board
    from plastic_gym.leaderboard.results import write_json_atomic
    from plastic_gym.leaderboard.submit import submit

    suite, doc = copy_doc
    path = write_json_atomic(tmp_path / "r.json", doc)
    submit(path, tmp_path / "board", suite=suite)
    board = Board.for_suite(suite, tmp_path / "board")
    docs, _ = board.load()
    stored = {d["agents"][0]["metadata"]["name"]: d["agents"][0]["diagnostics"] for d in docs}
    assert stored == {a["metadata"]["name"]: a["diagnostics"] for a in doc["agents"]}
    assert (board.dir / "diagnostics.png").read_bytes().startswith(b"\x89PNG")
    assert "## Within-episode diagnostics" in (board.dir / "LEADERBOARD.md").read_text()
    bad = copy.deepcopy(doc)
    _agent(bad, "random")["diagnostics"]["memory_span"]["span"] = 0
    path = write_json_atomic(tmp_path / "bad.json", bad)
    with pytest.raises(ResultError, match="memory_span/span"):
        submit(path, tmp_path / "board2", suite=suite)
    assert not (tmp_path / "board2").exists() or not any((tmp_path / "board2").rglob("*.json"))


# -- regression error by number of training points -------------------------------------------------------------
REGRESSION = {"name": "regression", "env_id": "PlasticRegression-v0", "kwargs": {}, "episodes": 8, "seed": 10400000}
REGRESSION_MLP = {"name": "regression-mlp", "env_id": "PlasticRegressionMLP-v0", "kwargs": {}, "episodes": 8,
                  "seed": 10500000}


@pytest.fixture(scope="module")
def points_doc(tmp_path_factory):
    suite = _suite(tmp_path_factory.mktemp("s"), "diag-points", [REGRESSION, REGRESSION_MLP])
    doc = evaluate([load_agent(n) for n in ("no-memory", "oracle")], suite, progress=False, diagnostics=True)
    return suite, doc


def test_points_variants_are_the_suite_tasks_with_fewer_training_points(tmp_path):
    suite = _suite(tmp_path, "diag-pv", [COPY, {**REGRESSION, "kwargs": {"noise": 0.2}}, REGRESSION_MLP])
    plan = D.variants(suite)["points"]
    assert [(v.env_id, v.kwargs, v.seed, v.episodes, built, n) for v, built, n in plan] == \
        [(t["env_id"], {**t["kwargs"], "train_length": n}, t["seed"], D.EPISODES, t["name"], n)
         for t in ({**REGRESSION, "kwargs": {"noise": 0.2}}, REGRESSION_MLP) for n in D.POINTS]
    # the spaces are those of the suite task: an agent trained at 20 points plays every variant
    for v, built, _ in plan:
        base = make_task(v.env_id, **next(t for t in suite.tasks if t.name == built).kwargs)
        task = make_task(v.env_id, **v.kwargs)
        assert task.observation_space == base.observation_space and task.action_space == base.action_space
        assert task.episode_length == v.kwargs["train_length"] + base.test_length


def test_points_of_the_references_are_closed_form(points_doc):
    suite, doc = points_doc
    validate(doc, suite=suite)
    for task in ("regression", "regression-mlp"):
        oracle, no_memory = (_agent(doc, n)["diagnostics"]["points"][task] for n in ("oracle", "no-memory"))
        assert oracle["points"] == no_memory["points"] == list(D.POINTS) and oracle["metric"] == "test_mse"
        assert oracle["normalized"] == [1.0] * len(D.POINTS) and no_memory["normalized"] == [0.0] * len(D.POINTS)
        assert oracle["score"] == oracle["oracle"] and no_memory["score"] == no_memory["no_memory"]
        # the oracle fits the true model class: its error falls as the points grow, to far below no memory at 20
        assert np.all(np.diff(oracle["score"]) <= 0), oracle["score"]
        assert oracle["score"][-1] < 0.1 < 0.9 < no_memory["score"][-1]
        # y is z-scored over the episode: predicting 0 scores about 1 at every number of points
        assert np.allclose(no_memory["score"], 1.0, atol=0.05)
    # the suite task's variant at its own 20 points is the suite task on its first EPISODES episodes
    env, _ = make_env(SuiteTask(**{**REGRESSION, "episodes": D.EPISODES}), D.EPISODES)
    from plastic_gym.leaderboard.episodes import reference_metrics

    oracle20 = float(np.mean(reference_metrics(env.task, env)["oracle"]))
    assert _agent(doc, "oracle")["diagnostics"]["points"]["regression"]["score"][-1] == pytest.approx(oracle20)


def test_points_are_rechecked_and_tampering_is_rejected(points_doc):
    suite, doc = points_doc
    for field, index, value, match in (("normalized", 2, 0.5, "points/regression/normalized/2"),
                                       ("score", 0, 0.5, "points/regression/normalized/0"),
                                       ("points", 0, 3, "points/regression: expected metric 'test_mse', points")):
        bad = copy.deepcopy(doc)
        _agent(bad, "no-memory")["diagnostics"]["points"]["regression"][field][index] = value
        with pytest.raises(ResultError, match=match):
            validate(bad, suite=suite, check_references=False)
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["points"]["regression"]["score"].append(0.0)
    assert D.check(_agent(bad, "oracle")["diagnostics"], "d")
    bad = copy.deepcopy(doc)
    _agent(bad, "oracle")["diagnostics"]["points"]["regression"]["points"] = [0, 1, 2, 5, 10]
    assert any("points/regression/points/0" in p for p in schema_problems(bad))


def test_result_without_points_still_validates(points_doc):
    suite, doc = points_doc
    old = copy.deepcopy(doc)
    for a in old["agents"]:
        a["diagnostics"].pop("points")
    validate(old, suite=suite, check_references=False)


class _OnlyTwentyPoints:
    """A factory whose agent plays only the suite's own regression (train_length 20), like an agent that needs the
    episode length it was trained at."""

    def __init__(self):
        self.inner = load_agent("no-memory")
        self.metadata = AgentMetadata("twenty-only")

    def for_task(self, context):
        return self.inner.for_task(context) if context.task.train_length == 20 else None


def test_points_of_a_trained_network_and_of_an_agent_that_cannot_play_a_variant(tmp_path):
    from plastic_gym.agents import CheckpointAgent
    from plastic_gym.agents.model import build_model

    suite = _suite(tmp_path, "diag-pnet", [REGRESSION])
    task = make_task(REGRESSION["env_id"])
    torch.manual_seed(0)
    agent = CheckpointAgent(build_model(task, rule="hebbian", hidden_dim=16), task, {"name": "tiny-hebbian"})
    factory = SingleModelFactory(agent, AgentMetadata("tiny-hebbian"), agent.observation_space, agent.action_space)
    diag = D.diagnose([factory, _OnlyTwentyPoints()], suite, progress=False)
    points = diag["tiny-hebbian"]["points"]["regression"]
    assert points["points"] == list(D.POINTS) and all(np.isfinite(points["score"]))
    assert not D.check(diag["tiny-hebbian"], "d")
    assert "twenty-only" not in diag or "points" not in diag["twenty-only"]  # left out, like a missing delay


def test_pages_show_the_points_table_and_figure(points_doc):
    from plastic_gym.leaderboard.render import pages
    from plastic_gym.leaderboard.results import split_agents

    _, doc = points_doc
    docs = split_agents(doc)
    out = pages(docs, {d["agents"][0]["metadata"]["name"]: None for d in docs}, "diag-points")
    text = out["LEADERBOARD.md"].decode()
    oracle = _agent(doc, "oracle")["diagnostics"]["points"]
    assert "| agent | regression n=1 | regression n=2 |" in text and "regression-mlp n=20 |" in text
    assert "| oracle † | " + " | ".join(f"{v:.3f}" for t in ("regression", "regression-mlp")
                                       for v in oracle[t]["score"]) + " |" in text
    assert out["diagnostics.png"].startswith(b"\x89PNG") and "regression n=20" in out["index.html"].decode()
