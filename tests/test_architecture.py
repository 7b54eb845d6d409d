"""The package's shape: imports flow one way (no cycles, not even through imports inside
functions), serving code never reaches torch, and the README's module table is the code's.

The import graph is read from the source (``ast``), every ``import`` of a digitpad module
counted wherever it stands, so a cycle cannot hide inside a function.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "digitpad"


def modules() -> dict[str, Path]:
    """digitpad module name -> file ("digitpad.web.app" -> digitpad/web/app.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The digitpad modules that ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from . import x`: x may be a submodule; `from .m import y`: m (or m.y if a module).
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # digitpad.x.y where y is a name: the module digitpad.x
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_correctly():
    g = graph()
    assert "digitpad.decode" in g["digitpad.preprocess"]
    assert "digitpad.web.guard" in g["digitpad.web.app"]
    assert "digitpad.predict" in g["digitpad.cli.common"]  # an import inside a function counts too


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, f"import cycles: {found}"


def test_serving_modules_never_reach_torch():
    """What serving, the CLI's reading commands and the store import, transitively, is torch-free:
    no module it reaches imports torch (``python -c`` tests check the same at run time)."""
    g = graph()
    mods = modules()
    torchy = {m for m, p in mods.items() if re.search(r"^\s*(import torch|from torch)", p.read_text(), re.M)}
    seen, todo = set(), ["digitpad.web.app", "digitpad.web.serve", "digitpad.reading", "digitpad.batch",
                         "digitpad.cli.serving", "digitpad.cli.feedback", "digitpad.store", "digitpad.quantize",
                         "digitpad.recipe", "digitpad.card", "digitpad.metrics", "digitpad.artifact"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += g[m]
    assert not (seen & torchy), sorted(seen & torchy)


def test_readme_module_table_matches_the_package():
    """Every module (or subpackage) has a row in the README's "How it is built" table, and every
    row names something that exists."""
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- SECTION:design -->", 1)[1]
    cells = re.findall(r"^\| (`digitpad/.+?) \|", section, flags=re.M)  # first cells: `path`[, `path`]
    named = {name for cell in cells for name in re.findall(r"`([^`]+)`", cell)}
    for entry in named:
        assert (REPO / entry).exists(), f"README names {entry}, which does not exist"
    covered = {n.rstrip("/") for n in named}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")) + sorted(PACKAGE.glob("*.c")):
        rel = path.relative_to(REPO).as_posix()
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        if rel not in covered and not any(rel.startswith(c + "/") for c in covered):
            missing.append(rel)
    assert not missing, f"modules without a row in README's 'How it is built': {missing}"
