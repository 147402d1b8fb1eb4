"""RL baseline recipes: every shipped recipe builds its algorithm, a tiny train -> evaluate round trip, and the
leaderboard's frame stacking of SB3 models (what a stacked model sees in evaluation is what it saw in training)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from gymnasium import spaces  # noqa: E402

from plastic_gym import make_task  # noqa: E402
from plastic_gym.baselines import entries, recipes, rl  # noqa: E402
from plastic_gym.leaderboard.agents import SB3Agent, frame_stack_factor, load_agent  # noqa: E402

RL_RECIPES = ("ppo-mlp", "ppo-framestack4", "ppo-framestack-episode", "recurrent-ppo-lstm", "plastic-ppo-hebbian",
              "plastic-ppo-gradient")
#: The recipes of suite rl-v0 (the meta-RL tasks): one shared set of PPO settings, only the policy differs.
RL_V0_RECIPES = ("rl-ppo-mlp", "rl-recurrent-ppo-lstm", "rl-plastic-ppo-hebbian", "rl-plastic-ppo-gradient")


def test_shipped_rl_recipes_share_one_budget_and_build_their_algorithm():
    shipped = {n: recipes.load_recipe(n) for n in recipes.available()}
    rl_recipes = {n: r for n, r in shipped.items() if r.kind == "rl" and r.suite == "v0"}
    assert set(rl_recipes) == set(RL_RECIPES)
    assert len({r.steps for r in rl_recipes.values()}) == 1  # one stated env-step budget
    env = rl.make_task_vec_env("PlasticAssoc-v0", {}, n_envs=2, seed=0)
    for name, r in rl_recipes.items():
        settings = {k: v for k, v in r.train_fields("assoc").items() if k not in ("steps", "n_envs")}
        model = rl.build_algorithm(settings, env, seed=0, where=name)
        assert type(model).__name__ == settings["algo"]
        assert model.gamma == 0.0


def test_rl_v0_recipes_share_one_budget_and_one_set_of_ppo_settings():
    shipped = {n: recipes.load_recipe(n) for n in recipes.available()}
    rl_v0 = {n: r for n, r in shipped.items() if r.suite == "rl-v0"}
    assert set(rl_v0) == set(RL_V0_RECIPES)
    assert {r.steps for r in rl_v0.values()} == {1_000_000}
    own = ("algo", "policy_kwargs", "bptt_steps")  # what a method is, not how PPO trains it
    shared = {json.dumps({k: v for k, v in r.train.items() if k not in own}, sort_keys=True) for r in rl_v0.values()}
    assert len(shared) == 1, shared
    env = rl.make_task_vec_env("PlasticBandit-v0", {}, n_envs=16, seed=0)  # 16 x 128 steps: the recipes' minibatch
    for name, r in rl_v0.items():
        settings = {k: v for k, v in r.train_fields("bandit-2").items() if k not in ("steps", "n_envs")}
        model = rl.build_algorithm(settings, env, seed=0, where=name)
        assert type(model).__name__ == settings["algo"] and model.gamma == 0.9


@pytest.mark.parametrize("change, match", [
    ({"algo": "DQN"}, "algo must be one of"),
    ({"n_stepz": 3}, "bad settings for PPO"),
])
def test_bad_rl_settings_are_rejected(change, match):
    env = rl.make_task_vec_env("PlasticAssoc-v0", {}, n_envs=1, seed=0)
    with pytest.raises(ValueError, match=match):
        rl.build_algorithm({"algo": "PPO", **change}, env, seed=0)


def test_frame_stack_sizes():
    copy = make_task("PlasticCopy-v0")
    assert rl.frame_stack_of({}, copy) == 1
    assert rl.frame_stack_of({"frame_stack": 4}, copy) == 4
    assert rl.frame_stack_of({"frame_stack": "episode"}, copy) == copy.episode_length == 60
    with pytest.raises(ValueError, match="frame_stack must be"):
        rl.frame_stack_of({"frame_stack": 0}, copy)


def test_frame_stack_factor_follows_sb3_stacking():
    box = spaces.Box(-1, 1, (3,))
    assert frame_stack_factor(box, box) == 1
    assert frame_stack_factor(spaces.Box(-1, 1, (12,)), box) == 4
    assert frame_stack_factor(spaces.Box(-1, 1, (13,)), box) is None
    image = spaces.Dict({"image": spaces.Box(0, 255, (1, 28, 28), np.uint8), "label": spaces.Box(0, 1, (5,))})
    stacked = spaces.Dict({"image": spaces.Box(0, 255, (3, 28, 28), np.uint8), "label": spaces.Box(0, 1, (15,))})
    assert frame_stack_factor(stacked, image) == 3
    assert frame_stack_factor(spaces.Discrete(3), box) is None


class _Recorder:
    """A stand-in SB3 model that records what it is fed."""

    def __init__(self):
        self.seen = []

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.seen.append({k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs, copy=True))
        return np.zeros((len(episode_start), 1), np.float32), state


@pytest.mark.parametrize("env_id, kwargs", [("PlasticCopy-v0", {"seq_length": 2, "delay": 1}),
                                             ("PlasticOneShot-v0", {"n_way": 2, "n_query": 2})])
def test_stacked_agent_sees_what_vec_frame_stack_shows(env_id, kwargs):
    """Over two episodes and an autoreset, the agent's stacked observations equal ``VecFrameStack``'s (a Box, and a
    Dict with a channels-first image)."""
    n_envs, k = 3, 4
    venv = rl.make_task_vec_env(env_id, kwargs, n_envs=n_envs, seed=5, frame_stack=k)
    raw = rl.make_task_vec_env(env_id, kwargs, n_envs=n_envs, seed=5)
    recorder = _Recorder()
    agent = SB3Agent(recorder, k, raw.observation_space)
    state = agent.reset(n_envs)
    stacked, obs = venv.reset(), raw.reset()
    start = np.ones(n_envs, bool)
    T = make_task(env_id, **kwargs).episode_length
    for _ in range(2 * T + 1):
        actions, state = agent.act(obs, state, start)
        seen = recorder.seen[-1]
        for key in (stacked if isinstance(stacked, dict) else [None]):
            np.testing.assert_array_equal(seen if key is None else seen[key], stacked if key is None else stacked[key])
        actions = np.zeros(n_envs, np.int64) if isinstance(raw.action_space, spaces.Discrete) else actions
        stacked, _, _, _ = venv.step(actions)
        obs, _, start, _ = raw.step(actions)
    assert start.dtype == bool


def test_stacked_agent_reports_the_kept_frames_as_state():
    """A frame-stacked SB3 agent carries its n_stack - 1 older frames between steps (plus any recurrent state)."""
    env = rl.make_task_vec_env("PlasticCopy-v0", {}, n_envs=1, seed=0)
    model = rl.build_algorithm({"algo": "PPO", "n_steps": 8, "batch_size": 8, "policy_kwargs": {"net_arch": [4]}}, env,
                           seed=0)
    frame = spaces.flatdim(make_task("PlasticCopy-v0").observation_space)
    stacked = SB3Agent(model, 3, make_task("PlasticCopy-v0").observation_space)
    assert stacked.metadata["state_floats"] == 2 * frame and stacked.metadata["parameters"] > 0
    assert SB3Agent(model).metadata["state_floats"] == 0


def test_rl_recipe_round_trip(tmp_path):
    """Train a frame-stacked PPO on one task, evaluate the manifest: the task is played by the model, its curve
    recorded; a second train refuses to overwrite it."""
    data = {"name": "tinyrl", "kind": "rl", "description": "test",
            "train": {"algo": "PPO", "frame_stack": 2, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                      "gamma": 0.0, "policy_kwargs": {"net_arch": [8]}},
            "steps": 128, "seeds": [0]}
    path = tmp_path / "tinyrl.json"
    path.write_text(json.dumps(data))
    recipe = recipes.load_recipe(path)
    manifest = entries.train_entry(recipe, 0, tasks=["assoc"], checkpoint_dir=tmp_path / "ckpt", progress=False)
    doc = json.loads(manifest.read_text())
    assert doc["tasks"] == {"assoc": "sb3:PPO:assoc.zip"} and doc["metadata"]["regime"] == "ppo"
    assert doc["metadata"]["budget"] == "128 env steps per task"
    curves = json.loads((manifest.parent / "curves.json").read_text())
    assert curves["assoc"]["records"] and curves["assoc"]["records"][-1]["step"] == 128
    assert (manifest.parent / "curves.png").stat().st_size > 1000
    with pytest.raises(FileExistsError, match="already holds"):
        entries.train_entry(recipe, 0, tasks=["assoc"], checkpoint_dir=tmp_path / "ckpt", progress=False)
    factory = load_agent(str(manifest))
    result = entries.evaluate_entry(manifest, episodes=4, result_dir=tmp_path / "results", progress=False)
    entry = json.loads(result.read_text())["agents"][0]
    runs = entry["runs"][0]
    assert not runs["assoc"].get("fallback") and runs["copy"].get("fallback")
    assert entry["metadata"]["state_floats"] == spaces.flatdim(make_task("PlasticAssoc-v0").observation_space)
    assert factory.metadata.name == "tinyrl-s0"
    # the report's tables read the result files and the recorded training times
    from plastic_gym.baselines import report

    loaded = report.load_results(tmp_path / "results")
    assert list(loaded) == ["tinyrl"] and list(loaded["tinyrl"]) == [0]
    text = report.tables(loaded, ["copy", "assoc"])
    assert "| tinyrl (0) |" in text and "*" in text.split("tinyrl (0)")[1].splitlines()[0]  # copy: fallback
    assert set(report.training_seconds(manifest.parent)) == {"assoc"}


def test_plastic_ppo_models_load_by_their_stored_algorithm(tmp_path):
    """A PlasticPPO zip saved with ``save_model`` is recognised without naming the algorithm (``PATH.zip``)."""
    from plastic_gym.agents import PlasticPPO, PlasticRecurrentPolicy
    from plastic_gym.leaderboard.adapters.sb3 import save_model

    env = rl.make_task_vec_env("PlasticAssoc-v0", {"n_cues": 2, "trial_length": 4, "stim_dim": 3}, n_envs=2, seed=0)
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=8, batch_size=8, n_epochs=1, device="cpu",
                       policy_kwargs={"hidden_dim": 8, "latent_dim": 8, "net_arch": [8]})
    save_model(model, tmp_path / "plastic.zip")  # the zip stores its algorithm
    factory = load_agent(str(tmp_path / "plastic.zip"))
    assert type(factory.model).__name__ == "PlasticPPO"
    assert factory.metadata.regime == "plasticppo"


def test_learning_curves_over_seeds(tmp_path):
    from plastic_gym.baselines import curves

    runs = [[{"step": s, "val": {"regret": v + k}} for s, v in ((0, 10.0), (100, 5.0), (200, 1.0))] for k in range(3)]
    steps, mean, band = curves.seed_band(runs, "regret")
    assert steps[0] == 0 and steps[-1] == 200
    assert np.allclose(mean, np.interp(steps, [0, 100, 200], [11.0, 6.0, 2.0]))  # seeds 10+k, 5+k, 1+k: mean k = 1
    assert np.all(band[0] <= mean) and np.all(mean <= band[1]) and np.all(band[1] - band[0] > 0)
    assert curves.seed_band(runs[:1], "regret")[2] is None
    # Two recipes' entries of suite rl-v0 in a checkpoint folder: one figure with a panel per task.
    for recipe, seeds in (("rl-ppo-mlp", [0]), ("rl-recurrent-ppo-lstm", [0, 1])):
        for seed in seeds:
            folder = tmp_path / f"{recipe}-s{seed}"
            folder.mkdir()
            records = {"bandit-2": {"records": [{"step": 2048 * i, "val": {"regret": 16.0 - i - seed}}
                                                for i in range(1, 5)]}}
            (folder / "curves.json").write_text(json.dumps(records))
    assert set(curves.load_curves("rl-v0", tmp_path)) == {"rl-ppo-mlp", "rl-recurrent-ppo-lstm"}
    out = curves.plot("rl-v0", tmp_path / "curves.png", tmp_path, episodes=8)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no trained RL entries"):
        curves.plot("rl-v0", tmp_path / "none.png", tmp_path / "empty")


def test_report_tables_one_suite_at_a_time(tmp_path):
    import shutil

    from plastic_gym.baselines import report

    for name in ("ppo-mlp-s0", "rl-ppo-mlp-s0"):
        shutil.copy(report.RESULT_DIR / f"{name}.json", tmp_path)
    assert list(report.load_results(tmp_path)) == ["ppo-mlp"]
    assert list(report.load_results(tmp_path, "rl-v0")) == ["rl-ppo-mlp"]
    assert list(report.primary_metrics(tmp_path, ["bandit-2", "copy"], "rl-v0")) == ["bandit-2"]
