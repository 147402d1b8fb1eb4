"""The agent specs' public names where they have always been imported from (``plastic_gym.leaderboard.agents``).

Each kind of agent has its own module in ``adapters/`` (reference agents, SB3 models, plastic-network checkpoints,
Python code, manifests) and ``adapters.load_agent`` dispatches a spec through their registry; this module re-exports
their names.
"""

from __future__ import annotations

from .adapters import describe_source, load_agent
from .adapters.base import check_agent, resolve_path
from .adapters.checkpoint import SingleModelFactory
from .adapters.manifest import ManifestFactory, check_suite_tasks
from .adapters.python import AgentObjectFactory
from .adapters.reference import (
    CLASSICAL_REFERENCES,
    REFERENCE_AGENTS,
    NoMemoryAgent,
    OracleAgent,
    PolicyAgent,
    RandomAgent,
    ReferenceFactory,
)
from .adapters.sb3 import (
    FrameStack,
    SB3Agent,
    SB3Factory,
    frame_stack_factor,
    sb3_metadata,
    sb3_parameters,
    sb3_recurrent_state_floats,
)

__all__ = ["CLASSICAL_REFERENCES", "REFERENCE_AGENTS", "AgentObjectFactory", "FrameStack", "ManifestFactory",
           "NoMemoryAgent", "OracleAgent", "PolicyAgent", "RandomAgent", "ReferenceFactory", "SB3Agent", "SB3Factory",
           "SingleModelFactory", "check_agent", "check_suite_tasks", "describe_source", "frame_stack_factor",
           "load_agent", "resolve_path", "sb3_metadata", "sb3_parameters", "sb3_recurrent_state_floats"]
