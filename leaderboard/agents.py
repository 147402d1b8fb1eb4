"""Reference agents and adapters, and ``load_agent(spec)``: every way to name an agent on the command line.

Agent specs (``plastic-gym evaluate --agent SPEC``):

- ``random``, ``no-memory``, ``oracle``: the reference agents (``oracle`` is privileged).
- ``sb3:PATH`` or ``PATH.zip``: a Stable-Baselines3 model (``sb3:ALGO:PATH`` names the algorithm class, e.g.
  ``sb3:RecurrentPPO:model.zip`` or ``sb3:PlasticPPO:model.zip``; otherwise it is read from the zip). Plays the tasks
  whose spaces it fits, also as a frame stack: a model trained on ``VecFrameStack(env, k)`` is fed the last k
  observations the same way.
- ``checkpoint:PATH`` or ``PATH.pt``: a plastic-network checkpoint (``plastic_gym.agents.CheckpointAgent``).
  Plays the tasks whose spaces it fits.
- ``prototype:PATH``: the prototypical-network reference (``plastic_gym.agents.prototype``) on the image encoder
  of a plastic-network checkpoint: nearest class mean of the support features, non-plastic, an unranked reference.
- ``PATH.json``: a manifest ``{"metadata": {"name": ..., ...}, "tasks": {"<task name>": "<spec>", ...}}`` that
  combines per-task agents into one leaderboard entry (paths relative to the manifest).
- ``module:factory`` (or ``path/to/file.py:factory``): ``factory()`` returns an agent factory (with ``for_task``)
  or one agent (with ``reset``/``act``) used on every task.

Tasks an agent cannot play are played by the no-memory reference and marked as fallbacks (normalized 0).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from plastic_gym.io import read_json_file

from .protocol import Agent, AgentMetadata, TaskContext, spaces_compatible

#: The classical algorithms of the interactive tasks (SPEC section 6), by agent name -> the task's reference name.
#: Non-privileged, shown as unranked reference rows; a task without that reference falls back to no-memory.
CLASSICAL_REFERENCES = {"thompson": "thompson", "thompson-window": "thompson_window", "ucb1": "ucb1",
                        "wsls": "wsls", "explore-exploit": "explore_exploit"}

REFERENCE_AGENTS = ("random", "no-memory", "oracle", *CLASSICAL_REFERENCES)


# -- reference agents ------------------------------------------------------------------------------------------
class RandomAgent:
    """Uniform random actions from the action space (numpy, seeded; ``seed`` may be a sequence of ints)."""

    def __init__(self, action_space: spaces.Space, seed: int | tuple[int, ...] = 0):
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int):
        return None

    def act(self, obs, state, episode_start):
        n = len(episode_start)
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return space.start + self.rng.integers(0, space.n, n), state
        low = np.broadcast_to(space.low, space.shape)
        high = np.broadcast_to(space.high, space.shape)
        return self.rng.uniform(low, high, (n, *space.shape)).astype(space.dtype), state


class NoMemoryAgent:
    """The task's no-memory actions (``task.no_memory_actions``: the target mean 0, or a fixed class).

    Those actions may depend on the step index (a clock is not memory of the episode), so they are read as a
    per-step table from one generated episode; the state is the step counter.
    """

    def __init__(self, task):
        from plastic_gym.core.rng import seed_keys

        self.table = np.asarray(task.no_memory_actions(task.generate(seed_keys([0]))))[0]  # [T, *action_shape]

    def reset(self, num_envs: int):
        return 0

    def act(self, obs, state, episode_start):
        t = np.where(np.asarray(episode_start), 0, state)
        t = int(np.max(t)) if np.size(t) else 0
        actions = np.repeat(self.table[t][None], len(episode_start), axis=0)
        return actions, t + 1


class OracleAgent:
    """Privileged upper reference: reads the vector env's ``episodes`` and ``t`` and plays
    ``task.oracle_actions(episodes)[:, t]`` (cached per batch of episodes)."""

    def __init__(self, task, env):
        if env is None:
            raise RuntimeError("the oracle is privileged: it needs the vector env (TaskContext.env)")
        self.task, self.env = task, env

    def reset(self, num_envs: int):
        return None

    def act(self, obs, state, episode_start):
        from .evaluate import oracle_actions

        return oracle_actions(self.task, self.env.episodes)[:, self.env.t], state


class PolicyAgent:
    """A reference policy of an interactive task (``task.references[name]``, SPEC section 6) as an ``Agent``.

    Non-privileged policies see the observations only (their task state argument is None); the privileged oracle
    reads the vector env's current task state (``env.state``). The policies play lockstep batches: every env starts
    its episode at the same step, as in the native vector env.
    """

    def __init__(self, task, name: str, seed: Any = 0, env=None):
        self.policy = task.references[name](task)
        if self.policy.privileged and env is None:
            raise RuntimeError(f"the {name!r} reference is privileged: it needs the vector env (TaskContext.env)")
        self.env, self.seed = env, seed

    def reset(self, num_envs: int):
        return self.policy.reset(num_envs, np.random.default_rng(self.seed))

    def act(self, obs, state, episode_start):
        episode_start = np.asarray(episode_start, dtype=bool)
        if episode_start.any():
            if not episode_start.all():
                raise ValueError("reference policies play lockstep batches: every env must start its episode at the "
                                 f"same step, got episode_start={episode_start.tolist()}")
            state = self.reset(len(episode_start))
        task_state = self.env.state if self.policy.privileged else None
        actions, state = self.policy.act(task_state, np.asarray(obs), state)
        return np.asarray(actions, np.int64), state


class ReferenceFactory:
    """Factory of one of the reference agents: random, no-memory and the privileged oracle on every task, and the
    classical algorithms of the interactive tasks (``CLASSICAL_REFERENCES``) on the tasks that have them."""

    _META = {
        "random": dict(state_floats=0, description="uniform random actions from the action space"),
        "no-memory": dict(state_floats=0, description="the best output without memory: target mean 0, or class 0; "
                                                      "interactive tasks: the random policy (random walk)"),
        "oracle": dict(state_floats=None, privileged=True,
                       description="privileged upper reference: reads the episode (task.oracle_actions) or, on "
                                   "interactive tasks, the hidden task state (best arm, rewarded object, shortest path)"),
        "thompson": dict(reference=True, description="Thompson sampling with Beta(1, 1) priors (bandits)"),
        "thompson-window": dict(reference=True, description="Thompson sampling over the last 20 pulls (bandits; "
                                                            "tracks a reversal)"),
        "ucb1": dict(reference=True, description="UCB1 (Auer et al. 2002) (bandits)"),
        "wsls": dict(reference=True, description="win-stay lose-shift (bandits, Harlow)"),
        "explore-exploit": dict(reference=True, description="Bayes-optimal explore then exploit (Harlow: random first "
                                                            "pick, then the rewarded object; maze: systematic explorer, "
                                                            "then shortest paths)"),
    }

    def __init__(self, kind: str, seed: int = 0):
        if kind not in REFERENCE_AGENTS:
            raise ValueError(f"unknown reference agent {kind!r}; expected one of {REFERENCE_AGENTS}")
        self.kind, self.seed = kind, seed
        self.metadata = AgentMetadata(name=kind, parameters=0, regime="none", source=kind, **self._META[kind])

    def for_task(self, context: TaskContext) -> Agent | None:
        from .evaluate import REFERENCE_POLICY_SEED, is_interactive

        task = context.task
        if self.kind == "random":
            return RandomAgent(context.action_space, seed=(self.seed, zlib.crc32(context.name.encode())))
        if self.kind in CLASSICAL_REFERENCES:
            name = CLASSICAL_REFERENCES[self.kind]
            if not (is_interactive(task) and name in task.references):
                return None
            return PolicyAgent(task, name, seed=(self.seed, zlib.crc32(context.name.encode())))
        if is_interactive(task):  # the task's own no-memory (the same random numbers as its reference) and oracle
            if self.kind == "no-memory":
                return PolicyAgent(task, "no_memory", seed=REFERENCE_POLICY_SEED)
            return PolicyAgent(task, "oracle", env=context.env)
        if self.kind == "no-memory":
            return NoMemoryAgent(task)
        return OracleAgent(task, context.env)


# -- adapters ---------------------------------------------------------------------------------------------------
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

    def reset(self, num_envs: int):
        if self.n_stack == 1:
            return None
        return {"stack": FrameStack(num_envs, self.n_stack, self.observation_space), "policy": None}

    def act(self, obs, state, episode_start):
        episode_start = np.asarray(episode_start, dtype=bool)
        if self.n_stack == 1:
            actions, state = self.model.predict(obs, state=state, episode_start=episode_start, deterministic=True)
            return np.asarray(actions), state
        stacked = state["stack"].push(obs, episode_start)
        actions, policy_state = self.model.predict(stacked, state=state["policy"], episode_start=episode_start,
                                                   deterministic=True)
        return np.asarray(actions), {"stack": state["stack"], "policy": policy_state}


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


def _sb3_class(path: Path, algo: str | None):
    """The SB3 algorithm class to load ``path`` with: ``algo`` if given, else guessed from the zip's policy class."""
    import stable_baselines3

    try:
        import sb3_contrib
    except ImportError:  # sb3-contrib is optional
        sb3_contrib = None
    try:
        from plastic_gym import agents as plastic_agents  # PlasticPPO
    except ImportError:  # torch-free install
        plastic_agents = None
    modules = [m for m in (stable_baselines3, sb3_contrib, plastic_agents) if m is not None]
    if algo is None:
        try:
            with zipfile.ZipFile(path) as z:
                data = json.loads(z.read("data"))
            policy = json.dumps(data.get("policy_class", ""))
        except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not a Stable-Baselines3 model zip ({err})") from None
        if "plastic" in policy.lower():
            algo = "PlasticPPO"
        else:
            algo = "RecurrentPPO" if "recurrent" in policy.lower() or "lstm" in policy.lower() else "PPO"
    for module in modules:
        if hasattr(module, algo):
            return getattr(module, algo)
    raise ValueError(f"unknown Stable-Baselines3 algorithm {algo!r} (sb3:ALGO:PATH, e.g. PPO, A2C, RecurrentPPO)")


class SingleModelFactory:
    """One trained agent that plays every task whose spaces match its own (others fall back to no-memory)."""

    def __init__(self, agent: Agent, metadata: AgentMetadata, observation_space=None, action_space=None):
        self.agent, self.metadata = agent, metadata
        self.observation_space, self.action_space = observation_space, action_space

    def for_task(self, context: TaskContext) -> Agent | None:
        ok = spaces_compatible(self.observation_space, self.action_space, context.observation_space,
                               context.action_space)
        return self.agent if ok else None


class AgentObjectFactory:
    """Any object with ``reset``/``act`` used on every task (if it has ``observation_space``/``action_space``, only
    on the tasks they fit)."""

    def __init__(self, agent: Any, metadata: AgentMetadata):
        self.agent, self.metadata = agent, metadata

    def for_task(self, context: TaskContext) -> Agent | None:
        ok = spaces_compatible(getattr(self.agent, "observation_space", None), getattr(self.agent, "action_space", None),
                               context.observation_space, context.action_space)
        return self.agent if ok else None


class ManifestFactory:
    """Per-task agents combined into one leaderboard entry (a manifest file)."""

    def __init__(self, metadata: AgentMetadata, factories: dict[str, Any]):
        self.metadata, self.factories = metadata, factories

    def for_task(self, context: TaskContext) -> Agent | None:
        factory = self.factories.get(context.name) or self.factories.get("*")
        return None if factory is None else factory.for_task(context)


def _check_agent(obj: Any, what: str) -> None:
    missing = [m for m in ("reset", "act") if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"{what} is not an agent: it lacks {missing} (expected reset(num_envs) and "
                         "act(obs, state, episode_start))")


def _import_attr(spec: str) -> Any:
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


def resolve_path(path: str | Path, base: Path | None = None) -> Path:
    """A file named by an agent spec: as given (or relative to ``base``), else relative to the source tree, else
    inside the installed ``plastic_gym.baselines`` package (``baselines/...`` paths of committed submissions)."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [(base or Path.cwd()) / path, Path.cwd() / path,
                                                     Path(__file__).resolve().parents[1] / path]
    if not path.is_absolute() and path.parts and path.parts[0] == "baselines":
        try:
            import plastic_gym.baselines as pkg

            candidates.append(Path(pkg.__file__).parent.joinpath(*path.parts[1:]))
        except ImportError:
            pass
    for c in candidates:
        if c.exists():
            return c
    raise ValueError(f"agent file {path} not found (looked in {[str(c.parent) for c in candidates]})")


def load_agent(spec: str, seed: int = 0, base: Path | None = None, _manifests: tuple[Path, ...] = ()) -> Any:
    """The agent factory named by ``spec`` (see the module docstring). Loading runs code for some specs
    (``describe_source`` says which): call it only on specs you trust, never on a stored submission's source
    unless a person asked for it (``plastic-gym verify NAME --trust``)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"agent spec must be a non-empty string, got {spec!r}")
    if spec in REFERENCE_AGENTS:
        return ReferenceFactory(spec, seed)
    kind, _, rest = spec.partition(":")
    if kind == "sb3" or (not rest and spec.endswith(".zip")):
        algo, _, path = rest.rpartition(":") if kind == "sb3" else ("", "", spec)
        path = resolve_path(path, base)
        cls = _sb3_class(path, algo or None)
        try:
            model = cls.load(str(path), device="cpu")
        except Exception as err:  # a zip that is no model of that class: any error of SB3's loader means "not usable"
            raise ValueError(f"agent spec {spec!r}: {path} is not a loadable {cls.__name__} model "
                             f"({type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]})") from None
        model.set_random_seed(seed)
        meta = sb3_metadata(model, name=path.stem, source=spec)
        return SB3Factory(model, meta)
    if kind == "checkpoint" or (not rest and spec.endswith(".pt")):
        path = resolve_path(rest if kind == "checkpoint" else spec, base)
        try:
            from plastic_gym.agents import CheckpointAgent
        except ImportError as err:
            raise ValueError(f"agent spec {spec!r}: plastic-network checkpoints need plastic_gym.agents.CheckpointAgent "
                             f"(pip install 'plastic-gym[agents]'): {err}") from None
        agent = CheckpointAgent.from_checkpoint(path)
        _check_agent(agent, f"CheckpointAgent.from_checkpoint({path})")
        meta = AgentMetadata.coerce(getattr(agent, "metadata", None), default_name=path.stem,
                                    regime="supervised-bptt", source=spec)
        task = getattr(agent, "task", None)
        obs_space = getattr(agent, "observation_space", getattr(task, "observation_space", None))
        act_space = getattr(agent, "action_space", getattr(task, "action_space", None))
        return SingleModelFactory(agent, meta, obs_space, act_space)
    if kind == "prototype" and rest:
        try:
            from plastic_gym.agents.prototype import PrototypeFactory
        except ImportError as err:
            raise ValueError(f"agent spec {spec!r}: the prototype reference needs plastic_gym.agents "
                             f"(pip install 'plastic-gym[agents]'): {err}") from None
        factory = PrototypeFactory.from_checkpoint(resolve_path(rest, base))
        factory.metadata = AgentMetadata.coerce(factory.metadata, default_name="prototype-reference", source=spec)
        return factory
    if not rest and spec.endswith(".json"):
        return _load_manifest(resolve_path(spec, base), seed, source=spec, parents=_manifests)
    if rest:
        obj = _import_attr(spec)
        try:
            if callable(obj) and not hasattr(obj, "for_task") and not hasattr(obj, "act"):
                obj = obj()
            elif isinstance(obj, type):
                obj = obj()
        except SystemExit as err:
            raise ValueError(f"agent spec {spec!r}: calling it exited (SystemExit({err.code!r})); expected it to "
                             "return an agent or an agent factory") from None
        default = spec.rpartition(":")[2].replace("_", "-")
        if hasattr(obj, "for_task"):
            obj.metadata = AgentMetadata.coerce(getattr(obj, "metadata", None), default_name=default, source=spec)
            return obj
        _check_agent(obj, f"{spec!r}")
        meta = AgentMetadata.coerce(getattr(obj, "metadata", None), default_name=default, source=spec)
        return AgentObjectFactory(obj, meta)
    raise ValueError(f"cannot interpret agent spec {spec!r}: expected one of {list(REFERENCE_AGENTS)}, sb3:PATH, "
                     "PATH.zip, checkpoint:PATH, PATH.pt, prototype:PATH, PATH.json (manifest) or module:factory")


def _load_manifest(path: Path, seed: int, source: str, parents: tuple[Path, ...] = ()) -> ManifestFactory:
    if path.resolve() in parents:
        raise ValueError(f"agent manifest {path} names itself (through {[str(p) for p in parents]}); expected "
                         "per-task specs of checkpoints, models or other manifests without a cycle")
    data = read_json_file(path, "agent manifest", max_bytes=2**20)
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict) or "metadata" not in data:
        raise ValueError(f"agent manifest {path} must be an object with 'metadata' (name, ...) and 'tasks' "
                         "({task name: agent spec})")
    factories = {name: load_agent(s, seed=seed, base=path.parent, _manifests=(*parents, path.resolve()))
                 for name, s in data["tasks"].items()}
    meta = AgentMetadata.coerce(data["metadata"], default_name=path.stem, source=source)
    return ManifestFactory(meta, factories)



def describe_source(spec: str) -> str:
    """What loading ``spec`` with ``load_agent`` does, and whether that runs code (for ``verify --trust``)."""
    if spec in REFERENCE_AGENTS:
        return f"the built-in reference agent {spec!r} (package code only)"
    kind, _, rest = spec.partition(":")
    if kind == "sb3" or (not rest and spec.endswith(".zip")):
        return (f"unpickles the Stable-Baselines3 model {rest or spec!r}: SB3's load runs pickle, which can execute "
                "any code the file's author put in it")
    if kind == "checkpoint" or (not rest and spec.endswith(".pt")):
        return (f"reads the plastic-network checkpoint {rest or spec!r} with torch.load(weights_only=True) (tensors "
                "and plain data only; the network is package code)")
    if kind == "prototype" and rest:
        return (f"reads the image encoder of the plastic-network checkpoint {rest!r} with "
                "torch.load(weights_only=True) (the prototype rule is package code)")
    if not rest and spec.endswith(".json"):
        return (f"reads the manifest {spec!r} and loads each of its per-task specs, which may name SB3 zips "
                "(pickle) or Python modules (imported and run)")
    if rest:
        return f"imports {kind!r} and calls {rest!r}: runs that Python code with your permissions"
    return f"nothing loadable ({spec!r} is not an agent spec)"


def check_suite_tasks(factory: Any, task_names: list[str]) -> None:
    """A manifest naming a task the suite lacks is an error (it would never be played, and its suite task would
    silently fall back to no-memory)."""
    named = getattr(factory, "factories", None)
    if isinstance(factory, ManifestFactory) and isinstance(named, dict):
        unknown = sorted(set(named) - {*task_names, "*"})
        if unknown:
            raise ValueError(f"agent {factory.metadata.name!r} ({factory.metadata.source}) names task(s) {unknown} "
                             f"that the suite does not have; its tasks: {task_names}")
