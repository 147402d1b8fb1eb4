"""Within-episode diagnostics: how an agent uses its episode, beside the single score per task.

Computed by the evaluator (``plastic-gym evaluate --diagnostics``) for every agent that plays the task, and stored
under ``agents[i].diagnostics`` of the result file (``schema.json``). Every diagnostic plays ``EPISODES`` episodes:
the first ``EPISODES`` evaluation seeds of the suite task it derives from (``seed .. seed + EPISODES - 1`` of that
task's suite entry), so the suite fixes them and every agent plays the same ones.

- ``memory_span`` (suites with a ``PlasticCopy-v0`` task): recall error of the copy task as a function of the delay
  m in ``DELAYS``, each delay a variant of the suite's copy task (same sequences, since an episode's sequence depends
  on its seed only; the delay changes). The agent the entry plays copy with plays every delay. Per delay the score is
  normalized with that variant's no-memory and oracle references on the same episodes,
  ``x_m = (s_m - n_m) / (o_m - n_m)``; the span is the longest delay with ``x_m >= THRESHOLD`` (None if there is
  none), as bsuite's ``memory_len``.
- ``points`` (``PlasticRegression-v0`` / ``PlasticRegressionMLP-v0`` tasks): test error as a function of the number
  of training points n in ``POINTS``, each n a variant of the suite's regression task (``train_length=n``, the
  same spaces, so the agent built for the suite task plays it); per n the agent's score, both references on the same
  episodes and ``x_n = (s_n - n_n) / (o_n - n_n)``. With few points the oracle is barely better (linear) or worse
  (the MLP fit) than no memory, so the normalized score is ill-conditioned there: the error is the curve to read.
- ``ablation`` (agents whose per-task agent has ``without_plasticity()`` and is ``plastic``, e.g. a plastic
  ``CheckpointAgent`` or a ``PlasticRecurrentPolicy`` played through the SB3 adapter): each task played by the agent
  and by its ablation (eta = 0 at test time, the fast weights stay at their start values) on the same episodes;
  ``drop = x - x_ablated`` in normalized score (the task's primary metric and references) is the share of the score
  that comes from plasticity rather than from the recurrent activity. On an interactive task the seeds fix each
  episode's hidden parameters and random numbers (arm probabilities and reward draws, objects, maze); only the
  observations that follow from the agent's own actions differ.
- ``study_count`` (``PlasticAssoc-v0`` tasks): query error ``(a_t - r_{c_t})^2`` as a function of how many study
  steps showed the queried cue (0, 1, 2, 3, ``MAX_STUDY`` or more), for the agent and for the no-memory and oracle
  references on the same query steps (the oracle's error is 0 for a studied cue, and equals no-memory's for an
  unstudied one).
- ``regret`` (interactive tasks whose primary metric is ``regret``, the bandits): the mean cumulative expected regret
  after each step, ``R_t = mean_b sum_{s <= t} (p*_s - p_{a_s})``, from the per-step regret the env reports.

``check`` recomputes every derived number of a stored diagnostics object from its own data (``results.validate``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .episodes import is_interactive, make_env, oracle_actions, play, reference_metrics, rounded
from .protocol import TaskContext
from .suite import Suite, SuiteTask

#: Episodes of every diagnostic (the first EPISODES eval seeds of the suite task it derives from).
EPISODES = 128
#: Delays of the memory-span profile (copy variants).
DELAYS = (0, 10, 20, 40, 80, 160)
#: The normalized score a delay must reach to count in the memory span.
THRESHOLD = 0.5
COPY_ID = "PlasticCopy-v0"
ASSOC_ID = "PlasticAssoc-v0"
#: The last bin of the study-count diagnostic: cues studied MAX_STUDY times or more.
MAX_STUDY = 4
#: Numbers of training points of the regression profile (``train_length`` variants).
POINTS = (1, 2, 5, 10, 20)
REGRESSION_IDS = ("PlasticRegression-v0", "PlasticRegressionMLP-v0")
POINTS_METRIC = "test_mse"
#: Absolute tolerance of recomputed normalized scores and drops (the stored means have 7 significant digits).
TOL = 1e-5


def normalize(score: float, no_memory: float, oracle: float) -> float:
    """``(s - n) / (o - n)``: 0 = the no-memory reference, 1 = the oracle (either direction of the metric)."""
    return float((score - no_memory) / (oracle - no_memory)) + 0.0  # + 0.0: no -0.0 for the no-memory agent


def span(delays: list[int], normalized: list[float], threshold: float = THRESHOLD) -> int | None:
    """The longest delay whose normalized score is at least ``threshold`` (None if no delay reaches it)."""
    passing = [d for d, x in zip(delays, normalized, strict=True) if x >= threshold]
    return max(passing) if passing else None


def study_counts(task, episodes) -> np.ndarray:
    """``[B, T]``: at each query step, how many study steps showed its cue (-1 at study steps)."""
    cues, S = episodes.extras["cue"], task.study_length
    per_cue = (cues[:, :S, None] == np.arange(task.n_cues)).sum(axis=1)  # [B, n_cues]
    counts = np.take_along_axis(per_cue, cues, axis=1)
    counts[:, :S] = -1
    return counts


def error_by_count(actions: np.ndarray, episodes, counts: np.ndarray) -> list[float | None]:
    """Mean squared query error per study-count bin ``0 .. MAX_STUDY`` (the last: MAX_STUDY or more); None for an
    empty bin."""
    err = np.square(np.asarray(actions, np.float64)[..., 0] - episodes.target[..., 0])
    bins = np.where(counts < 0, -1, np.minimum(counts, MAX_STUDY))
    return [float(err[bins == k].mean()) if (bins == k).any() else None for k in range(MAX_STUDY + 1)]


def variants(suite: Suite) -> dict[str, list[tuple[SuiteTask, str, Any]]]:
    """The episodes each diagnostic plays: ``{diagnostic: [(suite task of the variant, suite task name the agent
    is built for, label)]}``; empty lists for diagnostics the suite has no task for."""
    out: dict[str, list] = {"memory_span": [], "points": [], "ablation": [], "study_count": [], "regret": []}
    copy = next((t for t in suite.tasks if t.env_id == COPY_ID), None)
    if copy is not None:
        out["memory_span"] = [(SuiteTask(f"{copy.name}-delay{d}", COPY_ID, {**copy.kwargs, "delay": d}, EPISODES,
                                         copy.seed), copy.name, d) for d in DELAYS]
    for t in suite.tasks:
        if t.env_id in REGRESSION_IDS:
            out["points"] += [(SuiteTask(f"{t.name}-points{n}", t.env_id, {**t.kwargs, "train_length": n}, EPISODES,
                                         t.seed), t.name, n) for n in POINTS]
        short = SuiteTask(t.name, t.env_id, t.kwargs, EPISODES, t.seed)
        out["ablation"].append((short, t.name, t.name))
        if t.env_id == ASSOC_ID:
            out["study_count"].append((short, t.name, t.name))
        out["regret"].append((short, t.name, t.name))
    return out


def _context(factory, built_for: str, variant: SuiteTask, task, env, seed: int) -> TaskContext:
    return TaskContext(built_for, variant.env_id, dict(variant.kwargs), task, env.single_observation_space,
                       env.single_action_space, env.num_envs, seed=seed,
                       env=env if factory.metadata.privileged else None)


def _run(agent, env, seed_of_variant: int, bar, on_step=None) -> dict[str, np.ndarray]:
    """Play the variant's episodes (``env`` reset to its seed) with ``agent``; the per-episode metrics."""
    obs = env.reset(seed=seed_of_variant)[0]
    return play(agent, env, obs, bar, on_step=on_step)


def _mean_score(agent, env, variant: SuiteTask, bar) -> float:
    return float(np.mean(_run(agent, env, variant.seed, bar)[env.task.primary_metric]))


def _ablation(agent, env, variant: SuiteTask, bar, refs) -> dict[str, float] | None:
    """The agent and its ablation (``without_plasticity()``) on the same episodes; None for a non-plastic agent."""
    ablate = getattr(agent, "without_plasticity", None)
    if not (callable(ablate) and getattr(agent, "plastic", False)):
        return None
    s, a = _mean_score(agent, env, variant, bar), _mean_score(ablate(), env, variant, bar)
    n, o = refs()["no_memory"], refs()["oracle"]
    x, xa = normalize(s, n, o), normalize(a, n, o)
    return {"score": s, "ablated_score": a, "no_memory": n, "oracle": o, "normalized": x, "ablated": xa,
            "drop": x - xa}


def _study_count(agent, env, variant: SuiteTask, bar, references: dict[str, dict]) -> dict[str, list]:
    """Query error by study count of the agent and (cached per variant in ``references``) of both references."""
    task = env.task
    obs = env.reset(seed=variant.seed)[0]
    episodes = env.episodes  # read before playing: the last step autoresets
    acts: list[np.ndarray] = []
    play(agent, env, obs, bar, on_step=lambda a, info: acts.append(np.asarray(a)))
    counts = study_counts(task, episodes)
    if variant.name not in references:
        references[variant.name] = {
            "no_memory": error_by_count(task.no_memory_actions(episodes), episodes, counts),
            "oracle": error_by_count(oracle_actions(task, episodes), episodes, counts)}
    curve, refs = error_by_count(np.stack(acts, axis=1), episodes, counts), references[variant.name]
    keep = [k for k, v in enumerate(curve) if v is not None]
    return {"counts": keep,
            "queries": [int(((counts == k) if k < MAX_STUDY else (counts >= k)).sum()) for k in keep],
            "error": [curve[k] for k in keep], "no_memory": [refs["no_memory"][k] for k in keep],
            "oracle": [refs["oracle"][k] for k in keep]}


def _regret(agent, env, variant: SuiteTask, bar, refs) -> dict[str, Any]:
    """Mean cumulative expected regret after each step, from the per-step regret in the env's info."""
    steps: list[np.ndarray] = []
    _run(agent, env, variant.seed, bar, on_step=lambda a, info: steps.append(np.asarray(info["regret"], np.float64)))
    curve = np.cumsum(np.mean(np.stack(steps), axis=1))
    return {"cumulative": rounded(curve), "no_memory": refs()["no_memory"], "oracle": refs()["oracle"]}


def _applies(kind: str, task) -> bool:
    """Whether diagnostic ``kind`` is computed on ``task`` (regret on bandits only; the others on every task their
    ``variants`` lists)."""
    if kind == "regret":
        return is_interactive(task) and task.primary_metric == "regret"
    return True


def diagnose(factories: list[Any], suite: Suite, seed: int = 0, progress: bool = True,
             runtime_kwargs: dict[str, Any] | None = None,
             failures: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The diagnostics of each agent factory on ``suite``: ``{agent name: diagnostics}`` (agents with none are left
    out). An agent that raises is added to ``failures`` (name -> what went wrong), like in ``evaluate``."""
    from tqdm.auto import tqdm

    from plastic_gym import make_task

    failures = {} if failures is None else failures
    extra = runtime_kwargs or {}
    out: dict[str, dict[str, Any]] = {}
    profiles: dict[tuple[str, str, str], list] = {}  # (kind, agent, suite task): [(variant label, score, refs)]
    study_refs: dict[str, dict[str, list]] = {}  # per assoc variant: the references' errors by study count
    with tqdm(desc="diagnostics", unit="step", disable=not progress, leave=False) as bar:
        for kind, items in variants(suite).items():
            for variant, built_for, label in items:
                if not _applies(kind, make_task(variant.env_id, **variant.kwargs, **extra.get(variant.env_id, {}))):
                    continue
                env, _ = make_env(variant, variant.episodes, runtime_kwargs)
                cache: dict[str, float] = {}  # the references, computed once the first agent needs them

                def refs(task=env.task, env=env, cache=cache, seed_of=variant.seed) -> dict[str, float]:
                    if not cache:  # on the variant's episodes: reset first (playing ends in an autoreset)
                        env.reset(seed=seed_of)
                        cache.update({k: float(np.mean(v)) for k, v in reference_metrics(task, env).items()})
                    return cache

                bar.set_postfix_str(f"{kind} {variant.name}")
                for factory in factories:
                    name = factory.metadata.name
                    if name in failures:
                        continue
                    try:
                        agent = factory.for_task(_context(factory, built_for, variant, env.task, env, seed))
                        if agent is None:
                            continue
                        if kind in ("memory_span", "points"):
                            profiles.setdefault((kind, name, built_for), []).append(
                                (label, _mean_score(agent, env, variant, bar), refs()))
                            continue
                        entry = (_ablation(agent, env, variant, bar, refs) if kind == "ablation" else
                                 _study_count(agent, env, variant, bar, study_refs) if kind == "study_count" else
                                 _regret(agent, env, variant, bar, refs))
                        if entry is not None:
                            section = out.setdefault(name, {}).setdefault(kind, {})
                            (section.setdefault("tasks", {}) if kind == "ablation" else section)[label] = entry
                    except SystemExit as err:
                        failures[name] = (f"diagnostics {kind}, task {variant.name}: exited during the evaluation "
                                          f"(SystemExit({err.code!r}))")
                    except Exception as err:  # noqa: BLE001 (agent code: report it, keep the others)
                        failures[name] = f"diagnostics {kind}, task {variant.name}: {type(err).__name__}: {err}"
                env.close()
    for (kind, name, task_name), rows in profiles.items():
        grid = [label for label, _, _ in rows]
        if grid != list(DELAYS if kind == "memory_span" else POINTS):  # the agent could not play every variant
            continue
        profile = {"score": [s for _, s, _ in rows], "no_memory": [r["no_memory"] for _, _, r in rows],
                   "oracle": [r["oracle"] for _, _, r in rows],
                   "normalized": [normalize(s, r["no_memory"], r["oracle"]) for _, s, r in rows]}
        if kind == "memory_span":
            out.setdefault(name, {})["memory_span"] = {"metric": "recall_mse", "threshold": THRESHOLD, "delays": grid,
                                                       **profile, "span": span(grid, profile["normalized"])}
        else:
            out.setdefault(name, {}).setdefault("points", {})[task_name] = {"metric": POINTS_METRIC, "points": grid,
                                                                            **profile}
    for diag in out.values():
        diag["episodes"] = EPISODES
        if "ablation" in diag:
            drops = [v["drop"] for v in diag["ablation"]["tasks"].values()]
            diag["ablation"]["mean_drop"] = float(np.mean(drops))
    return {name: diag for name, diag in out.items() if name not in failures}


def check(diag: dict[str, Any], where: str) -> list[str]:
    """Problems of a stored diagnostics object (already schema-valid): every normalized score, drop, span and mean
    recomputed from its own numbers; each as ``field <path>: expected ..., found ...``."""
    problems = []

    def close(expected: float, found: float, path: str):
        if not abs(expected - found) <= TOL * max(1.0, abs(expected)):
            problems.append(f"field {where}/{path}: expected {expected!r} (recomputed from the stored means), "
                            f"found {found!r}")

    def profile_ok(prof: dict[str, Any], key: str, grid: tuple[int, ...], metric: str, path: str) -> bool:
        """A profile over variants (delays, points): its grid, metric, lengths and recomputed normalized scores."""
        lists = ("score", "no_memory", "oracle", "normalized")
        if prof[key] != list(grid) or any(len(prof[k]) != len(grid) for k in lists) or prof["metric"] != metric:
            problems.append(f"field {where}/{path}: expected metric {metric!r}, {key} {list(grid)} and one value "
                            f"per entry in {list(lists)}")
            return False
        for i in range(len(grid)):
            close(normalize(prof["score"][i], prof["no_memory"][i], prof["oracle"][i]), prof["normalized"][i],
                  f"{path}/normalized/{i}")
        return True

    if diag.get("episodes") != EPISODES:
        problems.append(f"field {where}/episodes: expected {EPISODES}, found {diag.get('episodes')!r}")
    ms = diag.get("memory_span")
    if ms is not None and profile_ok(ms, "delays", DELAYS, "recall_mse", "memory_span"):
        if ms["threshold"] != THRESHOLD:
            problems.append(f"field {where}/memory_span/threshold: expected {THRESHOLD}, found {ms['threshold']}")
        expected = span(ms["delays"], ms["normalized"], THRESHOLD)
        if ms["span"] != expected:
            problems.append(f"field {where}/memory_span/span: expected {expected!r} (the longest delay with "
                            f"normalized >= {THRESHOLD}), found {ms['span']!r}")
    for t, v in (diag.get("points") or {}).items():
        profile_ok(v, "points", POINTS, POINTS_METRIC, f"points/{t}")
    ab = diag.get("ablation")
    if ab is not None:
        for t, v in ab["tasks"].items():
            close(normalize(v["score"], v["no_memory"], v["oracle"]), v["normalized"], f"ablation/tasks/{t}/normalized")
            close(normalize(v["ablated_score"], v["no_memory"], v["oracle"]), v["ablated"],
                  f"ablation/tasks/{t}/ablated")
            close(v["normalized"] - v["ablated"], v["drop"], f"ablation/tasks/{t}/drop")
        close(float(np.mean([v["drop"] for v in ab["tasks"].values()])), ab["mean_drop"], "ablation/mean_drop")
    for t, v in (diag.get("study_count") or {}).items():
        lists = ("queries", "error", "no_memory", "oracle")
        if any(len(v[k]) != len(v["counts"]) for k in lists) or v["counts"] != sorted(set(v["counts"])) \
                or any(not 0 <= c <= MAX_STUDY for c in v["counts"]):
            problems.append(f"field {where}/study_count/{t}: expected increasing counts in 0..{MAX_STUDY} and one "
                            f"value per count in {list(lists)}")
    for t, v in (diag.get("regret") or {}).items():
        if np.any(np.diff(v["cumulative"]) < -TOL):
            problems.append(f"field {where}/regret/{t}/cumulative: expected a non-decreasing cumulative regret")
    return problems
