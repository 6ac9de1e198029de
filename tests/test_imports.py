"""No import circle among scratchnn's modules.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import``
at any depth (inside functions and methods too, since a lazy import is still a dependency),
relative or absolute, except those under ``if TYPE_CHECKING:`` (hints only, never run).
``from . import x`` points at the submodule ``x`` when there is one, else at the package.
Importing ``a.b.c`` is an edge to ``a.b.c`` and to the packages it runs on the way
(``a.b``), except those the importer is inside itself (a package's ``__init__`` importing
its own submodules would otherwise be a circle with every one of them) and the top package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "scratchnn"


def module_files(root: Path = SOURCE) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the package."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import node, skipping the bodies of ``if TYPE_CHECKING:`` (not their else)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    """``{module: the package's modules it imports}``."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                if node.level:
                    # The package a relative import starts from: the module's own package
                    # (the module itself for an __init__), then one up per extra dot.
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # ``from package import submodule`` depends on the submodule.
                candidates = [
                    f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in files else prefix
                    for alias in node.names
                ]
            for target in candidates:
                # ``import scratchnn.io.x`` where x is an attribute: the longest module prefix.
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
                    # Importing a.b.c runs the packages a.b on the way: an edge to each one
                    # the importer is not inside itself (the top package is everyone's).
                    parent = target.rpartition(".")[0]
                    while parent and parent != PACKAGE:
                        if not (name == parent or name.startswith(parent + ".")):
                            targets.add(parent)
                        parent = parent.rpartition(".")[0]
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None when the graph is acyclic (iterative DFS)."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"scratchnn", "scratchnn.model", "scratchnn.io", "scratchnn.layers.dense"} <= set(graph)
    # Relative, lazy (inside a function) and package-level imports are all edges.
    assert "scratchnn.layers.base" in graph["scratchnn.layers.dense"]
    assert "scratchnn.io" in graph["scratchnn.model"]
    assert "scratchnn.model" in graph["scratchnn"]
    # Importing layers.base runs the layers package (and its modules) first.
    assert "scratchnn.layers" in graph["scratchnn.activations"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        pytest.param({"__init__.py": "", "a.py": "from .b import x\n",
                      "b.py": "def f():\n    from . import a\n"},
                     ["scratchnn.a", "scratchnn.b", "scratchnn.a"], id="lazy relative"),
        pytest.param({"__init__.py": "", "a.py": "import scratchnn.sub.c\n",
                      "sub/__init__.py": "", "sub/c.py": "from ..a import y\n"},
                     ["scratchnn.a", "scratchnn.sub.c", "scratchnn.a"], id="absolute and up"),
        pytest.param({"__init__.py": "", "pkg/__init__.py": "from .d import z\n",
                      "pkg/d.py": "from . import helper\n"},
                     ["scratchnn.pkg", "scratchnn.pkg.d", "scratchnn.pkg"],
                     id="child imports its package"),
        # registry's lazy ``from .layers.base import Layer`` ran layers/__init__, whose
        # dense imported registry: a circle through the package, not through base.
        pytest.param({"__init__.py": "",
                      "registry.py": "def f():\n    from .layers.base import L\n",
                      "layers/__init__.py": "from .dense import D\n", "layers/base.py": "",
                      "layers/dense.py": "from ..registry import f\n"},
                     ["scratchnn.layers", "scratchnn.layers.dense", "scratchnn.registry",
                      "scratchnn.layers"], id="through a package"),
    ],
)
def test_a_cycle_is_caught(tmp_path, files, cycle):
    _write(tmp_path, files)
    assert find_cycle(import_graph(tmp_path)) == cycle


def test_type_checking_imports_are_not_edges(tmp_path):
    _write(tmp_path, {
        "__init__.py": "",
        "a.py": "from .b import x\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"
                "else:\n    import os\n",
    })
    assert find_cycle(import_graph(tmp_path)) is None
