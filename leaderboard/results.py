"""Result files: reading, atomic writing, and validation (schema, suite hash, references, recomputed scores).

A result document (``schema.json``) holds, per task of a suite, the per-episode primary metric of the no-memory
and oracle references and of each run of each agent, and the scores derived from them. ``validate`` rejects a
document whose numbers cannot be reproduced from its own per-episode data, whose suite hash is not the suite's,
or whose references differ from those of the suite's episodes. Every problem is reported with the field, the
task and the expected vs found value.
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from plastic_gym.io import write_atomic

from .diagnostics import check as diagnostics_problems
from .episodes import make_env, reference_metrics, rounded
from .evaluate import FORMAT
from .layout import MAX_FILE_BYTES, board_name_of
from .protocol import NAME_PATTERN, valid_name
from .scoring import bootstrap_method, compare_scores, score
from .suite import Suite, load_suite

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
#: How far a file's 95% intervals may be from the recomputed ones (absolute). Fixed here, whatever the file says:
#: another scipy's bootstrap may draw other resamples. The board stores the recomputed intervals, never the file's.
INTERVAL_TOL = 0.05
#: Tolerance of a stored per-task ``means`` value of the primary metric against the mean of the per-episode values
#: (which are rounded to 7 significant digits), relative to the largest of them.
MEANS_RTOL = 1e-6


class ResultError(ValueError):
    """A result file that cannot be accepted; the message lists every problem found."""


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-+0-9.eE]*(?:,\s*-?[0-9][-+0-9.eE]*)*)\s*\]")


def dumps(doc: Any) -> str:
    """Indented JSON with every list of numbers on one line (per-episode arrays stay compact but diffable)."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def write_json_atomic(path: str | os.PathLike, doc: Any, overwrite: bool = False) -> Path:
    """Write ``doc`` as JSON atomically (``plastic_gym.io.write_atomic``); it is serialized first, so a bad value
    writes nothing. Refuses to replace an existing file unless ``overwrite``."""
    return write_atomic(path, dumps(doc).encode(), overwrite)


def parse_json(data: bytes, path: str | os.PathLike) -> Any:
    """Parse the bytes of a result or submission file: at most ``MAX_FILE_BYTES``, UTF-8, JSON with finite numbers;
    anything else is a ``ResultError`` naming the file and what was expected."""
    if len(data) > MAX_FILE_BYTES:
        raise ResultError(f"{path} is {len(data):,} bytes; a result file may have at most {MAX_FILE_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ResultError(f"{path} is not UTF-8 text (byte {err.start}: {err.reason}); expected a JSON result "
                          "file") from None

    def no_constant(name):
        raise ResultError(f"{path}: {name} is not a JSON number; every number must be finite")

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as err:
        raise ResultError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    except RecursionError:
        raise ResultError(f"{path} nests too deeply to be a result file") from None


def read_json(path: str | os.PathLike) -> Any:
    """Parse a result or submission file (``parse_json``); a missing or unreadable file is a ``ResultError``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ResultError(f"cannot read {path}: {err.strerror or err}") from None
    return parse_json(data, path)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def schema_problems(doc: Any) -> list[str]:
    """Schema violations, each as ``field <path>: <message>``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"field {where}: {err.message}")
    return problems


def _suite_problems(doc: dict[str, Any], allow_short: bool, suite: Suite | None) -> tuple[Suite | None, list[str]]:
    problems = []
    if suite is None:
        try:
            suite = load_suite(doc["suite"]["name"])
        except ValueError as err:
            return None, [f"field suite/name: {err}"]
    if doc["suite"]["name"] != suite.name:
        return suite, [f"field suite/name: expected {suite.name!r}, found {doc['suite']['name']!r}"]
    if doc["suite"]["hash"] != suite.hash:
        problems.append(f"field suite/hash: expected {suite.hash} (suite {suite.name!r} as shipped), found "
                        f"{doc['suite']['hash']}")
    if doc["suite"]["version"] != suite.version:
        problems.append(f"field suite/version: expected {suite.version}, found {doc['suite']['version']}")
    names = [t["name"] for t in doc["tasks"]]
    if names != suite.task_names:
        problems.append(f"field tasks: expected the tasks {suite.task_names} (in order), found {names}")
        return suite, problems
    for i, (t, s) in enumerate(zip(doc["tasks"], suite.tasks, strict=True)):
        for key in ("env_id", "kwargs", "seed"):
            if t[key] != getattr(s, key):
                problems.append(f"field tasks/{i}/{key} (task {s.name}): expected {getattr(s, key)!r}, "
                                f"found {t[key]!r}")
        if t["episodes"] != s.episodes and not (allow_short and t["episodes"] < s.episodes):
            problems.append(f"field tasks/{i}/episodes (task {s.name}): expected {s.episodes} (the suite's eval "
                            f"episodes), found {t['episodes']}")
        for ref in ("no_memory", "oracle"):
            if len(t["references"][ref]) != t["episodes"]:
                problems.append(f"field tasks/{i}/references/{ref} (task {s.name}): expected {t['episodes']} "
                                f"per-episode values, found {len(t['references'][ref])}")
    return suite, problems


def _reference_problems(doc: dict[str, Any], suite: Suite, runtime_kwargs: dict | None) -> list[str]:
    """Replay the references on the suite's episodes and compare them with the stored ones."""
    problems = []
    for i, (t, s) in enumerate(zip(doc["tasks"], suite.tasks, strict=True)):
        env, _ = make_env(s, t["episodes"], runtime_kwargs)
        task = env.task
        if t["primary_metric"] != task.primary_metric or t["higher_is_better"] != task.higher_is_better:
            problems.append(f"field tasks/{i}/primary_metric (task {s.name}): expected {task.primary_metric!r} "
                            f"(higher_is_better={task.higher_is_better}), found {t['primary_metric']!r} "
                            f"(higher_is_better={t['higher_is_better']})")
        refs = reference_metrics(task, env)
        env.close()
        for ref, values in refs.items():
            expected, found = np.asarray(rounded(values)), np.asarray(t["references"][ref], np.float64)
            bad = np.flatnonzero(~np.isclose(expected, found, rtol=1e-5, atol=1e-7))
            if bad.size:
                j = int(bad[0])
                problems.append(f"field tasks/{i}/references/{ref} (task {s.name}): {bad.size} episode(s) differ from "
                                f"the suite's episodes, first episode {j}: expected {expected[j]!r}, "
                                f"found {found[j]!r}")
    return problems


def _flag_problems(agent: dict[str, Any], a: int, board: str) -> list[str]:
    """``privileged``/``reference`` must be what the board's trusted list says for this name (False if unlisted)."""
    from .trusted import trusted_entry

    meta, entry = agent["metadata"], trusted_entry(board, agent["metadata"]["name"])
    problems = []
    for flag in ("privileged", "reference"):
        expected = bool(entry and getattr(entry, flag))
        if bool(meta.get(flag, False)) != expected:
            problems.append(f"field agents/{a}/metadata/{flag} (agent {meta['name']!r}): expected {expected} "
                            f"(decided by the trusted list of board {board!r}, not by the file), "
                            f"found {meta.get(flag)!r}")
    return problems


#: Trusted sources whose rows are the references themselves: their per-episode values must be the references'.
_REFERENCE_ROWS = {"no-memory": "no_memory", "oracle": "oracle"}


def _reference_row_problems(agent: dict[str, Any], a: int, tasks: list[dict[str, Any]], board: str) -> list[str]:
    """A row that the trusted list names as the no-memory or oracle reference must hold exactly the references'
    per-episode values (replayed from the suite): nobody can put other numbers under those names."""
    from .trusted import trusted_entry

    entry = trusted_entry(board, agent["metadata"]["name"])
    ref = _REFERENCE_ROWS.get(entry.source) if entry else None
    if ref is None:
        return []
    return [f"field agents/{a}/runs/{r}/{t['name']}/primary (agent {entry.name!r}): the trusted {entry.source} "
            f"reference's row must hold the suite's {ref} reference values, found others"
            for r, run in enumerate(agent["runs"]) for t in tasks
            if not np.allclose(run[t["name"]]["primary"], t["references"][ref], rtol=1e-7, atol=0)]


def _run_problems(agent: dict[str, Any], a: int, tasks: list[dict[str, Any]]) -> list[str]:
    """Per run and task: the stored mean of the primary metric, the fallback flag (a fallback plays the no-memory
    reference, so its values are that reference's) and, for a ranked agent (neither privileged nor a trusted
    reference; the flags are checked against the trusted list first), values copied from the privileged oracle
    (identical per episode where the oracle's values vary: no agent that does not read the episode reproduces
    them)."""
    problems, who = [], f"agent {agent['metadata']['name']!r}"
    for r, run in enumerate(agent["runs"]):
        for t in tasks:
            entry, where = run[t["name"]], f"field agents/{a}/runs/{r}/{t['name']}"
            values = np.asarray(entry["primary"], np.float64)
            mean = entry["means"].get(t["primary_metric"])
            scale = max(float(np.max(np.abs(values))), 1e-12)  # values of mixed sign may average to about 0
            if mean is None or not abs(mean - values.mean()) <= MEANS_RTOL * scale:
                problems.append(f"{where}/means/{t['primary_metric']} ({who}): expected {values.mean()!r} (the mean of "
                                f"the per-episode values), found {mean!r}")
            no_memory, oracle = (np.asarray(t["references"][k], np.float64) for k in ("no_memory", "oracle"))
            if entry["fallback"] and not np.array_equal(values, no_memory):
                problems.append(f"{where}/fallback ({who}): a fallback task holds the no-memory reference's values, "
                                "but the per-episode values differ from them")
            ranked = not (agent["metadata"]["privileged"] or agent["metadata"].get("reference"))
            if ranked and np.ptp(oracle) > 0 and np.allclose(values, oracle, rtol=1e-7, atol=0):
                problems.append(f"{where}/primary ({who}): the per-episode values are those of the privileged oracle; "
                                "a non-privileged agent cannot reproduce them")
    return problems


def _agent_problems(doc: dict[str, Any], board: str) -> list[str]:
    problems = []
    names = [a["metadata"]["name"] for a in doc["agents"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"field agents: duplicate agent name(s) {dup}")
    expected_method = bootstrap_method()
    for key in ("method", "n_resamples", "confidence_level", "seed"):
        if doc["bootstrap"][key] != expected_method[key]:
            problems.append(f"field bootstrap/{key}: expected {expected_method[key]!r}, "
                            f"found {doc['bootstrap'][key]!r}")
    tasks = doc["tasks"]
    task_names = [t["name"] for t in tasks]
    for a, agent in enumerate(doc["agents"]):
        who = f"agent {agent['metadata']['name']!r}"
        if not valid_name(agent["metadata"]["name"]):
            problems.append(f"field agents/{a}/metadata/name: expected a name matching {NAME_PATTERN}, found "
                            f"{agent['metadata']['name']!r}")
        problems += _flag_problems(agent, a, board)
        shape_ok = True
        for r, run in enumerate(agent["runs"]):
            if sorted(run) != sorted(task_names):
                problems.append(f"field agents/{a}/runs/{r} ({who}): expected the tasks {task_names}, "
                                f"found {sorted(run)}")
                shape_ok = False
                continue
            for t in tasks:
                n = len(run[t["name"]]["primary"])
                if n != t["episodes"]:
                    problems.append(f"field agents/{a}/runs/{r}/{t['name']}/primary ({who}, task {t['name']}): "
                                    f"expected {t['episodes']} per-episode values, found {n}")
                    shape_ok = False
        if not shape_ok:
            continue
        problems += _run_problems(agent, a, tasks) + _reference_row_problems(agent, a, tasks, board)
        if "diagnostics" in agent:  # optional: each derived number recomputed from the stored means
            problems += [f"{p} ({who})" for p in diagnostics_problems(agent["diagnostics"], f"agents/{a}/diagnostics")]
        expected = score(tasks, agent["runs"])
        problems += [f"{p} ({who})"
                     for p in compare_scores(expected, agent["scores"], f"agents/{a}/scores", INTERVAL_TOL)]
    return problems


def canonical(doc: dict[str, Any]) -> dict[str, Any]:
    """A validated document as a board stores it: every agent's scores recomputed from the per-episode data (the
    file's own values agreed within the tolerances, but are never the ones shown)."""
    doc = copy.deepcopy(doc)
    for agent in doc["agents"]:
        agent["scores"] = score(doc["tasks"], agent["runs"])
    return doc


def validate(doc: Any, allow_short: bool = False, check_references: bool = True,
             runtime_kwargs: dict[str, Any] | None = None, suite: Suite | None = None) -> Suite:
    """Check a result document; raise ``ResultError`` listing every problem, else return its suite.

    Checks, in order: the JSON schema (bounded plain-text fields, leaderboard names, no unknown keys); the suite
    (known name, hash, tasks, kwargs, seeds and episode counts; fewer episodes only with ``allow_short``); the
    references, replayed on the suite's episodes (``check_references``); per agent: its ``privileged`` and
    ``reference`` flags against the board's trusted list, each run's primary means and fallback flags against its
    per-episode values, no copy of the oracle's values, its scores recomputed from the per-episode data
    (intervals within ``INTERVAL_TOL``), and the derived numbers of its optional ``diagnostics``. ``suite``: the
    suite to check against (default: the shipped suite the document names).
    """
    problems = schema_problems(doc)
    if problems:
        raise ResultError("invalid result file:\n  " + "\n  ".join(problems))
    if doc["format"] != FORMAT:
        raise ResultError(f"field format: expected {FORMAT!r}, found {doc['format']!r}")
    suite, problems = _suite_problems(doc, allow_short, suite)
    if not problems and check_references:
        problems += _reference_problems(doc, suite, runtime_kwargs)
    if not problems:
        problems += _agent_problems(doc, board_name_of(suite.name, suite.hash))
    if problems:
        raise ResultError("invalid result file:\n  " + "\n  ".join(problems))
    return suite


def split_agents(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One document per agent (the submission files): the same document with ``agents`` of length 1."""
    out = []
    for agent in doc["agents"]:
        single = copy.deepcopy({k: v for k, v in doc.items() if k != "agents"})
        single["agents"] = [copy.deepcopy(agent)]
        out.append(single)
    return out
