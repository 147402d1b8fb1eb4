"""The interactive meta-RL tasks (SPEC section 6): contract, env views, seeding, errors and the references' scores."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import plastic_gym
from plastic_gym.core.interactive import InteractiveTask, rollout
from plastic_gym.core.rng import seed_keys

#: (id, kwargs) of every registered interactive id and its variants (small sizes keep the tests fast).
CASES = [
    ("PlasticBandit-v0", {}),
    ("PlasticBandit-v0", {"n_arms": 10, "horizon": 12}),
    ("PlasticBandit-v0", {"reversal_at": "random", "horizon": 12}),
    ("PlasticBandit-v0", {"prior": "correlated", "reversal_at": 3, "horizon": 8}),
    ("PlasticHarlow-v0", {}),
    ("PlasticHarlow-v0", {"objects": "glyphs", "n_trials": 3, "image_size": 8}),
    ("PlasticMaze-v0", {}),
]
CASE_IDS = [f"{i}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for i, kw in CASES]


def keys(n: int, seed: int = 0) -> np.ndarray:
    return seed_keys(seed * 100_000 + np.arange(n))


def assert_equal_tree(a, b):
    """Equal nested dicts of arrays; gymnasium's per-env object arrays (``final_obs``) are compared stacked."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_equal_tree(a[k], b[k])
        return
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_equal_tree(x, y)
        return
    a, b = (np.stack(list(x)) if isinstance(x, np.ndarray) and x.dtype == object else x for x in (a, b))
    np.testing.assert_array_equal(a, b)


def test_registered_ids():
    assert plastic_gym.RL_ENV_IDS[0] == "PlasticBandit-v0"
    assert not set(plastic_gym.RL_ENV_IDS) & set(plastic_gym.ENV_IDS)  # suite v0 is unchanged
    for env_id in plastic_gym.RL_ENV_IDS:
        task = plastic_gym.make_task(env_id)
        assert isinstance(task, InteractiveTask) and task.kind == "interactive"
        assert {"no_memory", "oracle"} <= task.references.keys()
        assert task.references["oracle"].privileged
        assert not any(cls.privileged for name, cls in task.references.items() if name != "oracle")
        assert type(task).from_kwargs(**task.kwargs).kwargs == task.kwargs
        assert isinstance(task.observation_space, gym.spaces.Box) and task.observation_space.dtype == np.float32
        assert isinstance(task.action_space, gym.spaces.Discrete)


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_check_env_and_render_modes(env_id, kwargs):
    for mode in [None, "ansi", "rgb_array"]:
        env = gym.make(env_id, render_mode=mode, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the spaces are exact: no checker warning either
            check_env(env.unwrapped)
        if mode is not None:
            env.reset(seed=0)
            env.step(1)
            frame = env.render()
            if mode == "ansi":
                assert frame.count("t=  ") == 2 and "action=1" in frame
            else:
                assert frame.dtype == np.uint8 and frame.ndim == 3
        env.close()


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_vector_env_matches_sync_vector_env(env_id, kwargs, mode):
    """Env i of the native vector env reset with seed s plays gym.make(id).reset(seed=s + i), over several episodes
    with autoreset: observations, rewards, terminations, truncations and infos are identical."""
    n, seed = 3, 7
    native = gym.make_vec(env_id, num_envs=n, autoreset_mode=mode, **kwargs)
    assert isinstance(native.unwrapped, plastic_gym.envs.InteractiveVectorEnv)
    sync = gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)], autoreset_mode=mode)
    assert_equal_tree(native.reset(seed=seed), sync.reset(seed=seed))
    rng = np.random.default_rng(seed)
    horizon = native.unwrapped.task.episode_length
    ends = 0
    for _ in range(2 * horizon + 3):  # two whole episodes and their autoresets
        actions = rng.integers(0, native.single_action_space.n, size=n)
        got, want = native.step(actions), sync.step(actions)
        for a, b in zip(got, want, strict=True):
            assert_equal_tree(a, b)
        ends += bool(got[2].any())
    assert ends >= 2


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_same_key_same_actions_same_episode_for_any_batch(env_id, kwargs):
    """Row i depends only on keys[i] and its actions; advance never writes into the state it is given."""
    task = plastic_gym.make_task(env_id, **kwargs)
    k = keys(5, 1)
    actions = np.random.default_rng(0).integers(0, task.n_actions, size=(task.episode_length, 5))
    big, obs_big = task.start_keys(k)
    one, obs_one = task.start_keys(k[3:4])
    np.testing.assert_array_equal(obs_big[3:4], obs_one)
    for t in range(task.episode_length):
        old, before = big, {name: np.copy(v) for name, v in big.items()}
        big, obs_big, r_big, d_big, info_big = task.advance(big, actions[t])
        for name, v in before.items():
            np.testing.assert_array_equal(old[name], v)
        one, obs_one, r_one, d_one, info_one = task.advance(one, actions[t, 3:4])
        np.testing.assert_array_equal(obs_big[3:4], obs_one)
        np.testing.assert_array_equal(r_big[3:4], r_one)
        assert r_big.dtype == np.float64 and d_big.dtype == bool and d_big.shape == (5,)
        assert d_big.all() == (t == task.episode_length - 1) and d_big.all() == d_big.any()
    for name in info_big["episode_metrics"]:
        np.testing.assert_array_equal(info_big["episode_metrics"][name][3:4], info_one["episode_metrics"][name])
    assert info_big["is_success"].dtype == bool
    assert not np.any(obs_big)  # the observation after the last step is all zeros
    with pytest.raises(RuntimeError, match="ended"):
        task.advance(big, actions[0])
    state, obs = task.start(5, 3)
    np.testing.assert_array_equal(obs, task.start(5, 3)[1])
    np.testing.assert_array_equal(state["keys"], task.start(5, np.random.default_rng(3))[0]["keys"])


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_observation_shows_previous_action_reward_and_time(env_id, kwargs):
    task = plastic_gym.make_task(env_id, **kwargs)
    state, obs = task.start_keys(keys(4))
    _, prev, reward, t = task.split_obs(obs)
    assert (prev == -1).all() and (reward == 0).all() and (t == 0).all()
    actions = np.arange(4) % task.n_actions
    state, obs, r, _, _ = task.advance(state, actions)
    _, prev, reward, t = task.split_obs(obs)
    np.testing.assert_array_equal(prev, actions)
    np.testing.assert_allclose(reward, r, rtol=1e-6)
    assert (t == 1).all() and np.all([o in task.observation_space for o in obs])


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_episode_return_matches_metrics_and_env(env_id, kwargs):
    """The env's rewards sum to the episode's return; the env plays the task's episode of its seed key."""
    env = gym.make(env_id, **kwargs)
    task = env.unwrapped.task
    obs, _ = env.reset(seed=11)
    state, obs0 = task.start_keys(seed_keys([11]))
    np.testing.assert_array_equal(obs, obs0[0])
    total, rng = 0.0, np.random.default_rng(1)
    for _ in range(task.episode_length):
        a = int(rng.integers(task.n_actions))
        obs, reward, terminated, truncated, info = env.step(a)
        state, obs1, r1, _, _ = task.advance(state, [a])
        assert reward == r1[0] and type(terminated) is bool and not truncated
        np.testing.assert_array_equal(obs, obs1[0])
        total += reward
    assert terminated and type(info["is_success"]) is bool
    assert state["return"][0] == pytest.approx(total)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


def test_step_before_reset_and_bad_actions_raise():
    env = gym.make("PlasticBandit-v0", n_arms=3, disable_env_checker=True).unwrapped
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    for bad, match in [(3, r"\[0, 3\)"), (-1, r"\[0, 3\)"), (1.5, "integers"), ([0, 1], "shape"), ("a", "integers")]:
        with pytest.raises(ValueError, match=match):
            env.step(bad)
    envs = gym.make_vec("PlasticBandit-v0", num_envs=4)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        envs.step(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="integers"):
        envs.step(np.full(4, np.nan))
    task = plastic_gym.make_task("PlasticBandit-v0")
    with pytest.raises(ValueError, match="batch_size"):
        task.start(0)


@pytest.mark.parametrize("env_id, kwargs, match", [
    ("PlasticBandit-v0", {"n_arms": 1}, "n_arms"),
    ("PlasticBandit-v0", {"n_arms": 2.0}, "n_arms"),
    ("PlasticBandit-v0", {"horizon": 0}, "horizon"),
    ("PlasticBandit-v0", {"prior": "beta"}, "prior"),
    ("PlasticBandit-v0", {"prior": "correlated", "n_arms": 3}, "correlated"),
    ("PlasticBandit-v0", {"reversal_at": 100}, "reversal_at"),
    ("PlasticBandit-v0", {"reversal_at": 0}, "reversal_at"),
    ("PlasticBandit-v0", {"reversal_at": "sometimes"}, "reversal_at"),
    ("PlasticBandit-v0", {"arms": 2}, "unknown kwarg"),
    ("PlasticHarlow-v0", {"n_trials": 1}, "n_trials"),
    ("PlasticHarlow-v0", {"object_dim": 0}, "object_dim"),
    ("PlasticHarlow-v0", {"objects": "pictures"}, "objects"),
    ("PlasticHarlow-v0", {"image_size": 4}, "image_size"),
    ("PlasticHarlow-v0", {"image_size": 65}, "image_size"),
    ("PlasticMaze-v0", {"horizon": 0}, "horizon"),
    ("PlasticMaze-v0", {"size": 9}, "unknown kwarg"),
])
def test_bad_kwargs_raise(env_id, kwargs, match):
    """Every view validates the task kwargs: the env, the native vector env and make_task."""
    for make in (gym.make, lambda i, **kw: gym.make_vec(i, num_envs=2, **kw), plastic_gym.make_task):
        with pytest.raises(ValueError, match=match):
            make(env_id, **kwargs)


def test_non_privileged_references_read_only_obs():
    """rollout hands non-privileged references None as the task state; the oracle reads the state."""
    for env_id in plastic_gym.RL_ENV_IDS:
        task = plastic_gym.make_task(env_id)
        state, obs = task.start_keys(keys(3))
        for name, cls in task.references.items():
            policy = cls(task)
            pstate = policy.reset(3, np.random.default_rng(0))
            actions, _ = policy.act(state if policy.privileged else None, obs, pstate)
            assert actions.shape == (3,) and np.issubdtype(actions.dtype, np.integer), name
            assert np.all((actions >= 0) & (actions < task.n_actions)), name


@pytest.mark.parametrize("env_id, name", [("PlasticBandit-v0", "ucb1"), ("PlasticBandit-v0", "oracle"),
                                           ("PlasticMaze-v0", "explore_exploit"), ("PlasticMaze-v0", "oracle")])
def test_references_as_agents_on_the_vector_env(env_id, name):
    """A reference plays the native vector env across an autoreset without being reset (a new episode shows no
    previous action, which restarts its memory) and scores what rollout scores on the same keys: the vector env
    plays the task's episodes of seed_keys(s + i), then of their successor keys."""
    from plastic_gym.core.rng import next_keys

    n, seed = 6, 21
    envs = gym.make_vec(env_id, num_envs=n, horizon=30)
    task = envs.unwrapped.task
    policy = task.references[name](task)
    pstate = policy.reset(n, np.random.default_rng(0))
    obs, _ = envs.reset(seed=seed)
    played = []
    while len(played) < 2:
        actions, pstate = policy.act(envs.unwrapped.state if policy.privileged else None, obs, pstate)
        obs, _, terminated, _, info = envs.step(actions)
        if terminated.all():
            played.append(info["episode_metrics"][task.primary_metric])
    first = seed_keys(seed + np.arange(n, dtype=object))
    for got, k in zip(played, [first, next_keys(first)], strict=True):
        np.testing.assert_array_equal(got, rollout(task, task.references[name](task), k, 0)[task.primary_metric])


def bandit_scores(n_episodes: int, **kwargs) -> dict[str, dict[str, np.ndarray]]:
    task = plastic_gym.make_task("PlasticBandit-v0", **kwargs)
    k = keys(n_episodes, 5)
    return {name: rollout(task, cls(task), k, 0) for name, cls in task.references.items()}


def test_bandit_reference_scores():
    """2 arms, independent priors, T = 100, 2000 episodes.

    Random: the regret per episode is d * N with d = |p_0 - p_1| (E d = 1/3, E d^2 = 1/6) and N ~ Bin(T, 1/2) the
    pulls of the worse arm, so E = T/6 and Var = E[d^2] E[N^2] - (E[d] E[N])^2 = T/24 + T^2/72 (143.1 at T = 100):
    the mean of 2000 episodes has a standard error of 0.267; the test allows 4 of them.
    """
    n, T = 2000, 100
    scores = bandit_scores(n)
    regret = {name: m["regret"].mean() for name, m in scores.items()}
    se = np.sqrt((T / 24 + T**2 / 72) / n)
    assert regret["no_memory"] == pytest.approx(T / 6, abs=4 * se)
    assert scores["no_memory"]["regret"].std() ** 2 == pytest.approx(T / 24 + T**2 / 72, rel=0.1)
    assert (scores["oracle"]["regret"] == 0).all()
    assert regret["thompson"] < regret["ucb1"] < regret["no_memory"]
    assert regret["wsls"] < regret["no_memory"]
    # The episodes' rewards are the same random numbers for every policy: the oracle's reward is the best possible.
    assert scores["oracle"]["reward"].mean() > scores["thompson"]["reward"].mean()


def test_bandit_correlated_random_regret_and_reversal():
    """Correlated prior: E|p - (1 - p)| / 2 = 1/4 per step for the random policy (Var of one episode below 0.1 T^2).
    With a random reversal, the sliding-window Thompson sampler beats the plain one, which keeps exploiting the
    arm that was best before the reversal."""
    T, n = 40, 1000
    random = bandit_scores(n, prior="correlated", horizon=T)["no_memory"]["regret"]
    assert random.mean() == pytest.approx(T / 4, abs=4 * np.sqrt(0.1 * T**2 / n))
    scores = bandit_scores(n, reversal_at="random")
    regret = {name: m["regret"].mean() for name, m in scores.items()}
    assert (scores["oracle"]["regret"] == 0).all()
    assert regret["thompson_window"] < regret["thompson"] < regret["no_memory"]


@pytest.mark.parametrize("objects", ["vectors", "glyphs"])
def test_harlow_reference_scores(objects):
    """Chance is 1/2 per trial after the first: 1000 episodes x 5 trials give a standard error of 0.0071 for the
    random policy's accuracy_after_first (the test allows 4). Slot-level win-stay lose-shift is at chance too
    (the slots are reshuffled); the object-level explore-then-exploit and the oracle are exactly 1."""
    task = plastic_gym.make_task("PlasticHarlow-v0", objects=objects, image_size=12)
    k = keys(1000, 9)
    scores = {name: rollout(task, cls(task), k, 0)["accuracy_after_first"] for name, cls in task.references.items()}
    se = np.sqrt(0.25 / (1000 * (task.n_trials - 1)))
    assert scores["no_memory"].mean() == pytest.approx(0.5, abs=4 * se)
    assert scores["wsls"].mean() == pytest.approx(0.5, abs=4 * se)
    assert (scores["explore_exploit"] == 1).all() and (scores["oracle"] == 1).all()


def test_harlow_slots_shuffle_and_objects_stay():
    """Within an episode the two objects are the same every trial, in random slots (both orders occur); the
    rewarded object's slot is what pays."""
    task = plastic_gym.make_task("PlasticHarlow-v0", n_trials=40)
    state, obs = task.start_keys(keys(2))
    D = task.object_size
    pair = {obs[0, :D].tobytes(), obs[0, D:2 * D].tobytes()}
    lefts = []
    for _ in range(task.n_trials):
        slot = task.rewarded_slot(state)
        lefts.append(obs[0, :D].tobytes())
        assert {obs[0, :D].tobytes(), obs[0, D:2 * D].tobytes()} == pair
        state, obs, reward, _, info = task.advance(state, slot)
        assert (reward == 1).all() and info["correct"].all()
    assert len(set(lefts)) == 2


def test_maze_layout_tables_match_a_plain_breadth_first_search():
    """The vectorized all-pairs table equals a textbook BFS from every cell; next_action steps one closer."""
    from collections import deque

    from plastic_gym.tasks.maze import MOVES, layout

    lay = layout()
    assert lay.n_cells == 65 and lay.walls[0].all() and lay.walls[2, 2] and not lay.walls[1, 1]
    index = {tuple(c): i for i, c in enumerate(lay.cells)}
    for source in range(lay.n_cells):
        dist, queue = {source: 0}, deque([source])
        while queue:
            cell = queue.popleft()
            for step in MOVES:
                nxt = index.get(tuple(lay.cells[cell] + step))
                if nxt is not None and nxt not in dist:
                    dist[nxt] = dist[cell] + 1
                    queue.append(nxt)
        np.testing.assert_array_equal(lay.dist[source], [dist[c] for c in range(lay.n_cells)])
    goal = np.arange(lay.n_cells)
    for cell in range(lay.n_cells):
        step = lay.move[cell, lay.next_action[cell]]  # [C]
        off = goal != cell
        np.testing.assert_array_equal(lay.dist[step, goal][off], lay.dist[cell, goal][off] - 1)


def test_maze_dynamics():
    """A wall costs 0.1 and the agent stays; the reward cell pays 10 and teleports the agent to another cell."""
    task = plastic_gym.make_task("PlasticMaze-v0")
    lay = task.layout
    state, obs = task.start_keys(keys(64))
    assert (state["pos"] != state["goal"]).all()
    np.testing.assert_array_equal(obs[:, :9], lay.view[state["pos"]])
    north_wall = lay.blocked[state["pos"], 0]
    after, _, reward, _, info = task.advance(state, np.zeros(64, np.int64))
    np.testing.assert_array_equal(info["bump"], north_wall)
    np.testing.assert_allclose(reward[north_wall], -0.1)
    np.testing.assert_array_equal(after["pos"][north_wall], state["pos"][north_wall])
    hits = 0
    for _ in range(40):  # the oracle's moves: every hit pays 10 and lands elsewhere
        before = state
        state, _, reward, _, info = task.advance(state, lay.next_action[state["pos"], state["goal"]])
        assert not info["bump"].any()
        np.testing.assert_array_equal(reward, 10.0 * info["hit"])
        assert (state["pos"] != state["goal"]).all()
        np.testing.assert_array_equal(lay.dist[before["pos"], before["goal"]] == 1, info["hit"])
        hits += info["hit"].sum()
    assert hits > 64


def test_maze_picture_shows_agent_and_reward_cell():
    env = gym.make("PlasticMaze-v0", render_mode="rgb_array")
    env.reset(seed=1)
    env.step(1)
    frame, state, lay = env.render(), env.unwrapped.state, env.unwrapped.task.layout
    cells = frame[8::16, 8::16]  # one pixel per maze cell
    assert cells.shape == (11, 11, 3) and (cells[lay.walls] == 60).all()
    np.testing.assert_array_equal(cells[tuple(lay.cells[state["pos"][0]])], (210, 50, 50))
    np.testing.assert_array_equal(cells[tuple(lay.cells[state["goal"][0]])], (60, 170, 80))


def test_maze_reference_scores():
    """1000 episodes of T = 200: oracle > explorer > random walk by many standard errors (about 60, 60 and 10 per
    episode, so 2 and 0.3 for the means), and the random walk's reward, 10 hits - 0.1 bumps, is near 0."""
    task = plastic_gym.make_task("PlasticMaze-v0")
    k = keys(1000, 4)
    scores = {name: rollout(task, cls(task), k, 0) for name, cls in task.references.items()}
    reward = {name: m["reward"].mean() for name, m in scores.items()}
    assert reward["oracle"] > reward["explore_exploit"] + 50 > reward["no_memory"] + 100
    assert abs(reward["no_memory"]) < 2
    assert (scores["oracle"]["hits"] > 10).all()


def test_ppo_learns_the_correlated_bandit(torch_one_thread):
    """PPO with an MLP policy (SB3) on PlasticBandit-v0 with two arms, correlated prior (p, 1 - p; the easiest: one
    pull tells about both arms, and win-stay lose-shift, which maps the observation alone to the action, has regret
    about T/12) and T = 20: 8192 env steps (~2 s) bring its regret below the random policy's T/4 = 5."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    kwargs = {"prior": "correlated", "horizon": 20}
    envs = make_vec_env("PlasticBandit-v0", n_envs=8, env_kwargs=kwargs, seed=0)
    model = PPO("MlpPolicy", envs, n_steps=64, batch_size=128, n_epochs=4, learning_rate=3e-3, gamma=0.9, seed=0,
                device="cpu")
    model.learn(8192)
    venv = gym.make_vec("PlasticBandit-v0", num_envs=1000, **kwargs)
    obs, _ = venv.reset(seed=123)
    for _ in range(20):
        obs, _, terminated, _, info = venv.step(model.predict(obs, deterministic=True)[0])
    assert terminated.all()
    assert info["episode_metrics"]["regret"].mean() < 0.8 * 20 / 4


def test_tasks_command_rows_of_the_meta_rl_tasks():
    """`plastic-gym tasks` scores every reference of an interactive task by rollout on the same episodes."""
    from plastic_gym.commands import format_table, interactive_row

    row = interactive_row("PlasticBandit-v0", 50, 0)
    assert row["oracle"] == 0.0 and row["no_memory"] > row["classical"]["thompson"] > 0
    assert set(row["classical"]) == {"thompson", "ucb1", "wsls", "thompson_window"}
    text = format_table([row])
    assert "PlasticBandit-v0" in text and "thompson_window" in text and "Discrete(2)" in text
