"""Train one PPO policy shared by both agents (parameter sharing) on the plastic-gym PettingZoo envs.

The route is SuperSuit's (extra ``[multiagent]``): ``pettingzoo_env_to_vec_env_v1`` turns one ``ParallelEnv`` into a
vector env with one row per agent, ``concat_vec_envs_v1`` stacks ``n_copies`` of it into an SB3 ``VecEnv`` with
``2 * n_copies`` rows, and one SB3 model acts for every row. ``make_sb3_vec_env`` is the tested recipe
(``tests/test_multiagent.py``); run this file for the learning curves of ``docs/multiagent.md``:

    nice python examples/multiagent_train.py --timesteps 120000 --seed 0 --out docs/multiagent_ppo.png

The plot shows PPO's curve on each env with the scripted references (``plastic_gym.multiagent``'s scripted pairs).
Budget and seed are command-line arguments; the committed plot's are stated in ``docs/multiagent.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from plastic_gym.io import atomic_path, write_atomic
from plastic_gym.multiagent import coop_assoc_v0, repeated_game_v0, run_episodes
from plastic_gym.multiagent.coop_assoc import scripted_coop_actions
from plastic_gym.multiagent.repeated_game import explore_commit_actions, fixed_actions

ENVS: dict[str, ModuleType] = {"coop_assoc_v0": coop_assoc_v0, "repeated_game_v0": repeated_game_v0}
#: PPO settings per env. The Box actions of coop_assoc start with a smaller std and get no entropy bonus: the
#: answer is scored by squared error, so exploration noise is paid for directly.
PPO_KWARGS = {
    "coop_assoc_v0": dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-4, ent_coef=0.0,
                          policy_kwargs=dict(log_std_init=-1.0)),
    "repeated_game_v0": dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-4, ent_coef=0.01),
}


def make_sb3_vec_env(env_module: ModuleType, n_copies: int, seed: int, **env_kwargs):
    """An SB3 ``VecEnv`` with one row per (copy, agent): ``2 * n_copies`` rows played by one shared policy.

    SuperSuit 3.11's SB3 wrapper cannot be seeded through SB3 (``ConcatVecEnv`` has no ``seed()``, so pass
    ``seed=None`` to the SB3 model and seed torch with ``set_random_seed``): the copies are reset here directly,
    copy i with ``seed + i``. Later resets (SB3's own, and the automatic ones after each episode) are unseeded and
    continue each copy's key sequence, so the whole run is a function of ``seed``. ``VecMonitor`` records the
    returns (every agent's, so each episode appears once per agent).
    """
    import supersuit as ss
    from stable_baselines3.common.vec_env import VecMonitor

    venv = ss.pettingzoo_env_to_vec_env_v1(env_module.parallel_env(**env_kwargs))
    venv = ss.concat_vec_envs_v1(venv, n_copies, num_cpus=0, base_class="stable_baselines3")
    venv.venv.reset(seed=seed)
    return VecMonitor(venv)


def score_per_step(name: str, returns: np.ndarray, env) -> np.ndarray:
    """The plotted score of episode returns: coop_assoc's team query MSE, the repeated game's mean payoff per round."""
    if name == "coop_assoc_v0":
        return -np.asarray(returns) / (env.trial_length - env.trial_length // 2)
    return np.asarray(returns) / env.n_rounds


def references(name: str, n_episodes: int = 300) -> dict[str, float]:
    """The scripted references of an env at its defaults, on episodes with seeds 10**6 + e."""
    env = ENVS[name].parallel_env()
    if name == "coop_assoc_v0":
        policies = {"oracle pair (messages)": functools.partial(scripted_coop_actions, communicate=True),
                    "pair ignoring messages": functools.partial(scripted_coop_actions, communicate=False),
                    "no memory (answer 0)": lambda e, o, m: {a: np.zeros(1 + e.msg_dim, np.float32) for a in e.agents}}
    else:
        policies = {"explore-then-commit pair": explore_commit_actions, "fixed joint action": fixed_actions}
    return {label: float(score_per_step(name, run_episodes(env, p, n_episodes, seed=10**6)[:, 0], env).mean())
            for label, p in policies.items()}


def train(name: str, timesteps: int, seed: int, n_copies: int = 8):
    """PPO (MlpPolicy, parameter sharing) on one env; returns (timesteps, mean score of the episodes of each
    rollout)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed
    from tqdm import tqdm

    torch.set_num_threads(1)
    set_random_seed(seed)
    venv = make_sb3_vec_env(ENVS[name], n_copies, seed)
    env = ENVS[name].parallel_env()
    curve: list[tuple[int, float]] = []

    class Curve(BaseCallback):
        def _on_training_start(self):
            self.bar = tqdm(total=timesteps, desc=name, unit="step")

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_rollout_end(self):
            # The episodes that ended in this rollout (ep_info_buffer keeps the last 100 per-agent records).
            recent = [e["r"] for e in list(self.model.ep_info_buffer)[-2 * n_copies * 4:]]
            if recent:
                curve.append((self.num_timesteps, float(score_per_step(name, np.array(recent), env).mean())))

        def _on_training_end(self):
            self.bar.close()

    model = PPO("MlpPolicy", venv, seed=None, verbose=0, device="cpu", **PPO_KWARGS[name])
    model.learn(timesteps, callback=Curve())
    return np.array(curve), model


def plot(curves: dict, refs: dict, path: Path, meta: str, overwrite: bool = False) -> None:
    """Both learning curves with their scripted references, saved atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4))
    ylabels = {"coop_assoc_v0": "team query MSE (lower is better)", "repeated_game_v0": "mean payoff per round"}
    for ax, (name, curve) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        ax.plot(curve[:, 0], curve[:, 1], label="PPO, MLP, shared by both agents")
        for (label, value), style in zip(refs[name].items(), ["--", ":", "-."], strict=False):  # up to three references
            ax.axhline(value, ls=style, color="gray", label=f"{label}: {value:.3f}")
        ax.set(title=name, xlabel="env steps (all agents)", ylabel=ylabels[name])
        ax.legend(fontsize=8)
    fig.suptitle(meta, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=100, format="png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=120_000, help="env steps per env (counting both agents)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--out", type=Path, default=Path("docs/multiagent_ppo.png"))
    parser.add_argument("--force", action="store_true", help="overwrite --out (and its .json) if it exists")
    args = parser.parse_args(argv)
    summary_path = args.out.with_suffix(".json")
    if not args.force and (args.out.exists() or summary_path.exists()):
        parser.error(f"{args.out} or {summary_path} exists; pass --force to overwrite")
    start = time.process_time()
    curves, refs, summary = {}, {}, {}
    for name in args.envs:
        curves[name], _ = train(name, args.timesteps, args.seed)
        refs[name] = references(name)
        last = curves[name][-5:, 1].mean()
        summary[name] = {"ppo_last5_rollouts": float(last), "references": refs[name]}
        print(f"{name}: PPO (mean of the last 5 rollouts) {last:.3f}; references {refs[name]}")
    cpu = time.process_time() - start
    summary["budget"] = {"timesteps_per_env": args.timesteps, "seed": args.seed, "cpu_seconds": round(cpu, 1)}
    plot(curves, refs, args.out, f"PPO MlpPolicy, parameter sharing, {args.timesteps} steps per env, seed {args.seed}, "
                                 f"{cpu:.0f} CPU s", overwrite=args.force)
    write_atomic(summary_path, json.dumps(summary, indent=2).encode(), overwrite=args.force)
    print(f"wrote {args.out} and {summary_path} ({cpu:.0f} CPU s)")


if __name__ == "__main__":
    main()
