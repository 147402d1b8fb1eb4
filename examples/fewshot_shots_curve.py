"""Query accuracy as a function of the number of shots seen: PlasticOneShot-v0 (5-way, test classes) with
``n_shot = 1..5``, for every committed baseline entry's one-shot model, an entry with a pretrained encoder and the
prototypical-network reference on that encoder.

    python examples/fewshot_shots_curve.py [--pretrained runs/oneshot-hebbian-pretrained-rms1/checkpoint.pt] \
        [--episodes 256] [--out baselines/fewshot_shots] [--force]

Every ``n_shot`` variant has the observation and action spaces of the 1-shot task (``image`` and a 5-way one-hot
``label``, ``Discrete(5)``); only the support phase is longer (``5 * n_shot`` steps, then 5 queries). So a model
trained at 1 shot plays every variant as it is: the recurrent models simply run for more steps, and a frame-stacking
PPO model keeps its trained window (``k`` frames, which at more shots no longer covers the episode). A model whose
spaces do not fit a variant is reported as not playing it (``"fallback": true``), never scored as if it did.

All variants play the episodes of seed 10,600,000 onward (those of suite v0's ``oneshot`` task, whose first
``--episodes`` the 1-shot point therefore scores), through the leaderboard's evaluator
(``plastic_gym.leaderboard.evaluate``). Writes ``<out>.png`` (accuracy against shots, one line per entry, 95%
bootstrap intervals over episodes) and ``<out>.json`` (the numbers), both refused if they exist unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from plastic_gym.io import atomic_path, read_json_file, write_atomic
from plastic_gym.leaderboard.agents import load_agent
from plastic_gym.leaderboard.evaluate import AgentsFailed, evaluate
from plastic_gym.leaderboard.suite import parse_suite

ENV_ID = "PlasticOneShot-v0"
#: The eval seed of suite v0's oneshot task: the 1-shot variant plays its episodes.
SEED = 10_600_000
SHOTS = (1, 2, 3, 4, 5)
CHECKPOINTS = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints"
BASELINE = "baseline (fresh encoder)"


def shots_suite(episodes: int):
    """An unreleased suite with one task per number of shots (same episodes seeds, split "test")."""
    return parse_suite({
        "name": "oneshot-shots", "version": 0,
        "description": f"{ENV_ID}, test classes, 5-way, n_shot = 1..5 (examples/fewshot_shots_curve.py)",
        "tasks": [{"name": f"{k}-shot", "env_id": ENV_ID, "kwargs": {"split": "test", "n_shot": k},
                   "episodes": episodes, "seed": SEED} for k in SHOTS]}, "shots suite")


def entry_factories(pretrained: Path | None) -> tuple[list, dict[str, str]]:
    """Agent factories of the committed entries that have a one-shot model (their manifest's ``oneshot`` spec), the
    pretrained entry and its prototype reference; and each one's kind (for the plot)."""
    factories, kinds = [], {}
    for manifest in sorted(CHECKPOINTS.glob("*/manifest.json")):
        data = read_json_file(manifest, "agent manifest")
        spec = data.get("tasks", {}).get("oneshot")
        if spec is None:
            continue
        factory = load_agent(spec, base=manifest.parent)
        factory.metadata = replace(factory.metadata, name=data["metadata"]["name"])
        factories.append(factory)
        kinds[factory.metadata.name] = BASELINE
    if pretrained is not None:
        for spec, name, kind in ((str(pretrained), "hebbian-pretrained-encoder", "pretrained encoder"),
                                 (f"prototype:{pretrained}", "prototype-reference", "prototype reference")):
            factory = load_agent(spec)
            factory.metadata = replace(factory.metadata, name=name)
            factories.append(factory)
            kinds[name] = kind
    return factories, kinds


def bootstrap_interval(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the mean of ``values`` (one resampling matrix, no loop)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return [round(float(np.quantile(means, q)), 4) for q in (0.025, 0.975)]


def curves(doc: dict, failures: dict[str, str]) -> dict:
    """The numbers of the figure from an evaluation document: per entry, per number of shots, the query accuracy
    (mean over episodes, its 95% interval) or ``fallback`` where the entry cannot play that variant."""
    out = {}
    for agent in doc["agents"] if doc else []:
        run = agent["runs"][0]
        points = []
        for k, task in zip(SHOTS, doc["tasks"], strict=True):
            r = run[task["name"]]
            acc = np.asarray(r["primary"], np.float64)
            points.append({"n_shot": k, "fallback": r["fallback"]} | ({} if r["fallback"] else {
                "accuracy": round(float(acc.mean()), 4), "ci95": bootstrap_interval(acc)}))
        out[agent["metadata"]["name"]] = {"regime": agent["metadata"].get("regime"), "points": points}
    for name, why in failures.items():
        out[name] = {"failed": why}
    return out


def plot(numbers: dict, kinds: dict[str, str], path: Path, overwrite: bool) -> None:
    """Accuracy against shots: the baselines in thin lines (viridis colours), the pretrained entry and the reference
    bold in red and green."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6), constrained_layout=True)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    styles = {BASELINE: dict(lw=0.8, alpha=0.55, marker="."),
              "pretrained encoder": dict(lw=2.2, color="C3", marker="o"),
              "prototype reference": dict(lw=2.2, color="C2", marker="s", ls="--")}
    baselines = [n for n in numbers["entries"] if kinds.get(n, BASELINE) == BASELINE]
    for name, entry in numbers["entries"].items():
        pts = [p for p in entry.get("points", []) if not p["fallback"]]
        if not pts:
            continue
        x = np.array([p["n_shot"] for p in pts])
        y = np.array([p["accuracy"] for p in pts])
        lo, hi = np.array([p["ci95"] for p in pts]).T
        style = styles[kinds.get(name, BASELINE)]
        if name in baselines:
            style = style | {"color": colormaps["viridis"](baselines.index(name) / max(1, len(baselines) - 1))}
        line, = ax.plot(x, y, label=name, **style)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.12 if style["lw"] > 1 else 0.04, lw=0)
    ax.axhline(numbers["chance"], ls=":", color="gray", lw=1)
    ax.annotate(f"chance {numbers['chance']:.2f}", (SHOTS[0], numbers["chance"]), xytext=(2, 3),
                textcoords="offset points", fontsize=8, color="gray")
    ax.set_xticks(SHOTS)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("shots per class seen before the queries (n_shot)")
    ax.set_ylabel("query accuracy")
    ax.set_title(f"{ENV_ID}, 5-way, test classes: {numbers['episodes']} episodes per point (95% bootstrap bands)",
                 fontsize=9)
    ax.legend(fontsize=6.5, ncol=2, loc="center right")
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", type=Path,
                        default=Path("runs/oneshot-hebbian-pretrained-rms1/checkpoint.pt"),
                        help="checkpoint of an entry with a pretrained encoder (skipped with a note if absent)")
    parser.add_argument("--episodes", type=int, default=256, help="episodes per variant (>= 2; default 256)")
    parser.add_argument("--out", type=Path, default=Path("baselines/fewshot_shots"), help="output prefix")
    parser.add_argument("--force", action="store_true", help="overwrite <out>.png and <out>.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.episodes < 2:
        parser.error(f"--episodes must be >= 2, got {args.episodes}")
    png, out_json = args.out.with_suffix(".png"), args.out.with_suffix(".json")
    for path in (png, out_json):
        if path.exists() and not args.force:
            parser.error(f"{path} exists; refusing to overwrite it (use --force)")
    import torch

    torch.set_num_threads(1)
    pretrained = args.pretrained if args.pretrained.is_file() else None
    if pretrained is None:
        print(f"note: {args.pretrained} not found; the pretrained entry and the prototype reference are left out")
    factories, kinds = entry_factories(pretrained)
    suite = shots_suite(args.episodes)
    try:
        doc, failures = evaluate(factories, suite, progress=not args.no_progress), {}
    except AgentsFailed as err:
        doc, failures = err.doc, err.failures
    numbers = {"env_id": ENV_ID, "kwargs": {"split": "test"}, "shots": list(SHOTS), "episodes": args.episodes,
               "seed": SEED, "chance": 0.2, "pretrained_checkpoint": None if pretrained is None else str(pretrained),
               "elapsed_s": doc["elapsed_s"] if doc else None, "kinds": kinds,
               "entries": curves(doc, failures)}
    plot(numbers, kinds, png, args.force)
    write_atomic(out_json, (json.dumps(numbers, indent=1) + "\n").encode(), overwrite=args.force)
    for name, entry in numbers["entries"].items():
        cells = [("-" if p["fallback"] else f"{p['accuracy']:.3f}") for p in entry.get("points", [])]
        print(f"{name:32s} " + (" ".join(cells) if cells else entry.get("failed", "")))
    print(f"wrote {png} and {out_json}")


if __name__ == "__main__":
    main()
