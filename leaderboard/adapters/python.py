"""Python code as an agent: ``module:factory`` or ``path/to/file.py:factory`` (also ``python:module:factory``).

``factory`` is imported (a file is executed) and, if it is a class or a plain callable, called: it returns an agent
factory (with ``for_task``) or one agent (with ``reset``/``act``) used on every task its spaces fit. This runs the
code with your permissions: ``load_agent`` does it for a spec on your own command line (``evaluate --agent``) and
for a stored submission's source only under ``plastic-gym verify NAME --trust`` (SECURITY.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from ..protocol import Agent, AgentMetadata, TaskContext, spaces_compatible
from .base import AgentKind, LoadContext, check_agent


class AgentObjectFactory:
    """Any object with ``reset``/``act`` used on every task (if it has ``observation_space``/``action_space``, only
    on the tasks they fit)."""

    def __init__(self, agent: Any, metadata: AgentMetadata):
        self.agent, self.metadata = agent, metadata

    def for_task(self, context: TaskContext) -> Agent | None:
        ok = spaces_compatible(getattr(self.agent, "observation_space", None),
                               getattr(self.agent, "action_space", None), context.observation_space,
                               context.action_space)
        return self.agent if ok else None


def import_attr(spec: str) -> Any:
    """The attribute ``attr`` of ``module:attr`` (a module name, or a ``.py`` file that is executed)."""
    module_name, _, attr = spec.rpartition(":")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise ValueError(f"agent spec {spec!r}: file {path} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"_plastic_gym_agent_{path.stem}", path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[mod_spec.name] = module
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ValueError(f"agent spec {spec!r}: cannot import module {module_name!r} ({err})") from None
    if not hasattr(module, attr):
        raise ValueError(f"agent spec {spec!r}: module {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _load(rest: str, context: LoadContext) -> Any:
    spec = context.spec
    obj = import_attr(rest)
    try:
        if (callable(obj) and not hasattr(obj, "for_task") and not hasattr(obj, "act")) or isinstance(obj, type):
            obj = obj()
    except SystemExit as err:
        raise ValueError(f"agent spec {spec!r}: calling it exited (SystemExit({err.code!r})); expected it to "
                         "return an agent or an agent factory") from None
    default = rest.rpartition(":")[2].replace("_", "-")
    if hasattr(obj, "for_task"):
        obj.metadata = AgentMetadata.coerce(getattr(obj, "metadata", None), default_name=default, source=spec)
        return obj
    check_agent(obj, f"{spec!r}")
    return AgentObjectFactory(obj, AgentMetadata.coerce(getattr(obj, "metadata", None), default_name=default,
                                                        source=spec))


def _describe(rest: str) -> str:
    module, _, attr = rest.rpartition(":")
    return f"imports {module!r} and calls {attr!r}: runs that Python code with your permissions"


#: ``module:factory`` (any spec ``X:Y`` whose ``X`` is no registered prefix) and ``python:module:factory``.
KIND = AgentKind("python", _load, _describe)
