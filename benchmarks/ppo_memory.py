"""Rollout storage and peak memory: ``RecurrentPPO`` + ``PlasticRecurrentPolicy`` vs ``PlasticPPO``.

Both algorithms train the same plastic policy (hebbian RNN, 128 hidden units, latent 64) on PlasticAssoc-v0 with
8 envs. ``RecurrentPPO`` stores the packed plastic state (actor and critic, h and c) before every step;
``PlasticPPO`` stores one state per env per rollout and recomputes the rest while training.

For each algorithm and n_steps (128 and 2048) a fresh subprocess builds the model, reads the rollout buffer's
storage (the bytes of every array it holds), then runs one full iteration (collect ``n_steps`` per env, one epoch of
training) and reports its peak resident memory (``ru_maxrss``). Run::

    nice python benchmarks/ppo_memory.py            # the table (about 2-4 minutes on 1 core)
    nice python benchmarks/ppo_memory.py --n-steps 128   # one size only

The n_steps=2048 ``RecurrentPPO`` run needs several GiB (the buffer plus the copy its ``get()`` makes); it is
skipped, with its storage still reported, when ``MemAvailable`` is below three times the buffer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ALGOS = ("RecurrentPPO", "PlasticPPO")
N_ENVS = 8
HIDDEN = 128
POLICY_KWARGS = {"hidden_dim": HIDDEN, "latent_dim": 64, "rule": "hebbian", "cell": "rnn"}


def _build(algo: str, n_steps: int):
    import torch

    torch.set_num_threads(1)
    from sb3_contrib import RecurrentPPO

    from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env
    from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy

    env = make_plastic_vec_env("plastic_gym:PlasticAssoc-v0", n_envs=N_ENVS, seed=0)
    cls = RecurrentPPO if algo == "RecurrentPPO" else PlasticPPO
    return cls(PlasticRecurrentPolicy, env, n_steps=n_steps, batch_size=n_steps * 2, n_epochs=1, seed=0,
               policy_kwargs=POLICY_KWARGS, device="cpu")


def buffer_bytes(buffer) -> int:
    """Bytes of every numpy array a rollout buffer holds (observation dicts included)."""
    import numpy as np

    total = 0
    for value in vars(buffer).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, dict):
            total += sum(v.nbytes for v in value.values() if isinstance(v, np.ndarray))
    return total


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def run_one(algo: str, n_steps: int, train: bool) -> dict:
    """Measure one config in this process (called in a fresh subprocess)."""
    model = _build(algo, n_steps)
    result = {"algo": algo, "n_steps": n_steps, "n_envs": N_ENVS, "hidden": HIDDEN,
              "state_floats": model.policy.core.state_floats,
              "buffer_bytes": buffer_bytes(model.rollout_buffer),
              "rss_after_build": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if train and _mem_available() < 3 * result["buffer_bytes"]:
        result["skipped"] = f"MemAvailable {_mem_available() / 2**30:.1f} GiB < 3x buffer"
        train = False
    if train:
        start = time.perf_counter()
        model.learn(n_steps * N_ENVS)  # one rollout + one training epoch
        result["seconds"] = time.perf_counter() - start
        result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _fmt(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-steps", type=int, nargs="+", default=[128, 2048])
    parser.add_argument("--no-train", action="store_true", help="report storage only (no rollout, no peak memory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--_one", nargs=2, metavar=("ALGO", "N_STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        print(json.dumps(run_one(args._one[0], int(args._one[1]), not args.no_train)))
        return 0

    results = []
    for n_steps in args.n_steps:
        for algo in ALGOS:
            cmd = [sys.executable, os.path.abspath(__file__), "--_one", algo, str(n_steps)]
            if args.no_train:
                cmd.append("--no-train")
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                raise RuntimeError(f"{algo} n_steps={n_steps} failed (exit {out.returncode})")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  measured {algo} n_steps={n_steps}", file=sys.stderr, flush=True)

    print(f"\nPlasticAssoc-v0, n_envs={N_ENVS}, plastic RNN hidden {HIDDEN} (hebbian), "
          f"{results[0]['state_floats']} state floats per env; one rollout + one epoch per row\n")
    header = (f"{'n_steps':>7} | {'algorithm':<13} | {'rollout storage':>15} | {'ratio':>7} | {'peak RSS':>9} | "
              f"{'time':>6}")
    print(header)
    print("-" * len(header))
    for n_steps in args.n_steps:
        rows = {r["algo"]: r for r in results if r["n_steps"] == n_steps}
        for algo in ALGOS:
            r = rows[algo]
            ratio = rows["RecurrentPPO"]["buffer_bytes"] / r["buffer_bytes"]
            peak = _fmt(r.get("peak_rss")) if "skipped" not in r else "skipped"
            secs = f"{r['seconds']:.0f} s" if "seconds" in r else "-"
            print(f"{n_steps:>7} | {algo:<13} | {_fmt(r['buffer_bytes']):>15} | {ratio:>6.0f}x | {peak:>9} | {secs:>6}")
    for n_steps in args.n_steps:
        rows = {r["algo"]: r for r in results if r["n_steps"] == n_steps}
        ratio = rows["RecurrentPPO"]["buffer_bytes"] / rows["PlasticPPO"]["buffer_bytes"]
        print(f"\nn_steps={n_steps}: PlasticPPO rollout storage is {ratio:.0f}x smaller than RecurrentPPO's")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
