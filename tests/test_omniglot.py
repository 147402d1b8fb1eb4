"""The Omniglot reader: the official zip files, extracted folders, the train/test alphabets, missing data."""

from __future__ import annotations

import re
import zipfile

import gymnasium as gym
import numpy as np
import pytest

import plastic_gym  # noqa: F401  (registers the ids)
from plastic_gym.tasks import omniglot

from conftest import OMNIGLOT_DIR as OMNIGLOT
from test_oneshot import needs_omniglot

SMALL1 = ("Balinese", "Early_Aramaic", "Greek", "Korean", "Latin")
SMALL2_ONLY = ("Japanese_(katakana)", "Sanskrit", "Tagalog")  # small2 also holds Greek and Latin of small1


@needs_omniglot
def test_reads_the_small_subsets():
    train = omniglot.load(OMNIGLOT, "train", 28)
    assert train.alphabets == SMALL1
    assert train.images.shape == (136, 20, 28, 28) and train.images.dtype == np.uint8
    assert not train.images.flags.writeable  # shared by every task over this data
    assert train.names[0] == "Balinese/character01" and len(set(train.names)) == 136
    assert [n.split("/")[0] for n in train.names].count("Korean") == 40
    test = omniglot.load(OMNIGLOT, "test", 28)
    assert test.alphabets == SMALL2_ONLY and test.images.shape == (106, 20, 28, 28)
    assert not set(train.names) & set(test.names)  # disjoint classes
    # white ink (255) on black (0): every drawing has some ink, and the background dominates
    ink = (train.images > 127).mean(axis=(2, 3))
    assert 0.01 < ink.min() and ink.max() < 0.4
    assert omniglot.load(OMNIGLOT, "train", 28) is train  # cached


@needs_omniglot
def test_resize_follows_image_size():
    data = omniglot.load(OMNIGLOT, "test", 14)
    assert data.images.shape == (106, 20, 14, 14)


@needs_omniglot
def test_extracted_folder_and_single_pool_layouts(tmp_path):
    with zipfile.ZipFile(OMNIGLOT / "images_background_small1.zip") as z:
        z.extractall(tmp_path)
    from_zip = omniglot.load(OMNIGLOT, "train", 16)
    from_folder = omniglot.load(tmp_path, "train", 16)  # tmp_path/images_background_small1/ALPHABET/...
    assert from_folder.names == from_zip.names
    np.testing.assert_array_equal(from_folder.images, from_zip.images)
    # A root that holds alphabets directly is one pool: the first 60% of the alphabets by name train, the rest test.
    pool = tmp_path / "images_background_small1"
    assert omniglot.load(pool, "train", 16).alphabets == SMALL1[:3]
    assert omniglot.load(pool, "test", 16).alphabets == SMALL1[3:]
    # ... without the test subset, the subsets' parent folder has no test split
    with pytest.raises(ValueError, match="images_evaluation"):
        omniglot.load(tmp_path, "test", 16)


def test_missing_root_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv("PLASTIC_GYM_DATA", raising=False)
    with pytest.raises(omniglot.OmniglotNotFoundError) as err:
        gym.make("PlasticOmniglot-v0")
    message = str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, FileNotFoundError)
    for part in ("PLASTIC_GYM_DATA", omniglot.DOWNLOAD_URL, "images_background.zip", "images_evaluation.zip",
                 "images_background_small1.zip", "source='glyphs'"):
        assert part in message
    monkeypatch.setenv("PLASTIC_GYM_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=re.escape(f"root='{tmp_path / 'omniglot'}'") + ".*does not exist"):
        gym.make("PlasticOmniglot-v0")
    (tmp_path / "omniglot").mkdir()
    with pytest.raises(ValueError, match="holds neither the subsets"):
        gym.make("PlasticOmniglot-v0")


@needs_omniglot
def test_default_root_is_under_plastic_gym_data(tmp_path, monkeypatch):
    monkeypatch.setenv("PLASTIC_GYM_DATA", str(tmp_path))
    (tmp_path / "omniglot").symlink_to(OMNIGLOT, target_is_directory=True)
    env = gym.make("PlasticOmniglot-v0")
    assert env.unwrapped.task.kwargs["source"] == "omniglot"
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (1, 28, 28)


@needs_omniglot
def test_episodes_show_distinct_drawings_of_the_labelled_characters():
    task = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), n_way=5, n_shot=2, n_query=8)
    data = omniglot.load(OMNIGLOT, "train", 28)
    ep = task.sample(50, 3)
    labels, classes = ep.extras["label"], ep.extras["classes"]
    images = ep.obs["image"][:, :, 0]
    for b in range(50):
        for label in range(5):
            steps = np.nonzero(labels[b] == label)[0]
            drawings = data.images[classes[b, label]]  # [20, H, W]
            which = [int(np.nonzero((drawings == images[b, s]).all(axis=(1, 2)))[0][0]) for s in steps]
            assert len(set(which)) == len(which)  # at most 10 occurrences: all different drawings
    assert task.class_name(classes[0, 0]) in data.names
