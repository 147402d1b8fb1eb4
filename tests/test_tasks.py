"""The task statistics that SPEC section 3 fixes, for the vector-observation tasks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plastic_gym
from plastic_gym.core.task import DELAY, QUERY, STUDY


# -- PlasticCopy-v0 ----------------------------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 8), m=st.integers(0, 6), d=st.integers(1, 3), seed=st.integers(0, 2**32))
def test_copy_layout(n, m, d, seed):
    task = plastic_gym.make_task("PlasticCopy-v0", seq_length=n, delay=m, dim=d)
    ep = task.sample(3, seed)
    T = 2 * n + m
    assert task.episode_length == T and ep.obs.shape == (3, T, d + 2)
    values, study_flag, recall_flag = ep.obs[..., :d], ep.obs[..., d], ep.obs[..., d + 1]
    np.testing.assert_array_equal(study_flag, np.tile(np.r_[np.ones(n), np.zeros(n + m)], (3, 1)))
    np.testing.assert_array_equal(recall_flag, np.tile(np.r_[np.zeros(n + m), np.ones(n)], (3, 1)))
    assert not values[:, n:].any()  # nothing shown after the study phase
    np.testing.assert_array_equal(ep.target[:, n + m:], values[:, :n])  # recall the studied values in order
    assert not ep.target[:, :n + m].any()
    np.testing.assert_array_equal(ep.scored, recall_flag == 1)
    np.testing.assert_array_equal(ep.phase[0], np.r_[[STUDY] * n, [DELAY] * m, [QUERY] * n])


def test_copy_values_are_uniform_and_references():
    task = plastic_gym.make_task("PlasticCopy-v0")
    ep = task.sample(500, 0)
    s = ep.obs[:, :20, 0]
    assert s.min() >= -1 and s.max() < 1 and abs(s.mean()) < 0.02 and abs(s.var() - 1 / 3) < 0.01
    no_memory = task.episode_metrics(task.no_memory_actions(ep), ep)["recall_mse"].mean()
    assert no_memory == pytest.approx(1 / 3, abs=0.01)
    assert task.episode_metrics(task.oracle_actions(ep), ep)["recall_mse"].max() == 0


# -- PlasticAssoc-v0 ---------------------------------------------------------------------------------------------------
def test_assoc_layout_and_statistics():
    task = plastic_gym.make_task("PlasticAssoc-v0")
    ep = task.sample(2000, 1)
    d, T = task.stim_dim, task.trial_length
    cue, stimuli, rewards = ep.extras["cue"], ep.extras["stimuli"], ep.extras["cue_rewards"]
    rows = np.arange(ep.batch_size)[:, None]
    query = np.arange(T) >= T // 2
    np.testing.assert_array_equal(ep.obs[..., d + 1], np.broadcast_to(query, (ep.batch_size, T)))  # query flag
    np.testing.assert_array_equal(ep.obs[:, ~query, d], rewards[rows, cue][:, ~query])  # reward shown in study
    assert not ep.obs[:, query, d].any()  # ... and hidden in query
    np.testing.assert_array_equal(ep.target[..., 0], rewards[rows, cue])  # target: the cue's reward, every step
    np.testing.assert_array_equal(ep.scored, np.broadcast_to(query, ep.scored.shape))
    noise = ep.obs[..., :d] - stimuli[rows, cue]
    assert abs(noise.std() - task.noise) < 0.002 and abs(noise.mean()) < 0.002
    assert stimuli.min() >= 0 and stimuli.max() < 1 and abs(stimuli.mean() - 0.5) < 0.01
    assert rewards.min() >= -1 and rewards.max() < 1 and abs(rewards.var() - 1 / 3) < 0.01
    np.testing.assert_allclose(np.bincount(cue.ravel(), minlength=5) / cue.size, 0.2, atol=0.005)


def test_assoc_references_match_the_spec():
    task = plastic_gym.make_task("PlasticAssoc-v0")
    ep = task.sample(4000, 2)
    oracle = task.episode_metrics(task.oracle_actions(ep), ep)["query_mse"].mean()
    assert oracle == pytest.approx((4 / 5) ** 10 / 3, rel=0.1)  # a cue never studied cannot be known
    no_memory = task.episode_metrics(task.no_memory_actions(ep), ep)["query_mse"].mean()
    assert no_memory == pytest.approx(1 / 3, rel=0.05)


def test_assoc_noise_zero_shows_clean_stimuli():
    task = plastic_gym.make_task("PlasticAssoc-v0", noise=0.0, n_cues=3, stim_dim=4, trial_length=6)
    ep = task.sample(5, 0)
    rows = np.arange(5)[:, None]
    np.testing.assert_array_equal(ep.obs[..., :4], ep.extras["stimuli"][rows, ep.extras["cue"]])


# -- PlasticRegression-v0 / PlasticRegressionMLP-v0 --------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["PlasticRegression-v0", "PlasticRegressionMLP-v0"])
def test_regression_layout_and_z_scoring(env_id):
    task = plastic_gym.make_task(env_id)
    ep = task.sample(1000, 3)
    n, n_train, T = task.n_var, task.train_length, task.episode_length
    x, shown, flag, y = ep.obs[..., :n], ep.obs[..., n], ep.obs[..., n + 1], ep.target[..., 0]
    train = np.arange(T) < n_train
    np.testing.assert_array_equal(flag, np.broadcast_to(train, flag.shape))  # flag 1 on train steps
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-5)  # z-scored over the episode's points
    np.testing.assert_allclose(y.std(1), 1, atol=1e-4)
    assert not shown[:, ~train].any()
    assert abs((shown[:, train] - y[:, train]).std() - task.noise) < 0.003
    assert x.min() >= -1 and x.max() < 1 and abs(x.var() - 1 / 3) < 0.01
    np.testing.assert_array_equal(ep.scored, np.broadcast_to(~train, ep.scored.shape))
    no_memory = task.episode_metrics(task.no_memory_actions(ep), ep)["test_mse"].mean()
    assert no_memory == pytest.approx(1.0, abs=0.05)


def test_linear_regression_target_is_exactly_linear():
    task = plastic_gym.make_task("PlasticRegression-v0")
    ep = task.sample(20, 4)
    design = np.concatenate([ep.obs[..., :12], np.ones((20, 40, 1), np.float32)], -1).astype(np.float64)
    y = ep.target[..., 0].astype(np.float64)
    beta = np.linalg.lstsq(design[0], y[0], rcond=None)[0]
    assert np.abs(design[0] @ beta - y[0]).max() < 1e-5


def test_mlp_target_is_not_linear_and_oracles_beat_no_memory():
    mlp = plastic_gym.make_task("PlasticRegressionMLP-v0")
    ep = mlp.sample(200, 5)
    design = np.concatenate([ep.obs[..., :6], np.ones((200, 40, 1), np.float32)], -1).astype(np.float64)
    y = ep.target[..., 0].astype(np.float64)
    residual = y - np.einsum("btn,bn->bt", design, np.linalg.lstsq(design[0], y[0], rcond=None)[0][None].repeat(200, 0))
    assert np.abs(residual[0]).max() > 1e-3  # tanh units make it non-linear
    assert mlp.episode_metrics(mlp.oracle_actions(ep), ep)["test_mse"].mean() < 0.2
    linear = plastic_gym.make_task("PlasticRegression-v0")
    ep = linear.sample(500, 6)
    assert linear.episode_metrics(linear.oracle_actions(ep), ep)["test_mse"].mean() < 0.05


def test_regression_function_is_fresh_per_episode():
    task = plastic_gym.make_task("PlasticRegression-v0", noise=0.0)
    ep = task.sample(2, 7)
    assert not np.allclose(ep.target[0], ep.target[1])
