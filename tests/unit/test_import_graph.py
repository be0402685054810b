"""No import cycles in ``scripts/lockswap`` and ``ci``: the module graph, read with ``ast``.

Every ``import``/``from ... import`` counts, wherever it is (inside a function or under
``if TYPE_CHECKING:`` too): a cycle there is still two modules that each need the other.
``python tests/unit/test_import_graph.py`` prints the graph and any cycles.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {"lockswap": REPO / "scripts" / "lockswap", "ci": REPO / "ci"}


def modules() -> dict[str, Path]:
    found = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = [package, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The known module ``name`` refers to (``a.b.c`` may be module ``a.b`` importing ``c``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join([*up, *([base] if base else [])])
            # ``from pkg import mod`` imports the submodule pkg.mod when there is one
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name, known)
            if target and target != module:
                found.add(target)
    # ``from . import x`` also names the package itself (its __init__), which is no real edge back
    # when the package is the importer's own: Python runs the __init__ first anyway.
    return {t for t in found if not module.startswith(t + ".")}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(found: list[list[str]]) -> str:
    return "\n".join(f"import cycle of {len(c)} modules: {' <-> '.join(c)}" for c in found)


def test_the_graph_sees_every_module_and_its_imports():
    edges = graph()
    assert "lockswap.cli" in edges and "ci.job" in edges and "lockswap.bench.command" in edges
    assert "lockswap.manifest" in edges["lockswap.cli"]
    assert "lockswap.interpreter" in edges["ci.job"]  # absolute imports across packages count


def test_cycle_finder_finds_a_cycle_and_only_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, describe(found)


if __name__ == "__main__":
    edges = graph()
    for name in sorted(edges):
        print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    print(describe(cycles(edges)) or "no import cycles")
