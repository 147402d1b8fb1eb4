"""examples/plasticity_probe.py: the rates and fast-weight shares it reports, on a tiny PlasticPPO policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import load_example

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env  # noqa: E402
from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy  # noqa: E402
from plastic_gym.leaderboard.adapters.sb3 import ablated_model, save_model  # noqa: E402
from plastic_gym.leaderboard.suite import load_suite  # noqa: E402

TINY = {"hidden_dim": 12, "latent_dim": 8, "net_arch": [8]}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


@pytest.fixture(scope="module")
def probe_module():
    return load_example("plasticity_probe")


def _model(rule="hebbian", **plastic):
    """A tiny PlasticPPO on the spaces of rl-v0's bandit-2, after one PPO update."""
    env = make_plastic_vec_env("plastic_gym:PlasticBandit-v0", n_envs=4, seed=0)
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=16, batch_size=32, n_epochs=1, seed=0,
                       policy_kwargs={**TINY, "rule": rule, **plastic})
    model.learn(64)
    return model


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_rates_and_shares(probe_module, rule):
    task = load_suite("rl-v0").task("bandit-2")
    model = _model(rule, p_lr=0.2, p_wd=0.05)
    out = probe_module.probe(model, task, episodes=4)
    eta, lam = np.array(out["eta"]), np.array(out["lam"])
    assert len(eta) == len(lam) == 100  # the task's episode length
    # one gate: eta_t = 2 p_lr sigmoid(m_t), lam_t = 2 p_wd sigmoid(m_t)
    np.testing.assert_allclose(eta, lam * 4.0, rtol=1e-6)
    assert np.all((eta > 0) & (eta < 0.4))
    for layer, share in out["share"].items():
        assert share[0] == 0.0, layer  # F_0 = 0 and f_0 = 0 at the episode start
        assert np.all(np.isfinite(share)) and max(share) > 0, layer  # the fast weights grow


def test_ablated_policy_has_no_fast_weights(probe_module):
    task = load_suite("rl-v0").task("bandit-2")
    out = probe_module.probe(ablated_model(_model()), task, episodes=4)
    assert max(out["eta"]) == max(out["lam"]) == 0.0
    assert all(max(share) == 0.0 for share in out["share"].values())


def test_non_plastic_policy_is_refused(probe_module):
    with pytest.raises(ValueError, match="PlasticRecurrentPolicy with a plastic rule"):
        probe_module.probe(_model("none"), load_suite("rl-v0").task("bandit-2"), episodes=2)


def test_main_writes_json_and_figure_and_does_not_overwrite(probe_module, tmp_path, capsys):
    path = save_model(_model(), tmp_path / "bandit-2.zip")
    out = tmp_path / "probe"
    argv = [str(path), "--task", "bandit-2", "--episodes", "3", "--out", str(out), "--no-progress"]
    assert probe_module.main(argv) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["task"] == "bandit-2" and result["episodes"] == 3 and result["rule"] == "hebbian"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1/lam_t" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        probe_module.main(argv)
    assert "refusing to overwrite" in capsys.readouterr().err
    assert probe_module.main([*argv, "--force"]) == 0
