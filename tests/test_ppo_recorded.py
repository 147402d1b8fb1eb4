"""PlasticPPO trains to the parameters recorded before its speed-ups (issue 15): a performance change must not change
what is computed beyond float rounding.

``ppo_recorded_parameters.json`` holds, for each rule and setting below, two checksums of every parameter tensor after
two rollouts and their updates (seed 0): the sum and the sum weighted by cos(index). They were recorded from the code
at 883d048 (before the merged and cut call of ``evaluate_windows``, the partial start state of the sequence form and
the fused F update of the step form). Settings: the rl-v0 recipes' shape on a bandit (windows as long as the
rollout, one minibatch, episodes longer than the rollout), the same with episodes of 10 steps (windows of several
lengths, some from the rollout-start state: the call is cut where windows end), short episodes with windows of 4
steps and two minibatches (start states recomputed mid-episode), and Harlow's glyphs (516 inputs, episodes of 6
steps).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from plastic_gym.agents import PlasticPPO, PlasticRecurrentPolicy, make_native_vec_env  # noqa: E402

RECORDED = json.loads((Path(__file__).parent / "ppo_recorded_parameters.json").read_text())
SETTINGS = {
    "bandit": dict(env_id="plastic_gym:PlasticBandit-v0", env_kwargs={}, n_envs=4, n_steps=24, batch_size=96,
                   bptt_steps=None, n_epochs=3),
    "bandit-short": dict(env_id="plastic_gym:PlasticBandit-v0", env_kwargs={"horizon": 10}, n_envs=4, n_steps=24,
                         batch_size=96, bptt_steps=None, n_epochs=3),
    "assoc": dict(env_id="plastic_gym:PlasticAssoc-v0", env_kwargs=dict(n_cues=2, trial_length=5, stim_dim=4), n_envs=3,
                  n_steps=16, batch_size=24, bptt_steps=4, n_epochs=2),
    "glyphs": dict(env_id="plastic_gym:PlasticHarlow-v0", env_kwargs={"objects": "glyphs"}, n_envs=2, n_steps=12,
                   batch_size=24, bptt_steps=None, n_epochs=2),
}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def trained_checksums(rule: str, setting: str) -> dict[str, tuple[float, float]]:
    """(sum, sum of x_i cos(i)) of every parameter tensor after two rollouts of a tiny PlasticPPO."""
    s = SETTINGS[setting]
    env = make_native_vec_env(s["env_id"], n_envs=s["n_envs"], seed=0, **s["env_kwargs"])
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=s["n_steps"], batch_size=s["batch_size"],
                       n_epochs=s["n_epochs"], bptt_steps=s["bptt_steps"], learning_rate=1e-3, gamma=0.9,
                       ent_coef=0.01, seed=0, device="cpu",
                       policy_kwargs={"rule": rule, "hidden_dim": 8, "latent_dim": 8, "net_arch": [8],
                                      "critic_trains_core": False})
    model.learn(2 * s["n_steps"] * s["n_envs"])
    out = {}
    for name, value in model.policy.state_dict().items():
        v = value.detach().double().numpy().ravel()
        out[name] = (float(v.sum()), float((v * np.cos(np.arange(v.size))).sum()))
    return out


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_training_matches_the_recorded_parameters(rule, setting):
    got = trained_checksums(rule, setting)
    want = RECORDED[f"{rule}/{setting}"]
    assert sorted(got) == sorted(want)
    for name, checksums in want.items():
        np.testing.assert_allclose(got[name], checksums, rtol=0, atol=1e-5, err_msg=name)
