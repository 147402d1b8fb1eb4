"""The glyph drawings, pinned: SHA-256 digests of the images of fixed episodes, so that any change to the generator
or the rasterizer that moves a single pixel fails here (the suite's PlasticOneShot-v0 episodes, the Harlow glyph
objects and the pretraining images are all drawn by ``glyphs.draw``).

The digests were taken from the generator as committed in 9d765bf and hold on this project's numpy and its bundled
OpenBLAS: the blur is a float32 matrix product, whose last bit a different BLAS kernel could round otherwise
(then about one pixel in a million moves by one grey level; compare the images before changing a digest). OpenBLAS
picks its kernel by CPU: the 1024-episode case has a second digest for the AVX2 kernels (``OPENBLAS_CORETYPE``
Haswell or Zen, e.g. on an AMD EPYC without AVX-512) beside the one taken with the AVX-512 kernel.
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

import plastic_gym
from plastic_gym.core.rng import KeyedRandom, seed_keys
from plastic_gym.tasks import glyphs


def digest(images: np.ndarray) -> str:
    """SHA-256 of an image array's shape, dtype and bytes (the first 16 hex digits)."""
    images = np.ascontiguousarray(images)
    head = f"{images.shape}{images.dtype}".encode()
    return hashlib.sha256(head + images.tobytes()).hexdigest()[:16]


#: (task kwargs, seeds, digest(s) of ``generate(seed_keys(seeds)).obs["image"]``: one per BLAS kernel where they differ)
EPISODES = [
    pytest.param({}, range(1024), ("c90cbea64de9cb53", "d6aee826098d86c8"), id="default-1024-envs"),
    pytest.param({"split": "test"}, range(500, 564), "1af48cafeeb460f9", id="test-split"),
    pytest.param({"n_way": 20, "n_shot": 2, "n_query": 7, "image_size": 84}, range(3), "0ba8ce21cbde1e93",
                 id="20-way-84px"),
    pytest.param({"image_size": 8, "query_mode": "permutation"}, [0, 2 ** 64 - 1, 12345], "f5556f9171da31b1", id="8px"),
    pytest.param({"image_size": 64}, range(40, 52), "80424adf2d15d35a", id="64px"),
]


@pytest.mark.parametrize("kwargs, seeds, want", EPISODES)
def test_oneshot_episode_images_are_pinned(kwargs, seeds, want):
    task = plastic_gym.make_task("PlasticOneShot-v0", **kwargs)
    keys = seed_keys(np.array(list(seeds), dtype=object))
    assert digest(task.generate(keys).obs["image"]) in ((want,) if isinstance(want, str) else want)


def test_draw_is_pinned_for_the_other_callers():
    """Harlow's glyph objects (two classes, T = 2) and the pretraining images (T = 1) come from ``glyphs.draw``."""
    rand = KeyedRandom(seed_keys(np.arange(300, dtype=object)))
    classes = np.stack([rand.integers(glyphs.SPLIT_SIZE), rand.integers(glyphs.SPLIT_SIZE)], 1)
    pairs = glyphs.draw(rand, classes, np.tile(np.arange(2), (300, 1)), 28)
    single = glyphs.draw(rand, classes[:, 1:] + glyphs.SPLIT_SIZE, np.zeros((300, 1), np.int64), 32)
    assert (digest(pairs), digest(single)) == ("24ad951058ba2143", "70e698b79d2bf309")


def test_harlow_glyph_observations_are_pinned():
    venv = gym.make_vec("PlasticHarlow-v0", num_envs=64, objects="glyphs")
    obs, _ = venv.reset(seed=7)
    assert digest(obs) == "510d765ae7228c2f"
