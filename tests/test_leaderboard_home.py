"""Where boards live: ``--board DIR`` when given; else the checkout's ``leaderboard/`` folder when plastic-gym runs
from a source checkout; else the user data folder ``$PLASTIC_GYM_HOME/leaderboard`` for an installed package, which
never writes into its own (site-packages) folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from leaderboard_tiny import reference_result, single, tiny_suite

from plastic_gym.cli import main
from plastic_gym.leaderboard import board
from plastic_gym.leaderboard.board import PACKAGE_DIR, Board
from plastic_gym.leaderboard.results import read_json, write_json_atomic
from plastic_gym.leaderboard.suite import load_suite

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    path, suite = tiny_suite(folder)
    doc = single(read_json(reference_result(suite, folder)), "no-memory")
    return path, suite, write_json_atomic(folder / "no-memory.json", doc)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_board_flag_chooses_the_folder(tiny, tmp_path, monkeypatch, capsys):
    """``--board DIR`` (and its older spelling ``--board-dir``) on submit, verify and render: every file is written
    under DIR, whatever the environment says."""
    suite_path, suite, result = tiny
    monkeypatch.setenv("PLASTIC_GYM_BOARD", str(tmp_path / "env-board"))
    monkeypatch.setenv("PLASTIC_GYM_HOME", str(tmp_path / "home"))
    root = tmp_path / "mine"
    capsys.readouterr()
    assert main(["render", "--board", str(root)]) == 0 and not root.exists()  # nothing to render, nothing created
    assert f"no boards in {root}" in capsys.readouterr().out
    assert main(["submit", str(result), "--suite", str(suite_path), "--allow-short", "--board", str(root)]) == 0
    name = Board.for_suite(suite, root).name
    assert main(["verify", "no-memory", "--suite", str(suite_path), "--board", str(root), "--no-progress"]) == 0
    assert main(["render", "--board-dir", str(root)]) == 0
    assert _files(root) >= {f"boards/{name}/submissions/no-memory.json", f"boards/{name}/verified.json",
                            f"boards/{name}/LEADERBOARD.md", f"boards/{name}/index.html"}
    assert Board(root, name).load()[1]["no-memory"] is not None  # verified
    assert not (tmp_path / "env-board").exists() and not (tmp_path / "home").exists()


def test_a_checkout_uses_its_leaderboard_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("PLASTIC_GYM_BOARD", raising=False)
    monkeypatch.setenv("PLASTIC_GYM_HOME", str(tmp_path / "home"))  # for installed packages only
    assert board.from_checkout() and board.default_root() == PACKAGE_DIR == REPO / "leaderboard"
    assert Board.for_suite(load_suite("v0")).dir == REPO / "leaderboard"  # suite v0's board: the folder's top


def test_an_installed_package_uses_the_user_data_folder(monkeypatch, tmp_path):
    installed = tmp_path / "site-packages" / "plastic_gym" / "leaderboard"
    installed.mkdir(parents=True)
    monkeypatch.setattr(board, "PACKAGE_DIR", installed)
    monkeypatch.delenv("PLASTIC_GYM_BOARD", raising=False)
    monkeypatch.setenv("PLASTIC_GYM_HOME", str(tmp_path / "home"))
    assert not board.from_checkout() and board.default_root() == tmp_path / "home" / "leaderboard"
    monkeypatch.delenv("PLASTIC_GYM_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert board.user_home() == tmp_path / "data" / "plastic-gym"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert board.default_root() == tmp_path / "user" / ".local" / "share" / "plastic-gym" / "leaderboard"


#: Submits a result with the installed copy of the package (argv: suite file, result file) and prints where the
#: package was imported from and the boards' folder it used.
INSTALLED = """
import json, sys
import plastic_gym.leaderboard.board as board
from plastic_gym.cli import main
rc = main(["submit", sys.argv[2], "--suite", sys.argv[1], "--allow-short"])
print(json.dumps({"rc": rc, "package": str(board.PACKAGE_DIR), "root": str(board.default_root())}))
"""


def _install_copy(site: Path) -> Path:
    """The package's modules and data laid out as a wheel installs them (``plastic_gym/leaderboard/...``), without
    the checkout's boards or baseline checkpoints."""
    skip = shutil.ignore_patterns("__pycache__", "submissions", "boards", "checkpoints", "results", "*.md", "*.html",
                                  "*.png", "verified.json")
    shutil.copytree(REPO / "plastic_gym", site / "plastic_gym", ignore=skip)
    for folder in ("agents", "leaderboard", "baselines"):
        shutil.copytree(REPO / folder, site / "plastic_gym" / folder, ignore=skip)
    return site


def test_an_installed_copy_writes_into_plastic_gym_home_and_never_into_its_package(tiny, tmp_path):
    """A real interpreter with an installed layout (no pyproject.toml beside the package) and no ``--board``."""
    suite_path, suite, result = tiny
    site = _install_copy(tmp_path / "site-packages")
    before = _files(site)
    env = {**os.environ, "PYTHONPATH": str(site), "PLASTIC_GYM_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("PLASTIC_GYM_BOARD", None)
    out = subprocess.run([sys.executable, "-c", INSTALLED, str(suite_path), str(result)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"rc": 0, "package": str(site / "plastic_gym" / "leaderboard"),
                      "root": str(tmp_path / "home" / "leaderboard")}, out.stderr[-2000:]
    name = Board.for_suite(suite, tmp_path / "home" / "leaderboard").name
    assert f"boards/{name}/submissions/no-memory.json" in _files(tmp_path / "home" / "leaderboard")
    assert {f for f in _files(site) - before if "__pycache__" not in f} == set()  # nothing written into the package


@pytest.mark.slow
def test_the_wheel_ships_the_trusted_models_and_no_board(tmp_path):
    """Build the wheel from a copy of the source (the checkout is left alone): it holds the adapters, the suites,
    the schema, the trusted list and every file the trusted list plays, and none of the boards' files."""
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    keep = ("pyproject.toml", "README.md", "LICENSE", "plastic_gym", "agents", "leaderboard", "baselines")
    for name in keep:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", ".lock", ".commit"))
        elif (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True, text=True)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    lb = "plastic_gym/leaderboard/"
    assert {f"{lb}adapters/__init__.py", f"{lb}adapters/sb3.py", f"{lb}schema.json", f"{lb}trusted.json",
            f"{lb}suite_v0.json", f"{lb}suite_rl-v0.json"} <= names
    assert not [n for n in names if n.startswith(lb) and (n.endswith((".md", ".html", ".png")) or "submissions/" in n
                                                         or "boards/" in n or n.endswith("verified.json"))]
    trusted = json.loads((REPO / "leaderboard" / "trusted.json").read_text())
    for entry in (e for entries in trusted.values() for e in entries if e["source"].startswith("baselines/")):
        manifest = Path(entry["source"])
        assert f"plastic_gym/{manifest.as_posix()}" in names, entry
        for spec in json.loads((REPO / manifest).read_text())["tasks"].values():
            model = spec.rpartition(":")[2]
            assert f"plastic_gym/{manifest.parent.as_posix()}/{model}" in names, (entry, spec)
