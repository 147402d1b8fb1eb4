"""The committed training campaigns (``baselines/campaigns/``) stay resumable: every run folder belongs to one of its
campaign's (recipe, seed) runs and one of the recipe's tasks, was trained with the recipe's current settings, and
holds a complete snapshot within the budget. A recipe edited after its campaign started fails here, not hours into
a resumed training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plastic_gym.baselines import campaign as campaign_mod
from plastic_gym.baselines import rl
from plastic_gym.baselines.common import select_tasks

CAMPAIGNS = Path(__file__).resolve().parents[1] / "baselines" / "campaigns"
FOLDERS = sorted(p.parent for p in CAMPAIGNS.glob("*/campaign.json"))
RUN_FOLDERS = sorted(p for f in FOLDERS for p in f.glob("*/s*/*") if p.is_dir() and p.parts[-3] != "entries")


def test_there_are_campaigns_and_every_folder_has_its_file():
    assert FOLDERS
    assert sorted(p for p in CAMPAIGNS.iterdir() if p.is_dir()) == FOLDERS


@pytest.mark.parametrize("run_dir", RUN_FOLDERS, ids=[str(p.relative_to(CAMPAIGNS)) for p in RUN_FOLDERS])
def test_run_folder_matches_its_recipe(run_dir: Path):
    campaign = campaign_mod.load_campaign(run_dir.parents[2])
    recipe_name, seed_dir, task_name = run_dir.parts[-3:]
    seed = int(seed_dir.removeprefix("s"))
    recipes = {(r.name, s): r for r, s in campaign.runs}
    assert (recipe_name, seed) in recipes, f"{run_dir} is not one of the campaign's runs"
    recipe = recipes[recipe_name, seed]
    task = {t.name: t for t in select_tasks(recipe)}[task_name]
    if recipe.kind == "rl":
        run = json.loads((run_dir / "run.json").read_text())
        assert run == {"seed": seed, "settings": rl.run_settings(recipe, task_name)}
        snapshot = json.loads((run_dir / "records.json").read_text())
        assert (run_dir / "model.zip").stat().st_size > 0
        assert 0 < snapshot["env_steps"] <= recipe.steps + recipe.train["n_envs"] * recipe.train["n_steps"]
        assert all(r["step"] <= snapshot["env_steps"] for r in snapshot["records"])
    else:
        from plastic_gym.agents.trainer import Trainer
        from plastic_gym.baselines.supervised import task_config

        config = task_config(recipe, task, seed)
        if not (run_dir / "checkpoint.pt").exists():  # stopped after pretraining its encoder, before the first step
            import torch

            assert config.pretrain and sorted(p.name for p in run_dir.iterdir()) == ["pretrain.pt"]
            assert torch.load(run_dir / "pretrain.pt", weights_only=True)
            return
        trainer = Trainer(config, None, resume=run_dir / "checkpoint.pt", progress=False)  # refuses other settings
        assert 0 < trainer.step <= config.steps
