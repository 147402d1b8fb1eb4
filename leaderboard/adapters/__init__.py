"""Agent specs: every way to name an agent on the command line (``plastic-gym evaluate --agent SPEC``), one module
per kind, found through a prefix registry.

- ``random``, ``no-memory``, ``oracle``, ``thompson``, ... (``reference``): the reference agents;
- ``sb3:ALGO:PATH``, or ``PATH.zip`` / ``sb3:PATH`` for a zip that stores its algorithm (``sb3``): a
  Stable-Baselines3 model, also played on frame-stacked observations;
- ``checkpoint:PATH`` or ``PATH.pt``, and ``prototype:PATH`` (``checkpoint``): a plastic-network checkpoint, and the
  prototypical-network reference on its image encoder;
- ``PATH.json`` (``manifest``): per-task specs combined into one leaderboard entry;
- ``module:factory`` or ``path/to/file.py:factory`` (``python``): Python code that returns an agent or a factory.

``load_agent(spec)`` dispatches: an exact reference name, else ``PREFIX:REST`` with a registered prefix, else a bare
file name by its ending, else ``X:Y`` as Python code. A new kind is one module with an ``AgentKind`` and one
``register`` line below (CONTRIBUTING.md, "Add a leaderboard agent kind"). Tasks an agent cannot play are played
by the no-memory reference and marked as fallbacks (normalized 0).

Loading runs code for some kinds (``describe_source`` says which): ``load_agent`` is for specs you trust, never for
a stored submission's source unless a person asked for it (``plastic-gym verify NAME --trust``, SECURITY.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import checkpoint, manifest, python, reference, sb3
from .base import AgentKind, LoadContext, check_agent, resolve_path
from .manifest import check_suite_tasks
from .reference import CLASSICAL_REFERENCES, REFERENCE_AGENTS

__all__ = ["CLASSICAL_REFERENCES", "KINDS", "REFERENCE_AGENTS", "AgentKind", "LoadContext", "check_agent",
           "check_suite_tasks", "describe_source", "find_kind", "load_agent", "register", "resolve_path"]

#: Registered kinds by prefix.
KINDS: dict[str, AgentKind] = {}
#: The kind of an ``X:Y`` spec whose ``X`` is no registered prefix: Python code.
FALLBACK = python.KIND


def register(kind: AgentKind) -> AgentKind:
    """Add an agent kind to the registry; its prefix, names and suffixes must not be taken by another kind."""
    taken = [k.prefix for k in KINDS.values() if k.prefix == kind.prefix or set(k.names) & set(kind.names)
             or set(k.suffixes) & set(kind.suffixes)]
    if taken:
        raise ValueError(f"agent kind {kind.prefix!r} clashes with the registered kind(s) {taken} (same prefix, name "
                         "or file ending)")
    KINDS[kind.prefix] = kind
    return kind


# The kinds, one line each (a new kind: its module in the import above and one line here).
register(reference.KIND)
register(sb3.KIND)
register(checkpoint.KIND)
register(checkpoint.PROTOTYPE)
register(manifest.KIND)
register(python.KIND)


def _expected() -> str:
    names = [n for k in KINDS.values() for n in k.names]
    suffixes = [f"PATH{s}" for k in KINDS.values() for s in k.suffixes]
    return (f"one of {names}, PREFIX:... with a prefix in {sorted(KINDS)}, {', '.join(suffixes)} or "
            "module:factory")


def find_kind(spec: str) -> tuple[AgentKind, str]:
    """The kind of ``spec`` and the part its loader reads (the spec without its ``PREFIX:``), or a ``ValueError``
    listing the known prefixes."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"agent spec must be a non-empty string, got {spec!r}")
    for kind in KINDS.values():
        if spec in kind.names:
            return kind, spec
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in KINDS:
        if not rest:
            raise ValueError(f"agent spec {spec!r}: expected {prefix}:... after the prefix; expected {_expected()}")
        return KINDS[prefix], rest
    if not sep:
        for kind in KINDS.values():
            if kind.suffixes and spec.endswith(kind.suffixes):
                return kind, spec
        raise ValueError(f"cannot interpret agent spec {spec!r}: expected {_expected()}")
    if not prefix or not rest:
        raise ValueError(f"cannot interpret agent spec {spec!r}: expected {_expected()}")
    return FALLBACK, spec


def load_agent(spec: str, seed: int = 0, base: Path | None = None, _manifests: tuple[Path, ...] = ()) -> Any:
    """The agent factory named by ``spec`` (see the module docstring); ``seed`` seeds the agent's own randomness and
    relative paths start at ``base`` (default: the current folder). Loading runs code for some specs
    (``describe_source`` says which): call it only on specs you trust."""
    kind, rest = find_kind(spec)
    return kind.load(rest, LoadContext(spec, seed=seed, base=base, manifests=_manifests, load_spec=load_agent))


def describe_source(spec: str) -> str:
    """What loading ``spec`` with ``load_agent`` does, and whether that runs code (for ``verify --trust``)."""
    try:
        kind, rest = find_kind(spec)
    except ValueError:
        return f"nothing loadable ({spec!r} is not an agent spec)"
    return kind.describe(rest)
