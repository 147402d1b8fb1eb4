"""Does the value loss keep a shared plastic core from learning to act? PlasticPPO on the two-armed bandit.

Trains ``PlasticPPO`` with the settings of the rl-v0 recipes (``baselines/configs/rl-plastic-ppo-*.json``: 16 envs x
128 steps, one minibatch of the whole rollout, 8 epochs, lr 1e-3, gamma 0.9) on the suite's ``bandit-2`` task, with
the critic head reading the core's output detached (``critic_trains_core=False``, the default) or not, for each
plasticity rule, and ``sb3_contrib.RecurrentPPO`` with the LSTM recipe beside them. Prints the regret of the training
episodes at the end (the mean over the last 8 rollouts; random play: T/6 = 16.7) and writes the curves to
``--out`` (JSON and PNG). docs/rl_critic.md shows a run.

    python examples/rl_critic.py                                  # every variant, 200k env steps, seed 0
    python examples/rl_critic.py --rules none --steps 50000 --out /tmp/critic   # a quick look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

RULES = ("none", "hebbian", "gradient")


def train(recipe_name: str, policy_change: dict, steps: int, seed: int) -> dict:
    """One training run on bandit-2; returns its curve (env step, regret of the episodes of that rollout)."""
    import torch

    from plastic_gym.baselines import rl
    from plastic_gym.baselines.common import training_kwargs
    from plastic_gym.baselines.recipes import load_recipe
    from plastic_gym.leaderboard.suite import load_suite

    torch.set_num_threads(1)
    task = next(t for t in load_suite("rl-v0").tasks if t.name == "bandit-2")
    settings = load_recipe(recipe_name).train_fields("bandit-2")
    settings.pop("steps")
    settings["policy_kwargs"] = {**settings["policy_kwargs"], **policy_change}
    env = rl.make_task_vec_env(task.env_id, training_kwargs(task), int(settings.pop("n_envs")), seed)
    model = rl.build_algorithm(settings, env, seed, where=recipe_name)
    records: list[dict] = []
    start = time.process_time()
    model.learn(steps, callback=rl.metric_curve_callback("regret", records))
    return {"steps": [r["step"] for r in records], "regret": [r["val"]["regret"] for r in records],
            "cpu_seconds": round(time.process_time() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    parser.add_argument("--no-lstm", dest="lstm", action="store_false", help="skip the RecurrentPPO reference")
    parser.add_argument("--out", default="docs", help="folder of rl_critic.json and rl_critic.png")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    jobs = [(f"plastic {rule}, critic {'trains' if trains else 'detached'}", "rl-plastic-ppo-hebbian",
             {"rule": rule, "critic_trains_core": trains}) for rule in args.rules for trains in (True, False)]
    if args.lstm:
        jobs.append(("RecurrentPPO LSTM (separate actor and critic LSTMs)", "rl-recurrent-ppo-lstm", {}))
    runs = {}
    for label, recipe, change in tqdm(jobs, desc="bandit-2 runs"):
        runs[label] = train(recipe, change, args.steps, args.seed)
    print(f"\nbandit-2, seed {args.seed}, {args.steps} env steps; regret of the training episodes, mean of the last "
          "8 rollouts (random 16.7)\n")
    print("| run | final regret | CPU s |\n|---|---|---|")
    for label, run in runs.items():
        print(f"| {label} | {np.mean(run['regret'][-8:]):.2f} | {run['cpu_seconds']} |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plastic_gym.io import write_atomic

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "rl_critic.json", json.dumps({"steps": args.steps, "seed": args.seed, "runs": runs},
                                                    indent=1).encode(), overwrite=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for label, run in runs.items():
        smooth = np.convolve(run["regret"], np.ones(8) / 8, mode="valid")
        ax.plot(run["steps"][7:], smooth, label=label, ls="--" if "trains" in label else "-")
    ax.axhline(100 / 6, color="grey", lw=0.8, ls=":", label="random play")
    ax.set(xlabel="env steps", ylabel="regret per episode (8-rollout mean)", title="PPO on bandit-2 (T = 100)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rl_critic.png", dpi=120)
    print(f"\nwrote {out / 'rl_critic.json'} and {out / 'rl_critic.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
