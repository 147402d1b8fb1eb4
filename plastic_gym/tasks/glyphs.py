"""Procedurally drawn stroke characters: an Omniglot-like image source with unlimited classes and no download.

A *class* is an integer id. The id alone (through a keyed hash, never through an episode's random stream) fixes a
character: 2 to 5 pen strokes, each a cubic Bezier curve (arcs, hooks, S-curves, near-straight lines) or a
two-segment polyline (corners), laid out so that later strokes often start on an earlier one, as handwritten
characters do. The character is centred and scaled to fill the canvas.

An *instance* of a class is one drawing of it: the episode's ``KeyedRandom`` adds a wobble to every control point,
a random affine map (rotation, anisotropic scale, shear, shift) and a random stroke thickness. Instances of one
class therefore look alike, while different classes differ in their stroke structure.

Rasterization, for a whole batch of drawings at once: the strokes are sampled densely, splatted bilinearly onto the
pixel grid with weights equal to their arc length (a line density, ``np.bincount``), and blurred with a Gaussian
(separable: ``B @ image @ B.T`` with the banded matrix B of the 1-D kernel, zero outside the canvas, truncated at
3 sigma: two small matrix products per image, which BLAS does far faster than a line-by-line convolution).
For a straight stroke this is exactly a Gaussian profile of the distance to the
stroke d, ``ink = clip(g * exp(-d^2 / 2 sigma^2), 0, 1)``, the per-drawing gain g setting the thickness. Evaluating
distance-to-segment fields over the full grid instead costs O(pixels x segments) per image (about 2 s for 16
segments on the 10240 images of a 1024-env reset); the splat costs O(stroke samples + pixels). Large batches are
rasterized in blocks of ``RASTER_BLOCK`` images, so that the per-pixel arrays of a block (density, blur, scaling)
stay in the CPU cache instead of streaming ~80 MB per pass through memory; every image is computed exactly as it
would be alone (the blocks only split the batch), so the images do not depend on the block size.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core.rng import KeyedRandom, seed_keys

#: At most this many strokes per character (each class has 2..MAX_STROKES).
MAX_STROKES = 5
#: Class ids of ``split="train"`` are ``[0, SPLIT_SIZE)``, those of ``split="test"`` ``[SPLIT_SIZE, 2 * SPLIT_SIZE)``.
SPLIT_SIZE = 1 << 31
#: Keeps the class hash streams apart from the episode streams (which are keyed by seed the same way).
_CLASS_SALT = 0x5DEECE66D2B7E151
#: The character's bounding box after normalization spans [-EXTENT/2, EXTENT/2] (the canvas is [-1, 1]).
_EXTENT = 1.35
#: Images per rasterization block (cache blocking, see the module docstring): the float64 density of 512 images
#: of 28x28 (with its ring) is about 4 MB. Throughput: ``benchmarks/env_throughput.py``.
RASTER_BLOCK = 512


def _basis(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the 4 control points at parameters ``t`` [P]: cubic Bezier (Bernstein) and polyline P0 -> P1 -> P3."""
    s = t[:, None]
    bezier = np.concatenate([(1 - s) ** 3, 3 * (1 - s) ** 2 * s, 3 * (1 - s) * s ** 2, s ** 3], axis=1)
    a, b = np.clip(2 * s, 0, 1), np.clip(2 * s - 1, 0, 1)  # progress along the first and the second segment
    poly = np.concatenate([1 - a, a - b, np.zeros_like(s), b], axis=1)
    return bezier, poly


def _curve(ctrl: np.ndarray, polyline: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points of strokes at parameters ``t`` [P]: ``ctrl [..., 4, 2]``, ``polyline [...]`` -> ``[..., P, 2]``.

    Bezier strokes use all four control points; polyline strokes go P0 -> P1 -> P3 (P1 is the corner).
    """
    bezier, poly = (b.astype(ctrl.dtype) for b in _basis(t))
    shape = ctrl.shape[:-2]
    flat = np.swapaxes(ctrl, -1, -2).reshape(-1, 4)  # one GEMM for all strokes: [strokes * 2, 4] @ [4, P]
    smooth, corner = (np.swapaxes((flat @ b.T).reshape(*shape, 2, len(t)), -1, -2) for b in (bezier, poly))
    return np.where(polyline[..., None, None], corner, smooth)


def prototypes(class_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The character of each class id: ``(ctrl [..., K, 4, 2], polyline [..., K] bool, active [..., K] bool)``.

    A pure function of the ids (K = MAX_STROKES; strokes beyond the class's count are inactive).
    """
    ids = np.asarray(class_ids, dtype=np.uint64)
    shape, K = ids.shape, MAX_STROKES
    r = KeyedRandom(seed_keys(ids.reshape(-1) ^ np.uint64(_CLASS_SALT)))
    R = r.batch_size
    active = np.arange(K) < (2 + r.integers(K - 1))[:, None]  # 2..K strokes
    free_start = r.uniform((K, 2), -0.8, 0.8)
    connect = r.uniform((K,)) < 0.65
    attach_to = np.floor(r.uniform((K,)) * np.arange(K)).astype(np.int64)  # an earlier stroke, in [0, k)
    attach_at = r.integers(3, (K,)) / 2.0  # its start, middle or end
    theta = r.uniform((K,), 0.0, 2 * np.pi)
    length = r.uniform((K,), 0.6, 1.4)
    bend = r.uniform((K, 2), -0.9, 0.9)
    bend *= np.where(r.uniform((K,)) < 0.35, 0.08, 1.0)[..., None]  # about a third are near-straight
    polyline = r.uniform((K,)) < 0.25

    ctrl = np.zeros((R, K, 4, 2))
    rows = np.arange(R)
    for k in range(K):  # a small loop over strokes: stroke k may start on stroke j < k
        p0 = free_start[:, k]
        if k > 0:
            j = attach_to[:, k]
            on_earlier = _curve(ctrl[rows, j], polyline[rows, j], np.array([0.0, 0.5, 1.0]))
            p0 = np.where(connect[:, k, None], on_earlier[rows, (2 * attach_at[:, k]).astype(np.int64)], p0)
        direction = np.stack([np.cos(theta[:, k]), np.sin(theta[:, k])], -1)
        normal = np.stack([-direction[:, 1], direction[:, 0]], -1)
        chord = length[:, k, None] * direction
        ctrl[:, k, 0] = p0
        ctrl[:, k, 3] = p0 + chord
        ctrl[:, k, 1] = p0 + chord / 3 + normal * (bend[:, k, 0] * length[:, k])[:, None]
        ctrl[:, k, 2] = p0 + 2 * chord / 3 + normal * (bend[:, k, 1] * length[:, k])[:, None]

    # Centre the drawn strokes' bounding box and scale its longer side to _EXTENT.
    pts = _curve(ctrl, polyline, np.linspace(0.0, 1.0, 17))  # [R, K, 17, 2]
    mask = active[:, :, None, None]
    lo = np.where(mask, pts, np.inf).min(axis=(1, 2))
    hi = np.where(mask, pts, -np.inf).max(axis=(1, 2))
    scale = _EXTENT / np.maximum((hi - lo).max(-1), 0.9)
    ctrl = (ctrl - ((lo + hi) / 2)[:, None, None]) * scale[:, None, None, None]
    return ctrl.reshape(*shape, K, 4, 2), polyline.reshape(*shape, K), active.reshape(*shape, K)


def draw(rand: KeyedRandom, classes: np.ndarray, which: np.ndarray, size: int) -> np.ndarray:
    """One random instance of class ``classes[b, which[b, t]]`` per step: ``classes [B, C]`` (class ids),
    ``which [B, T]`` (column indices) -> ``uint8 [B, T, size, size]`` (ink 255 on 0).

    The jitter is drawn from ``rand`` (row b from episode b's stream), with shapes that depend only on T.
    """
    B, T = which.shape
    K = MAX_STROKES
    ctrl, polyline, active = (np.take_along_axis(a, which.reshape(B, T, *[1] * (a.ndim - 2)), axis=1)
                              for a in prototypes(classes))  # [B, T, K, 4, 2], [B, T, K], [B, T, K]
    ctrl = ctrl + 0.06 * rand.normal((T, K, 4, 2))  # stroke wobble
    angle = rand.uniform((T,), -0.25, 0.25)
    stretch = np.exp(rand.uniform((T, 2), -0.15, 0.15))
    shear = rand.uniform((T,), -0.15, 0.15)
    shift = rand.uniform((T, 2), -0.1, 0.1)
    gain = rand.uniform((T,), 0.9, 1.9)  # thickness
    # p' = A p + shift with A = rotation(angle) @ [[sx, shear], [0, sy]]
    cos, sin = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
    sx, sy = stretch[..., 0, None, None], stretch[..., 1, None, None]
    sh = shear[..., None, None]
    x, y = ctrl[..., 0], ctrl[..., 1]
    ctrl = np.stack([cos * sx * x + (cos * sh - sin * sy) * y + shift[..., 0, None, None],
                     sin * sx * x + (sin * sh + cos * sy) * y + shift[..., 1, None, None]], -1).astype(np.float32)
    n_samples = max(12, int(np.ceil(0.8 * size)))
    pts = _curve(ctrl, polyline, np.linspace(0.0, 1.0, n_samples))  # [B, T, K, P, 2]
    return rasterize(pts.reshape(B * T, K, n_samples, 2), active.reshape(B * T, K),
                     gain.reshape(-1), size).reshape(B, T, size, size)


def rasterize(points: np.ndarray, active: np.ndarray, gain: np.ndarray, size: int) -> np.ndarray:
    """Render strokes to uint8 images: ``points [N, K, P, 2]`` along each stroke in canvas units ([-1, 1]^2,
    x right, y down), ``active [N, K]`` (False drops a stroke), ``gain [N]`` (stroke thickness) -> ``[N, size, size]``.

    Blocks of ``RASTER_BLOCK`` images are rendered one after another (a loop over blocks for cache locality, each
    block vectorized); image i depends only on row i of the inputs.
    """
    N = points.shape[0]
    if N <= RASTER_BLOCK:
        return _rasterize_block(points, active, gain, size)
    out = np.empty((N, size, size), np.uint8)
    for start in range(0, N, RASTER_BLOCK):
        block = slice(start, start + RASTER_BLOCK)
        out[block] = _rasterize_block(points[block], active[block], gain[block], size)
    return out


def _rasterize_block(points: np.ndarray, active: np.ndarray, gain: np.ndarray, size: int) -> np.ndarray:
    """``rasterize`` of one block of images."""
    N, K, P, _ = points.shape
    sigma = 0.03 * size
    keep = active.reshape(-1)
    px = (points.reshape(N * K, P, 2)[keep] + np.float32(1.0)) * np.float32(size / 2.0) - np.float32(0.5)
    d = np.diff(px, axis=1)
    seg = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)  # [S, P-1]
    w = np.zeros(px.shape[:-1])
    w[:, 1:] += seg / 2
    w[:, :-1] += seg / 2  # the arc length each sample carries: the splat is a line density
    # Splat bilinearly onto a grid padded by one ring (plus one row/column for the +1 corner); points off the
    # canvas are clipped onto the ring, which is cropped away.
    side = size + 3
    xy = np.clip(px, -1.0, float(size))
    cell = np.floor(xy)
    f = (xy - cell).astype(np.float64)
    fx, fy = f[..., 0], f[..., 1]
    image = np.repeat(np.arange(N, dtype=np.int64), K)[keep]
    row, col = cell[..., 1].astype(np.int64), cell[..., 0].astype(np.int64)
    idx = row * side + col + (side + 1 + image * side * side)[:, None]
    wx0, wx1 = w * (1 - fx), w * fx
    idx = np.concatenate([idx, idx + 1, idx + side, idx + side + 1], axis=None)
    wts = np.concatenate([wx0 * (1 - fy), wx1 * (1 - fy), wx0 * fy, wx1 * fy], axis=None)
    density = np.bincount(idx, wts, minlength=N * side * side).astype(np.float32)
    img = density.reshape(N, side, side)[:, 1:size + 1, 1:size + 1]
    blur = _blur_matrix(size, sigma)
    img = np.matmul(np.matmul(blur, img), blur.T)  # along y, then along x
    peak = 1.0 / (sigma * np.sqrt(2 * np.pi))  # the blurred line's value on the line
    img *= (gain / peak).astype(np.float32)[:, None, None]
    np.clip(img, 0.0, 1.0, out=img)
    img *= 255
    return np.rint(img, out=img).astype(np.uint8)


@lru_cache(maxsize=8)
def _blur_matrix(size: int, sigma: float) -> np.ndarray:
    """``B [size, size]`` float32 with ``(B @ v)[i] = sum_j g(j - i) v[j]``: the normalized Gaussian kernel
    g(d) ~ exp(-d^2 / 2 sigma^2) for |d| <= round(3 sigma), zero beyond; pixels off the canvas count as 0."""
    radius = int(3.0 * sigma + 0.5)
    d = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 / sigma ** 2 * d.astype(np.float64) ** 2)
    g /= g.sum()
    offset = np.arange(size)[None, :] - np.arange(size)[:, None]  # j - i
    blur = np.where(np.abs(offset) <= radius, g[np.clip(offset + radius, 0, 2 * radius)], 0.0).astype(np.float32)
    blur.setflags(write=False)
    return blur
