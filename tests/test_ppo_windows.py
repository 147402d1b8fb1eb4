"""PlasticPPO's windowed update: the window plan, recomputed start states, and gradients equal to step-by-step BPTT
truncated at the same window starts."""

from __future__ import annotations

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from plastic_gym.agents import PlasticPPO, PlasticRecurrentPolicy, make_native_vec_env  # noqa: E402
from plastic_gym.agents.ppo import ppo_loss  # noqa: E402
from plastic_gym.agents.ppo_windows import WindowBatch, plan_windows  # noqa: E402

ASSOC = "plastic_gym:PlasticAssoc-v0"
TINY = {"hidden_dim": 12, "latent_dim": 8, "net_arch": [8]}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def test_plan_windows_cuts_at_episode_starts_and_splits_evenly():
    starts = np.zeros((12, 2), bool)
    starts[[0, 7], 0] = True  # env 0: episodes start at 0 and 7
    starts[5, 1] = True  # env 1: the rollout starts mid-episode, an episode starts at 5
    w = plan_windows(starts, max_len=4)
    got = sorted(zip(w.env.tolist(), w.start.tolist(), w.length.tolist(), w.begins_episode.tolist(), strict=True))
    # env 0: [0, 7) -> 3 + 4, [7, 12) -> 2 + 3; env 1: [0, 5) -> 2 + 3, [5, 12) -> 3 + 4
    assert got == [(0, 0, 3, True), (0, 3, 4, False), (0, 7, 2, True), (0, 9, 3, False),
                   (1, 0, 2, False), (1, 2, 3, False), (1, 5, 3, True), (1, 8, 4, False)]
    assert w.needs_recompute.tolist() == [s > 0 and not b for s, b in zip(w.start, w.begins_episode, strict=True)]
    assert plan_windows(starts, max_len=100).length.sum() == 24
    with pytest.raises(ValueError, match="max_len"):
        plan_windows(starts, 0)


def collected(rule: str, cell: str, bptt: int | None, n_steps: int = 11, n_envs: int = 3):
    """A model after two trained rollouts and one more collected without an update: the rollout starts mid-episode
    (episodes of 5 steps) from a nonzero state, and episode starts fall inside it."""
    env = make_native_vec_env(ASSOC, n_envs=n_envs, seed=0, n_cues=2, trial_length=5, stim_dim=4)
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=n_steps, batch_size=2 * n_steps, n_epochs=2, seed=0,
                       bptt_steps=bptt, policy_kwargs={**TINY, "rule": rule, "cell": cell})
    model.learn(2 * n_steps * n_envs)
    model.n_epochs = 0
    model.learn(n_steps * n_envs, reset_num_timesteps=False)
    buf = model.rollout_buffer
    assert np.abs(buf.start_h).sum() > 0 and 0 < buf.episode_starts.sum() < buf.episode_starts.size
    return model


def windowed_outputs(model, rows_first=None):
    """Values and log-probs of the whole rollout through the windowed path, as [n_envs, n_steps] arrays."""
    buf = model.rollout_buffer
    windows = plan_windows(buf.episode_starts, model.window_steps)
    starts = model.window_start_states(windows)
    rows, start = model._order_by_start(starts, windows, np.arange(len(windows.env)))
    data = buf.window_batch(windows, rows)
    start_steps = None if start is None else int(data.lengths[: len(start)].max())
    values, log_prob, _ = model.policy.evaluate_windows(data.observations, data.actions, start, data.n_seq,
                                                        start_steps)
    v = np.zeros((model.n_envs, model.n_steps), np.float32)
    lp = np.zeros_like(v)
    real = data.mask.numpy().reshape(len(rows), -1) > 0
    for i, r in enumerate(rows):  # scatter each window's real steps back to (env, t)
        t = windows.start[r] + np.arange(windows.length[r])
        v[windows.env[r], t] = values.detach().numpy().reshape(len(rows), -1)[i][real[i]]
        lp[windows.env[r], t] = log_prob.detach().numpy().reshape(len(rows), -1)[i][real[i]]
    return v, lp, windows


@pytest.mark.parametrize("rule,cell,bptt", [("hebbian", "rnn", None), ("gradient", "lstm", 3), ("gradient", "rnn", 2)])
def test_windows_reproduce_collection(rule, cell, bptt):
    """Recomputed window-start states + one sequence-form call per group give the values and log-probabilities of
    collection at every step: resets, rollout-start states and recomputed states are right."""
    model = collected(rule, cell, bptt)
    with th.no_grad():
        v, lp, windows = windowed_outputs(model)
    if bptt is not None:
        assert windows.needs_recompute.any()
    buf = model.rollout_buffer
    np.testing.assert_allclose(v, buf.values.T, atol=1e-5)
    np.testing.assert_allclose(lp, buf.log_probs.T, atol=1e-4)


def detached_rows(rows: th.Tensor):
    """A map over state tensors ``[B, ...]`` that detaches the rows set in ``rows`` (bool ``[B]``) from the graph."""
    return lambda x: th.where(rows.view(-1, *([1] * (x.dim() - 1))), x.detach(), x)


def reference_gradients(model, windows) -> dict[str, th.Tensor]:
    """The PPO loss of the whole rollout by a plain loop over steps with ``net.step`` (all envs per step), zeroing
    the state at episode starts and detaching it at window starts; returns its parameter gradients."""
    policy, buf = model.policy, model.rollout_buffer
    core = policy.core
    T, E = buf.buffer_size, buf.n_envs
    cut = np.zeros((T, E), bool)
    cut[windows.start, windows.env] = True
    state = core.unpack((buf.to_torch(buf.start_h)[None], buf.to_torch(buf.start_c)[None]))
    values, log_probs, entropies = [], [], []
    for t in range(T):
        state = state.reset_where(th.as_tensor(buf.episode_starts[t] > 0.5))
        state = state.map(detached_rows(th.as_tensor(cut[t])))
        latent, state = core.net.step(policy.extract_features(buf.to_torch(buf.observations[t])), state)
        dist = policy._get_action_dist_from_latent(policy.mlp_extractor.forward_actor(latent))
        values.append(policy.value_net(policy._critic_latent(latent)).flatten())
        log_probs.append(dist.log_prob(buf.to_torch(buf.actions[t])))
        entropies.append(dist.entropy())
    flat = lambda a: buf.to_torch(a).flatten()  # noqa: E731  (time-major, as the per-step lists)
    data = WindowBatch(None, None, flat(buf.values), flat(buf.log_probs), flat(buf.advantages), flat(buf.returns),
                       th.ones(T * E), E, T, np.full(E, T))
    loss, _ = ppo_loss(th.cat(values), th.cat(log_probs), th.cat(entropies), data, 0.2, None, ent_coef=0.01,
                       vf_coef=0.5)
    policy.optimizer.zero_grad()
    loss.backward()
    return {k: p.grad.clone() for k, p in policy.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("rule,cell,bptt", [("hebbian", "rnn", 2), ("gradient", "rnn", 3), ("gradient", "lstm", 2),
                                            ("hebbian", "lstm", None)])
def test_windowed_gradients_equal_truncated_bptt(rule, cell, bptt):
    """The windowed update's gradient (all windows in one minibatch) equals BPTT through a step-by-step loop truncated
    at the same window starts, at 1e-5: windows inside episodes, episode starts and the rollout start included."""
    model = collected(rule, cell, bptt)
    model.ent_coef = 0.01  # as in reference_gradients
    buf = model.rollout_buffer
    windows = plan_windows(buf.episode_starts, model.window_steps)
    assert (~windows.begins_episode & (windows.start == 0)).any() and windows.begins_episode.any()
    if bptt is not None:
        assert windows.needs_recompute.any()
    starts = model.window_start_states(windows)
    rows, start = model._order_by_start(starts, windows, np.random.default_rng(0).permutation(len(windows.env)))
    loss, _ = model.minibatch_loss(buf.window_batch(windows, rows), start, 0.2, None)
    model.policy.optimizer.zero_grad()
    loss.backward()
    fast = {k: p.grad.clone() for k, p in model.policy.named_parameters() if p.grad is not None}
    ref = reference_gradients(model, windows)
    assert set(fast) == set(ref) and any("alpha_weight" in k for k in fast)
    for k in ref:
        np.testing.assert_allclose(fast[k].numpy(), ref[k].numpy(), atol=1e-5, rtol=1e-4, err_msg=k)


def test_windowed_gradients_with_episode_starts_that_differ_per_env():
    """The same equality when every env has its own episode starts (not lockstep): windows of different envs start at
    different steps, so the no-grad pass records states at many cuts and a minibatch mixes all kinds of windows."""
    model = collected("gradient", "rnn", 3, n_steps=13, n_envs=4)
    model.ent_coef = 0.01  # as in reference_gradients
    buf = model.rollout_buffer
    rng = np.random.default_rng(1)
    buf.episode_starts[:] = rng.random(buf.episode_starts.shape) < 0.2
    buf.episode_starts[0, 0] = 1.0
    windows = plan_windows(buf.episode_starts, model.window_steps)
    assert len(np.unique(windows.start[windows.needs_recompute])) >= 4
    starts = model.window_start_states(windows)
    rows, start = model._order_by_start(starts, windows, rng.permutation(len(windows.env)))
    loss, _ = model.minibatch_loss(buf.window_batch(windows, rows), start, 0.2, None)
    model.policy.optimizer.zero_grad()
    loss.backward()
    fast = {k: p.grad.clone() for k, p in model.policy.named_parameters() if p.grad is not None}
    ref = reference_gradients(model, windows)
    for k in ref:
        np.testing.assert_allclose(fast[k].numpy(), ref[k].numpy(), atol=1e-5, rtol=1e-4, err_msg=k)


def test_windows_bound_the_truncation():
    """A shorter window changes the gradient (BPTT is cut at more places): the comparison above is not vacuous."""
    model = collected("hebbian", "rnn", 2)
    buf = model.rollout_buffer
    grads = []
    for window in (2, 11):
        windows = plan_windows(buf.episode_starts, window)
        grads.append(reference_gradients(model, windows))
    assert any(not th.allclose(grads[0][k], grads[1][k], atol=1e-6) for k in grads[0] if "alpha" in k)


def test_window_start_states_are_transient_and_follow_parameters():
    """The recomputed states depend on the current parameters (recomputed each epoch), not on stored copies."""
    model = collected("hebbian", "rnn", 2)
    windows = plan_windows(model.rollout_buffer.episode_starts, model.window_steps)
    before = model.window_start_states(windows)
    with th.no_grad():
        for p in model.policy.core.parameters():
            p.add_(0.05)
    after = model.window_start_states(windows)
    need = th.as_tensor(windows.needs_recompute)
    stored = th.as_tensor(~windows.begins_episode & (windows.start == 0))
    assert not th.allclose(before[need], after[need])
    assert th.equal(before[stored], after[stored])  # rollout-start states are the stored ones
    assert float(after[th.as_tensor(windows.begins_episode)].abs().sum()) == 0.0  # episode starts: zero
    assert not any(k.startswith("window") for k in model.rollout_buffer.storage_arrays())


def test_bad_window_arguments():
    env = make_native_vec_env(ASSOC, n_envs=2, seed=0, n_cues=2, trial_length=4, stim_dim=4)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="bptt_steps"):
            PlasticPPO(PlasticRecurrentPolicy, env, n_steps=8, bptt_steps=bad)
    with pytest.raises(ValueError, match="batch_size"):
        PlasticPPO(PlasticRecurrentPolicy, env, n_steps=32, bptt_steps=16, batch_size=8)
    assert PlasticPPO(PlasticRecurrentPolicy, env, n_steps=8, bptt_steps=32, batch_size=8).window_steps == 8
