"""Counter-based random streams, one per episode key, drawn for a whole batch at once.

Why not ``numpy.random.Generator``? Gymnasium's seeding convention makes env ``i`` of a vector env
reset with ``seed=s`` play the episode that a single env plays after ``reset(seed=s + i)``. With one
``Generator`` per env that means a Python loop over thousands of generators at every reset. Here an
episode is instead a pure function of one 64-bit *key*: every random number of the episode is
``splitmix64(key + j * golden)`` for a counter ``j``. Keys for a batch of seeds, and the successor key of
every finished episode, are computed with vectorized integer arithmetic, so a batch of N episodes costs
the same numpy calls as one episode with N rows, and row ``i`` never depends on the batch size.

SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of xoshiro) passes BigCrush; it is used here
as a keyed hash of (key, counter).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SUCCESSOR = np.uint64(0xD1B54A32D192ED03)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_MASK64 = (1 << 64) - 1


def _mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finalizer, elementwise on uint64 (wrap-around arithmetic is intended)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def seed_keys(seeds) -> np.ndarray:
    """Episode keys for integer seeds in ``[0, 2**64)`` (scalar or array): ``key = mix(seed + golden)``."""
    as_objects = np.asarray(seeds, dtype=object)
    if as_objects.size and (as_objects.min() < 0 or as_objects.max() > _MASK64):
        raise ValueError(f"seeds must be integers in [0, 2**64), got {seeds!r}")
    with np.errstate(over="ignore"):
        return _mix(np.asarray(seeds).astype(np.uint64) + _GOLDEN)


def next_keys(keys: np.ndarray) -> np.ndarray:
    """The key of the episode that follows each given episode (used on unseeded resets)."""
    return _mix(np.asarray(keys, dtype=np.uint64) ^ _SUCCESSOR)


def random_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` fresh keys drawn from a numpy generator (the supervised view and unseeded first resets)."""
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def episode_keys(previous: np.ndarray | None, seed: int | None, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """The keys of the next ``n`` episodes of a reset, gymnasium's seeding convention for every view:

    ``seed`` given: the keys of ``seed, seed + 1, ..., seed + n - 1``; else the successors of ``previous``; on a first
    unseeded reset, fresh keys from ``rng`` (the env's ``np_random``).
    """
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int in [0, 2**64) or None, got {seed!r}")
        return seed_keys(int(seed) + np.arange(n, dtype=object))
    if previous is None:
        return random_keys(rng, n)
    return next_keys(previous)


class KeyedRandom:
    """Independent random streams for a batch of episode keys.

    Every draw method returns an array of shape ``(B, *shape)``; row ``b`` depends only on ``keys[b]`` and on
    the sequence of draws made so far (their shapes), never on the other rows. Tasks therefore must make
    the same sequence of draws for every batch size, which they do by construction: shapes depend only on
    the task's kwargs.
    """

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        self._counter = 0

    @property
    def batch_size(self) -> int:
        return self.keys.shape[0]

    def bits(self, shape: tuple[int, ...] = (), at: tuple | None = None) -> np.ndarray:
        """Raw uint64 draws of shape ``(B, *shape)``.

        ``at=(rows, first, length)`` draws only runs of the elements that will be read: ``[len(rows), length]`` with
        row i ``draw.reshape(B, -1)[rows[i], first[i]:first[i] + length]``, the same numbers, and the stream moves on
        as after the whole draw.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape)) if shape != () else ()
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        start = self._counter + 1
        self._counter += n
        with np.errstate(over="ignore"):
            if at is not None:
                rows, first, length = at[0], np.asarray(at[1]), int(at[2])
                if first.size and (first.min() < 0 or first.max() + length > n):
                    raise ValueError(f"at: runs must lie in [0, {n}) (the draw's elements per row), got first "
                                     f"{first.min()}..{first.max()} and length {length}")
                base = self.keys[rows] + (np.uint64(start) + first.astype(np.uint64)) * _GOLDEN
                return _mix(base[:, None] + np.arange(length, dtype=np.uint64) * _GOLDEN)
            z = self.keys[:, None] + np.arange(start, start + n, dtype=np.uint64)[None, :] * _GOLDEN
        return _mix(z).reshape((self.batch_size, *shape))

    def uniform(self, shape=(), low=0.0, high=1.0, at: tuple | None = None) -> np.ndarray:
        """Floats in ``[low, high)`` from the top 53 bits (float64); ``at`` as in ``bits``."""
        u = (self.bits(shape, at) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        return low + (high - low) * u

    def normal(self, shape=(), at: tuple | None = None) -> np.ndarray:
        """Standard normals by the Box-Muller transform (float64); ``at`` as in ``bits``."""
        u1 = 1.0 - self.uniform(shape, at=at)  # in (0, 1], so the log is finite
        u2 = self.uniform(shape, at=at)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def integers(self, high: int, shape=()) -> np.ndarray:
        """Integers uniform in ``[0, high)`` (int64), by Lemire's multiply-shift on 32-bit draws."""
        if not 0 < high <= 1 << 32:
            raise ValueError(f"high must be in [1, 2**32], got {high}")
        top = self.bits(shape) >> np.uint64(32)
        return ((top * np.uint64(high)) >> np.uint64(32)).astype(np.int64)

    def permutations(self, n: int, shape=()) -> np.ndarray:
        """Random permutations of ``range(n)`` along a last axis: shape ``(B, *shape, n)``."""
        shape = tuple(np.atleast_1d(shape)) if shape != () else ()
        return np.argsort(self.uniform((*shape, n)), axis=-1, kind="stable")
