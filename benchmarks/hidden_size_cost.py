"""What a training step costs at the paper's hidden sizes, against the sizes the baseline recipes use.

The recipes train the plastic RNNs at hidden 128 and size-match the non-plastic networks at 1.5x (192); the paper's
most common sizes are 256 / 384. This measures one training step (``plastic_throughput.training_step``: batch 64,
forward + masked MSE + backward + clip + AdamW, one thread) of each network at each size, on the copy task (T = 60,
the longest vector episode of suite v0) by default, the sizes of one network measured in turns, round after round
(``side_by_side.interleaved``), so that they see the same shared machine. Prints the median CPU seconds per step and
the ratio to the recipe's size (128 plastic, 192 non-plastic).

    python benchmarks/hidden_size_cost.py [--quick] [--rounds N] [--task PlasticAssoc-v0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plastic_throughput import training_step  # noqa: E402
from side_by_side import interleaved  # noqa: E402

#: (label, cell, rule, the recipe's size, the paper's size)
NETWORKS = [
    ("plastic RNN, hebbian", "rnn", "hebbian", 128, 256),
    ("plastic RNN, gradient", "rnn", "gradient", 128, 256),
    ("RNN (not plastic)", "rnn", "none", 192, 384),
    ("LSTM (not plastic)", "lstm", "none", 192, 384),
]
SIZES = (128, 192, 256, 384)


def measure(task_id: str, cell: str, rule: str, rounds: int) -> dict[int, float]:
    """Median CPU seconds of one training step at each of ``SIZES``, the sizes interleaved."""
    import torch

    torch.set_num_threads(1)
    steps = {h: training_step("fast", task_id, cell, rule, hidden_dim=h) for h in SIZES}
    for step in steps.values():  # warm-up
        step()

    def timer(step):
        def timed() -> float:
            start = time.thread_time()
            step()
            return time.thread_time() - start
        return timed

    times = interleaved({h: timer(step) for h, step in steps.items()}, rounds)
    return {h: statistics.median(t) for h, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="PlasticCopy-v0", help="the task whose episodes are trained on")
    ap.add_argument("--rounds", type=int, default=5, help="timed steps per size (default 5)")
    ap.add_argument("--quick", action="store_true", help="2 rounds")
    args = ap.parse_args(argv)
    rounds = 2 if args.quick else args.rounds
    print(f"CPU seconds per training step on {args.task}, batch 64, one thread; median of {rounds} interleaved steps")
    print(f"{'network':<24}" + "".join(f"{h:>9}" for h in SIZES) + "   recipe size -> paper's size")
    for label, cell, rule, ours, paper in NETWORKS:
        secs = measure(args.task, cell, rule, rounds)
        print(f"{label:<24}" + "".join(f"{secs[h]:>9.3f}" for h in SIZES)
              + f"   {ours} -> {paper}: x{secs[paper] / secs[ours]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
