"""``NativeVecEnv``: a native gymnasium vector env as an SB3 VecEnv, equal to ``make_vec_env`` episode for episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib import RecurrentPPO  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402

from plastic_gym.agents import NativeVecEnv, PlasticPPO, PlasticRecurrentPolicy, make_native_vec_env  # noqa: E402

ASSOC = ("plastic_gym:PlasticAssoc-v0", {"n_cues": 2, "trial_length": 4, "stim_dim": 4})
ONESHOT = ("plastic_gym:PlasticOneShot-v0", {"n_way": 2, "n_query": 2, "image_size": 16})
TINY = {"hidden_dim": 12, "latent_dim": 8, "net_arch": [8]}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def same(a, b) -> bool:
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return np.array_equal(np.asarray(a), np.asarray(b))


def play_both(env_id: str, kwargs: dict, n_envs: int, steps: int, seed: int, reseed_at: int | None = None):
    """Step the adapter and ``make_vec_env`` (DummyVecEnv + Monitor) with the same seeded random actions."""
    native = make_native_vec_env(env_id, n_envs=n_envs, seed=seed, **kwargs)
    dummy = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    assert native.observation_space == dummy.observation_space and native.action_space == dummy.action_space
    assert same(native.reset(), dummy.reset())
    native.action_space.seed(seed)
    ended = 0
    for t in range(steps):
        if t == reseed_at:  # SB3's seed(): both reset to the episodes of the new seed
            native.seed(seed + 100)
            dummy.seed(seed + 100)
            assert same(native.reset(), dummy.reset())
        actions = np.stack([native.action_space.sample() for _ in range(n_envs)])
        obs_n, rew_n, done_n, info_n = native.step(actions)
        obs_d, rew_d, done_d, info_d = dummy.step(actions)
        assert same(obs_n, obs_d), t
        np.testing.assert_array_equal(rew_n, rew_d)
        assert rew_n.dtype == rew_d.dtype and done_n.dtype == done_d.dtype
        np.testing.assert_array_equal(done_n, done_d)
        for i in range(n_envs):
            n, d = info_n[i], info_d[i]
            assert set(n) == set(d), (t, i)
            for key in ("target", "scored", "phase", "TimeLimit.truncated", "terminal_observation", "is_success",
                        "episode_metrics"):
                if key in d:
                    assert same(n[key], d[key]), (t, i, key)
            if "episode" in d:
                assert (n["episode"]["r"], n["episode"]["l"]) == (d["episode"]["r"], d["episode"]["l"])
                ended += 1
    return ended


@pytest.mark.parametrize("env_id,kwargs", [ASSOC, ONESHOT], ids=["assoc", "oneshot-dict"])
def test_matches_make_vec_env_episode_for_episode(env_id, kwargs):
    """Observations (Box and Dict), rewards, dones, terminal observations, Monitor's episode returns and lengths and
    the task's infos are those of DummyVecEnv over gym.make for the same seeds, across autoresets and a reseed."""
    ended = play_both(env_id, kwargs, n_envs=3, steps=30, seed=4, reseed_at=13)
    assert ended >= 9  # several episodes per env, before and after the reseed


def test_matches_make_vec_env_on_an_interactive_task():
    """The same on a meta-RL task of SPEC section 6 (what the agent sees depends on its actions; Discrete actions)."""
    if "PlasticBandit-v0" not in gym.registry:
        pytest.skip("PlasticBandit-v0 is not registered")
    assert play_both("plastic_gym:PlasticBandit-v0", {"horizon": 10}, n_envs=3, steps=25, seed=2, reseed_at=12) >= 3


def test_unseeded_start_and_properties():
    env = make_native_vec_env(*ASSOC[:1], n_envs=2, **ASSOC[1])
    assert env.num_envs == 2 and env.env_is_wrapped(Monitor) == [True, True]
    assert env.env_is_wrapped(gym.wrappers.TimeLimit) == [False, False]
    assert env.get_attr("render_mode") == [None, None]
    obs = env.reset()
    assert obs.shape == (2, 6) and obs.dtype == np.float32


def test_bad_input_raises():
    with pytest.raises(ValueError, match="num_envs"):
        NativeVecEnv(ASSOC[0], num_envs=0)
    next_step = gym.make_vec(ASSOC[0], num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="same_step"):
        NativeVecEnv(next_step)
    with pytest.raises(ValueError, match="env id or a gymnasium VectorEnv"):
        NativeVecEnv(gym.make(ASSOC[0]))
    env = make_native_vec_env(ASSOC[0], n_envs=3, **ASSOC[1])
    env._seeds = [1, 5, 2]  # not seed + i: the vector env cannot do that
    with pytest.raises(ValueError, match="seed"):
        env.reset()


@pytest.mark.parametrize("algo", ["PPO", "RecurrentPPO", "PlasticPPO"])
def test_learn_runs_and_logs_episode_returns(algo, tmp_path):
    from stable_baselines3.common.logger import configure

    env = make_native_vec_env(ASSOC[0], n_envs=4, seed=0, **ASSOC[1])
    common = dict(n_steps=8, batch_size=16, n_epochs=1, seed=0)
    if algo == "PPO":
        model = PPO("MlpPolicy", env, **common)
    elif algo == "RecurrentPPO":
        model = RecurrentPPO("MlpLstmPolicy", env, policy_kwargs={"lstm_hidden_size": 8}, **common)
    else:
        model = PlasticPPO(PlasticRecurrentPolicy, env, policy_kwargs=TINY, **common)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(64)
    assert model.num_timesteps == 64 and len(model.ep_info_buffer) == 16  # 4 envs x 2 rollouts x 2 episodes
    assert "rollout/ep_rew_mean" in (tmp_path / "progress.csv").read_text()


def test_plasticppo_trains_identically_on_both_vec_envs():
    """Same seeds, same episodes: PlasticPPO's parameters after learning are the same on the adapter and on
    make_vec_env (the adapter changes only how the envs are stepped)."""
    def train(env):
        model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=8, batch_size=16, n_epochs=2, seed=3,
                           policy_kwargs={**TINY, "rule": "gradient"})
        model.learn(96)
        return {k: v.detach().clone() for k, v in model.policy.named_parameters()}

    a = train(make_native_vec_env(ASSOC[0], n_envs=4, seed=3, **ASSOC[1]))
    b = train(make_vec_env(ASSOC[0], n_envs=4, seed=3, env_kwargs=ASSOC[1]))
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), atol=1e-6, err_msg=k)
