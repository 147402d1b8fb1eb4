"""Meta-training steps on a frozen encoder: features looked up (``agents/feature_cache.py``) against encoded.

Builds the 20-way Omniglot model of the ``omniglot-plastic-rnn-gradient`` recipe (gradient-rule RNN, hidden 256,
Conv-4 of width 32, batch 32, the training characters in four quarter turns), freezes its encoder (untrained: the
cost is the same) and times training steps with the feature cache and without it, alternating, on one torch
thread. Needs the Omniglot subsets (``--data-root``, default ``$PLASTIC_GYM_DATA/omniglot``)::

    python benchmarks/feature_cache.py --data-root ../shared/data/omniglot
    python benchmarks/feature_cache.py --data-root ../shared/data/omniglot --n-way 5 --hidden 128
"""

from __future__ import annotations

import argparse
import time

from side_by_side import interleaved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--n-way", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch

    from plastic_gym.agents.trainer import TrainConfig, Trainer
    from plastic_gym.tasks.omniglot import data_root

    torch.set_num_threads(1)
    kwargs = {"split": "train", "rotations": True, "n_way": args.n_way, "n_query": args.n_way}
    config = TrainConfig("PlasticOmniglot-v0", task_kwargs=kwargs, rule="gradient", hidden_dim=args.hidden,
                         batch_size=32, encoder_channels=32, loss="all", val_episodes=8)
    with data_root(args.data_root):
        trainer = Trainer(config, None, progress=False)
        trainer.model.freeze_encoder()
        start = time.perf_counter()
        trainer.model.cache_features(trainer.task.distinct_images())
        built = time.perf_counter() - start
        cache = trainer.model.feature_cache

        def seconds_per_step(lookup: bool) -> float:
            trainer.model.feature_cache = cache if lookup else None
            start = time.perf_counter()
            for _ in range(args.steps):
                trainer.train_step()
            return (time.perf_counter() - start) / args.steps

        seconds = interleaved({"lookup": lambda: seconds_per_step(True), "encoder": lambda: seconds_per_step(False)},
                              args.rounds)
    best = {k: min(v) for k, v in seconds.items()}
    print(f"{args.n_way}-way Omniglot, hidden {args.hidden}, batch 32: cache of {len(cache):,} images built in "
          f"{built:.1f} s; best of {args.rounds} rounds of {args.steps} steps")
    for name, value in best.items():
        print(f"  {name:8s} {value:6.2f} s per step")
    print(f"  ratio encoder / lookup: {best['encoder'] / best['lookup']:.2f}x")


if __name__ == "__main__":
    main()
