"""The committed training campaigns (``baselines/campaigns/``) stay resumable: every run folder was trained with its
recipe's current settings, for one of the recipe's seeds and one of its suite's tasks, and holds a complete snapshot
within the budget. A recipe edited after its campaign started fails here, not hours into a resumed training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plastic_gym.baselines import recipes, rl
from plastic_gym.baselines.common import select_tasks

CAMPAIGNS = Path(__file__).resolve().parents[1] / "baselines" / "campaigns"
RUNS = sorted(p.parent for p in CAMPAIGNS.glob("*/*/s*/*/run.json"))


def test_campaign_folder_is_not_empty():
    assert RUNS, f"no run folders under {CAMPAIGNS}"


@pytest.mark.parametrize("run_dir", RUNS, ids=[str(p.relative_to(CAMPAIGNS)) for p in RUNS])
def test_run_folder_matches_its_recipe(run_dir: Path):
    recipe_name, seed_dir, task_name = run_dir.parts[-3:]
    recipe = recipes.load_recipe(recipe_name)
    seed = int(seed_dir.removeprefix("s"))
    assert seed in recipe.seeds
    assert task_name in [t.name for t in select_tasks(recipe)]
    run = json.loads((run_dir / "run.json").read_text())
    assert run == {"seed": seed, "settings": rl.run_settings(recipe, task_name)}
    snapshot = json.loads((run_dir / "records.json").read_text())
    assert (run_dir / "model.zip").stat().st_size > 0
    assert 0 < snapshot["env_steps"] <= recipe.steps + recipe.train["n_envs"] * recipe.train["n_steps"]
    assert all(r["step"] <= snapshot["env_steps"] for r in snapshot["records"])
