"""Learning curves of the RL baselines of a suite, seeds pooled: ``python -m plastic_gym.baselines.curves``.

For every task of the suite, one panel: per recipe, the primary metric of the training episodes (the stochastic
training policy, ``checkpoints/<recipe>-s<seed>/curves.json``) against env steps, the mean over seeds with a 95%
percentile-bootstrap band over seeds (``scipy.stats.bootstrap``; no band with one seed), and the suite's
references as horizontal lines (no memory, the privileged oracle, and the best classical algorithm of the task),
played by ``plastic_gym.rollout`` on the suite's evaluation keys. Seeds logged at different steps are put on one
grid by linear interpolation; the grid stops where the shortest seed stops.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from .common import CHECKPOINT_DIR
from .recipes import available, load_recipe

#: Points on the common env-step grid of a panel.
GRID_POINTS = 60


def load_curves(suite_name: str, checkpoint_dir: Path = CHECKPOINT_DIR) -> dict[str, dict[int, dict]]:
    """recipe name -> seed -> ``curves.json`` of every RL entry of the suite's recipes found in ``checkpoint_dir``."""
    from plastic_gym.io import read_json_file

    recipes = [load_recipe(n) for n in available()]
    names = [r.name for r in recipes if r.kind == "rl" and r.suite == suite_name]
    out: dict[str, dict[int, dict]] = {}
    for path in sorted(Path(checkpoint_dir).glob("*/curves.json")):
        match = re.fullmatch(r"(.+)-s(\d+)", path.parent.name)
        if match and match[1] in names:
            out.setdefault(match[1], {})[int(match[2])] = read_json_file(path, "curves")
    return out


def seed_band(runs: list[list[dict]], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(steps, mean, band)`` over seeds of one recipe and task: ``runs[s]`` are a seed's records
    (``{"step", "val": {metric: v}}``), ``band`` is ``[2, points]`` (low, high) or None for a single seed."""
    from scipy.stats import bootstrap

    end = min(r[-1]["step"] for r in runs)
    start = max(r[0]["step"] for r in runs)
    steps = np.linspace(start, end, GRID_POINTS) if end > start else np.array([float(end)])
    values = np.stack([np.interp(steps, [x["step"] for x in r], [x["val"][metric] for x in r]) for r in runs])
    if len(runs) < 2:
        return steps, values[0], None
    res = bootstrap((values,), np.mean, axis=0, confidence_level=0.95, n_resamples=2000, method="percentile", rng=0)
    return steps, values.mean(0), np.stack([res.confidence_interval.low, res.confidence_interval.high])


def reference_lines(suite_name: str, episodes: int = 256) -> dict[str, dict[str, float]]:
    """task name -> {reference label: mean primary metric} on the first ``episodes`` of the suite's eval episodes."""
    from plastic_gym import make_task, rollout
    from plastic_gym.core.rng import seed_keys
    from plastic_gym.leaderboard.suite import load_suite

    out = {}
    for t in load_suite(suite_name).tasks:
        task = make_task(t.env_id, **t.kwargs)
        keys = seed_keys(t.seed + np.arange(min(episodes, t.episodes), dtype=object))
        scores = {name: float(np.mean(rollout(task, policy(task), keys, 0)[task.primary_metric]))
                  for name, policy in task.references.items()}
        classical = {k: v for k, v in scores.items() if k not in ("no_memory", "oracle")}
        best = (max if task.higher_is_better else min)(classical, key=classical.get) if classical else None
        out[t.name] = {"no memory": scores["no_memory"], "oracle": scores["oracle"],
                       **({f"best classical ({best})": classical[best]} if best else {})}
    return out


def plot(suite_name: str, out: Path, checkpoint_dir: Path = CHECKPOINT_DIR, episodes: int = 256) -> Path:
    """Draw the panels of every task of the suite into ``out`` (PNG, written atomically); returns ``out``. The
    reference lines are the means over the first ``episodes`` eval episodes of each task."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plastic_gym import make_task
    from plastic_gym.io import write_atomic
    from plastic_gym.leaderboard.suite import load_suite

    curves = load_curves(suite_name, checkpoint_dir)
    if not curves:
        raise ValueError(f"no trained RL entries of suite {suite_name!r} in {checkpoint_dir}")
    suite = load_suite(suite_name)
    refs = reference_lines(suite_name, episodes)
    cols = 3
    rows = -(-len(suite.tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    styles = {"no memory": ":", "oracle": "--"}
    for ax, t in zip(axes.flat, suite.tasks, strict=False):  # the grid's last row may have empty panels
        task = make_task(t.env_id, **t.kwargs)
        metric = task.primary_metric
        for i, (recipe, seeds) in enumerate(sorted(curves.items())):
            runs = [c[t.name]["records"] for c in seeds.values() if t.name in c and c[t.name]["records"]]
            if not runs:
                continue
            steps, mean, band = seed_band(runs, metric)
            line, = ax.plot(steps, mean, color=f"C{i}", label=f"{recipe} ({len(runs)} seed{'s' * (len(runs) > 1)})")
            if band is not None:
                ax.fill_between(steps, band[0], band[1], color=line.get_color(), alpha=0.2, linewidth=0)
        for label, value in refs[t.name].items():
            ax.axhline(value, color="0.35", linestyle=styles.get(label, "-."), linewidth=1, label=label)
        ax.set_title(f"{t.name} ({metric}, {'higher' if task.higher_is_better else 'lower'} is better)", fontsize=10)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.flat[len(suite.tasks):]:
        ax.axis("off")
    fig.suptitle(f"suite {suite_name}: training episodes' primary metric (mean over seeds, 95% bootstrap band)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_atomic(out, buffer.getvalue(), overwrite=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="rl-v0")
    parser.add_argument("--out", type=Path, default=None, help="PNG (default: baselines/curves-<suite>.png)")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR)
    args = parser.parse_args(argv)
    out = args.out or Path(__file__).resolve().parent / f"curves-{args.suite}.png"
    try:
        print(f"wrote {plot(args.suite, out, args.checkpoints)}")
    except ValueError as err:
        print(f"error: {err}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
