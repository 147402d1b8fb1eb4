"""``plastic-gym train``: supervised meta-training of a plastic network on one task (see ``trainer.py``).

    plastic-gym train --task PlasticAssoc-v0 --rule hebbian --cell rnn --steps 5000 --out runs/assoc-hebbian --loss all

This module and its package import no torch at import time (``agents/__init__.py`` loads its names on first
use); torch and the trainer are imported inside ``run_train``, so ``plastic-gym tasks`` and ``plastic-gym --help``
work without the agents' dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from plastic_gym.cli import int_at_least

from . import defaults
from .config import CELLS, GRADIENT_SCALES
from .rules import rule_names


def _key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (numbers, true/false, null), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _check_plastic_keys(plastic: dict[str, Any]) -> None:
    """``--plastic KEY=VALUE`` names must be ``PlasticConfig`` fields (the others are set by their own flags)."""
    from dataclasses import fields

    from plastic_gym.validation import reject_unknown

    from .config import PlasticConfig

    reject_unknown(plastic, [f.name for f in fields(PlasticConfig)], "PlasticConfig field", "--plastic")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="meta-train a plastic network on a task (supervised, BPTT)",
                              description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, help="env id, e.g. PlasticAssoc-v0")
    p.add_argument("--task-kw", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="task kwarg (repeatable), e.g. --task-kw n_cues=5")
    p.add_argument("--rule", required=True, choices=rule_names(),
                   help="plasticity rule (the registry of plastic_gym.agents.rules)")
    p.add_argument("--cell", required=True, choices=CELLS)
    p.add_argument("--steps", required=True, type=int, help="total outer steps (a resumed run continues up to it)")
    p.add_argument("--out", required=True, help="output folder: checkpoint.pt, metrics.jsonl, curve.png, summary.json")
    p.add_argument("--hidden", type=int, default=defaults.HIDDEN_DIM,
                   help=f"hidden units of the plastic network (default {defaults.HIDDEN_DIM})")
    p.add_argument("--no-size-match", dest="size_match", action="store_false",
                   help="give a non-plastic network (--rule none, RNN or LSTM) the same hidden size instead of 1.5x "
                        "(the paper's size match)")
    p.add_argument("--plastic", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="PlasticConfig field (repeatable), e.g. --plastic p_lr=0.1 --plastic modulation=false")
    p.add_argument("--loss", choices=("scored", "all"), default="scored",
                   help="loss on the scored steps (default) or on every step (the paper's cue-reward objective)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=64, help="episodes per outer step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW (amsgrad) learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="AdamW weight decay (default 0, the paper's value for these tasks)")
    p.add_argument("--gradient-scale", choices=GRADIENT_SCALES, default=None,
                   help="gradient rule's inner loss: per sample (default) or the paper's scale, L_int / 64 "
                        "(its loss averaged over a batch of 64), whatever --batch is")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA if available, else CPU; default), cpu, cuda or cuda:N")
    p.add_argument("--encoder-channels", type=int, default=64,
                   help="conv width of the Conv-4 encoder of image tasks (default 64, the paper's)")
    p.add_argument("--pretrain-encoder", choices=("classification", "prototypical"), default=None,
                   help="pretrain the image encoder first over the training classes (glyphs, or the Omniglot "
                        "training characters with rotations as classes), as a classifier or on prototypical "
                        "episodes (nearest class mean), then meta-train on top")
    p.add_argument("--pretrain-steps", type=int, default=2000, help="pretraining steps (default 2000)")
    p.add_argument("--pretrain-batch", type=int, default=128, help="pretraining batch (default 128)")
    p.add_argument("--pretrain-way", type=int, default=32, metavar="N",
                   help="prototypical pretraining: classes per episode, each with --pretrain-batch / N drawings "
                        "(default 32)")
    p.add_argument("--pretrain-classes", type=int, default=1000,
                   help="glyph training classes seen in pretraining (default 1000; Omniglot uses every character)")
    p.add_argument("--pretrain-feature-rms", type=float, default=1.0, metavar="X",
                   help="rescale the pretrained features to RMS X per dimension (default 1; 0 leaves them as trained)")
    p.add_argument("--pretrain-normalize", action="store_true",
                   help="put the pretrained features on a sphere (RMS 1 per dimension; dot products become cosines) "
                        "instead of rescaling them")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="keep the pretrained encoder fixed while meta-training (default: fine-tune it)")
    p.add_argument("--val-every", type=int, default=200, help="validate and checkpoint every N steps (default 200)")
    p.add_argument("--val-episodes", type=int, default=512, help="size of the fixed validation batch (default 512)")
    p.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint (must match the other options)")
    p.add_argument("--force", action="store_true", help="start over even if --out already holds a checkpoint")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no tqdm progress bar")
    p.set_defaults(func=run_train)


def pretrain_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``PretrainConfig`` fields the flags ask for (None without ``--pretrain-encoder``); the classes come from
    the task's source (Omniglot for ``PlasticOmniglot-v0`` or ``source=omniglot``, else glyphs)."""
    if args.pretrain_encoder is None:
        if args.freeze_encoder:
            raise ValueError("--freeze-encoder needs --pretrain-encoder (a fresh encoder must be trained)")
        return None
    kw = dict(args.task_kw)
    omni = args.task == "PlasticOmniglot-v0" or kw.get("source") == "omniglot"
    return {"method": args.pretrain_encoder, "source": "omniglot" if omni else "glyphs",
            "steps": args.pretrain_steps, "batch_size": args.pretrain_batch, "n_classes": args.pretrain_classes,
            "freeze": args.freeze_encoder, "seed": args.seed, "root": kw.get("root") if omni else None,
            "feature_rms": args.pretrain_feature_rms or None, "normalize": args.pretrain_normalize,
            "episode_way": args.pretrain_way}


def plastic_options(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The ``PlasticConfig`` (key, value) pairs of ``--plastic KEY=VALUE`` and ``--gradient-scale``."""
    plastic = dict(args.plastic)
    if args.gradient_scale is None:
        return list(args.plastic)
    if plastic.get("gradient_scale", args.gradient_scale) != args.gradient_scale:
        raise ValueError(f"--gradient-scale {args.gradient_scale} contradicts --plastic "
                         f"gradient_scale={plastic['gradient_scale']}")
    return [*args.plastic, ("gradient_scale", args.gradient_scale)]


def run_train(args: argparse.Namespace) -> int:
    import torch

    from .checkpoint import CheckpointError
    from .trainer import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        args.plastic = plastic_options(args)
        config = TrainConfig(task_id=args.task, rule=args.rule, cell=args.cell, steps=args.steps,
                             hidden_dim=args.hidden, task_kwargs=dict(args.task_kw), loss=args.loss, seed=args.seed,
                             batch_size=args.batch, lr=args.lr, val_every=args.val_every,
                             weight_decay=args.weight_decay, device=args.device,
                             val_episodes=args.val_episodes, size_match=args.size_match,
                             encoder_channels=args.encoder_channels, plastic=dict(args.plastic),
                             pretrain=pretrain_options(args))
        _check_plastic_keys(config.plastic)
        trainer = train(config, args.out, resume=args.resume, force=args.force, progress=args.progress)
    except (CheckpointError, ValueError, RuntimeError) as err:
        print(f"plastic-gym train: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. --out under a file, or a folder without write permission
        print(f"plastic-gym train: error: --out {args.out}: {err.strerror or err} ({err.filename}); expected a "
              "folder that can be created and written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"plastic-gym train: interrupted; the last checkpoint in {args.out} (if any, written every "
              f"--val-every steps) continues with --resume", file=sys.stderr)
        return 130
    final = trainer.records[-1]
    print(json.dumps({"step": final["step"], "val": final["val"], "out": args.out}))
    return 0
