"""Normalized scores and their aggregates (SPEC section 5).

Per task, with the primary metric of the agent (s), of the no-memory reference (n) and of the oracle (o) on
the SAME evaluation episodes (the references are played at evaluation time and stored per episode in the
result file)::

    normalized = (mean(s) - mean(n)) / (mean(o) - mean(n))        0 = no memory, 1 = oracle

(for lower-is-better metrics both differences are negative; the formula is the same). Over tasks and runs:
the interquartile mean ``scipy.stats.trim_mean(x, 0.25)`` and the mean of the normalized scores x[task, run].

Intervals: a stratified percentile bootstrap with ``scipy.stats.bootstrap``. Each task is one stratum (one
sample of the bootstrap): its episodes are resampled with replacement, jointly for the agent's runs and the two
references (the same episode indices, since they are paired), independently of the other tasks. The
no-memory agent therefore scores exactly 0 and the oracle exactly 1 in every resample.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

CONFIDENCE_LEVEL = 0.95
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_BATCH = 250


def bootstrap_method() -> dict[str, Any]:
    """How intervals are computed, as stored in result files (``bootstrap``)."""
    import scipy

    return {
        "method": (f"scipy.stats.bootstrap(method='percentile', n_resamples={N_RESAMPLES}, "
                   f"confidence_level={CONFIDENCE_LEVEL}, rng={BOOTSTRAP_SEED}, batch={_BATCH}, vectorized=True); "
                   "stratified by task: episodes resampled with replacement within each task, jointly for the "
                   "agent's runs and the no-memory and oracle references (paired); IQM = "
                   "scipy.stats.trim_mean(x, 0.25) over the normalized scores x[task, run]"),
        "n_resamples": N_RESAMPLES,
        "confidence_level": CONFIDENCE_LEVEL,
        "seed": BOOTSTRAP_SEED,
        "scipy": scipy.__version__,
    }


def _normalized(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    """Normalized scores of the runs from one task's stacked data ``[2 + R, ..., N]`` (rows: no-memory, oracle,
    runs); returns ``[R, ...]``."""
    means = np.mean(sample, axis=axis)
    nm, orc = means[0], means[1]
    return (means[2:] - nm) / (orc - nm)


def _stack(refs: dict[str, np.ndarray], runs: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(refs["no_memory"], np.float64), np.asarray(refs["oracle"], np.float64),
                     *[np.asarray(r, np.float64) for r in runs]])


def _iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    from scipy.stats import trim_mean

    return trim_mean(x, 0.25, axis=axis)


def _interval(data: tuple[np.ndarray, ...], statistic) -> list[float]:
    from scipy.stats import bootstrap

    with warnings.catch_warnings():  # constant data (no-memory, oracle) gives a degenerate but correct interval
        warnings.simplefilter("ignore")
        res = bootstrap(data, statistic, axis=-1, vectorized=True, paired=False, n_resamples=N_RESAMPLES,
                        confidence_level=CONFIDENCE_LEVEL, method="percentile", rng=BOOTSTRAP_SEED, batch=_BATCH)
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def score(tasks: list[dict[str, Any]], runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """All scores of one agent from per-episode data.

    ``tasks``: the result file's task entries (``name``, ``references`` {no_memory, oracle: [N]}); ``runs``: a
    list of ``{task name: {"primary": [N], ...}}``. Returns ``{"tasks": {name: {"score", "normalized",
    "interval"}}, "iqm": {"value", "interval"}, "mean": {"value", "interval"}}``: ``score`` is the raw primary
    metric averaged over runs and episodes, ``normalized`` the mean over runs, intervals are 95% bootstrap.
    """
    if not runs:
        raise ValueError("an agent needs at least one run")
    samples = []
    out: dict[str, Any] = {"tasks": {}}
    for t in tasks:
        sample = _stack(t["references"], [run[t["name"]]["primary"] for run in runs])
        samples.append(sample)
        norm = _normalized(sample)
        task_stat = lambda s, axis=-1: np.mean(_normalized(s, axis), axis=0)  # noqa: E731
        out["tasks"][t["name"]] = {
            "score": float(np.mean(sample[2:])),
            "normalized": float(np.mean(norm)),
            "interval": _interval((sample,), task_stat),
        }
    points = np.concatenate([_normalized(s) for s in samples])  # [tasks * runs]
    for name, reduce in (("iqm", _iqm), ("mean", np.mean)):
        def stat(*resampled, axis=-1, reduce=reduce):
            return reduce(np.concatenate([_normalized(s, axis) for s in resampled], axis=0), axis=0)

        out[name] = {"value": float(reduce(points, axis=0)), "interval": _interval(tuple(samples), stat)}
    return out


def paired_difference(task: dict[str, Any], a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Agent A against agent B on one task's SAME episodes: ``task`` is the result file's task entry
    (``references``, ``higher_is_better``), ``a`` and ``b`` the two agents' per-episode primary metric [N].

    Returns ``{"difference", "interval", "a_better"}``: the difference of the normalized scores, A's minus B's
    (positive: A is better, whichever way the metric goes), its 95% bootstrap interval with the episodes resampled
    jointly for both agents and the references, and the share of episodes on which A's metric is better than B's.
    """
    refs = task["references"]
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.shape != np.shape(refs["no_memory"]):
        raise ValueError(f"paired agents need the same episodes: got {a.shape}, {b.shape} and references "
                         f"{np.shape(refs['no_memory'])}")
    sample = _stack(refs, [a, b])

    def stat(s, axis=-1):
        norm = _normalized(s, axis)
        return norm[0] - norm[1]

    return {"difference": float(stat(sample)), "interval": _interval((sample,), stat),
            "a_better": float(np.mean(a > b if task["higher_is_better"] else a < b))}


def compare_scores(expected: Any, found: Any, where: str, interval_tol: float = 1e-9) -> list[str]:
    """Differences between recomputed (``expected``) and stored (``found``) scores, as ``field <path>: ...`` messages.

    Point values must agree to 1e-9 (relative); intervals to ``interval_tol`` (absolute), which the caller loosens
    when the file was made with another scipy (whose bootstrap may draw other resamples).
    """
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            return [f"field {where}: expected an object, found {found!r}"]
        extra = sorted(set(found) - set(expected))
        problems = [f"field {where}: unexpected field(s) {extra}"] if extra else []
        for key in expected:
            if key not in found:
                problems.append(f"field {where}/{key}: missing")
            else:
                problems += compare_scores(expected[key], found[key], f"{where}/{key}", interval_tol)
        return problems
    if isinstance(expected, list):
        ok = isinstance(found, list) and len(found) == len(expected) and all(
            isinstance(f, (int, float)) and np.isclose(e, f, rtol=0, atol=interval_tol)
            for e, f in zip(expected, found, strict=True))
    else:
        ok = isinstance(found, (int, float)) and bool(np.isclose(expected, found, rtol=1e-9, atol=1e-12))
    return [] if ok else [f"field {where}: expected {expected!r} (recomputed from the per-episode data), "
                          f"found {found!r}"]
