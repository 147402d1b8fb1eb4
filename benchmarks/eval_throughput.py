"""Playing a plastic SB3 policy on the leaderboard: ``model.predict`` (SB3's path) against ``predict_state``.

SB3's ``predict`` carries a recurrent state as numpy arrays in the policy's ``(h, c)`` slots, so a
``PlasticRecurrentPolicy`` packs its fast weights F into them after every step and unpacks them before the next, and
both cross numpy; ``predict_state`` keeps the ``PlasticState`` as it is between steps. Both give the same actions
(tests/test_ablation_sb3.py). This script plays the same episodes of PlasticBandit-v0 with a freshly built policy
(the weights do not change the cost) both ways, alternating, and prints steps per second and the ratio::

    python benchmarks/eval_throughput.py                 # 1024 envs (the leaderboard's), hidden 64, 3 rounds
    python benchmarks/eval_throughput.py --hidden 128 --rule gradient
"""

from __future__ import annotations

import argparse
import time

from side_by_side import interleaved


def _policy(hidden: int, rule: str, n_envs: int):
    from plastic_gym.agents.ppo import PlasticPPO, make_plastic_vec_env
    from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy

    env = make_plastic_vec_env("plastic_gym:PlasticBandit-v0", n_envs=n_envs, seed=0)
    model = PlasticPPO(PlasticRecurrentPolicy, env, n_steps=8, batch_size=8 * n_envs, seed=0, device="cpu",
                       policy_kwargs={"hidden_dim": hidden, "latent_dim": 64, "rule": rule, "cell": "rnn"})
    return model, env


def _play(model, env, steps: int, unpacked: bool) -> float:
    """Steps per second of ``steps`` deterministic steps of every env."""
    import numpy as np

    obs, state, start = env.reset(), None, np.ones(env.num_envs, bool)
    begin = time.perf_counter()
    for _ in range(steps):
        if unpacked:
            actions, state = model.policy.predict_state(obs, state, start, deterministic=True)
        else:
            actions, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, _, dones, _ = env.step(actions)
        start = dones
    return steps / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rule", default="hebbian", choices=("hebbian", "gradient"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model, env = _policy(args.hidden, args.rule, args.envs)
    _play(model, env, 5, True)  # warm-up
    rates = interleaved({"predict": lambda: _play(model, env, args.steps, unpacked=False),
                         "predict_state": lambda: _play(model, env, args.steps, unpacked=True)}, args.rounds)
    best = {k: max(v) for k, v in rates.items()}
    print(f"{args.rule} RNN, hidden {args.hidden}, {args.envs} envs, "
          f"best of {args.rounds} rounds of {args.steps} steps")
    for k, v in best.items():
        print(f"  {k:14s} {v:8.1f} steps/s ({v * args.envs:,.0f} env steps/s)")
    print(f"  ratio predict_state / predict: {best['predict_state'] / best['predict']:.2f}x")


if __name__ == "__main__":
    main()
