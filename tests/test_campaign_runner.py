"""``plastic-gym baseline campaign`` (``baselines/campaign.py``): a campaign folder's runs are trained into its run
folders, complete entries are left alone, and on a fresh clone (run folders only) the entries are rebuilt from the
run folders without training again."""

from __future__ import annotations

import json

import pytest

from plastic_gym.baselines import campaign as campaign_mod
from plastic_gym.baselines import entries
from plastic_gym.cli import main

TINY = {"name": "tinyrl", "kind": "rl", "description": "test",
        "train": {"algo": "PPO", "n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1, "gamma": 0.0,
                  "policy_kwargs": {"net_arch": [8]}},
        "steps": 64, "seeds": [0, 1], "tasks": ["assoc"]}


def _written_result(manifest, result_dir):
    """What a fake evaluation leaves: a result file in which the entry plays every task it holds."""
    tasks = json.loads(manifest.read_text())["tasks"]
    path = result_dir / f"{manifest.parent.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"agents": [{"runs": [{t: {"fallback": False} for t in tasks}]}]}))
    return path


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A campaign of the tiny recipe's two seeds; evaluation replaced by a record of the calls."""
    recipe = tmp_path / "tinyrl.json"
    recipe.write_text(json.dumps(TINY))
    folder = tmp_path / "campaign"
    folder.mkdir()
    runs = [[str(recipe), 1], [str(recipe), 0]]
    (folder / "campaign.json").write_text(json.dumps({"description": "t", "runs": runs}))
    calls = []

    def fake_evaluate(manifest, suite_name, result_dir, force, progress):
        calls.append((manifest.parent.name, force))
        return _written_result(manifest, result_dir)

    monkeypatch.setattr(entries, "evaluate_entry", fake_evaluate)
    return folder, calls


def _records(folder, seed):
    return json.loads((folder / "tinyrl" / f"s{seed}" / "assoc" / "records.json").read_text())


def test_campaign_trains_each_run_in_order_then_has_nothing_left(folder):
    folder, calls = folder
    campaign = campaign_mod.load_campaign(folder)
    assert [(r.name, s) for r, s in campaign.runs] == [("tinyrl", 1), ("tinyrl", 0)]
    assert campaign_mod.missing_tasks(campaign, *campaign.runs[0]) == ["assoc"]
    done = campaign_mod.run_campaign(campaign)
    assert [d["entry"] for d in done] == ["tinyrl-s1", "tinyrl-s0"]
    assert calls == [("tinyrl-s1", True), ("tinyrl-s0", True)]
    for seed in (0, 1):
        assert _records(folder, seed)["env_steps"] == 64
        assert (folder / "entries" / f"tinyrl-s{seed}" / "assoc.zip").is_file()
    assert campaign_mod.run_campaign(campaign) == []
    assert len(calls) == 2


def test_fresh_clone_rebuilds_the_entries_from_the_run_folders_without_training(folder, monkeypatch):
    folder, _ = folder
    campaign = campaign_mod.load_campaign(folder)
    campaign_mod.run_campaign(campaign)
    before = _records(folder, 0)
    curves_before = json.loads((folder / "entries" / "tinyrl-s0" / "curves.json").read_text())["assoc"]
    for path in sorted((folder / "entries").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()

    def no_learning(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    from stable_baselines3 import PPO

    monkeypatch.setattr(PPO, "learn", no_learning)
    assert [d["entry"] for d in campaign_mod.run_campaign(campaign)] == ["tinyrl-s1", "tinyrl-s0"]
    assert _records(folder, 0) == before
    curves = json.loads((folder / "entries" / "tinyrl-s0" / "curves.json").read_text())["assoc"]
    assert curves["records"] == curves_before["records"] and curves["env_steps"] == 64


@pytest.mark.parametrize("runs, message", [
    ([], "non-empty list of [recipe, seed] pairs"),
    ([["rl-ppo-mlp", 5]], "not one of the recipe's seeds [0]"),
    ([["rl-ppo-mlp", 0], ["rl-ppo-mlp", 0]], "listed twice"),
    ([["no-such-recipe", 0]], "unknown baseline 'no-such-recipe'"),
])
def test_bad_campaign_files_are_refused(tmp_path, runs, message):
    (tmp_path / "campaign.json").write_text(json.dumps({"runs": runs}))
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        campaign_mod.load_campaign(tmp_path)


def test_a_relative_recipe_path_is_read_from_the_campaign_folder(tmp_path, monkeypatch):
    folder = tmp_path / "campaign"
    (folder / "recipes").mkdir(parents=True)
    (folder / "recipes" / "tinyrl.json").write_text(json.dumps(TINY))
    (folder / "campaign.json").write_text(json.dumps({"runs": [["recipes/tinyrl.json", 1]]}))
    monkeypatch.chdir(tmp_path)  # not the campaign folder: the path is the folder's, not the working directory's
    campaign = campaign_mod.load_campaign(folder)
    assert [(r.name, s) for r, s in campaign.runs] == [("tinyrl", 1)]
    assert campaign.runs[0][0].path == folder / "recipes" / "tinyrl.json"
    (folder / "campaign.json").write_text(json.dumps({"runs": [["recipes/missing.json", 0]]}))
    with pytest.raises(ValueError, match="missing.json"):
        campaign_mod.load_campaign(folder)


def test_cli_refuses_a_folder_without_a_campaign(tmp_path, capsys):
    assert main(["baseline", "campaign", str(tmp_path)]) == 2
    assert "no campaign.json" in capsys.readouterr().err
    assert main(["baseline", "campaign", str(tmp_path), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_committed_campaigns_load():
    from pathlib import Path

    folders = sorted((Path(__file__).resolve().parents[1] / "baselines" / "campaigns").glob("*/campaign.json"))
    assert folders
    for path in folders:
        campaign = campaign_mod.load_campaign(path.parent)
        assert campaign.runs and campaign.description


def test_a_failed_run_is_reported_and_the_others_go_on(folder, monkeypatch, capsys):
    folder, calls = folder
    real = entries.train_entry

    def train_entry(recipe, seed, **kwargs):
        if seed == 1:
            raise RuntimeError("disk full")
        return real(recipe, seed, **kwargs)

    monkeypatch.setattr(entries, "train_entry", train_entry)
    done = campaign_mod.run_campaign(campaign_mod.load_campaign(folder))
    assert done[0] == {"entry": "tinyrl-s1", "task": "assoc", "error": "RuntimeError: disk full"}
    assert done[1]["entry"] == "tinyrl-s0" and "error" not in done[1]
    assert calls == [("tinyrl-s0", True)]
    assert "tinyrl-s1 assoc failed: RuntimeError: disk full" in capsys.readouterr().out
    assert main(["baseline", "campaign", str(folder)]) == 1


def test_workers_run_the_entries_in_parallel_processes(folder):
    folder, _ = folder
    done = campaign_mod.run_campaign(campaign_mod.load_campaign(folder), workers=2)
    assert sorted(d["entry"] for d in done) == ["tinyrl-s0", "tinyrl-s1"]
    assert not any("error" in d for d in done)
    for seed in (0, 1):
        assert _records(folder, seed)["env_steps"] == 64
        assert (folder / "entries" / f"tinyrl-s{seed}" / "assoc.zip").is_file()


def _two_task_campaign(tmp_path, **fields):
    tmp_path.mkdir(parents=True, exist_ok=True)
    recipe = tmp_path / "tinyrl.json"
    recipe.write_text(json.dumps({**TINY, "tasks": ["copy", "assoc"]}))
    folder = tmp_path / "campaign"
    folder.mkdir()
    runs = [[str(recipe), 0], [str(recipe), 1]]
    (folder / "campaign.json").write_text(json.dumps({"description": "t", "runs": runs, **fields}))
    return campaign_mod.load_campaign(folder)


def _units(campaign):
    return [(u.seed, u.task) for u in campaign_mod.pending_units(campaign)]


def test_units_run_by_run_without_task_order_and_task_by_task_with_it(tmp_path):
    assert _units(_two_task_campaign(tmp_path)) == [(0, "copy"), (0, "assoc"), (1, "copy"), (1, "assoc")]
    ordered = _two_task_campaign(tmp_path / "b", task_order=["assoc"])
    assert ordered.task_order == ("assoc",)
    assert _units(ordered) == [(0, "assoc"), (0, "copy"), (1, "assoc"), (1, "copy")]
    together = _two_task_campaign(tmp_path / "c", task_order=["assoc"], seeds_together=True)
    assert _units(together) == [(0, "assoc"), (1, "assoc"), (0, "copy"), (1, "copy")]


def test_runs_already_at_their_budget_come_first_whatever_the_order(tmp_path):
    campaign = _two_task_campaign(tmp_path, task_order=["assoc"])
    for seed, task, steps in [(1, "copy", 64), (0, "copy", 32)]:  # one finished run folder, one half-way
        run = campaign.folder / "tinyrl" / f"s{seed}" / task
        run.mkdir(parents=True)
        (run / "records.json").write_text(json.dumps({"env_steps": steps, "train_seconds": 1.0, "records": []}))
    assert _units(campaign) == [(1, "copy"), (0, "assoc"), (0, "copy"), (1, "assoc")]


def test_paper_campaign_trains_seed_0_of_every_task_first_with_every_recipe_on_a_task_together():
    from pathlib import Path

    campaign = campaign_mod.load_campaign(Path(__file__).resolve().parents[1] / "baselines/campaigns/paper-v0")
    pending = campaign_mod.pending_units(campaign)
    finished = [campaign_mod._finished(campaign, u) for u in pending]
    assert finished == sorted(finished, reverse=True)  # the runs already at their budget first (only copied)
    units = [(u.seed, u.task, u.recipe.name) for u, done in zip(pending, finished, strict=True) if not done]
    assert not campaign.seeds_together
    assert units == sorted(units, key=lambda u: (u[0], campaign.task_order.index(u[1])))


@pytest.mark.parametrize("order, message", [
    ([], "non-empty list of distinct task names"),
    (["copy", "copy"], "non-empty list of distinct task names"),
    (["oneshot"], r"unknown task name\(s\) \['oneshot'\]; expected some of \['assoc', 'copy'\]"),
])
def test_bad_task_orders_are_refused(tmp_path, order, message):
    with pytest.raises(ValueError, match=message):
        _two_task_campaign(tmp_path, task_order=order)


@pytest.mark.parametrize("fields, message", [
    ({"task_order": ["copy"], "seeds_together": "yes"}, "seeds_together must be true or false, got 'yes'"),
    ({"seeds_together": True}, "seeds_together needs a task_order"),
])
def test_bad_seeds_together_is_refused(tmp_path, fields, message):
    with pytest.raises(ValueError, match=message):
        _two_task_campaign(tmp_path, **fields)


def test_two_workers_train_the_tasks_of_one_entry_at_once_and_evaluate_it_with_both(tmp_path, monkeypatch):
    import time

    from plastic_gym.baselines import rl

    real = rl.train_recipe

    def slow_train(recipe, seed, **kwargs):  # both tasks of seed 0 overlap in time
        time.sleep(1.0)
        return real(recipe, seed, **kwargs)

    monkeypatch.setattr(rl, "train_recipe", slow_train)
    log = tmp_path / "evaluations.txt"

    def fake_evaluate(manifest, suite_name, result_dir, force, progress):  # runs in a worker: leaves a trace
        with log.open("a") as f:
            f.write(f"{manifest.parent.name} {sorted(json.loads(manifest.read_text())['tasks'])}\n")
        return _written_result(manifest, result_dir)

    monkeypatch.setattr(entries, "evaluate_entry", fake_evaluate)
    campaign = _two_task_campaign(tmp_path)
    campaign = campaign_mod.Campaign(campaign.folder, campaign.description, campaign.runs[:1])
    done = campaign_mod.run_campaign(campaign, workers=2)
    assert [d["entry"] for d in done] == ["tinyrl-s0"] * len(done) and not any("error" in d for d in done)
    entry = campaign.entries / "tinyrl-s0"
    manifest = json.loads((entry / "manifest.json").read_text())
    assert sorted(manifest["tasks"]) == ["assoc", "copy"]
    assert sorted(json.loads((entry / "curves.json").read_text())) == ["assoc", "copy"]
    evaluations = log.read_text().splitlines()  # one after each task, or one for both if the second landed first
    assert evaluations[-1] == "tinyrl-s0 ['assoc', 'copy']" and 1 <= len(evaluations) == len(done) <= 2


def test_an_entry_is_evaluated_after_every_task_it_gains(tmp_path, monkeypatch):
    log = []

    def fake_evaluate(manifest, suite_name, result_dir, force, progress):
        log.append(sorted(json.loads(manifest.read_text())["tasks"]))
        return _written_result(manifest, result_dir)

    monkeypatch.setattr(entries, "evaluate_entry", fake_evaluate)
    campaign = _two_task_campaign(tmp_path)
    campaign = campaign_mod.Campaign(campaign.folder, campaign.description, campaign.runs[:1])
    done = campaign_mod.run_campaign(campaign)
    assert log == [["copy"], ["assoc", "copy"]] and [d["entry"] for d in done] == ["tinyrl-s0"] * 2


def test_a_fresh_clone_evaluates_each_entry_once_after_copying_its_finished_runs(tmp_path, monkeypatch):
    log = []

    def fake_evaluate(manifest, suite_name, result_dir, force, progress):
        log.append((manifest.parent.name, sorted(json.loads(manifest.read_text())["tasks"])))
        return _written_result(manifest, result_dir)

    monkeypatch.setattr(entries, "evaluate_entry", fake_evaluate)
    campaign = _two_task_campaign(tmp_path)
    campaign_mod.run_campaign(campaign)
    assert len(log) == 4  # trained: one evaluation after each task
    for path in sorted(campaign.entries.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    log.clear()
    campaign_mod.run_campaign(campaign)
    assert log == [("tinyrl-s0", ["assoc", "copy"]), ("tinyrl-s1", ["assoc", "copy"])]


def test_an_entry_whose_result_file_is_behind_its_models_is_evaluated_again_without_training(tmp_path, monkeypatch):
    log = []

    def fake_evaluate(manifest, suite_name, result_dir, force, progress):
        log.append(manifest.parent.name)
        return _written_result(manifest, result_dir)

    monkeypatch.setattr(entries, "evaluate_entry", fake_evaluate)
    campaign = _two_task_campaign(tmp_path)
    campaign_mod.run_campaign(campaign)
    assert campaign_mod.stale_results(campaign) == []
    log.clear()
    assert campaign_mod.run_campaign(campaign) == [] and log == []
    stopped = campaign.results / "tinyrl-s0.json"  # evaluated before its second task landed, then stopped
    stopped.write_text(json.dumps({"agents": [{"runs": [{"copy": {"fallback": False}, "assoc": {"fallback": True}}]}]}))
    (campaign.results / "tinyrl-s1.json").unlink()
    assert [u.entry for u in campaign_mod.stale_results(campaign)] == ["tinyrl-s0", "tinyrl-s1"]
    from stable_baselines3 import PPO

    monkeypatch.setattr(PPO, "learn", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert [d["entry"] for d in campaign_mod.run_campaign(campaign)] == ["tinyrl-s0", "tinyrl-s1"]
    assert log == ["tinyrl-s0", "tinyrl-s1"] and campaign_mod.stale_results(campaign) == []
