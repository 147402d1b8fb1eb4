"""Stable-Baselines3 models as agents: ``sb3:ALGO:PATH`` (``PATH.zip`` and ``sb3:PATH`` when the zip stores its
algorithm, see ``save_model``).

The algorithm class is named, never guessed: by the spec (``sb3:PPO:model.zip``, ``sb3:RecurrentPPO:...``,
``sb3:PlasticPPO:...``; looked up by exact name in Stable-Baselines3, sb3-contrib and ``plastic_gym.agents``), else
by the ``algorithm`` field that ``save_model`` stores in the zip (``STORED``, beside SB3's own files, which SB3's
loader ignores); a zip that has neither is an error asking for ``sb3:ALGO:PATH``. Loading a zip unpickles it, which
runs whatever code its author put in it.

A model plays every task whose spaces match its own, directly or as a frame stack: a model trained on SB3's
``VecFrameStack(env, k)`` is fed the task's last k observations the same way (``FrameStack``).

A ``PlasticRecurrentPolicy`` with a plastic rule (hebbian, gradient) is ``plastic``: its per-task agent has
``without_plasticity()``, the leaderboard's plasticity ablation (``ablated_model``).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import zipfile
from pathlib import Path

import numpy as np
from gymnasium import spaces

from ..protocol import Agent, AgentMetadata, TaskContext, spaces_compatible
from .base import AgentKind, LoadContext

#: The modules whose algorithm classes ``sb3:ALGO:PATH`` may name, in lookup order (the ones installed).
ALGORITHM_MODULES = ("stable_baselines3", "sb3_contrib", "plastic_gym.agents")
#: The zip member in which ``save_model`` stores ``{"algorithm": NAME}``.
STORED = "plastic_gym.json"


class FrameStack:
    """The observations of SB3's ``VecFrameStack(env, n_stack)``, for a batch of envs, in numpy without a loop over
    envs: the layout (stacking axis, channel order) is SB3's own (``StackedObservations.compute_stacking``), the
    update the same: shift, zero the envs whose episode starts, write the newest observation last."""

    def __init__(self, num_envs: int, n_stack: int, observation_space: spaces.Space):
        from stable_baselines3.common.vec_env.stacked_observations import StackedObservations

        self.subs = None
        if isinstance(observation_space, spaces.Dict):
            self.subs = {k: FrameStack(num_envs, n_stack, s) for k, s in observation_space.spaces.items()}
            return
        channels_first, self.axis, shape, _ = StackedObservations.compute_stacking(n_stack, observation_space)
        self.buffer = np.zeros((num_envs, *shape), observation_space.dtype)

    def push(self, obs, episode_start: np.ndarray):
        """Add one batched observation (``episode_start[i]``: env i's obs is the first of an episode)."""
        if self.subs is not None:
            return {k: sub.push(obs[k], episode_start) for k, sub in self.subs.items()}
        width = obs.shape[self.axis]
        self.buffer = np.roll(self.buffer, -width, axis=self.axis)
        self.buffer[episode_start] = 0
        if self.axis == 1:
            self.buffer[:, -width:] = obs
        else:
            self.buffer[..., -width:] = obs
        return self.buffer


class SB3Agent:
    """A Stable-Baselines3 model (recurrent or not) as an ``Agent``: ``model.predict(obs, state=, episode_start=,
    deterministic=True)``. Non-recurrent policies ignore the state and return ``None``.

    ``n_stack > 1``: the model was trained on SB3's ``VecFrameStack(env, n_stack)``; the agent stacks the task's
    observations the same way (``FrameStack``: zeros before an episode's first step, newest last), so it sees exactly
    what it saw in training. The stack is part of the agent's state.
    """

    def __init__(self, model, n_stack: int = 1, observation_space: spaces.Space | None = None):
        if n_stack > 1 and observation_space is None:
            raise ValueError("SB3Agent: frame stacking (n_stack > 1) needs the task's observation_space")
        self.model, self.n_stack, self.observation_space = model, int(n_stack), observation_space

    @property
    def metadata(self) -> dict[str, int]:
        """Sizes on this task (``protocol.agent_sizes``): the stack's n_stack - 1 older frames are state too."""
        kept = 0 if self.n_stack == 1 else (self.n_stack - 1) * spaces.flatdim(self.observation_space)
        return {"parameters": sb3_parameters(self.model), "state_floats": sb3_recurrent_state_floats(self.model) + kept}

    @property
    def plastic(self) -> bool:
        """Whether the policy has plastic weights F (``is_plastic_policy``)."""
        return is_plastic_policy(self.model.policy)

    def without_plasticity(self) -> SB3Agent:
        """The same policy with the plastic update switched off at test time (``ablated_model``), stacked alike."""
        return SB3Agent(ablated_model(self.model), self.n_stack, self.observation_space)

    def reset(self, num_envs: int):
        if self.n_stack == 1:
            return None
        return {"stack": FrameStack(num_envs, self.n_stack, self.observation_space), "policy": None}

    def act(self, obs, state, episode_start):
        episode_start = np.asarray(episode_start, dtype=bool)
        if self.n_stack == 1:
            actions, state = self._predict(obs, state, episode_start)
            return np.asarray(actions), state
        stacked = state["stack"].push(obs, episode_start)
        actions, policy_state = self._predict(stacked, state["policy"], episode_start)
        return np.asarray(actions), {"stack": state["stack"], "policy": policy_state}

    def _predict(self, obs, state, episode_start):
        """``model.predict(deterministic=True)``; a policy with ``predict_state`` (``PlasticRecurrentPolicy``: the
        same actions, its state kept unpacked between steps) plays through that."""
        predict = getattr(getattr(self.model, "policy", None), "predict_state", None) or self.model.predict
        return predict(obs, state=state, episode_start=episode_start, deterministic=True)


def is_plastic_policy(policy) -> bool:
    """Whether ``policy`` is a ``PlasticRecurrentPolicy`` whose rule has plastic weights (hebbian, gradient; not
    "none"). Without ``plastic_gym.agents`` installed no policy is one."""
    try:
        from plastic_gym.agents.sb3_policy import PlasticRecurrentPolicy
    except ImportError:
        return False
    return isinstance(policy, PlasticRecurrentPolicy) and bool(policy.core.net.rule.plastic)


def ablated_model(model):
    """The plasticity ablation of an SB3 model with a plastic policy: a shallow copy of the model that plays a new
    policy of the same class and options but eta = lam = 0 (``p_lr = p_wd = 0``), holding the same weights (built as
    SB3's own load builds a policy: constructor parameters, then the state dict). In
    F <- (1 - lam_t) F + eta~_t alpha ⊙ G_t the fast weights then stay at their start value F_0 = 0 for the whole
    episode, and only the recurrent activity h_t carries memory. The original model and policy, the global torch
    random state and the training code paths are unchanged."""
    import torch

    policy = model.policy
    if not is_plastic_policy(policy):
        core = getattr(policy, "core", None)
        rule = f" with rule {core.net.config.rule!r}" if core is not None else ""
        raise ValueError("no plasticity to switch off: the ablation needs a PlasticRecurrentPolicy with a plastic rule "
                         f"(hebbian, gradient), got {type(policy).__name__}{rule}")
    with torch.random.fork_rng(devices=[]):  # the constructor's initialisation draws numbers, then is overwritten
        off = type(policy)(**{**policy._get_constructor_parameters(), "p_lr": 0.0, "p_wd": 0.0})
    off.load_state_dict(policy.state_dict())
    off.to(policy.device).set_training_mode(False)
    ablated = copy.copy(model)
    ablated.policy = off
    return ablated


def frame_stack_factor(model_space: spaces.Space, task_space: spaces.Space) -> int | None:
    """``k`` if ``model_space`` is ``task_space`` stacked ``k`` times by SB3's ``VecFrameStack`` (1 if they match
    without stacking), else None."""
    if spaces_compatible(model_space, None, task_space, None):
        return 1
    from gymnasium.spaces.utils import flatdim
    from stable_baselines3.common.vec_env.stacked_observations import StackedObservations

    try:
        ratio, rest = divmod(flatdim(model_space), flatdim(task_space))
    except (TypeError, NotImplementedError, ValueError):
        return None
    if rest or ratio < 2:
        return None
    try:
        stacked_space = StackedObservations(1, ratio, task_space).stacked_observation_space
    except TypeError:  # neither Box nor Dict: SB3 does not stack it
        return None
    return ratio if spaces_compatible(model_space, None, stacked_space, None) else None


class SB3Factory:
    """One SB3 model: plays every task whose spaces match its own, directly or as a frame stack of the task's
    observations (others fall back to no-memory)."""

    def __init__(self, model, metadata: AgentMetadata):
        self.model, self.metadata = model, metadata

    def for_task(self, context: TaskContext) -> Agent | None:
        if not spaces_compatible(None, self.model.action_space, context.observation_space, context.action_space):
            return None
        k = frame_stack_factor(self.model.observation_space, context.observation_space)
        return None if k is None else SB3Agent(self.model, k, context.observation_space)


def sb3_parameters(model) -> int:
    """Trained parameters of an SB3 model's policy."""
    return sum(p.numel() for p in model.policy.parameters() if p.requires_grad)


def sb3_recurrent_state_floats(model) -> int:
    """Floats of recurrent state per env of an SB3 policy: its own ``state_floats`` if it declares one (the plastic
    policy), else the actor LSTM's h and c (sb3-contrib), else 0."""
    policy = model.policy
    declared = getattr(policy, "state_floats", None)
    if declared is not None:
        return int(declared)
    shape = getattr(policy, "lstm_hidden_state_shape", None)  # (n_layers, n_envs, hidden) for sb3-contrib
    return 0 if shape is None else 2 * int(shape[0]) * int(shape[-1])


def sb3_metadata(model, name: str, source: str) -> AgentMetadata:
    """Parameters and regime of an SB3 model. Its state floats depend on whether a task's observations are frame
    stacked for it, so they are left to the per-task ``SB3Agent`` (filled in at evaluation)."""
    algo = type(model).__name__
    budget = getattr(model, "num_timesteps", None)
    return AgentMetadata(name=name, parameters=sb3_parameters(model), regime=algo.lower(),
                         budget=f"{budget} env steps" if budget else None, source=source,
                         description=f"Stable-Baselines3 {algo} ({type(model.policy).__name__})")


def _modules() -> list:
    out = []
    for name in ALGORITHM_MODULES:
        with contextlib.suppress(ImportError):  # sb3-contrib is optional; plastic_gym.agents needs torch
            out.append(importlib.import_module(name))
    return out


def algorithm_class(name: str) -> type:
    """The SB3 algorithm class called ``name`` (an exact class name, e.g. ``PPO``, ``RecurrentPPO``, ``PlasticPPO``)."""
    from stable_baselines3.common.base_class import BaseAlgorithm

    for module in _modules():
        cls = getattr(module, name, None) if name.isidentifier() else None
        if isinstance(cls, type) and issubclass(cls, BaseAlgorithm):
            return cls
    raise ValueError(f"unknown Stable-Baselines3 algorithm {name!r}; expected a class name of "
                     f"{list(ALGORITHM_MODULES)}, e.g. PPO, A2C, RecurrentPPO, PlasticPPO (sb3:ALGO:PATH)")


def stored_algorithm(path: Path) -> str | None:
    """The algorithm name that ``save_model`` stored in the zip at ``path`` (None if it has none). Reads JSON only."""
    try:
        with zipfile.ZipFile(path) as z:
            if STORED not in z.namelist():
                return None
            stored = json.loads(z.read(STORED))
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a Stable-Baselines3 model zip ({err})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("algorithm"), str):
        raise ValueError(f"{path}: {STORED} must be {{'algorithm': NAME}}, found {stored!r}")
    return stored["algorithm"]


def save_model(model, path: str | Path) -> Path:
    """``model.save(path)`` plus the algorithm's class name in the zip (``STORED``), so that ``PATH.zip`` and
    ``sb3:PATH`` load it without naming the algorithm."""
    path = Path(path)
    path = path if path.suffix == ".zip" else path.with_name(path.name + ".zip")
    model.save(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(STORED, json.dumps({"algorithm": type(model).__name__}))
    return path


def split_spec(rest: str) -> tuple[str | None, str]:
    """``(ALGO, PATH)`` of ``ALGO:PATH`` (ALGO a Python name), else ``(None, rest)``."""
    head, sep, tail = rest.partition(":")
    return (head, tail) if sep and head.isidentifier() else (None, rest)


def _load(rest: str, context: LoadContext) -> SB3Factory:
    import stable_baselines3  # noqa: F401  (without the [agents] extra, say so before reading the file)

    algo, path = split_spec(rest)
    path = context.resolve(path)
    algo = algo or stored_algorithm(path)
    if algo is None:
        raise ValueError(f"agent spec {context.spec!r}: {path} does not say which Stable-Baselines3 algorithm saved it;"
                         f" name it: sb3:ALGO:{path} (e.g. sb3:PPO:..., sb3:RecurrentPPO:..., sb3:PlasticPPO:...)")
    cls = algorithm_class(algo)
    try:
        model = cls.load(str(path), device="cpu")
    except Exception as err:  # a zip that is no model of that class: any error of SB3's loader means "not usable"
        raise ValueError(f"agent spec {context.spec!r}: {path} is not a loadable {cls.__name__} model "
                         f"({type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]})") from None
    model.set_random_seed(context.seed)
    return SB3Factory(model, sb3_metadata(model, name=path.stem, source=context.spec))


def _describe(rest: str) -> str:
    return (f"unpickles the Stable-Baselines3 model {rest!r}: SB3's load runs pickle, which can execute any code the "
            "file's author put in it")


#: ``sb3:ALGO:PATH``, ``sb3:PATH`` and ``PATH.zip``.
KIND = AgentKind("sb3", _load, _describe, suffixes=(".zip",))
