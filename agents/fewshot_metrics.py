"""Few-shot measurements of an encoder's features: prototypical-network logits (Snell et al. 2017) and the held-out
numbers of pretraining (class-feature cosine, nearest-class-mean accuracy). Used by pretraining and by the
prototype reference agent."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["class_feature_cosine", "prototype_accuracy", "prototype_logits", "prototype_scores"]


def prototype_scores(query: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Prototypical-network logits (Snell et al. 2017): ``-||q - c_k||^2`` with c_k = sums_k / counts_k the mean
    support feature of label k. ``query [B, Q, D]``, ``sums [B, K, D]``, ``counts [B, K]`` -> ``[B, Q, K]``; a
    label with no support example gets ``-inf``."""
    means = sums / counts.clamp_min(1)[..., None]
    dist = (query[:, :, None, :] - means[:, None]).pow(2).sum(-1)
    return (-dist).masked_fill(counts[:, None, :] == 0, float("-inf"))


def prototype_logits(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor, n_way: int) -> torch.Tensor:
    """``prototype_scores`` of the queries ``[B, Q, D]`` given support features ``[B, S, D]`` with labels
    ``[B, S]`` (int64): ``[B, Q, n_way]``."""
    onehot = F.one_hot(labels, n_way).to(support.dtype)  # [B, S, n_way]
    return prototype_scores(query, onehot.transpose(1, 2) @ support, onehot.sum(1))


def _episode_features(encoder: nn.Module, episodes) -> torch.Tensor:
    image = torch.as_tensor(episodes.obs["image"])
    B, T = image.shape[:2]
    with torch.no_grad():
        return encoder(image.reshape(B * T, *image.shape[2:])).reshape(B, T, -1)


def class_feature_cosine(encoder: nn.Module, episodes, support_length: int) -> float:
    """Mean pairwise cosine between the class features of an episode (the mean support feature per label),
    averaged over episodes. Near 1: the encoder cannot tell the classes apart; lower is better."""
    feats = _episode_features(encoder, episodes)[:, :support_length]
    labels = torch.as_tensor(episodes.extras["label"][:, :support_length])
    n = episodes.target.shape[-1]
    onehot = F.one_hot(labels, n).to(feats.dtype)
    means = F.normalize(onehot.transpose(1, 2) @ feats, dim=-1)  # [B, n, D]
    cos = means @ means.transpose(1, 2)
    off = ~torch.eye(n, dtype=torch.bool)
    return float(cos[:, off].mean())


def prototype_accuracy(encoder: nn.Module, episodes, support_length: int) -> float:
    """Accuracy of the nearest class mean on the query steps of ``episodes`` (features of ``encoder``)."""
    feats = _episode_features(encoder, episodes)
    labels = torch.as_tensor(episodes.extras["label"])
    S, n = support_length, episodes.target.shape[-1]
    logits = prototype_logits(feats[:, :S], labels[:, :S], feats[:, S:], n)
    return float((logits.argmax(-1) == labels[:, S:]).float().mean())
