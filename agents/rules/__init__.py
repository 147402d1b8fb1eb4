"""The registry of plasticity rules (SPEC section 4): rule name -> rule object.

    from plastic_gym.agents.rules import RULES, get_rule
    get_rule("hebbian").plastic_bias      # False: G = 0 for the biases

A rule decides G_t, the update direction of the plastic weights in F <- (1 - lam_t) F + eta~_t (alpha ⊙ G_t); the
networks (step form, sequence form, literal reference), ``PlasticConfig`` validation and the ``--rule`` choices of
``plastic-gym train`` all read it from here, so adding a rule is one module in this package (a ``PlasticityRule``
subclass and its instance ``RULE``, see ``base.py``) plus one line in ``_MODULES``. ``register_rule`` adds a rule
object made elsewhere (an experiment, a test) for the running process.

This module imports no torch: the built-in rules are imported on first use, so the console script can offer the
rule names without loading the networks.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Built-in rule name -> its module in this package (each defines ``RULE``).
_MODULES = {
    "hebbian": "hebbian",
    "gradient": "gradient",
    "none": "none",
}
_LOADED: dict[str, Any] = {}
#: Names of the registered rules, built-in first (the ``--rule`` choices); ``register_rule`` extends it.
RULES: tuple[str, ...] = tuple(_MODULES)

__all__ = ["RULES", "get_rule", "register_rule", "rule_names", "unregister_rule"]


def rule_names() -> tuple[str, ...]:
    """The names ``get_rule`` accepts now (``RULES`` as of this call)."""
    return RULES


def get_rule(name: str):
    """The rule object registered as ``name``; ``ValueError`` naming the known rules otherwise."""
    if not isinstance(name, str) or name not in RULES:
        raise ValueError(f"unknown plasticity rule {name!r}; expected one of {RULES}")
    if name not in _LOADED:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        _LOADED[name] = _checked(module.RULE, name)
    return _LOADED[name]


def register_rule(rule, replace: bool = False) -> None:
    """Register ``rule`` (a ``PlasticityRule`` instance) under ``rule.name`` for this process.

    A name already taken raises ``ValueError`` unless ``replace`` is set; built-in rules cannot be replaced.
    """
    global RULES
    from .base import PlasticityRule

    if not isinstance(rule, PlasticityRule):
        raise ValueError(f"register_rule expects a PlasticityRule instance, got {type(rule).__name__}")
    name = rule.name
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a rule's name must be a Python identifier (it is a config value and a CLI choice), "
                         f"got {name!r}")
    if name in _MODULES:
        raise ValueError(f"rule {name!r} is built in and cannot be replaced; choose another name")
    if name in RULES and not replace:
        raise ValueError(f"rule {name!r} is already registered; pass replace=True to replace it")
    _LOADED[name] = rule
    if name not in RULES:
        RULES = (*RULES, name)


def unregister_rule(name: str) -> None:
    """Remove a rule added by ``register_rule`` (built-in rules stay)."""
    global RULES
    if name in _MODULES:
        raise ValueError(f"rule {name!r} is built in and cannot be removed")
    if name not in RULES:
        raise ValueError(f"rule {name!r} is not registered; registered: {RULES}")
    _LOADED.pop(name, None)
    RULES = tuple(n for n in RULES if n != name)


def _checked(rule, name: str):
    if getattr(rule, "name", None) != name:
        raise RuntimeError(f"rule module {_MODULES[name]!r} defines RULE named {getattr(rule, 'name', None)!r}, "
                           f"expected {name!r}")
    return rule
