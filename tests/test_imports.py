"""The shape of gazecam's imports: library and GUI code never use the CLI; module-level imports form no cycle.

Read from the source (ast), so every module counts, also those whose optional dependencies are missing here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gazecam"
CLI = ("gazecam.commands", "gazecam.cli", "gazecam.__main__")  # the command line and its entry points


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_cli(name: str) -> bool:
    return any(name == c or name.startswith(c + ".") for c in CLI)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The gazecam modules an import statement in ``module`` loads (a ``from`` import of a submodule: that one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "gazecam"]
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base.split(".")[0] != "gazecam":
        return []
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in MODULES else base)
    return out


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(gazecam modules imported when ``module`` is imported, gazecam modules imported anywhere in it)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    at_import, anywhere = set(), set()

    def walk(nodes: list[ast.stmt], module_level: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = _targets(module, node)
                anywhere.update(found)
                if module_level:
                    at_import.update(found)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(node.body, False)  # runs when called, not when imported
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                walk(node.body, False)  # never runs
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
    edges = {m: sorted(t for t in GRAPH[m][0] if t in MODULES) for m in MODULES}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m, [m])
    assert not cycles, "module-level import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
