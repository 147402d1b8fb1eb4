"""Agent specs through the adapters' prefix registry (``plastic_gym.leaderboard.adapters``): a new kind is one
``AgentKind`` and a ``register`` line; unknown specs name the known prefixes; SB3 zips name their algorithm (the spec
or a field stored in the zip), never a guess from the policy's name; the committed manifests still resolve."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from leaderboard_tiny import tiny_suite

from plastic_gym.leaderboard import adapters
from plastic_gym.leaderboard.adapters import AgentKind, describe_source, find_kind, load_agent, register
from plastic_gym.leaderboard.adapters.sb3 import STORED, split_spec, stored_algorithm
from plastic_gym.leaderboard.evaluate import evaluate
from plastic_gym.leaderboard.protocol import AgentMetadata

REPO = Path(__file__).resolve().parents[1]


# -- a toy kind, registered in the test (the worked example of CONTRIBUTING.md) -----------------------------------
class ConstantAgent:
    """Plays the same real-valued action on every step of every env."""

    def __init__(self, value: float):
        self.value = value

    def reset(self, num_envs: int):
        return None

    def act(self, obs, state, episode_start):
        return np.full((len(episode_start), 1), self.value, np.float32), state


class ConstantFactory:
    """``const:VALUE``: the constant agent on the tasks with one real-valued action (others fall back)."""

    def __init__(self, value: float, source: str):
        self.value = value
        self.metadata = AgentMetadata(name=f"const-{value:g}", parameters=0, state_floats=0, regime="none",
                                      source=source)

    def for_task(self, context):
        shape = getattr(context.action_space, "shape", None)
        return ConstantAgent(self.value) if shape == (1,) else None


def _load_constant(rest: str, context) -> ConstantFactory:
    try:
        value = float(rest)
    except ValueError:
        raise ValueError(f"agent spec {context.spec!r}: expected const:NUMBER") from None
    return ConstantFactory(value, source=context.spec)


TOY = AgentKind("const", _load_constant, lambda rest: f"a constant action {rest} (package code only)")


@pytest.fixture
def toy_kind(monkeypatch):
    """The registry with the toy kind added for one test (the registry is restored afterwards)."""
    monkeypatch.setattr(adapters, "KINDS", dict(adapters.KINDS))
    return register(TOY)


def test_a_registered_kind_loads_through_load_agent_and_plays(toy_kind, tmp_path):
    _, suite = tiny_suite(tmp_path)
    factory = load_agent("const:0.5", seed=3)
    assert isinstance(factory, ConstantFactory) and factory.metadata.source == "const:0.5"
    assert describe_source("const:0.5") == "a constant action 0.5 (package code only)"
    doc = evaluate([factory, load_agent("no-memory")], suite, episodes=4, progress=False)
    const, no_memory = doc["agents"]
    assert not const["runs"][0]["copy"]["fallback"]
    # copy targets are uniform in [-1, 1]: a constant 0.5 has MSE 1/3 + 1/4 against the no-memory 0's 1/3
    assert const["scores"]["tasks"]["copy"]["normalized"] < 0 == no_memory["scores"]["tasks"]["copy"]["normalized"]
    with pytest.raises(ValueError, match="expected const:NUMBER"):
        load_agent("const:abc")


def test_a_kind_cannot_take_a_registered_prefix_name_or_ending(toy_kind):
    for clash in (AgentKind("const", _load_constant, str), AgentKind("x", _load_constant, str, suffixes=(".zip",)),
                  AgentKind("y", _load_constant, str, names=("oracle",))):
        with pytest.raises(ValueError, match="clashes with the registered kind"):
            register(clash)


def test_the_built_in_kinds():
    assert sorted(adapters.KINDS) == ["checkpoint", "manifest", "prototype", "python", "reference", "sb3"]


# -- dispatch -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, prefix, rest", [
    ("oracle", "reference", "oracle"), ("reference:ucb1", "reference", "ucb1"),
    ("sb3:PPO:m.zip", "sb3", "PPO:m.zip"), ("m.zip", "sb3", "m.zip"), ("dir/m.pt", "checkpoint", "dir/m.pt"),
    ("checkpoint:c.bin", "checkpoint", "c.bin"), ("prototype:c.pt", "prototype", "c.pt"),
    ("entry/manifest.json", "manifest", "entry/manifest.json"), ("my.module:make", "python", "my.module:make"),
    ("agents/mine.py:make", "python", "agents/mine.py:make"), ("python:m:make", "python", "m:make"),
])
def test_specs_find_their_kind(spec, prefix, rest):
    kind, found = find_kind(spec)
    assert (kind.prefix, found) == (prefix, rest)


@pytest.mark.parametrize("spec", ["", "model.bin", "sb3:", ":make", "mod:"])
def test_an_unknown_spec_names_the_known_prefixes(spec):
    with pytest.raises(ValueError) as err:
        load_agent(spec)
    if spec:
        for prefix in ("reference", "sb3", "checkpoint", "prototype", "manifest", "python"):
            assert repr(prefix) in str(err.value)
    assert describe_source(spec).startswith("nothing loadable")


def test_a_manifest_that_names_itself_is_refused(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"metadata": {"name": "a"}, "tasks": {"copy": "b.json"}}))
    (tmp_path / "b.json").write_text(json.dumps({"metadata": {"name": "b"}, "tasks": {"copy": "a.json"}}))
    with pytest.raises(ValueError, match="names itself"):
        load_agent(str(tmp_path / "a.json"))
    (tmp_path / "c.json").write_text(json.dumps({"metadata": {"name": "c"}, "tasks": {"*": "no-memory"}}))
    factory = load_agent(str(tmp_path / "c.json"))
    assert factory.metadata.name == "c" and factory.factories["*"].kind == "no-memory"


# -- SB3: the algorithm is named --------------------------------------------------------------------------------
def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def test_the_stored_algorithm_is_read_as_json_only(tmp_path):
    assert stored_algorithm(_zip(tmp_path / "plain.zip", {"data": "{}"})) is None
    assert stored_algorithm(_zip(tmp_path / "named.zip", {STORED: '{"algorithm": "A2C"}'})) == "A2C"
    with pytest.raises(ValueError, match="must be"):
        stored_algorithm(_zip(tmp_path / "bad.zip", {STORED: '["PPO"]'}))
    (tmp_path / "not.zip").write_bytes(b"no zip")
    with pytest.raises(ValueError, match="is not a Stable-Baselines3 model zip"):
        stored_algorithm(tmp_path / "not.zip")
    assert split_spec("PPO:/abs/m.zip") == ("PPO", "/abs/m.zip") and split_spec("/abs/m.zip") == (None, "/abs/m.zip")


def test_a_zip_without_a_named_algorithm_is_refused_before_it_is_unpickled(tmp_path):
    pytest.importorskip("stable_baselines3")
    from plastic_gym.leaderboard.adapters.sb3 import algorithm_class

    path = _zip(tmp_path / "plastic-policy.zip", {"data": json.dumps({"policy_class": {"__module__": "plastic"}})})
    for spec in (str(path), f"sb3:{path}"):
        with pytest.raises(ValueError, match=r"name it: sb3:ALGO:"):
            load_agent(spec)
    with pytest.raises(ValueError, match="unknown Stable-Baselines3 algorithm 'Nope'"):
        load_agent(f"sb3:Nope:{path}")
    with pytest.raises(ValueError, match="unknown Stable-Baselines3 algorithm 'ZipFile'"):
        algorithm_class("ZipFile")  # only algorithm classes, whatever else the modules hold
    assert algorithm_class("PPO").__name__ == "PPO"


def test_every_committed_manifest_names_its_algorithms():
    """The committed baselines keep loading: every SB3 spec in a manifest names an algorithm class that exists."""
    pytest.importorskip("stable_baselines3")
    from plastic_gym.leaderboard.adapters.sb3 import algorithm_class

    manifests = sorted((REPO / "baselines" / "checkpoints").glob("*/manifest.json"))
    if not manifests:
        pytest.skip("no committed baselines in this checkout")
    kinds = set()
    for path in manifests:
        for spec in json.loads(path.read_text())["tasks"].values():
            kind, rest = find_kind(spec)
            kinds.add(kind.prefix)
            assert (path.parent / (split_spec(rest)[1] if kind.prefix == "sb3" else rest)).is_file(), (path, spec)
            if kind.prefix == "sb3":
                algo, _ = split_spec(rest)
                assert algo is not None and algorithm_class(algo).__name__ == algo, (path, spec)
    assert kinds == {"sb3", "checkpoint"}
