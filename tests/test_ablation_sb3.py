"""The plasticity ablation of SB3 entries (leaderboard/adapters/sb3.py): a ``PlasticRecurrentPolicy`` played with
eta = lam = 0 at test time keeps its fast weights at F_0 = 0, acts as the same slow weights without plastic weights
(rule "none"), leaves the original untouched, and gets an ``ablation`` diagnostic on whole-episode and interactive
tasks alike; non-plastic SB3 policies have none."""

from __future__ import annotations

import json

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib import RecurrentPPO  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env  # noqa: E402
from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy  # noqa: E402
from plastic_gym.leaderboard import diagnostics as D  # noqa: E402
from plastic_gym.leaderboard.adapters.sb3 import SB3Agent, is_plastic_policy, save_model  # noqa: E402
from plastic_gym.leaderboard.agents import load_agent  # noqa: E402
from plastic_gym.leaderboard.evaluate import make_env  # noqa: E402
from plastic_gym.leaderboard.suite import SuiteTask, load_suite  # noqa: E402

COPY = {"name": "copy", "env_id": "PlasticCopy-v0", "kwargs": {"seq_length": 4, "delay": 2}, "episodes": 8,
        "seed": 10000000}
BANDIT = {"name": "bandit-2", "env_id": "PlasticBandit-v0", "kwargs": {"horizon": 12}, "episodes": 8,
          "seed": 20000000}
TINY = {"hidden_dim": 12, "latent_dim": 8, "net_arch": [8]}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def _model(task=COPY, rule="hebbian", train=True, **plastic):
    """A tiny PlasticPPO on ``task``'s spaces; ``train``: after one PPO update (4 envs x 16 steps)."""
    env = make_plastic_vec_env(f"plastic_gym:{task['env_id']}", n_envs=4, seed=0, **task["kwargs"])
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=16, batch_size=32, n_epochs=1, seed=0,
                       policy_kwargs={**TINY, "rule": rule, **plastic})
    if train:
        model.learn(64)
    return model


def _play(agent, task=COPY, n=8):
    """Actions ``[T, n, ...]`` of one episode of ``task``'s first ``n`` eval seeds, and the unpacked plastic state
    after every step."""
    env, obs = make_env(SuiteTask(**task), n)
    state, start, actions, states = agent.reset(n), np.ones(n, bool), [], []
    for _ in range(env.task.episode_length):
        a, state = agent.act(obs, state, start)  # the policy's predict_state: an unpacked PlasticState
        actions.append(a)
        states.append(state)
        obs, *_ = env.step(a)
        start[:] = False
    env.close()
    return np.stack(actions), states


@pytest.fixture(scope="module", params=["hebbian", "gradient"])
def plastic(request):
    return _model(rule=request.param)


# -- which policies are plastic --------------------------------------------------------------------------------
def test_only_plastic_rules_have_an_ablation(plastic):
    env = make_plastic_vec_env("plastic_gym:PlasticCopy-v0", n_envs=1, seed=0, **COPY["kwargs"])
    small = {"n_steps": 8, "batch_size": 8, "seed": 0}
    others = [_model(rule="none", train=False), PPO("MlpPolicy", env, **small),
              RecurrentPPO("MlpLstmPolicy", env, policy_kwargs={"lstm_hidden_size": 4}, **small)]
    assert SB3Agent(plastic).plastic and is_plastic_policy(plastic.policy)
    # the policy decides, not the algorithm: stock RecurrentPPO with the plastic policy has the ablation too
    stock = RecurrentPPO(PlasticRecurrentPolicy, env, policy_kwargs=TINY, **small)
    assert SB3Agent(stock).plastic and SB3Agent(stock).without_plasticity().model.policy.core.net.config.p_lr == 0
    for model in others:
        agent = SB3Agent(model)
        assert not agent.plastic
        with pytest.raises(ValueError, match="no plasticity to switch off.*PlasticRecurrentPolicy"):
            agent.without_plasticity()


def test_predict_state_equals_predict_with_the_state_packed(plastic):
    """The leaderboard's player (``predict_state``, state unpacked between steps) takes SB3's ``predict`` path's
    actions and state exactly, across episode starts in the middle of a run (a bandit's lockstep episodes, one env
    restarted early)."""
    policy = plastic.policy
    env, obs = make_env(SuiteTask(**COPY), 8)
    packed, state, start = None, None, np.ones(8, bool)
    for t in range(2 * env.task.episode_length):
        expected, packed = plastic.predict(obs, state=packed, episode_start=start, deterministic=True)
        actions, state = policy.predict_state(obs, state, start, deterministic=True)
        np.testing.assert_array_equal(actions, expected)
        flat = policy.core.flatten(state).numpy()
        np.testing.assert_array_equal(flat, np.concatenate([packed[0][0], packed[1][0]], axis=1)[:, :flat.shape[1]])
        obs, _, terminated, truncated, _ = env.step(actions)
        start = terminated | truncated
        start[t % 8] |= t == 3  # one env starts over mid-episode
    env.close()
    single, _ = policy.predict_state(obs[0], None, None, deterministic=True)  # one unbatched observation
    assert single.shape == policy.action_space.shape


# -- the ablated agent -----------------------------------------------------------------------------------------
def test_ablated_fast_weights_stay_at_their_start(plastic):
    agent = SB3Agent(plastic)
    ablated = agent.without_plasticity()
    assert ablated.plastic  # the same policy class and rule: only its rates are 0
    cfg = ablated.model.policy.core.net.config
    assert (cfg.p_lr, cfg.p_wd) == (0.0, 0.0) and cfg.rule == plastic.policy.core.net.config.rule
    acts, states = _play(agent)
    acts_off, states_off = _play(ablated)
    for s in states_off:  # every step of the episode: F = 0 and f = 0 exactly
        assert all(th.count_nonzero(F) == 0 for F in (*s.F.values(), *s.f.values()))
    assert any(th.count_nonzero(F) > 0 for F in states[-1].F.values())  # with plasticity on they change
    np.testing.assert_array_equal(acts[0], acts_off[0])  # step 0 reads F_0 = 0 in both
    assert not np.array_equal(acts, acts_off)


def test_ablated_agent_equals_the_policy_without_plastic_weights(plastic):
    """The plain reference: a rule-"none" policy (no F, no alpha, no omega) holding the same slow weights."""
    ablated = SB3Agent(plastic).without_plasticity()
    options = {k: v for k, v in plastic.policy._get_constructor_parameters().items()
               if k not in ("observation_space", "action_space", "lr_schedule")}
    plain = PlasticRecurrentPolicy(plastic.observation_space, plastic.action_space, lambda _: 1e-3,
                                   **{**options, "rule": "none"})
    missing, unexpected = plain.load_state_dict(plastic.policy.state_dict(), strict=False)
    assert not missing
    assert unexpected and all(k.endswith(("alpha_weight", "alpha_bias", "omega")) for k in unexpected)
    env, obs = make_env(SuiteTask(**COPY), 8)
    state, start = None, np.ones(8, bool)
    ablated_state = ablated.reset(8)
    for _ in range(env.task.episode_length):
        expected, state = plain.predict(obs, state=state, episode_start=start, deterministic=True)
        a, ablated_state = ablated.act(obs, ablated_state, start)
        np.testing.assert_allclose(a, expected, rtol=0, atol=1e-6)
        obs, *_ = env.step(a)
        start[:] = False
    env.close()


def test_ablation_of_a_policy_without_plastic_rate_changes_no_action():
    model = _model(rule="hebbian", train=False, p_lr=0.0)
    agent = SB3Agent(model)
    np.testing.assert_array_equal(_play(agent)[0], _play(agent.without_plasticity())[0])


def test_the_original_is_unchanged(plastic):
    agent = SB3Agent(plastic)
    before, _ = _play(agent)
    params = {k: v.clone() for k, v in plastic.policy.state_dict().items()}
    ablated = agent.without_plasticity()
    assert ablated.model is not plastic and ablated.model.policy is not plastic.policy
    assert plastic.policy.core.net.config.p_lr == 0.1 and plastic.policy.plastic_options.get("p_lr", 0.1) == 0.1
    np.testing.assert_array_equal(_play(agent)[0], before)
    _play(ablated)
    with th.no_grad():  # a deep copy: changing the ablation's weights leaves the original's alone
        next(ablated.model.policy.parameters()).add_(1.0)
    assert all(th.equal(v, params[k]) for k, v in plastic.policy.state_dict().items())
    np.testing.assert_array_equal(_play(agent)[0], before)


# -- in the diagnostics, through the adapter --------------------------------------------------------------------
def _suite(tmp_path, name, tasks):
    path = tmp_path / f"suite_{name}.json"
    path.write_text(json.dumps({"name": name, "version": 0, "description": "ablation test", "tasks": tasks}))
    return load_suite(path)


def _factory(model, tmp_path, name):
    return load_agent(f"sb3:{save_model(model, tmp_path / name)}")


def test_ablation_diagnostic_of_sb3_entries(tmp_path):
    suite = _suite(tmp_path, "ab-copy", [COPY])
    factories = [_factory(_model(rule=r, train=False), tmp_path, f"copy-{r}") for r in ("hebbian", "none")]
    diag = D.diagnose(factories, suite, progress=False)
    assert "ablation" not in diag.get("copy-none", {})
    t = diag["copy-hebbian"]["ablation"]["tasks"]["copy"]
    assert t["score"] != t["ablated_score"] and t["drop"] == pytest.approx(t["normalized"] - t["ablated"])
    assert not D.check(diag["copy-hebbian"], "d")


def test_ablation_on_an_interactive_task(tmp_path):
    """Bandit episodes are fixed by their seeds (arm probabilities and reward draws): the ablation plays them with
    its own actions, scored with the task's primary metric (regret) and references; without a plastic rate the
    ablation scores exactly as the agent."""
    suite = _suite(tmp_path, "ab-bandit", [BANDIT])
    # alpha = 1 and eta = 1: a fresh policy whose choices follow its fast weights (at SPEC 4's defaults they barely
    # move a fresh policy's arm preference)
    names = {"bandit-hebbian": {"p_lr": 1.0, "alpha": "uniform"}, "bandit-eta0": {"p_lr": 0.0},
             "bandit-none": {"rule": "none"}}
    factories = [_factory(_model(BANDIT, train=False, **{"rule": "hebbian", **kw}), tmp_path, n)
                 for n, kw in names.items()]
    diag = D.diagnose(factories, suite, progress=False)
    assert "ablation" not in diag["bandit-none"] and "regret" in diag["bandit-none"]
    for name in ("bandit-hebbian", "bandit-eta0"):
        ab, regret = diag[name]["ablation"]["tasks"]["bandit-2"], diag[name]["regret"]["bandit-2"]
        # the same episodes as the regret curve: its references, and the agent's mean regret is the curve's end
        assert (ab["no_memory"], ab["oracle"]) == (regret["no_memory"], regret["oracle"]) and ab["oracle"] == 0.0
        assert ab["score"] == pytest.approx(regret["cumulative"][-1], rel=1e-6)
        assert not D.check(diag[name], "d")
    eta0 = diag["bandit-eta0"]["ablation"]
    assert eta0["tasks"]["bandit-2"]["score"] == eta0["tasks"]["bandit-2"]["ablated_score"] and eta0["mean_drop"] == 0
    hebbian = diag["bandit-hebbian"]["ablation"]["tasks"]["bandit-2"]
    assert hebbian["score"] != hebbian["ablated_score"]
