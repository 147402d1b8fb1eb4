"""Features of a frozen image encoder, computed once for every image a task can show and then looked up.

When the encoder is pretrained and frozen (``TaskModel.freeze_encoder``) its features are a fixed function of the
image, and a task over a finite image set (Omniglot: every drawing of every training character, in each of its
quarter turns with ``rotations``; ``OneShotTask.distinct_images``) shows the same images again and again. Meta-
training then spends most of a step in the Conv-4's forward pass over images it has encoded before (more than half
of a 20-way step at hidden 256). ``FeatureCache`` encodes the whole set once (a few seconds: 10,880 images) and
answers an episode batch by lookup: a row's key is a random 64-bit projection of its pixels, found by binary search
among the sorted keys of the set, and every hit is checked pixel for pixel, so a collision can cost a lookup but
never return another image's features. Images not in the set (another split, glyphs) go through the encoder.

The features are the encoder's in eval mode (batch norm with its running statistics), as a frozen encoder computes
them anyway; they equal the encoder's output on the same images to float rounding (batches of other sizes).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["FeatureCache"]

#: Images encoded per forward pass while the cache is built.
BUILD_BATCH = 1024


class FeatureCache:
    """``encoder``'s features of ``images`` (uint8 ``[N, C, H, W]``), looked up by pixel content."""

    def __init__(self, encoder: torch.nn.Module, images: np.ndarray):
        images = np.ascontiguousarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
            raise ValueError(f"FeatureCache takes a non-empty uint8 array [N, C, H, W], got {images.dtype} "
                             f"{images.shape}")
        self.encoder = encoder
        self.shape = images.shape[1:]
        # odd 64-bit multipliers: a row's key is sum_i pixel_i * w_i modulo 2^64
        self._weights = np.random.default_rng(0).integers(1, 2**62, size=int(np.prod(self.shape)), dtype=np.int64) | 1
        keys = self._keys(images)
        order = np.argsort(keys, kind="stable")
        keys, images = keys[order], images[order]
        repeated = np.flatnonzero(keys[1:] == keys[:-1])
        if len(repeated) and not all(np.array_equal(images[i], images[i + 1]) for i in repeated):
            raise ValueError("FeatureCache: two different images share a key; use another seed")  # 2^-64 per pair
        self.keys, self.images = keys, images
        self.features = self._encode(images)

    def __len__(self) -> int:
        return len(self.keys)

    def _keys(self, flat_images: np.ndarray) -> np.ndarray:
        flat = flat_images.reshape(len(flat_images), -1).astype(np.int64)
        with np.errstate(over="ignore"):
            return flat @ self._weights

    @torch.no_grad()
    def _encode(self, images: np.ndarray) -> torch.Tensor:
        device = next(self.encoder.parameters()).device
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            return torch.cat([self.encoder(torch.as_tensor(images[i:i + BUILD_BATCH], device=device))
                              for i in range(0, len(images), BUILD_BATCH)])
        finally:
            self.encoder.train(was_training)

    def __call__(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Features ``[N, D]`` of uint8 images ``[N, C, H, W]``: looked up where the set holds the image, encoded
        (without gradient: the encoder is frozen) where it does not."""
        array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if array.dtype != np.uint8 or array.shape[1:] != self.shape:
            raise ValueError(f"FeatureCache holds uint8 images {self.shape}, got {array.dtype} {array.shape[1:]}")
        keys = self._keys(array)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = (self.keys[at] == keys) & (self.images[at] == array).reshape(len(array), -1).all(axis=1)
        if hit.all():
            return self.features[torch.from_numpy(at)]
        out = self.features.new_empty(len(array), self.features.shape[1])
        out[torch.from_numpy(hit)] = self.features[torch.from_numpy(at[hit])]
        out[torch.from_numpy(~hit)] = self._encode(array[~hit])
        return out
