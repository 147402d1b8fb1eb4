"""Encoder pretraining for the one-shot image tasks: plain classification (``cnn_pretrain="classification"``) or
prototypical episodes.

A fresh Conv-4 maps the drawings of different classes to nearly the same features (mean pairwise cosine of the
class features about 0.999), and meta-training a plastic cell on top of it does not leave that plateau in a few
thousand steps. As in the paper's code, the encoder is first trained over many training classes, then the plastic
network is meta-trained on top with the encoder frozen or fine-tuned. Two objectives (``PretrainConfig.method``):

- ``"classification"``: an ordinary classifier,

      logits = W phi(x) + b,    loss = cross-entropy(logits, class of x)

  where phi is the ``Conv4Encoder`` the meta-trained model uses and (W, b) a linear head that is thrown away after;
- ``"prototypical"``: the episodic loss of prototypical networks (Snell et al. 2017). Each step is one episode of
  ``episode_way`` training classes with ``batch_size // episode_way`` drawings each; the first drawing of a class
  is its support (one shot, as in the tasks), the others are queries, and

      c_k = phi(support of class k),    loss = cross-entropy(-||phi(q) - c_k||^2 over k, class of q).

The trained features are then rescaled to a root-mean-square of ``feature_rms`` per dimension (``rescale_features``):
the plastic cell reads ``[phi(x), one-hot label]``, and features far larger than the label drown it in the Hebbian
products and in the joint clip of the plastic update.

Classes (``PretrainConfig.source``):

- ``"glyphs"``: the first ``n_classes`` ids of the glyph generator's training split (``split="train"``); every
  example is a fresh drawing (the generator's own jitter), so no further augmentation is needed.
- ``"omniglot"``: the characters of the training split of ``plastic_gym.tasks.omniglot`` (``images_background``
  or ``images_background_small1``), each in its four 90-degree rotations as four classes (``rotations``), with a
  small random affine jitter (rotation, scale, shift) of every example (``jitter``).

Held-out measurements (``evaluate_encoder``) use the test split of the matching one-shot task: the mean pairwise
cosine of the class features of an episode (``class_feature_cosine``) and the accuracy of the nearest class mean
(``prototype_accuracy``, Snell et al. 2017), so that a curve shows whether the features separate unseen classes.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from plastic_gym import make_task
from plastic_gym.io import atomic_path
from plastic_gym.validation import reject_unknown_kwargs, require, require_choice, require_float, require_int

from .encoder import Conv4Encoder
from .fewshot_metrics import class_feature_cosine, prototype_accuracy, prototype_logits, prototype_scores
from .pretrain_data import GlyphClasses, OmniglotClasses, jitter_images

__all__ = ["PRETRAIN_NAME", "PretrainConfig", "class_feature_cosine", "evaluate_encoder", "rescale_features",
           "prototype_accuracy", "prototype_logits", "prototype_scores", "pretrain_encoder"]

#: File of the pretraining state inside a training run's folder (resumable on its own).
PRETRAIN_NAME = "pretrain.pt"
PRETRAIN_FORMAT = "plastic-gym-pretrain"
METHODS = ("classification", "prototypical")
SOURCES = ("glyphs", "omniglot")
#: The numpy seed-sequence entry of the pretraining batches (apart from the meta-trainer's streams 1 and 2).
_PRETRAIN_STREAM = 3
#: Options a stored pretraining state serves any value of: those that act after pretraining (or on meta-training),
#: and ``root``, which says where the Omniglot files are on this machine, not what is trained on them.
_POST_TRAINING = ("steps", "eval_every", "feature_rms", "normalize", "freeze", "root")


@dataclass
class PretrainConfig:
    """One pretraining run of the encoder (stored in the meta-training config as a plain dict).

    Attributes:
        method: ``"classification"`` (a linear head over the training classes) or ``"prototypical"`` (episodes of
            ``episode_way`` classes, nearest class mean); see the module docstring.
        source: ``"glyphs"`` or ``"omniglot"`` (see the module docstring).
        steps: optimizer steps (AdamW, amsgrad) of ``batch_size`` examples each.
        episode_way: prototypical only: classes per episode (``batch_size // episode_way`` drawings each, >= 2).
        n_classes: glyphs only: how many training classes (ids ``0..n_classes-1``); Omniglot uses every character.
        rotations: Omniglot only: the four 90-degree rotations of a character are four classes.
        jitter: Omniglot only: strength of the random affine jitter (rotation up to ``jitter`` radians, scale up to
            ``1 +- jitter``, shift up to ``jitter`` of the half-width); 0 turns it off.
        freeze: meta-train on top with the encoder frozen (its batch-norm statistics too) instead of fine-tuning it.
        root: Omniglot root (default ``$PLASTIC_GYM_DATA/omniglot``).
        eval_every, eval_episodes: held-out measurements every so many steps, on this many test-split episodes.
        feature_rms: after training, the encoder's output projection is rescaled so that its features have this
            root-mean-square per dimension on the held-out images (None: leave them as trained). A classifier's
            features come out large (norm ~46 for 64 dimensions here) next to the one-hot label of the plastic
            cell's input, and the Hebbian products then swamp the label; rescaling changes no prototype decision.
        normalize: after training, the encoder puts its features on the sphere of radius sqrt(D)
            (``Conv4Encoder(normalize=True)``: RMS 1 per dimension, so ``feature_rms`` is not applied). The classifier
            is trained as without it; the meta-trained network then sees features whose dot products are cosines.
    """

    method: str = "classification"
    source: str = "glyphs"
    steps: int = 2000
    batch_size: int = 128
    n_classes: int = 1000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    rotations: bool = True
    jitter: float = 0.1
    freeze: bool = False
    seed: int = 0
    root: str | None = None
    eval_every: int = 250
    eval_episodes: int = 256
    feature_rms: float | None = 1.0
    normalize: bool = False
    episode_way: int = 32

    def __post_init__(self):
        require_choice("pretraining method", self.method, METHODS)
        require_choice("pretraining source", self.source, SOURCES)
        for name in ("steps", "batch_size", "n_classes", "eval_every", "eval_episodes", "episode_way"):
            require_int(f"pretrain {name}", getattr(self, name),
                        minimum={"steps": 0, "n_classes": 2, "episode_way": 2}.get(name, 1))
        if self.method == "prototypical":
            require(self.batch_size >= 2 * self.episode_way,
                    f"pretrain batch_size ({self.batch_size}) must hold at least 2 drawings (a support and a query) "
                    f"of each of the episode_way={self.episode_way} classes")
        rms = self.feature_rms
        require(rms is None or (isinstance(rms, (int, float)) and not isinstance(rms, bool) and rms > 0),
                f"pretrain feature_rms must be a number > 0 or None, got {rms!r}")
        require_float("pretrain lr", self.lr, strict=True)
        require_float("pretrain weight_decay", self.weight_decay)
        require(isinstance(self.jitter, (int, float)) and 0 <= self.jitter < 1,
                f"pretrain jitter must satisfy 0 <= jitter < 1, got {self.jitter!r}")
        require(isinstance(self.normalize, bool), f"pretrain normalize must be a bool, got {self.normalize!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        reject_unknown_kwargs(cls, data)
        return cls(**data)


# -- held-out measurements -----------------------------------------------------------------------------------
def heldout_task(config: PretrainConfig, image_size: int):
    """The one-shot task of the test split that matches ``config.source`` (5-way 1-shot)."""
    if config.source == "glyphs":
        return make_task("PlasticOneShot-v0", split="test", image_size=image_size)
    return make_task("PlasticOmniglot-v0", split="test", image_size=image_size, root=config.root)


def evaluate_encoder(encoder: nn.Module, task, episodes) -> dict[str, float]:
    """Held-out ``cosine`` and ``prototype_accuracy`` of ``encoder`` (eval mode) on one-shot ``episodes``."""
    was_training = encoder.training
    encoder.eval()
    try:
        return {"cosine": class_feature_cosine(encoder, episodes, task.support_length),
                "prototype_accuracy": prototype_accuracy(encoder, episodes, task.support_length)}
    finally:
        encoder.train(was_training)


# -- the run -------------------------------------------------------------------------------------------------
def pretrain_encoder(encoder: Conv4Encoder, config: PretrainConfig, out_dir: str | os.PathLike | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Train ``encoder`` in place with ``config.method`` (see the module docstring); returns the run's summary
    (``config``, ``records`` of the held-out measurements, ``elapsed_s``, ``n_classes``).

    With ``out_dir``, the state (encoder, head, optimizer, rng, records) is written to ``out_dir/pretrain.pt``
    every ``eval_every`` steps and at the end, and a run that finds that file with the same config continues it
    (a finished one is just loaded). At the end the features are rescaled to ``config.feature_rms`` (applied to the
    trained state, so a stored state serves any ``feature_rms``), or, with ``config.normalize``, the encoder's
    normalization is switched on (it is off while the classifier trains).
    """
    size = encoder.image_size
    encoder.normalize = False  # the classifier trains on the raw projection; config.normalize applies after
    source = (GlyphClasses(config.n_classes, size) if config.source == "glyphs"
              else OmniglotClasses(config.root, size, config.rotations))
    head = nn.Linear(encoder.out_dim, source.n_classes) if config.method == "classification" else nn.Identity()
    params = list(encoder.parameters()) + list(head.parameters())
    loss_of = _classification_loss if config.method == "classification" else _prototypical_loss
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=True)
    rng = np.random.default_rng([config.seed, _PRETRAIN_STREAM])
    generator = torch.Generator().manual_seed(config.seed)
    task = heldout_task(config, size)
    val = task.sample(config.eval_episodes, np.random.default_rng([config.seed, _PRETRAIN_STREAM, 1]))
    step, elapsed, records, losses = 0, 0.0, [], []
    path = Path(out_dir) / PRETRAIN_NAME if out_dir is not None else None
    if path is not None and path.exists():
        state = _load_state(path, config)
        encoder.load_state_dict(state["encoder"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        generator.set_state(state["torch_rng"])
        step, elapsed, records = int(state["step"]), float(state["elapsed_s"]), list(state["records"])

    def measure() -> None:
        record = {"step": step, "train_loss": float(np.mean(losses)) if losses else None,
                  "val": evaluate_encoder(encoder, task, val), "elapsed_s": round(elapsed, 2)}
        records.append(record)
        losses.clear()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                torch.save({"format": PRETRAIN_FORMAT, "config": config.to_dict(), "step": step,
                            "elapsed_s": elapsed, "records": records, "encoder": encoder.state_dict(),
                            "head": head.state_dict(), "optimizer": optimizer.state_dict(),
                            "rng": rng.bit_generator.state, "torch_rng": generator.get_state()}, tmp)

    if not records:
        measure()
    bar = tqdm(total=config.steps, initial=step, disable=not progress, dynamic_ncols=True,
               desc=f"pretrain encoder ({config.source}, {source.n_classes} classes)")
    encoder.train()
    try:
        while step < config.steps:
            t0 = time.perf_counter()
            loss = loss_of(encoder, head, source, config, rng, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            elapsed += time.perf_counter() - t0
            losses.append(float(loss.detach()))
            bar.update(1)
            if step % config.eval_every == 0 or step == config.steps:
                measure()
                bar.set_postfix(loss=f"{records[-1]['train_loss']:.3f}",
                                **{k: f"{v:.3f}" for k, v in records[-1]["val"].items()})
    finally:
        bar.close()
        encoder.normalize = config.normalize
    rescale = config.feature_rms is not None and not config.normalize
    scale = rescale_features(encoder, val, config.feature_rms) if rescale else 1.0
    return {"config": config.to_dict(), "n_classes": source.n_classes, "steps": step,
            "elapsed_s": round(elapsed, 2), "records": records, "feature_scale": scale}


def _images(images: np.ndarray, config: PretrainConfig, generator: torch.Generator) -> torch.Tensor:
    """uint8 drawings as floats in [0, 1], jittered for Omniglot (glyph drawings come jittered already)."""
    return jitter_images(torch.from_numpy(images).float() / 255.0,
                         config.jitter if config.source == "omniglot" else 0.0, generator)


def _classification_loss(encoder, head, source, config, rng, generator) -> torch.Tensor:
    """Cross-entropy of the linear head over the training classes, on ``batch_size`` random drawings."""
    images, labels = source.batch(rng, config.batch_size)
    return F.cross_entropy(head(encoder(_images(images, config, generator))), torch.from_numpy(labels))


def _prototypical_loss(encoder, head, source, config, rng, generator) -> torch.Tensor:
    """Cross-entropy of the nearest class mean on one episode: ``episode_way`` classes, the first drawing of each
    the support (one shot), the others the queries."""
    n_way, per_class = config.episode_way, config.batch_size // config.episode_way
    feats = encoder(_images(source.episode(rng, n_way, per_class), config, generator)).reshape(n_way, per_class, -1)
    labels = torch.arange(n_way)
    support, query = feats[None, :, 0], feats[:, 1:].reshape(1, -1, feats.shape[-1])
    logits = prototype_logits(support, labels[None], query, n_way)[0]  # [n_way * (per_class - 1), n_way]
    return F.cross_entropy(logits, labels.repeat_interleave(per_class - 1))


def rescale_features(encoder: Conv4Encoder, episodes, rms: float) -> float:
    """Scale the output projection of ``encoder`` so that its features (eval mode) of the images of ``episodes``
    have root-mean-square ``rms`` per dimension; returns the factor. A pure rescaling: distances between features,
    hence nearest-class-mean decisions, keep their order."""
    image = torch.as_tensor(episodes.obs["image"])
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        feats = encoder(image.reshape(-1, *image.shape[2:]))
        scale = rms / float(feats.pow(2).mean().sqrt())
        encoder.proj.weight.mul_(scale)
        encoder.proj.bias.mul_(scale)
    encoder.train(was_training)
    return scale


def _load_state(path: Path, config: PretrainConfig) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a torch file
        raise RuntimeError(f"pretraining state {path} is unreadable ({type(err).__name__}: {err}); delete it to "
                           "pretrain again") from err
    if not isinstance(state, dict) or state.get("format") != PRETRAIN_FORMAT:
        raise RuntimeError(f"{path} is not a plastic-gym pretraining state (format {PRETRAIN_FORMAT!r})")
    mine = config.to_dict()
    stored = {**PretrainConfig().to_dict(), **state["config"]}  # options added since the state was made: defaults
    diffs = sorted(k for k in set(mine) | set(stored) if k not in _POST_TRAINING and mine.get(k) != stored.get(k))
    if diffs:
        raise RuntimeError(f"pretraining state {path} was made with other options ({diffs}: "
                           f"{ {k: stored.get(k) for k in diffs} } vs { {k: mine.get(k) for k in diffs} }); "
                           "use another --out or delete it")
    return state
