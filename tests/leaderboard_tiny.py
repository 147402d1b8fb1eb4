"""A tiny custom suite (two tasks, 8 episodes each) and its reference result, shared by the leaderboard tests: small
enough that evaluating, submitting and rendering it takes about a second."""

from __future__ import annotations

import json
from pathlib import Path

from plastic_gym.leaderboard.agents import load_agent
from plastic_gym.leaderboard.evaluate import evaluate
from plastic_gym.leaderboard.results import split_agents, write_json_atomic
from plastic_gym.leaderboard.suite import load_suite

EPISODES = 8
SUITE = {"name": "tiny", "version": 0, "description": "two tasks of suite v0, few episodes (tests)",
         "tasks": [{"name": "copy", "env_id": "PlasticCopy-v0", "kwargs": {"seq_length": 4, "delay": 2},
                    "episodes": EPISODES, "seed": 10000000},
                   {"name": "assoc", "env_id": "PlasticAssoc-v0", "kwargs": {"n_cues": 3, "trial_length": 8},
                    "episodes": EPISODES, "seed": 10200000}]}
REFERENCES = ("random", "no-memory", "oracle")


def tiny_suite(folder: Path, **changes):
    """The tiny suite written to ``folder/suite_tiny.json`` (with top-level ``changes``); returns (path, Suite)."""
    path = Path(folder) / "suite_tiny.json"
    path.write_text(json.dumps({**SUITE, **changes}))
    return path, load_suite(path)


def reference_result(suite, folder: Path, names=REFERENCES) -> Path:
    """The references' result file on ``suite`` in ``folder``."""
    doc = evaluate([load_agent(n) for n in names], suite, progress=False)
    return write_json_atomic(Path(folder) / "refs.json", doc, overwrite=True)


def single(doc: dict, name: str) -> dict:
    """The one-agent document of agent ``name``."""
    return next(d for d in split_agents(doc) if d["agents"][0]["metadata"]["name"] == name)


def marker_module(folder: Path, marker: Path) -> Path:
    """A Python file that, when imported, creates ``marker`` (harmless proof that code ran) and defines an agent."""
    path = Path(folder) / "evil.py"
    path.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                    "import numpy as np\n"
                    "class A:\n"
                    "    def reset(self, n): return None\n"
                    "    def act(self, obs, state, start): return np.zeros((len(start), 1), np.float32), state\n"
                    "def make(): return A()\n")
    return path
