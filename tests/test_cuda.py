"""The plastic network, the meta-trainer and the PPO policies on a CUDA device (issue 17, part 3).

Every test here is skipped where torch sees no CUDA device; ``benchmarks/gpu_check.sh`` runs them on a GPU machine.
The CUDA results are compared with the CPU (the literal reference network, or the same model moved back), so a
device-specific bug shows as a mismatch, not only as a crash.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

from test_plastic_network import assert_rel_close, assert_states_close, grads, inputs, make_pair, outer_loss  # noqa: E402

from plastic_gym.agents import PlasticNetwork  # noqa: E402
from plastic_gym.agents.checkpoint import load_checkpoint, load_model  # noqa: E402
from plastic_gym.agents.trainer import CHECKPOINT_NAME, TrainConfig, Trainer, predict, train  # noqa: E402

CUDA = torch.device("cuda")


@pytest.mark.parametrize("cell,rule", list(itertools.product(["rnn", "lstm"], ["hebbian", "gradient", "none"])))
@pytest.mark.parametrize("output_dim", [2, 14], ids=["dense-output", "history-output"])
@pytest.mark.parametrize("gradient_scale", ["sample", "paper"])
def test_sequence_form_on_cuda_matches_the_reference_on_cpu(cell, rule, output_dim, gradient_scale):
    """float64 on both devices: outputs, final state and every parameter's gradient at 1e-5; the step form on CUDA
    equals the sequence form on CUDA."""
    if gradient_scale == "paper" and rule != "gradient":
        pytest.skip("the paper's scale applies to the gradient rule only")
    fast, ref = make_pair(cell=cell, rule=rule, output_dim=output_dim, gradient_scale=gradient_scale)
    fast = fast.to(CUDA)
    x = inputs() * 2.0
    out_f, st_f = fast(x.to(CUDA))
    out_r, st_r = ref(x)
    assert out_f.device.type == "cuda" and st_f.device.type == "cuda"
    assert_rel_close(out_f.cpu(), out_r, "outputs")
    assert_states_close(st_f.to("cpu"), st_r)
    g_f, g_r = grads(fast, outer_loss(out_f, st_f)), grads(ref, outer_loss(out_r, st_r))
    for name in g_r:
        assert_rel_close(g_f[name].cpu(), g_r[name], f"grad {name}")
    state, outs = fast.initial_state(x.shape[0]), []
    assert state.device.type == "cuda"
    for t in range(x.shape[1]):
        o, state = fast.step(x[:, t].to(CUDA), state)
        outs.append(o)
    assert_rel_close(torch.stack(outs, 1), out_f, "step form", 1e-10)


def test_float32_sequence_form_on_cuda_is_close_to_cpu():
    """The precision training uses: float32 on CUDA against float32 on the CPU, same weights and inputs."""
    from plastic_gym.agents import PlasticConfig

    cfg = PlasticConfig(input_dim=6, output_dim=1, hidden_dim=64, rule="gradient")
    torch.manual_seed(0)
    cpu = PlasticNetwork(cfg)
    gpu = PlasticNetwork(cfg).to(CUDA)
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(8, 30, 6)
    with torch.no_grad():
        out_c, _ = cpu(x)
        out_g, _ = gpu(x.to(CUDA))
    torch.testing.assert_close(out_g.cpu(), out_c, rtol=1e-3, atol=1e-4)


def test_trainer_on_cuda_writes_checkpoints_that_load_on_cpu(tmp_path):
    cfg = dict(hidden_dim=8, batch_size=8, val_episodes=16, val_every=2)
    trainer = train(TrainConfig("PlasticAssoc-v0", rule="gradient", steps=2, device="cuda", **cfg), tmp_path,
                    progress=False)
    assert next(trainer.model.parameters()).device.type == "cuda"
    assert trainer.summary()["device"].startswith("cuda")
    ckpt = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    tensors = [v for v in ckpt["state_dict"].values()]
    tensors += [v for s in ckpt["optimizer"]["state"].values() for v in s.values() if isinstance(v, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    raw = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)  # no map_location: the file itself is CPU-only
    assert all(v.device.type == "cpu" for v in raw["state_dict"].values())
    model, task, _ = load_model(tmp_path / CHECKPOINT_NAME)
    episodes = task.sample(4, 3)
    np.testing.assert_allclose(predict(model, episodes), predict(trainer.model, episodes), rtol=1e-4, atol=1e-5)
    # a CUDA run resumes on the CPU (and would on CUDA again): the device is not part of the run's identity
    resumed = Trainer(TrainConfig("PlasticAssoc-v0", rule="gradient", steps=4, device="cpu", **cfg), tmp_path,
                      resume=tmp_path / CHECKPOINT_NAME, progress=False)
    resumed.run()
    assert resumed.step == 4 and next(resumed.model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("algo_name", ["RecurrentPPO", "PlasticPPO"])
@pytest.mark.parametrize("rule,cell", [("hebbian", "rnn"), ("gradient", "lstm")])
def test_ppo_policies_on_cuda(algo_name, rule, cell, tmp_path):
    """Both PPO paths learn on CUDA (every parameter there and moving), save, and act the same after loading on the
    CPU (continuous actions, so a tolerance covers the devices' float differences)."""
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import RecurrentPPO

    from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env
    from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy

    algo = {"RecurrentPPO": RecurrentPPO, "PlasticPPO": PlasticPPO}[algo_name]
    env_kw = {"n_cues": 2, "trial_length": 4, "stim_dim": 4}
    env = make_plastic_vec_env("plastic_gym:PlasticAssoc-v0", n_envs=3, seed=0, **env_kw)
    model = algo(PlasticRecurrentPolicy, env, n_steps=10, n_epochs=2, batch_size=20, seed=0, device="cuda",
                 policy_kwargs={"hidden_dim": 12, "latent_dim": 8, "net_arch": [8], "rule": rule, "cell": cell})
    assert all(p.device.type == "cuda" for p in model.policy.parameters())
    before = {k: v.detach().clone() for k, v in model.policy.named_parameters()}
    model.learn(60)
    moved = [k for k, v in model.policy.named_parameters() if not torch.equal(v, before[k])]
    assert any("alpha_weight" in k for k in moved)
    model.save(tmp_path / "model")
    loaded = algo.load(tmp_path / "model", device="cpu")
    assert all(p.device.type == "cpu" for p in loaded.policy.parameters())

    def rollout(m):
        e = make_plastic_vec_env("plastic_gym:PlasticAssoc-v0", n_envs=3, seed=5, **env_kw)
        obs, state, start, actions = e.reset(), None, np.ones(3, bool), []
        for _ in range(12):
            action, state = m.predict(obs, state=state, episode_start=start, deterministic=True)
            actions.append(action)
            obs, _, start, _ = e.step(action)
        return np.stack(actions)

    np.testing.assert_allclose(rollout(loaded), rollout(model), rtol=1e-3, atol=1e-4)
