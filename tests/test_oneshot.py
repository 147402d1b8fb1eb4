"""PlasticOneShot-v0 / PlasticOmniglot-v0: episode structure, label statistics, determinism, env views, errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import OMNIGLOT_DIR as OMNIGLOT
from gymnasium.utils.env_checker import check_env
from scipy.ndimage import gaussian_filter

import plastic_gym
from plastic_gym.core.rng import KeyedRandom
from plastic_gym.core.task import QUERY, STUDY
from plastic_gym.tasks import glyphs
from plastic_gym.tasks.oneshot import OneShotTask, occurrence_rank, sample_distinct

HAVE_OMNIGLOT = (OMNIGLOT / "images_background_small1.zip").is_file() and \
    (OMNIGLOT / "images_background_small2.zip").is_file()
needs_omniglot = pytest.mark.skipif(not HAVE_OMNIGLOT, reason=f"Omniglot subsets not found in {OMNIGLOT}")

#: (env id, kwargs) of both sources; the Omniglot one reads the shared small subsets.
SOURCES = [
    pytest.param("PlasticOneShot-v0", {}, id="glyphs"),
    pytest.param("PlasticOmniglot-v0", {"root": str(OMNIGLOT)}, id="omniglot", marks=needs_omniglot),
]


def task(**kwargs) -> OneShotTask:
    return plastic_gym.make_task("PlasticOneShot-v0", **kwargs)


def nn_accuracy(episodes, support_length: int) -> float:
    """Query accuracy of 1-nearest-neighbour on blurred pixels against the support set."""
    B, T = episodes.scored.shape
    x = gaussian_filter(episodes.obs["image"][:, :, 0].astype(np.float64), (0, 0, 1.5, 1.5)).reshape(B, T, -1)
    d = ((x[:, support_length:, None] - x[:, None, :support_length]) ** 2).sum(-1)
    labels = episodes.extras["label"]
    pred = np.take_along_axis(labels[:, :support_length], d.argmin(-1), axis=1)
    return float((pred == labels[:, support_length:]).mean())


# -- episode structure -----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id, kwargs", SOURCES)
def test_episode_layout(env_id, kwargs):
    t = plastic_gym.make_task(env_id, n_way=4, n_shot=3, n_query=6, image_size=20, **kwargs)
    ep = t.sample(64, 0)
    S, T = 12, 18
    assert t.episode_length == T and t.target_dim == 4 and t.kind == "classification"
    assert t.primary_metric == "accuracy" and t.higher_is_better
    img, lab = ep.obs["image"], ep.obs["label"]
    assert img.dtype == np.uint8 and img.shape == (64, T, 1, 20, 20)
    assert lab.dtype == np.float32 and lab.shape == (64, T, 4)
    assert img.max() > 200 and (img.reshape(64, T, -1).max(-1) > 64).all()  # every image has ink
    assert ((img > 0).mean() < 0.5)  # ... on a mostly empty background
    for b in range(3):
        assert t.observation_space.contains({"image": img[b, 0], "label": lab[b, 0]})
    labels = ep.extras["label"]
    assert labels.dtype == np.int64 and labels.shape == (64, T)
    onehot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_array_equal(ep.target, onehot)  # target: one-hot at every step
    np.testing.assert_array_equal(lab[:, :S], onehot[:, :S])  # support: the label is shown
    assert not lab[:, S:].any()  # query: zero label
    np.testing.assert_array_equal(ep.scored, np.broadcast_to(np.arange(T) >= S, (64, T)))
    np.testing.assert_array_equal(ep.phase, np.where(np.arange(T) >= S, QUERY, STUDY)[None].repeat(64, 0))
    # every label exactly n_shot times in the support set, in an order that varies
    np.testing.assert_array_equal((labels[:, :S, None] == np.arange(4)).sum(1), np.full((64, 4), 3))
    assert len({tuple(r) for r in labels[:, :S]}) > 32


@pytest.mark.parametrize("env_id, kwargs", SOURCES)
def test_labels_are_a_fresh_bijection_per_episode(env_id, kwargs):
    t = plastic_gym.make_task(env_id, image_size=8, **kwargs)
    ep = t.sample(3000, 1)
    classes = ep.extras["classes"]  # class behind each label id
    assert classes.shape == (3000, 5)
    assert all(len(set(row)) == 5 for row in classes)  # distinct classes: a bijection classes <-> labels
    # The label of a class is uniform: the label holding the episode's smallest class id is uniform on 0..4,
    # and the order of the classes over the labels takes many of the 5! = 120 permutations.
    counts = np.bincount(classes.argmin(1), minlength=5)
    chi2 = ((counts - 600) ** 2 / 600).sum()
    assert chi2 < 20, counts  # 4 degrees of freedom: P(chi2 > 20) < 0.001
    assert len({tuple(np.argsort(r)) for r in classes}) > 110


@needs_omniglot
def test_a_class_gets_every_label_across_episodes():
    """Omniglot's pool is small, so a character recurs across episodes: under a uniformly random label."""
    ep = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), image_size=8).sample(4000, 7)
    rows, labels = np.nonzero(ep.extras["classes"] == 17)
    assert len(rows) > 100  # expected 4000 * 5 / 136 = 147
    counts = np.bincount(labels, minlength=5)
    assert counts.min() > 10, counts


def test_glyph_classes_practically_never_repeat():
    ep = task().generate(np.arange(400, dtype=np.uint64))
    assert len(np.unique(ep.extras["classes"])) == 2000


def test_sample_distinct_is_uniform():
    rand = KeyedRandom(np.arange(12000, dtype=np.uint64))
    picked = sample_distinct(rand, 6, 3)
    assert all(len(set(r)) == 3 for r in picked)
    counts = np.unique(picked @ np.array([36, 6, 1]), return_counts=True)[1]
    assert len(counts) == 6 * 5 * 4  # every ordered triple occurs
    chi2 = ((counts - 100) ** 2 / 100).sum()
    assert chi2 < 170  # 119 degrees of freedom: P(chi2 > 170) < 0.002


def test_occurrence_rank():
    labels = np.array([[2, 0, 2, 2, 1, 0]])
    np.testing.assert_array_equal(occurrence_rank(labels, 3), [[0, 0, 1, 2, 0, 1]])


def test_query_classes_with_replacement():
    n, q, B = 5, 5, 6000
    labels = task(n_way=n, n_query=q, image_size=8).sample(B, 2).extras["label"][:, n:]
    freq = np.bincount(labels.ravel(), minlength=n) / labels.size
    np.testing.assert_allclose(freq, 1 / n, atol=0.01)
    distinct = np.array([len(set(r)) for r in labels])
    expected = n * (1 - (1 - 1 / n) ** q)  # E[#distinct] of q draws with replacement: 3.36
    assert abs(distinct.mean() - expected) < 0.04
    assert abs((labels[:, 0] == labels[:, 1]).mean() - 1 / n) < 0.02  # independent draws
    assert abs((distinct == n).mean() - math.factorial(n) / n ** q) < 0.01  # all distinct: 3.8%


@pytest.mark.parametrize("n_query", [5, 3, 12])
def test_permutation_query_mode(n_query):
    n = 5
    t = task(n_way=n, n_query=n_query, query_mode="permutation", image_size=8)
    labels = t.sample(500, 3).extras["label"][:, n:]
    assert labels.shape == (500, n_query)
    for start in range(0, n_query, n):  # every block of n_way queries has distinct labels
        block = labels[:, start:start + n]
        assert all(len(set(r)) == block.shape[1] for r in block)
    counts = (labels[..., None] == np.arange(n)).sum(1)
    assert counts.min() >= n_query // n and counts.max() <= -(-n_query // n)
    assert len({tuple(r) for r in labels}) > 50  # the order varies


def test_images_match_their_class():
    """Glyph instances of one class look alike and classes differ: pixel 1-NN solves most queries."""
    for split in ("train", "test"):
        t = task(split=split)
        assert nn_accuracy(t.sample(300, 4), t.support_length) > 0.75  # chance: 0.2


def test_glyph_train_test_classes_are_disjoint():
    train = task(split="train", image_size=8).sample(500, 5).extras["classes"]
    test = task(split="test", image_size=8).sample(500, 5).extras["classes"]
    assert train.max() < glyphs.SPLIT_SIZE <= test.min() and test.max() < 2 * glyphs.SPLIT_SIZE
    # a class id alone fixes the character, whichever episode shows it
    a, b = glyphs.prototypes(np.array([[7, 123456]])), glyphs.prototypes(np.array([123456, 9, 7]))
    np.testing.assert_array_equal(a[0][0, 1], b[0][0])
    np.testing.assert_array_equal(a[0][0, 0], b[0][2])


def test_image_size():
    for size in (8, 28, 64):
        ep = task(image_size=size).sample(4, 0)
        assert ep.obs["image"].shape == (4, 10, 1, size, size)


# -- determinism ---------------------------------------------------------------------------------------------
def _assert_same(a, b):
    for k in a.obs:
        np.testing.assert_array_equal(a.obs[k], b.obs[k])
    np.testing.assert_array_equal(a.target, b.target)
    for k in a.extras:
        np.testing.assert_array_equal(a.extras[k], b.extras[k])


@pytest.mark.parametrize("env_id, kwargs", SOURCES)
@pytest.mark.parametrize("query_mode", ["independent", "permutation"])
def test_episode_is_a_function_of_its_key(env_id, kwargs, query_mode):
    t = plastic_gym.make_task(env_id, query_mode=query_mode, **kwargs)
    keys = np.array([11, 12, 13, 2 ** 63 + 5], dtype=np.uint64)
    full = t.generate(keys)
    _assert_same(full, t.generate(keys))
    _assert_same(full[2], t.generate(keys[2:3]))  # a row does not depend on the batch
    _assert_same(t.sample(6, 9), t.sample(6, 9))
    other = t.generate(keys + np.uint64(1))
    assert not np.array_equal(full.obs["image"], other.obs["image"])
    assert not np.array_equal(full.extras["label"], other.extras["label"])


@pytest.mark.parametrize("env_id, kwargs", SOURCES)
def test_env_and_vector_env_agree(env_id, kwargs):
    n, seed = 3, 21
    venv = gym.make_vec(env_id, num_envs=n, **kwargs)
    vobs, _ = venv.reset(seed=seed)
    envs = [gym.make(env_id, **kwargs) for _ in range(n)]
    obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]
    rng = np.random.default_rng(0)
    length = venv.unwrapped.task.episode_length
    for t in range(length):
        for i in range(n):
            for k in ("image", "label"):
                np.testing.assert_array_equal(vobs[k][i], obs[i][k])
        actions = rng.integers(0, 5, n)
        vobs, vrew, vterm, _, vinfo = venv.step(actions)
        steps = [e.step(int(a)) for e, a in zip(envs, actions, strict=True)]
        obs = [s[0] for s in steps]
        np.testing.assert_array_equal(vrew, [s[1] for s in steps])
        assert list(vterm) == [s[2] for s in steps] == [t == length - 1] * n
    np.testing.assert_array_equal(vinfo["episode_metrics"]["accuracy"],
                                  [s[4]["episode_metrics"]["accuracy"] for s in steps])
    venv.close()


# -- scoring -----------------------------------------------------------------------------------------------------
def test_rewards_oracle_and_no_memory():
    t = task(n_way=4, n_query=8, image_size=8)
    ep = t.sample(4000, 6)
    oracle = t.episode_metrics(t.oracle_actions(ep), ep)["accuracy"]
    np.testing.assert_array_equal(oracle, 1.0)
    assert t.is_success({"accuracy": oracle}).all()
    chance = t.episode_metrics(t.no_memory_actions(ep), ep)["accuracy"]
    assert abs(chance.mean() - 1 / 4) < 0.01

    env = gym.make("PlasticOneShot-v0", n_way=4, n_query=8)
    env.reset(seed=3)
    labels = env.unwrapped.episodes.extras["label"][0]
    for s in range(12):
        action = labels[s] if s % 2 else (labels[s] + 1) % 4  # right at odd steps, wrong at even steps
        _, reward, terminated, _, info = env.step(int(action))
        assert info["scored"] == (s >= 4) and info["phase"] == ("query" if s >= 4 else "study")
        assert info["target"] == labels[s]
        assert reward == (float(s % 2) if s >= 4 else 0.0)
    assert terminated and info["episode_metrics"]["accuracy"] == 0.5 and info["is_success"] is False


# -- errors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"n_way": 1}, "n_way must be an int >= 2"),
    ({"n_way": 2.0}, "n_way must be an int"),
    ({"n_way": True}, "n_way must be an int"),
    ({"n_shot": 0}, "n_shot must be an int >= 1"),
    ({"n_query": 0}, "n_query must be an int >= 1"),
    ({"source": "mnist"}, "source must be one of ('glyphs', 'omniglot')"),
    ({"split": "val"}, "split must be one of ('train', 'test')"),
    ({"image_size": 4}, "image_size must be an int >= 8"),
    ({"image_size": 1000}, "image_size must be <= 256"),
    ({"query_mode": "cyclic"}, "query_mode must be one of ('independent', 'permutation')"),
    ({"root": "/data"}, "root is only read by source='omniglot'"),
    ({"source": "omniglot", "root": 5}, "root must be a path"),
    ({"n_ways": 5}, "unknown kwarg(s) ['n_ways']"),
])
def test_bad_kwargs(kwargs, message):
    with pytest.raises(ValueError) as err:
        gym.make("PlasticOneShot-v0", **kwargs)
    assert message in str(err.value)


@needs_omniglot
@pytest.mark.parametrize("kwargs, message", [
    ({"n_way": 137}, "n_way must be <= the 136 characters of the Omniglot 'train' split (5 alphabets)"),
    ({"n_way": 107, "split": "test"}, "n_way must be <= the 106 characters of the Omniglot 'test' split"),
    ({"n_shot": 20}, "n_shot must be < the 20 drawings per Omniglot character"),
    ({"n_way": 545, "rotations": True},
     "n_way must be <= the 544 classes (4 rotations of each character) of the Omniglot 'train' split"),
])
def test_bad_omniglot_kwargs(kwargs, message):
    with pytest.raises(ValueError) as err:
        gym.make("PlasticOmniglot-v0", root=str(OMNIGLOT), **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("action", [5, -1, 1.5, np.array([0, 1]), float("nan")])
def test_bad_actions(action):
    env = gym.make("PlasticOneShot-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 5\)|shape"):
        env.step(action)


def test_step_after_end_and_before_reset():
    env = gym.make("PlasticOneShot-v0").unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(10):
        *_, terminated, _, _ = env.step(0)
    assert terminated
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


# -- gymnasium checks and rendering ------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id, kwargs", SOURCES)
@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_check_env(env_id, kwargs, render_mode):
    env = gym.make(env_id, render_mode=render_mode, **kwargs)
    check_env(env.unwrapped)
    assert render_mode in type(env.unwrapped).metadata["render_modes"]


def test_render():
    env = gym.make("PlasticOneShot-v0", render_mode="rgb_array", n_way=3, n_shot=2, n_query=2)
    env.reset(seed=4)
    first = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    for _ in range(6):
        env.step(0)
    query = env.render()
    assert query.shape == first.shape and not np.array_equal(query, first)
    # the current image appears upscaled (3x at 28 pixels; black ink on white) inside the frame
    image = env.unwrapped.episodes.obs["image"][0, 6, 0]
    np.testing.assert_array_equal(query[11:11 + 84:3, 11:11 + 84:3, 0], 255 - image)
    assert (query[8, 8] == (230, 120, 0)).all() and (first[8, 8] == (40, 90, 200)).all()  # query / support frame

    text = gym.make("PlasticOneShot-v0", render_mode="ansi")
    text.reset(seed=4)
    text.step(0)
    out = text.render()
    assert "step 1/10" in out and "label" in out and "shown" in out and "glyph" in out

    venv = gym.make_vec("PlasticOneShot-v0", num_envs=2, render_mode="rgb_array")
    venv.reset(seed=4)
    frames = venv.render()
    assert len(frames) == 2 and all(f.shape[2] == 3 and f.dtype == np.uint8 for f in frames)


def test_vector_reset_batch_is_consistent():
    """A 1024-env reset generates every image at once (speed is measured in benchmarks, not asserted here)."""
    venv = gym.make_vec("PlasticOneShot-v0", num_envs=1024)
    obs, _ = venv.reset(seed=0)
    assert obs["image"].shape == (1024, 1, 28, 28) and obs["label"].shape == (1024, 5)
    single = gym.make("PlasticOneShot-v0")
    np.testing.assert_array_equal(single.reset(seed=1000)[0]["image"], obs["image"][1000])


def test_glyph_images_do_not_depend_on_the_raster_block(monkeypatch):
    """Large batches are rasterized in blocks (cache locality): the images are those of one block per batch."""
    t = task()
    keys = np.arange(40, dtype=np.uint64)
    blocked = t.generate(keys).obs["image"]  # 400 images: one block at the default size
    monkeypatch.setattr(glyphs, "RASTER_BLOCK", 7)
    np.testing.assert_array_equal(t.generate(keys).obs["image"], blocked)
    np.testing.assert_array_equal(t.generate(keys[13:14]).obs["image"], blocked[13:14])


@pytest.mark.parametrize("size", [8, 28, 84])
def test_glyph_blur_is_the_zero_padded_gaussian(size):
    """The blur matrix products equal scipy's Gaussian filter (constant mode, truncate 3) to float32 rounding."""
    from scipy.ndimage import gaussian_filter1d

    img = np.random.default_rng(size).random((3, size, size)).astype(np.float32)
    sigma = 0.03 * size
    blur = glyphs._blur_matrix(size, sigma)
    want = gaussian_filter1d(gaussian_filter1d(img, sigma, axis=1, mode="constant", truncate=3.0), sigma, axis=2,
                             mode="constant", truncate=3.0)
    np.testing.assert_allclose(blur @ img @ blur.T, want, rtol=1e-5, atol=1e-6)
