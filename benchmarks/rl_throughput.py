"""RL training throughput: env steps per CPU second of PPO (MLP), RecurrentPPO (LSTM) and PlasticPPO (hebbian,
gradient) on the same task, envs, rollout and update settings, as ratios to RecurrentPPO.

Every learner trains on PlasticAssoc-v0 (episodes of 20 steps) with 16 envs, n_steps 128, 4 epochs, learning rate
1e-3, one torch thread. Minibatches: PPO and RecurrentPPO 256 env steps (the RL recipes' setting in
``baselines/configs/``); PlasticPPO the whole rollout (2048 env steps: all its windows in one call of the sequence
form per epoch, the fastest shape; ``--sweep`` measures the others). For transparency the table also times
RecurrentPPO with PlasticPPO's minibatch. Sizes at hidden H: PPO ``MlpPolicy`` [H, H]; RecurrentPPO
``MlpLstmPolicy`` LSTM H, heads [64]; PlasticPPO a plastic RNN of H units, latent 64, heads [64], windows of at
most ``--bptt`` steps. All use the same envs (``--env native``: the native vector env through ``NativeVecEnv``;
``dummy``: SB3's ``DummyVecEnv`` of ``gym.make``).

Models are built once and warmed up with one iteration; then each round times one iteration (collect
16 x 128 steps, train 4 epochs) of every learner in turn (``time.process_time``), so neighbours' load hits all of
them alike. Medians over ``--rounds``. Run::

    OMP_NUM_THREADS=1 nice python benchmarks/rl_throughput.py              # the table (about 2 minutes)
    OMP_NUM_THREADS=1 nice python benchmarks/rl_throughput.py --sweep      # PlasticPPO: window x minibatch shapes

Recipe settings (``--recipe-settings``): RecurrentPPO (LSTM) and PlasticPPO
(hebbian, gradient) built from the rl-v0 recipes (``baselines/configs/rl-*.json``: 16 envs x 128 steps, one
minibatch of the whole rollout, 8 epochs, hidden 64, windows as long as the rollout) on each rl-v0 task, as
``plastic-gym baseline train`` builds them; ``--against REV`` adds PlasticPPO from the ``agents`` package of a git
revision, so a speed-up is measured side by side in one process::

    OMP_NUM_THREADS=1 nice python benchmarks/rl_throughput.py --recipe-settings --rounds 3 --against 883d048 \
        --plot /tmp/rl_recipe_throughput.png
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import statistics
import sys
import time
from functools import partial

ENV_ID = "plastic_gym:PlasticAssoc-v0"
N_ENVS, N_STEPS, N_EPOCHS, BATCH, PLASTIC_BATCH = 16, 128, 4, 256, 2048
LEARNERS = ("PPO (MLP)", "RecurrentPPO (LSTM)", "PlasticPPO hebbian", "PlasticPPO gradient")
REFERENCE = "RecurrentPPO (LSTM)"
EXTRA = f"RecurrentPPO, minibatch {PLASTIC_BATCH}"


def make_env(kind: str, seed: int = 0):
    if kind == "native":
        from plastic_gym.agents import NativeVecEnv

        return NativeVecEnv(ENV_ID, num_envs=N_ENVS, seed=seed)
    from plastic_gym.agents import make_plastic_vec_env

    return make_plastic_vec_env(ENV_ID, n_envs=N_ENVS, seed=seed)


def build(learner: str, hidden: int, env, batch_size: int | None = None, bptt: int | None = 32):
    """One learner at hidden size ``hidden`` on ``env`` (the settings of the module docstring; ``batch_size`` None:
    the learner's minibatch there)."""
    if batch_size is None:
        batch_size = PLASTIC_BATCH if learner.startswith("PlasticPPO") else BATCH
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from plastic_gym.agents import PlasticPPO, PlasticRecurrentPolicy

    common = dict(n_steps=N_STEPS, n_epochs=N_EPOCHS, batch_size=batch_size, learning_rate=1e-3, seed=0,
                  device="cpu")
    if learner == "PPO (MLP)":
        return PPO("MlpPolicy", env, policy_kwargs={"net_arch": [hidden, hidden]}, **common)
    if learner == "RecurrentPPO (LSTM)":
        return RecurrentPPO("MlpLstmPolicy", env, policy_kwargs={"lstm_hidden_size": hidden, "net_arch": [64]},
                            **common)
    rule = learner.split()[-1]
    return PlasticPPO(PlasticRecurrentPolicy, env, bptt_steps=bptt,
                      policy_kwargs={"rule": rule, "hidden_dim": hidden, "latent_dim": 64, "net_arch": [64]},
                      **common)


def iteration_seconds(model) -> float:
    """CPU seconds of one learn iteration (one rollout of n_envs x n_steps, then the update)."""
    start = time.process_time()
    model.learn(model.n_envs * model.n_steps, reset_num_timesteps=False)
    return time.process_time() - start


def measure(configs: dict[str, object], rounds: int) -> dict[str, float]:
    """Env steps per CPU second of each model (interleaved rounds, medians)."""
    return {k: N_ENVS * N_STEPS / statistics.median(v) for k, v in round_times(configs, rounds).items()}


def round_times(configs: dict[str, object], rounds: int, desc: str = "rounds") -> dict[str, list[float]]:
    """CPU seconds of one iteration of each model in each round: one warm-up iteration each, then ``rounds`` rounds
    that run every model once in turn."""
    from tqdm import tqdm

    for model in configs.values():  # warm-up: allocations, first-call overheads
        iteration_seconds(model)
    times: dict[str, list[float]] = {k: [] for k in configs}
    for _ in tqdm(range(rounds), desc=desc, file=sys.stderr):
        for name, model in configs.items():
            times[name].append(iteration_seconds(model))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--env", choices=("native", "dummy"), default="native")
    parser.add_argument("--bptt", type=int, default=32, help="PlasticPPO window (bptt_steps)")
    parser.add_argument("--infos", action="store_true",
                        help="NativeVecEnv only: microseconds per step of the bare vector env and of the adapter "
                             "(the per-env info dicts SB3 wants) at 16, 256 and 1024 envs")
    parser.add_argument("--sweep", action="store_true",
                        help="PlasticPPO only: windows of at most 8/16/32 steps x minibatches of 512/1024/2048 steps")
    parser.add_argument("--recipe-settings", action="store_true",
                        help="RecurrentPPO and PlasticPPO with the rl-v0 recipes' settings on the rl-v0 tasks "
                             "(section 'Recipe settings' of the module docstring)")
    parser.add_argument("--tasks", nargs="+", default=None, help="--recipe-settings: rl-v0 task names (default all)")
    parser.add_argument("--against", default=None, metavar="REV",
                        help="--recipe-settings: also PlasticPPO of the agents package at git revision REV")
    parser.add_argument("--plot", default=None, metavar="PNG", help="--recipe-settings: bar chart of the ratios")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    import torch

    torch.set_num_threads(1)
    if args.recipe_settings:
        return recipe_settings(args.tasks, args.rounds, args.against, args.plot)
    if args.sweep:
        return sweep(args)
    if args.infos:
        return infos_cost()
    print(f"\n{ENV_ID}, {N_ENVS} envs ({args.env}), n_steps {N_STEPS}, {N_EPOCHS} epochs, minibatch {BATCH} "
          f"(PlasticPPO {PLASTIC_BATCH}, windows <= {args.bptt}), one thread; env steps per CPU second, median of "
          f"{args.rounds} interleaved rounds, ratio to RecurrentPPO (minibatch {BATCH}) in parentheses\n")
    columns = (*LEARNERS, EXTRA)
    print("| hidden | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for hidden in args.hidden:
        models = {k: build(k, hidden, make_env(args.env), bptt=args.bptt) for k in LEARNERS}
        models[EXTRA] = build(REFERENCE, hidden, make_env(args.env), batch_size=PLASTIC_BATCH)
        rate = measure(models, args.rounds)
        cells = [f"{rate[k]:,.0f} ({rate[k] / rate[REFERENCE]:.2f}x)" for k in columns]
        print(f"| {hidden} | " + " | ".join(cells) + " |", flush=True)
    return 0


RECIPES = {"RecurrentPPO (LSTM)": "rl-recurrent-ppo-lstm", "PlasticPPO hebbian": "rl-plastic-ppo-hebbian",
           "PlasticPPO gradient": "rl-plastic-ppo-gradient"}
OWN_FIELDS = ("algo", "frame_stack", "image_channels")  # recipe fields that are not algorithm arguments


def revision_ppo(revision: str, folder: pathlib.Path):
    """The ``agents/ppo.py`` module of a git revision (its ``agents`` package extracted by ``network_ab``)."""
    from network_ab import load_revision

    load_revision(revision, 0, folder)
    return importlib.import_module("_ab_rev0.ppo")


def recipe_models(task, ppo_at_revision=None, revision: str = "") -> dict[str, object]:
    """The models of ``RECIPES`` on one rl-v0 task, built as ``plastic-gym baseline train`` builds them (seed 0), and
    PlasticPPO of ``ppo_at_revision`` (a module) with the same settings when given."""
    from plastic_gym import make_task
    from plastic_gym.baselines.common import training_kwargs
    from plastic_gym.baselines.recipes import load_recipe
    from plastic_gym.baselines.rl import build_algorithm, frame_stack_of, task_env

    kwargs = training_kwargs(task)
    spec = make_task(task.env_id, **kwargs)
    models = {}
    for label, name in RECIPES.items():
        settings = load_recipe(name).train_fields(task.name)
        settings.pop("steps", None)
        env = partial(task_env, task.env_id, kwargs, int(settings.pop("n_envs", 16)), frame_stack_of(settings, spec), 0)
        models[label] = build_algorithm(settings, env(), 0)
        if ppo_at_revision is not None and settings["algo"] == "PlasticPPO":
            algo = {k: v for k, v in settings.items() if k not in OWN_FIELDS}
            policy_kwargs = algo.pop("policy_kwargs", {})
            models[f"{label} @ {revision}"] = ppo_at_revision.PlasticPPO(
                ppo_at_revision.PlasticRecurrentPolicy, env(), seed=0, device="cpu", policy_kwargs=policy_kwargs,
                verbose=0, **algo)
    return models


def recipe_settings(tasks: list[str] | None, rounds: int, against: str | None, plot: str | None) -> int:
    """Env steps per CPU second of the ``RECIPES`` models on each rl-v0 task, the ratio to RecurrentPPO and, with
    ``against``, the speed-up of PlasticPPO over that revision's (range of the per-round ratios in brackets).

    Rates are over all rounds (total steps / total CPU seconds), not medians: successive rollouts differ in where
    the episodes start inside them, and so in how much the update costs, and a training run pays for all of them;
    every model sees the same sequence of rollouts, since all start at step 0 with the same envs."""
    import tempfile

    from plastic_gym.leaderboard.suite import load_suite

    suite = load_suite("rl-v0")
    unknown = sorted(set(tasks or ()) - set(suite.task_names))
    if unknown:
        raise SystemExit(f"unknown rl-v0 task(s) {unknown}; expected some of {list(suite.task_names)}")
    selected = [t for t in suite.tasks if tasks is None or t.name in tasks]
    with tempfile.TemporaryDirectory() as folder:
        old = revision_ppo(against, pathlib.Path(folder)) if against else None
        header = ["task", *RECIPES] + [f"{k} vs {against}" for k in RECIPES if k.startswith("PlasticPPO") and against]
        print(f"\nrl-v0 recipe settings, one thread; env steps per CPU second over {rounds} interleaved rounds "
              f"(ratio to RecurrentPPO)" + (f"; speed-up over PlasticPPO at {against} [range of the per-round "
                                            f"ratios]" if against else "") + "\n")
        print("| " + " | ".join(header) + " |")
        print("|---" * len(header) + "|")
        results = {}
        for task in selected:
            models = recipe_models(task, old, against or "")
            times = round_times(models, rounds, desc=task.name)
            steps = {k: m.n_envs * m.n_steps for k, m in models.items()}
            rate = {k: steps[k] * len(v) / sum(v) for k, v in times.items()}
            ref = rate["RecurrentPPO (LSTM)"]
            cells = [f"{rate[k]:,.0f} ({rate[k] / ref:.2f}x)" for k in RECIPES]
            results[task.name] = {k: rate[k] / ref for k in RECIPES if k.startswith("PlasticPPO")}
            for k in RECIPES:
                if against and k.startswith("PlasticPPO"):
                    speedup = [o / n for o, n in zip(times[f"{k} @ {against}"], times[k], strict=True)]
                    results[task.name][f"{k} @ {against}"] = rate[f"{k} @ {against}"] / ref
                    cells.append(f"{rate[k] / rate[f'{k} @ {against}']:.2f}x [{min(speedup):.2f}, {max(speedup):.2f}]")
            print(f"| {task.name} | " + " | ".join(cells) + " |", flush=True)
            for model in models.values():
                model.get_env().close()
    if plot:
        plot_recipe_ratios(results, plot)
    return 0


def plot_recipe_ratios(results: dict[str, dict[str, float]], path: str) -> None:
    """Bars of each PlasticPPO's throughput as a ratio to RecurrentPPO, per task, written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from plastic_gym.io import atomic_path

    tasks = list(results)
    labels = list(next(iter(results.values())))
    fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 3, 3.6))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ax.bar(np.arange(len(tasks)) + (i - (len(labels) - 1) / 2) * width, [results[t][label] for t in tasks],
               width, label=label)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set_ylabel("env steps per CPU s / RecurrentPPO's")
    ax.set_title("rl-v0 recipe settings: training throughput relative to RecurrentPPO (LSTM)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def infos_cost(steps: int = 400) -> int:
    """Microseconds per step: the native vector env alone vs through ``NativeVecEnv`` (same actions), interleaved."""
    import gymnasium as gym
    import numpy as np

    from plastic_gym.agents import NativeVecEnv

    print(f"\n{ENV_ID}: microseconds per step (median of 5 interleaved blocks of {steps} steps)\n")
    print("| envs | vector env | NativeVecEnv | per env and step added |")
    print("|---|---|---|---|")
    for n in (16, 256, 1024):
        bare = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode="same_step")
        adapter = NativeVecEnv(ENV_ID, num_envs=n, seed=0)
        bare.reset(seed=0)
        adapter.reset()
        actions = np.zeros((n, 1), np.float32)
        times: dict[str, list[float]] = {"bare": [], "adapter": []}
        for _ in range(5):
            for name, step in (("bare", bare.step), ("adapter", adapter.step)):
                start = time.process_time()
                for _ in range(steps):
                    step(actions)
                times[name].append((time.process_time() - start) / steps * 1e6)
        b, a = statistics.median(times["bare"]), statistics.median(times["adapter"])
        print(f"| {n} | {b:,.0f} | {a:,.0f} | {(a - b) / n:.2f} |")
    return 0


def sweep(args: argparse.Namespace) -> int:
    """PlasticPPO's throughput over window length and minibatch size, at each hidden size, both rules."""
    print(f"\nPlasticPPO on {ENV_ID} (episodes of 20 steps), {N_ENVS} envs, n_steps {N_STEPS}; env steps per CPU s")
    for hidden in args.hidden:
        for rule in ("hebbian", "gradient"):
            shapes = [(w, b) for w in (8, 16, 32) for b in (512, 1024, 2048)]
            models = {f"{w}/{b}": build(f"PlasticPPO {rule}", hidden, make_env(args.env), batch_size=b, bptt=w)
                      for w, b in shapes}
            rate = measure(models, args.rounds)
            print(f"\nhidden {hidden}, {rule}: window / minibatch -> env steps per CPU s")
            for name, r in rate.items():
                print(f"  {name:>9}: {r:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
