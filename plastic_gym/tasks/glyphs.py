"""Procedurally drawn stroke characters: an Omniglot-like image source with unlimited classes and no download.

A *class* is an integer id. The id alone (through a keyed hash, never through an episode's random stream) fixes a
character: 2 to 5 pen strokes, each a cubic Bezier curve (arcs, hooks, S-curves, near-straight lines) or a
two-segment polyline (corners), laid out so that later strokes often start on an earlier one, as handwritten
characters do. The character is centred and scaled to fill the canvas.

An *instance* of a class is one drawing of it: the episode's ``KeyedRandom`` adds a wobble to every control point,
a random affine map (rotation, anisotropic scale, shear, shift) and a random stroke thickness. Instances of one
class therefore look alike, while different classes differ in their stroke structure.

Rasterization, for a whole batch of drawings at once: only the active strokes are moved and drawn; they are sampled
densely, splatted bilinearly onto the pixel grid with weights equal to their arc length (a line density accumulated
in float64 by ``np.add.at``, corner after corner, each in stroke and sample order), and blurred with a Gaussian
(separable: ``B @ image @ B.T`` with the banded matrix B of the 1-D kernel, zero outside the canvas, truncated at
3 sigma: two small matrix products per image, which BLAS does far faster than a line-by-line convolution).
For a straight stroke this is exactly a Gaussian profile of the distance to the
stroke d, ``ink = clip(g * exp(-d^2 / 2 sigma^2), 0, 1)``, the per-drawing gain g setting the thickness. Evaluating
distance-to-segment fields over the full grid instead costs O(pixels x segments) per image (about 2 s for 16
segments on the 10240 images of a 1024-env reset); the splat costs O(stroke samples + pixels). Large batches are
rasterized in blocks of ``RASTER_BLOCK`` images, so that the per-point and per-pixel arrays of a block (samples,
weights, density, blur, scaling) stay in the CPU cache instead of streaming ~80 MB per pass through memory; every
image is computed exactly as it would be alone (the blocks only split the batch), so the images do not depend on the
block size.

Every float operation of a drawing is fixed (its operands, their order, float32 or float64): the images are the
same, bit for bit, whatever the batch, the block size or the vectorization around them, and
``tests/test_glyphs_pinned.py`` pins digests of fixed episodes' images so that a change that moves a pixel shows.
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
#: Images per rasterization block (cache blocking, see the module docstring): the float64 density of 256 images
#: of 28x28 (with its ring) is about 2 MB. Throughput: ``benchmarks/env_throughput.py``, docs/performance.md.
RASTER_BLOCK = 256


@lru_cache(maxsize=16)
def _basis(n: int, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the 4 control points at the ``n`` parameters ``t = linspace(0, 1, n)``, ``[n, 4]`` each (read-only,
    cast to ``dtype``): cubic Bezier (Bernstein) and polyline P0 -> P1 -> P3."""
    s = np.linspace(0.0, 1.0, n)[:, None]
    bezier = np.concatenate([(1 - s) ** 3, 3 * (1 - s) ** 2 * s, 3 * (1 - s) * s ** 2, s ** 3], axis=1)
    a, b = np.clip(2 * s, 0, 1), np.clip(2 * s - 1, 0, 1)  # progress along the first and the second segment
    poly = np.concatenate([1 - a, a - b, np.zeros_like(s), b], axis=1)
    out = bezier.astype(dtype), poly.astype(dtype)
    for basis in out:
        basis.setflags(write=False)
    return out


def _curve(ctrl: np.ndarray, polyline: np.ndarray, n: int) -> np.ndarray:
    """Points of strokes at the ``n`` parameters ``t = linspace(0, 1, n)``: ``ctrl [..., 4, 2]``, ``polyline [...]``
    -> ``[..., 2, n]`` (row 0 the x, row 1 the y coordinates: the layout the rasterizer reads contiguously).

    Bezier strokes use all four control points; polyline strokes go P0 -> P1 -> P3 (P1 is the corner). One GEMM per
    kind, over the strokes of that kind only: ``[strokes * 2, 4] @ [4, n]``.
    """
    flat = np.swapaxes(ctrl, -1, -2).reshape(-1, 2, 4)
    kind = np.asarray(polyline).reshape(-1)
    out = np.empty((flat.shape[0], 2, n), ctrl.dtype)
    for rows, basis in zip((np.flatnonzero(~kind), np.flatnonzero(kind)), _basis(n, ctrl.dtype.type), strict=True):
        out[rows] = (flat[rows].reshape(-1, 4) @ basis.T).reshape(-1, 2, n)
    return out.reshape(*ctrl.shape[:-2], 2, n)


def _stroke_extent(ctrl: np.ndarray, polyline: np.ndarray, active: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest coordinates of the points of the active strokes at the ``n`` parameters
    ``linspace(0, 1, n)``: ``ctrl [..., 4, 2]``, ``polyline [...]``, ``active [...]`` -> ``(lo [..., 2], hi [..., 2])``
    (+inf and -inf for an inactive stroke).

    The points are those of ``_curve``, computed per kind as ``basis @ ctrl^T`` (``[n, 4] @ [4, strokes * 2]``) so that
    the reductions over the n points run along the leading axis, over contiguous rows.
    """
    flat = np.swapaxes(ctrl, -1, -2).reshape(-1, 2, 4)
    kind, on = np.asarray(polyline).reshape(-1), np.asarray(active).reshape(-1)
    lo, hi = np.full((len(flat), 2), np.inf), np.full((len(flat), 2), -np.inf)
    for rows, basis in zip((np.flatnonzero(on & ~kind), np.flatnonzero(on & kind)), _basis(n, ctrl.dtype.type),
                           strict=True):
        pts = basis @ flat[rows].reshape(-1, 4).T  # [n, rows * 2]
        lo[rows], hi[rows] = pts.min(axis=0).reshape(-1, 2), pts.max(axis=0).reshape(-1, 2)
    shape = ctrl.shape[:-2] + (2,)
    return lo.reshape(shape), hi.reshape(shape)


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
            # The point of stroke j at t = attach_at: P0 at t = 0, P3 at t = 1, and at t = 1/2 the corner P1 of a
            # polyline, or a Bezier point (the only one that needs the curve; _curve at t = 0 and 1 gives exactly P0
            # and P3, and a polyline's t = 1/2 exactly P1).
            j = attach_to[:, k]
            earlier = ctrl[rows, j]  # [R, 4, 2]
            at = attach_at[:, k]
            on_earlier = earlier[rows, np.where(at == 0.5, 1, 3 * at).astype(np.int64)]  # [R, 2]
            mid = np.flatnonzero((at == 0.5) & ~polyline[rows, j])
            on_earlier[mid] = _curve(earlier[mid], np.zeros(len(mid), bool), 3)[..., 1]  # t = 0, 1/2, 1
            p0 = np.where(connect[:, k, None], on_earlier, p0)
        direction = np.stack([np.cos(theta[:, k]), np.sin(theta[:, k])], -1)
        normal = np.stack([-direction[:, 1], direction[:, 0]], -1)
        chord = length[:, k, None] * direction
        ctrl[:, k, 0] = p0
        ctrl[:, k, 3] = p0 + chord
        ctrl[:, k, 1] = p0 + chord / 3 + normal * (bend[:, k, 0] * length[:, k])[:, None]
        ctrl[:, k, 2] = p0 + 2 * chord / 3 + normal * (bend[:, k, 1] * length[:, k])[:, None]

    # Centre the drawn strokes' bounding box and scale its longer side to _EXTENT.
    lo, hi = _stroke_extent(ctrl, polyline, active, 17)  # [R, K, 2] each
    lo, hi = lo.min(axis=1), hi.max(axis=1)
    scale = _EXTENT / np.maximum((hi - lo).max(-1), 0.9)
    ctrl = (ctrl - ((lo + hi) / 2)[:, None, None]) * scale[:, None, None, None]
    return ctrl.reshape(*shape, K, 4, 2), polyline.reshape(*shape, K), active.reshape(*shape, K)


def draw(rand: KeyedRandom, classes: np.ndarray, which: np.ndarray, size: int) -> np.ndarray:
    """One random instance of class ``classes[b, which[b, t]]`` per step: ``classes [B, C]`` (class ids),
    ``which [B, T]`` (column indices) -> ``uint8 [B, T, size, size]`` (ink 255 on 0).

    The jitter is drawn from ``rand`` (row b from episode b's stream), with shapes that depend only on T; it is drawn
    for all MAX_STROKES strokes, and only the class's active strokes are then moved and drawn.
    """
    B, T = which.shape
    K = MAX_STROKES
    ctrl, polyline, active = prototypes(classes)  # [B, C, K, 4, 2], [B, C, K], [B, C, K]
    # The drawn strokes, drawing-major: stroke s is stroke k of drawing n = b * T + t (flat index n * K + k), whose
    # character is prototype row b * C + which[b, t].
    proto = (np.arange(B)[:, None] * classes.shape[1] + which).reshape(-1)  # [B * T]
    flat = np.flatnonzero(active.reshape(-1, K)[proto])  # [S]
    n = flat // K
    proto_stroke = proto[n] * K + flat % K
    # The wobble of every control point, drawn for all K strokes but computed for the drawn ones only.
    wobble = rand.normal((T, K, 4, 2), at=(n // T, flat % (T * K) * 8, 8)).reshape(-1, 4, 2)  # row b, [t, k]
    angle = rand.uniform((T,), -0.25, 0.25)
    stretch = np.exp(rand.uniform((T, 2), -0.15, 0.15))
    shear = rand.uniform((T,), -0.15, 0.15)
    shift = rand.uniform((T, 2), -0.1, 0.1)
    gain = rand.uniform((T,), 0.9, 1.9)  # thickness
    p = ctrl.reshape(-1, 4, 2)[proto_stroke] + 0.06 * wobble  # [S, 4, 2]
    # p' = A p + shift with A = rotation(angle) @ [[sx, shear], [0, sy]]
    cos, sin = np.cos(angle), np.sin(angle)
    sx, sy = stretch[..., 0], stretch[..., 1]
    A = np.stack([cos * sx, cos * shear - sin * sy, sin * sx, sin * shear + cos * sy], -1).reshape(-1, 4)[n, :, None]
    offset = shift.reshape(-1, 2)[n, :, None]
    x, y = p[..., 0], p[..., 1]
    moved = np.empty(p.shape, np.float32)
    moved[..., 0] = A[:, 0] * x + A[:, 1] * y + offset[:, 0]
    moved[..., 1] = A[:, 2] * x + A[:, 3] * y + offset[:, 1]
    return rasterize(moved, polyline.reshape(-1)[proto_stroke], n, gain.reshape(-1), size).reshape(B, T, size, size)


def rasterize(ctrl: np.ndarray, polyline: np.ndarray, image: np.ndarray, gain: np.ndarray, size: int) -> np.ndarray:
    """Render strokes to uint8 images: ``ctrl [S, 4, 2]`` float32 control points in canvas units ([-1, 1]^2, x right,
    y down), ``polyline [S]`` (the stroke's kind, see ``_curve``), ``image [S]`` the image each stroke belongs to
    (non-decreasing), ``gain [N]`` (stroke thickness) -> ``[N, size, size]``.

    Blocks of ``RASTER_BLOCK`` images are rendered one after another (a loop over blocks for cache locality, each
    block vectorized from its control points on, one density buffer for all); image i depends only on its own
    strokes and gain.
    """
    N = len(gain)
    n_samples = max(12, int(np.ceil(0.8 * size)))  # per stroke
    bounds = np.searchsorted(image, np.arange(0, N + RASTER_BLOCK, RASTER_BLOCK))
    density = np.empty(min(N, RASTER_BLOCK) * (size + 3) ** 2)
    out = np.empty((N, size, size), np.uint8)
    for first, lo, hi in zip(range(0, N, RASTER_BLOCK), bounds[:-1], bounds[1:], strict=True):
        block = slice(first, first + RASTER_BLOCK)
        points = _curve(ctrl[lo:hi], polyline[lo:hi], n_samples)  # [S_block, 2, P]
        out[block] = _rasterize_block(points, image[lo:hi] - first, gain[block], size, density)
    return out


def _rasterize_block(points: np.ndarray, image: np.ndarray, gain: np.ndarray, size: int,
                     density: np.ndarray) -> np.ndarray:
    """The images of one block as float32 grey levels 0..255 (whole numbers): ``points [S, 2, P]`` along each
    stroke (row 0 x, row 1 y), ``image [S]`` counted from the block's first; ``density`` (float64, at least
    ``N * (size + 3)^2`` long) is the splat buffer."""
    N, P = len(gain), points.shape[-1]
    sigma = 0.03 * size
    px = points + np.float32(1.0)
    px *= np.float32(size / 2.0)
    px -= np.float32(0.5)
    d = np.diff(px, axis=-1)
    d *= d
    half = np.add(d[:, 0], d[:, 1], out=d[:, 0])
    np.sqrt(half, out=half)
    half /= 2  # [S, P-1]: half of each segment's length
    w = np.empty((len(px), P))  # the arc length each sample carries: the splat is a line density
    w[:, 0], w[:, -1] = half[:, 0], half[:, -1]
    np.add(half[:, :-1], half[:, 1:], out=w[:, 1:-1], dtype=np.float64)
    # Splat bilinearly onto a grid padded by one ring (plus one row/column for the +1 corner); points off the
    # canvas are clipped onto the ring, which is cropped away. The four corners are added one after another, each
    # in stroke and sample order (np.add.at adds in index order).
    side = size + 3
    xy = np.clip(px, -1.0, float(size), out=px)
    cell = np.floor(xy)
    frac = np.subtract(xy, cell, out=xy).astype(np.float64)
    fx, fy = frac[:, 0], frac[:, 1]  # [S, P]
    idx = (cell[:, 1] * side + cell[:, 0]).astype(np.int64)  # exact: |row * side + col| < 2^24
    idx += (side + 1 + image * side * side)[:, None]
    wx = (w * (1 - fx), w * fx)
    wy = (1 - fy, fy)
    grid = density[:N * side * side]
    grid.fill(0.0)
    wts = np.empty_like(w)
    for dy in range(2):
        for dx in range(2):
            np.multiply(wx[dx], wy[dy], out=wts)
            np.add.at(grid[dy * side + dx:], idx.reshape(-1), wts.reshape(-1))
    img = grid.reshape(N, side, side)[:, 1:size + 1, 1:size + 1].astype(np.float32)
    blur = _blur_matrix(size, sigma)
    img = np.matmul(np.matmul(blur, img), blur.T)  # along y, then along x
    peak = 1.0 / (sigma * np.sqrt(2 * np.pi))  # the blurred line's value on the line
    img *= (gain / peak).astype(np.float32)[:, None, None]
    np.minimum(img, 1.0, out=img)  # the clip to [0, 1]: img >= 0 (non-negative density and kernel)
    img *= 255
    return np.rint(img, out=img)


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
