"""The shape of gazecam's imports and files: library and GUI code never use the CLI; no import cycle, not even
through imports inside functions; no module over :data:`MAX_LINES` lines.

Read from the source (ast), so every module counts, also those whose optional dependencies are missing here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gazecam"
CLI = ("gazecam.commands", "gazecam.cli", "gazecam.__main__")  # the command line and its entry points
MAX_LINES = 500  # a module longer than this is split

# Import edges (importer, imported) left out of the cycle check.  Only for optional dependencies: an import
# that must stay inside a function because the imported module needs a package that may be missing, each
# with its reason.  Empty: no cycle needs one.
ALLOWED_EDGES: dict[tuple[str, str], str] = {}


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}


MODULES = _modules(PACKAGE)


def _is_cli(name: str) -> bool:
    return any(name == c or name.startswith(c + ".") for c in CLI)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path] = MODULES) -> list[str]:
    """The package's modules an import statement in ``module`` loads (a ``from`` import of a submodule: that one)."""
    top = module.split(".")[0]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == top]
    if node.level:
        package = module if modules[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base.split(".")[0] != top:
        return []
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in modules else base)
    return out


def _imports(module: str, modules: dict[str, Path] = MODULES) -> tuple[set[str], set[str]]:
    """(modules imported when ``module`` is imported, modules imported anywhere in it: also inside functions
    and methods and under ``if TYPE_CHECKING``)."""
    tree = ast.parse(modules[module].read_text(encoding="utf-8"))
    at_import, anywhere = set(), set()

    def walk(nodes: list[ast.stmt], module_level: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = _targets(module, node, modules)
                anywhere.update(found)
                if module_level:
                    at_import.update(found)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(node.body, False)  # runs when called, not when imported
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                walk(node.body, False)  # never runs, but a cycle of annotations is a cycle of design
                walk(node.orelse, module_level)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        walk([c for c in children if isinstance(c, ast.stmt)] +
                             [s for h in children if isinstance(h, ast.ExceptHandler) for s in h.body], module_level)

    walk(tree.body, True)
    at_import.discard(module)
    anywhere.discard(module)
    return at_import, anywhere


GRAPH = {name: _imports(name) for name in MODULES}


def import_cycles(modules: dict[str, Path], graph: dict[str, tuple[set[str], set[str]]], *, module_level: bool,
                  allowed: dict[tuple[str, str], str] | None = None) -> list[list[str]]:
    """Every set of modules that import each other (strongly connected components of more than one module, or
    a module importing itself), sorted; ``module_level=False``: imports inside functions count too."""
    allowed = allowed or {}
    edges = {m: sorted(t for t in graph[m][0 if module_level else 1] if t in modules and (m, t) not in allowed)
             for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                m = stack.pop()
                on_stack.discard(m)
                component.append(m)
                if m == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in sorted(modules):
        if m not in index:
            connect(m)
    return sorted(cycles)


def long_modules(modules: dict[str, Path], limit: int = MAX_LINES) -> dict[str, int]:
    """Modules over ``limit`` lines -> their line count."""
    counts = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules.items()}
    return {m: n for m, n in sorted(counts.items()) if n > limit}


def test_the_walk_sees_the_package():
    assert {"gazecam.pipeline", "gazecam.jobs", "gazecam.loading", "gazecam.sinks", "gazecam.sinks.clip",
            "gazecam.gui.processing", "gazecam.commands.process", "gazecam.cli"} <= set(MODULES)
    assert "gazecam.capture" in GRAPH["gazecam.pipeline"][0]  # a module-level import
    assert "gazecam.jobs" in GRAPH["gazecam.commands.process"][1]  # an import inside a function
    assert "gazecam.backends" not in GRAPH["gazecam.loading"][0]  # TYPE_CHECKING / function-level only


@pytest.mark.parametrize("module", [m for m in MODULES if not _is_cli(m)])
def test_library_and_gui_never_import_the_command_line(module):
    bad = sorted(t for t in GRAPH[module][1] if _is_cli(t))
    assert not bad, f"{module} imports {bad}: library and GUI code must not depend on the command line"


def test_module_level_imports_form_no_cycle():
    cycles = import_cycles(MODULES, GRAPH, module_level=True)
    assert not cycles, "module-level import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycle_even_through_imports_inside_functions():
    cycles = import_cycles(MODULES, GRAPH, module_level=False, allowed=ALLOWED_EDGES)
    assert not cycles, ("modules importing each other (also inside functions): "
                        + "; ".join(" <-> ".join(c) for c in cycles)
                        + ". Move what both sides need into a leaf module both import")


def test_the_allow_list_names_real_edges_with_reasons():
    for (importer, imported), reason in ALLOWED_EDGES.items():
        assert imported in GRAPH[importer][1], f"stale allow-list entry {importer} -> {imported}"
        assert reason.strip(), f"allow-list entry {importer} -> {imported} has no reason"


def test_no_module_is_over_the_line_limit():
    over = long_modules(MODULES)
    assert not over, f"modules over {MAX_LINES} lines (split them): " + ", ".join(
        f"{m} ({n})" for m, n in over.items())


def _planted_package(tmp_path: Path) -> dict[str, Path]:
    """A small package with one cycle through a function-level import, one through a TYPE_CHECKING import
    and one module over the line limit."""
    pkg = tmp_path / "plant"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .inner import X\n")
    (pkg / "sub" / "inner.py").write_text("X = 1\n\ndef f():\n    from .. import a\n    return a\n")
    (pkg / "a.py").write_text("from .sub import X\n")  # a -> sub.inner (through sub) -> a, the second inside f
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n")
    (pkg / "c.py").write_text("from . import b\nC = 1\n")
    (pkg / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    return _modules(pkg)


def test_the_checks_fail_on_planted_violations(tmp_path):
    modules = _planted_package(tmp_path)
    graph = {m: _imports(m, modules) for m in modules}
    assert import_cycles(modules, graph, module_level=True) == []  # the import inside f runs only when called
    assert import_cycles(modules, graph, module_level=False) == [["plant.a", "plant.sub", "plant.sub.inner"],
                                                                 ["plant.b", "plant.c"]]
    assert import_cycles(modules, graph, module_level=False,
                         allowed={("plant.sub.inner", "plant.a"): "test"}) == [["plant.b", "plant.c"]]
    assert long_modules(modules) == {"plant.long": MAX_LINES + 1}
