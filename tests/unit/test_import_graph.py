"""The module graph of ``scripts/lockswap`` and ``ci``, read with ``ast``: no cycles, and the layers.

Every ``import``/``from ... import`` counts, wherever it is (inside a function or under
``if TYPE_CHECKING:`` too): a cycle there is still two modules that each need the other.

The layers, top to bottom (a module may import its own folder and any lower layer, never a higher one
nor a sibling of its own rank):

    cli -> commands -> report -> contention -> bench | test -> build -> patch -> source -> interpreter -> base

``numpy_extra`` and ``pytest_plugin`` run inside the measured variant's venv: they import nothing of
lockswap. ``python tests/unit/test_import_graph.py`` prints the graph, its floors (the longest chain of
imports), every upward import and any cycle.
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


# (module prefix, rank, layer name): the first prefix a module starts with decides its layer
LAYERS: tuple[tuple[str, int, str], ...] = (
    ("lockswap.__main__", 10, "cli"),
    ("lockswap.cli", 10, "cli"),
    ("lockswap.commands", 9, "commands"),
    ("lockswap.report", 8, "report"),
    ("lockswap.contention", 7, "contention"),
    ("lockswap.bench", 6, "bench"),
    ("lockswap.test", 6, "test"),
    ("lockswap.build", 5, "build"),
    ("lockswap.patch", 4, "patch"),
    ("lockswap.source", 3, "source"),
    ("lockswap.interpreter", 2, "interpreter"),
    ("lockswap.base", 1, "base"),
    ("lockswap.numpy_extra", 0, "in-venv"),
    ("lockswap.pytest_plugin", 0, "in-venv"),
)
IN_VENV = "in-venv"
# what in-venv code may import: the benchmark's worker and workloads, which run there too
IN_VENV_OK = frozenset({"lockswap.bench", "lockswap.bench.worker", "lockswap.bench.workloads"})


def layer_of(module: str) -> tuple[int, str] | None:
    if module == "lockswap":
        return 0, "package"
    for prefix, rank, name in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return rank, name
    return None


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Every import that goes up (or sideways to another stage of the same rank), as ``a -> b``."""
    bad = []
    for module, targets in sorted(edges.items()):
        mine = layer_of(module)
        if mine is None or not module.startswith("lockswap"):
            continue
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs is None or theirs[1] == mine[1] or target == "lockswap":
                continue
            if mine[1] == IN_VENV and target in IN_VENV_OK:
                continue
            if mine[1] == IN_VENV or theirs[1] == IN_VENV or theirs[0] >= mine[0]:
                bad.append(f"{module} ({mine[1]}) -> {target} ({theirs[1]})")
    return bad


def floors(edges: dict[str, set[str]]) -> int:
    """The longest chain of imports inside the package (modules stacked on one another)."""
    depth: dict[str, int] = {}

    def visit(v: str, seen: frozenset[str]) -> int:
        if v not in depth:
            below = [visit(w, seen | {v}) for w in edges.get(v, ()) if w not in seen]
            depth[v] = 1 + max(below, default=0)
        return depth[v]

    return max((visit(v, frozenset()) for v in edges if v.startswith("lockswap")), default=0)


def describe(found: list[list[str]]) -> str:
    return "\n".join(f"import cycle of {len(c)} modules: {' <-> '.join(c)}" for c in found)


def test_the_graph_sees_every_module_and_its_imports():
    edges = graph()
    assert "lockswap.cli" in edges and "ci.job" in edges and "lockswap.commands.bench" in edges
    assert "lockswap.base.errors" in edges["lockswap.cli"]
    assert "lockswap.interpreter" in edges["ci.job"]  # absolute imports across packages count


def test_cycle_finder_finds_a_cycle_and_only_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, describe(found)


def test_every_module_has_a_layer():
    missing = [m for m in graph() if m.startswith("lockswap") and layer_of(m) is None]
    assert not missing, f"modules outside every layer (add a folder or a LAYERS entry): {missing}"


def test_no_module_imports_a_layer_above_its_own():
    bad = upward(graph())
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_layer_check_finds_an_upward_and_a_sideways_import():
    edges = {"lockswap.bench.answer": {"lockswap.report.render", "lockswap.base.log"},
             "lockswap.test.suite": {"lockswap.bench.runner"},
             "lockswap.numpy_extra.x": {"lockswap.base.paths"},
             "lockswap.commands.bench": {"lockswap.report.render"}}
    assert upward(edges) == ["lockswap.bench.answer (bench) -> lockswap.report.render (report)",
                             "lockswap.numpy_extra.x (in-venv) -> lockswap.base.paths (base)",
                             "lockswap.test.suite (test) -> lockswap.bench.runner (bench)"]


if __name__ == "__main__":
    edges = graph()
    for name in sorted(edges):
        print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    print(describe(cycles(edges)) or "no import cycles")
    print(f"{sum(1 for m in edges if m.startswith('lockswap'))} modules, {floors(edges)} floors")
    print("\n".join(upward(edges)) or "no upward imports")


def test_code_run_inside_the_venv_has_no_relative_imports():
    """numpy_extra/ and pytest_plugin/ run as scripts or plugins inside a variant's venv, with no package
    around them: ``from ..x import y`` there fails only when the case runs."""
    found = []
    for folder in ("numpy_extra", "pytest_plugin"):
        for path in sorted((ROOTS["lockswap"] / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, found
