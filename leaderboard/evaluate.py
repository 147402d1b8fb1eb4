"""Evaluation: play every task of a suite with each agent on the native vector env and build a result document.

All eval episodes of a task run in one ``gym.make_vec(env_id, num_envs=episodes, **kwargs)`` reset with the
task's eval seed; the loop is over time steps only. The no-memory and oracle references are computed on the
same episodes straight from the task (``task.no_memory_actions`` / ``task.oracle_actions``, scored with
``task.episode_metrics``) and stored per episode, so every normalized score can be recomputed from the file.
Nothing is written here: the caller writes the finished document atomically (``results.write_result``), so an
interrupted evaluation leaves no file.
"""

from __future__ import annotations

import functools
import platform
import textwrap
import time
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np

from .protocol import AgentMetadata, TaskContext, agent_sizes
from .suite import Suite, SuiteTask

#: Significant digits of the per-episode metrics stored in result files (float32 actions: 7 is all there is).
DIGITS = 7
FORMAT = "plastic-gym-result"
SCHEMA_VERSION = 1

_ORACLE_CACHE: dict[tuple, np.ndarray] = {}


def oracle_actions(task, episodes) -> np.ndarray:
    """``task.oracle_actions(episodes)``, cached per (task config, episode keys): the regression-MLP oracle fits a
    model per episode, and the reference and the oracle agent need the same actions."""
    key = (type(task).__name__, repr(sorted(task.kwargs.items())), episodes.keys.tobytes())
    if key not in _ORACLE_CACHE:
        if len(_ORACLE_CACHE) >= 4:
            _ORACLE_CACHE.pop(next(iter(_ORACLE_CACHE)))
        _ORACLE_CACHE[key] = np.asarray(task.oracle_actions(episodes))
    return _ORACLE_CACHE[key]


def rounded(values: np.ndarray) -> list[float]:
    """Per-episode values as JSON floats with ``DIGITS`` significant digits."""
    return [float(f"{v:.{DIGITS}g}") for v in np.asarray(values, np.float64)]


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("plastic-gym", "numpy", "scipy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def make_env(task: SuiteTask, episodes: int, runtime_kwargs: dict[str, Any] | None = None):
    """The vector env of a suite task with ``episodes`` envs, reset to its eval episodes."""
    import gymnasium as gym

    import plastic_gym  # noqa: F401  (registers the ids)

    env = gym.make_vec(task.env_id, num_envs=episodes, **task.kwargs, **(runtime_kwargs or {}).get(task.env_id, {}))
    obs, _ = env.reset(seed=task.seed)
    return env, obs


#: Seed of the random numbers of the interactive tasks' no-memory reference (a random policy): fixed, so that a
#: result file's references can be replayed exactly, and shared with the ``no-memory`` agent, which therefore plays
#: the same actions and scores exactly 0.
REFERENCE_POLICY_SEED = 0


def is_interactive(task) -> bool:
    """Whether ``task`` is an interactive (meta-RL) task (SPEC section 6), played by policies rather than read from
    pre-generated episodes."""
    return getattr(task, "kind", None) == "interactive"


def reference_metrics(task, env) -> dict[str, np.ndarray]:
    """Per-episode primary metric of the no-memory and oracle references on the episodes ``env`` was reset to.

    Suite-v0 tasks: the references' actions are computed from the episodes (``task.no_memory_actions``,
    ``task.oracle_actions``). Interactive tasks: the task's ``"no_memory"`` and ``"oracle"`` reference policies play
    the same episode keys (``rollout``), the random policy with ``REFERENCE_POLICY_SEED``.
    """
    m = task.primary_metric
    if is_interactive(task):
        from plastic_gym.core.interactive import rollout

        keys = env.state["keys"]
        return {name: rollout(task, task.references[name](task), keys, REFERENCE_POLICY_SEED)[m]
                for name in ("no_memory", "oracle")}
    episodes = env.episodes
    return {"no_memory": task.episode_metrics(task.no_memory_actions(episodes), episodes)[m],
            "oracle": task.episode_metrics(oracle_actions(task, episodes), episodes)[m]}


def play(agent, env, obs, progress=None, on_step=None) -> dict[str, np.ndarray]:
    """Play the env's current episodes to the end with ``agent``; returns the per-episode metrics.

    The agent sees observations only; ``info`` (targets, metrics) is read here, by the evaluator, and handed with
    the step's actions to ``on_step(actions, info)`` after every step if given (the diagnostics' per-step curves).
    """
    n = env.num_envs
    state = agent.reset(n)
    episode_start = np.ones(n, dtype=bool)
    length = env.task.episode_length
    info: dict[str, Any] = {}
    for _ in range(length):
        actions, state = agent.act(obs, state, episode_start)
        obs, _, terminated, _, info = env.step(actions)
        episode_start = np.zeros(n, dtype=bool)
        if on_step is not None:
            on_step(actions, info)
        if progress is not None:
            progress.update(1)
    if "episode_metrics" not in info or not terminated.all():
        raise RuntimeError("the episodes did not end after episode_length steps")
    return {k: np.asarray(v, np.float64) for k, v in info["episode_metrics"].items()}


class AgentsFailed(RuntimeError):
    """Some agents raised (or exited) while playing; ``doc`` is the result document of the agents that finished every
    task (None if none did) and ``failures`` maps each failed agent's name to what went wrong and where."""

    def __init__(self, doc: dict[str, Any] | None, failures: dict[str, str]):
        self.doc, self.failures = doc, failures
        super().__init__("; ".join(f"agent {name!r} failed: {why}" for name, why in failures.items()))


def evaluate(factories: Iterable[Any], suite: Suite, episodes: int | None = None, seed: int = 0,
             progress: bool = True, runtime_kwargs: dict[str, Any] | None = None,
             diagnostics: bool = False) -> dict[str, Any]:
    """Evaluate agent factories on ``suite``; returns the result document (see ``schema.json``).

    ``episodes`` overrides every task's eval episode count (the first ``episodes`` of the suite's episodes);
    ``seed`` seeds the agents' own randomness (e.g. the random agent); ``runtime_kwargs`` maps an env id to
    kwargs that do not change the task (e.g. ``{"PlasticOmniglot-v0": {"root": PATH}}``) and are not recorded.

    An agent that raises (or calls ``exit``) while building or playing a task is dropped and the others play on;
    at the end ``AgentsFailed`` carries the document of the agents that finished, so that no finished run is lost.

    ``diagnostics``: also compute the within-episode diagnostics of every agent (``diagnostics.py``: memory span,
    plasticity ablation, bandit regret curves, on fixed episodes of the suite) into ``agents[i].diagnostics``.
    """
    from tqdm.auto import tqdm

    from plastic_gym import make_task

    from . import scoring

    factories = list(factories)
    names = [f.metadata.name for f in factories]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique in one evaluation, got {names}")
    if episodes is not None and (not isinstance(episodes, int) or episodes < 2):  # the bootstrap needs two
        raise ValueError(f"episodes must be an int >= 2, got {episodes!r}")
    started = time.time()
    counts = {t.name: episodes or t.episodes for t in suite.tasks}
    runs: list[dict[str, Any]] = [{} for _ in factories]
    failures: dict[str, str] = {}
    sizes: list[list[dict]] = [[] for _ in factories]  # what each factory's agents report of their size
    task_entries = []
    extra = runtime_kwargs or {}
    lengths = {t.name: make_task(t.env_id, **t.kwargs, **extra.get(t.env_id, {})).episode_length for t in suite.tasks}
    total = sum(lengths.values()) * len(factories)
    with tqdm(total=total, desc="evaluate", unit="step", disable=not progress, leave=False) as bar:
        for t in suite.tasks:
            n = counts[t.name]
            bar.set_postfix_str(t.name)
            env, obs0 = make_env(t, n, runtime_kwargs)
            task = env.task
            refs = reference_metrics(task, env)
            task_entries.append({
                "name": t.name, "env_id": t.env_id, "kwargs": t.kwargs, "episodes": n, "seed": t.seed,
                "primary_metric": task.primary_metric, "higher_is_better": bool(task.higher_is_better),
                "references": {k: rounded(v) for k, v in refs.items()},
            })
            for i, factory in enumerate(factories):
                if names[i] in failures:
                    bar.update(lengths[t.name])
                    continue
                if i:
                    obs0 = env.reset(seed=t.seed)[0]
                meta: AgentMetadata = factory.metadata
                context = TaskContext(t.name, t.env_id, dict(t.kwargs), task, env.single_observation_space,
                                      env.single_action_space, n, seed=seed, env=env if meta.privileged else None)
                try:
                    agent = factory.for_task(context)
                    if agent is None:  # cannot play this task: the no-memory reference plays it (normalized 0)
                        metrics, fallback = {task.primary_metric: refs["no_memory"]}, True
                        bar.update(lengths[t.name])
                    else:
                        sizes[i].append(agent_sizes(agent))  # before playing: a malformed report fails at once
                        metrics, fallback = play(agent, env, obs0, bar), False
                except SystemExit as err:  # agent code called exit(): report it, keep the others
                    failures[names[i]] = f"task {t.name}: exited during the evaluation (SystemExit({err.code!r}))"
                    continue
                except Exception as err:  # noqa: BLE001 (agent code: report it, keep the others)
                    failures[names[i]] = f"task {t.name}: {type(err).__name__}: {err}"
                    continue
                runs[i][t.name] = {
                    "primary": rounded(metrics[task.primary_metric]),
                    "means": {k: float(np.mean(v)) for k, v in metrics.items()},
                    "fallback": fallback,
                }
            env.close()
    diagnosed: dict[str, dict[str, Any]] = {}
    if diagnostics:
        from .diagnostics import diagnose

        diagnosed = diagnose([f for f in factories if f.metadata.name not in failures], suite, seed, progress,
                             runtime_kwargs, failures)
    agents = []
    for factory, run, reported in zip(factories, runs, sizes):
        if factory.metadata.name in failures:
            continue
        metadata = factory.metadata.with_sizes(reported)
        agents.append({"metadata": metadata.to_dict(), "seed": seed, "runs": [run],
                       "scores": scoring.score(task_entries, [run])})
        if factory.metadata.name in diagnosed:
            agents[-1]["diagnostics"] = diagnosed[factory.metadata.name]
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": round(time.time() - started, 3),
        "versions": package_versions(),
        "bootstrap": scoring.bootstrap_method(),
        "tasks": task_entries,
        "agents": agents,
    }
    if failures:
        raise AgentsFailed(doc if agents else None, failures)
    return doc


def table(doc: dict[str, Any], width: int = 120) -> str:
    """Plain-text tables of a result document, agents as rows and tasks as columns, at most ``width`` characters wide.

    First the normalized scores (0 = no memory, 1 = oracle) with the IQM, its 95% interval and the mean over tasks,
    ranked agents by IQM and then the unranked rows (privileged agents such as the oracle, classical references);
    then the raw primary metric of each task, with its name and direction (lower or higher is better) and the
    no-memory and oracle references as the last rows. Task columns that do not fit beside the agent column continue
    in further blocks, each repeating the agent column; names too long for a column are cut.
    """
    if width < 60:
        raise ValueError(f"table width must be at least 60 characters, got {width}")
    tasks = doc["tasks"]
    agents = sorted(doc["agents"], key=lambda a: (bool(_unranked(a)), -a["scores"]["iqm"]["value"]))
    ranked = sum(not _unranked(a) for a in agents)
    names = [_MARKS[_unranked(a)] + a["metadata"]["name"] for a in agents]
    key = _Column(["agent"], names, "<")
    iqm, mean = ([a["scores"][k] for a in agents] for k in ("iqm", "mean"))
    aggregates = [_Column(["IQM"], [f"{s['value']:+.3f}" for s in iqm]),
                  _Column(["95% CI"], [f"[{s['interval'][0]:+.2f}, {s['interval'][1]:+.2f}]" for s in iqm]),
                  _Column(["mean"], [f"{s['value']:+.3f}" for s in mean])]
    norm_cols, raw_cols = [], []
    for t in tasks:
        name = t["name"]
        fallback = ["*" if any(run[name].get("fallback") for run in a["runs"]) else "" for a in agents]
        norm_cols.append(_Column(_wrap(name, "-"), [f"{a['scores']['tasks'][name]['normalized']:+.3f}{fb}"
                                                     for a, fb in zip(agents, fallback)]))
        refs = [float(np.mean(t["references"][k])) for k in ("no_memory", "oracle")]
        raw_cols.append(_Column(_wrap(name, "-") + _wrap(t["primary_metric"], "_")
                                + ["(higher)" if t["higher_is_better"] else "(lower)"],
                                [f"{a['scores']['tasks'][name]['score']:.4g}{fb}" for a, fb in zip(agents, fallback)]
                                + [f"{v:.4g}" for v in refs]))
    raw_key = _Column(["agent"], names + ["(no-memory reference)", "(oracle reference)"], "<")
    legend = ["cells: * = the agent cannot play the task (no-memory fallback)"]
    kinds = sorted({_unranked(a) for a in agents} - {False})
    if kinds:
        legend.append("unranked rows: " + "; ".join(f"{_MARKS[k].strip()} = {_KINDS[k]}" for k in kinds))
    fill = functools.partial(textwrap.fill, width=width, subsequent_indent="  ")
    lines = [fill("normalized score (0 = no memory, 1 = oracle; higher is better), ranked by IQM:"), ""]
    lines += _grid(key, aggregates, norm_cols, width, rules={ranked} - {0, len(agents)})
    lines += ["", fill("raw primary metric on the same episodes:"), ""]
    lines += _grid(raw_key, [], raw_cols, width, rules={ranked, len(agents)} - {0})
    return "\n".join(lines + [""] + [fill(line) for line in legend])


#: Name prefixes of the rows: none for ranked agents, "! " for privileged agents, "~ " for classical references.
_MARKS = {False: "", "privileged": "! ", "reference": "~ "}
_KINDS = {"privileged": "privileged (reads what an agent cannot see)", "reference": "classical reference"}


def _unranked(agent: dict[str, Any]) -> str | bool:
    """``"privileged"``, ``"reference"`` (an unranked classical reference) or False (a ranked agent)."""
    meta = agent["metadata"]
    return "privileged" if meta.get("privileged") else "reference" if meta.get("reference") else False


class _Column:
    """A table column: header lines, one cell per row, alignment ("<" left, ">" right)."""

    def __init__(self, header: list[str], cells: list[str], align: str = ">"):
        self.header, self.cells, self.align = header, cells, align

    @property
    def width(self) -> int:
        return max(len(x) for x in [*self.header, *self.cells])

    def clipped(self, width: int) -> _Column:
        """This column with every line cut to ``width`` characters (the cut marked by "~")."""
        cut = [x if len(x) <= width else x[: width - 1] + "~" for x in [*self.header, *self.cells]]
        return _Column(cut[: len(self.header)], cut[len(self.header):], self.align)


def _wrap(name: str, sep: str, width: int = 11) -> list[str]:
    """A header name as lines of at most ``width`` characters where it can be, broken after ``sep``."""
    parts = [p + sep for p in name.split(sep)[:-1]] + [name.split(sep)[-1]]
    lines = [""]
    for p in parts:
        if lines[-1] and len(lines[-1]) + len(p) > width:
            lines.append("")
        lines[-1] += p
    return lines


def _grid(key: _Column, first: list[_Column], cols: list[_Column], width: int, gap: int = 2,
          rules: set[int] = frozenset()) -> list[str]:
    """``key`` and ``first`` beside ``cols``, in as few blocks of at most ``width`` characters as fit (the columns
    shared out evenly between blocks; every block repeats ``key``), with a rule line before each row in ``rules``."""
    def span(block: list[_Column]) -> int:
        return sum(c.width for c in block) + gap * (len(block) - 1)

    # the key leaves room for the aggregates, and for the widest column beside it
    room = width - gap - max([span(first), *(c.width for c in cols)])
    key = key.clipped(max(8, min(key.width, room)))
    cols = [c.clipped(width - key.width - gap) for c in cols]

    def split(cols: list[_Column], lead: list[_Column]) -> list[list[_Column]] | None:
        """The fewest even blocks of ``cols`` that fit, ``lead`` beside the first; None if none does."""
        for n in range(1, max(len(cols), 1) + 1):
            size = max(-(-len(cols) // n), 1)
            groups = [cols[i: i + size] for i in range(0, len(cols), size)] or [[]]
            blocks = [[key, *lead, *groups[0]]] + [[key, *g] for g in groups[1:]]
            if all(span(b) <= width for b in blocks):
                return blocks
        return None

    # the task columns beside the aggregates; else the aggregates in a block of their own (clipped to the width)
    blocks = split(cols, first) or [[key, *first]] + (split(cols, []) or [[key, c] for c in cols])
    lines: list[str] = []
    for b in blocks:
        if lines:
            lines.append("")
        depth = max(len(c.header) for c in b)
        pad = " " * gap
        for i in range(depth):
            lines.append(pad.join(f"{([''] * (depth - len(c.header)) + c.header)[i]:{c.align}{c.width}}"
                                  for c in b).rstrip())
        rule = "-" * span(b)
        lines.append(rule)
        for r in range(len(key.cells)):
            if r in rules:
                lines.append(rule)
            lines.append(pad.join(f"{c.cells[r]:{c.align}{c.width}}" for c in b).rstrip())
    return lines
