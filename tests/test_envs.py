"""The env and vector-env views of every registered id: gymnasium conformance, seeding parity, errors."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import EMBEDDED_IDS, VECTOR_IDS, env_kwargs
from gymnasium.utils.env_checker import check_env

import plastic_gym
from plastic_gym.tasks.assoc import PlasticAssocEnv, PlasticAssocVectorEnv


def random_actions(space: gym.Space, n: int, rng: np.random.Generator) -> np.ndarray:
    """A batch of valid actions drawn from a numpy generator (deterministic, unlike space.sample)."""
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=n)
    return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(np.float32)


def assert_equal_tree(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_equal_tree(a[k], b[k])
    else:
        np.testing.assert_array_equal(a, b)


def test_import_does_not_import_torch():
    code = "import sys, plastic_gym; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_namespaced_id_works_without_import():
    code = ("import gymnasium as gym, sys; assert 'plastic_gym' not in sys.modules;"
            "env = gym.make('plastic_gym:PlasticAssoc-v0'); obs, _ = env.reset(seed=0); assert obs.shape == (16,)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_namespaced_id_in_subprocess_vector_env():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make("plastic_gym:PlasticCopy-v0", seq_length=2, delay=1)] * 2)
    try:
        obs, _ = envs.reset(seed=3)
        assert obs.shape == (2, 3)
    finally:
        envs.close()


def test_check_env_passes_for_every_id_and_render_mode(env_id):
    kwargs = env_kwargs(env_id)
    modes = gym.spec(env_id).entry_point
    env_cls = gym.envs.registration.load_env_creator(modes)
    for mode in [None, *env_cls.metadata["render_modes"]]:
        env = gym.make(env_id, render_mode=mode, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*symmetric and normalized space.*")
            check_env(env.unwrapped)
        if mode is not None:
            env.reset(seed=0)
            env.step(env.action_space.sample())
            frame = env.render()
            assert isinstance(frame, str) if mode == "ansi" else frame.dtype == np.uint8 and frame.ndim == 3
        env.close()


@pytest.mark.parametrize("seed", [0, 12345])
def test_vector_env_matches_sync_vector_env(env_id, seed):
    """Env i of the native vector env reset with seed s plays gym.make(id).reset(seed=s + i), over several episodes."""
    kwargs, n = env_kwargs(env_id), 3
    native = gym.make_vec(env_id, num_envs=n, **kwargs)
    assert isinstance(native.unwrapped, plastic_gym.envs.PlasticVectorEnv)
    sync = gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)])
    assert_equal_tree(native.reset(seed=seed)[0], sync.reset(seed=seed)[0])
    rng = np.random.default_rng(seed)
    steps = 2 * native.unwrapped.task.episode_length + 3  # crosses two autoresets
    for _ in range(steps):
        actions = random_actions(native.single_action_space, n, rng)
        got, want = native.step(actions), sync.step(actions)
        for a, b in zip(got[:4], want[:4], strict=True):
            assert_equal_tree(a, b)
        assert got[2].dtype == bool


def test_same_seed_same_episode_different_seed_different(env_id):
    kwargs = env_kwargs(env_id)
    env = gym.make(env_id, **kwargs)
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    c, _ = env.reset(seed=6)
    assert_equal_tree(a, b)
    flat = lambda o: np.concatenate([np.ravel(v) for v in o.values()]) if isinstance(o, dict) else o  # noqa: E731
    ep5 = env.unwrapped.task.generate(plastic_gym.core.rng.seed_keys([5, 6]))
    assert not np.array_equal(ep5.target[0], ep5.target[1]) or not np.array_equal(flat(a), flat(c))


def test_sample_rows_equal_single_generation(env_id):
    task = plastic_gym.make_task(env_id, **env_kwargs(env_id))
    batch = task.sample(4, 7)
    one = task.generate(batch.keys[2:3])
    assert_equal_tree(batch[2].obs, one.obs)
    np.testing.assert_array_equal(batch[2].target, one.target)
    assert_equal_tree(task.sample(4, 7).obs, batch.obs)
    assert batch.scored.dtype == bool and batch.scored.shape == (4, task.episode_length)
    assert batch.target.shape == (4, task.episode_length, task.target_dim)


def test_step_contract(env_id):
    """Info keys on every step, metrics at the end, Python bools, zero observation after the last step."""
    env = gym.make(env_id, **env_kwargs(env_id))
    obs, info = env.reset(seed=1)
    task = env.unwrapped.task
    rng = np.random.default_rng(0)
    total, scored = 0.0, 0
    for t in range(task.episode_length):
        assert obs in env.observation_space
        obs, reward, terminated, truncated, info = env.step(random_actions(env.action_space, 1, rng)[0])
        assert {"target", "scored", "phase"} <= info.keys()
        assert type(terminated) is bool and type(truncated) is bool and type(info["scored"]) is bool
        assert info["phase"] in plastic_gym.PHASE_NAMES
        assert terminated == (t == task.episode_length - 1) and not truncated
        if not info["scored"]:
            assert reward == 0.0
        total, scored = total + reward, scored + info["scored"]
    assert type(info["is_success"]) is bool
    metric = info["episode_metrics"][task.primary_metric]
    expected = total / scored if task.higher_is_better else -total / scored
    assert metric == pytest.approx(expected)
    flat = obs.values() if isinstance(obs, dict) else [obs]
    assert all(not np.any(v) for v in flat)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(env.action_space.sample())


def test_step_before_reset_is_an_error():
    env = gym.make("PlasticAssoc-v0").unwrapped
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.zeros(1, np.float32))


@pytest.mark.parametrize("env_id", VECTOR_IDS)
@pytest.mark.parametrize("bad, match", [
    (np.zeros(3, np.float32), "shape"),
    (np.array([np.nan], np.float32), "finite"),
    (np.array(["a"]), "real numbers"),
])
def test_bad_actions_raise(env_id, bad, match):
    env = gym.make(env_id, disable_env_checker=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(bad)


def test_bad_vector_actions_raise():
    envs = gym.make_vec("PlasticAssoc-v0", num_envs=4)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4, 1\)"):
        envs.step(np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="finite"):
        envs.step(np.full((4, 1), np.inf, np.float32))


@pytest.mark.parametrize("env_id, kwargs, match", [
    ("PlasticCopy-v0", {"seq_length": 0}, "seq_length"),
    ("PlasticCopy-v0", {"delay": -1}, "delay"),
    ("PlasticCopy-v0", {"dim": 1.5}, "dim"),
    ("PlasticCopy-v0", {"colour": 3}, "unknown kwarg"),
    ("PlasticAssoc-v0", {"noise": -0.1}, "noise"),
    ("PlasticAssoc-v0", {"noise": float("nan")}, "noise"),
    ("PlasticAssoc-v0", {"trial_length": 1}, "trial_length"),
    ("PlasticAssoc-v0", {"n_cues": True}, "n_cues"),
    ("PlasticRegression-v0", {"mode": "cubic"}, "mode"),
    ("PlasticRegression-v0", {"train_length": 0}, "train_length"),
])
def test_bad_kwargs_raise(env_id, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make(env_id, **kwargs)
    with pytest.raises(ValueError, match=match):
        gym.make_vec(env_id, num_envs=2, **kwargs)
    with pytest.raises(ValueError, match=match):
        plastic_gym.make_task(env_id, **kwargs)


def test_bad_vector_env_arguments():
    with pytest.raises(ValueError, match="num_envs"):
        PlasticAssocVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        gym.make_vec("PlasticAssoc-v0", num_envs=2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="render_mode"):  # (gym.make would wrap rgb_array in HumanRendering)
        PlasticAssocEnv(render_mode="human")
    with pytest.raises(ValueError, match="render_mode"):
        PlasticAssocVectorEnv(num_envs=2, render_mode="human")
    with pytest.raises(ValueError, match="not a plastic-gym task"):
        plastic_gym.make_task("CartPole-v1")
    with pytest.raises(ValueError, match="unknown env id"):
        plastic_gym.make_task("Nope-v0")
    with pytest.raises(ValueError, match="batch_size"):
        plastic_gym.make_task("PlasticAssoc-v0").sample(0)


def test_next_step_autoreset_semantics():
    envs = gym.make_vec("PlasticCopy-v0", num_envs=2, seq_length=2, delay=0)
    first, _ = envs.reset(seed=0)
    for _ in range(4):
        obs, rew, term, trunc, info = envs.step(np.zeros((2, 1), np.float32))
    assert term.all() and "episode_metrics" in info and info["_episode_metrics"].all()
    assert not np.any(obs)
    obs, rew, term, trunc, info = envs.step(np.full((2, 1), 0.5, np.float32))  # the reset step ignores actions
    assert not term.any() and not rew.any() and obs[:, 1].all()  # study flag of the new episode's u_0
    assert not np.array_equal(obs, first)


def test_same_step_autoreset_semantics():
    envs = gym.make_vec("PlasticCopy-v0", num_envs=2, seq_length=2, delay=0, autoreset_mode="same_step")
    envs.reset(seed=0)
    for _ in range(4):
        obs, rew, term, trunc, info = envs.step(np.zeros((2, 1), np.float32))
    assert term.all() and obs[:, 1].all()  # already the next episode's first observation
    assert not np.any(info["final_obs"]) and "recall_mse" in info["final_info"]["episode_metrics"]


def test_ansi_render_shows_the_episode_so_far():
    env = gym.make("PlasticCopy-v0", render_mode="ansi", seq_length=2, delay=1)
    assert "reset" in env.unwrapped.render()
    env.reset(seed=0)
    for _ in range(4):
        env.step(np.zeros(1, np.float32))
    text = env.render()
    assert text.count("\n") == 6 and "study" in text and "query" in text and "reward=" in text
    envs = gym.make_vec("PlasticCopy-v0", num_envs=3, render_mode="ansi")
    envs.reset(seed=0)
    assert len(envs.render()) == 3


def test_rgb_render_of_vector_tasks_and_sb3_make_vec_env():
    """Every task has an rgb_array view, so SB3's make_vec_env (which asks for it) works on every id."""
    from stable_baselines3.common.env_util import make_vec_env

    env = gym.make("PlasticCopy-v0", render_mode="rgb_array", seq_length=2, delay=1)
    assert env.unwrapped.render() is None  # nothing to draw before reset
    env.reset(seed=0)
    first = env.render()
    env.step(np.ones(1, np.float32))
    second = env.render()
    assert first.dtype == np.uint8 and first.shape == second.shape and first.shape[2] == 3
    assert not np.array_equal(first, second)  # the picture follows the episode
    envs = gym.make_vec("PlasticCopy-v0", num_envs=2, render_mode="rgb_array")
    envs.reset(seed=0)
    assert len(envs.render()) == 2
    assert make_vec_env("PlasticAssoc-v0", n_envs=2).reset().shape == (2, 16)


def test_registered_ids_and_make_task():
    assert set(plastic_gym.ENV_IDS) <= set(gym.registry)
    mlp = plastic_gym.make_task("PlasticRegressionMLP-v0")
    assert mlp.mode == "mlp" and mlp.n_var == 6
    assert plastic_gym.make_task("PlasticRegressionMLP-v0", n_var=3).n_var == 3
    assert plastic_gym.make_task("PlasticCopy-v0", delay=40).kwargs == {"seq_length": 20, "delay": 40, "dim": 1}
    assert set(EMBEDDED_IDS) | {"PlasticOmniglot-v0"} == set(plastic_gym.ENV_IDS)


def test_cli_tasks_works_without_torch():
    """The env-only install: `plastic-gym tasks` runs, and `plastic-gym train` says what to install."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from plastic_gym.cli import main\n"
            "assert main(['tasks', '--episodes', '4']) == 0\n"
            "assert main(['train', '--task', 'PlasticAssoc-v0']) == 2\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "PlasticAssoc-v0" in out.stdout and "query_mse" in out.stdout
    assert "needs torch" in out.stderr and "plastic-gym[agents]" in out.stderr
