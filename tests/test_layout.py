"""The shape of the source tree: small modules in agents/ and leaderboard/, no import cycle, no comment naming who
wrote something.

The import graph is read from the source with ``ast`` (nothing is imported): module names come from pyproject's
``[tool.setuptools.package-dir]`` (``plastic_gym.agents`` lives in ``agents/`` and so on), and only the imports
that run when a module is imported count: those at module level (also inside ``if``/``try``/``with``/class
bodies), not those inside functions or under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 350
SMALL_MODULE_DIRS = ("agents", "leaderboard")
SOURCE_DIRS = ("plastic_gym", "agents", "leaderboard", "baselines", "benchmarks", "examples", "tests")

#: Words that attribute code to a person or a working session rather than explain it: a numbered helper or session,
#: the lead as a person (the word followed by punctuation, a possessive or a verb of deciding), or "written by" one
#: of them. ``test_attribution_finder`` lists what matches and what does not.
ATTRIBUTION = re.compile(
    r"\bhelper[-_ #]?\d+\b"
    r"|\bsession[-_ #]?\d+\b"
    r"|\b(?:the|our) lead(?:'s\b|(?=\s*(?:[(),.;:]|$))|\s+(?:engineer|asked|wants|wanted|decided|said)\b)"
    r"|\b(?:written|added|wrote|implemented|contributed|owned|requested) by (?:the |a )?"
    r"(?:lead|helper|session|engineer)",
    re.IGNORECASE | re.MULTILINE)


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Package name -> its folder, from pyproject's ``package-dir`` (``plastic_gym.agents`` -> ``agents/``)."""
    with open(root / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: root / folder for name, folder in mapping.items()}


def project_modules(roots: dict[str, Path]) -> dict[str, Path]:
    """Every module of the project: dotted name -> file (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for package, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_imports(body: list[ast.stmt]):
    """The import statements that run when a module with this body is imported (not in functions, not under
    ``if TYPE_CHECKING:``)."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, ast.If):
            if not _is_type_checking(stmt.test):
                yield from import_time_imports(stmt.body)
            yield from import_time_imports(stmt.orelse)
        elif isinstance(stmt, (ast.Try, ast.TryStar)):
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):
                yield from import_time_imports(block)
        elif isinstance(stmt, (ast.With, ast.For, ast.While)):
            yield from import_time_imports(stmt.body)
            yield from import_time_imports(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.ClassDef):
            yield from import_time_imports(stmt.body)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` imports at import time."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for stmt in import_time_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:  # ``import a.b.c`` runs the deepest of a.b.c, a.b, a that is a module
                parts = alias.name.split(".")
                found.update(next(([m] for n in range(len(parts), 0, -1)
                                   if (m := ".".join(parts[:n])) in modules), []))
            continue
        up = package.split(".")
        base = up[:len(up) - (stmt.level - 1)] if stmt.level else []
        target = ".".join(base + (stmt.module.split(".") if stmt.module else []))
        for alias in stmt.names:
            sub = f"{target}.{alias.name}"
            found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph(roots: dict[str, Path]) -> dict[str, set[str]]:
    modules = project_modules(roots)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first within the component)."""
    start = min(component)
    parent, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in the strongly connected component {sorted(component)}")


def attributions(source: str) -> list[tuple[int, str]]:
    """(line, text) of each comment or docstring that names who wrote something."""
    texts = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                texts.append((first.lineno, first.value.value))
    return [(line, text.strip()) for line, text in sorted(texts) if ATTRIBUTION.search(text)]


# -- the checks on this tree ---------------------------------------------------------------------------------------

def test_no_large_module_in_agents_or_leaderboard():
    large = {str(p.relative_to(ROOT)): n for d in SMALL_MODULE_DIRS for p in sorted((ROOT / d).rglob("*.py"))
             if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not large, f"modules over {MAX_LINES} lines (split them by job): {large}"


def test_no_import_cycle():
    cycles = import_cycles(import_graph(package_dirs()))
    assert not cycles, "import cycles at module level:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_every_package_folder_is_installed():
    """A folder with an ``__init__.py`` that ``[tool.setuptools] packages`` does not list works in a checkout (an
    editable install) and is missing from a wheel."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    folders = {name for name, path in project_modules(package_dirs()).items() if path.name == "__init__.py"}
    missing = sorted(folders - listed)
    assert not missing, f"packages missing from [tool.setuptools] packages in pyproject.toml: {missing}"


def test_no_comment_names_who_wrote_something():
    found = [f"{p.relative_to(ROOT)}:{line}: {text[:100]!r}" for d in SOURCE_DIRS
             for p in sorted((ROOT / d).rglob("*.py")) for line, text in attributions(p.read_text(encoding="utf-8"))]
    assert not found, "comments that name who wrote the code (say what it does instead):\n" + "\n".join(found)


# -- the checkers themselves, on made-up sources --------------------------------------------------------------------

def write_tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return {"pkg": root / "pkg", "pkg.ext": root / "ext"}


def test_cycle_finder_counts_only_import_time_imports(tmp_path):
    roots = write_tree(tmp_path, {
        "pkg/__init__.py": "from .a import f\n",
        "pkg/a.py": "import pkg.b\ndef f():\n    from pkg import c\n",
        "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
        "pkg/c.py": "from pkg.a import f\n",
        "ext/__init__.py": "",
        "ext/d.py": "try:\n    from . import e\nexcept ImportError:\n    e = None\n",
        "ext/e.py": "import numpy\nfrom .. import b\n",
    })
    graph = import_graph(roots)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set(), "pkg.c": {"pkg.a"},
                     "pkg.ext": set(), "pkg.ext.d": {"pkg.ext.e"}, "pkg.ext.e": {"pkg.b"}}
    assert import_cycles(graph) == []


def test_cycle_finder_names_the_cycle(tmp_path):
    roots = write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "from .c import g\n",
        "pkg/c.py": "import pkg.a\ng = 1\n",
        "pkg/d.py": "from pkg.a import x\n",
        "ext/__init__.py": "from ..ext import f\n",
        "ext/f.py": "from pkg.ext import g\n",
        "ext/g.py": "class C:\n    from . import f\n",
    })
    cycles = import_cycles(import_graph(roots))
    assert cycles == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.ext.f", "pkg.ext.g", "pkg.ext.f"]]


def test_attribution_finder():
    named = ["# trainer (helper-5)", "# as the lead asked", "# the lead's choice", "# fixed in session 3",
             "# written by the lead", "# (the lead)"]
    plain = ["# a helper for the tests", "# the lead axes of the batch", "# one session of training",
             "# added by the step", "# lead = label.shape[:-1]"]
    for comment in named:
        assert attributions(f"x = 1  {comment}\n"), comment
    for comment in plain:
        assert not attributions(f"x = 1  {comment}\n"), comment
    assert attributions('"""Module docstring by helper-2."""\n') == [(1, "Module docstring by helper-2.")]
    assert not attributions('x = "helper-2 in a plain string"\n')
