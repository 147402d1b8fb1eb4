"""A/B timing of variants of the fast plastic network: training steps interleaved in one process.

For work on ``agents/network.py``: copy the file (``git show HEAD:agents/network.py > /tmp/old.py``), edit the
working copy, then

    python benchmarks/network_ab.py /tmp/old.py agents/network.py [--rule gradient] [--cell rnn] [--task ID]

Each file is loaded as a module next to ``plastic_gym.agents.network`` (so its relative imports resolve to the
installed package), every variant gets the same parameters and batch, and the steps run in turns: variant 1,
variant 2, ..., repeated. On a shared machine whose speed drifts this compares far more reliably than runs in
separate processes. A training step is ``plastic_throughput.training_step`` (batch 64, hidden 128, one thread).
Prints each variant's median and min CPU seconds per step and its final loss (equal losses: same function).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time


def load_variant(path: str, index: int):
    importlib.import_module("plastic_gym.agents")  # the package the variant's relative imports resolve against
    spec = importlib.util.spec_from_file_location(f"plastic_gym.agents._ab_variant{index}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "PlasticNetwork"):
        raise SystemExit(f"{path} defines no PlasticNetwork")
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="network.py variants")
    ap.add_argument("--task", default="PlasticAssoc-v0")
    ap.add_argument("--cell", default="rnn", choices=["rnn", "lstm"])
    ap.add_argument("--rule", default="gradient", choices=["hebbian", "gradient"])
    ap.add_argument("--rounds", type=int, default=12, help="timed steps per variant (after 2 warm-up rounds)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    import torch

    from plastic_throughput import training_step

    torch.set_num_threads(1)
    modules = [load_variant(f, i) for i, f in enumerate(args.files)]
    runs = [training_step(m.PlasticNetwork, args.task, args.cell, args.rule) for m in modules]

    times: list[list[float]] = [[] for _ in runs]
    losses = [0.0] * len(runs)
    for r in range(args.rounds + 2):
        for i, step in enumerate(runs):
            t0 = time.thread_time()
            losses[i] = step()
            if r >= 2:
                times[i].append(time.thread_time() - t0)
    print(f"{args.task} {args.cell} {args.rule}, batch 64, hidden 128, one thread, {args.rounds} interleaved rounds")
    for f, t, loss in zip(args.files, times, losses):
        print(f"{f:<40} median {statistics.median(t):.4f} s  min {min(t):.4f} s  final loss {loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
