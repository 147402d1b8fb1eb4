"""The official 20-way one-shot runs of Lake, Salakhutdinov & Tenenbaum (2015), played by any leaderboard agent.

``python/one-shot-classification/all_runs.zip`` of https://github.com/brendenlake/omniglot (MIT), as the zip or its
extracted folder, holds 20 runs ``runNN/``, each with ``training/classJJ.png`` (one drawing of each of 20
characters of one alphabet), ``test/itemKK.png`` (20 other drawings of the same characters, by other people) and
``class_labels.txt``, whose lines ``runNN/test/itemKK.png runNN/training/classJJ.png`` give each query's class.

Each run is one 20-way 1-shot episode in the layout of ``PlasticOneShot-v0`` with ``n_way=20, n_shot=1,
n_query=20``: 20 support steps show the training images with their one-hot labels, then the 20 test items are
queried with a zero label. The label of each class and the order of the support steps are a fixed random
permutation per run (``seed``), as the task's episodes are random permutations; the queries keep the file order.
The score is the accuracy over the 400 queries (published: people about 0.95, Bayesian program learning about
0.97, Koch et al.'s siamese network about 0.92).

    plastic-gym evaluate --agent prototype:runs/x/checkpoint.pt --omniglot-runs all_runs.zip
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from plastic_gym.core.task import QUERY, STUDY, Episodes
from plastic_gym.tasks import omniglot
from plastic_gym.tasks.oneshot import OneShotTask

from .protocol import TaskContext

__all__ = ["N_WAY", "OfficialRuns", "play_runs", "read_runs", "runs_episodes"]

N_WAY = 20
_LINE = re.compile(r"(run\d+)/test/item(\d+)\.png\s+(run\d+)/training/class(\d+)\.png")
EXPECTED = ("20 folders runNN, each with training/classJJ.png, test/itemKK.png and class_labels.txt (lines "
            "'runNN/test/itemKK.png runNN/training/classJJ.png'), as in all_runs.zip of brendenlake/omniglot")


@dataclass(frozen=True)
class OfficialRuns:
    """The runs as arrays: ``support[r, j]`` is ``training/class{j+1}.png`` of run r, ``queries[r, k]`` is
    ``test/item{k+1}.png``, whose class is ``answers[r, k]`` (0-based). Images uint8 ``[H, W]``, ink 255 on 0."""

    names: tuple[str, ...]
    support: np.ndarray  # [R, 20, H, W] uint8
    queries: np.ndarray  # [R, 20, H, W] uint8
    answers: np.ndarray  # [R, 20] int64


class _Files:
    """Reads files relative to the runs' parent folder, from a zip or a folder."""

    def __init__(self, path: Path):
        self.path = path
        self.archive = omniglot.open_zip(path) if path.is_file() else None
        if self.archive is not None:
            self.names = [n for n in self.archive.namelist() if not n.endswith("/")]
        else:
            self.names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        labels = sorted(n for n in self.names if PurePosixPath(n).name == "class_labels.txt")
        if not labels:
            raise ValueError(f"{path} holds no class_labels.txt: found {len(self.names)} file(s) "
                             f"(e.g. {', '.join(self.names[:3]) or 'none'}); expected {EXPECTED}")
        self.labels = labels

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise ValueError(f"{self.path}: {name} is missing; expected {EXPECTED}")
        return omniglot.read_member(self.archive, name if self.archive else str(self.path / name))

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()


def _image(files: _Files, base: PurePosixPath, rel: str, image_size: int, path: Path) -> np.ndarray:
    """The image ``rel`` of a run (under ``base`` in the folder or zip) as the tasks' uint8 array."""
    name = str(base / rel) if str(base) != "." else rel
    return omniglot.decode_png(files.read(name), image_size, f"{path}: {name}")


def read_runs(path: str | Path, image_size: int = 28) -> OfficialRuns:
    """Read the official runs from a zip file or a folder (see the module docstring); a ``ValueError`` says what
    was found if the layout differs."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"Omniglot runs {path} do not exist; expected all_runs.zip (or its folder) from "
                         f"{omniglot.DOWNLOAD_URL.replace('/python', '/python/one-shot-classification')}")
    files = _Files(path)
    names, support, queries, answers = [], [], [], []
    try:
        for labels_file in files.labels:
            base = PurePosixPath(labels_file).parent.parent  # the runs' parent: label lines are relative to it
            run = PurePosixPath(labels_file).parent.name
            lines = [ln.strip() for ln in files.read(labels_file).decode("utf-8", "replace").splitlines() if ln.strip()]
            pairs = []
            for i, line in enumerate(lines, 1):
                m = _LINE.fullmatch(line)
                if m is None or m.group(1) != run or m.group(3) != run:
                    raise ValueError(f"{path}: {labels_file} line {i} is {line!r}; expected "
                                     f"'{run}/test/itemKK.png {run}/training/classJJ.png'")
                pairs.append((int(m.group(2)), int(m.group(4))))
            items, classes = (sorted(p[i] for p in pairs) for i in (0, 1))
            if items != list(range(1, N_WAY + 1)) or sorted(set(classes)) != list(range(1, N_WAY + 1)):
                raise ValueError(f"{path}: {labels_file} must name items 01..{N_WAY} once each and classes "
                                 f"01..{N_WAY}; found items {items} and classes {sorted(set(classes))}")

            names.append(run)
            support.append([_image(files, base, f"{run}/training/class{j:02d}.png", image_size, path)
                            for j in range(1, N_WAY + 1)])
            queries.append([_image(files, base, f"{run}/test/item{k:02d}.png", image_size, path)
                            for k in range(1, N_WAY + 1)])
            answers.append([c - 1 for _, c in sorted(pairs)])
    finally:
        files.close()
    return OfficialRuns(tuple(names), np.asarray(support, np.uint8), np.asarray(queries, np.uint8),
                        np.asarray(answers, np.int64))


def runs_task(image_size: int = 28) -> OneShotTask:
    """The task whose spaces and metric the runs use: 20-way 1-shot, 20 queries."""
    return OneShotTask(n_way=N_WAY, n_shot=1, n_query=N_WAY, image_size=image_size)


def runs_episodes(runs: OfficialRuns, seed: int = 0) -> Episodes:
    """The runs as one batch of 20-way 1-shot episodes (see the module docstring for labels and order)."""
    R, n = runs.answers.shape
    rng = np.random.default_rng(seed)
    label_of = np.argsort(rng.random((R, n)), axis=1)  # class j of run r gets label label_of[r, j]
    order = np.argsort(rng.random((R, n)), axis=1)  # support step s shows class order[r, s]
    rows = np.arange(R)[:, None]
    images = np.concatenate([runs.support[rows, order], runs.queries], axis=1)  # [R, 2n, H, W]
    labels = np.concatenate([label_of[rows, order], label_of[rows, runs.answers]], axis=1)  # [R, 2n]
    onehot = (labels[..., None] == np.arange(n)).astype(np.float32)
    is_query = np.arange(2 * n) >= n
    obs = {"image": images[:, :, None], "label": np.where(is_query[:, None], np.float32(0), onehot)}
    phase = np.broadcast_to(np.where(is_query, QUERY, STUDY).astype(np.int8), (R, 2 * n)).copy()
    classes = np.argsort(label_of, axis=1)  # the class behind each label
    return Episodes(obs, onehot, phase == QUERY, phase, np.arange(R, dtype=np.uint64),
                    {"label": labels, "classes": classes})


def play_runs(factory: Any, path: str | Path, image_size: int = 28, seed: int = 0) -> dict[str, Any]:
    """Play the official runs at ``path`` with an agent factory (``load_agent(spec)``); returns ``accuracy`` (over
    all queries), ``per_run`` accuracies, ``runs`` and the agent's ``name``."""
    runs = read_runs(path, image_size)
    task, episodes = runs_task(image_size), runs_episodes(runs, seed)
    R = episodes.batch_size
    context = TaskContext("omniglot-runs", "PlasticOmniglot-v0", {"n_way": N_WAY, "n_shot": 1, "n_query": N_WAY},
                          task, task.observation_space, task.action_space, R, seed=seed)
    agent = factory.for_task(context)
    name = factory.metadata.name
    if agent is None:
        raise ValueError(f"agent {name!r} cannot play 20-way 1-shot episodes (observation space "
                         f"{task.observation_space}); a model trained on 5-way episodes has a 5-wide label input")
    state, actions = agent.reset(R), []
    for t in range(episodes.length):
        act, state = agent.act(episodes.obs_at(t), state, np.full(R, t == 0))
        actions.append(task.validate_actions(act, R))
    accuracy = task.episode_metrics(np.stack(actions, 1), episodes)["accuracy"]
    return {"name": name, "runs": R, "accuracy": float(accuracy.mean()), "per_run": accuracy.tolist()}


def evaluate_command(specs: list[str] | None, path: Path, seed: int = 0, out: Path | None = None,
                     force: bool = False) -> int:
    """``plastic-gym evaluate --agent SPEC ... --omniglot-runs PATH``: print each agent's accuracy on the runs and,
    with ``out``, write them as JSON (atomically; an existing file only with ``force``)."""
    import json
    import sys

    from plastic_gym.io import write_atomic

    from .adapters import load_agent

    if not specs:
        print("error: --omniglot-runs needs --agent SPEC (e.g. prototype:CKPT.pt)", file=sys.stderr)
        return 2
    if out is not None and out.exists() and not force:
        print(f"error: {out} exists; refusing to overwrite it (use --force)", file=sys.stderr)
        return 2
    try:
        results = [play_runs(load_agent(spec, seed=seed), path, seed=seed) | {"source": spec} for spec in specs]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in results:
        print(f"{r['name']}: accuracy {r['accuracy']:.4f} over {r['runs']} official 20-way 1-shot runs "
              f"(chance {1 / N_WAY:.2f}; people about 0.95, BPL 0.97, siamese net 0.92)")
    if out is not None:
        doc = {"omniglot_runs": str(path), "seed": seed, "agents": results}
        write_atomic(out, (json.dumps(doc, indent=2) + "\n").encode(), overwrite=force)
        print(f"wrote {out}")
    return 0
