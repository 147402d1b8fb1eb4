"""Resumable RL baseline runs (``baselines/rl.py``): snapshots, continuing to a larger budget, refusing to mix
settings, and ``force`` starting over."""

from __future__ import annotations

import json

import pytest

from plastic_gym.baselines import recipes, rl

TINY = {"name": "tinyrl", "kind": "rl", "description": "test",
        "train": {"algo": "PPO", "n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1, "gamma": 0.0,
                  "policy_kwargs": {"net_arch": [8]}},
        "steps": 64, "seeds": [0]}


def _recipe(tmp_path, **train):
    path = tmp_path / "tinyrl.json"
    path.write_text(json.dumps({**TINY, "train": {**TINY["train"], **train}}))
    return recipes.load_recipe(path)


def _train(recipe, tmp_path, entries: str, **kwargs):
    manifest = rl.train_recipe(recipe, 0, runs_dir=tmp_path / "runs", tasks=["assoc"],
                               checkpoint_dir=tmp_path / entries, progress=False, snapshot_every=32, **kwargs)
    return json.loads((manifest.parent / "curves.json").read_text())["assoc"]


def test_run_continues_from_its_snapshot(tmp_path):
    recipe = _recipe(tmp_path)
    first = _train(recipe, tmp_path, "a", steps=64)
    run_dir = tmp_path / "runs" / "tinyrl" / "s0" / "assoc"
    snapshot = json.loads((run_dir / "records.json").read_text())
    assert snapshot["env_steps"] == first["env_steps"] == 64 and snapshot["records"] == first["records"]
    assert json.loads((run_dir / "run.json").read_text())["settings"]["algo"] == "PPO"

    longer = _train(recipe, tmp_path, "b", steps=128)
    assert longer["env_steps"] == 128
    steps = [r["step"] for r in longer["records"]]
    assert steps == sorted(set(steps)) and steps[-1] == 128
    assert longer["records"][: len(first["records"])] == first["records"]  # the first 64 steps were not replayed
    assert longer["train_seconds"] >= first["train_seconds"]

    # Nothing left to do at a budget already reached: the model is written again, unchanged in steps.
    again = _train(recipe, tmp_path, "c", steps=128)
    assert again["env_steps"] == 128 and again["records"] == longer["records"]


def test_snapshot_of_other_settings_is_refused_and_force_starts_over(tmp_path):
    first = _train(_recipe(tmp_path), tmp_path, "a", steps=64)
    other = _recipe(tmp_path, learning_rate=0.01)
    with pytest.raises(ValueError, match="other settings"):
        _train(other, tmp_path, "b", steps=128)
    fresh = _train(other, tmp_path, "b", steps=64, force=True)
    assert fresh["env_steps"] == 64 and [r["step"] for r in fresh["records"]] == [r["step"] for r in first["records"]]
    assert fresh["records"] != first["records"]  # trained anew, with the other learning rate
    run = json.loads((tmp_path / "runs" / "tinyrl" / "s0" / "assoc" / "run.json").read_text())
    assert run["settings"]["learning_rate"] == 0.01


def test_cli_trains_into_other_folders():
    """``plastic-gym baseline train/sweep --checkpoint-dir --result-dir`` reach the trainer (a longer budget can be
    trained beside the committed entries, resuming from ``--runs-dir``)."""
    from plastic_gym.baselines.cli import _train_kwargs
    from plastic_gym.cli import build_parser

    for action in ("train", "sweep"):
        args = build_parser().parse_args(["baseline", action, "rl-ppo-mlp", "--runs-dir", "r", "--checkpoint-dir", "c",
                                          "--result-dir", "o"])
        kwargs = _train_kwargs(args)
        assert (kwargs["runs_dir"], kwargs["checkpoint_dir"], kwargs["result_dir"]) == ("r", "c", "o")
    plain = _train_kwargs(build_parser().parse_args(["baseline", "train", "rl-ppo-mlp"]))
    assert "checkpoint_dir" not in plain and "result_dir" not in plain  # the package's folders
