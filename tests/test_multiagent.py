"""The PettingZoo envs of plastic_gym.multiagent: API conformance, seeding, errors, what each task needs, SB3
training."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from conftest import load_example
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test

from plastic_gym.core.rng import seed_keys
from plastic_gym.multiagent import ENVS, CoopAssocEnv, RepeatedGameEnv, coop_assoc_v0, repeated_game_v0, run_episodes
from plastic_gym.multiagent.coop_assoc import scripted_coop_actions
from plastic_gym.multiagent.repeated_game import explore_commit_actions, fixed_actions
from plastic_gym.tasks.assoc import AssocTask

NAMES = list(ENVS)


@pytest.fixture(params=NAMES)
def module(request):
    return ENVS[request.param]


def _seeded_actions(env, seed: int):
    """A policy of random actions drawn from a fixed generator (the same for the same seed)."""
    rng = np.random.default_rng(seed)

    def policy(env, obs, memory):
        out = {}
        for a in env.agents:
            space = env.action_space(a)
            if hasattr(space, "n"):
                out[a] = int(rng.integers(space.n))
            else:
                out[a] = rng.uniform(space.low, space.high).astype(np.float32)
        return out
    return policy


def _trajectory(env, seed: int | None, action_seed: int = 7):
    """Everything one episode returns, step by step (``seed=None``: an unseeded reset)."""
    policy = _seeded_actions(env, action_seed)
    obs, infos = env.reset(seed=seed)
    steps = [(obs, None, None, None, infos)]
    while env.agents:
        obs, rew, term, trunc, infos = env.step(policy(env, obs, {}))
        steps.append((obs, rew, term, trunc, infos))
    return steps


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


# -- API ---------------------------------------------------------------------------------------------------------
def test_pettingzoo_api_tests_pass(module):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(module.parallel_env(), num_cycles=200)
        api_test(module.env(), num_cycles=200)
        parallel_seed_test(module.parallel_env, num_cycles=50)
    # The only warning allowed: SPEC section 2's zero observation after the last step.
    assert {str(w.message) for w in caught} <= {"Observation numpy array is all zeros."}


def test_spaces_cached_bools_and_zero_final_observation(module):
    env = module.parallel_env()
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) is env.action_space(agent)
    steps = _trajectory(env, 3)
    for obs, rew, term, trunc, _infos in steps[1:]:
        assert all(type(v) is bool for v in [*term.values(), *trunc.values()])
        assert all(type(v) is float for v in rew.values())
        for a, o in obs.items():
            assert o.dtype == np.float32 and env.observation_space(a).contains(o)
    obs, _, term, trunc, infos = steps[-1]
    assert all(term.values()) and not any(trunc.values()) and env.agents == []
    assert all(not o.any() for o in obs.values())
    assert all("episode_metrics" in i for i in infos.values())
    assert len(steps) - 1 == env.episode_length


def test_whole_episode_determinism(module):
    a, b = module.parallel_env(), module.parallel_env()
    first = _trajectory(a, 11)
    assert _same(first, _trajectory(b, 11))
    assert _same(first, _trajectory(a, 11))  # the same env again
    assert not _same(first, _trajectory(a, 12))
    # Unseeded resets after a seeded one follow a fixed key sequence.
    a.reset(seed=5)
    b.reset(seed=5)
    assert _same(_trajectory(a, None), _trajectory(b, None))
    assert not _same(_trajectory(a, 5), _trajectory(a, None))


def test_render_ansi(module):
    env = module.parallel_env(render_mode="ansi")
    assert "reset" in env.render()
    _trajectory(env, 0)
    text = env.render()
    assert isinstance(text, str) and f"step {env.episode_length}/{env.episode_length}" in text
    assert module.parallel_env().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        module.parallel_env(render_mode="rgb_array")


def test_render_human_prints_the_ansi_text(module, capsys):
    """``human`` prints exactly what ``ansi`` returns and returns None; PettingZoo's render_test passes on the AEC
    view (it always asks for ``render_mode="human"``)."""
    ansi, human = module.parallel_env(render_mode="ansi"), module.parallel_env(render_mode="human")
    _trajectory(ansi, 3)
    _trajectory(human, 3)
    capsys.readouterr()
    assert human.render() is None
    assert capsys.readouterr().out == ansi.render()
    render_test(module.env)


def test_bad_input_is_an_error(module):
    env = module.parallel_env()
    agent = env.possible_agents[0]
    with pytest.raises(RuntimeError, match="before reset"):
        env.step({})
    with pytest.raises(ValueError, match="unknown kwarg"):
        module.parallel_env(bogus=1)
    with pytest.raises(ValueError, match="unknown agent"):
        env.observation_space("nobody")
    obs, _ = env.reset(seed=0)
    good = {a: env.action_space(a).sample() for a in env.agents}
    with pytest.raises(ValueError, match="one action for each"):
        env.step({agent: good[agent]})
    with pytest.raises(ValueError, match="one action for each"):
        env.step({**good, "extra": good[agent]})
    space = env.action_space(agent)
    if hasattr(space, "n"):
        bad = [space.n, -1, 0.5, np.array([0, 1]), "a"]
    else:
        bad = [np.zeros(space.shape[0] + 1, np.float32), np.full(space.shape, np.nan, np.float32),
               np.full(space.shape, 1.5, np.float32), np.array(["a"] * space.shape[0])]
    for action in bad:
        with pytest.raises(ValueError, match=f"action of {agent}"):
            env.step({**good, agent: action})
    assert env.t == 0  # rejected steps change nothing
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(good)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)


@pytest.mark.parametrize("name, kwargs, match", [
    ("coop_assoc_v0", {"n_cues": 1}, "n_cues"),
    ("coop_assoc_v0", {"msg_dim": 0}, "msg_dim"),
    ("coop_assoc_v0", {"noise": -0.1}, "noise"),
    ("coop_assoc_v0", {"trial_length": 1}, "trial_length"),
    ("repeated_game_v0", {"n_actions": 1}, "n_actions"),
    ("repeated_game_v0", {"n_rounds": 0}, "n_rounds"),
    ("repeated_game_v0", {"reward_noise": -1.0}, "reward_noise"),
    ("repeated_game_v0", {"n_actions": 2.5}, "n_actions"),
])
def test_kwargs_are_validated(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ENVS[name].parallel_env(**kwargs)


# -- coop_assoc_v0 -------------------------------------------------------------------------------------------------
def test_coop_episode_is_the_assoc_episode_split_between_owners():
    env = coop_assoc_v0.parallel_env(n_cues=4, stim_dim=3, trial_length=8, msg_dim=2)
    obs, _ = env.reset(seed=21)
    ep = AssocTask(n_cues=4, stim_dim=3, trial_length=8).generate(seed_keys([21]))
    assert np.array_equal(env.episodes.obs, ep.obs)  # the single-agent generator, reused
    cues, d = ep.extras["cue"][0], 3
    msgs = {"agent_0": np.array([1, 0, 0.25], np.float32), "agent_1": np.array([-1, 0.5, -0.5], np.float32)}
    for t in range(8):
        for i, a in enumerate(env.possible_agents):
            u = obs[a]
            assert np.array_equal(u[:d], ep.obs[0, t, :d])
            owns = cues[t] % 2 == i and t < 4
            assert u[d + 1] == owns and u[d] == (ep.obs[0, t, d] if owns else 0.0)
            assert u[d + 2] == (t >= 4)
            partner = env.possible_agents[1 - i]
            assert np.array_equal(u[d + 3:], msgs[partner][1:] if t > 0 else np.zeros(2))
        obs, rew, *_ = env.step(msgs)
        expected = 0.0 if t < 4 else -np.mean([(m[0] - ep.target[0, t, 0]) ** 2 for m in msgs.values()])
        assert rew["agent_0"] == rew["agent_1"] == pytest.approx(expected)


def test_coop_needs_messages():
    """The communicating oracle pair is far better than a pair that ignores messages, which no single agent beats."""
    env = coop_assoc_v0.parallel_env()
    n_query = env.trial_length - env.trial_length // 2
    oracle = -run_episodes(env, functools.partial(scripted_coop_actions, communicate=True), 300)[:, 0] / n_query
    alone = -run_episodes(env, functools.partial(scripted_coop_actions, communicate=False), 300)[:, 0] / n_query
    assert oracle.mean() < 0.07 and alone.mean() > 0.15
    assert oracle.mean() + 0.08 < alone.mean()
    assert np.mean(oracle < alone) > 0.8


def test_coop_oracle_pair_answers_like_the_assoc_oracle_and_metrics_match_returns():
    env = coop_assoc_v0.parallel_env()
    policy = functools.partial(scripted_coop_actions, communicate=True)
    obs, _ = env.reset(seed=4)
    memory, answers, total = {}, [], 0.0
    while env.agents:
        actions = policy(env, obs, memory)
        answers.append([actions[a][0] for a in env.possible_agents])
        obs, rew, _, _, infos = env.step(actions)
        total += rew["agent_0"]
    answers = np.array(answers)  # [T, 2]
    reference = env.task.oracle_actions(env.episodes)[0, :, 0]
    query = env.episodes.scored[0]
    assert np.array_equal(answers[query, 0], reference[query]) and np.array_equal(answers[query, 1], reference[query])
    metrics = infos["agent_0"]["episode_metrics"]
    assert metrics["query_mse"] == pytest.approx(-total / query.sum())
    assert infos["agent_1"]["is_success"] == (metrics["query_mse"] <= 0.1)


# -- repeated_game_v0 ----------------------------------------------------------------------------------------------
def test_repeated_game_payoffs_rewards_and_observations():
    env = repeated_game_v0.parallel_env(n_actions=3, n_rounds=5, reward_noise=0.1)
    obs, _ = env.reset(seed=2)
    payoff = env.payoff.copy()
    assert payoff.shape == (3, 3) and np.all((payoff >= 0) & (payoff < 1))
    env.reset(seed=3)
    assert not np.array_equal(payoff, env.payoff)  # a new hidden matrix per episode
    obs, _ = env.reset(seed=2)
    assert np.array_equal(obs["player_0"], np.r_[np.zeros(7), 1.0].astype(np.float32))
    obs, rew, _, _, infos = env.step({"player_0": 2, "player_1": 1})
    assert infos["player_0"]["payoff"] == pytest.approx(payoff[2, 1])
    assert rew["player_0"] == rew["player_1"] != payoff[2, 1]  # noisy
    assert np.array_equal(obs["player_0"][:6], [0, 0, 1, 0, 1, 0])
    assert np.array_equal(obs["player_1"][:6], [0, 1, 0, 0, 0, 1])
    assert obs["player_0"][6] == np.float32(rew["player_0"]) and obs["player_0"][7] == pytest.approx(0.8)


def test_repeated_game_rewards_adaptation():
    """A scripted explore-then-commit pair (observations only) beats the fixed joint action by a wide margin."""
    env = repeated_game_v0.parallel_env()
    adaptive = run_episodes(env, explore_commit_actions, 300)[:, 0] / env.n_rounds
    fixed = run_episodes(env, fixed_actions, 300)[:, 0] / env.n_rounds
    assert abs(fixed.mean() - 0.5) < 0.05
    assert adaptive.mean() > fixed.mean() + 0.2
    noisy = repeated_game_v0.parallel_env(reward_noise=0.2)
    assert run_episodes(noisy, explore_commit_actions, 200).mean() > run_episodes(noisy, fixed_actions, 200).mean()


# -- training with parameter sharing -------------------------------------------------------------------------------
def _train_script():
    return load_example("multiagent_train")


@pytest.mark.filterwarnings("ignore:The `render_mode` attribute")
def test_sb3_vec_env_is_seeded_and_shares_one_policy(module):
    pytest.importorskip("supersuit")
    pytest.importorskip("stable_baselines3")
    script = _train_script()
    a, b = script.make_sb3_vec_env(module, 3, seed=5), script.make_sb3_vec_env(module, 3, seed=5)
    env = module.parallel_env()
    assert a.num_envs == 3 * len(env.possible_agents)
    assert a.observation_space == env.observation_space(env.possible_agents[0])
    assert np.array_equal(a.reset(), b.reset())
    space = env.action_space(env.possible_agents[0])
    space.seed(0)
    actions = np.stack([space.sample() for _ in range(a.num_envs)])
    rewards = []
    for _ in range(env.episode_length + 2):  # across the automatic reset
        ra, rb = a.step(actions), b.step(actions)
        assert all(np.array_equal(x, y) for x, y in zip(ra[:3], rb[:3], strict=True))
        rewards.append(ra[1])
    rewards = np.array(rewards)  # [steps, rows]: row 2c + i is agent i of copy c
    assert np.array_equal(rewards[:, 0], rewards[:, 1])  # the team reward, for both agents of a copy
    assert not np.array_equal(rewards[:, 0], rewards[:, 2])  # the copies play different episodes


@pytest.mark.filterwarnings("ignore:The `render_mode` attribute")
def test_ppo_parameter_sharing_smoke(module):
    """A few hundred PPO steps with one policy for both agents run, and the policy acts in the ParallelEnv."""
    pytest.importorskip("supersuit")
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    script = _train_script()
    venv = script.make_sb3_vec_env(module, 2, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=None, device="cpu")
    model.learn(384)
    assert model.num_timesteps >= 384 and len(model.ep_info_buffer) > 0
    env = module.parallel_env()
    obs, _ = env.reset(seed=0)
    while env.agents:
        obs, *_ = env.step({a: model.predict(obs[a], deterministic=True)[0] for a in env.agents})


@pytest.mark.filterwarnings("ignore:The `render_mode` attribute")
def test_plastic_ppo_smoke():
    """PlasticPPO (a small plastic policy) trains through the same VecEnv, one policy for both players."""
    pytest.importorskip("supersuit")
    try:
        from plastic_gym.agents import PlasticPPO
    except ImportError:
        ppo = pytest.importorskip("plastic_gym.agents.ppo", reason="plastic_gym.agents.PlasticPPO is not available")
        PlasticPPO = ppo.PlasticPPO
    script = _train_script()
    venv = script.make_sb3_vec_env(repeated_game_v0, 1, seed=0, n_rounds=8)
    model = PlasticPPO("PlasticRecurrentPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=None, device="cpu",
                       policy_kwargs=dict(hidden_dim=8, latent_dim=8, rule="hebbian", net_arch=[8]))
    model.learn(64)
    assert model.num_timesteps >= 64 and len(model.ep_info_buffer) > 0


def test_classes_are_exported():
    assert isinstance(coop_assoc_v0.parallel_env(), CoopAssocEnv)
    assert isinstance(repeated_game_v0.parallel_env(), RepeatedGameEnv)
    assert coop_assoc_v0.raw_env is coop_assoc_v0.env
