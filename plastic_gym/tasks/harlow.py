"""PlasticHarlow-v0: Harlow's learning-to-learn task (Harlow 1949; as meta-RL: Wang et al. 2018), SPEC section 6.

Each episode shows two new objects for ``n_trials`` trials. Every trial puts them in random left/right slots; the
agent picks a slot and gets reward 1 if it holds the object that is rewarded throughout the episode. The first
trial is a guess; from then on an agent that binds the reward to the *object* (not to the slot) is always right.

Objects are random vectors U(0, 1)^object_dim (default) or glyph images drawn by the one-shot task's procedural
character generator (``objects="glyphs"``: two distinct random characters, one drawing of each kept for the whole
episode, ``image_size`` pixels square, ink in [0, 1]). The observation is flat either way:
``[left object, right object, onehot(a_{t-1}), r_{t-1}, t / n_trials]``, images flattened row-major.
"""

from __future__ import annotations

import numpy as np

from ..core.interactive import InteractiveTask, RandomPolicy, ReferencePolicy
from ..core.rng import KeyedRandom
from ..core.task import require, require_choice, require_int
from ..envs import InteractiveEnv, InteractiveVectorEnv
from . import glyphs

OBJECTS = ("vectors", "glyphs")
MAX_IMAGE_SIZE = 64


class HarlowTask(InteractiveTask):
    """Two objects per episode, one of them rewarded; ``n_trials`` trials, one step each.

    State: ``objects [B, 2, D]`` float32 (object 0 is the rewarded one: the objects are i.i.d., so its index tells
    nothing), ``swap [B, n_trials]`` (1: object 1 is on the left at that trial), ``first_reward [B]``.
    """

    primary_metric = "accuracy_after_first"
    higher_is_better = True
    success_threshold = 0.9  # random: 0.5; explore-then-exploit and the oracle: 1

    def __init__(self, n_trials: int = 6, object_dim: int = 8, objects: str = "vectors", image_size: int = 16):
        self.n_trials = require_int("n_trials", n_trials, 2)
        self.object_dim = require_int("object_dim", object_dim, 1)
        self.objects = require_choice("objects", objects, OBJECTS)
        self.image_size = require_int("image_size", image_size, 8)
        require(self.image_size <= MAX_IMAGE_SIZE, f"image_size must be <= {MAX_IMAGE_SIZE}, got {image_size!r}")
        D = self.object_size
        self._make_spaces(np.zeros(2 * D), np.ones(2 * D), 2, 0.0, 1.0)

    @property
    def object_size(self) -> int:
        """D, the length of one object's features: ``object_dim``, or ``image_size**2`` for glyphs."""
        return self.image_size ** 2 if self.objects == "glyphs" else self.object_dim

    @property
    def episode_length(self) -> int:
        return self.n_trials

    def _start(self, rand: KeyedRandom):
        B = rand.batch_size
        swap = rand.integers(2, (self.n_trials,))
        if self.objects == "vectors":
            objects = rand.uniform((2, self.object_dim)).astype(np.float32)
        else:  # two distinct characters of the glyph generator's train classes [0, 2^31)
            first = rand.integers(glyphs.SPLIT_SIZE)
            second = (first + 1 + rand.integers(glyphs.SPLIT_SIZE - 1)) % glyphs.SPLIT_SIZE
            images = glyphs.draw(rand, np.stack([first, second], 1), np.tile(np.arange(2), (B, 1)), self.image_size)
            objects = images.reshape(B, 2, -1).astype(np.float32) / np.float32(255.0)
        return {"objects": objects, "swap": swap, "first_reward": np.zeros(B)}

    def rewarded_slot(self, state) -> np.ndarray:
        """The slot (0 left, 1 right) that holds the rewarded object at the current trial, ``[B]``."""
        return state["swap"][np.arange(len(state["t"])), np.minimum(state["t"], self.n_trials - 1)]

    def _advance(self, state, actions):
        correct = actions == self.rewarded_slot(state)
        reward = correct.astype(np.float64)
        state["first_reward"] = np.where(state["t"] == 0, reward, state["first_reward"])
        return state, reward, {"correct": correct}

    def _features(self, state):
        B = len(state["t"])
        left = self.rewarded_slot(state)  # the object on the left is object `swap`: 0 if the rewarded one is left
        rows = np.arange(B)
        return np.concatenate([state["objects"][rows, left], state["objects"][rows, 1 - left]], axis=1)

    def episode_metrics(self, state):
        hits = state["return"]
        return {"accuracy_after_first": (hits - state["first_reward"]) / (self.n_trials - 1),
                "accuracy": hits / self.n_trials}

    def describe(self, obs_row):
        D = self.object_size
        if self.objects == "glyphs":  # an image in one line: its total ink and the centre of mass of the ink
            def show(v):
                img = v.reshape(self.image_size, self.image_size)
                ink = img.sum()
                cy, cx = (np.indices(img.shape) * img).sum((1, 2)) / max(ink, 1e-9)
                return f"glyph(ink={ink:.1f}, centre=({cx:.1f}, {cy:.1f}))"
        else:
            def show(v):
                return "[" + " ".join(f"{x:.2f}" for x in v[:3]) + (" ...]" if D > 3 else "]")
        prev = int(np.argmax(obs_row[2 * D:2 * D + 2])) if obs_row[2 * D:2 * D + 2].any() else None
        return (f"left={show(obs_row[:D])} right={show(obs_row[D:2 * D])} prev_slot={prev} "
                f"prev_reward={obs_row[2 * D + 2]:.0f}")

    def describe_state(self, state, i):
        slots = "".join("LR"[s] for s in state["swap"][i])
        return f"rewarded object's slot per trial: {slots}"


# -- references -----------------------------------------------------------------------------------------------------
class HarlowOracle(ReferencePolicy):
    """Privileged: picks the rewarded object from the first trial on (accuracy 1)."""

    privileged = True

    def act(self, task_state, obs, pstate):
        return self.task.rewarded_slot(task_state), pstate


class SlotWinStayLoseShift(ReferencePolicy):
    """Win-stay lose-shift over the actions (slots): repeat a rewarded slot, else switch; the first pick is random.
    Since the slots are reshuffled every trial, it scores chance (0.5): the classical bandit heuristic applied to
    the action, the strategy a learner must get past to bind the reward to the object."""

    def act(self, task_state, obs, pstate):
        _, prev, reward, _ = self.task.split_obs(obs)
        first = pstate["rng"].integers(0, 2, size=len(obs))
        return np.where(prev < 0, first, np.where(reward > 0, prev, 1 - prev)), pstate


class ExploreThenExploit(ReferencePolicy):
    """Bayes-optimal: a random first pick; it reveals the rewarded object (the picked one if it paid, else the
    other), which is then picked in every later trial (accuracy after the first trial: 1). Objects are recognized
    by their features alone: the slot whose object is nearest (L2) to the remembered one."""

    def reset(self, batch_size, rng):
        D = self.task.object_size
        zeros = np.zeros((batch_size, D), np.float32)
        return {"rng": rng, "picked": zeros, "other": zeros, "target": zeros, "known": np.zeros(batch_size, bool)}

    def act(self, task_state, obs, pstate):
        B, D = len(obs), self.task.object_size
        features, prev, reward, _ = self.task.split_obs(obs)
        slots = features.reshape(B, 2, D)
        known = pstate["known"] & (prev >= 0)  # a new episode (no previous action) forgets
        learn = (prev >= 0) & ~known  # the first trial's outcome tells which object is rewarded
        revealed = np.where((reward > 0)[:, None], pstate["picked"], pstate["other"])
        target = np.where(learn[:, None], revealed, pstate["target"])
        known = known | learn
        nearest = ((slots - target[:, None]) ** 2).sum(-1).argmin(1)
        actions = np.where(known, nearest, pstate["rng"].integers(0, 2, size=B))
        rows = np.arange(B)
        return actions, {**pstate, "picked": slots[rows, actions], "other": slots[rows, 1 - actions],
                         "target": target, "known": known}


HarlowTask.references = {"no_memory": RandomPolicy, "oracle": HarlowOracle, "wsls": SlotWinStayLoseShift,
                         "explore_exploit": ExploreThenExploit}


class PlasticHarlowEnv(InteractiveEnv):
    """Harlow's learning-to-learn task (PlasticHarlow-v0): find which of two new objects pays, then keep picking it.

    ## Description
    Each episode shows two new objects for ``n_trials`` trials, in random left/right slots each trial. Picking the
    slot of the episode's rewarded object pays 1. One trial reveals which object it is, so an agent that learned to
    learn (Harlow 1949; Wang et al. 2018) is right in every later trial, whatever the slots.

    ## Action Space
    ``Discrete(2)``: the slot, 0 left, 1 right.

    ## Observation Space
    ``Box(0, 1, (2 D + 4,), float32)``: ``[left object, right object, onehot(previous slot), previous reward,
    t / n_trials]``. D = ``object_dim`` for ``objects="vectors"`` (U(0, 1) entries), or ``image_size**2`` for
    ``objects="glyphs"`` (a procedurally drawn character from the one-shot task's generator, flattened row-major,
    ink in [0, 1]).

    ## Rewards
    1 for the rewarded object's slot, else 0.

    ## Episode End
    Terminates after ``n_trials`` steps with a zero observation. ``info["correct"]`` on every step; at the end
    ``episode_metrics``: ``accuracy_after_first`` (primary, higher is better: trials 2..n; chance 0.5, optimum 1)
    and ``accuracy`` (every trial). ``is_success``: ``accuracy_after_first >= 0.9``.

    ## Arguments
    ``gym.make("PlasticHarlow-v0", n_trials=6, object_dim=8, objects="vectors", image_size=16, render_mode=None)``
    (``image_size`` applies to glyphs, ``object_dim`` to vectors); render modes ``"ansi"``, ``"rgb_array"``.

    ## Version History
    * v0: initial version (suite rl-v0).
    """

    task_class = HarlowTask


class PlasticHarlowVectorEnv(InteractiveVectorEnv):
    """PlasticHarlow-v0 as a native vector env (see ``PlasticHarlowEnv``)."""

    task_class = HarlowTask
