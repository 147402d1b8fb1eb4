"""The SB3 side of the plastic agents: ``PlasticRecurrentPolicy`` under ``RecurrentPPO`` and under ``PlasticPPO``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from gymnasium import spaces  # noqa: E402
from sb3_contrib import RecurrentPPO  # noqa: E402
from sb3_contrib.common.recurrent.type_aliases import RNNStates  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env  # noqa: E402
from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy  # noqa: E402

ASSOC = "plastic_gym:PlasticAssoc-v0"
TINY_ASSOC = {"n_cues": 2, "trial_length": 4, "stim_dim": 4}
TINY = {"hidden_dim": 12, "latent_dim": 8, "net_arch": [8]}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def make(algo, rule="hebbian", cell="rnn", n_envs=3, n_steps=10, seed=0, env_kwargs=None, env=None, **kw):
    if env is None:
        env = make_plastic_vec_env(ASSOC, n_envs=n_envs, seed=seed, **(env_kwargs or TINY_ASSOC))
    kw.setdefault("batch_size", 2 * n_steps)
    return algo(PlasticRecurrentPolicy, env, n_steps=n_steps, n_epochs=2, seed=seed,
                policy_kwargs={**TINY, "rule": rule, "cell": cell}, **kw)


def params(model) -> dict[str, th.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.named_parameters()}


# -- both paths learn; the plastic parameters are trained -------------------------------------------------------------
@pytest.mark.parametrize("algo", [RecurrentPPO, PlasticPPO])
@pytest.mark.parametrize("rule,cell", [("hebbian", "rnn"), ("gradient", "lstm")])
def test_learn_updates_every_trained_parameter(algo, rule, cell):
    model = make(algo, rule, cell)
    optimized = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.policy.parameters()}, "optimizer must cover the plastic parameters"
    before = params(model)
    model.learn(120)
    after = params(model)
    # hebbian: G = 0 for biases (SPEC 4), so the bias alphas get no gradient; everything else must move
    frozen = {k for k in before if rule == "hebbian" and k.endswith("alpha_bias")}
    changed = {k for k in before if not th.equal(before[k], after[k])}
    assert set(before) - frozen - changed == set()
    assert any("alpha_weight" in k for k in changed)
    if rule == "gradient":
        assert any(k.endswith("omega") for k in changed)


def test_learn_with_callback_logger_and_progress_bar(tmp_path):
    pytest.importorskip("rich")
    from stable_baselines3.common.logger import configure

    model = make(PlasticPPO)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    record = Record()
    model.learn(60, callback=record, progress_bar=True)
    assert len(record.steps) == 20 and model.num_timesteps == 60
    log = (tmp_path / "progress.csv").read_text()
    assert "train/policy_gradient_loss" in log and "train/approx_kl" in log


def test_alpha_receives_gradient():
    model = make(PlasticPPO)
    model.learn(30)  # one rollout and one train() call
    grads = {k: p.grad for k, p in model.policy.named_parameters() if "alpha_weight" in k}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_policy_kwargs_reach_the_plastic_config():
    model = make(PlasticPPO, rule="gradient", cell="lstm")
    cfg = model.policy.core.config
    assert (cfg.rule, cfg.cell, cfg.hidden_dim, cfg.output_dim) == ("gradient", "lstm", 12, 8)
    assert model.policy.lstm_hidden_state_shape == (1, 1, model.policy.core.hidden_size)
    assert 2 * model.policy.core.hidden_size >= model.policy.core.state_floats
    # the leaderboard's state size: the plastic state itself, not the packing's padded (h, c)
    assert model.policy.state_floats == model.policy.core.net.initial_state(1).state_floats()
    with pytest.warns(DeprecationWarning, match="state_floats"):
        assert model.policy.core.state_size == model.policy.core.state_floats  # the deprecated name


def test_bad_arguments_raise():
    env = make_plastic_vec_env(ASSOC, n_envs=2, **TINY_ASSOC)
    with pytest.raises(ValueError, match="LSTM options"):
        RecurrentPPO(PlasticRecurrentPolicy, env, policy_kwargs={"lstm_hidden_size": 8})
    with pytest.raises(ValueError, match="batch_size"):
        PlasticPPO(PlasticRecurrentPolicy, env, n_steps=16, batch_size=8)
    with pytest.raises(ValueError, match="rule"):
        PlasticPPO(PlasticRecurrentPolicy, env, policy_kwargs={"rule": "oja"})


# -- predict with state, save/load, evaluate_policy -------------------------------------------------------------------
def rollout_actions(model, n_envs=3, steps=9, seed=5):
    """Deterministic actions of ``predict`` threaded through ``steps`` steps of a fresh env (state carried)."""
    env = make_plastic_vec_env(ASSOC, n_envs=n_envs, seed=seed, **TINY_ASSOC)
    obs, state, start = env.reset(), None, np.ones(n_envs, bool)
    actions = []
    for _ in range(steps):
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        actions.append(action)
        obs, _, start, _ = env.step(action)
    return np.stack(actions), state


@pytest.mark.parametrize("algo", [RecurrentPPO, PlasticPPO])
def test_predict_save_load_identical(algo, tmp_path):
    model = make(algo, rule="gradient")
    model.learn(60)
    actions, state = rollout_actions(model)
    assert state[0].shape == (1, 3, model.policy.core.hidden_size)
    assert np.abs(state[0]).sum() > 0
    model.save(tmp_path / "model")
    loaded = algo.load(tmp_path / "model", device="cpu")
    assert isinstance(loaded.policy, PlasticRecurrentPolicy)
    assert loaded.policy.core.config == model.policy.core.config
    actions2, state2 = rollout_actions(loaded)
    np.testing.assert_array_equal(actions, actions2)
    np.testing.assert_array_equal(state[0], state2[0])
    mean, _ = evaluate_policy(loaded, make_plastic_vec_env(ASSOC, n_envs=2, seed=1, **TINY_ASSOC), n_eval_episodes=4)
    assert np.isfinite(mean)


def test_single_observation_predict():
    model = make(PlasticPPO)
    env = gym.make(ASSOC, **TINY_ASSOC)
    obs, _ = env.reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert action.shape == env.action_space.shape and state[0].shape == (1, 1, model.policy.core.hidden_size)


# -- episode starts ---------------------------------------------------------------------------------------------------
def test_state_is_zero_at_episode_start():
    model = make(PlasticPPO, rule="gradient")
    obs = model.env.reset()
    junk = tuple(np.random.default_rng(0).normal(size=(1, 3, model.policy.core.hidden_size)) for _ in range(2))
    start = np.array([True, False, True])
    a_junk, s_junk = model.predict(obs, state=junk, episode_start=start, deterministic=True)
    a_zero, s_zero = model.predict(obs, state=None, deterministic=True)
    np.testing.assert_allclose(a_junk[start], a_zero[start], atol=1e-6)
    np.testing.assert_allclose(s_junk[0][:, start], s_zero[0][:, start], atol=1e-6)
    assert not np.allclose(a_junk[~start], a_zero[~start])
    # the reset zeroes every part of the plastic state (h, F, f, m) before the step
    core = model.policy.core
    state = core.unpack(tuple(th.as_tensor(s, dtype=th.float32) for s in junk)).reset_where(th.tensor(start))
    assert all(float(t[th.tensor(start)].abs().sum()) == 0.0 for t in state.to_tensors().values())


class Record(BaseCallback):
    """Keeps every step's ``infos``, ``dones`` and actions."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def _on_step(self) -> bool:
        self.steps.append({k: self.locals[k] for k in ("infos", "dones", "clipped_actions")})
        return True


# The replay of a rollout through the windowed update: tests/test_ppo_windows.py.


def test_truncation_bootstraps_with_terminal_value():
    """A TimeLimit that cuts an episode in its study half (reward 0 there): the stored reward is exactly
    gamma * V(terminal obs), read with the state after the last step; terminations are not bootstrapped."""
    env = make_plastic_vec_env(ASSOC, n_envs=2, seed=3, max_episode_steps=3, n_cues=2, trial_length=8, stim_dim=4)
    model = make(PlasticPPO, "gradient", env=env, n_steps=8, gamma=0.9)
    record = Record()
    model.n_epochs = 0
    model.learn(16, callback=record)
    buf = model.rollout_buffer
    truncated = [(t, i) for t, s in enumerate(record.steps) for i in range(2)
                 if s["infos"][i].get("TimeLimit.truncated")]
    assert len(truncated) >= 4
    # replay the rollout step by step from the start state to get the state after each step
    policy, state = model.policy, (th.as_tensor(buf.start_h)[None], th.as_tensor(buf.start_c)[None])
    with th.no_grad():
        for t in range(8):
            obs = th.as_tensor(buf.observations[t])
            _, _, _, states = policy(obs, RNNStates(state, state), th.as_tensor(buf.episode_starts[t]))
            state = states.pi
            for i in range(2):
                info = record.steps[t]["infos"][i]
                if info.get("TimeLimit.truncated"):
                    terminal = th.as_tensor(info["terminal_observation"])[None]
                    v = policy.predict_values(terminal, (state[0][:, i:i + 1], state[1][:, i:i + 1]), th.zeros(1))
                    assert buf.rewards[t, i] == pytest.approx(0.9 * float(v), abs=1e-6)
                    assert buf.rewards[t, i] != 0.0
                else:
                    assert buf.rewards[t, i] == 0.0  # study steps: no reward, no bootstrap


def test_termination_is_not_bootstrapped():
    model = make(PlasticPPO, n_envs=2, n_steps=8, env_kwargs={"n_cues": 2, "trial_length": 4, "stim_dim": 4})
    record = Record()
    model.n_epochs = 0
    model.learn(16, callback=record)
    ends = [(t, i) for t, s in enumerate(record.steps) for i in range(2) if s["dones"][i]]
    assert ends
    for t, i in ends:
        info = record.steps[t]["infos"][i]
        assert not info.get("TimeLimit.truncated", False)
        a = record.steps[t]["clipped_actions"][i, 0]
        assert model.rollout_buffer.rewards[t, i] == pytest.approx(-(a - info["target"][0]) ** 2, abs=1e-5)


# -- storage ---------------------------------------------------------------------------------------------------------
def test_storage_is_one_state_per_env():
    small = make(PlasticPPO, n_steps=8)
    large = make(PlasticPPO, n_steps=64, batch_size=128)

    def nbytes(model, states: bool) -> int:
        arrays = model.rollout_buffer.storage_arrays().items()
        return sum(a.nbytes for k, a in arrays if k.startswith("start_") == states)

    per_step, state = (lambda m: nbytes(m, False)), (lambda m: nbytes(m, True))
    assert state(small) == state(large) == 3 * 2 * small.policy.core.hidden_size * 4
    assert per_step(large) == 8 * per_step(small)


# -- Dict observations (image + label) --------------------------------------------------------------------------------
class ImageLabelEnv(gym.Env):
    """Tiny Dict-observation env: show a 16x16 glyph with its label, then query it without the label."""

    def __init__(self):
        self.observation_space = spaces.Dict({"image": spaces.Box(0, 255, (1, 16, 16), np.uint8),
                                              "label": spaces.Box(0.0, 1.0, (2,), np.float32)})
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        label = np.zeros(2, np.float32)
        if self.t == 0:
            label[self.y] = 1.0
        return {"image": np.full((1, 16, 16), 200 * self.y, np.uint8), "label": label}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.y = 0, int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        reward = float(self.t == 1 and int(action) == self.y)
        self.t += 1
        return self._obs(), reward, self.t >= 2, False, {}


@pytest.mark.parametrize("algo", [RecurrentPPO, PlasticPPO])
def test_dict_image_observations(algo):
    env = DummyVecEnv([ImageLabelEnv, ImageLabelEnv])
    model = algo(PlasticRecurrentPolicy, env, n_steps=8, batch_size=16, n_epochs=1, seed=0,
                 policy_kwargs={**TINY, "features_extractor_kwargs": {"image_dim": 8, "channels": 4}})
    assert type(model.policy.features_extractor).__name__ == "ImageLabelExtractor"
    before = params(model)
    model.learn(32)
    after = params(model)
    assert any(not th.equal(before[k], after[k]) for k in before if "encoder" in k)
    action, state = model.predict(env.reset(), deterministic=True)
    assert action.shape == (2,)


# -- a tiny memory task is learned ------------------------------------------------------------------------------------
MEMORY_TASK = {"n_cues": 2, "trial_length": 4, "stim_dim": 4, "noise": 0.0}


def query_mse(model, env_kwargs, n_episodes=512, seed=1000):
    """(policy, no-memory) mean squared error on the query steps of the same held-out episodes: the deterministic
    policy vs the best memoryless answer, 0 (expected 1/3; the oracle with n_cues=2, 2 study steps: 1/12)."""
    env = make_plastic_vec_env(ASSOC, n_envs=n_episodes, seed=seed, **env_kwargs)
    obs, state, start = env.reset(), None, np.ones(n_episodes, bool)
    errors, zero = [], []
    for _ in range(env_kwargs["trial_length"]):
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, _, start, infos = env.step(action)
        scored = np.array([info["scored"] for info in infos])
        target = np.array([info["target"][0] for info in infos])
        errors.append(((np.clip(action[:, 0], -1, 1) - target) ** 2)[scored])
        zero.append((target**2)[scored])
    return float(np.concatenate(errors).mean()), float(np.concatenate(zero).mean())


def train_memory(timesteps, seed=0, decay=False):
    env = make_plastic_vec_env(ASSOC, n_envs=8, seed=seed, **MEMORY_TASK)
    # gamma = 0 is exact here: a step's reward depends on that step's action only, and actions never change
    # later observations
    # learning rate 3e-3, for longer runs decayed linearly to 0 (without the decay the error drifts back up later on)
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=32, batch_size=64, n_epochs=4,
                       learning_rate=(lambda remaining: 3e-3 * remaining) if decay else 3e-3,
                       gamma=0.0, gae_lambda=0.0, seed=seed,
                       policy_kwargs={"hidden_dim": 32, "latent_dim": 32, "net_arch": [], "rule": "hebbian",
                                      "log_std_init": -1.0})
    model.learn(timesteps)
    return query_mse(model, MEMORY_TASK)


def test_memory_task_smoke():
    """A short budget already beats the no-memory level on held-out episodes of the 2-cue association task."""
    mse, no_memory = train_memory(2048)
    assert no_memory == pytest.approx(1 / 3, abs=0.03)
    assert mse < 0.9 * no_memory


@pytest.mark.slow
def test_memory_task_learned():
    """With a few thousand steps more the error is well below the no-memory level (oracle: 1/12)."""
    for seed in (0, 1):
        mse, no_memory = train_memory(6144, seed=seed, decay=True)
        assert mse < 0.8 * no_memory


# -- the critic reads the shared core's output detached (sb3-contrib's shared_lstm), unless asked -------------------
@pytest.mark.parametrize("critic_trains_core", [False, True])
def test_value_loss_reaches_the_core_only_when_asked(critic_trains_core):
    env = make_plastic_vec_env(ASSOC, n_envs=2, seed=0, **TINY_ASSOC)
    policy = PlasticRecurrentPolicy(env.observation_space, env.action_space, lambda _: 1e-3,
                                    critic_trains_core=critic_trains_core, **{**TINY, "rule": "hebbian"})
    obs = th.as_tensor(np.stack([env.reset()] * 3, axis=1).reshape(-1, env.observation_space.shape[0]))
    values = policy.predict_values(obs, policy.zero_state(2), th.zeros(6))
    values.sum().backward()
    core = [p.grad for p in policy.core.parameters()]
    reached = any(g is not None and g.abs().sum() > 0 for g in core)
    assert reached == critic_trains_core
    assert policy.value_net.weight.grad.abs().sum() > 0  # the critic head itself always learns
    # the flag survives a save/load (SB3 stores the constructor parameters)
    assert policy._get_constructor_parameters()["critic_trains_core"] is critic_trains_core


def test_critic_trains_core_must_be_a_bool():
    env = make_plastic_vec_env(ASSOC, n_envs=1, seed=0, **TINY_ASSOC)
    with pytest.raises(ValueError, match="critic_trains_core must be a bool"):
        PlasticRecurrentPolicy(env.observation_space, env.action_space, lambda _: 1e-3, critic_trains_core="yes",
                               **TINY)
