"""Lazy package exports (PEP 562): a package's public names import their module on first use.

``plastic_gym.agents`` and ``plastic_gym.leaderboard`` use it so that importing them (as the console script does for
every command) loads neither torch nor Stable-Baselines3; a name such as ``PlasticPPO`` imports its module when it is
first read, and is then cached in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``, whose ``exports`` map each public name to the
    submodule (relative to ``package``) that defines it; ``namespace`` is the package's ``globals()``."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
