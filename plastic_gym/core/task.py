"""The task contract (SPEC section 2): a task generates whole episodes; envs and batches are views of it."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

# The validators live in plastic_gym.validation; they stay importable from here, where tasks have always found them.
from ..validation import reject_unknown_kwargs as reject_unknown_kwargs
from ..validation import require as require
from ..validation import require_choice as require_choice
from ..validation import require_float as require_float
from ..validation import require_int as require_int
from .rng import KeyedRandom, random_keys

#: Phase codes stored in ``Episodes.phase``; ``PHASE_NAMES[code]`` is what ``info["phase"]`` shows.
STUDY, DELAY, QUERY = 0, 1, 2
PHASE_NAMES = ("study", "delay", "query")

Obs = np.ndarray | dict[str, np.ndarray]


@dataclass(frozen=True)
class Episodes:
    """A batch of whole episodes, time-major on axis 1.

    Attributes:
        obs: ``[B, T, *obs_shape]`` float32, or a dict of such arrays for ``Dict`` observation spaces.
            ``obs[:, t]`` is u_t, what the agent sees before acting at step t.
        target: ``[B, T, K]`` float32, y_t. Real-valued tasks: the value to predict. Classification tasks:
            the one-hot label (K = number of classes); ``extras["label"]`` holds the class index.
        scored: ``[B, T]`` bool, the steps that are rewarded and enter the primary metric.
        phase: ``[B, T]`` int8, ``STUDY``, ``DELAY`` or ``QUERY``.
        keys: ``[B]`` uint64, the episode keys the batch was generated from (episode i = f(keys[i])).
        extras: task-specific arrays with a leading batch axis (e.g. the cue identities of PlasticAssoc-v0,
            used by the privileged oracle, never shown to an agent).
    """

    obs: Obs
    target: np.ndarray
    scored: np.ndarray
    phase: np.ndarray
    keys: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.scored.shape[0]

    @property
    def length(self) -> int:
        return self.scored.shape[1]

    def obs_at(self, t: int) -> Obs:
        """Fresh copies of the observations of step ``t`` for every episode: ``[B, *obs_shape]``."""
        if isinstance(self.obs, dict):
            return {k: v[:, t].copy() for k, v in self.obs.items()}
        return self.obs[:, t].copy()

    def __getitem__(self, index) -> Episodes:
        """Select episodes along the batch axis (an int keeps the axis: ``episodes[i]`` has B = 1)."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1) if index != -1 else slice(-1, None)
        take = lambda a: a[index]  # noqa: E731
        obs = {k: take(v) for k, v in self.obs.items()} if isinstance(self.obs, dict) else take(self.obs)
        return Episodes(obs, take(self.target), take(self.scored), take(self.phase), take(self.keys),
                        {k: take(v) for k, v in self.extras.items()})


def zeros_like_space(space: spaces.Space, batch: int) -> Obs:
    """A batch of all-zero observations (the observation after the last step)."""
    if isinstance(space, spaces.Dict):
        return {k: np.zeros((batch, *s.shape), dtype=s.dtype) for k, s in space.spaces.items()}
    return np.zeros((batch, *space.shape), dtype=space.dtype)


class Configurable:
    """What every task family shares, whatever its episodes look like: construction from validated kwargs, the
    ``kwargs`` it was built with, and the success rule of its primary metric. ``Task`` (SPEC section 2) and
    ``InteractiveTask`` (section 6) both derive from it; subclasses set ``primary_metric``, ``higher_is_better`` and
    ``success_threshold``."""

    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = False
    success_threshold: float

    @classmethod
    def from_kwargs(cls, **kwargs: Any):
        """Construct from keyword arguments, turning an unknown name into a ``ValueError`` that lists the valid ones."""
        reject_unknown_kwargs(cls, kwargs)
        return cls(**kwargs)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The task's configuration (every constructor argument), e.g. for result files and checkpoints."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    @classmethod
    def with_defaults(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` completed with the constructor's defaults for the arguments it lacks (a configuration stored
        before an argument existed compares equal to ``kwargs`` of a task built from it)."""
        params = inspect.signature(cls.__init__).parameters.values()
        defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        return {**defaults, **kwargs}

    def is_success(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        """Whether each episode counts as solved: the primary metric beats ``success_threshold``."""
        m = metrics[self.primary_metric]
        return m >= self.success_threshold if self.higher_is_better else m <= self.success_threshold

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}({args})"


class Task(Configurable, ABC):
    """A family of episodes, generated in batches from keys.

    Subclasses set the class attributes, validate their kwargs in ``__init__`` (see ``require``), build
    ``observation_space`` / ``action_space`` (one step, one env) and implement ``_generate``.
    Everything an env needs beyond generation (rewards, metrics, references) is vectorized over the batch.
    """

    #: ``"regression"`` (Box action, reward -MSE) or ``"classification"`` (Discrete action, reward 1/0).
    kind: ClassVar[str]
    #: Name of the leaderboard metric in ``episode_metrics`` and whether larger values are better.
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = False

    observation_space: spaces.Space
    action_space: spaces.Space

    # -- generation ----------------------------------------------------------------------------------
    @property
    @abstractmethod
    def episode_length(self) -> int:
        """T, the number of steps of every episode."""

    @property
    def target_dim(self) -> int:
        """K, the last axis of ``Episodes.target``."""
        if self.kind == "classification":
            return int(self.action_space.n)
        return int(np.prod(self.action_space.shape))

    def sample(self, batch_size: int, rng: np.random.Generator | int | None = None) -> Episodes:
        """Whole episodes for supervised meta-training: ``obs[B,T,...]``, ``target[B,T,K]``, ``scored[B,T]``.

        ``rng`` is a numpy Generator or an int seed; the same seed gives the same batch.
        """
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self.generate(random_keys(rng, int(batch_size)))

    def generate(self, keys: np.ndarray) -> Episodes:
        """The episodes of the given keys (row i depends only on keys[i])."""
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        return self._generate(KeyedRandom(keys))

    @abstractmethod
    def _generate(self, rand: KeyedRandom) -> Episodes:
        """Build a batch of episodes drawing every random number from ``rand``."""

    # -- scoring ---------------------------------------------------------------------------------------
    def validate_actions(self, actions: np.ndarray, batch_size: int) -> np.ndarray:
        """Check a batch of actions ``[B, *action_shape]`` and return it as an array; raise ``ValueError`` if bad.

        Box actions outside the bounds are scored as given (an MSE), not refused.
        """
        return check_actions(self.action_space, actions, (batch_size,))

    def rewards(self, actions: np.ndarray, episodes: Episodes, t: int) -> np.ndarray:
        """Reward of each episode's step ``t`` (float64 ``[B]``): -MSE or 1/0 on scored steps, 0 elsewhere."""
        scored = episodes.scored[:, t]
        if self.kind == "classification":
            hit = actions == episodes.extras["label"][:, t]
            return np.where(scored, hit.astype(np.float64), 0.0)
        err = np.mean((actions.reshape(len(actions), -1) - episodes.target[:, t]) ** 2, axis=-1, dtype=np.float64)
        return np.where(scored, -err, 0.0)

    def episode_metrics(self, actions: np.ndarray, episodes: Episodes) -> dict[str, np.ndarray]:
        """Per-episode metrics (``[B]`` float64 each) from the actions of whole episodes ``[B, T, ...]``.

        Regression tasks report ``<scored-phase>_mse`` (the primary metric) and ``all_mse`` (every step);
        classification tasks report ``accuracy`` over scored steps.
        """
        scored = episodes.scored
        if self.kind == "classification":
            hits = (actions == episodes.extras["label"]) & scored
            return {"accuracy": hits.sum(1) / scored.sum(1)}
        err = np.mean((actions.reshape(*scored.shape, -1) - episodes.target) ** 2, axis=-1, dtype=np.float64)
        return {self.primary_metric: (err * scored).sum(1) / scored.sum(1), "all_mse": err.mean(1)}

    @property
    @abstractmethod
    def success_threshold(self) -> float:
        """The primary-metric value that counts as solving an episode (reported as ``is_success``)."""

    # -- references ------------------------------------------------------------------------------------
    def no_memory_actions(self, episodes: Episodes) -> np.ndarray:
        """The best actions without memory (``[B, T, ...]``): the target's mean (0 for every task here), or a fixed
        class."""
        if self.kind == "classification":
            return np.zeros(episodes.scored.shape, dtype=np.int64)
        return np.zeros((*episodes.scored.shape, *self.action_space.shape), dtype=np.float32)

    @abstractmethod
    def oracle_actions(self, episodes: Episodes) -> np.ndarray:
        """The upper reference's actions ``[B, T, ...]``; may read ``episodes.extras`` (privileged)."""

    # -- rendering ----------------------------------------------------------------------------------------
    def describe_step(self, episodes: Episodes, i: int, t: int) -> str:
        """One line of text for the ``ansi`` view of episode ``i``, step ``t`` (before the action)."""
        obs = episodes.obs
        if isinstance(obs, dict):
            parts = [f"{k}={_fmt(v[i, t])}" for k, v in obs.items() if v[i, t].ndim <= 1]
            text = " ".join(parts)
        else:
            text = _fmt(obs[i, t])
        return f"u={text}"

    def render_rgb(self, episodes: Episodes, i: int, t: int, actions: np.ndarray | None = None) -> np.ndarray:
        """A picture of episode ``i`` up to step ``t`` (``uint8 [H, W, 3]``; the ``rgb_array`` render mode).

        One row per step, one column per observation dimension, then the target and the action taken: values in
        blue (negative) to red (positive), clipped to [-1, 1]; steps not reached yet are grey, the current row is
        marked on the left. Image tasks override this with a picture of their images.
        """
        gap = np.full((episodes.length, 1), np.nan)
        columns = [np.asarray(episodes.obs[i], np.float64).reshape(episodes.length, -1), gap,
                   episodes.target[i].astype(np.float64), gap]
        if actions is not None:
            columns.append(np.asarray(actions[i], np.float64).reshape(episodes.length, -1))
        values = np.concatenate(columns, axis=1)
        values[t + 1:] = np.nan
        if actions is not None:
            values[t:, -columns[-1].shape[1]:] = np.nan  # the action of step t is not taken yet
        return value_picture(values, t, [columns[0].shape[1], columns[0].shape[1] + columns[2].shape[1] + 1])


def value_picture(values: np.ndarray, t: int, separators: list[int] = ()) -> np.ndarray:
    """A picture of a table of values ``[rows, columns]`` (one row per step), ``uint8 [H, W, 3]``: values in blue
    (negative) to red (positive), clipped to [-1, 1]; NaN cells grey, the columns in ``separators`` white, row ``t``
    marked on the left. The ``rgb_array`` view of tasks without a picture of their own."""
    v = np.clip(np.nan_to_num(values), -1.0, 1.0)[..., None]
    white, red, blue = np.array([250.0, 250, 250]), np.array([200.0, 40, 40]), np.array([40.0, 70, 200])
    rgb = np.where(v >= 0, white + v * (red - white), white - v * (blue - white))
    rgb[np.isnan(values)] = 225
    rgb[:, list(separators)] = 255
    cell = 8
    image = np.kron(rgb, np.ones((cell, cell, 1)))
    marker = np.full((image.shape[0], cell, 3), 255.0)
    marker[t * cell:(t + 1) * cell] = (20, 20, 20)
    return np.concatenate([marker, image], axis=1).astype(np.uint8)


#: Largest action magnitude scored as given; beyond it a Box action is clipped (``check_actions``). Its square,
#: 1e36, and a sum of a few hundred of them stay below float32's maximum (3.4e38), so every metric stays finite.
MAX_ACTION = 1e18


def check_actions(space: spaces.Space, actions: Any, batch_shape: tuple[int, ...] = (), who: str = "actions",
                  check_bounds: bool = False) -> np.ndarray:
    """Actions of shape ``(*batch_shape, *space.shape)`` checked against ``space``: int64 for ``Discrete``, float32 for
    ``Box``. Raises ``ValueError`` naming what was expected for a wrong shape, a non-number, a NaN/inf, an
    out-of-range class or (``check_bounds``) a value outside the box. Finite Box actions beyond ``+-MAX_ACTION`` are
    clipped to it (not refused: an agent's huge output scores a huge, finite error). The one action check of every
    view."""
    arr = np.asarray(actions)
    if isinstance(space, spaces.Discrete):
        integral = arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr)))
                                              and bool(np.all(arr == np.round(arr))))
        if arr.shape != batch_shape:
            raise ValueError(f"{who}: expected discrete action(s) of shape {batch_shape}, got shape {arr.shape}")
        if not integral or np.any(arr < 0) or np.any(arr >= space.n):
            raise ValueError(f"{who}: discrete actions must be integers in [0, {space.n}), got {arr.tolist()!r}")
        return arr.astype(np.int64)
    expected = (*batch_shape, *space.shape)
    if arr.shape != expected:
        raise ValueError(f"{who}: expected shape {expected}, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{who}: must be real numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{who}: must be finite, got NaN or inf")
    if check_bounds and (np.any(arr < space.low) or np.any(arr > space.high)):
        raise ValueError(f"{who}: must lie in [{space.low.min()}, {space.high.max()}], got {arr.tolist()}")
    # A finite action so large that its squared error overflows float32 would make the episode's MSE inf (and NaN
    # where multiplied by an unscored step's 0): it is clipped to +-MAX_ACTION, whose squared error stays finite.
    return np.clip(arr, -MAX_ACTION, MAX_ACTION).astype(np.float32)


def _fmt(v: np.ndarray) -> str:
    return "[" + " ".join(f"{x:+.2f}" for x in np.ravel(v)) + "]"
