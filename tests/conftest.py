"""Shared fixtures: the registered ids and the location of the shared Omniglot subsets."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

import plastic_gym

REPO = Path(__file__).resolve().parents[1]
#: The two official Omniglot subsets beside the checkout (never copied into the project).
OMNIGLOT_DIR = Path(os.environ.get("PLASTIC_GYM_TEST_OMNIGLOT", REPO.parent / "shared" / "data" / "omniglot"))

#: Ids that need no data on disk.
EMBEDDED_IDS = tuple(i for i in plastic_gym.ENV_IDS if i != "PlasticOmniglot-v0")
#: Ids whose observations are plain vectors.
VECTOR_IDS = ("PlasticCopy-v0", "PlasticAssoc-v0", "PlasticRegression-v0", "PlasticRegressionMLP-v0")


def load_example(name: str) -> ModuleType:
    """The script ``examples/<name>.py`` imported as a module (the examples are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def env_kwargs(env_id: str) -> dict:
    """Constructor kwargs a test needs for an id (the Omniglot root, which must exist)."""
    if env_id == "PlasticOmniglot-v0":
        if not OMNIGLOT_DIR.exists():
            pytest.skip(f"Omniglot test subsets not found at {OMNIGLOT_DIR}")
        return {"root": str(OMNIGLOT_DIR)}
    return {}


@pytest.fixture(params=plastic_gym.ENV_IDS)
def env_id(request) -> str:
    return request.param


@pytest.fixture
def torch_one_thread():
    """Run torch on one thread for the test (small models are faster so, and results do not depend on the core
    count)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
