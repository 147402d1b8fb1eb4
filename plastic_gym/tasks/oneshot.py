"""PlasticOneShot-v0 and PlasticOmniglot-v0: one-shot classification of images (SPEC section 3).

An episode picks ``n_way`` classes and gives them the label ids ``0..n_way-1`` in a fresh random order. The support
phase shows ``n_shot`` drawings of every class with its one-hot label (``n_way * n_shot`` steps in random order);
the query phase shows ``n_query`` further drawings with a zero label, and the agent must name their labels. Every
drawing is a different instance of its class (Omniglot: a different person's drawing while the character has
unseen drawings left; glyphs: fresh random jitter), so the agent has to match images, not recall pixels.
"""

from __future__ import annotations

import os

import numpy as np
from gymnasium import spaces

from ..core.rng import KeyedRandom
from ..core.task import QUERY, STUDY, Episodes, Task, require, require_choice, require_int
from ..envs import PlasticEnv, PlasticVectorEnv
from . import glyphs, omniglot

SOURCES = ("glyphs", "omniglot")
SPLITS = ("train", "test")
QUERY_MODES = ("independent", "permutation")
MAX_IMAGE_SIZE = 256


def sample_distinct(rand: KeyedRandom, n: int | np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct integers from ``[0, n)`` per episode, uniformly over ordered k-tuples: ``[B, k]`` int64.

    Draw j is uniform over the n - j values not yet taken: r ~ U{0..n-j-1} is mapped to the r-th free value x,
    the least fixed point of x = r + #{taken <= x} (iterated from x = r; no random draws inside the iteration,
    so the result stays a pure function of the key). Cost O(k^2) per episode, independent of n. ``n`` is one int,
    or one per episode (``[B]``, each >= k; then r = floor(u (n - j)) with u ~ U[0, 1)).
    """
    per_episode = np.ndim(n) > 0
    taken = np.empty((rand.batch_size, k), np.int64)
    for j in range(k):
        r = np.floor(rand.uniform() * (n - j)).astype(np.int64) if per_episode else rand.integers(n - j)
        x = r
        while True:
            nxt = r + (taken[:, :j] <= x[:, None]).sum(1)
            if np.array_equal(nxt, x):
                break
            x = nxt
        taken[:, j] = x
    return taken


def occurrence_rank(labels: np.ndarray, n: int) -> np.ndarray:
    """How many earlier steps of the same episode carry the same label: ``labels [B, T]`` -> ``[B, T]`` int64."""
    counts = np.cumsum(labels[..., None] == np.arange(n), axis=1)
    return np.take_along_axis(counts, labels[..., None], axis=2)[..., 0] - 1


class _GlyphSource:
    """Procedural characters (``glyphs``): class ids ``[0, 2^31)`` for train, ``[2^31, 2^32)`` for test."""

    def __init__(self, split: str):
        self.offset = 0 if split == "train" else glyphs.SPLIT_SIZE
        self.n_classes = glyphs.SPLIT_SIZE

    def pick(self, rand: KeyedRandom, n_way: int) -> np.ndarray:
        """``n_way`` distinct class ids per episode ``[B, n_way]``."""
        return sample_distinct(rand, self.n_classes, n_way) + self.offset

    def draw(self, rand: KeyedRandom, classes: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
        return glyphs.draw(rand, classes, labels, size)

    def class_name(self, class_id: int) -> str:
        return f"glyph {class_id}"


class _OmniglotSource:
    """Omniglot characters of one split; class id c is ``data.names[c]``. With ``rotations`` there are four times as
    many classes: class ``c + k * n_characters`` is character c turned by k * 90 degrees (k = 0..3), the usual way
    to enlarge Omniglot's training classes (Santoro et al. 2016)."""

    def __init__(self, data: omniglot.OmniglotSet, within_alphabet: bool, n_way: int, rotations: bool = False):
        self.data, self.within_alphabet, self.rotations = data, within_alphabet, rotations
        self.n_classes = data.n_characters * (4 if rotations else 1)
        self.n_drawings = data.n_drawings
        first, count = data.alphabet_ranges()
        self.first, self.count = first[count >= n_way], count[count >= n_way]  # the alphabets that can fill an episode

    def pick(self, rand: KeyedRandom, n_way: int) -> np.ndarray:
        """``n_way`` distinct class ids per episode ``[B, n_way]``: from the whole split, or with
        ``within_alphabet`` from one alphabet per episode (uniform over the alphabets with >= n_way characters; with
        ``rotations`` every class of the episode turned by the same random quarter turn)."""
        if not self.within_alphabet:
            return sample_distinct(rand, self.n_classes, n_way)
        a = rand.integers(len(self.first))
        picked = sample_distinct(rand, self.count[a], n_way) + self.first[a][:, None]
        if self.rotations:
            picked = picked + rand.integers(4)[:, None] * self.data.n_characters
        return picked

    def draw(self, rand: KeyedRandom, classes: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
        """The k-th occurrence of a label in an episode shows drawing ``order[k]`` of its character, for a random
        order of the drawings per (episode, label): all distinct while there are enough drawings, then cycling."""
        order = rand.permutations(self.n_drawings, (classes.shape[1],))  # [B, n_way, D]
        rank = occurrence_rank(labels, classes.shape[1]) % self.n_drawings
        rows = np.arange(labels.shape[0])[:, None]
        turns, character = np.divmod(classes[rows, labels], self.data.n_characters)
        images = self.data.images[character, order[rows, labels, rank]]
        for k in range(1, 4) if self.rotations else ():
            turned = turns == k
            images[turned] = np.rot90(images[turned], k, axes=(-2, -1))
        return images

    def distinct_images(self) -> np.ndarray:
        """Every image ``draw`` can return, ``[N, H, W]``: each drawing of each character (and with ``rotations``
        each of its quarter turns, as ``draw`` turns them)."""
        flat = self.data.images.reshape(-1, *self.data.images.shape[2:])
        turns = range(4) if self.rotations else range(1)
        return np.concatenate([np.rot90(flat, k, axes=(-2, -1)) for k in turns])

    def class_name(self, class_id: int) -> str:
        turns, character = divmod(int(class_id), self.data.n_characters)
        return self.data.names[character] + (f" (turned {90 * turns} degrees)" if turns else "")


class OneShotTask(Task):
    """One-shot image classification with labels that are shuffled in every episode.

    T = n_way * n_shot + n_query. Support steps ``t < S = n_way * n_shot``: obs ``image`` (a drawing of the class
    with label ``l_t``) and ``label`` = onehot(l_t); every label appears ``n_shot`` times, in random order.
    Query steps: a new drawing and a zero label; the action must be l_t. target: onehot(l_t) at every step,
    ``extras["label"]`` = l_t ``[B, T]`` int64, ``extras["classes"]`` ``[B, n_way]`` the class id behind each label
    (privileged). Scored: query steps; the metric is accuracy (chance 1/n_way, oracle 1).

    Query labels (``query_mode``): ``"independent"`` draws each one uniformly with replacement, so an agent cannot
    answer by elimination; ``"permutation"`` (the paper's variant) queries the labels in blocks, each block a
    fresh random permutation of all ``n_way`` labels, truncated to ``n_query``: with ``n_query == n_way`` every class
    is queried exactly once, with fewer the queried classes are distinct, with more every class is queried
    ``n_query // n_way`` or one more times.
    """

    kind = "classification"
    primary_metric = "accuracy"
    higher_is_better = True
    success_threshold = 0.8  # no memory: 1 / n_way; oracle: 1

    def __init__(self, n_way: int = 5, n_shot: int = 1, n_query: int = 5, source: str = "glyphs",
                 split: str = "train", image_size: int = 28, query_mode: str = "independent",
                 root: str | os.PathLike | None = None, within_alphabet: bool = False, rotations: bool = False):
        self.n_way = require_int("n_way", n_way, 2)
        self.n_shot = require_int("n_shot", n_shot, 1)
        self.n_query = require_int("n_query", n_query, 1)
        self.source = require_choice("source", source, SOURCES)
        self.split = require_choice("split", split, SPLITS)
        self.image_size = require_int("image_size", image_size, 8)
        require(self.image_size <= MAX_IMAGE_SIZE, f"image_size must be <= {MAX_IMAGE_SIZE}, got {image_size!r}")
        self.query_mode = require_choice("query_mode", query_mode, QUERY_MODES)
        require(root is None or isinstance(root, (str, os.PathLike)),
                f"root must be a path (str or os.PathLike) or None, got {root!r}")
        self.root = root
        require(isinstance(within_alphabet, (bool, np.bool_)),
                f"within_alphabet must be a bool, got {within_alphabet!r}")
        self.within_alphabet = bool(within_alphabet)
        require(isinstance(rotations, (bool, np.bool_)), f"rotations must be a bool, got {rotations!r}")
        self.rotations = bool(rotations)
        if self.source == "glyphs":
            require(root is None, f"root is only read by source='omniglot' (glyphs need no data), got root={root!r}")
            require(not self.within_alphabet, "within_alphabet=True needs source='omniglot' (glyphs have no alphabets)")
            require(not self.rotations, "rotations=True needs source='omniglot' (glyph classes are unlimited)")
            self._source: _GlyphSource | _OmniglotSource = _GlyphSource(self.split)
        else:
            self._source = _OmniglotSource(omniglot.load(root, self.split, self.image_size), self.within_alphabet,
                                           self.n_way, self.rotations)
            data = self._source.data
            classes = (f"{4 * data.n_characters} classes (4 rotations of each character)" if self.rotations else
                       f"{data.n_characters} characters")
            require(self.n_way <= self._source.n_classes,
                    f"n_way must be <= the {classes} of the Omniglot {self.split!r} split "
                    f"({len(data.alphabets)} alphabets), got {n_way!r}")
            require(self.n_shot < data.n_drawings,
                    f"n_shot must be < the {data.n_drawings} drawings per Omniglot character (queries need an unseen "
                    f"drawing), got {n_shot!r}")
            require(len(self._source.first) > 0 or not self.within_alphabet,
                    f"within_alphabet=True needs an alphabet with >= n_way={n_way} characters; the largest of the "
                    f"{self.split!r} split has {int(data.alphabet_ranges()[1].max())}")
        size = self.image_size
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0, 255, (1, size, size), np.uint8),
            "label": spaces.Box(0.0, 1.0, (self.n_way,), np.float32),
        })
        self.action_space = spaces.Discrete(self.n_way)

    @property
    def support_length(self) -> int:
        return self.n_way * self.n_shot

    @property
    def episode_length(self) -> int:
        return self.support_length + self.n_query

    def _query_labels(self, rand: KeyedRandom) -> np.ndarray:
        n, q = self.n_way, self.n_query
        if self.query_mode == "independent":
            return rand.integers(n, (q,))
        blocks = -(-q // n)
        return rand.permutations(n, (blocks,)).reshape(rand.batch_size, blocks * n)[:, :q]

    def _generate(self, rand: KeyedRandom) -> Episodes:
        B, n, S, T = rand.batch_size, self.n_way, self.support_length, self.episode_length
        src = self._source
        picked = src.pick(rand, n)  # [B, n] distinct class ids
        # label l names class classes[:, l]: a fresh random permutation of the picked classes
        classes = np.take_along_axis(picked, rand.permutations(n), axis=1)
        support = rand.permutations(S) % n  # each label n_shot times, in random order
        labels = np.concatenate([support, self._query_labels(rand)], axis=1)  # [B, T]
        images = src.draw(rand, classes, labels, self.image_size)  # [B, T, H, W]
        onehot = (labels[..., None] == np.arange(n)).astype(np.float32)
        is_query = np.arange(T) >= S
        obs = {"image": images[:, :, None], "label": np.where(is_query[:, None], np.float32(0), onehot)}
        phase = np.broadcast_to(np.where(is_query, QUERY, STUDY).astype(np.int8), (B, T)).copy()
        return Episodes(obs, onehot, phase == QUERY, phase, rand.keys, {"label": labels, "classes": classes})

    def distinct_images(self) -> np.ndarray | None:
        """Every image an episode can show, uint8 ``[N, 1, H, W]`` (the layout of ``obs["image"]``), or None when
        there is no end to them (glyphs: fresh jitter in every drawing). Lets a frozen encoder's features be
        computed once (``plastic_gym.agents.feature_cache``)."""
        if isinstance(self._source, _GlyphSource):
            return None
        return self._source.distinct_images()[:, None]

    def oracle_actions(self, episodes: Episodes) -> np.ndarray:
        """Privileged: the true labels (accuracy 1)."""
        return episodes.extras["label"].copy()

    def class_name(self, class_id: int) -> str:
        """A readable name of a class id (``"glyph 12345"`` or ``"Greek/character03"``)."""
        return self._source.class_name(int(class_id))

    # -- rendering -------------------------------------------------------------------------------------
    def describe_step(self, episodes: Episodes, i: int, t: int) -> str:
        label = int(episodes.extras["label"][i, t])
        name = self.class_name(episodes.extras["classes"][i, label])
        ink = episodes.obs["image"][i, t].mean() / 255
        shown = f"label {label} shown" if t < self.support_length else "label hidden"
        return f"image of {name} (ink {ink:.0%}), {shown}"

    def render_rgb(self, episodes: Episodes, i: int, t: int, actions: np.ndarray | None = None) -> np.ndarray:
        """A picture of episode ``i`` at step ``t`` (``uint8 [H, W, 3]``).

        Left: the current image, framed blue at a support step and orange at a query step, with its label below
        (``?`` at a query step). Right: the support set shown so far, one column per label (the label id on top),
        one row per shot; drawings not yet shown are grey.
        """
        size, n, S = self.image_size, self.n_way, self.support_length
        images = 255 - episodes.obs["image"][i, :, 0]  # black ink on white paper
        labels = episodes.extras["label"][i]
        big, small = max(1, round(96 / size)) * size, max(1, round(48 / size)) * size
        pad, gap, frame, text = 8, 4, 3, 3  # pixels; text scale: 3 pixels per font dot
        grid_x, grid_y = pad + big + 2 * frame + 4 * pad, pad + 6 * text + gap
        width = grid_x + n * (small + gap) - gap + pad
        height = pad + max(big + 2 * frame + gap + 5 * text, 6 * text + gap + self.n_shot * (small + gap) - gap) + pad
        canvas = np.full((height, width, 3), 236, np.uint8)
        query = t >= S
        colour = (230, 120, 0) if query else (40, 90, 200)
        canvas[pad:pad + big + 2 * frame, pad:pad + big + 2 * frame] = colour
        _paste(canvas, _upscale(images[t], big), pad + frame, pad + frame)
        _write(canvas, "?" if query else str(int(labels[t])), pad + big + 2 * frame + gap, pad + frame, text)
        for label in range(n):
            _write(canvas, str(label), pad, grid_x + label * (small + gap), text)
        canvas[grid_y:grid_y + self.n_shot * (small + gap) - gap, grid_x:width - pad] = 205
        filled = np.zeros(n, np.int64)
        for s in range(min(t + 1, S)):  # rendering only: a loop over the support steps shown so far
            label = int(labels[s])
            _paste(canvas, _upscale(images[s], small), grid_y + filled[label] * (small + gap),
                   grid_x + label * (small + gap))
            filled[label] += 1
        return canvas


# 3x5 bitmaps of the characters the picture needs (digits and "?"), rows top to bottom.
_FONT = {ch: np.array([[c == "1" for c in row] for row in rows]) for ch, rows in {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
    "?": ("111", "001", "011", "000", "010"),
}.items()}


def _upscale(image: np.ndarray, side: int) -> np.ndarray:
    """A square grey image scaled by an integer factor (nearest neighbour) to ``side``, as RGB."""
    f = side // image.shape[0]
    return np.repeat(np.repeat(image, f, 0), f, 1)[..., None].repeat(3, -1)


def _paste(canvas: np.ndarray, patch: np.ndarray, y: int, x: int) -> None:
    canvas[y:y + patch.shape[0], x:x + patch.shape[1]] = patch


def _write(canvas: np.ndarray, text: str, y: int, x: int, scale: int) -> None:
    """Draw ``text`` (digits, ``?``) in black with its top-left corner at (y, x), ``scale`` pixels per font dot."""
    for k, ch in enumerate(text):
        dots = np.kron(_FONT[ch], np.ones((scale, scale), bool))
        region = canvas[y:y + dots.shape[0], x + k * 4 * scale:x + k * 4 * scale + dots.shape[1]]
        region[dots[:region.shape[0], :region.shape[1]]] = 0


class PlasticOneShotEnv(PlasticEnv):
    """One-shot image classification (PlasticOneShot-v0; PlasticOmniglot-v0 with ``source="omniglot"``), from
    "Hebbian and Gradient-based Plasticity Enables Robust Memory and Rapid Learning in RNNs" (ICLR 2023).

    ## Description
    Each episode picks ``n_way`` character classes and names them with the labels ``0..n_way-1`` in a fresh random
    order. Support: ``n_way * n_shot`` steps each show a drawing with its one-hot label, every label ``n_shot`` times,
    in random order. Query: ``n_query`` steps each show a new drawing with a zero label, and the agent must answer
    its label. Query classes are drawn independently with replacement (``query_mode="independent"``: no answer by
    elimination) or in blocks of random permutations of all labels (``"permutation"``, the paper's variant).
    ``source="glyphs"`` (default) draws procedural stroke characters (unlimited classes, no download; train and test
    classes disjoint); ``source="omniglot"`` reads Omniglot from ``root`` (default ``$PLASTIC_GYM_DATA/omniglot``;
    see ``plastic_gym.tasks.omniglot`` for the files and the train/test alphabets).

    ## Action Space
    ``Discrete(n_way)``: the label of the current image (only query steps are scored).

    ## Observation Space
    ``Dict(image=Box(0, 255, (1, image_size, image_size), uint8), label=Box(0, 1, (n_way,), float32))``: the image
    (white ink on black) and the one-hot label at support steps, all zeros at query steps.

    ## Rewards
    On query steps 1 if the action is the image's label, else 0; 0 on support steps.

    ## Episode End
    Terminates after ``n_way * n_shot + n_query`` steps with a zero observation. ``info["episode_metrics"]``:
    ``accuracy`` over the query steps (primary, higher is better; no memory 1/n_way, the privileged oracle 1).
    ``is_success``: ``accuracy >= 0.8``. Every step's info has ``target`` (the label), ``scored`` and ``phase``.

    ## Arguments
    ``gym.make("PlasticOneShot-v0", n_way=5, n_shot=1, n_query=5, source="glyphs", split="train", image_size=28,
    query_mode="independent", root=None, within_alphabet=False, rotations=False, render_mode=None)``;
    ``gym.make("PlasticOmniglot-v0", root=PATH)``. ``within_alphabet=True`` (Omniglot only) takes the classes of an
    episode from one alphabet (Lake et al.'s harder setting), chosen uniformly among those with >= n_way characters.
    ``rotations=True`` (Omniglot only) makes each character in each of its four quarter turns a class of its own
    (four times the classes, for meta-training on a small split).
    Render modes: ``"ansi"`` (one line per step) and ``"rgb_array"`` (the current image, its label and the support
    set shown so far).

    ## Version History
    * v0: initial version (suite v0).
    """

    task_class = OneShotTask


class PlasticOneShotVectorEnv(PlasticVectorEnv):
    """PlasticOneShot-v0 / PlasticOmniglot-v0 as a native vector env (see ``PlasticOneShotEnv``)."""

    task_class = OneShotTask
