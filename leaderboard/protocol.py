"""The agent protocol of the leaderboard (SPEC section 5) and the metadata every evaluated agent carries.

An *agent* plays a batch of episodes of one task in lockstep::

    state = agent.reset(num_envs)
    actions, state = agent.act(obs, state, episode_start)   # once per step, obs batched over the envs

It never sees ``info`` (targets, phases, metrics): only observations. The suite has tasks with different
observation and action spaces, and a trained network usually fits one of them, so the evaluator talks to an
*agent factory* that builds the agent of each task (``for_task``), or returns ``None`` for a task it cannot
play (the evaluator then plays the no-memory reference there, which scores exactly 0 normalized, and marks the
task as a fallback in the result).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

#: Whatever an agent carries between steps (None for a memoryless agent, a tuple of arrays for an LSTM, ...).
State = Any

#: The metadata fields an agent may report about itself (``agent_sizes``).
SIZE_FIELDS = ("parameters", "state_floats")

#: Names are file names of submissions: letters, digits, ``.``, ``_``, ``-``. ``\Z`` (not ``$``, which also matches
#: before a final newline) ends the name; checked with ``re.fullmatch`` (``valid_name``).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"


def valid_name(name: Any) -> bool:
    """Whether ``name`` is a leaderboard name (``NAME_PATTERN``): a plain file name, no path, no newline."""
    return isinstance(name, str) and re.fullmatch(NAME_PATTERN, name) is not None


@runtime_checkable
class Agent(Protocol):
    """Acts on a batch of ``num_envs`` episodes of one task, all stepped in lockstep.

    Optionally an agent says how big it is on its task: a ``metadata`` attribute (a dict or an object) with
    ``parameters`` and ``state_floats`` (see ``AgentMetadata``); the evaluator reads them with ``agent_sizes``.
    """

    def reset(self, num_envs: int) -> State:
        """The initial state of ``num_envs`` episodes (called once before the first step)."""

    def act(self, obs: Any, state: State, episode_start: np.ndarray) -> tuple[np.ndarray, State]:
        """Actions ``[num_envs, *action_shape]`` for observations ``obs`` (batched), and the next state.

        ``episode_start`` (``[num_envs]`` bool) is True where ``obs`` is the first observation of an episode:
        a recurrent agent resets its memory there (the SB3 convention).
        """


@dataclass
class AgentMetadata:
    """What the leaderboard shows about an agent (stored in result files under ``agents[i].metadata``).

    Attributes:
        name: unique name on the leaderboard (``NAME_PATTERN``); the submission file is ``<name>.json``.
        parameters: number of trained parameters (None if not applicable, e.g. reference agents).
        state_floats: floats of recurrent state per env carried between steps (hidden state plus plastic
            weights F for a plastic network, the kept frames of a frame stack); 0 for a memoryless agent, None if
            unknown.
        regime: how it was trained: ``"none"``, ``"supervised-bptt"``, ``"ppo"``, ``"recurrent-ppo"``, ...
        budget: the training budget in words (e.g. ``"5000 steps x batch 64"``).
        privileged: True if it reads information an agent cannot see (the oracle reads the episodes).
        reference: True for a classical reference algorithm (e.g. Thompson sampling on a bandit): not privileged,
            but shown unranked like the oracle. On a board both flags come from the suite's trusted list
            (``trusted.py``), never from a submitted file.
        description: one line for the leaderboard.
        source: the agent spec that re-creates it (``plastic-gym evaluate --agent SOURCE``), used by ``verify``.

    An entry that plays each task with its own model (a manifest) shows the largest of its models: where
    ``parameters`` or ``state_floats`` is not given, the evaluator fills it in from what the per-task agents report
    (``with_sizes``).
    """

    name: str
    parameters: int | None = None
    state_floats: int | None = None
    regime: str = "none"
    budget: str | None = None
    privileged: bool = False
    description: str = ""
    source: str | None = None
    reference: bool = False

    def __post_init__(self):
        if not valid_name(self.name):
            raise ValueError(f"agent name must match {NAME_PATTERN} (it names the submission file), got {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_sizes(self, reported: Iterable[dict[str, int | None]]) -> AgentMetadata:
        """This metadata with ``parameters`` and ``state_floats``, where they are None, set to the largest of the
        values the per-task agents reported (``agent_sizes`` of each); a field stays None unless all reported it."""
        reported = list(reported)
        filled = {}
        for name in SIZE_FIELDS:
            values = [r[name] for r in reported]
            if getattr(self, name) is None and values and None not in values:
                filled[name] = max(values)
        return replace(self, **filled) if filled else self

    @classmethod
    def coerce(cls, value: Any, default_name: str, **defaults: Any) -> AgentMetadata:
        """Metadata from an ``AgentMetadata``, a dict or any object with some of the attributes; missing fields
        come from ``defaults`` (then the class defaults), unknown dict keys are an error."""
        names = [f.name for f in fields(cls)]
        if isinstance(value, AgentMetadata):
            data = value.to_dict()
        elif isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise ValueError(f"unknown agent metadata field(s) {unknown}; expected some of {names}")
            data = dict(value)
        elif value is None:
            data = {}
        else:
            data = {n: getattr(value, n) for n in names if hasattr(value, n)}
        merged = {**defaults, **{k: v for k, v in data.items() if v is not None}}
        merged.setdefault("name", default_name)
        if merged.get("parameters") is not None:
            merged["parameters"] = int(merged["parameters"])
        if merged.get("state_floats") is not None:
            merged["state_floats"] = int(merged["state_floats"])
        return cls(**merged)


@dataclass(frozen=True)
class TaskContext:
    """What a factory may know about the task it builds an agent for.

    ``task`` is the generator object (its spaces and kwargs are public; its ``oracle_actions`` needs episodes,
    which only ``env`` holds). ``env`` is the vector env being played and is given only to factories whose
    metadata says ``privileged=True``; it is None for every other agent.
    """

    name: str
    env_id: str
    kwargs: dict[str, Any]
    task: Any
    observation_space: spaces.Space
    action_space: spaces.Space
    num_envs: int
    seed: int = 0
    env: Any = field(default=None, repr=False)


class AgentFactory(Protocol):
    """Builds the agent of each task of a suite (``None``: cannot play that task)."""

    metadata: AgentMetadata

    def for_task(self, context: TaskContext) -> Agent | None: ...


def agent_sizes(agent: Any) -> dict[str, int | None]:
    """``{"parameters": ..., "state_floats": ...}`` as the agent reports them in its optional ``metadata`` (a dict or
    an object with those attributes); None where it does not say."""
    meta = getattr(agent, "metadata", None)
    get = meta.get if isinstance(meta, dict) else (lambda name: getattr(meta, name, None))
    sizes = {}
    for name in SIZE_FIELDS:
        value = get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"agent {type(agent).__name__} reports metadata {name}={value!r}; expected an int >= 0")
        sizes[name] = None if value is None else int(value)
    return sizes


def spaces_compatible(expected_obs: spaces.Space | None, expected_act: spaces.Space | None,
                      obs: spaces.Space, act: spaces.Space) -> bool:
    """Whether an agent built for spaces ``expected_*`` can play a task with spaces ``obs``/``act``: same space
    types and shapes (bounds may differ, e.g. the association task's noise-dependent observation bounds)."""

    def same(a, b):
        if a is None:
            return True
        if type(a) is not type(b):
            return False
        if isinstance(a, spaces.Dict):
            return set(a.spaces) == set(b.spaces) and all(same(a.spaces[k], b.spaces[k]) for k in a.spaces)
        if isinstance(a, spaces.Discrete):
            return a.n == b.n
        return tuple(a.shape) == tuple(b.shape)

    return same(expected_obs, obs) and same(expected_act, act)
