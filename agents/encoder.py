"""Conv-4 image encoder for the one-shot image tasks (SPEC section 3, PlasticOneShot-v0).

The standard few-shot backbone: four blocks of [conv 3x3 (64 channels), batch norm, relu, 2x2 max-pool], then a linear
projection to ``out_dim`` features. The encoder is trained by the outer loop only (not plastic): within an episode only
the plastic cell that reads ``[features, label one-hot]`` changes.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Conv4Encoder"]


class Conv4Encoder(nn.Module):
    """``uint8 [N, C, H, W]`` images (or floats in [0, 1]) -> ``[N, out_dim]`` features.

    Args:
        in_channels: image channels (1 for the glyph and Omniglot tasks).
        image_size: H = W of the input; fixes the flattened size after the four pools (28 -> 1x1, 84 -> 5x5).
        channels: conv width of every block (64 in the Conv-4 of Vinyals et al. and the paper).
        out_dim: width of the linear projection (the features the plastic cell sees).
        normalize: project every feature vector onto the sphere of radius sqrt(out_dim) (RMS 1 per dimension),
            phi(x) = sqrt(D) z / ||z||, so that the dot products a Hebbian memory computes, phi(x)^T phi(x'), are
            D times the cosines of the projections z. A classifier's features share a large common component, and
            a raw dot product then ranks classes by feature norm as much as by direction.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, channels: int = 64, out_dim: int = 64,
                 normalize: bool = False):
        super().__init__()
        if image_size < 16:
            raise ValueError(f"Conv4Encoder needs images of at least 16x16 (four 2x2 pools), "
                             f"got image_size={image_size}")
        self.in_channels, self.image_size, self.channels, self.out_dim = in_channels, image_size, channels, out_dim
        self.normalize = bool(normalize)
        blocks: list[nn.Module] = []
        width, size = in_channels, image_size
        for _ in range(4):
            blocks += [nn.Conv2d(width, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2)]
            width, size = channels, size // 2
        self.features = nn.Sequential(*blocks)
        self.proj = nn.Linear(channels * size * size, out_dim)

    def config(self) -> dict:
        """Constructor arguments (plain types), for checkpoints."""
        config = {"in_channels": self.in_channels, "image_size": self.image_size, "channels": self.channels,
                  "out_dim": self.out_dim}
        return {**config, "normalize": True} if self.normalize else config

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"Conv4Encoder expects images [N, {', '.join(map(str, expected))}], "
                             f"got {tuple(images.shape)}")
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        z = self.proj(self.features(x).flatten(1))
        if not self.normalize:
            return z
        return z * (self.out_dim**0.5 / z.norm(dim=1, keepdim=True).clamp_min(1e-6))
