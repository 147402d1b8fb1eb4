"""Env-steps per second of the native vector env against gymnasium's SyncVectorEnv, side by side in one run.

For every registered embedded id (suite v0 and the meta-RL ids, plus Harlow with glyph objects) and 1, 64 and
1024 envs, both vector envs play the same number of steps (covering at least one full episode and its autoreset)
with the same actions (again and again for at least ``--min-seconds``), in ``--repeats`` interleaved rounds (native
then sync, sync then native, ...); the table shows the median steps per second of each, the median of the rounds'
ratios and their range (on a shared machine a single round's ratio says little). A second table shows episodes per
second of ``task.sample(64)``, the supervised view (suite v0 only: the interactive tasks have no whole-episode
view). Absolute numbers depend on the machine; the ratios are the point.

    python benchmarks/env_throughput.py [--sizes 1 64 1024] [--repeats 3] [--min-seconds 0.2] [--clock wall]
                                        [--ids ID ...]

An id may carry kwargs after a colon, ``ID:name=value,...`` (values parsed as int when they look like one).
"""

from __future__ import annotations

import argparse
import functools
import time

import gymnasium as gym
import numpy as np

import plastic_gym


def actions_for(space: gym.Space, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=n)
    return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(np.float32)


#: ``--clock``: wall time, or this process's CPU time (on a machine shared with other jobs, wall time also counts
#: their turns on the cores, which come and go during a run).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def steps_per_second(envs: gym.vector.VectorEnv, steps: int, seed: int = 0, min_seconds: float = 0.0,
                     clock=time.perf_counter) -> float:
    """Steps x envs per second, a reset included in the timing (episodes are generated at reset); the seeded reset
    and the steps are played again until ``min_seconds`` have passed (short runs are too noisy to time once)."""
    rng = np.random.default_rng(seed)
    actions = [actions_for(envs.single_action_space, envs.num_envs, rng) for _ in range(steps)]
    cycles, start = 0, clock()
    while cycles == 0 or clock() - start < min_seconds:
        envs.reset(seed=seed)
        for a in actions:
            envs.step(a)
        cycles += 1
    return cycles * envs.num_envs * steps / (clock() - start)


def sample_rate(task, batch: int = 64, min_seconds: float = 0.5) -> float:
    """Episodes per second of ``task.sample(batch)``."""
    rng, n, start = np.random.default_rng(0), 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or n == 0:
        task.sample(batch, rng)
        n += 1
    return n * batch / elapsed


def parse_id(text: str) -> tuple[str, dict]:
    """``"ID:name=value,..."`` -> (id, kwargs)."""
    env_id, _, rest = text.partition(":")
    kwargs = {}
    for item in filter(None, rest.split(",")):
        name, _, value = item.partition("=")
        kwargs[name] = int(value) if value.lstrip("-").isdigit() else value
    return env_id, kwargs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per id and size (median)")
    parser.add_argument("--min-seconds", type=float, default=0.2, help="each timing plays whole episodes this long")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (steadier on a shared machine)")
    default = [i for i in plastic_gym.ENV_IDS if i != "PlasticOmniglot-v0"] + list(plastic_gym.RL_ENV_IDS)
    parser.add_argument("--ids", nargs="+", default=default + ["PlasticHarlow-v0:objects=glyphs"])
    args = parser.parse_args()

    print(f"{'id':<34}{'envs':>6}{'native steps/s':>16}{'Sync steps/s':>14}{'ratio':>8}{'range':>15}")
    for name in args.ids:
        env_id, kwargs = parse_id(name)
        length = plastic_gym.make_task(env_id, **kwargs).episode_length
        for n in args.sizes:
            steps = length + 2  # one whole episode, the autoreset step and one more
            native = gym.make_vec(env_id, num_envs=n, **kwargs)
            make_one = functools.partial(gym.make, env_id, disable_env_checker=True, **kwargs)
            sync = gym.vector.SyncVectorEnv([make_one] * n)
            for envs in (native, sync):
                steps_per_second(envs, 2)  # warm-up (imports, caches)
            rates = np.empty((args.repeats, 2))
            for r in range(args.repeats):
                order = (0, 1) if r % 2 == 0 else (1, 0)
                for i in order:
                    rates[r, i] = steps_per_second((native, sync)[i], steps, min_seconds=args.min_seconds,
                                                   clock=CLOCKS[args.clock])
            ratios = rates[:, 0] / rates[:, 1]
            rate_native, rate_sync = np.median(rates, axis=0)
            spread = f"{ratios.min():.1f}-{ratios.max():.1f}x"
            print(f"{name:<34}{n:>6}{rate_native:>16,.0f}{rate_sync:>14,.0f}{np.median(ratios):>7.1f}x{spread:>15}",
                  flush=True)
            native.close()
            sync.close()

    print(f"\n{'id':<34}{'sample(64) episodes/s':>22}")
    for name in args.ids:
        env_id, kwargs = parse_id(name)
        task = plastic_gym.make_task(env_id, **kwargs)
        if hasattr(task, "sample"):
            print(f"{name:<34}{sample_rate(task):>22,.0f}", flush=True)


if __name__ == "__main__":
    main()
