"""Does a plastic policy use its fast weights? Its plastic rates and the fast weights' share of each layer, per step.

Plays a ``PlasticPPO`` model (a task's ``.zip`` from ``plastic-gym baseline train`` or ``model.save``) on the eval
episodes of a suite task, as the leaderboard does (deterministic actions, all episodes in lockstep), and records at
every step t of the episode, averaged over the episodes:

- the modulated rates of the update F <- (1 - lam_t) F + eta~_t alpha ⊙ G_t (SPEC section 4), before the norm clip:
  eta_t = 2 p_lr sigmoid(m_t) and lam_t = 2 p_wd sigmoid(m_t). 1 / lam_t is the number of steps over which F
  keeps a write (its memory time constant); one gate m_t sets both, so a policy that lengthens its memory also
  writes more weakly;
- the fast weights' share of each plastic layer's output, ||v F_{t-1} + f_{t-1}|| / ||v W + b||, with v the layer's
  input at step t (u_t for the input layer, h_{t-1} for hh, x_t for ih, h_t for the output layer).

It complements the leaderboard's plasticity ablation (``plastic-gym diagnose``), which measures what the score loses
when the update is switched off; this shows how large and how long-lived the fast weights are. Prints a table and
writes ``PREFIX.json`` and ``PREFIX.png``:

    python examples/plasticity_probe.py baselines/checkpoints/rl-plastic-ppo-gradient-s0/bandit-2-reversal.zip \\
        --task bandit-2-reversal --out docs/plasticity_probe
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from plastic_gym.io import atomic_path, write_atomic

LAYERS = ("input", "hh", "ih", "output")
SHOWN_STEPS = (0, 1, 2, 5, 10, 20, 50, 100, 150, 199)


def probe(model, task, episodes: int = 64, progress: bool = False) -> dict:
    """Per-step means over ``episodes`` eval episodes of ``task`` (a ``SuiteTask``): ``eta``, ``lam`` and
    ``share[layer]`` as lists over the episode's steps."""
    import torch
    from tqdm import tqdm

    from plastic_gym.agents.cell import cell_forward
    from plastic_gym.leaderboard.adapters.sb3 import is_plastic_policy
    from plastic_gym.leaderboard.episodes import make_env

    policy = model.policy
    if not is_plastic_policy(policy):
        raise ValueError(f"the probe needs a PlasticRecurrentPolicy with a plastic rule, got {type(policy).__name__}")
    net, cfg = policy.core.net, policy.core.net.config
    env, obs = make_env(task, episodes)
    state = net.initial_state(episodes)
    eta, lam, share = [], [], {k: [] for k in LAYERS}
    with torch.no_grad():
        for _ in tqdm(range(env.task.episode_length), desc=task.name, unit="step", disable=not progress):
            features = policy.extract_features(policy.obs_to_tensor(obs)[0])
            shares = {}

            def linear(name, v, state=state, shares=shares):
                """v (W + F) + b + f, recording ||v F + f|| / ||v W + b|| per episode."""
                layer = net.layers[name]
                fixed = torch.addmm(layer.bias, v, layer.weight)
                plastic = torch.bmm(v.unsqueeze(1), state.F[name]).squeeze(1) + state.f[name]
                shares[name] = plastic.norm(dim=1) / fixed.norm(dim=1).clamp_min(1e-12)
                return fixed + plastic

            cache = cell_forward(cfg.cell, linear, features, state.h, state.c)
            latent, state = net.step(features, state)
            if not torch.allclose(cache.o[:, : cfg.output_dim], latent, atol=1e-5):
                raise RuntimeError("the probe's cell disagrees with the network's step")
            gate = torch.sigmoid(state.m) if cfg.modulation else torch.full_like(state.m, 0.5)
            eta.append(float((2 * cfg.p_lr * gate).mean()))
            lam.append(float((2 * cfg.p_wd * gate).mean()))
            for k in LAYERS:
                share[k].append(float(shares[k].mean()))
            distribution = policy._get_action_dist_from_latent(policy.mlp_extractor.forward_actor(latent))
            actions = distribution.get_actions(deterministic=True).reshape((-1, *policy.action_space.shape))
            obs, *_ = env.step(actions.numpy())
    env.close()
    return {"eta": eta, "lam": lam, "share": share,
            "rule": cfg.rule, "p_lr": cfg.p_lr, "p_wd": cfg.p_wd, "episodes": episodes}


def table(result: dict) -> str:
    """The probe at a few steps of the episode, one line each."""
    steps = [t for t in SHOWN_STEPS if t < len(result["eta"])]
    lines = ["step    eta_t   lam_t  1/lam_t  " + "  ".join(f"{k:>6}" for k in LAYERS)]
    for t in steps:
        lam = result["lam"][t]
        lines.append(f"{t:4d}  {result['eta'][t]:6.3f}  {lam:6.3f}  {1 / max(lam, 1e-9):7.1f}  "
                     + "  ".join(f"{result['share'][k][t]:6.3f}" for k in LAYERS))
    return "\n".join(lines)


def figure(result: dict, title: str, path: Path, overwrite: bool = False) -> None:
    """Two panels over the episode's steps: the rates eta_t and lam_t, and each layer's fast-weight share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(len(result["eta"]))
    fig, (rates, shares) = plt.subplots(1, 2, figsize=(11, 4))
    rates.plot(steps, result["eta"], label="eta_t (write rate)")
    rates.plot(steps, result["lam"], "--", label="lam_t (decay per step)")
    rates.set(xlabel="step of the episode", ylabel="rate (before the norm clip)", ylim=(0, None),
              title=f"rates: p_lr {result['p_lr']}, p_wd {result['p_wd']}")
    rates.legend()
    for k in LAYERS:
        shares.plot(steps, result["share"][k], label=k)
    shares.set(xlabel="step of the episode", ylabel="||v F + f|| / ||v W + b||", ylim=(0, None),
               title="fast weights' share of each layer's output")
    shares.legend(title="layer")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a PlasticPPO .zip")
    parser.add_argument("--task", required=True, help="the suite task to play (e.g. bandit-2-reversal)")
    parser.add_argument("--suite", default="rl-v0")
    parser.add_argument("--episodes", type=int, default=64, help="eval episodes (the task's first ones)")
    parser.add_argument("--out", type=Path, default=Path("plasticity_probe"),
                        help="prefix of the .json and .png written")
    parser.add_argument("--force", action="store_true", help="overwrite <out>.json and <out>.png")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    out_json, png = args.out.with_suffix(".json"), args.out.with_suffix(".png")
    for path in (out_json, png):
        if path.exists() and not args.force:
            parser.error(f"{path} exists; refusing to overwrite it (use --force)")

    import torch

    from plastic_gym.leaderboard.adapters.sb3 import algorithm_class, stored_algorithm
    from plastic_gym.leaderboard.suite import load_suite

    torch.set_num_threads(1)
    path = Path(args.model)
    model = algorithm_class(stored_algorithm(path) or "PlasticPPO").load(path, device="cpu")
    result = probe(model, load_suite(args.suite).task(args.task), args.episodes, progress=not args.no_progress)
    result.update(model=str(path), task=args.task, suite=args.suite)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out_json, (json.dumps(result, indent=1) + "\n").encode(), overwrite=args.force)
    figure(result, f"{path.parent.name}/{path.stem} on {args.task}", png, overwrite=args.force)
    print(f"wrote {out_json} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
