"""plastic_gym.leaderboard: the agent protocol, suite v0, evaluation, scoring, submissions and rendering (SPEC 5).

    plastic-gym evaluate --agent SPEC --out result.json     # play suite v0, write per-episode metrics and scores
    plastic-gym submit result.json                          # validate, add to its suite's board, re-render
    plastic-gym verify NAME                                 # re-run a trusted entry (--trust: a submission's source)
    plastic-gym render                                      # LEADERBOARD.md, leaderboard.png, index.html per board

Modules: ``protocol`` (Agent, AgentMetadata, TaskContext), ``adapters`` (one module per kind of agent spec:
reference agents, SB3 models, plastic-network checkpoints, Python code, manifests; ``load_agent`` dispatches through
their registry; ``agents`` re-exports their names), ``suite`` (versioned suite files and their hashes),
``episodes`` (vector envs, references and the step loop), ``evaluate``, ``table`` (the terminal table), ``scoring``
(normalization, IQM/mean, stratified bootstrap), ``results`` (schema, validation, atomic writes), ``submit``,
``render`` (``page_rows``, ``page_markdown``, ``page_html``, ``page_plots``), ``layout`` and ``board`` (one board per
suite in a boards' folder outside the package, atomic commits, statuses), ``diagnostics``, ``trusted`` (the agents
the project runs), ``cli``. Importing this package is light: the names below load their module on first use (the
functions named like their module, ``evaluate.evaluate``, ``submit.submit``, ``render.render``, are imported from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plastic_gym.lazy import lazy_exports

#: Public name -> the module (in this package) that defines it.
_EXPORTS = {
    "Agent": "protocol", "AgentMetadata": "protocol", "TaskContext": "protocol",
    "load_agent": "adapters", "load_suite": "suite", "score": "scoring", "validate": "results", "verify": "submit",
}

__all__ = ["Agent", "AgentMetadata", "TaskContext", "load_agent", "load_suite", "score", "validate", "verify"]

if TYPE_CHECKING:  # the same names for type checkers and IDEs; tests/test_cli_lazy.py checks them against _EXPORTS
    from .adapters import load_agent
    from .protocol import Agent, AgentMetadata, TaskContext
    from .results import validate
    from .scoring import score
    from .submit import verify
    from .suite import load_suite


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
