"""Candidate objects for the contention probe: what a kernel reaches, and how to find it again.

Part of the probe (runs INSIDE the variant's venv: stdlib + numpy only). A *locator* is a Python
expression that finds the same object in a fresh process (``add``, ``np.add``,
``type(x).__mro__[0].__dict__['mean']``, ``_ref(np.add, 2, 'list')`` = a ``gc.get_referents`` entry,
``_contextvar('current_allocator')`` = the one live ``contextvars.ContextVar`` of that name),
evaluated in the workload's setup namespace.
"""

from __future__ import annotations

import ast
import builtins
import contextvars
import gc
import re
import sys

MAX_CANDIDATES = 4000
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

# ---------------------------------------------------------------------------------------------
# locators: expressions that find the same object again in a fresh process
# ---------------------------------------------------------------------------------------------

def _ref(obj, index, typename):
    """``gc.get_referents(obj)[index]``, checked to be of the type discovery saw."""
    got = gc.get_referents(obj)[index]
    if type(got).__qualname__ != typename:
        raise LookupError(f"referent {index} is a {type(got).__qualname__}, expected {typename}")
    return got


def live_contextvars():
    """Every live ``contextvars.ContextVar`` that can be found: the GC-tracked ones, plus those bound
    as a module attribute (CPython tracks a ContextVar only when its name or default is tracked, so
    one with a str name and no default, or an untracked default, is missing from gc.get_objects())."""
    found = {id(o): o for o in gc.get_objects() if type(o) is contextvars.ContextVar}  # a final type
    for mod in list(sys.modules.values()):
        try:
            values = list(vars(mod).values())
        except TypeError:  # a module replaced by an object without __dict__
            continue
        found.update((id(v), v) for v in values if type(v) is contextvars.ContextVar)
    return list(found.values())


def _contextvar(name):
    """The one live ContextVar named ``name`` (:func:`live_contextvars`); refuses none or several."""
    hits = [v for v in live_contextvars() if v.name == name]
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} live ContextVars are named {name!r}, expected exactly one")
    return hits[0]


def locator_namespace(ns):
    """The names a locator may use: the setup's namespace plus a few helpers."""
    import numpy as np

    return {**ns, "np": np, "sys": sys, "builtins": builtins, "_ref": _ref, "_contextvar": _contextvar,
            "type": type, "vars": vars}


def locate(locator, ns):
    return eval(locator, {"__builtins__": builtins}, locator_namespace(ns))


def short_repr(obj, limit=100):
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not stop discovery
        text = f"<repr failed: {exc!r}>"
    text = ADDRESS.sub("", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dotted(node):
    """``np.add`` -> ["np", "add"]; None for anything but a chain of names."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def kernel_roots(kernel, ns):
    """(locator, how) for what the kernel's code names: names, attribute chains, methods on types."""
    roots = []
    tree = ast.parse(kernel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in ns:
                roots.append((node.id, f"kernel name `{node.id}`"))
            elif hasattr(builtins, node.id):
                roots.append((f"builtins.{node.id}", f"kernel builtin `{node.id}`"))
        elif isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if not chain or chain[0] not in ns:
                continue
            base = ".".join(chain[:-1])
            roots.append((".".join(chain), f"kernel attribute `{'.'.join(chain)}`"))
            try:
                value = locate(base, ns)
            except Exception:
                continue
            if not isinstance(value, type(sys)):  # a method or attribute found on the type
                for i, cls in enumerate(type(value).__mro__):
                    if chain[-1] in vars(cls):
                        roots.append((f"type({base}).__mro__[{i}].__dict__[{chain[-1]!r}]",
                                      f"kernel attribute `{'.'.join(chain)}` on {cls.__qualname__}"))
                        break
    return roots


NUMPY_ROOTS = (
    ("np", "the numpy module"),
    ("np.ndarray", "the array type"),
    ("np.ufunc", "the ufunc type"),
)


def contextvar_roots():
    """(locator, how) for every live ContextVar and its current value (else its default), and the
    names shared by several live ContextVars (no locator can tell those apart: left out).

    C code keeps per-context state in ContextVars held only by C statics (NumPy: the errstate extobj,
    "numpy.ufunc.extobj"; the memory-handler capsule, "current_allocator"): each call that reads one
    increfs its value, an object no Python name reaches.
    """
    by_name = {}
    for var in live_contextvars():
        by_name.setdefault(var.name, []).append(var)
    roots, ambiguous = [], []
    for name, found in sorted(by_name.items()):
        if len(found) != 1:
            ambiguous.append(name)
            continue
        loc = f"_contextvar({name!r})"
        roots.append((loc, f"live ContextVar {name!r}"))
        try:
            found[0].get()
        except LookupError:  # no value in this context and no default
            continue
        roots.append((f"{loc}.get()", f"current value of ContextVar {name!r}"))
    return roots, ambiguous


def operand_roots(ns):
    """Types and dtypes of the setup's arrays and scalars (shared even when the operands are not)."""
    import numpy as np

    roots = []
    for name, value in ns.items():
        if name.startswith("__") or not isinstance(value, (np.ndarray, np.generic)):
            continue
        roots += [(f"type({name})", f"type of operand `{name}`"),
                  (f"{name}.dtype", f"dtype of operand `{name}`"),
                  (f"type({name}.dtype)", f"DType class of operand `{name}`")]
    return roots


def trace_roots(run_once):
    """Python functions a call runs (sys.setprofile): their modules and the globals they name."""
    seen, roots = set(), []

    def profile(frame, event, arg):
        if event != "call":
            return
        code, g = frame.f_code, frame.f_globals
        mod = g.get("__name__")
        if (code, mod) in seen or not isinstance(mod, str) or sys.modules.get(mod) is None:
            return
        seen.add((code, mod))
        base = f"sys.modules[{mod!r}]"
        if vars(sys.modules[mod]) is not g:
            return
        roots.append((base, f"module of traced `{code.co_qualname}`"))
        if "." not in code.co_qualname and code.co_qualname in g:
            roots.append((f"{base}.{code.co_qualname}", f"traced function `{code.co_qualname}`"))
        for name in code.co_names:
            if name in g:
                roots.append((f"{base}.{name}", f"global `{name}` of traced `{code.co_qualname}`"))

    sys.setprofile(profile)
    try:
        run_once()
    finally:
        sys.setprofile(None)
    return roots


def children(obj, loc):
    """(child, locator, how) one level below ``obj``."""
    import numpy as np

    out = [(type(obj), f"type({loc})", "its type")]
    if isinstance(obj, type(sys)):
        for name, value in list(vars(obj).items()):
            if isinstance(name, str) and name.isidentifier():
                out.append((value, f"{loc}.{name}", "module attribute"))
        return out
    if isinstance(obj, np.ndarray):
        out += [(obj.dtype, f"{loc}.dtype", "its dtype"),
                (type(obj.dtype), f"type({loc}.dtype)", "its DType")]
    if isinstance(obj, dict):
        for key, value in list(obj.items()):
            if isinstance(key, str):
                out.append((value, f"{loc}[{key!r}]", "dict value"))
        return out
    for i, ref in enumerate(gc.get_referents(obj)):
        out.append((ref, f"_ref({loc}, {i}, {type(ref).__qualname__!r})", "gc referent"))
    return out


def collect(roots, ns, depth=2):
    """Candidates reachable from ``roots`` (locator, how): {id: entry}, first locator wins.

    Module attributes are leaves (a module's attributes are listed, not followed further).
    """
    found = {}
    frontier = []
    for loc, how in roots:
        try:
            obj = locate(loc, ns)
        except Exception:
            continue
        frontier.append((obj, loc, [how], 0, False))
    while frontier and len(found) < MAX_CANDIDATES:
        obj, loc, how, level, leaf = frontier.pop(0)
        key = id(obj)
        if key in found:
            found[key]["via"].append(" <- ".join(how))
            continue
        found[key] = {"obj": obj, "locator": loc, "via": [" <- ".join(how)]}
        if leaf or level >= depth:
            continue
        is_module = isinstance(obj, type(sys))
        for child, cloc, chow in children(obj, loc):
            frontier.append((child, cloc, [chow, *how], level + 1, is_module))
    return found


def find_paths(targets, roots, ns, depth=3, budget=300_000):
    """Locators for ``targets`` (ids): breadth first from the roots and every numpy module."""
    starts = [*roots, *((f"sys.modules[{m!r}]", "module") for m in sorted(sys.modules)
                        if m == "numpy" or m.startswith("numpy."))]
    frontier, seen, paths = [], set(), {}
    for loc, how in starts:
        try:
            frontier.append((locate(loc, ns), loc, how, 0))
        except Exception:
            continue
    while frontier and targets - paths.keys() and budget > 0:
        obj, loc, how, level = frontier.pop(0)
        budget -= 1
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if id(obj) in targets:
            paths[id(obj)] = (loc, f"sweep, then reached as {loc}")
        if level < depth:
            frontier += [(c, cl, how, level + 1) for c, cl, _ in children(obj, loc)]
    return paths
