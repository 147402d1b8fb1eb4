"""Issue 18: submissions are data. What a submission names is never executed by submit, evaluate (the main job) or
verify; only ``verify NAME --trust`` loads it, and says so. Flags, names and free text are the board's, not the
file's; every bad input is a one-line error."""

from __future__ import annotations

import base64
import copy
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from leaderboard_tiny import marker_module, reference_result, single, tiny_suite

from plastic_gym.cli import main
from plastic_gym.leaderboard.board import Board
from plastic_gym.leaderboard.results import ResultError, read_json, write_json_atomic
from plastic_gym.leaderboard.submit import submit
from plastic_gym.leaderboard.trusted import DEFAULT_REFERENCES, trusted_entries, trusted_list


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    path, suite = tiny_suite(folder)
    return path, suite, read_json(reference_result(suite, folder))


def _submission(tiny, tmp_path, name: str, source: str, base: str = "no-memory") -> Path:
    """A valid result file: the ``base`` reference's data renamed ``name`` with ``source`` as its agent spec."""
    doc = single(tiny[2], base)
    doc["agents"][0]["metadata"].update(name=name, source=source, privileged=False, description="a test entry")
    return write_json_atomic(tmp_path / f"{name}.json", doc)


class _Marker:
    """Unpickling this creates the marker file (``open(path, "w")``): SB3's load unpickles such fields."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_sb3_zip(path: Path, marker: Path) -> Path:
    data = {"policy_class": {":type:": "<class 'type'>",
                             ":serialized:": base64.b64encode(pickle.dumps(_Marker(marker))).decode()}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data", json.dumps(data))
    return path


@pytest.mark.parametrize("kind", ["module", "sb3"])
def test_submit_evaluate_and_verify_never_run_a_submitted_source(tiny, tmp_path, capsys, kind):
    marker = tmp_path / "MARKER"
    source = (f"{marker_module(tmp_path, marker)}:make" if kind == "module"
              else f"sb3:{_evil_sb3_zip(tmp_path / 'evil.zip', marker)}")
    root = tmp_path / "boards"
    result = _submission(tiny, tmp_path, "evil", source)
    assert main(["submit", str(result), "--suite", str(tiny[0]), "--allow-short", "--board-dir", str(root)]) == 0
    # the main job: the trusted list only, whatever the board holds
    out = tmp_path / "main.json"
    assert main(["evaluate", "--suite", str(tiny[0]), "--out", str(out), "--no-progress"]) == 0
    assert [a["metadata"]["name"] for a in read_json(out)["agents"]] == [e.name for e in DEFAULT_REFERENCES]
    capsys.readouterr()
    assert main(["verify", "evil", "--suite", str(tiny[0]), "--board-dir", str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not on the trusted list" in err and "--trust" in err and source in err and len(err.splitlines()) == 1
    assert not marker.exists()
    board = Board.for_suite(tiny[1], root)
    assert board.load()[1]["evil"] is None  # self-reported


def test_trusted_files_come_from_the_package_not_the_current_folder(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from plastic_gym.leaderboard.trusted import anchored_spec, trusted_factories

    marker = tmp_path / "MARKER"
    planted = tmp_path / "baselines" / "checkpoints" / "lstm-s0" / "manifest.json"
    planted.parent.mkdir(parents=True)
    planted.write_text(json.dumps({"metadata": {"name": "lstm-s0"},
                                   "tasks": {"*": f"{marker_module(tmp_path, marker)}:make"}}))
    monkeypatch.chdir(tmp_path)
    [factory] = trusted_factories("v0", names=["lstm-s0"])
    assert not marker.exists() and factory.metadata.source == "baselines/checkpoints/lstm-s0/manifest.json"
    assert tmp_path not in Path(anchored_spec(factory.metadata.source)).parents
    with pytest.raises(ValueError, match="expected a path inside the package"):
        anchored_spec("../baselines/x.json")


def test_verify_trust_loads_the_source_and_says_so(tiny, tmp_path, capsys):
    marker = tmp_path / "MARKER"
    source = f"{marker_module(tmp_path, marker)}:make"
    root = tmp_path / "boards"
    submit(_submission(tiny, tmp_path, "zero", source, base="no-memory"), root, allow_short=True, suite=tiny[1])
    assert main(["verify", "zero", "--trust", "--suite", str(tiny[0]), "--board-dir", str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"verify --trust: loading {source!r} for submission 'zero': imports" in out and "runs that Python" in out
    assert marker.read_text() == "ran"  # it did run the file, as announced
    record = Board.for_suite(tiny[1], root).load()[1]["zero"]
    assert record["source"] == source and not record["trusted_list"] and record["versions"]["numpy"] == np.__version__
    submit(_submission(tiny, tmp_path, "other", "no-memory"), root, allow_short=True, suite=tiny[1])
    capsys.readouterr()
    assert main(["render", "--status", "verified", "--board-dir", str(root)]) == 0
    shown = [line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert shown == ["zero"]  # the self-reported row is filtered out; zero ranks first among verified rows


def test_verify_trust_of_an_sb3_zip_unpickles_it(tiny, tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    marker = tmp_path / "MARKER"
    root = tmp_path / "boards"
    source = f"sb3:PPO:{_evil_sb3_zip(tmp_path / 'evil.zip', marker)}"
    submit(_submission(tiny, tmp_path, "evil", source), root, allow_short=True, suite=tiny[1])
    code = main(["verify", "evil", "--trust", "--suite", str(tiny[0]), "--board-dir", str(root), "--no-progress"])
    assert "unpickles the Stable-Baselines3 model" in capsys.readouterr().out
    assert marker.exists() and code != 0  # the pickle ran (the point of the warning); the zip is no model


def test_verify_refuses_names_that_are_not_plain_entries(tiny, tmp_path, capsys):
    root = tmp_path / "boards"
    submit(_submission(tiny, tmp_path, "ok", "no-memory"), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    outside = tmp_path / "x.json"
    outside.write_text(json.dumps(single(tiny[2], "no-memory")))
    (board.submissions / "link.json").symlink_to(outside)
    for name in ("../../x", "../x", "link", "ok\n", "nosuch"):
        with pytest.raises(ValueError, match="no submission named"):
            board.submission_path(name)
        assert main(["verify", name, "--trust", "--suite", str(tiny[0]), "--board-dir", str(root)]) == 2
    assert "expected one of ['link', 'ok']" not in capsys.readouterr().err  # a link is not an entry


def test_a_source_that_exits_is_an_error_not_a_silent_success(tiny, tmp_path, capsys):
    assert main(["evaluate", "--agent", "sys:exit", "--suite", str(tiny[0]), "--out", str(tmp_path / "r.json"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "sys:exit" in err and "SystemExit" in err and not (tmp_path / "r.json").exists()
    root = tmp_path / "boards"
    submit(_submission(tiny, tmp_path, "quitter", "sys:exit"), root, allow_short=True, suite=tiny[1])
    assert main(["verify", "quitter", "--trust", "--suite", str(tiny[0]), "--board-dir", str(root)]) == 2
    assert "SystemExit" in capsys.readouterr().err
    quits = tmp_path / "quits.py"  # exits while playing, not while loading
    quits.write_text("import sys\nclass A:\n    def reset(self, n): return None\n"
                     "    def act(self, obs, state, start): sys.exit()\ndef make(): return A()\n")
    assert main(["evaluate", "--agent", f"{quits}:make", "--suite", str(tiny[0]), "--out", str(tmp_path / "r.json"),
                 "--no-progress"]) == 2
    assert "exited during the evaluation" in capsys.readouterr().err and not (tmp_path / "r.json").exists()


# -- flags and copies ----------------------------------------------------------------------------------------------
def test_a_copy_of_the_oracle_is_rejected(tiny, tmp_path):
    doc = single(tiny[2], "oracle")
    doc["agents"][0]["metadata"].update(name="best", privileged=False)
    with pytest.raises(ResultError, match=r"runs/0/assoc/primary .*values are those of the privileged oracle"):
        submit(write_json_atomic(tmp_path / "a.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    # the oracle's per-episode values in another agent's file, scores recomputed: the same
    from plastic_gym.leaderboard.scoring import score

    doc = single(tiny[2], "random")
    doc["agents"][0]["metadata"]["name"] = "sneaky"
    run = doc["agents"][0]["runs"][0]
    for t in doc["tasks"]:
        run[t["name"]]["primary"] = list(t["references"]["oracle"])
        run[t["name"]]["means"] = {t["primary_metric"]: float(np.mean(t["references"]["oracle"]))}
    doc["agents"][0]["scores"] = score(doc["tasks"], doc["agents"][0]["runs"])
    with pytest.raises(ResultError, match="privileged oracle"):
        submit(write_json_atomic(tmp_path / "s.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    assert not (tmp_path / "b").exists()


def test_the_reference_rows_hold_the_references_values(tiny, tmp_path):
    for name, other in (("no-memory", "random"), ("oracle", "random")):
        doc = single(tiny[2], other)
        doc["agents"][0]["metadata"].update(name=name, privileged=name == "oracle")
        with pytest.raises(ResultError, match=f"the trusted {name} reference's row must hold"):
            submit(write_json_atomic(tmp_path / f"{name}.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    assert not (tmp_path / "b").exists()


def test_privileged_and_reference_flags_come_from_the_trusted_list(tiny, tmp_path):
    doc = single(tiny[2], "no-memory")
    doc["agents"][0]["metadata"].update(name="claims-privilege", privileged=True)
    with pytest.raises(ResultError, match=r"metadata/privileged .*expected False \(decided by the trusted list"):
        submit(write_json_atomic(tmp_path / "p.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    doc["agents"][0]["metadata"].update(privileged=False, reference=True)
    with pytest.raises(ResultError, match="metadata/reference .*expected False"):
        submit(write_json_atomic(tmp_path / "p.json", doc, overwrite=True), tmp_path / "b", allow_short=True,
               suite=tiny[1])
    oracle = single(tiny[2], "oracle")
    oracle["agents"][0]["metadata"]["privileged"] = False  # the trusted oracle must stay privileged (unranked)
    with pytest.raises(ResultError, match="metadata/privileged .*expected True"):
        submit(write_json_atomic(tmp_path / "o.json", oracle), tmp_path / "b", allow_short=True, suite=tiny[1])


def test_shipped_trusted_list_matches_the_committed_board():
    from plastic_gym.leaderboard.agents import resolve_path
    from plastic_gym.leaderboard.board import PACKAGE_DIR

    entries = trusted_entries("v0")
    assert [e.name for e in entries if e.privileged] == ["oracle"]
    # the one unranked row of v0: the prototypical-network reference on the one-shot entries' shared encoder
    (proto,) = [e for e in entries if e.reference]
    assert proto.name == "prototype-reference" and proto.source.startswith("prototype:")
    assert resolve_path(proto.source.partition(":")[2]).is_file()
    board = Board(PACKAGE_DIR, "v0")
    assert sorted(e.name for e in entries) == board.names()  # every committed row is one the project re-runs
    for e in entries:
        if e.source.endswith(".json"):
            assert resolve_path(e.source).is_file()
    from plastic_gym.leaderboard.suite import SUITE_HASHES

    assert set(trusted_list()) <= set(SUITE_HASHES)  # only shipped suites
    from plastic_gym.leaderboard.agents import CLASSICAL_REFERENCES, REFERENCE_AGENTS

    rl = trusted_entries("rl-v0")  # the meta-RL suite: its classical algorithms are unranked reference rows
    assert [e.name for e in rl if e.privileged] == ["oracle"]
    assert sorted(e.name for e in rl if e.reference) == sorted(CLASSICAL_REFERENCES)
    assert all(e.source in REFERENCE_AGENTS for e in rl if e.privileged or e.reference)


def test_unranked_reference_rows(tiny, tmp_path, monkeypatch):
    from plastic_gym.leaderboard import trusted
    from plastic_gym.leaderboard.render import rows

    zero = trusted.TrustedEntry("zero", "no-memory", reference=True)
    listed = {**trusted_list(), Board.for_suite(tiny[1]).name: (*DEFAULT_REFERENCES, zero)}
    monkeypatch.setattr(trusted, "trusted_list", lambda: listed)
    doc = single(tiny[2], "no-memory")
    doc["agents"][0]["metadata"].update(name="zero", reference=True)
    root = tmp_path / "boards"
    submit(write_json_atomic(tmp_path / "z.json", doc), root, allow_short=True, suite=tiny[1])
    submit(write_json_atomic(tmp_path / "r.json", single(tiny[2], "random")), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    _, table = rows(*board.load(), board.name)
    assert [(r["name"], r["rank"]) for r in table] == [("random", 1), ("zero", None)]
    assert "**zero ‡**" in (board.dir / "LEADERBOARD.md").read_text()


# -- schema: names, text, sizes, tolerances, unknown keys -------------------------------------------------------------
def _meta(**kw):
    return lambda d: d["agents"][0]["metadata"].update(**kw)


def _set(path, value):
    def edit(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return edit


@pytest.mark.parametrize("edit, needle", [
    (_meta(name="abc\n"), "agents/0/metadata/name"),
    (_meta(name="../x"), "agents/0/metadata/name"),
    (_meta(regime="ppo\n# Heading"), "agents/0/metadata/regime"),
    (_meta(budget="x" * 501), "agents/0/metadata/budget"),
    (_meta(description="d" * 1001), "agents/0/metadata/description"),
    (_set(("bootstrap", "extra"), 1), "Additional properties are not allowed ('extra'"),
    (_set(("extra",), 1), "Additional properties are not allowed ('extra'"),
    (_meta(colour="red"), "Additional properties are not allowed ('colour'"),
    (_set(("agents", 0, "runs", 0, "copy", "means", "recall_mse"), 0.5), "means/recall_mse"),
    (_set(("agents", 0, "runs", 0, "copy", "fallback"), True), "runs/0/copy/fallback"),
    (_set(("agents", 0, "scores", "iqm", "interval"), [-5.0, 5.0]), "agents/0/scores/iqm/interval"),
])
def test_strict_schema(tiny, tmp_path, edit, needle):
    doc = single(tiny[2], "random")
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultError) as err:
        submit(path, tmp_path / "b", allow_short=True, suite=tiny[1])
    assert needle in str(err.value), str(err.value)
    assert not (tmp_path / "b").exists()


def test_the_files_scipy_field_does_not_loosen_the_tolerance(tiny, tmp_path):
    doc = single(tiny[2], "random")
    doc["bootstrap"]["scipy"] = "0.0-other"
    doc["agents"][0]["scores"]["iqm"]["interval"][0] -= 0.2
    with pytest.raises(ResultError, match="agents/0/scores/iqm/interval"):
        submit(write_json_atomic(tmp_path / "a.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    # within the fixed tolerance: accepted, but the board stores (and shows) the recomputed interval
    good = single(tiny[2], "random")
    doc = copy.deepcopy(good)
    doc["agents"][0]["scores"]["iqm"]["interval"][0] -= 0.01
    [path] = submit(write_json_atomic(tmp_path / "c.json", doc), tmp_path / "b", allow_short=True, suite=tiny[1])
    assert read_json(path)["agents"][0]["scores"] == good["agents"][0]["scores"]


def test_free_text_is_escaped_on_both_pages(tiny, tmp_path):
    doc = single(tiny[2], "random")
    doc["agents"][0]["metadata"].update(name="x", regime="a|b <script>alert(1)</script>", budget="# [link](http://e)",
                                        description="<img src=x onerror=alert(1)>")
    root = tmp_path / "b"
    submit(write_json_atomic(tmp_path / "x.json", doc), root, allow_short=True, suite=tiny[1])
    board = Board.for_suite(tiny[1], root)
    md, page = ((board.dir / n).read_text() for n in ("LEADERBOARD.md", "index.html"))
    row = next(line for line in md.splitlines() if "**x**" in line)
    assert row.count(" | ") == md.splitlines()[6].count(" | ")  # the | in the text did not add a column
    assert "a\\|b &lt;script&gt;" in row and "<script>alert" not in md
    assert "- B1: # \\[link\\]" in md  # the budget, listed under the table
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;img src=x onerror" in page


def test_file_size_limit(tiny, tmp_path, monkeypatch):
    from plastic_gym.leaderboard import results

    path = write_json_atomic(tmp_path / "r.json", single(tiny[2], "random"))
    monkeypatch.setattr(results, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ResultError, match="at most 1,000"):
        submit(path, tmp_path / "b", allow_short=True, suite=tiny[1])
    path.write_text('{"a": NaN}')
    monkeypatch.undo()
    with pytest.raises(ResultError, match="NaN is not a JSON number"):
        read_json(path)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ResultError, match="not UTF-8"):
        read_json(path)


# -- finite metrics, finished runs kept ---------------------------------------------------------------------------
def test_huge_actions_keep_metrics_finite(tiny, tmp_path):
    module = tmp_path / "huge.py"
    module.write_text("import numpy as np\n"
                      "class A:\n"
                      "    def reset(self, n): return None\n"
                      "    def act(self, obs, state, start): return np.full((len(start), 1), 1e20, np.float32), state\n"
                      "def make(): return A()\n")
    out = tmp_path / "r.json"
    assert main(["evaluate", "--agent", f"{module}:make", "--suite", str(tiny[0]), "--out", str(out),
                 "--no-progress"]) == 0
    run = read_json(out)["agents"][0]["runs"][0]
    assert np.isfinite(run["copy"]["primary"]).all() and min(run["copy"]["primary"]) > 1e35  # clipped at 1e18


def test_a_finished_evaluation_is_written_even_if_it_cannot_be_valid(tmp_path, capsys):
    from plastic_gym.leaderboard.cli import _write_result

    out = tmp_path / "r.json"
    assert _write_result(out, {"agents": [{"x": [1.0, float("nan")]}]}, force=False) == 1
    assert json.loads(out.read_text()) == {"agents": [{"x": [1.0, None]}]}
    assert "wrote what was measured" in capsys.readouterr().err


# -- one-line errors -----------------------------------------------------------------------------------------------
def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def test_evaluate_errors_are_one_line(tiny, tmp_path, capsys):
    out = ["--out", str(tmp_path / "r.json"), "--no-progress"]
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    if __import__("importlib").util.find_spec("torch") is not None:
        assert main(["evaluate", "--agent", str(empty), "--suite", str(tiny[0]), *out]) == 2
        _one_line_error(capsys, "empty.pt", "corrupt")
    loop = tmp_path / "loop.json"
    loop.write_text(json.dumps({"metadata": {"name": "loop"}, "tasks": {"copy": "loop.json"}}))
    assert main(["evaluate", "--agent", str(loop), "--suite", str(tiny[0]), *out]) == 2
    _one_line_error(capsys, "loop.json names itself")
    assert main(["evaluate", "--suite", "nosuch", *out]) == 2
    _one_line_error(capsys, "--suite", "unknown suite 'nosuch'")
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"name": "caf\xe9"}'.encode("latin-1"))
    assert main(["evaluate", "--suite", str(latin), *out]) == 2
    _one_line_error(capsys, "latin.json is not UTF-8")
    manifest = tmp_path / "m.json"
    manifest.write_bytes(b'{"metadata": {"name": "m"}, "tasks": {"copy": "\xff.pt"}}')
    assert main(["evaluate", "--agent", str(manifest), "--suite", str(tiny[0]), *out]) == 2
    _one_line_error(capsys, "agent manifest", "m.json is not UTF-8")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"metadata": {"name": "e"}, "tasks": {"copy": "no-memory", "copy-long": "random"}}))
    assert main(["evaluate", "--agent", str(elsewhere), "--suite", str(tiny[0]), *out]) == 2
    _one_line_error(capsys, "names task(s) ['copy-long'] that the suite does not have")
    with pytest.raises(SystemExit):  # argparse: at once, before any evaluation
        main(["evaluate", "--agent", "no-memory", "--suite", str(tiny[0]), "--episodes", "1", *out])
    assert "expected an int >= 2" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    from plastic_gym.leaderboard.evaluate import evaluate

    with pytest.raises(ValueError, match="episodes must be an int >= 2"):  # the API too, before playing
        evaluate([], tiny[1], episodes=1, progress=False)


def test_train_errors_are_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    base = ["train", "--task", "PlasticCopy-v0", "--rule", "hebbian", "--cell", "rnn", "--steps", "1", "--no-progress"]
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main([*base, "--out", str(afile / "run")]) == 2
    _one_line_error(capsys, f"--out {afile / 'run'}", "Not a directory")
    assert main([*base, "--out", str(tmp_path / "r"), "--plastic", "bogus=1"]) == 2
    _one_line_error(capsys, "--plastic: unknown PlasticConfig field(s) ['bogus']")
    with pytest.raises(SystemExit):
        main([*base, "--out", str(tmp_path / "r"), "--threads", "-1"])
    assert "--threads: expected an int >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_during_train_is_one_line(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "plastic_gym.cli", "train", "--task", "PlasticCopy-v0", "--rule",
                             "hebbian", "--cell", "rnn", "--steps", "100000", "--val-every", "2", "--threads", "1",
                             "--out", str(out), "--no-progress"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err and "--resume" in err, err
