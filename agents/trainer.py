"""Supervised meta-training of plastic networks on plastic-gym tasks (SPEC section 4, "Outer training").

Each outer step samples a batch of whole episodes (``task.sample(batch, rng)``), runs the network through them from
F_0 = 0 (backpropagation through the whole episode, inner plasticity included) and takes one AdamW step (amsgrad,
lr 1e-3, weight decay 0 as in the paper's code for these tasks) on the loss, with the gradient norm clipped at 5.
The loss is the MSE (regression) or the cross-entropy (classification) on the scored steps (``loss="scored"``, the
leaderboard's objective) or on every step (``loss="all"``, the paper's objective for the cue-reward task and, over
all 40 steps, for few-shot regression).

Every ``val_every`` steps the model is evaluated on a fixed validation batch drawn from a seed stream disjoint from the
training stream, with the task's own ``episode_metrics`` (e.g. ``query_mse`` and ``all_mse``). Records go to
``metrics.jsonl``, the learning curve to ``curve.png`` and the state to ``checkpoint.pt`` in the output folder;
``Trainer(..., resume=path)`` continues a run exactly where it stopped (same weights as an uninterrupted run).

The model trains on ``device`` ("auto": CUDA when torch sees a GPU, else the CPU); the episodes are sampled in numpy
on the CPU either way and every checkpoint is written with CPU tensors, so a run can be resumed, evaluated or played
on another device.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import plastic_gym
from plastic_gym import make_task
from plastic_gym.io import write_atomic

from .checkpoint import CheckpointError, check_matches, load_checkpoint, plain, save_checkpoint, to_cpu
from .model import ModelConfig, TaskModel, build_model, outputs_to_actions
from .plots import plot_curves
from .train_config import TrainConfig, resolve_device

__all__ = ["CHECKPOINT_NAME", "TrainConfig", "Trainer", "plot_curves", "predict", "resolve_device", "sequence_loss",
           "train"]

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"
CURVE_NAME = "curve.png"
SUMMARY_NAME = "summary.json"
#: Seconds between learning-curve redraws during a run (the final curve is always drawn).
PLOT_INTERVAL_S = 60.0
#: Second entries of the numpy seed sequences: the training and validation streams never share a seed sequence.
_TRAIN_STREAM, _VAL_STREAM = 1, 2
#: Train-config fields that may change when resuming (they do not change the function trained).
RESUMABLE_CHANGES = ("train.steps", "train.val_every", "train.device")


def sequence_loss(task, outputs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean per-step loss over the steps where ``mask`` ([B, T] bool) is set, or over all steps if ``mask`` is None.

    Regression: squared error averaged over the K outputs; classification: cross-entropy of the logits against the
    class of the one-hot ``target``.
    """
    if task.kind == "classification":
        per_step = F.cross_entropy(outputs.flatten(0, 1), target.argmax(-1).flatten(), reduction="none")
        per_step = per_step.view(outputs.shape[:2])
    else:
        per_step = (outputs - target).pow(2).mean(-1)
    if mask is None:
        return per_step.mean()
    mask = mask.to(per_step.dtype)
    return (per_step * mask).sum() / mask.sum().clamp_min(1.0)


def predict(model: TaskModel, episodes, chunk: int = 512) -> np.ndarray:
    """The model's outputs ``[B, T, K]`` on whole episodes (eval mode, no gradient, in chunks of episodes)."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for start in range(0, episodes.batch_size, chunk):
                outputs.append(model(episodes[slice(start, start + chunk)].obs)[0].cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


class Trainer:
    """Meta-trainer state: task, model, optimizer, training rng, step and metric records.

    Args:
        config: the run.
        out_dir: where checkpoint, metrics, curve and summary go (None: keep everything in memory).
        resume: a checkpoint to continue from; it must match ``config`` except ``steps`` and ``val_every``.
        force: start over even if ``out_dir`` already holds a checkpoint (otherwise that is an error).
        progress: show a tqdm progress bar.

    Seeds: the weights come from ``torch.manual_seed(config.seed)`` (torch's global generator), the training batches
    from the numpy stream ``[seed, 1]``, the fixed validation batch from ``[val_seed, 2]`` (the same for every run).
    """

    def __init__(self, config: TrainConfig, out_dir: str | os.PathLike | None = None,
                 resume: str | os.PathLike | None = None, force: bool = False, progress: bool = True):
        self.config, self.progress = config, progress
        self.out_dir = Path(out_dir) if out_dir is not None else None
        if self.out_dir is not None and resume is None and not force and (self.out_dir / CHECKPOINT_NAME).exists():
            raise RuntimeError(f"refusing to overwrite {self.out_dir / CHECKPOINT_NAME}: pass force=True (--force) to "
                               f"start over or resume=... (--resume) to continue it")
        self.task = make_task(config.task_id, **config.task_kwargs)
        torch.manual_seed(config.seed)
        self.model = build_model(self.task, config.cell, config.rule, config.hidden_dim, config.size_match,
                                 encoder_channels=config.encoder_channels,
                                 encoder_normalize=bool(config.pretrain and config.pretrain["normalize"]),
                                 **config.plastic)
        self.device = resolve_device(config.device)
        self.model.to(self.device)  # initialised on the CPU first: the same weights on every device
        if config.pretrain is not None and self.model.encoder is None:
            raise ValueError(f"pretrain: {config.task_id} has vector observations; only image tasks have an "
                             "encoder to pretrain")
        #: The encoder pretraining's summary (``pretrain_encoder``), once it has run.
        self.pretrain_summary: dict[str, Any] | None = None
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                           amsgrad=True)
        self.rng = np.random.default_rng([config.seed, _TRAIN_STREAM])
        self.val_episodes = self.task.sample(config.val_episodes, np.random.default_rng([config.val_seed, _VAL_STREAM]))
        self.step = 0
        self.records: list[dict[str, Any]] = []
        self._losses: list[float] = []
        self._elapsed = 0.0
        self._last_plot = -float("inf")
        if resume is not None:
            self._load(resume)

    # -- identity ----------------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """The sections a checkpoint of this run must match: task, model and train config."""
        task_kwargs = plain(self.task.kwargs)
        return {"task": {"id": self.config.task_id, "kwargs": task_kwargs},
                "model": plain(self.model.config.to_dict()), "train": self.config.to_dict()}

    def metadata(self) -> dict[str, Any]:
        state = self.model.initial_state(1)
        return {"parameters": self.model.num_parameters(), "state_floats": state.state_floats(),
                "effective_hidden_dim": self.model.config.effective_hidden_dim, "device": str(self.device)}

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_payload(self) -> dict[str, Any]:
        return {**self.identity(), "plastic_gym_version": plastic_gym.__version__, "step": self.step,
                "state_dict": to_cpu(self.model.state_dict()), "optimizer": to_cpu(self.optimizer.state_dict()),
                "rng": {"numpy": plain(self.rng.bit_generator.state), "torch": torch.get_rng_state()},
                "pending_losses": list(self._losses), "elapsed_s": self._elapsed,
                "metrics": plain(self.records), "summary": plain(self.summary()),
                "pretrain": plain(self.pretrain_summary)}

    def save(self, path: str | os.PathLike | None = None) -> Path:
        if path is None:
            if self.out_dir is None:
                raise ValueError("save() needs a path when the trainer has no out_dir")
            path = self.out_dir / CHECKPOINT_NAME
        return save_checkpoint(path, self.state_payload())

    def _load(self, path: str | os.PathLike) -> None:
        ckpt = load_checkpoint(path)
        try:  # compare the configs as this version reads them (fields a file lacks get their defaults)
            task = {**ckpt["task"], "kwargs": plain(type(self.task).with_defaults(ckpt["task"]["kwargs"]))}
            ckpt = {**ckpt, "task": task, "model": plain(ModelConfig.from_dict(ckpt["model"]).to_dict()),
                    "train": TrainConfig.from_dict(ckpt["train"]).to_dict()}
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"checkpoint {path} has a damaged task, model or train config ({err})") from err
        check_matches(ckpt, self.identity(), path, ignore=RESUMABLE_CHANGES)
        try:
            self.model.load_state_dict(ckpt["state_dict"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.rng.bit_generator.state = ckpt["rng"]["numpy"]
            torch.set_rng_state(ckpt["rng"]["torch"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint {path} has a damaged training state "
                                  f"({type(err).__name__}: {err})") from err
        self.step = int(ckpt["step"])
        self.records = list(ckpt.get("metrics", []))
        self._losses = list(ckpt.get("pending_losses", []))
        self._elapsed = float(ckpt.get("elapsed_s", 0.0))
        self.pretrain_summary = ckpt.get("pretrain")
        self._freeze_if_asked()

    # -- training ----------------------------------------------------------------------------------------
    def train_step(self) -> float:
        """One outer step on a fresh batch; returns the loss."""
        cfg = self.config
        episodes = self.task.sample(cfg.batch_size, self.rng)
        self.model.train()
        outputs, _ = self.model(episodes.obs)
        device = outputs.device
        target = torch.as_tensor(episodes.target, device=device)
        mask = torch.as_tensor(episodes.scored, device=device) if cfg.loss == "scored" else None
        loss = sequence_loss(self.task, outputs, target, mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        value = float(loss.detach())
        self._losses.append(value)
        return value

    def validate(self) -> dict[str, Any]:
        """Evaluate on the fixed validation batch and append a record (step, mean train loss since the last one,
        validation loss, mean of each ``episode_metrics`` entry)."""
        cfg, val = self.config, self.val_episodes
        outputs = predict(self.model, val)
        metrics = self.task.episode_metrics(outputs_to_actions(self.task, outputs), val)
        mask = torch.as_tensor(val.scored) if cfg.loss == "scored" else None
        val_loss = float(sequence_loss(self.task, torch.from_numpy(outputs), torch.as_tensor(val.target), mask))
        record = {"step": self.step,
                  "train_loss": float(np.mean(self._losses)) if self._losses else None,
                  "val_loss": val_loss,
                  "val": {k: float(np.mean(v)) for k, v in metrics.items()},
                  "elapsed_s": round(self._elapsed, 2)}
        self._losses = []
        self.records.append(record)
        return record

    def summary(self) -> dict[str, Any]:
        last = self.records[-1] if self.records else None
        return {"task": self.config.task_id, "rule": self.config.rule, "cell": self.config.cell,
                "loss": self.config.loss, "seed": self.config.seed, "step": self.step,
                "final": last, "elapsed_s": round(self._elapsed, 2), **self.metadata(),
                **({"pretrain_elapsed_s": self.pretrain_summary["elapsed_s"],
                    "pretrain_final": self.pretrain_summary["records"][-1]} if self.pretrain_summary else {})}

    def run(self) -> dict[str, Any]:
        """Train up to ``config.steps``, validating (and checkpointing, with an out_dir) every ``val_every`` steps,
        at step 0 and at the end. After an interrupt, ``resume`` from the last checkpoint (at most ``val_every`` steps
        back; an interrupt is not saved, since it may land in the middle of an optimizer step)."""
        cfg = self.config
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        start = (self.step, len(self.records))
        if not self.records:
            self._pretrain()
            self.validate()
            self._write_outputs(checkpoint=False, plot=False)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, desc=f"{cfg.task_id} {cfg.rule}",
                   dynamic_ncols=True)
        try:
            while self.step < cfg.steps:
                t0 = time.perf_counter()
                loss = self.train_step()
                self._elapsed += time.perf_counter() - t0
                bar.update(1)
                if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                    record = self.validate()
                    bar.set_postfix(loss=f"{loss:.4f}", **{k: f"{v:.4f}" for k, v in record["val"].items()})
                    self._write_outputs()
        finally:
            bar.close()
        if self.records[-1]["step"] != self.step:  # resumed at or past the requested total
            self.validate()
        # A finished run resumed again has nothing new: its checkpoint file is left as it is (a new save would hold
        # the same tensors in different bytes, torch writes a fresh serialization id each time).
        unchanged = (self.step, len(self.records)) == start and self.out_dir is not None and \
            (self.out_dir / CHECKPOINT_NAME).exists()
        self._write_outputs(checkpoint=not unchanged, plot=True)
        return self.summary()

    def _pretrain(self) -> None:
        """Pretrain the encoder before the first meta-training step (``config.pretrain``; resumable through
        ``out_dir/pretrain.pt``), then freeze it if asked."""
        if self.config.pretrain is None or self.pretrain_summary is not None:
            return
        from .pretrain import PretrainConfig, pretrain_encoder

        pre = PretrainConfig.from_dict(self.config.pretrain)
        self.pretrain_summary = pretrain_encoder(self.model.encoder, pre, self.out_dir, progress=self.progress)
        self.model.train(self.model.training)
        self._freeze_if_asked()

    def _freeze_if_asked(self) -> None:
        """Freeze the pretrained encoder if the config says so; then, on a task with a finite image set (Omniglot),
        encode that set once and look its features up (``TaskModel.cache_features``)."""
        if self.config.pretrain is not None and self.config.pretrain["freeze"]:
            self.model.freeze_encoder()
            distinct = getattr(self.task, "distinct_images", None)
            self.model.cache_features(distinct() if distinct is not None else None)

    def _write_outputs(self, checkpoint: bool = True, plot: bool | None = None) -> None:
        """Checkpoint, metrics and summary; the curve at the end (``plot=True``) and at most every
        ``PLOT_INTERVAL_S`` seconds in between (``plot=None``)."""
        if self.out_dir is None:
            return
        if checkpoint:
            self.save()
        lines = "".join(json.dumps(r) + "\n" for r in self.records)
        write_atomic(self.out_dir / METRICS_NAME, lines.encode(), overwrite=True)
        summary = json.dumps(self.summary(), indent=2) + "\n"
        write_atomic(self.out_dir / SUMMARY_NAME, summary.encode(), overwrite=True)
        now = time.monotonic()
        if plot or (plot is None and now - self._last_plot >= PLOT_INTERVAL_S):
            self._last_plot = now
            title = f"{self.config.task_id} {self.config.cell}/{self.config.rule} (loss={self.config.loss})"
            plot_curves({self.config.rule: self.records}, self.out_dir / CURVE_NAME, title=title)


def train(config: TrainConfig, out_dir: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
          force: bool = False, progress: bool = True) -> Trainer:
    """Build a ``Trainer`` and run it to ``config.steps``; returns the trainer (model, records, summary)."""
    trainer = Trainer(config, out_dir, resume=resume, force=force, progress=progress)
    trainer.run()
    return trainer

