"""The documents point at things that exist: relative links and repository paths in inline code resolve to files,
and dotted names (``plastic_gym.core.task.Task``, ``leaderboard.agents.PolicyAgent``) to a module that defines the
name. Read with ``ast``; nothing is imported. Fenced code blocks are left out (they hold commands, outputs and the
worked examples of files a reader would create)."""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path

import pytest
from test_layout import ROOT, package_dirs, project_modules

DOCUMENTS = sorted({ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "SECURITY.md", ROOT / "baselines/RESULTS.md",
                    *(ROOT / "docs").glob("*.md")})
REPO_FOLDERS = ("plastic_gym/", "agents/", "leaderboard/", "baselines/", "benchmarks/", "examples/", "tests/", "docs/",
                ".ci/")
#: Folders the installed package names as ``plastic_gym.<folder>``: ``leaderboard.agents`` in a document is
#: ``plastic_gym.leaderboard.agents``.
SUBPACKAGES = ("agents", "leaderboard", "baselines")
FILE_NAME = re.compile(r"\.(?:py|json|jsonl|md|png|html|zip|pt|txt|ya?ml|csv|toml)$")


def prose(path: Path) -> str:
    """The document without its fenced code blocks."""
    return re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)


def referenced_paths(doc: Path) -> set[str]:
    """Repository paths the document points at: relative link targets (anchors dropped) and inline-code paths
    under a source folder (``path:line`` and ``path::test`` suffixes dropped; placeholders such as ``<name>`` and
    globs are not paths)."""
    text, found = prose(doc), set()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            found.add(Path(os.path.relpath((doc.parent / target.split("#")[0]).resolve(), ROOT)).as_posix())
    for code in re.findall(r"`([^`\s]+)`", text):
        if code.startswith(REPO_FOLDERS) and not re.search(r"[<>*{}]", code):
            found.add(code.split(":")[0].rstrip("/"))
    return found


@cache
def defined_names(path: Path) -> frozenset[str]:
    """Names a module binds anywhere (functions, classes, assignments, imports) plus the string keys of its dict
    literals (a package's lazy ``_EXPORTS``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Dict):
            names.update(k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return frozenset(names)


def unresolved_names(doc: Path, modules: dict[str, Path]) -> list[str]:
    """Dotted names in inline code that start with the package (or one of its folders) and do not resolve: the
    longest module prefix must exist and define the one name after it, if any (``module.Class.method`` is
    checked up to the class)."""
    bad = []
    for dotted in sorted(set(re.findall(r"`((?:plastic_gym|agents|leaderboard|baselines)(?:\.\w+)+)", prose(doc)))):
        if FILE_NAME.search(dotted):  # leaderboard.png, agents.py: a file, not a dotted name
            continue
        parts = dotted.split(".")
        if parts[0] in SUBPACKAGES:
            parts.insert(0, "plastic_gym")
        n = max(n for n in range(1, len(parts) + 1) if ".".join(parts[:n]) in modules)  # plastic_gym is one
        if n < len(parts) and parts[n] not in defined_names(modules[".".join(parts[:n])]):
            bad.append(dotted)
    return bad


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_paths_in_documents_exist(doc):
    missing = sorted(p for p in referenced_paths(doc) if not (ROOT / p).exists())
    assert not missing, f"{doc.relative_to(ROOT)} points at files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_dotted_names_in_documents_resolve(doc):
    bad = unresolved_names(doc, project_modules(package_dirs()))
    assert not bad, f"{doc.relative_to(ROOT)} names modules or objects that do not exist: {bad}"


def test_the_checkers_on_a_made_up_document(monkeypatch):
    doc = ROOT / "docs" / "made-up.md"  # resolved against the real tree, never written
    text = ("See [the board](../leaderboard/LEADERBOARD.md#top), [gone](gone.md), `agents/network.py:12`, "
            "`tests/test_layout.py::test_x`, `leaderboard/suite_<name>.json`, `https://x.org/a.md`.\n"
            "```bash\npython examples/missing.py\n```\n"
            "`plastic_gym.core.task.Task`, `plastic_gym.core.task.Nope`, `plastic_gym.nope`, "
            "`plastic_gym.make_task`, `leaderboard.suite.load_suite`, `agents.py`, `leaderboard.png`.\n")
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: text if self == doc else _read(self))
    assert referenced_paths(doc) == {"leaderboard/LEADERBOARD.md", "docs/gone.md", "agents/network.py",
                                     "tests/test_layout.py"}
    assert unresolved_names(doc, project_modules(package_dirs())) == ["plastic_gym.core.task.Nope", "plastic_gym.nope"]


def _read(path: Path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_readme_quickstart_runs_as_written(capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Quickstart\n")
    snippet = re.search(r"```python\n(.*?)```", text[start:text.index("\n## ", start + 1)], re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102  (the README's own code)
    assert namespace["obs"].shape == (1024, 16)
    batch = namespace["batch"]
    assert (batch.obs.shape, batch.target.shape, batch.scored.shape) == ((64, 20, 16), (64, 20, 1), (64, 20))
    metrics = capsys.readouterr().out.splitlines()[0]  # the printed episode_metrics of the played episode
    assert "'query_mse'" in metrics and "'all_mse'" in metrics
