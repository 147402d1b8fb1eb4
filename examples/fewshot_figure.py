"""The figures and numbers of ``docs/fewshot.md`` from a training run with a pretrained encoder and its evaluation.

    python examples/fewshot_figure.py --run runs/oneshot-hebbian-pretrained-rms1 \
        --compare "features not rescaled=runs/oneshot-hebbian-pretrained" --results runs/fewshot-v0.json \
        --out docs/fewshot

reads the run's ``checkpoint.pt`` (pretraining records, meta-training records, budgets, times) and an evaluation
result file of ``plastic-gym evaluate`` holding the entry and the prototype reference, and writes
``<out>_curves.png`` (pretraining: held-out class-feature cosine and nearest-class-mean accuracy; meta-training:
validation accuracy with the prototype reference and chance) and ``<out>.json`` (the numbers of the write-up).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from plastic_gym.agents.trainer import plot_curves
from plastic_gym.io import write_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="training run folder (checkpoint.pt)")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=RUN",
                        help="another run folder whose validation curve is drawn beside (repeatable)")
    parser.add_argument("--results", type=Path, action="append", default=[],
                        help="plastic-gym evaluate result file(s) with the entry and the prototype reference")
    parser.add_argument("--out", type=Path, required=True, help="output prefix, e.g. docs/fewshot")
    args = parser.parse_args()

    ckpt = torch.load(args.run / "checkpoint.pt", map_location="cpu", weights_only=True)
    pre, meta = ckpt["pretrain"], ckpt["metrics"]
    scores = {}
    for path in args.results:
        doc = json.loads(path.read_text())
        for agent in doc["agents"]:
            for task in doc["tasks"]:
                run = agent["runs"][0][task["name"]]
                if not run.get("fallback"):
                    scores[f"{doc['suite']['name']}/{task['name']}/{agent['metadata']['name']}"] = run["means"]
    reference = {"accuracy:chance 0.2": 0.2}
    for key, means in scores.items():
        if key.startswith("v0/oneshot/") and "prototype" in key:
            reference[f"accuracy:prototype reference (test classes) {means['accuracy']:.3f}"] = means["accuracy"]
    plot_curves({"pretraining (held-out glyph classes)": pre["records"]}, f"{args.out}_pretrain.png",
                title="Conv-4 pretrained as a 1000-class glyph classifier", xlabel="pretraining step")
    runs = {f"{ckpt['train']['rule']} RNN, frozen encoder, features at RMS 1": meta}
    for item in args.compare:
        label, _, folder = item.partition("=")
        runs[label] = torch.load(Path(folder) / "checkpoint.pt", map_location="cpu", weights_only=True)["metrics"]
    plot_curves(runs, f"{args.out}_meta.png",
                title=f"{ckpt['task']['id']}: meta-training on the pretrained encoder (validation: training classes)",
                metrics=("accuracy",), reference=reference)
    numbers = {"task": ckpt["task"], "train": ckpt["train"], "step": ckpt["step"],
               "pretrain": {k: pre.get(k) for k in ("n_classes", "steps", "elapsed_s", "feature_scale")}
               | {"final": pre["records"][-1]},
               "meta": {"elapsed_s": round(ckpt["elapsed_s"], 1), "final": meta[-1],
                        "best_val_accuracy": max(r["val"]["accuracy"] for r in meta)},
               "parameters": ckpt["summary"]["parameters"], "evaluation": scores}
    write_atomic(f"{args.out}.json", (json.dumps(numbers, indent=2) + "\n").encode(), overwrite=True)
    print(json.dumps({k: numbers[k] for k in ("pretrain", "meta", "evaluation")}, indent=2))


if __name__ == "__main__":
    main()
