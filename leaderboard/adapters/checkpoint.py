"""Plastic-network checkpoints as agents: ``checkpoint:PATH`` or ``PATH.pt`` (``plastic_gym.agents.CheckpointAgent``),
and ``prototype:PATH``, the prototypical-network reference on the image encoder of such a checkpoint
(``plastic_gym.agents.prototype``: nearest class mean of the support features, non-plastic, an unranked reference).

Both read the file with ``torch.load(weights_only=True)``: tensors and plain data only; the networks are package code.
A checkpoint plays the tasks whose spaces it fits.
"""

from __future__ import annotations

from typing import Any

from ..protocol import Agent, AgentMetadata, TaskContext, spaces_compatible
from .base import AgentKind, LoadContext, check_agent


class SingleModelFactory:
    """One trained agent that plays every task whose spaces match its own (others fall back to no-memory)."""

    def __init__(self, agent: Agent, metadata: AgentMetadata, observation_space=None, action_space=None):
        self.agent, self.metadata = agent, metadata
        self.observation_space, self.action_space = observation_space, action_space

    def for_task(self, context: TaskContext) -> Agent | None:
        ok = spaces_compatible(self.observation_space, self.action_space, context.observation_space,
                               context.action_space)
        return self.agent if ok else None


def _needs_agents(spec: str, what: str, err: ImportError) -> ValueError:
    return ValueError(f"agent spec {spec!r}: {what} needs plastic_gym.agents (pip install 'plastic-gym[agents]'): "
                      f"{err}")


def _load_checkpoint(rest: str, context: LoadContext) -> SingleModelFactory:
    path = context.resolve(rest)
    try:
        from plastic_gym.agents import CheckpointAgent
    except ImportError as err:
        raise _needs_agents(context.spec, "plastic-network checkpoints", err) from None
    agent = CheckpointAgent.from_checkpoint(path)
    check_agent(agent, f"CheckpointAgent.from_checkpoint({path})")
    meta = AgentMetadata.coerce(getattr(agent, "metadata", None), default_name=path.stem, regime="supervised-bptt",
                                source=context.spec)
    task = getattr(agent, "task", None)
    obs_space = getattr(agent, "observation_space", getattr(task, "observation_space", None))
    act_space = getattr(agent, "action_space", getattr(task, "action_space", None))
    return SingleModelFactory(agent, meta, obs_space, act_space)


def _load_prototype(rest: str, context: LoadContext) -> Any:
    try:
        from plastic_gym.agents.prototype import PrototypeFactory
    except ImportError as err:
        raise _needs_agents(context.spec, "the prototype reference", err) from None
    factory = PrototypeFactory.from_checkpoint(context.resolve(rest), label=rest)  # no machine path in results
    factory.metadata = AgentMetadata.coerce(factory.metadata, default_name="prototype-reference", source=context.spec)
    return factory


def _describe_checkpoint(rest: str) -> str:
    return (f"reads the plastic-network checkpoint {rest!r} with torch.load(weights_only=True) (tensors and plain data "
            "only; the network is package code)")


def _describe_prototype(rest: str) -> str:
    return (f"reads the image encoder of the plastic-network checkpoint {rest!r} with torch.load(weights_only=True) "
            "(the prototype rule is package code)")


#: ``checkpoint:PATH`` and ``PATH.pt``.
KIND = AgentKind("checkpoint", _load_checkpoint, _describe_checkpoint, suffixes=(".pt",))
#: ``prototype:PATH``.
PROTOTYPE = AgentKind("prototype", _load_prototype, _describe_prototype)
