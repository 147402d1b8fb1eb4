"""Glyph generator internals: the exact identities the fast paths of ``plastic_gym.tasks.glyphs`` rest on.

The drawings themselves are pinned by digests in ``test_glyphs_pinned.py``; these tests check the premises one by
one, against plain references, so that a failure says which one broke.
"""

from __future__ import annotations

import numpy as np
import pytest

from plastic_gym.tasks import glyphs


def random_strokes(n: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4, 2)).astype(dtype), rng.random(n) < 0.3, rng.random(n) < 0.7


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_curve_ends_and_polyline_corner_are_control_points(dtype):
    """``prototypes`` takes P0, P3 and a polyline's P1 directly instead of evaluating the curve at t = 0, 1 and 1/2:
    the curve's products give exactly those points (weights 1 and 0)."""
    ctrl, polyline, _ = random_strokes(5000, dtype)
    pts = glyphs._curve(ctrl, polyline, 3)  # t = 0, 1/2, 1: [n, 2, 3]
    np.testing.assert_array_equal(pts[..., 0], ctrl[:, 0])
    np.testing.assert_array_equal(pts[..., 2], ctrl[:, 3])
    np.testing.assert_array_equal(pts[polyline, :, 1], ctrl[polyline, 1])
    bezier_mid = (ctrl[:, 0] + 3 * ctrl[:, 1] + 3 * ctrl[:, 2] + ctrl[:, 3]) / 8
    np.testing.assert_allclose(pts[~polyline, :, 1], bezier_mid[~polyline], rtol=1e-5, atol=1e-6)


def test_curve_matches_the_bernstein_and_polyline_formulas():
    ctrl, polyline, _ = random_strokes(300, np.float64, seed=1)
    t = np.linspace(0.0, 1.0, 9)[:, None, None]
    p0, p1, p2, p3 = (ctrl[None, :, i] for i in range(4))
    bezier = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3
    a, b = np.clip(2 * t, 0, 1), np.clip(2 * t - 1, 0, 1)
    corner = p0 + a * (p1 - p0) + b * (p3 - p1)
    want = np.where(polyline[None, :, None], corner, bezier).transpose(1, 2, 0)  # [n, 2, 9]
    np.testing.assert_allclose(glyphs._curve(ctrl, polyline, 9), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stroke_extent_is_the_range_of_the_curve_points(dtype):
    """The bounding box reads the same points as ``_curve`` (other products, the same numbers), active strokes only."""
    ctrl, polyline, active = random_strokes(4000, dtype, seed=2)
    ctrl, polyline, active = ctrl.reshape(800, 5, 4, 2), polyline.reshape(800, 5), active.reshape(800, 5)
    lo, hi = glyphs._stroke_extent(ctrl, polyline, active, 17)
    pts = glyphs._curve(ctrl, polyline, 17)  # [800, 5, 2, 17]
    mask = active[..., None]
    np.testing.assert_array_equal(lo, np.where(mask, pts.min(-1), np.inf))
    np.testing.assert_array_equal(hi, np.where(mask, pts.max(-1), -np.inf))


def test_rasterize_blocks_and_stroke_order():
    """Each image is drawn from its own strokes only: rendering a slice of the images (with the strokes of those
    images) gives the same pixels as rendering all of them, for any block size."""
    rng = np.random.default_rng(3)
    counts = rng.integers(2, 6, 40)
    image = np.repeat(np.arange(40), counts)
    ctrl = (rng.random((len(image), 4, 2)) * 1.6 - 0.8).astype(np.float32)
    polyline, gain = rng.random(len(image)) < 0.25, rng.uniform(0.9, 1.9, 40)
    every = glyphs.rasterize(ctrl, polyline, image, gain, 28)
    assert every.shape == (40, 28, 28) and every.dtype == np.uint8 and every.max() == 255
    part = (image >= 10) & (image < 25)
    np.testing.assert_array_equal(glyphs.rasterize(ctrl[part], polyline[part], image[part] - 10, gain[10:25], 28),
                                  every[10:25])


def test_rasterize_a_straight_stroke_is_a_gaussian_line():
    """A long horizontal stroke along a row of pixel centres: the profile across it (averaged along the middle half
    of the line, over the ripple of the sample spacing) is the Gaussian ``g * exp(-d^2 / 2 sigma^2)``, clipped to 1,
    of the distance d to the line, to within a grey level."""
    size, row = 56, 27
    y = (2 * row + 1) / size - 1  # canvas units of the centre of pixel row 27
    for gain in (0.8, 1.9):
        ctrl = np.array([[[-0.9, y], [-0.3, y], [0.3, y], [0.9, y]]], np.float32)
        image = glyphs.rasterize(ctrl, np.array([False]), np.array([0]), np.array([gain]), size)[0]
        sigma = 0.03 * size
        want = 255 * np.minimum(1.0, gain * np.exp(-(np.arange(size) - row) ** 2 / (2 * sigma ** 2)))
        np.testing.assert_allclose(image[:, size // 4:3 * size // 4].mean(axis=1), want, atol=1.0)
