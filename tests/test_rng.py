"""The keyed random streams: distributions, independence of rows from the batch, key derivation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plastic_gym.core.rng import KeyedRandom, next_keys, random_keys, seed_keys


def draw_all(keys):
    rand = KeyedRandom(keys)
    return rand.uniform((3, 2)), rand.normal((4,)), rand.integers(7, (5,)), rand.permutations(6, (2,))


def test_rows_do_not_depend_on_the_batch():
    keys = seed_keys(np.arange(10))
    whole = draw_all(keys)
    for i in (0, 4, 9):
        alone = draw_all(keys[i:i + 1])
        for a, b in zip(whole, alone, strict=True):
            np.testing.assert_array_equal(a[i], b[0])


def test_uniform_normal_integer_statistics():
    rand = KeyedRandom(seed_keys(np.arange(64)))
    u = rand.uniform((4000,), -1.0, 1.0)
    assert u.min() >= -1.0 and u.max() < 1.0
    assert abs(u.mean()) < 0.01 and abs(u.var() - 1 / 3) < 0.01
    z = rand.normal((4000,))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z ** 4) - 3) < 0.05  # Gaussian kurtosis
    k = rand.integers(5, (4000,))
    counts = np.bincount(k.ravel(), minlength=5) / k.size
    assert k.min() == 0 and k.max() == 4 and np.allclose(counts, 0.2, atol=0.005)


def test_permutations_are_permutations_and_vary():
    perms = KeyedRandom(seed_keys(np.arange(200))).permutations(5)
    assert np.array_equal(np.sort(perms, axis=1), np.tile(np.arange(5), (200, 1)))
    assert len({tuple(p) for p in perms}) > 60  # of 120 possible


def test_streams_of_neighbouring_seeds_are_uncorrelated():
    u = KeyedRandom(seed_keys(np.arange(2))).uniform((20000,))
    assert abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.03


def test_key_derivation():
    keys = seed_keys([0, 1, 2])
    assert keys.dtype == np.uint64 and len(set(keys.tolist())) == 3
    np.testing.assert_array_equal(seed_keys([5]), seed_keys(5)[None])
    assert not np.array_equal(next_keys(keys), keys)
    np.testing.assert_array_equal(next_keys(keys)[1:], next_keys(keys[1:]))
    a = random_keys(np.random.default_rng(3), 4)
    np.testing.assert_array_equal(a, random_keys(np.random.default_rng(3), 4))
    assert seed_keys(2**64 - 1).dtype == np.uint64


@pytest.mark.parametrize("bad", [-1, 2**64, [3, -2]])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(ValueError, match="seeds must be integers"):
        seed_keys(bad)


def test_bad_integer_bound():
    with pytest.raises(ValueError, match="high must be"):
        KeyedRandom(seed_keys([1])).integers(0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(1, 1000))
def test_integers_in_range_for_any_key(seed, high):
    k = KeyedRandom(seed_keys([seed])).integers(high, (50,))
    assert k.min() >= 0 and k.max() < high


@pytest.mark.parametrize("method", ["bits", "uniform", "normal"])
def test_draws_at_runs_are_those_of_the_whole_draw(method):
    """``at=(rows, first, length)`` gives the same numbers as the whole draw at those runs, and the stream moves on
    as after the whole draw."""
    keys = seed_keys(np.arange(50, 60))
    rng = np.random.default_rng(0)
    rows, first = rng.integers(0, 10, 200), rng.integers(0, 3 * 7 * 4 - 6 + 1, 200)
    whole, some = KeyedRandom(keys), KeyedRandom(keys)
    whole.uniform((5,)), some.uniform((5,))  # an earlier draw: the runs start at the stream's counter
    want = getattr(whole, method)((3, 7, 4)).reshape(10, -1)[rows[:, None], first[:, None] + np.arange(6)]
    got = getattr(some, method)((3, 7, 4), at=(rows, first, 6))
    assert got.shape == (200, 6) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(some.uniform((2,)), whole.uniform((2,)))


def test_draws_at_runs_outside_the_draw_are_rejected():
    r = KeyedRandom(seed_keys([1, 2]))
    with pytest.raises(ValueError, match=r"runs must lie in \[0, 12\)"):
        r.normal((3, 4), at=(np.array([0, 1]), np.array([0, 8]), 5))
