"""A/B timing of variants of the fast plastic network: training steps interleaved in one process.

For work on the network (``agents/network.py``, ``sequence.py``, ``cell.py``, ``rules/``, ...): compare the working
tree with a git revision of the whole ``agents`` package,

    python benchmarks/network_ab.py HEAD worktree [--rule gradient] [--cell rnn] [--task ID] [--rounds N]

or single-file variants of ``network.py`` (``git show HEAD:agents/network.py > /tmp/old.py``):

    python benchmarks/network_ab.py /tmp/old.py agents/network.py

A variant is ``worktree`` (the installed ``plastic_gym.agents``), a path ending in ``.py`` (loaded as a module next
to ``plastic_gym.agents``, so its relative imports resolve to the installed package) or a git revision (its
``agents/`` files are extracted to a temporary package of their own, with an empty ``__init__``, and its
``PlasticConfig`` builds its network). Every variant gets the same parameters and batch, and the steps run in
turns: variant 1, variant 2, ..., repeated; on a shared machine whose speed drifts this compares far more reliably
than runs in separate processes. A training step is ``plastic_throughput.training_step`` (batch 64, hidden 128, one
thread). Prints each variant's median and min CPU seconds per step, the ratio of medians to the first variant and
the final loss (equal losses: same function).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from plastic_gym.agents.rules import RULES

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_file_variant(path: str, index: int):
    """A ``network.py`` variant as a module of the installed package: (network module, config class)."""
    importlib.import_module("plastic_gym.agents")  # the package the variant's relative imports resolve against
    spec = importlib.util.spec_from_file_location(f"plastic_gym.agents._ab_variant{index}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, None


def load_revision(revision: str, index: int, folder: pathlib.Path):
    """The ``agents`` package of a git revision as package ``_ab_rev<index>``: (network module, config class)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    package = f"_ab_rev{index}"
    for name in git("ls-tree", "-r", "--name-only", revision, "agents/").split():
        if name.endswith(".py"):
            target = folder / package / pathlib.Path(name).relative_to("agents")
            target.parent.mkdir(parents=True, exist_ok=True)
            text = "" if name == "agents/__init__.py" else git("show", f"{revision}:{name}")
            target.write_text(text)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    network = importlib.import_module(f"{package}.network")
    return network, importlib.import_module(f"{package}.config").PlasticConfig


def load_variant(spec: str, index: int, folder: pathlib.Path):
    if spec == "worktree":
        return importlib.import_module("plastic_gym.agents.network"), None
    if spec.endswith(".py"):
        return load_file_variant(spec, index)
    return load_revision(spec, index, folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", help="worktree, a git revision, or a network.py file")
    ap.add_argument("--task", default="PlasticAssoc-v0")
    ap.add_argument("--cell", default="rnn", choices=["rnn", "lstm"])
    ap.add_argument("--rule", default="gradient", choices=RULES)
    ap.add_argument("--rounds", type=int, default=12, help="timed steps per variant (after 2 warm-up rounds)")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    import torch
    from plastic_throughput import training_step

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = [load_variant(v, i, pathlib.Path(tmp)) for i, v in enumerate(args.variants)]
        runs = [training_step(module.PlasticNetwork, args.task, args.cell, args.rule, config_class=config)
                for module, config in loaded]

        times: list[list[float]] = [[] for _ in runs]
        losses = [0.0] * len(runs)
        for r in range(args.rounds + 2):
            for i, step in enumerate(runs):
                t0 = time.thread_time()
                losses[i] = step()
                if r >= 2:
                    times[i].append(time.thread_time() - t0)
    print(f"{args.task} {args.cell} {args.rule}, batch 64, hidden 128, one thread, {args.rounds} interleaved rounds")
    first = statistics.median(times[0])
    for v, t, loss in zip(args.variants, times, losses, strict=True):
        median = statistics.median(t)
        print(f"{v:<40} median {median:.4f} s  min {min(t):.4f} s  ratio {median / first:.3f}  "
              f"final loss {loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
