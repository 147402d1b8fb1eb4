"""The acting step of a plastic network: ``step`` against ``step(inplace=True)``.

``step`` writes each layer's new fast weights F <- (1 - lam_t) F + eta~_t alpha ⊙ (pre_t ⊗ post_t) into fresh
``[B, in, out]`` tensors, as training needs (autograd keeps the old F); an acting agent drops the old state after
every step, so ``inplace=True`` updates F where it is and builds pre_t ⊗ post_t in a work buffer kept between steps.
Both give the same numbers bit for bit (tests/test_plastic_network.py). This script times the two on the same inputs,
alternating, at the leaderboard's batch (512 episodes of a suite-v0 task) and prints ms per step and the ratio::

    python benchmarks/step_inplace.py                       # hebbian RNN, hidden 128, 512 envs, 3 rounds
    python benchmarks/step_inplace.py --rule gradient --cell lstm --envs 1024 --hidden 64
"""

from __future__ import annotations

import argparse
import time

from side_by_side import interleaved


def main() -> None:
    import torch

    from plastic_gym.agents import PlasticConfig, PlasticNetwork

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--rule", default="hebbian", choices=("hebbian", "gradient"))
    parser.add_argument("--cell", default="rnn", choices=("rnn", "lstm"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = PlasticNetwork(PlasticConfig(input_dim=8, output_dim=4, hidden_dim=args.hidden, rule=args.rule,
                                       cell=args.cell))
    x = torch.randn(args.envs, args.steps, 8)

    def ms_per_step(inplace: bool) -> float:
        with torch.no_grad():
            state = net.initial_state(args.envs)
            begin = time.perf_counter()
            for t in range(args.steps):
                _, state = net.step(x[:, t], state, inplace=inplace)
        return 1000 * (time.perf_counter() - begin) / args.steps

    ms_per_step(True)  # warm-up (and the work buffer)
    times = interleaved({"step": lambda: ms_per_step(False), "step(inplace)": lambda: ms_per_step(True)}, args.rounds)
    best = {k: min(v) for k, v in times.items()}
    print(f"{args.rule} {args.cell.upper()}, hidden {args.hidden}, {args.envs} envs, "
          f"best of {args.rounds} rounds of {args.steps} steps, {torch.get_num_threads()} threads")
    for k, v in best.items():
        print(f"  {k:14s} {v:8.2f} ms per step")
    print(f"  ratio step / step(inplace): {best['step'] / best['step(inplace)']:.2f}x")


if __name__ == "__main__":
    main()
