"""The house's dependencies run one way (README, Architecture): no import cycle among
mdiff's modules, counting the imports made inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mdiff"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """The mdiff modules ``path`` imports (relative imports, anywhere in the file)."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                out.add(target)
            else:
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def _graph() -> dict:
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue           # a package's __init__ gathers the interface: it is the top
        graph[name] = {m for m in _imports(path) if m in modules and
                       modules[m].name != "__init__.py"}
    return graph


def test_no_import_cycles():
    graph = _graph()
    state: dict = {}
    stack: list = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_registry_imports_only_the_shape_rules_and_they_only_the_sizes():
    graph = _graph()
    assert graph["mdiff.core.ops"] == {"mdiff.core.shapes", "mdiff.errors"}
    assert graph["mdiff.core.shapes"] == {"mdiff.core.dims"}
    assert graph["mdiff.core.dims"] == set()


#: The packages from the bottom up: each imports only those before it (``mdiff.errors``,
#: the error hierarchy, is below them all; the interfaces — api, cli, optimize, testing —
#: are above them all).
LAYERS = ("errors", "core", "interop", "language", "simplify", "numeric", "calculus",
          "printing", "extrema")


def _layer(module: str) -> int:
    part = module.split(".")[1]
    return LAYERS.index(part) if part in LAYERS else len(LAYERS)


def test_the_packages_depend_one_way_along_the_pipeline():
    wrong = sorted((a, b) for a, targets in _graph().items() for b in targets
                   if _layer(b) > _layer(a))
    assert not wrong, f"imports against the layering: {wrong}"
