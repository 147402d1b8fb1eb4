"""The Omniglot reader: the official zip files, extracted folders, the train/test alphabets, missing data."""

from __future__ import annotations

import itertools
import re
import zipfile

import gymnasium as gym
import numpy as np
import pytest
from conftest import OMNIGLOT_DIR as OMNIGLOT
from test_oneshot import needs_omniglot

import plastic_gym  # noqa: F401  (registers the ids)
from plastic_gym.tasks import omniglot

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
    assert ink.min() > 0.01 and ink.max() < 0.4
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


# -- data it cannot read -----------------------------------------------------------------------------------------
def write_png(path_or_zip, name: str, image: np.ndarray) -> None:
    """A black-on-white png like Omniglot's (``image``: ink mask), into a folder or an open ``ZipFile``."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.where(image, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    if isinstance(path_or_zip, zipfile.ZipFile):
        path_or_zip.writestr(name, buf.getvalue())
    else:
        (path_or_zip / name).parent.mkdir(parents=True, exist_ok=True)
        (path_or_zip / name).write_bytes(buf.getvalue())


def make_runs(target, n_runs: int = 3, prefix: str = "", seed: int = 0) -> None:
    """A synthetic copy of the layout of all_runs.zip (Lake et al.'s one-shot runs): runNN/training/classJJ.png,
    runNN/test/itemKK.png and class_labels.txt. Each class is a random 105x105 blob pattern; the test item of a
    class is the same pattern (so an exact matcher is perfect); the items list the classes in a shuffled order."""
    rng = np.random.default_rng(seed)
    for r in range(1, n_runs + 1):
        run = f"run{r:02d}"
        patterns = rng.random((20, 15, 15)) < 0.3
        item_class = rng.permutation(20)  # item k shows class item_class[k]
        lines = []
        for j in range(20):
            write_png(target, f"{prefix}{run}/training/class{j + 1:02d}.png", np.kron(patterns[j], np.ones((7, 7))) > 0)
        for k in range(20):
            c = item_class[k]
            write_png(target, f"{prefix}{run}/test/item{k + 1:02d}.png", np.kron(patterns[c], np.ones((7, 7))) > 0)
            lines.append(f"{run}/test/item{k + 1:02d}.png {run}/training/class{c + 1:02d}.png")
        text = "\n".join(lines) + "\n"
        if isinstance(target, zipfile.ZipFile):
            target.writestr(f"{prefix}{run}/class_labels.txt", text)
        else:
            (target / prefix / run / "class_labels.txt").write_text(text)


def test_runs_layout_is_not_an_alphabet_root(tmp_path):
    make_runs(tmp_path / "all_runs", n_runs=1)
    with zipfile.ZipFile(tmp_path / "all_runs.zip", "w") as z:
        make_runs(z, n_runs=1)
    for root in (tmp_path / "all_runs", tmp_path / "all_runs.zip"):
        with pytest.raises(ValueError) as err:
            omniglot.load(root, "train", 28)
        message = str(err.value)
        for part in (str(root), "not in the Omniglot layout", "not named characterNN", "run01/training",
                     "expected ALPHABET/characterNN/*.png", "--omniglot-runs"):
            assert part in message


def test_stray_pngs_and_odd_folders_are_reported(tmp_path):
    ok = np.zeros((105, 105), bool)
    ok[40:60, 40:60] = True
    for a in ("Alpha", "Beta"):
        for c in ("character01", "character02"):
            for d in range(2):
                write_png(tmp_path / "pool", f"{a}/{c}/{d}.png", ok)
    assert omniglot.load(tmp_path / "pool", "train", 16).names == ("Alpha/character01", "Alpha/character02")
    write_png(tmp_path / "pool", "Beta/glyphs/0.png", ok)
    with pytest.raises(ValueError, match=r"found 1 png folder\(s\) not named characterNN \(e.g. Beta/glyphs\)"):
        omniglot.load(tmp_path / "pool", "test", 16)
    (tmp_path / "pool" / "Beta" / "glyphs" / "0.png").unlink()
    write_png(tmp_path / "pool", "loose.png", ok)
    with pytest.raises(ValueError, match=r"png file\(s\) outside ALPHABET/characterNN/ folders \(e.g. loose.png\)"):
        omniglot.load(tmp_path / "pool", "test", 16)


@needs_omniglot
@pytest.mark.parametrize("damage", ["truncated", "empty-file", "empty-zip", "corrupt-member"])
def test_unreadable_zip_names_the_file(tmp_path, damage):
    good = (OMNIGLOT / "images_background_small1.zip").read_bytes()
    bad = tmp_path / "images_background_small1.zip"
    if damage == "truncated":
        bad.write_bytes(good[: len(good) // 2])
    elif damage == "empty-file":
        bad.write_bytes(b"")
    elif damage == "empty-zip":
        zipfile.ZipFile(bad, "w").close()
    else:  # flip bytes inside the first member's compressed data: the central directory still reads
        data = bytearray(good)
        with zipfile.ZipFile(OMNIGLOT / "images_background_small1.zip") as z:
            info = next(i for i in z.infolist() if i.filename.endswith(".png"))
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
        data[start:start + 64] = bytes(64)
        bad.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        omniglot.load(tmp_path, "train", 12)
    assert str(bad) in str(err.value)
    assert {"truncated": "not a readable zip", "empty-file": "not a readable zip", "empty-zip": "empty zip",
            "corrupt-member": "cannot be"}[damage] in str(err.value)


# -- within_alphabet ---------------------------------------------------------------------------------------------
@needs_omniglot
def test_within_alphabet_episodes_use_one_alphabet():
    task = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), split="test", n_way=20,
                                 within_alphabet=True)
    ep = task.sample(300, 0)
    alphabets = np.array([[task.class_name(c).split("/")[0] for c in row] for row in ep.extras["classes"]])
    assert (alphabets == alphabets[:, :1]).all()  # one alphabet per episode
    # Tagalog has 17 characters, too few for 20-way; the two others are drawn about equally often
    counts = {a: int((alphabets[:, 0] == a).sum()) for a in SMALL2_ONLY}
    assert counts["Tagalog"] == 0 and 120 < counts["Sanskrit"] < 180
    assert all(len(set(row)) == 20 for row in ep.extras["classes"].tolist())
    np.testing.assert_array_equal(task.sample(300, 0).obs["image"], ep.obs["image"])  # a function of the seed
    mixed = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), split="test", n_way=20)
    names = [{mixed.class_name(c).split("/")[0] for c in row} for row in mixed.sample(50, 0).extras["classes"]]
    assert np.mean([len(n) for n in names]) > 2  # without the option, an episode mixes alphabets


@needs_omniglot
def test_within_alphabet_errors():
    with pytest.raises(ValueError, match="needs an alphabet with >= n_way=48 characters; the largest of the 'test' "
                                         "split has 47"):
        plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), split="test", n_way=48,
                              within_alphabet=True)
    with pytest.raises(ValueError, match="within_alphabet=True needs source='omniglot'"):
        plastic_gym.make_task("PlasticOneShot-v0", within_alphabet=True)
    with pytest.raises(ValueError, match="within_alphabet must be a bool"):
        plastic_gym.make_task("PlasticOneShot-v0", within_alphabet="yes")


# -- rotations ---------------------------------------------------------------------------------------------------
@needs_omniglot
def test_rotations_make_each_quarter_turn_a_class():
    """Class c + k * n is character c turned by k quarter turns: every image, turned back, is a drawing of its
    character; all four turns occur; without the option the episodes are those of the plain task."""
    plain = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT))
    task = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), rotations=True)
    n, drawings = plain._source.data.n_characters, plain._source.data.images
    assert task._source.n_classes == 4 * n and task.kwargs["rotations"] is True
    ep = task.sample(64, 0)
    ids = np.take_along_axis(ep.extras["classes"], ep.extras["label"], axis=1)  # [B, T] class of every image
    turns, character = np.divmod(ids, n)
    assert set(np.unique(turns)) == {0, 1, 2, 3}
    images = ep.obs["image"][:, :, 0]
    for k in range(4):
        back = np.rot90(images[turns == k], -k, axes=(-2, -1))
        matches = (back[:, None] == drawings[character[turns == k]]).all(axis=(-2, -1))  # [images, drawings]
        assert matches.any(axis=1).all()
    assert task.class_name(int(ids[turns == 3][0])).endswith("(turned 270 degrees)")
    np.testing.assert_array_equal(task.sample(64, 0).obs["image"], ep.obs["image"])  # a function of the seed
    off = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), rotations=False)
    np.testing.assert_array_equal(off.sample(8, 3).obs["image"], plain.sample(8, 3).obs["image"])


@needs_omniglot
def test_rotations_within_one_alphabet_turn_the_whole_episode():
    task = plastic_gym.make_task("PlasticOmniglot-v0", root=str(OMNIGLOT), n_way=20, within_alphabet=True,
                                 rotations=True)
    n = task._source.data.n_characters
    turns, character = np.divmod(task.sample(200, 1).extras["classes"], n)
    assert (turns == turns[:, :1]).all() and set(np.unique(turns[:, 0])) == {0, 1, 2, 3}
    alphabets = np.array([[task.class_name(c).split("/")[0] for c in row] for row in character])
    assert (alphabets == alphabets[:, :1]).all()


def test_rotations_errors():
    with pytest.raises(ValueError, match="rotations=True needs source='omniglot'"):
        plastic_gym.make_task("PlasticOneShot-v0", rotations=True)
    with pytest.raises(ValueError, match="rotations must be a bool"):
        plastic_gym.make_task("PlasticOneShot-v0", rotations=1)


# -- the official one-shot runs ----------------------------------------------------------------------------------
class ExactMatcher:
    """Answers the label of the support image equal to the query (numpy only): perfect on the synthetic runs."""

    def reset(self, num_envs):
        return None

    def act(self, obs, state, episode_start):
        image, label = obs["image"].reshape(len(episode_start), -1), obs["label"]
        if state is None or episode_start.any():
            state = ([], [])
        images, labels = state
        if label.any():
            images.append(image)
            labels.append(label.argmax(-1))
            return np.zeros(len(image), np.int64), state
        same = (np.stack(images, 1) == image[:, None]).all(-1)  # [N, S]
        return np.take_along_axis(np.stack(labels, 1), same.argmax(1)[:, None], 1)[:, 0], state


class Constant:
    def reset(self, num_envs):
        return None

    def act(self, obs, state, episode_start):
        return np.zeros(len(episode_start), np.int64), None


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_official_runs_player(tmp_path, layout):
    from plastic_gym.leaderboard import omniglot_runs
    from plastic_gym.leaderboard.agents import AgentObjectFactory
    from plastic_gym.leaderboard.protocol import AgentMetadata

    if layout == "folder":
        path = tmp_path / "all_runs"
        make_runs(path)
    else:
        path = tmp_path / "all_runs.zip"
        with zipfile.ZipFile(path, "w") as z:
            make_runs(z, prefix="all_runs/")
    runs = omniglot_runs.read_runs(path, 28)
    assert runs.names == ("run01", "run02", "run03") and runs.support.shape == (3, 20, 28, 28)
    # the answers follow class_labels.txt: query k shows the drawing of class answers[k]
    np.testing.assert_array_equal(runs.queries, runs.support[np.arange(3)[:, None], runs.answers])
    ep = omniglot_runs.runs_episodes(runs)
    assert ep.obs["image"].shape == (3, 40, 1, 28, 28) and ep.scored[:, 20:].all() and not ep.scored[:, :20].any()
    assert (ep.obs["label"][:, :20].sum(-1) == 1).all() and not ep.obs["label"][:, 20:].any()
    assert sorted(ep.extras["label"][0, :20]) == list(range(20))  # every label once in the support
    perfect = omniglot_runs.play_runs(AgentObjectFactory(ExactMatcher(), AgentMetadata("exact")), path)
    constant = omniglot_runs.play_runs(AgentObjectFactory(Constant(), AgentMetadata("zero")), path)
    assert perfect["accuracy"] == 1.0 and perfect["per_run"] == [1.0] * 3
    assert constant["accuracy"] == pytest.approx(1 / 20) and constant["per_run"] == [0.05] * 3


def test_official_runs_errors(tmp_path):
    from plastic_gym.leaderboard import omniglot_runs

    with pytest.raises(ValueError, match="do not exist"):
        omniglot_runs.read_runs(tmp_path / "nope.zip")
    (tmp_path / "empty.zip").write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "empty.zip")) + " is not a readable zip"):
        omniglot_runs.read_runs(tmp_path / "empty.zip")
    with pytest.raises(ValueError, match="holds no class_labels.txt.*expected 20 folders runNN"):
        omniglot_runs.read_runs(OMNIGLOT if OMNIGLOT.exists() else tmp_path)
    make_runs(tmp_path / "runs", n_runs=1)
    labels = tmp_path / "runs" / "run01" / "class_labels.txt"
    labels.write_text(labels.read_text().replace("item03.png", "item03.jpg"))
    with pytest.raises(ValueError, match="class_labels.txt line 3 is .run01/test/item03.jpg"):
        omniglot_runs.read_runs(tmp_path / "runs")
    make_runs(tmp_path / "runs2", n_runs=1)
    (tmp_path / "runs2" / "run01" / "test" / "item07.png").unlink()
    with pytest.raises(ValueError, match="run01/test/item07.png is missing"):
        omniglot_runs.read_runs(tmp_path / "runs2")


def test_evaluate_cli_plays_the_runs(tmp_path, capsys):
    from plastic_gym.cli import main

    make_runs(tmp_path / "all_runs", n_runs=2)
    out = tmp_path / "runs.json"
    assert main(["evaluate", "--agent", "no-memory", "--omniglot-runs", str(tmp_path / "all_runs"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no-memory: accuracy 0.0500 over 2 official 20-way 1-shot runs" in printed
    import json

    assert json.loads(out.read_text())["agents"][0]["accuracy"] == pytest.approx(0.05)
    assert main(["evaluate", "--agent", "no-memory", "--omniglot-runs", str(tmp_path / "all_runs"),
                 "--out", str(out)]) == 2  # never overwritten silently


# -- the leaderboard suite omniglot-v1 -----------------------------------------------------------------------------
def test_suite_omniglot_v1_contents():
    from plastic_gym.leaderboard.suite import SUITE_HASHES, load_suite
    from plastic_gym.leaderboard.trusted import trusted_entries

    suite = load_suite("omniglot-v1")
    assert suite.hash == SUITE_HASHES["omniglot-v1"]
    assert [(t.name, t.env_id, t.kwargs) for t in suite.tasks] == [
        ("omniglot-5way", "PlasticOmniglot-v0", {"split": "test"}),
        ("omniglot-20way", "PlasticOmniglot-v0", {"split": "test", "n_way": 20, "n_query": 20}),
        ("omniglot-20way-alphabet", "PlasticOmniglot-v0",
         {"split": "test", "n_way": 20, "n_query": 20, "within_alphabet": True})]
    # the 5-way task plays the episodes of suite omniglot, so that its results carry over
    assert (suite.tasks[0].seed, suite.tasks[0].kwargs) == (load_suite("omniglot").tasks[0].seed, {"split": "test"})
    ranges = sorted((t.seed, t.seed + t.episodes) for t in suite.tasks)
    assert ranges[0][0] >= 10_000_000 and all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    entries = trusted_entries("omniglot-v1")
    assert [(e.name, e.privileged, e.reference) for e in entries] == [
        ("random", False, False), ("no-memory", False, False), ("oracle", True, False),
        ("prototype-reference", False, True), ("omniglot-plastic-rnn-gradient-s0", False, False)]


def test_suite_omniglot_v1_without_data_names_the_root(tmp_path):
    from plastic_gym.leaderboard.agents import load_agent
    from plastic_gym.leaderboard.evaluate import evaluate
    from plastic_gym.leaderboard.suite import load_suite

    with pytest.raises(ValueError, match=re.escape(f"root='{tmp_path / 'nope'}'") + ".*does not exist"):
        evaluate([load_agent("no-memory")], load_suite("omniglot-v1"), episodes=2, progress=False,
                 runtime_kwargs={"PlasticOmniglot-v0": {"root": str(tmp_path / "nope")}})


@needs_omniglot
def test_suite_omniglot_v1_main_job_evaluates_and_submits(tmp_path):
    """The main job (trusted references) plays the three tasks on the shared subsets through --data-root; the result
    validates and lands on the suite's own board."""
    import json

    from plastic_gym.cli import main
    from plastic_gym.leaderboard.evaluate import make_env
    from plastic_gym.leaderboard.results import validate
    from plastic_gym.leaderboard.submit import submit
    from plastic_gym.leaderboard.suite import load_suite

    out = tmp_path / "omniglot-v1.json"
    assert main(["evaluate", "--suite", "omniglot-v1", "--episodes", "8", "--data-root", str(OMNIGLOT),
                 "--out", str(out), "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    suite = load_suite("omniglot-v1")
    assert doc["suite"]["hash"] == suite.hash
    assert [t["kwargs"] for t in doc["tasks"]] == [t.kwargs for t in suite.tasks]  # the data root is not recorded
    assert [a["metadata"]["name"] for a in doc["agents"]] == [
        "random", "no-memory", "oracle", "prototype-reference", "omniglot-plastic-rnn-gradient-s0"]
    for agent in doc["agents"]:
        assert [len(agent["runs"][0][t.name]["primary"]) for t in suite.tasks] == [8, 8, 8]
        # every agent plays every task (the plastic entry's 20-way model plays the one-alphabet task too)
        assert [agent["runs"][0][t.name]["fallback"] for t in suite.tasks] == [False, False, False]
    scores = {a["metadata"]["name"]: a["scores"]["iqm"]["value"] for a in doc["agents"]}
    assert scores["no-memory"] == 0.0 and scores["oracle"] == 1.0
    oracle = doc["agents"][2]["runs"][0]
    assert all(oracle[t.name]["means"]["accuracy"] == 1.0 for t in suite.tasks)
    runtime = {"PlasticOmniglot-v0": {"root": str(OMNIGLOT)}}
    validate(doc, allow_short=True, runtime_kwargs=runtime)
    # the alphabet task keeps an episode's 20 classes in one alphabet of small2's own three
    env, _ = make_env(suite.task("omniglot-20way-alphabet"), 8, runtime)
    names = [[env.task.class_name(c).split("/")[0] for c in row] for row in env.episodes.extras["classes"]]
    assert all(len(set(row)) == 1 and row[0] in SMALL2_ONLY for row in names)
    env.close()
    written = submit(out, tmp_path / "lb", allow_short=True, runtime_kwargs=runtime)
    assert {p.parent.parent.name for p in written} == {"omniglot-v1"}


# -- where the data is: --data-root for the agents too ---------------------------------------------------------------
def make_pool(root, alphabets: int = 3, characters: int = 6, drawings: int = 3, seed: int = 0) -> None:
    """A root in the alphabet layout (``ALPHABET/characterNN/*.png``: one pool, split 60/40 by alphabet)."""
    rng = np.random.default_rng(seed)
    for a in range(alphabets):
        for c in range(characters):
            for d in range(drawings):
                write_png(root, f"Alphabet{a}/character{c + 1:02d}/{a}_{c}_{d}.png", rng.random((20, 20)) < 0.2)


def test_data_root_block_sets_the_default_root(tmp_path, monkeypatch):
    monkeypatch.delenv("PLASTIC_GYM_DATA", raising=False)
    make_pool(tmp_path / "pool")
    assert omniglot.default_root() is None
    with omniglot.data_root(tmp_path / "pool"):
        assert omniglot.default_root() == tmp_path / "pool"
        with omniglot.data_root(None):  # None keeps the enclosing block's folder
            assert omniglot.default_root() == tmp_path / "pool"
        with omniglot.data_root(tmp_path / "other"):
            assert omniglot.default_root() == tmp_path / "other"
        env = gym.make("PlasticOmniglot-v0", split="test")  # no root: the block's
        obs, _ = env.reset(seed=0)
        assert obs["image"].shape == (1, 28, 28)
    assert omniglot.default_root() is None
    monkeypatch.setenv("PLASTIC_GYM_DATA", str(tmp_path))
    assert omniglot.default_root() == tmp_path / "omniglot"  # outside a block: the environment variable


def test_data_root_flag_lets_an_omniglot_checkpoint_load(tmp_path, monkeypatch, capsys):
    """A model trained on Omniglot stores its task without a machine path; ``--data-root`` is where its training task
    is rebuilt from when it loads, as well as where the episodes come from."""
    import json

    pytest.importorskip("torch")
    from plastic_gym.agents.trainer import TrainConfig, train
    from plastic_gym.cli import main

    monkeypatch.delenv("PLASTIC_GYM_DATA", raising=False)
    pool = tmp_path / "pool"
    make_pool(pool)
    config = TrainConfig(task_id="PlasticOmniglot-v0", task_kwargs={"split": "train"}, steps=1, hidden_dim=8,
                         batch_size=2, val_every=1, val_episodes=2, encoder_channels=4)
    with omniglot.data_root(pool):
        train(config, tmp_path / "run", progress=False)
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    suite = tmp_path / "suite_pool.json"
    suite.write_text(json.dumps({"name": "pool", "version": 1, "tasks": [
        {"name": "pool-5way", "env_id": "PlasticOmniglot-v0", "kwargs": {"split": "test"}, "episodes": 2,
         "seed": 10_000_000}]}))
    argv = ["evaluate", "--agent", str(checkpoint), "--suite", str(suite), "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "a.json"), "--data-root", str(pool)]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert not doc["agents"][0]["runs"][0]["pool-5way"]["fallback"]
    assert str(pool) not in (tmp_path / "a.json").read_text()  # the data's place is not recorded
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "b.json")]) == 2  # without the flag the checkpoint cannot load
    assert "no data folder given" in capsys.readouterr().err
