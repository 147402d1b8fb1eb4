"""Issue 18: one board per suite, all-or-nothing submits (also with concurrent processes and kill -9), no silent
overwrite, and the committed boards still load."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leaderboard_tiny import reference_result, single, tiny_suite

from plastic_gym.io import COMMIT_NAME, commit_files, folder_lock, recover, write_atomic
from plastic_gym.leaderboard.board import PACKAGE_DIR, Board, board_name_of
from plastic_gym.leaderboard.results import ResultError, read_json, schema_problems, write_json_atomic
from plastic_gym.leaderboard.submit import submit
from plastic_gym.leaderboard.suite import load_suite
from plastic_gym.leaderboard.trusted import trusted_entries

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    path, suite = tiny_suite(folder)
    return path, suite, read_json(reference_result(suite, folder))


def _state(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` except the lock (which only ever exists empty)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


# -- one board per suite ------------------------------------------------------------------------------------------
def test_committed_boards_and_baseline_results_still_load():
    board = Board(PACKAGE_DIR, "v0")
    docs, statuses = board.load()
    assert len(docs) == 18 and set(statuses) == set(board.names())
    assert set(board.names()) == {e.name for e in trusted_entries("v0")}  # every trusted agent has its row
    for name in ("rl-v0", "omniglot-v1"):  # the other committed boards hold their trusted agents too
        other = Board(PACKAGE_DIR, name)
        assert set(other.names()) == {e.name for e in trusted_entries(name)}, name
        assert set(other.load()[1]) == set(other.names())
    for path in sorted((REPO / "baselines" / "results").glob("*.json")):
        assert schema_problems(read_json(path)) == [], path


@pytest.mark.slow
def test_committed_files_pass_the_strict_checks():
    """Every committed submission and baseline result passes ``validate`` (scores recomputed; the references'
    replay is the slow part and is left out here)."""
    from plastic_gym.leaderboard.results import validate

    paths = [*(PACKAGE_DIR / "submissions").glob("*.json"), *(REPO / "baselines" / "results").glob("*.json")]
    for path in sorted(paths):
        validate(read_json(path), check_references=False)


def test_the_board_folder_is_never_inside_site_packages(tmp_path, monkeypatch):
    from plastic_gym.leaderboard import board

    monkeypatch.delenv("PLASTIC_GYM_BOARD", raising=False)
    assert board.default_root() == PACKAGE_DIR == REPO / "leaderboard"  # a checkout: its leaderboard/ folder
    installed = tmp_path / "site-packages" / "plastic_gym" / "leaderboard"
    installed.mkdir(parents=True)
    monkeypatch.setattr(board, "PACKAGE_DIR", installed)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert board.default_root() == tmp_path / "data" / "plastic-gym" / "leaderboard"
    monkeypatch.setenv("PLASTIC_GYM_BOARD", str(tmp_path / "mine"))
    assert board.default_root() == tmp_path / "mine"


def test_other_suites_get_their_own_board(tiny, tmp_path):
    root = tmp_path / "lb"
    shutil.copytree(PACKAGE_DIR / "submissions", root / "submissions")
    Board(root, "v0").update()
    v0_before = _state(root / "submissions") | {"LEADERBOARD.md": (root / "LEADERBOARD.md").read_bytes()}
    doc = single(tiny[2], "random")
    doc["agents"][0]["metadata"]["name"] = "aaa-omni"
    [written] = submit(write_json_atomic(tmp_path / "a.json", doc), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    assert written == board.submissions / "aaa-omni.json" and board.dir.parent == root / "boards"
    assert _state(root / "submissions") | {"LEADERBOARD.md": (root / "LEADERBOARD.md").read_bytes()} == v0_before
    assert "| copy | assoc |" in (board.dir / "LEADERBOARD.md").read_text()
    # a file of another suite dropped into the v0 board is refused, with its name, and nothing is rendered
    shutil.copy(written, root / "submissions" / "aaa-omni.json")
    with pytest.raises(ResultError, match=r"aaa-omni.json is not a valid submission of board 'v0': .*belongs to board"):
        Board(root, "v0").update()


def test_an_omniglot_result_goes_to_the_omniglot_board(tmp_path):
    from conftest import OMNIGLOT_DIR

    from plastic_gym.leaderboard.agents import load_agent
    from plastic_gym.leaderboard.evaluate import evaluate

    if not OMNIGLOT_DIR.exists():
        pytest.skip(f"Omniglot test subsets not found at {OMNIGLOT_DIR}")
    runtime = {"PlasticOmniglot-v0": {"root": str(OMNIGLOT_DIR)}}
    doc = evaluate([load_agent("no-memory")], load_suite("omniglot"), episodes=4, progress=False,
                   runtime_kwargs=runtime)
    doc["agents"][0]["metadata"]["name"] = "aaa-omni"
    root = tmp_path / "lb"
    [written] = submit(write_json_atomic(tmp_path / "o.json", doc), root, allow_short=True, runtime_kwargs=runtime)
    assert written == root / "boards" / "omniglot" / "submissions" / "aaa-omni.json"
    assert not (root / "submissions").exists()
    assert "| omniglot |" in (written.parent.parent / "LEADERBOARD.md").read_text()


def test_a_custom_suite_never_lands_on_a_built_in_board(tiny, tmp_path):
    path, suite = tiny_suite(tmp_path, name="v0")  # a 2-task suite calling itself v0
    assert suite.name == "v0" and board_name_of(suite.name, suite.hash) == "custom-" + suite.hash[7:19]
    assert board_name_of("v0", load_suite("v0").hash) == "v0"
    doc = read_json(reference_result(suite, tmp_path, names=("no-memory",)))
    root = tmp_path / "lb"
    [written] = submit(write_json_atomic(tmp_path / "r.json", doc, overwrite=True), root, allow_short=True, suite=suite)
    assert written.parent.parent.parent == root / "boards" and not (root / "submissions").exists()


# -- all or nothing -------------------------------------------------------------------------------------------------
def test_a_file_with_one_bad_agent_writes_nothing(tiny, tmp_path):
    doc = json.loads(json.dumps(tiny[2]))
    doc["agents"][1]["runs"][0]["copy"]["primary"][0] += 1.0  # the second agent's data no longer fits its scores
    with pytest.raises(ResultError, match="agents/1/"):
        submit(write_json_atomic(tmp_path / "r.json", doc), tmp_path / "lb", allow_short=True, suite=tiny[1])
    assert not (tmp_path / "lb").exists()


def test_an_unreadable_board_file_stops_submit_before_anything_is_written(tiny, tmp_path):
    root = tmp_path / "lb"
    submit(write_json_atomic(tmp_path / "a.json", single(tiny[2], "random")), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    (board.submissions / "broken.json").write_text("{")
    before = _state(board.dir)
    with pytest.raises(ResultError, match=r"broken.json is not valid JSON"):
        submit(write_json_atomic(tmp_path / "b.json", single(tiny[2], "no-memory")), root, allow_short=True,
               suite=tiny[1])
    assert _state(board.dir) == before


def test_a_stale_board_is_rendered_afresh_by_the_next_change(tiny, tmp_path):
    root = tmp_path / "lb"
    submit(write_json_atomic(tmp_path / "a.json", single(tiny[2], "random")), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    (board.dir / "LEADERBOARD.md").write_text("stale")
    submit(write_json_atomic(tmp_path / "b.json", single(tiny[2], "no-memory")), root, allow_short=True, suite=tiny[1])
    md = (board.dir / "LEADERBOARD.md").read_text()
    assert "**random**" in md and "**no-memory**" in md


def test_commit_is_finished_or_dropped_by_recover(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_text("old")
    # a writer killed after the decision: the next recover finishes it
    commit_files(folder, {"a": b"new", "b": b"B"}, new={"b"})
    assert (folder / "a").read_text() == "new" and (folder / "b").read_text() == "B"
    staged = folder / COMMIT_NAME
    staged.mkdir()
    (staged / "0").write_text("newer")
    (staged / "plan.json").write_text(json.dumps([{"staged": "0", "target": "a", "new": False}]))
    (folder / ".staging-x").mkdir()  # undecided: dropped
    with folder_lock(folder):
        assert recover(folder)
    assert (folder / "a").read_text() == "newer" and sorted(p.name for p in folder.iterdir()) == [".lock", "a", "b"]
    with pytest.raises(FileExistsError, match="b already exist"):
        commit_files(folder, {"b": b"x"}, new={"b"})
    with pytest.raises(ValueError, match="inside"):
        commit_files(folder, {"../x": b"x"})


class _Died(BaseException):
    """Stands for a kill -9: nothing after it runs, no handler cleans up."""


def test_a_commit_stopped_at_any_step_recovers_to_before_or_after(tmp_path, monkeypatch):
    """Stop ``commit_files`` before each of its file-system steps in turn; ``recover`` then gives the old or the new
    state exactly (the deterministic companion of the kill -9 loop)."""
    import plastic_gym.io as pio

    steps = ("fsync", "link", "replace", "rename", "unlink", "rmdir")
    real = {name: getattr(os, name) for name in steps}
    real_rmtree = shutil.rmtree
    outcomes = []
    for k in range(1, 60):
        folder = tmp_path / f"f{k}"
        folder.mkdir()
        (folder / "a").write_text("old")
        (folder / "c").write_text("kept")
        before = _state(folder)
        calls = [0]

        def counted(fn, k=k, calls=calls):  # this trial's k and counter
            def wrapper(*args, **kwargs):
                calls[0] += 1
                if calls[0] == k:
                    raise _Died
                return fn(*args, **kwargs)
            return wrapper

        for name in steps:
            monkeypatch.setattr(os, name, counted(real[name]))
        monkeypatch.setattr(pio.shutil, "rmtree", counted(real_rmtree))
        try:
            commit_files(folder, {"a": b"new", "sub/b": b"B"}, new={"sub/b"})
            died = False
        except _Died:
            died = True
        monkeypatch.undo()
        with folder_lock(folder):
            recover(folder)
        state = _state(folder)
        assert state in (before, {"a": b"new", "c": b"kept", "sub/b": b"B"}), (k, state)
        outcomes.append((died, state == before))
        if not died:
            break
    assert (True, True) in outcomes and (True, False) in outcomes and outcomes[-1] == (False, False)


# -- concurrency with real processes --------------------------------------------------------------------------------
_SUBMIT = ("import sys; from plastic_gym.leaderboard.submit import submit; from plastic_gym.leaderboard.suite import "
           "load_suite; submit(sys.argv[1], sys.argv[2], allow_short=True, suite=load_suite(sys.argv[3]))")


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def test_two_concurrent_submits_both_land(tiny, tmp_path):
    root = tmp_path / "lb"
    files = []
    for name in ("alpha", "beta"):
        doc = single(tiny[2], "random")
        doc["agents"][0]["metadata"]["name"] = name
        files.append(write_json_atomic(tmp_path / f"{name}.json", doc))
    procs = [subprocess.Popen([sys.executable, "-c", _SUBMIT, str(f), str(root), str(tiny[0])], env=_env())
             for f in files]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    board = Board.for_suite(tiny[1], root)
    assert board.names() == ["alpha", "beta"]
    md = (board.dir / "LEADERBOARD.md").read_text()
    assert "**alpha**" in md and "**beta**" in md
    assert sorted(p.name for p in board.dir.iterdir() if p.name.startswith(".")) == [".lock"]


_WRITE = ("import sys, time; from plastic_gym.io import write_atomic\n"
          "while time.time() < float(sys.argv[3]): pass\n"
          "try:\n    write_atomic(sys.argv[1], sys.argv[2].encode(), overwrite=False)\nexcept FileExistsError:\n"
          "    sys.exit(3)\n")


@pytest.mark.slow
def test_no_overwrite_write_has_exactly_one_winner_among_processes(tmp_path):
    for trial in range(2):
        target = tmp_path / f"t{trial}.json"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _WRITE, str(target), str(i), str(start)]) for i in range(2)]
        codes = sorted(p.wait(timeout=60) for p in procs)
        assert codes == [0, 3]
        assert target.read_text() in ("0", "1")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"x", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t0.json", "t1.json"]  # no temp files left


def test_no_overwrite_write_has_exactly_one_winner_among_threads(tmp_path):
    import threading

    for trial in range(20):
        target, barrier, wins = tmp_path / f"t{trial}", threading.Barrier(4), []

        def write(i, target=target, barrier=barrier, wins=wins):  # this trial's
            barrier.wait()
            try:
                write_atomic(target, str(i).encode(), overwrite=False)
                wins.append(i)
            except FileExistsError:
                pass

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert len(wins) == 1 and target.read_text() == str(wins[0])
    assert len(list(tmp_path.iterdir())) == 20  # no temp files left


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_before_or_after(tiny, tmp_path):
    """Kill a submit at spread-out moments; after recovery the board is exactly its state before or after."""
    root = tmp_path / "lb"
    submit(write_json_atomic(tmp_path / "a.json", single(tiny[2], "random")), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    doc = single(tiny[2], "no-memory")
    new = write_json_atomic(tmp_path / "n.json", doc)
    before = _state(board.dir)
    scratch = tmp_path / "after"
    shutil.copytree(root, scratch)
    submit(new, scratch, allow_short=True, suite=tiny[1])
    after_names = Board.for_suite(tiny[1], scratch).names()
    full = time.monotonic()
    subprocess.run([sys.executable, "-c", _SUBMIT, str(new), str(scratch / "x"), str(tiny[0])], env=_env(), check=True)
    duration = time.monotonic() - full
    outcomes = {"before": 0, "after": 0, "killed mid-commit": 0}
    for i in range(24):
        proc = subprocess.Popen([sys.executable, "-c", _SUBMIT, str(new), str(root), str(tiny[0])], env=_env())
        time.sleep(duration * (0.55 + 0.55 * i / 24))  # the commit comes at the end of a submit
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcomes["killed mid-commit"] += any(p.name.startswith((".staging-", COMMIT_NAME)) for p in board.dir.iterdir())
        docs, _ = board.load()  # recovers first, like every reader
        state = _state(board.dir)
        if state == before:
            outcomes["before"] += 1
        else:
            assert board.names() == after_names and [d["agents"][0]["metadata"]["name"] for d in docs] == after_names
            assert state.keys() == before.keys() | {f"submissions/{doc['agents'][0]['metadata']['name']}.json"}
            assert state["submissions/no-memory.json"] == (scratch / board.dir.relative_to(root) /
                                                           "submissions/no-memory.json").read_bytes()
            assert b"**no-memory**" in state["LEADERBOARD.md"]
            outcomes["after"] += 1
            shutil.rmtree(board.dir)  # back to before for the next round
            for rel, data in before.items():
                (board.dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (board.dir / rel).write_bytes(data)
    print(outcomes)
    assert outcomes["before"] and outcomes["after"], outcomes


def test_json_files_with_a_key_twice_are_refused(tmp_path):
    from plastic_gym.io import read_json_file

    path = tmp_path / "trusted.json"
    path.write_text('{"v0": [], "rl-v0": [], "v0": [{"name": "x", "source": "x"}]}')
    with pytest.raises(ValueError, match="the key 'v0' appears twice"):
        read_json_file(path, "trusted list")
    path.write_text('{"a": {"b": 1, "c": {"b": 2}}}')  # the same key in different objects is fine
    assert read_json_file(path)["a"]["c"]["b"] == 2
