"""CONTRIBUTING.md's "Add a task" worked example runs as written: the task module, its registration line and its
test, with the id registered under a test-only name so that the suite's ids stay as they are."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import plastic_gym

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"
MODULE = "plastic_gym.tasks._contributing_example"


def section_blocks(title: str) -> dict[str, str]:
    """The python blocks of a CONTRIBUTING section, by the file their first comment line names."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"```python\n# ([\w/]+\.py)\b[^\n]*\n(.*?)```", text[start:end if end > 0 else None], re.S)
    return {path: body for path, body in blocks}


@pytest.fixture(scope="module")
def recall_module():
    """The example's task module, loaded as a module of ``plastic_gym.tasks`` (its relative imports resolve there)."""
    spec = importlib.util.spec_from_loader(MODULE, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "plastic_gym.tasks"
    exec(section_blocks("Add a task")["plastic_gym/tasks/recall.py"], module.__dict__)  # noqa: S102  (our own doc)
    sys.modules[MODULE] = module
    yield module
    del sys.modules[MODULE]


def test_add_a_task_example(recall_module):
    blocks = section_blocks("Add a task")
    entry = ast.literal_eval("{" + blocks["plastic_gym/registration.py"] + "}")
    env_id, (module, stem, kwargs) = entry.popitem()
    assert (env_id, module, stem, kwargs) == ("PlasticRecall-v0", "recall", "PlasticRecall", {})
    test_id = "PlasticContributingRecall-v0"
    gym.register(id=test_id, entry_point=f"{MODULE}:{stem}Env", vector_entry_point=f"{MODULE}:{stem}VectorEnv")
    try:
        check_env(gym.make(test_id).unwrapped)
        envs = gym.make_vec(test_id, num_envs=4, delay=2)
        obs, _ = envs.reset(seed=0)
        alone, _ = gym.make(test_id, delay=2).reset(seed=3)
        np.testing.assert_array_equal(obs[3], alone)  # env i plays what reset(seed=0 + i) plays
        with pytest.raises(ValueError, match="delay"):
            plastic_gym.make_task(test_id, delay=-1)
        namespace = {"plastic_gym": plastic_gym, "pytest": pytest}
        exec(blocks["tests/test_tasks.py"].replace("PlasticRecall-v0", test_id), namespace)  # noqa: S102
        namespace["test_recall_references"]()
    finally:
        del gym.registry[test_id]
