"""Baseline recipes: validation, a tiny train -> evaluate -> submit round trip, and the sweep backends."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from plastic_gym.baselines import entries, recipes, supervised  # noqa: E402
from plastic_gym.baselines.sweep import sweep  # noqa: E402


def manifest_name(path) -> str:
    """The entry name a written manifest records."""
    return json.loads(Path(path).read_text())["metadata"]["name"]


def tiny_recipe(tmp_path, name="tiny"):
    data = {"name": name, "kind": "supervised", "description": "test recipe",
            "train": {"cell": "rnn", "rule": "hebbian", "hidden_dim": 8, "val_every": 2, "val_episodes": 8},
            "steps": 2, "seeds": [0, 1]}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_shipped_recipes_load_and_build_valid_train_configs():
    from plastic_gym.agents.trainer import TrainConfig

    assert {"plastic-rnn-hebbian", "plastic-rnn-gradient", "rnn", "lstm"} <= set(recipes.available())
    supervised_recipes = [recipes.load_recipe(n) for n in recipes.available()]
    v0_recipes = [r for r in supervised_recipes if r.kind == "supervised" and r.suite == "v0"]
    assert len(v0_recipes) == 4
    for r in v0_recipes:
        for task in ("copy", "assoc", "oneshot"):
            TrainConfig(task_id="PlasticAssoc-v0", **r.train_fields(task))
        assert len(r.seeds) >= 2 and r.tasks is None  # every suite task, at least 2 seeds
    omniglot = recipes.load_recipe("omniglot-plastic-rnn-gradient")
    assert omniglot.suite == "omniglot-v1" and omniglot.tasks == ("omniglot-5way", "omniglot-20way")
    assert omniglot.plays == {"omniglot-20way-alphabet": "omniglot-20way"}
    fields = omniglot.train_fields("omniglot-5way")
    assert fields.pop("task_kwargs") == {"rotations": True}
    TrainConfig(task_id="PlasticOmniglot-v0", **fields)


@pytest.mark.parametrize("change, match", [
    ({"kind": "magic"}, "kind must be one of"),
    ({"train": {"seed": 3}}, "must not set"),
    ({"steps": 0}, "steps must be a positive int"),
    ({"colour": 1}, "unknown field"),
    ({"task_overrides": {"assoc": {"seed": 1}}}, "must not set"),
    ({"task_overrides": {"assoc": {"task_kwargs": [1]}}}, "task_kwargs must be an object"),
    ({"task_overrides": {"assoc": 5}}, "must be an object"),
    ({"kind": "rl", "task_overrides": {"assoc": {"task_kwargs": {"n_pairs": 2}}}}, "for supervised recipes"),
    ({"plays": {"copy": 3}}, "plays must be an object"),
    ({"tasks": ["assoc"], "plays": {"assoc-noise0.5": "copy"}}, "needs 'copy' in tasks"),
    ({"tasks": ["assoc", "copy"], "plays": {"copy": "assoc"}}, "'copy' not in"),
])
def test_bad_recipes_are_rejected(tmp_path, change, match):
    data = {**json.loads(tiny_recipe(tmp_path).read_text()), **change}
    with pytest.raises(ValueError, match=match):
        recipes.Recipe.from_dict(data)
    with pytest.raises(ValueError, match="unknown baseline"):
        recipes.load_recipe("no-such-recipe")


def test_train_evaluate_submit_round_trip(tmp_path):
    from plastic_gym.leaderboard.submit import submit

    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    manifest = supervised.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", tasks=["assoc"],
                                       checkpoint_dir=tmp_path / "ckpt", progress=False)
    data = json.loads(manifest.read_text())
    assert data["tasks"] == {"assoc": "assoc.pt"} and data["metadata"]["name"] == "tiny-s0"
    assert (manifest.parent / "curves.png").stat().st_size > 1000
    slim = __import__("torch").load(manifest.parent / "assoc.pt", weights_only=True)
    assert "optimizer" not in slim and slim["step"] == 2
    with pytest.raises(FileExistsError, match="already holds"):
        supervised.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", tasks=["assoc"],
                                checkpoint_dir=tmp_path / "ckpt")
    result = entries.evaluate_entry(manifest, episodes=4, result_dir=tmp_path / "results", progress=False)
    doc = json.loads(result.read_text())
    runs = doc["agents"][0]["runs"][0]
    assert not runs["assoc"].get("fallback") and runs["copy"].get("fallback")  # untrained tasks fall back
    written = submit(result, tmp_path / "boards", allow_short=True)
    assert [p.name for p in written] == ["tiny-s0.json"]


def test_task_kwargs_override_changes_the_training_task_only(tmp_path):
    from plastic_gym.leaderboard.suite import load_suite

    data = json.loads(tiny_recipe(tmp_path).read_text())
    data["task_overrides"] = {"assoc": {"task_kwargs": {"noise": 0.25}}}
    recipe = recipes.Recipe.from_dict(data)
    manifest = supervised.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", tasks=["assoc"],
                                       checkpoint_dir=tmp_path / "ckpt", progress=False)
    slim = __import__("torch").load(manifest.parent / "assoc.pt", weights_only=True)
    suite_kwargs = load_suite("v0").task("assoc").kwargs
    assert slim["train"]["task_kwargs"] == {**suite_kwargs, "noise": 0.25} and "noise" not in suite_kwargs
    assert "assoc 2 (trained with noise=0.25)" in json.loads(manifest.read_text())["metadata"]["budget"]


def test_a_trained_model_plays_the_tasks_its_recipe_lends_it_to(tmp_path):
    data = {**json.loads(tiny_recipe(tmp_path).read_text()), "tasks": ["assoc"], "plays": {"assoc-noise0.5": "assoc"}}
    recipe = recipes.Recipe.from_dict(data)
    manifest = supervised.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", checkpoint_dir=tmp_path / "ckpt",
                                       progress=False)
    doc = json.loads(manifest.read_text())
    assert doc["tasks"] == {"assoc": "assoc.pt", "assoc-noise0.5": "assoc.pt"}
    assert "assoc-noise0.5 played by the assoc model" in doc["metadata"]["description"]
    result = entries.evaluate_entry(manifest, episodes=4, result_dir=tmp_path / "results", progress=False)
    runs = json.loads(result.read_text())["agents"][0]["runs"][0]
    assert not runs["assoc-noise0.5"].get("fallback") and runs["copy"].get("fallback")
    bad = recipes.Recipe.from_dict({**data, "plays": {"no-such-task": "assoc"}})
    with pytest.raises(ValueError, match="unknown task name"):
        supervised.train_recipe(bad, 0, runs_dir=tmp_path / "runs", checkpoint_dir=tmp_path / "ckpt2")


def test_unknown_task_name_is_rejected(tmp_path):
    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    with pytest.raises(ValueError, match="unknown task name"):
        supervised.train_recipe(recipe, 0, runs_dir=tmp_path, tasks=["nope"], checkpoint_dir=tmp_path)


def test_sweep_runs_seeds_in_local_processes(tmp_path):
    path = tiny_recipe(tmp_path, "tinysweep")
    kwargs = dict(tasks=["assoc"], runs_dir=str(tmp_path / "runs"), checkpoint_dir=str(tmp_path / "ckpt"),
                  progress=False, episodes=2, result_dir=str(tmp_path / "results"))
    infos = sweep(str(path), [0, 1], workers=2, **kwargs)
    assert [manifest_name(i["manifest"]) for i in infos] == ["tinysweep-s0", "tinysweep-s1"]
    with pytest.raises(ValueError, match="backend"):
        sweep(str(path), [0], backend="slurm", **kwargs)


def test_sweep_as_ray_tasks(tmp_path):
    pytest.importorskip("ray")
    path = tiny_recipe(tmp_path, "tinyray")
    infos = sweep(str(path), [0, 1], workers=2, backend="ray", tasks=["assoc"], runs_dir=str(tmp_path / "runs"),
                  checkpoint_dir=str(tmp_path / "ckpt"), progress=False, episodes=2,
                  result_dir=str(tmp_path / "results"))
    assert sorted(manifest_name(i["manifest"]) for i in infos) == ["tinyray-s0", "tinyray-s1"]


@pytest.fixture
def ray_cluster():
    """A one-CPU Ray cluster started with ``ray start --head --block`` in its own process group, stopped after the
    test (always) by signalling that group: only the processes this fixture started."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths have a length limit
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--num-cpus", "1",
           "--port", str(port), "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp_dir]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}  # a throwaway local cluster: no token authentication
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:  # the head is up once its GCS port accepts connections
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail("ray start --head exited early")
            time.sleep(0.5)
        yield address
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left (raylet, GCS, workers)
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_sweep_on_a_running_ray_cluster(tmp_path, ray_cluster, monkeypatch):
    """``ray_address`` (and ``RAY_ADDRESS``) connect to a running cluster instead of starting one with num_cpus
    (which Ray refuses when connecting); the seeds run there and the driver disconnects after."""
    import ray

    path = tiny_recipe(tmp_path, "tinycluster")
    kwargs = dict(tasks=["assoc"], runs_dir=str(tmp_path / "runs"), checkpoint_dir=str(tmp_path / "ckpt"),
                  progress=False, episodes=2, result_dir=str(tmp_path / "results"))
    infos = sweep(str(path), [0], workers=4, backend="ray", ray_address=ray_cluster, **kwargs)
    assert manifest_name(infos[0]["manifest"]) == "tinycluster-s0"
    assert not ray.is_initialized()
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)  # the same through the environment (the CLI's default)
    infos = sweep(str(path), [1], workers=4, backend="ray", **kwargs)
    assert manifest_name(infos[0]["manifest"]) == "tinycluster-s1"
    with pytest.raises(ValueError, match="backend='ray'"):
        sweep(str(path), [0], ray_address=ray_cluster, **kwargs)


def test_entries_are_written_to_the_checkout_or_else_the_user_data_folder(monkeypatch, tmp_path):
    """In a source checkout ``baseline train`` updates the committed baselines; an installed package writes its
    entries and result files under ``$PLASTIC_GYM_HOME/baselines``, never into site-packages."""
    from plastic_gym.baselines import common
    from plastic_gym.leaderboard import board

    monkeypatch.setenv("PLASTIC_GYM_HOME", str(tmp_path / "home"))
    assert common.default_checkpoint_dir() == common.CHECKPOINT_DIR
    assert common.default_result_dir() == common.RESULT_DIR
    installed = tmp_path / "site-packages" / "plastic_gym" / "leaderboard"
    installed.mkdir(parents=True)
    monkeypatch.setattr(board, "PACKAGE_DIR", installed)
    assert common.default_checkpoint_dir() == tmp_path / "home" / "baselines" / "checkpoints"
    assert common.default_result_dir() == tmp_path / "home" / "baselines" / "results"
    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    manifest = supervised.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", tasks=["assoc"], progress=False)
    assert manifest == tmp_path / "home" / "baselines" / "checkpoints" / "tiny-s0" / "manifest.json"
    result = entries.evaluate_entry(manifest, episodes=4, progress=False)
    assert result == tmp_path / "home" / "baselines" / "results" / "tiny-s0.json"


def test_budget_line_names_pretraining_and_each_weight_decay():
    recipe = recipes.Recipe.from_dict({"name": "r", "kind": "supervised", "train": {"hidden_dim": 128}, "steps": 1})
    pre = {"steps": 3000, "batch_size": 128, "source": "glyphs", "n_classes": 1000, "freeze": True}
    train = {"loss": "all", "hidden_dim": 128, "batch_size": 32, "encoder_channels": 32, "pretrain": pre}
    assert supervised._departures(recipe, train) == (
        " (loss on all steps) (batch 32) (conv width 32) (encoder pretrained 3000 steps x 128 as a classifier of "
        "1000 glyph classes, frozen)")
    assert supervised._departures(recipe, {"loss": "scored", "hidden_dim": 64}) == " (hidden 64)"
    omniglot = {**pre, "source": "omniglot", "steps": 2000, "normalize": True}
    assert supervised._departures(recipe, {**train, "pretrain": omniglot}, {"rotations": True}) == (
        " (loss on all steps) (batch 32) (conv width 32) (encoder pretrained 2000 steps x 128 as a classifier of "
        "omniglot classes, frozen, features on the sphere) (trained with rotations=True)")
    by_task = {"copy": {"train": {"weight_decay": 0.01}}, "assoc": {"train": {"weight_decay": 0.01}},
               "oneshot": {"train": {"weight_decay": 0.0}}}
    assert supervised._weight_decays(by_task) == "AdamW weight decay 0.01 (copy, assoc), 0 (oneshot)"
    assert supervised._weight_decays({"copy": by_task["copy"]}) == "AdamW weight decay 0.01"
    assert supervised._weight_decays({"oneshot": by_task["oneshot"]}) == ""


def test_baseline_list_aligns_its_columns(capsys):
    from plastic_gym.cli import main

    assert main(["baseline", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == recipes.available()
    # the kind column starts at the same place on every row, however long the longest recipe name
    starts = {line.index(" supervised ") if " supervised " in line else line.index(" rl ") for line in lines}
    assert len(starts) == 1
