"""``plastic-gym tasks``: every registered task with its spaces and measured no-memory and oracle scores."""

from __future__ import annotations

import argparse

import numpy as np


def register(subparsers) -> None:
    parser = subparsers.add_parser("tasks", help="list the registered tasks with their spaces and reference scores",
                                   description=__doc__)
    parser.add_argument("--episodes", type=int, default=300, help="episodes per task for the reference scores")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled episodes")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.set_defaults(func=run)


def describe_space(space) -> str:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {describe_space(s)}" for k, s in space.spaces.items()) + ")"
    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    return f"Box{tuple(space.shape)} {space.dtype}"


def reference_rows(episodes: int, seed: int) -> list[dict]:
    """One row per registered id: spaces, T, primary metric, and the no-memory and oracle means."""
    from tqdm.auto import tqdm

    import plastic_gym

    rows = []
    for env_id in tqdm(plastic_gym.ENV_IDS, desc="tasks", leave=False):
        try:
            task = plastic_gym.make_task(env_id)
        except (FileNotFoundError, ValueError) as err:  # e.g. Omniglot data not on disk
            rows.append({"id": env_id, "error": str(err)})
            continue
        batch = task.sample(episodes, seed)
        rows.append(describe_task(env_id, task) | {
            "no_memory": mean_primary(task, task.no_memory_actions(batch), batch),
            "oracle": mean_primary(task, task.oracle_actions(batch), batch),
        })
    for env_id in tqdm(plastic_gym.RL_ENV_IDS, desc="meta-RL tasks", leave=False):
        rows.append(interactive_row(env_id, episodes, seed))
    return rows


def describe_task(env_id: str, task) -> dict:
    """The columns of a row that describe the task itself: id, spaces, episode length and primary metric."""
    higher = " (higher better)" if task.higher_is_better else ""
    return {"id": env_id, "obs": describe_space(task.observation_space), "action": describe_space(task.action_space),
            "T": task.episode_length, "metric": task.primary_metric + higher}


def mean_primary(task, actions, batch) -> float:
    """The primary metric of ``actions`` on the episodes ``batch``, averaged over the episodes."""
    return float(np.mean(task.episode_metrics(actions, batch)[task.primary_metric]))


def interactive_row(env_id: str, episodes: int, seed: int) -> dict:
    """The row of an interactive task: every reference policy played (``rollout``) on the same episodes."""
    import plastic_gym
    from plastic_gym.core.rng import seed_keys

    task = plastic_gym.make_task(env_id)
    keys = seed_keys(seed + np.arange(episodes, dtype=object))
    scores = {name: float(np.mean(plastic_gym.rollout(task, cls(task), keys, seed)[task.primary_metric]))
              for name, cls in task.references.items()}
    return describe_task(env_id, task) | {
        "no_memory": scores.pop("no_memory"), "oracle": scores.pop("oracle"), "classical": scores,
    }


def format_table(rows: list[dict], markdown: bool = False) -> str:
    header = ["id", "observation", "action", "T", "primary metric", "no memory", "oracle"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["id"], "unavailable (see below)", "", "", "", "", ""])
        else:
            body.append([r["id"], r["obs"], r["action"], str(r["T"]), r["metric"], f"{r['no_memory']:.3f}",
                         f"{r['oracle']:.3f}"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    fmt = lambda row: "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()  # noqa: E731
    notes = [f"\n{r['id']}: {r['error']}" for r in rows if "error" in r]
    classical = [f"{r['id']}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["classical"].items())
                 for r in rows if r.get("classical")]
    if classical:
        title = "\nclassical references of the meta-RL tasks (non-privileged, same episodes):\n"
        notes.append(title + "\n".join(classical))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(row) for row in body] + notes)


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise SystemExit("--episodes must be >= 1")
    print(format_table(reference_rows(args.episodes, args.seed), args.markdown))
    print(f"\nno memory / oracle: mean primary metric over {args.episodes} episodes (seed {args.seed}); meta-RL tasks:"
          " no memory = random policy / random walk, oracle privileged.")
    return 0
