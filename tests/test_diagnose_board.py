"""``plastic-gym diagnose`` (leaderboard/diagnose_board.py): diagnostics added to a board's submissions without
retraining, on a tiny board in tmp_path: the scores are re-checked per episode, every other field stays as it was,
mismatches and untrusted entries are refused, and the board is re-rendered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from plastic_gym.leaderboard.agents import load_agent
from plastic_gym.leaderboard.board import Board
from plastic_gym.leaderboard.diagnose_board import diagnose_board
from plastic_gym.leaderboard.evaluate import evaluate
from plastic_gym.leaderboard.results import read_json, write_json_atomic
from plastic_gym.leaderboard.submit import submit
from plastic_gym.leaderboard.suite import load_suite

TASKS = [{"name": "copy", "env_id": "PlasticCopy-v0", "kwargs": {"seq_length": 4, "delay": 2}, "episodes": 8,
          "seed": 10000000},
         {"name": "regression", "env_id": "PlasticRegression-v0", "kwargs": {}, "episodes": 8, "seed": 10400000}]
TRUSTED = ("random", "no-memory", "oracle")  # the default references: a custom suite's trusted list


@pytest.fixture
def board(tmp_path):
    """A board of a custom suite with the three references and one untrusted entry, none with diagnostics."""
    path = tmp_path / "suite_diag-board.json"
    path.write_text(json.dumps({"name": "diag-board", "version": 0, "tasks": TASKS}))
    suite = load_suite(path)
    mine = load_agent("random", seed=3)
    mine.metadata = replace(mine.metadata, name="mine")
    doc = evaluate([*(load_agent(n) for n in TRUSTED), mine], suite, progress=False)
    submit(write_json_atomic(tmp_path / "r.json", doc), tmp_path / "boards", suite=suite)
    return suite, Board.for_suite(suite, tmp_path / "boards"), path


def _files(b: Board) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(b.submissions.glob("*.json"))}


def test_diagnose_adds_the_diagnostics_and_changes_nothing_else(board):
    suite, b, _ = board
    before = _files(b)
    ok, report = diagnose_board(suite, b.root, progress=False, announce=lambda _: None)
    assert ok, report
    after = _files(b)
    assert after["mine"] == before["mine"] and "mine: skipped: not on the trusted list" in report
    for name in TRUSTED:
        old, new = json.loads(before[name]), json.loads(after[name])
        diag = new["agents"][0].pop("diagnostics")
        assert new == old  # every other field as it was
        assert set(diag) == {"episodes", "memory_span", "points"} and f"{name}: scores unchanged" in report
    oracle = json.loads(after["oracle"])["agents"][0]["diagnostics"]
    assert oracle["memory_span"]["span"] == 160 and oracle["points"]["regression"]["normalized"] == [1.0] * 5
    # the re-run matched per episode: recorded as verified, for the bytes now on the board
    docs, statuses = b.load()
    assert {n: s is not None for n, s in statuses.items()} == {**{n: True for n in TRUSTED}, "mine": False}
    from plastic_gym.leaderboard.render import pages

    assert pages(docs, statuses, b.name)["LEADERBOARD.md"] == (b.dir / "LEADERBOARD.md").read_bytes()  # not stale
    text = (b.dir / "LEADERBOARD.md").read_text()
    assert "## Within-episode diagnostics" in text and "regression n=20" in text
    assert (b.dir / "diagnostics.png").read_bytes().startswith(b"\x89PNG")
    # a second run has nothing to do and writes nothing
    ok, report = diagnose_board(suite, b.root, progress=False, announce=lambda _: None)
    assert ok and _files(b) == after and "mine: skipped" in report and "scores unchanged" not in report


def test_diagnose_refuses_a_submission_whose_scores_change(board):
    suite, b, _ = board
    path = b.submission_path("random")
    doc = read_json(path)
    doc["agents"][0]["seed"] = 1  # the re-run draws other random actions than the stored ones
    write_json_atomic(path, doc, overwrite=True)
    before = _files(b)
    ok, report = diagnose_board(suite, b.root, names=["random", "oracle"], progress=False, announce=lambda _: None)
    assert not ok and "random: REFUSED: the re-run's scores differ" in report and "MISMATCH" in report
    after = _files(b)
    assert after["random"] == before["random"] and "diagnostics" in json.loads(after["oracle"])["agents"][0]
    with pytest.raises(ValueError, match="no submission"):
        diagnose_board(suite, b.root, names=["nobody"], progress=False)


def test_cli(board, capsys):
    from plastic_gym.cli import main

    suite, b, path = board
    assert main(["diagnose", "oracle", "--suite", str(path), "--board", str(b.root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "oracle: scores unchanged" in out and "diagnose: " in out and " s" in out
    assert "diagnostics" in read_json(b.submission_path("oracle"))["agents"][0]
    assert "diagnostics" not in read_json(b.submission_path("no-memory"))["agents"][0]
    assert main(["diagnose", "nobody", "--suite", str(path), "--board", str(b.root), "--no-progress"]) == 2


def test_a_submission_replaced_during_the_re_run_is_left_alone(board, monkeypatch):
    import plastic_gym.leaderboard.evaluate as E

    suite, b, _ = board
    real = E.evaluate

    def evaluate_then_replace(*args, **kwargs):
        out = real(*args, **kwargs)
        doc = read_json(b.submission_path("oracle"))
        doc["agents"][0]["metadata"]["description"] = "resubmitted meanwhile"
        write_json_atomic(b.submission_path("oracle"), doc, overwrite=True)
        return out

    monkeypatch.setattr(E, "evaluate", evaluate_then_replace)
    ok, report = diagnose_board(suite, b.root, names=["oracle", "no-memory"], progress=False,
                                announce=lambda _: None)
    assert not ok and "oracle: NOT WRITTEN: its file changed" in report
    oracle = read_json(b.submission_path("oracle"))["agents"][0]
    assert oracle["metadata"]["description"] == "resubmitted meanwhile" and "diagnostics" not in oracle
    assert "diagnostics" in read_json(b.submission_path("no-memory"))["agents"][0]
