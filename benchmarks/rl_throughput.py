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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

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
    from tqdm import tqdm

    for model in configs.values():  # warm-up: allocations, first-call overheads
        iteration_seconds(model)
    times: dict[str, list[float]] = {k: [] for k in configs}
    for _ in tqdm(range(rounds), desc="rounds", file=sys.stderr):
        for name, model in configs.items():
            times[name].append(iteration_seconds(model))
    return {k: N_ENVS * N_STEPS / statistics.median(v) for k, v in times.items()}


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
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
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
