"""Learning comparison on two short memory tasks at one env-step budget: PPO (MLP), PPO with frame stacking,
RecurrentPPO (LSTM) and PlasticPPO (hebbian and gradient plasticity).

Every method sees the same env steps, seeds and PPO settings (rollouts of ``N_ENVS x N_STEPS``, ``N_EPOCHS`` epochs,
minibatches of ``BATCH`` transitions, learning rate ``LR``, initial action std e^-1, gamma = 0). gamma = 0 is exact
for these tasks, not a shortcut: the reward of step t depends only on the action of step t and actions never change
later observations, so the per-step reward is the whole advantage signal and no method profits from credit
assignment over time. What separates the methods is memory:

- PPO (MLP) sees only the current observation (the no-memory level: 1/3 on both metrics);
- frame stacking sees the last ``N_STACK`` observations (a fixed window);
- RecurrentPPO carries an LSTM state, PlasticPPO a plastic network (fast weights F, SPEC section 4).

The metric is the task's primary metric (``query_mse`` / ``recall_mse``, lower is better) of the deterministic policy
on a fixed set of ``N_EVAL`` held-out episodes, evaluated ``N_POINTS`` times during training. Output: a PNG of the
curves (mean over seeds, band: min-max) and a JSON of all numbers, in ``--out`` (default ``docs/``); the markdown
table for ``docs/rl_comparison.md`` is printed. Existing outputs are kept unless ``--force``.

    nice python examples/rl_comparison.py                # full run (budget and seeds below; about 4 CPU minutes)
    nice python examples/rl_comparison.py --budget 4096 --seeds 0 --out /tmp/rlc   # quick look
    nice python examples/rl_comparison.py --seeds 2 --out /tmp/s2    # one more seed, then merge it:
    nice python examples/rl_comparison.py --from-json docs/rl_comparison.json /tmp/s2/rl_comparison.json --force
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

TASKS = {
    "assoc": ("plastic_gym:PlasticAssoc-v0", {"n_cues": 2, "trial_length": 6, "stim_dim": 4}),
    "copy": ("plastic_gym:PlasticCopy-v0", {"seq_length": 3, "delay": 2}),
}
METHODS = ("PPO (MLP)", "PPO + frame stack", "RecurrentPPO (LSTM)", "PlasticPPO hebbian", "PlasticPPO gradient")
BUDGET = 16_384
SEEDS = (0, 1, 2, 3, 4)
N_ENVS, N_STEPS, N_EPOCHS, LR, BATCH = 16, 32, 4, 3e-3, 128
N_STACK = 4
N_EVAL, N_POINTS = 256, 8
EVAL_SEED = 10_000
STD = {"log_std_init": -1.0}  # initial action std e^-1 = 0.37 for every method (actions live in [-1, 1])


def make_model(method: str, env, seed: int):
    """The five learners, with the same PPO settings; sizes chosen to be comparable (see the docs)."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from plastic_gym.agents import PlasticPPO, PlasticRecurrentPolicy

    common = dict(n_steps=N_STEPS, n_epochs=N_EPOCHS, learning_rate=LR, gamma=0.0, gae_lambda=0.0, seed=seed,
                  device="cpu")
    if method in ("PPO (MLP)", "PPO + frame stack"):
        return PPO("MlpPolicy", env, batch_size=BATCH, policy_kwargs={"net_arch": [64, 64], **STD}, **common)
    if method == "RecurrentPPO (LSTM)":
        return RecurrentPPO("MlpLstmPolicy", env, batch_size=BATCH,
                            policy_kwargs={"lstm_hidden_size": 32, "net_arch": [32], **STD}, **common)
    rule = method.split()[-1]
    return PlasticPPO(PlasticRecurrentPolicy, env, batch_size=BATCH,
                      policy_kwargs={"rule": rule, "hidden_dim": 32, "latent_dim": 32, "net_arch": [32], **STD},
                      **common)


def make_env(task: str, method: str, n_envs: int, seed: int):
    from stable_baselines3.common.vec_env import VecFrameStack

    from plastic_gym.agents import make_native_vec_env

    env_id, kwargs = TASKS[task]
    env = make_native_vec_env(env_id, n_envs=n_envs, seed=seed, **kwargs)  # the episodes of make_vec_env, faster
    return VecFrameStack(env, N_STACK) if method == "PPO + frame stack" else env


def evaluate(model, env, metric: str) -> float:
    """Mean primary metric of the deterministic policy over the fixed evaluation episodes (all the same length,
    stepped in lockstep; the recurrent state is threaded through ``predict``)."""
    env.seed(EVAL_SEED)
    obs = env.reset()
    state, start = None, np.ones(env.num_envs, bool)
    while True:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, _, start, infos = env.step(action)
        if start.all():
            return float(np.mean([info["episode_metrics"][metric] for info in infos]))


def run(task: str, method: str, seed: int, budget: int) -> dict:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from plastic_gym import make_task

    torch.set_num_threads(1)
    metric = make_task(TASKS[task][0].split(":")[1], **TASKS[task][1]).primary_metric
    env = make_env(task, method, N_ENVS, seed)
    eval_env = make_env(task, method, N_EVAL, EVAL_SEED)
    model = make_model(method, env, seed)
    every = budget // N_POINTS
    curve = [(0, evaluate(model, eval_env, metric))]

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps // every > (self.num_timesteps - env.num_envs) // every:
                curve.append((self.num_timesteps, evaluate(model, eval_env, metric)))
            return True

    start = time.process_time()
    model.learn(budget, callback=Curve())
    seconds = time.process_time() - start
    n_params = sum(p.numel() for p in model.policy.parameters())
    return {"task": task, "method": method, "seed": seed, "metric": metric, "curve": curve, "final": curve[-1][1],
            "cpu_seconds": seconds, "n_params": int(n_params)}


def _write_atomic(path: Path, write) -> None:
    """``write(tmp)`` to a temp file beside ``path``, then move it over ``path`` (``plastic_gym.io.atomic_path``)."""
    from plastic_gym.io import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def plot(results: list[dict], path: Path, budget: int, seeds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(6 * len(TASKS), 4.2))
    for ax, task in zip(np.atleast_1d(axes), TASKS):
        for method in METHODS:
            runs = [r for r in results if r["task"] == task and r["method"] == method]
            if not runs:
                continue
            steps = np.array([s for s, _ in runs[0]["curve"]])
            values = np.array([[v for _, v in r["curve"]] for r in runs])
            ax.plot(steps, values.mean(0), label=method, marker="o", ms=3)
            ax.fill_between(steps, values.min(0), values.max(0), alpha=0.15)
        env_id, kwargs = TASKS[task]
        ax.axhline(1 / 3, color="grey", ls="--", lw=1, label="no memory (1/3)")
        ax.set_title(f"{env_id.split(':')[1]} {kwargs}", fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel(runs[0]["metric"] + " (lower is better)")
        ax.set_ylim(0, 0.6)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"budget {budget} env steps, seeds {list(seeds)}, mean and min-max over seeds", fontsize=10)
    fig.tight_layout()
    _write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def table(results: list[dict]) -> str:
    metrics = {r["task"]: r["metric"] for r in results}
    lines = ["| method | " + " | ".join(f"{t} ({metrics.get(t, '-')})" for t in TASKS) + " | params | CPU s / run |",
             "|---|" + "---|" * (len(TASKS) + 2)]
    for method in METHODS:
        cells, params, cpu = [], set(), []
        for task in TASKS:
            runs = [r for r in results if r["task"] == task and r["method"] == method]
            finals = [r["final"] for r in runs]
            cells.append(f"{np.mean(finals):.3f} ({', '.join(f'{f:.3f}' for f in finals)})" if runs else "-")
            params |= {r["n_params"] for r in runs}
            cpu += [r["cpu_seconds"] for r in runs]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {'/'.join(map(str, sorted(params)))} | "
                     f"{np.mean(cpu):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=BUDGET, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--from-json", type=Path, nargs="+", metavar="JSON",
                        help="train nothing: merge the results of earlier runs (same budget and settings, e.g. "
                             "other seeds), then write the merged JSON and the PNG and print the table")
    args = parser.parse_args(argv)
    png, js = args.out / "rl_comparison.png", args.out / "rl_comparison.json"
    if args.from_json:
        loaded = [json.loads(p.read_text()) for p in args.from_json]  # read before anything is replaced
    if not args.force and (png.exists() or js.exists()):
        raise SystemExit(f"{png} or {js} exists; pass --force to replace them")

    if args.from_json:
        if len({(d["budget"], json.dumps(d["settings"], sort_keys=True)) for d in loaded}) != 1:
            raise ValueError("--from-json: the runs differ in budget or settings; only runs of one setup can merge")
        payload = {**loaded[0], "seeds": sorted({s for d in loaded for s in d["seeds"]}),
                   "tasks": {k: v for d in loaded for k, v in d["tasks"].items()},
                   "results": [r for d in loaded for r in d["results"]]}
        _write_atomic(js, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=1)))
        plot(payload["results"], png, payload["budget"], payload["seeds"])
        print(table(payload["results"]))
        print(f"wrote {png} and {js}")
        return 0

    from tqdm import tqdm

    jobs = [(t, m, s) for t in args.tasks for m in args.methods for s in args.seeds]
    results = []
    for task, method, seed in tqdm(jobs, desc="runs"):
        results.append(run(task, method, seed, args.budget))
        tqdm.write(f"{task:6s} {method:22s} seed {seed}: {results[-1]['metric']} {results[-1]['final']:.3f} "
                   f"({results[-1]['cpu_seconds']:.0f} CPU s)")
        payload = {"budget": args.budget, "seeds": args.seeds, "tasks": {t: TASKS[t] for t in args.tasks},
                   "settings": {"n_envs": N_ENVS, "n_steps": N_STEPS, "n_epochs": N_EPOCHS, "lr": LR,
                                "batch_size": BATCH, "gamma": 0.0, **STD, "n_stack": N_STACK, "n_eval": N_EVAL,
                                "eval_seed": EVAL_SEED},
                   "results": results}
        _write_atomic(js, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=1)))
    plot(results, png, args.budget, args.seeds)
    print(table(results))
    print(f"wrote {png} and {js}")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
