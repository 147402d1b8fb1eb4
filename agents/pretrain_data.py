"""The training classes of encoder pretraining (``agents/pretrain.py``): drawings of glyph or Omniglot classes, in
random batches for a classifier or in episodes of distinct classes for the prototypical loss, and the affine jitter
applied to Omniglot drawings."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from plastic_gym.core.rng import KeyedRandom, random_keys
from plastic_gym.tasks import glyphs, omniglot
from plastic_gym.validation import require

__all__ = ["GlyphClasses", "OmniglotClasses", "jitter_images"]


class GlyphClasses:
    """Fresh drawings of the glyph training classes ``0..n_classes-1``."""

    def __init__(self, n_classes: int, image_size: int):
        self.n_classes, self.image_size = n_classes, image_size

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(self.n_classes, size=size)
        return self.draw(rng, labels), labels  # [N, 1, H, W] uint8, [N]

    def episode(self, rng: np.random.Generator, n_way: int, per_class: int) -> np.ndarray:
        """``per_class`` fresh drawings of each of ``n_way`` distinct classes, class by class: ``[n_way * per_class,
        1, H, W]`` uint8."""
        return self.draw(rng, np.repeat(_distinct_classes(rng, self.n_classes, n_way), per_class))

    def draw(self, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
        """A fresh drawing of each class of ``labels [N]``: ``[N, 1, H, W]`` uint8."""
        rand = KeyedRandom(random_keys(rng, len(labels)))
        return glyphs.draw(rand, labels[:, None], np.zeros((len(labels), 1), np.int64), self.image_size)


class OmniglotClasses:
    """Drawings of the Omniglot training characters, each rotation by k * 90 degrees a class of its own."""

    def __init__(self, root, image_size: int, rotations: bool):
        self.data = omniglot.load(root, "train", image_size)
        self.n_rotations = 4 if rotations else 1
        self.n_classes = self.data.n_characters * self.n_rotations

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(self.n_classes, size=size)
        return self.draw(rng, labels, rng.integers(self.data.n_drawings, size=size)), labels

    def episode(self, rng: np.random.Generator, n_way: int, per_class: int) -> np.ndarray:
        """``per_class`` distinct drawings of each of ``n_way`` distinct classes, class by class: ``[n_way *
        per_class, 1, H, W]`` uint8."""
        require(per_class <= self.data.n_drawings,
                f"an Omniglot episode holds at most {self.data.n_drawings} drawings per class, asked {per_class}")
        classes = _distinct_classes(rng, self.n_classes, n_way)
        drawings = np.argsort(rng.random((n_way, self.data.n_drawings)), axis=1)[:, :per_class]
        return self.draw(rng, np.repeat(classes, per_class), drawings.ravel())

    def draw(self, rng: np.random.Generator, labels: np.ndarray, drawings: np.ndarray) -> np.ndarray:
        """Drawing ``drawings[i]`` of class ``labels[i]``, rotated as the class says: ``[N, 1, H, W]`` uint8."""
        char, turn = labels % self.data.n_characters, labels // self.data.n_characters
        images = self.data.images[char, drawings]  # [N, H, W]
        for k in range(1, self.n_rotations):  # four array-wide rotations, not a loop over examples
            images = np.where((turn == k)[:, None, None], np.rot90(images, k, axes=(1, 2)), images)
        return images[:, None]


def _distinct_classes(rng: np.random.Generator, n_classes: int, n_way: int) -> np.ndarray:
    """``n_way`` distinct class ids of ``0..n_classes-1`` for one episode."""
    require(n_way <= n_classes,
            f"an episode of {n_way} classes needs at least {n_way} training classes, got {n_classes}")
    return rng.choice(n_classes, n_way, replace=False)


def jitter_images(images: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """A random affine map per image (rotation, isotropic scale, shift; bilinear): ``[N, C, H, W]`` floats."""
    if strength == 0:
        return images
    n = images.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle, scale, shift = u[:, 0] * strength, 1 + u[:, 1] * strength, u[:, 2:] * strength
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
