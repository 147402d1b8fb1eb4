"""Leaderboard: suite, reference agents and normalization, result files, submit/render round trips and rejections."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import plastic_gym
from plastic_gym.cli import main
from plastic_gym.leaderboard import scoring
from plastic_gym.leaderboard.agents import NoMemoryAgent, RandomAgent, load_agent
from plastic_gym.leaderboard.board import Board
from plastic_gym.leaderboard.evaluate import evaluate, table
from plastic_gym.leaderboard.page_html import short_text
from plastic_gym.leaderboard.page_markdown import budget_labels
from plastic_gym.leaderboard.protocol import Agent, AgentMetadata, agent_sizes
from plastic_gym.leaderboard.results import ResultError, read_json, split_agents, validate, write_json_atomic
from plastic_gym.leaderboard.submit import submit, verify
from plastic_gym.leaderboard.suite import SUITE_HASHES, content_hash, load_suite, parse_suite

EPISODES = 24


def _playable(env_id: str, kwargs: dict) -> bool:
    try:
        plastic_gym.make_task(env_id, **kwargs)
        return True
    except Exception:  # e.g. PlasticOneShot-v0 while its module is not there yet
        return False


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory) -> tuple[Path, object]:
    """Suite v0's playable tasks with EPISODES episodes each, as a suite file of its own."""
    data = copy.deepcopy(load_suite("v0").data)
    data["name"] = "v0-small"
    data["tasks"] = [dict(t, episodes=EPISODES) for t in data["tasks"] if _playable(t["env_id"], t["kwargs"])]
    path = tmp_path_factory.mktemp("suite") / "suite_small.json"
    path.write_text(json.dumps(data))
    return path, load_suite(path)


@pytest.fixture(scope="module")
def ref_doc(small_suite):
    return evaluate([load_agent(n) for n in ("random", "no-memory", "oracle")], small_suite[1], progress=False)


def _agent(doc, name):
    return next(a for a in doc["agents"] if a["metadata"]["name"] == name)


# -- suite --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SUITE_HASHES))
def test_suite_file_has_its_released_hash(name):
    suite = load_suite(name)
    assert suite.hash == SUITE_HASHES[name], "a released suite file changed: make a new version instead"
    assert suite.hash == content_hash(json.loads((Path(plastic_gym.leaderboard.__file__).parent /
                                                  f"suite_{name}.json").read_text()))


def test_suite_v0_contents():
    suite = load_suite("v0")
    ids = [(t.env_id, t.kwargs) for t in suite.tasks]
    for env_id in ("PlasticCopy-v0", "PlasticAssoc-v0", "PlasticRegression-v0", "PlasticRegressionMLP-v0"):
        assert (env_id, {}) in ids
    assert ("PlasticOneShot-v0", {"split": "test"}) in ids
    assert ("PlasticCopy-v0", {"delay": 40}) in ids and ("PlasticAssoc-v0", {"noise": 0.5}) in ids
    ranges = sorted((t.seed, t.seed + t.episodes) for t in suite.tasks)
    assert ranges[0][0] >= 10_000_000
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges)), "eval seed ranges overlap"
    assert load_suite("omniglot").tasks[0].env_id == "PlasticOmniglot-v0"


def test_suite_errors():
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        load_suite("nope")
    with pytest.raises(ValueError, match="duplicate task names"):
        parse_suite({"name": "x", "version": 0, "tasks": [
            {"name": "a", "env_id": "PlasticCopy-v0", "kwargs": {}, "episodes": 2, "seed": 0}] * 2})
    with pytest.raises(ValueError, match="lacks the field 'tasks'"):
        parse_suite({"name": "x", "version": 0})
    with pytest.raises(ValueError, match=r"tasks\[0\] \('a'\): .*episodes an int >= 2"):  # the bootstrap needs 2
        parse_suite({"name": "x", "version": 0, "tasks": [
            {"name": "a", "env_id": "PlasticCopy-v0", "kwargs": {}, "episodes": 1, "seed": 0}]})
    for bad in ({"name": "x\n", "version": 0, "tasks": []}, {"name": "x", "version": 0, "tasks": [], "extra": 1}):
        with pytest.raises(ValueError, match="suite file: "):
            parse_suite(bad)


def test_suite_subset_keeps_the_named_tasks_and_their_episodes():
    v0 = load_suite("v0")
    sub = v0.subset(["regression", "copy", "regression"])
    assert sub.name == "v0-copy_regression" and sub.task_names == ["copy", "regression"]  # the suite's order
    assert sub.tasks == (v0.task("copy"), v0.task("regression"))
    assert sub.hash != v0.hash and sub.hash == parse_suite(sub.data).hash
    with pytest.raises(ValueError, match="suite 'v0' has no task 'nope'; its tasks: \\['copy'"):
        v0.subset(["nope"])
    with pytest.raises(ValueError, match="expected at least one task name"):
        v0.subset([])


# -- agents and normalization ---------------------------------------------------------------------------------
def test_reference_agents_follow_the_protocol():
    task = plastic_gym.make_task("PlasticCopy-v0")
    for agent in (RandomAgent(task.action_space), NoMemoryAgent(task)):
        assert isinstance(agent, Agent)
    meta = load_agent("oracle").metadata
    assert meta.privileged and meta.name == "oracle"
    assert not load_agent("random").metadata.privileged
    with pytest.raises(ValueError, match="cannot interpret agent spec"):
        load_agent("nonsense")
    with pytest.raises(ValueError, match="agent name must match"):
        AgentMetadata(name="bad name/")


def test_no_memory_zero_oracle_one_random_at_most_zero(ref_doc, small_suite):
    names = small_suite[1].task_names
    for agent, target in (("no-memory", 0.0), ("oracle", 1.0)):
        scores = _agent(ref_doc, agent)["scores"]
        for t in names:
            s = scores["tasks"][t]
            assert s["normalized"] == pytest.approx(target, abs=1e-12)
            assert s["interval"][0] - 1e-12 <= target <= s["interval"][1] + 1e-12
        assert scores["iqm"]["value"] == pytest.approx(target) and scores["mean"]["value"] == pytest.approx(target)
    scores = _agent(ref_doc, "random")["scores"]
    for t in names:
        assert scores["tasks"][t]["interval"][0] <= 0.0, t
    # references played through the env equal the references computed from the task
    for task in ref_doc["tasks"]:
        assert _agent(ref_doc, "no-memory")["runs"][0][task["name"]]["primary"] == task["references"]["no_memory"]
        assert _agent(ref_doc, "oracle")["runs"][0][task["name"]]["primary"] == task["references"]["oracle"]
    assert "scipy.stats.bootstrap" in ref_doc["bootstrap"]["method"]
    assert "random" in table(ref_doc)


def test_evaluation_is_deterministic(small_suite):
    factories = lambda: [load_agent("random", seed=3)]  # noqa: E731
    a = evaluate(factories(), small_suite[1], episodes=4, seed=3, progress=False)
    b = evaluate(factories(), small_suite[1], episodes=4, seed=3, progress=False)
    assert a["agents"] == b["agents"] and a["tasks"] == b["tasks"]


def test_scores_with_several_runs():
    rng = np.random.default_rng(0)
    tasks = [{"name": f"t{i}", "references": {"no_memory": list(rng.uniform(0.9, 1.1, 30)),
                                              "oracle": list(rng.uniform(0, 0.1, 30))}} for i in range(5)]
    runs = [{t["name"]: {"primary": list(rng.uniform(0, 1, 30))} for t in tasks} for _ in range(2)]
    out = scoring.score(tasks, runs)
    x = []
    for t in tasks:
        nm, orc = np.mean(t["references"]["no_memory"]), np.mean(t["references"]["oracle"])
        per_run = [(np.mean(r[t["name"]]["primary"]) - nm) / (orc - nm) for r in runs]
        assert out["tasks"][t["name"]]["normalized"] == pytest.approx(np.mean(per_run))
        x += per_run
    from scipy.stats import trim_mean

    assert out["iqm"]["value"] == pytest.approx(trim_mean(x, 0.25))
    assert out["mean"]["value"] == pytest.approx(np.mean(x))
    lo, hi = out["iqm"]["interval"]
    assert lo < out["iqm"]["value"] < hi


def test_import_spec_agent_and_space_fallback(small_suite, tmp_path):
    module = tmp_path / "my_agent.py"
    module.write_text("import numpy as np\nfrom gymnasium import spaces\n"
                      "class A:\n"
                      "    metadata = {'name': 'half', 'state_floats': 0}\n"
                      "    observation_space = spaces.Box(-1, 1, (3,), np.float32)\n"
                      "    action_space = spaces.Box(-1, 1, (1,), np.float32)\n"
                      "    def reset(self, n): return None\n"
                      "    def act(self, obs, state, start): return np.full((len(start), 1), 0.5, np.float32), state\n"
                      "def make(): return A()\n")
    factory = load_agent(f"{module}:make")
    assert factory.metadata.name == "half" and factory.metadata.source == f"{module}:make"
    doc = evaluate([factory], small_suite[1], episodes=8, progress=False)
    run = doc["agents"][0]["runs"][0]
    assert not run["copy"]["fallback"] and not run["copy-delay40"]["fallback"]
    assert run["copy"]["means"]["recall_mse"] == pytest.approx(np.mean(
        [np.mean((s - 0.5) ** 2) for s in plastic_gym.make_task("PlasticCopy-v0").generate(
            plastic_gym.core.rng.seed_keys(10_000_000 + np.arange(8))).extras["sequence"][..., 0]]), rel=1e-5)
    for t in ("assoc", "regression"):  # other observation shapes: the no-memory fallback, normalized 0
        assert run[t]["fallback"] and doc["agents"][0]["scores"]["tasks"][t]["normalized"] == 0.0


# -- result files: round trip and rejections --------------------------------------------------------------------
def _dirs(tmp_path, suite=None):
    """The board root under ``tmp_path`` and the board of ``suite`` there (the small suite: a custom board)."""
    root = tmp_path / "boards"
    return root, (Board.for_suite(suite, root) if suite is not None else None)


def test_round_trip_evaluate_submit_render_reload(ref_doc, small_suite, tmp_path):
    path = write_json_atomic(tmp_path / "result.json", ref_doc)
    assert read_json(path) == ref_doc
    root, board = _dirs(tmp_path, small_suite[1])
    written = submit(path, root, allow_short=True, suite=small_suite[1])
    assert sorted(p.name for p in written) == ["no-memory.json", "oracle.json", "random.json"]
    assert board.name.startswith("custom-") and board.dir == root / "boards" / board.name
    assert sorted(p.name for p in board.dir.iterdir() if not p.name.startswith(".")) == [
        "LEADERBOARD.md", "index.html", "leaderboard.png", "submissions", "verified.json"]
    reloaded = board.load()[0]
    singles = {d["agents"][0]["metadata"]["name"]: d for d in split_agents(ref_doc)}
    for doc in reloaded:
        assert doc == singles[doc["agents"][0]["metadata"]["name"]]
        validate(doc, allow_short=True, suite=small_suite[1])  # a submission is itself a valid result file
    board.update()
    assert board.load()[0] == reloaded
    md = (board.dir / "LEADERBOARD.md").read_text()
    assert "| 1 | – | **no-memory** | self-reported |" in md and "oracle †" in md
    assert "Budgets" not in md  # none of the reference agents has a training budget
    page = (board.dir / "index.html").read_text()
    assert "data:image/png;base64," in page and "<table class=\"sortable\">" in page
    assert "http://" not in page and "https://" not in page  # opens without network
    assert "<th class=name>agent</th>" in page and page.count("<td class=name ") == 3
    assert "<th class=left>budget</th>" in page and page.count("<td class=left ") == 3

    # a single-agent file submits unchanged
    single_path = write_json_atomic(tmp_path / "one.json", singles["random"])
    with pytest.raises(FileExistsError, match="already on board"):
        submit(single_path, root, allow_short=True, suite=small_suite[1])
    submit(single_path, root, replace=True, allow_short=True, suite=small_suite[1])
    assert read_json(board.submissions / "random.json") == read_json(single_path)


def test_page_budget_cell_shows_the_start_of_a_long_phrase():
    budget = "outer steps of 64 episodes (unless stated) per task: copy 1000, copy-delay40 600, assoc 5000"
    shown = short_text(budget, 40)
    assert shown == "outer steps of 64 episodes (unless …" and len(shown) <= 42
    assert short_text("5000 steps x batch 64", 40) == "5000 steps x batch 64"
    assert short_text("x" * 50, 40) == "x" * 40 + " …"  # no word boundary: cut at the limit


def test_markdown_names_each_budget_once_and_lists_it_under_the_table():
    long = "outer steps of 64 episodes (unless stated) per task: copy 10000, copy-delay40 10000"
    rows = [{"meta": {"budget": b}} for b in (long, "32768 env steps per task", long, None)]
    assert budget_labels(rows) == {long: "B1", "32768 env steps per task": "B2"}
    assert budget_labels([{"meta": {"budget": ""}}]) == {}


def _edit_score(d):
    d["agents"][0]["scores"]["tasks"]["assoc"]["normalized"] += 0.01


def _edit_episode(d):
    d["agents"][0]["runs"][0]["copy"]["primary"][3] *= 0.5


def _edit_iqm_interval(d):
    d["agents"][0]["scores"]["iqm"]["interval"][1] += 0.1


def _edit_reference(d):
    d["tasks"][0]["references"]["oracle"][0] += 0.01


def _wrong_hash(d):
    d["suite"]["hash"] = "sha256:" + "0" * 64


def _missing_name(d):
    del d["agents"][0]["metadata"]["name"]


def _missing_tasks(d):
    del d["tasks"]


def _short_run(d):
    d["agents"][0]["runs"][0]["regression"]["primary"].pop()


def _wrong_seed(d):
    d["tasks"][1]["seed"] += 1


@pytest.mark.parametrize("edit, needles", [
    (_edit_score, ["agents/0/scores/tasks/assoc/normalized", "expected", "found"]),
    (_edit_episode, ["agents/0/scores/tasks/copy/score", "recomputed from the per-episode data"]),
    (_edit_iqm_interval, ["agents/0/scores/iqm/interval"]),
    (_edit_reference, ["tasks/0/references/oracle (task copy)", "first episode 0"]),
    (_wrong_hash, ["suite/hash", "expected sha256:", "found sha256:0000"]),
    (_missing_name, ["agents/0/metadata", "'name' is a required property"]),
    (_missing_tasks, ["'tasks' is a required property"]),
    (_short_run, ["agents/0/runs/0/regression/primary", f"expected {EPISODES}", f"found {EPISODES - 1}"]),
    (_wrong_seed, ["tasks/1/seed (task copy-delay40)"]),
])
def test_submit_rejects_bad_files_and_writes_nothing(ref_doc, small_suite, tmp_path, edit, needles):
    doc = split_agents(ref_doc)[0]  # random
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    root, _ = _dirs(tmp_path)
    with pytest.raises(ResultError) as err:
        submit(path, root, allow_short=True, suite=small_suite[1])
    for needle in needles:
        assert needle in str(err.value), str(err.value)
    assert not root.exists()


def test_submit_rejects_malformed_json_and_short_runs_by_default(ref_doc, small_suite, tmp_path):
    root, _ = _dirs(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "plastic-gym-result", "agents": [')
    with pytest.raises(ResultError, match="not valid JSON: .* line 1"):
        submit(bad, root, suite=small_suite[1])
    good = write_json_atomic(tmp_path / "r.json", ref_doc)
    with pytest.raises(ResultError, match=r"tasks/0/episodes \(task copy\): expected 512 .* found 24"):
        submit(good, root, suite=small_suite[1].__class__(**{**small_suite[1].__dict__, "tasks": tuple(
            t.__class__(**{**t.__dict__, "episodes": 512}) for t in small_suite[1].tasks)}))
    assert not root.exists()


# -- the command line --------------------------------------------------------------------------------------------
def test_cli_evaluate_submit_render_verify(small_suite, tmp_path, capsys):
    suite_path = str(small_suite[0])
    out = tmp_path / "nm.json"
    root, board = _dirs(tmp_path, small_suite[1])
    sub = board.submissions
    assert main(["evaluate", "--agent", "no-memory", "--suite", suite_path, "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "IQM" in text and f"wrote {out}" in text
    assert main(["evaluate", "--agent", "no-memory", "--suite", suite_path, "--out", str(out)]) == 2  # no overwrite
    assert "refusing to overwrite" in capsys.readouterr().err
    args = ["--board-dir", str(root)]
    assert main(["submit", str(out), "--suite", suite_path, "--allow-short", *args]) == 0
    assert main(["render", *args]) == 0
    assert read_json(sub / "no-memory.json") == read_json(out)
    ok, report = verify("no-memory", root, board.name, progress=False, suite=small_suite[1], announce=print)
    assert ok, report
    assert board.load()[1]["no-memory"]["versions"]["numpy"] == np.__version__  # recorded: shown as verified
    assert "| 1 | 1 | **no-memory** | verified 20" in (board.dir / "LEADERBOARD.md").read_text()
    doc = read_json(sub / "no-memory.json")
    doc["agents"][0]["runs"][0]["copy"]["primary"][0] += 0.1  # tampered per-episode data: no longer reproduced
    write_json_atomic(sub / "no-memory.json", doc, overwrite=True)
    assert board.load()[1]["no-memory"] is None  # the record was for other bytes: self-reported again
    ok, report = verify("no-memory", root, board.name, progress=False, suite=small_suite[1])
    assert not ok and "copy" in report and "MISMATCH" in report
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["submit", str(bad), *args]) == 1
    assert "rejected" in capsys.readouterr().err


def test_cli_evaluate_tasks_plays_those_tasks_on_the_same_episodes(ref_doc, small_suite, tmp_path, capsys):
    out = tmp_path / "copy.json"
    args = ["evaluate", "--agent", "no-memory", "--suite", str(small_suite[0]), "--out", str(out), "--no-progress"]
    assert main([*args, "--tasks", "copy"]) == 0
    doc = read_json(out)
    assert doc["suite"]["name"] == "v0-small-copy" and [t["name"] for t in doc["tasks"]] == ["copy"]
    assert doc["agents"][0]["runs"][0]["copy"] == _agent(ref_doc, "no-memory")["runs"][0]["copy"]
    assert main([*args, "--force", "--tasks", "nope"]) == 2
    assert "--suite/--tasks: suite 'v0-small' has no task 'nope'" in capsys.readouterr().err
    assert main(["submit", str(out), "--board-dir", str(tmp_path / "boards")]) != 0  # not a shipped suite: refused
    assert "unknown suite 'v0-small-copy'" in capsys.readouterr().err


def test_interrupted_evaluation_leaves_no_result_file(small_suite, tmp_path, capsys):
    module = tmp_path / "interrupting.py"
    module.write_text("import numpy as np\n"
                      "class A:\n"
                      "    metadata = {'name': 'interrupting'}\n"
                      "    def __init__(self): self.steps = 0\n"
                      "    def reset(self, n): return None\n"
                      "    def act(self, obs, state, start):\n"
                      "        self.steps += 1\n"
                      "        if self.steps == 70: raise KeyboardInterrupt\n"
                      "        return np.zeros((len(start), 1), np.float32), state\n"
                      "def make(): return A()\n")
    out = tmp_path / "results" / "r.json"
    out.parent.mkdir()
    code = main(["evaluate", "--agent", f"{module}:make", "--suite", str(small_suite[0]), "--out", str(out),
                 "--episodes", "4", "--no-progress"])
    assert code == 130 and "no result file written" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_atomic_write_refuses_overwrite(tmp_path):
    path = write_json_atomic(tmp_path / "x.json", {"a": 1})
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_json_atomic(path, {"a": 2})
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "y.json", {"a": float("nan")})  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    assert read_json(path) == {"a": 1}


# -- adapters ------------------------------------------------------------------------------------------------------
def test_sb3_adapter(small_suite, tmp_path):
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make("PlasticCopy-v0"), n_steps=16, batch_size=16, seed=0, device="cpu")
    model.save(tmp_path / "ppo_copy.zip")
    with pytest.raises(ValueError, match=r"does not say which Stable-Baselines3 algorithm saved it; name it: sb3:"):
        load_agent(f"sb3:{tmp_path / 'ppo_copy.zip'}")  # the algorithm is named, never guessed
    factory = load_agent(f"sb3:PPO:{tmp_path / 'ppo_copy.zip'}")
    assert factory.metadata.parameters > 0 and factory.metadata.state_floats is None  # known once a task is played
    doc = evaluate([factory], small_suite[1], episodes=4, progress=False)
    run = doc["agents"][0]["runs"][0]
    assert not run["copy"]["fallback"] and run["assoc"]["fallback"]
    assert doc["agents"][0]["metadata"]["state_floats"] == 0  # an MLP on unstacked observations carries nothing


def test_recurrent_sb3_adapter(small_suite, tmp_path):
    pytest.importorskip("sb3_contrib")
    import gymnasium as gym
    from sb3_contrib import RecurrentPPO

    from plastic_gym.leaderboard.adapters.sb3 import save_model

    model = RecurrentPPO("MlpLstmPolicy", gym.make("PlasticAssoc-v0"), n_steps=16, batch_size=16, seed=0,
                         device="cpu", policy_kwargs={"lstm_hidden_size": 8})
    save_model(model, tmp_path / "rppo_assoc.zip")  # stores the algorithm in the zip: PATH.zip loads it
    factory = load_agent(str(tmp_path / "rppo_assoc.zip"))
    assert factory.metadata.regime == "recurrentppo"
    doc = evaluate([factory], small_suite[1], episodes=4, progress=False)
    run = doc["agents"][0]["runs"][0]
    assert not run["assoc"]["fallback"] and not run["assoc-noise0.5"]["fallback"] and run["copy"]["fallback"]
    # the actor LSTM's h and c (8 each), plus one kept frame where it plays regression-mlp's 8-wide observations as
    # a stack of 2 (its own input is 16 wide): the largest over the tasks it played
    assert not run["regression-mlp"]["fallback"]
    assert doc["agents"][0]["metadata"]["state_floats"] == 16 + 8


def test_checkpoint_adapter(small_suite, tmp_path):
    agents = pytest.importorskip("plastic_gym.agents")
    if not hasattr(agents, "CheckpointAgent"):
        pytest.skip("plastic_gym.agents.CheckpointAgent is not there yet")
    from plastic_gym.agents import TrainConfig, train

    train(TrainConfig(task_id="PlasticCopy-v0", steps=2, hidden_dim=8, batch_size=4, val_every=2, val_episodes=4),
          out_dir=tmp_path / "run", progress=False)
    factory = load_agent(f"checkpoint:{tmp_path / 'run' / 'checkpoint.pt'}")
    assert factory.metadata.regime == "supervised-bptt" and factory.metadata.parameters > 0
    doc = evaluate([factory], small_suite[1], episodes=4, progress=False)
    run = doc["agents"][0]["runs"][0]
    assert not run["copy"]["fallback"] and run["assoc"]["fallback"]


def test_manifest_entry_shows_its_largest_model(small_suite, tmp_path):
    """A manifest that does not state its sizes gets the largest parameter and state-float counts of the per-task
    models it played; stated sizes are kept."""
    pytest.importorskip("torch")
    from plastic_gym.agents import CheckpointAgent, TrainConfig, train

    sizes = {}
    for name, env_id, hidden in (("copy", "PlasticCopy-v0", 8), ("assoc", "PlasticAssoc-v0", 16)):
        train(TrainConfig(task_id=env_id, steps=1, hidden_dim=hidden, batch_size=4, val_every=1, val_episodes=4),
              out_dir=tmp_path / name, progress=False)
        sizes[name] = CheckpointAgent.from_checkpoint(tmp_path / name / "checkpoint.pt").metadata
    manifest = tmp_path / "entry.json"
    tasks = {"copy": "copy/checkpoint.pt", "assoc": "assoc/checkpoint.pt"}
    manifest.write_text(json.dumps({"metadata": {"name": "entry"}, "tasks": tasks}))
    meta = evaluate([load_agent(str(manifest))], small_suite[1], episodes=4, progress=False)["agents"][0]["metadata"]
    for field in ("parameters", "state_floats"):
        assert meta[field] == max(s[field] for s in sizes.values()) > min(s[field] for s in sizes.values())
    manifest.write_text(json.dumps({"metadata": {"name": "entry", "state_floats": 7}, "tasks": tasks}))
    meta = evaluate([load_agent(str(manifest))], small_suite[1], episodes=4, progress=False)["agents"][0]["metadata"]
    assert meta["state_floats"] == 7 and meta["parameters"] == sizes["assoc"]["parameters"]


def test_agent_sizes_read_and_checked():
    class Sized:
        metadata = {"parameters": 5, "state_floats": 3}

    class Attrs:
        metadata = AgentMetadata(name="a", parameters=2)

    assert agent_sizes(Sized()) == {"parameters": 5, "state_floats": 3}
    assert agent_sizes(Attrs()) == {"parameters": 2, "state_floats": None}
    assert agent_sizes(object()) == {"parameters": None, "state_floats": None}
    meta = AgentMetadata(name="m")
    assert meta.with_sizes([agent_sizes(Sized()), agent_sizes(Attrs())]).parameters == 5
    assert meta.with_sizes([agent_sizes(Sized()), agent_sizes(Attrs())]).state_floats is None  # one did not say
    assert meta.with_sizes([]) == meta
    for bad in (-1, 2.5, True, "3"):
        Sized.metadata = {"state_floats": bad}
        with pytest.raises(ValueError, match="expected an int >= 0"):
            agent_sizes(Sized())


def test_omniglot_suite(tmp_path):
    from conftest import OMNIGLOT_DIR

    if not OMNIGLOT_DIR.exists():
        pytest.skip(f"Omniglot test subsets not found at {OMNIGLOT_DIR}")
    runtime = {"PlasticOmniglot-v0": {"root": str(OMNIGLOT_DIR)}}
    suite = load_suite("omniglot")
    doc = evaluate([load_agent("no-memory"), load_agent("oracle")], suite, episodes=8, progress=False,
                   runtime_kwargs=runtime)
    assert doc["tasks"][0]["kwargs"] == {"split": "test"}  # the data root is not recorded
    assert [a["scores"]["iqm"]["value"] for a in doc["agents"]] == [0.0, 1.0]
    validate(doc, allow_short=True, runtime_kwargs=runtime)
