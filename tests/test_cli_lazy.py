"""The console script is torch-free where it can be, and the packages' lazy exports (PEP 562) are complete.

``plastic-gym --help``, ``plastic-gym tasks`` and ``plastic-gym evaluate`` of env-only agents must not import
torch or Stable-Baselines3: each command runs in a fresh interpreter and reports which of them ``sys.modules``
holds afterwards.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "stable_baselines3", "sb3_contrib")

#: Runs ``plastic_gym.cli.main(argv)`` (argv as JSON in sys.argv[1]), then prints rc and the heavy modules loaded.
#: ``sys.argv[2:]`` names modules to hide (as if not installed).
RUNNER = f"""
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None
from plastic_gym.cli import main
try:
    rc = main(json.loads(sys.argv[1]))
except SystemExit as exit:  # --help
    rc = exit.code
heavy = sorted(m for m in {HEAVY!r} if sys.modules.get(m) is not None)
print(json.dumps({{"rc": rc, "heavy": heavy}}))
"""


def run_cli(argv: list[str], cwd, hide: tuple[str, ...] = ()) -> tuple[dict, subprocess.CompletedProcess]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(argv), *hide], cwd=cwd, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), out


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["tasks", "--episodes", "2"],
    ["evaluate", "--agent", "random", "--suite", "rl-v0", "--episodes", "8", "--out", "rl.json", "--no-progress"],
    ["evaluate", "--agent", "no-memory", "--episodes", "2", "--out", "v0.json", "--no-progress"],
], ids=["help", "tasks", "evaluate-random-rl-v0", "evaluate-no-memory-v0"])
def test_env_only_commands_never_import_torch_or_sb3(argv, tmp_path):
    report, out = run_cli(argv, tmp_path)
    assert report == {"rc": 0, "heavy": []}, out.stderr[-2000:]
    if argv[0] == "--help":  # every command is listed, the torch ones included
        assert all(command in out.stdout for command in ("tasks", "train", "evaluate", "baseline"))
    if argv[0] == "evaluate":
        result = json.loads((tmp_path / argv[argv.index("--out") + 1]).read_text())
        assert result["format"] == "plastic-gym-result" and result["tasks"]


def test_missing_extra_at_run_time_names_what_to_install(tmp_path):
    """An SB3 zip evaluated without Stable-Baselines3: exit code 2 and the install line, not a traceback."""
    (tmp_path / "model.zip").write_bytes(b"")
    report, out = run_cli(["evaluate", "--agent", "model.zip", "--episodes", "2", "--out", "r.json"], tmp_path,
                          hide=("stable_baselines3",))
    assert report["rc"] == 2
    assert "`plastic-gym evaluate` needs stable_baselines3" in out.stderr and "plastic-gym[agents]" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "r.json").exists()


def _type_checking_imports(package) -> dict[str, str]:
    """name -> module of the ``from .module import name`` lines under ``if TYPE_CHECKING:`` in a package's source."""
    tree = ast.parse(inspect.getsource(package))
    blocks = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    assert len(blocks) == 1
    return {alias.name: node.module for node in blocks[0].body if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names}


@pytest.mark.parametrize("name", ["plastic_gym.agents", "plastic_gym.leaderboard"])
def test_lazy_exports_are_complete_and_match_the_type_checking_imports(name):
    if name == "plastic_gym.agents":
        pytest.importorskip("torch")
        pytest.importorskip("sb3_contrib")
    package = importlib.import_module(name)
    assert package.__all__ == sorted(package._EXPORTS)
    assert _type_checking_imports(package) == package._EXPORTS
    for export, module in package._EXPORTS.items():
        value = getattr(package, export)
        assert value is getattr(importlib.import_module(f"{name}.{module}"), export)
        assert vars(package)[export] is value  # cached: later reads are plain attribute lookups
        assert value.__module__ == f"{name}.{module}"  # defined there, not re-exported from elsewhere
        assert export in dir(package)
    namespace: dict = {}
    exec(f"from {name} import *", namespace)  # noqa: S102  (the star import follows __all__)
    assert set(package.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'NotAName'"):
        package.NotAName  # noqa: B018
    assert not hasattr(package, "NotAName")
