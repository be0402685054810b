"""The benchmark workloads: the one place each is defined, with its FLOP count.

A workload is *source text*: ``setup`` runs once per worker (thread or process) in a fresh namespace
holding ``np`` (the NumPy under test), ``n`` (elements), ``worker`` (0-based index) and
``iterations`` (calls this worker will make); ``kernel`` is the body of the timed loop (``_k`` is the
iteration index). The worker script (``worker.py``, run inside each variant's venv) compiles them; the
runner copies the text and the FLOP count into the results JSON, so the report needs neither NumPy
nor this module, and the report and the worker always agree on what was measured.

Kernels call ufuncs bound to locals in ``setup`` (``add = np.add``), as a hot loop would; ``npadd``
is the same call written the idiomatic way, ``np.add(...)`` in the loop, to measure what that costs.
(It is not the ``numpy`` module's refcount: CPython 3.13t makes modules immortal when the first
thread starts, gh-117783. ``lockswap contention`` finds the same two shared-written objects either
way, the ``add`` ufunc and the default errstate capsule; docs/measurements.md has the numbers.)
"""

from __future__ import annotations

import os
import runpy
from dataclasses import dataclass

from ..base.errors import ConfigError


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    setup: str
    kernel: str
    flops: str  # Python expression in ``n``: floating-point operations of one kernel call
    fixed_size: int | None = None  # the size does not apply: always run with this ``n``
    warmup: bool = True  # run the kernel before the barrier (False: measure a cold dispatch cache)
    fresh_process: bool = False  # each measurement in its own worker process (fresh caches)
    calls_per_iteration: int = 1  # ufunc calls of one kernel iteration: "ns per iteration" means this many

    def flops_per_call(self, n: int) -> int:
        return int(eval(self.flops, {"__builtins__": {}}, {"n": n}))

    def sizes(self, requested: tuple[int, ...]) -> tuple[int, ...]:
        return (self.fixed_size,) if self.fixed_size is not None else requested

    def to_json(self) -> dict[str, object]:
        return {"description": self.description, "setup": self.setup, "kernel": self.kernel,
                "flops": self.flops, "fixed_size": self.fixed_size, "warmup": self.warmup,
                "fresh_process": self.fresh_process, "calls_per_iteration": self.calls_per_iteration}


_MIX_SETUP = """\
import random
np.seterr(all="ignore")
_codes = "?bBhHiIlLqQefdgFD"
_A = {c: np.ones(n, dtype=c) for c in _codes}
_combos = []
# vars(np), not dir(np) + getattr: getattr runs NumPy's lazy submodule __getattr__ (np.rec, ...), and
# several threads doing that first import at once hit CPython gh-149728 (RecursionError)
for _name, _u in sorted(dict(vars(np)).items()):
    if not (isinstance(_u, np.ufunc) and _u.nin == 2 and _u.nout == 1 and _u.signature is None):
        continue
    _loops = {t.split("->")[0] for t in _u.types}
    for _a in _codes:
        for _b in _codes:
            _p = np.promote_types(_a, _b).char
            if _p + _p in _loops:
                _combos.append((_u, _A[_a], _A[_b]))
random.Random(worker).shuffle(_combos)
_stride = max(1, iterations // len(_combos))
x = np.ones(n); y = np.ones(n); z = np.empty(n); add = np.add
"""

_MIX_KERNEL = """\
add(x, y, out=z)
if _k % _stride == 0:
    _u, _a, _b = _combos[(_k // _stride) % len(_combos)]
    _u(_a, _b)
"""

# keys40: every worker cycles, in its own shuffled order, through 40 distinct dispatch-cache keys
# (4 ufuncs x 10 dtypes, inputs and output of one dtype), ufuncs bound in setup, tiny arrays.
_KEYS40_SETUP = """\
import random
_keys = [(_u, np.ones(n, dtype=_c), np.ones(n, dtype=_c), np.empty(n, dtype=_c))
         for _u in (np.add, np.subtract, np.multiply, np.maximum)
         for _c in ("b", "B", "h", "H", "i", "I", "q", "Q", "f", "d")]
random.Random(worker).shuffle(_keys)
"""

_KEYS40_KERNEL = """\
for _u, _a, _b, _o in _keys:
    _u(_a, _b, out=_o)
"""

REGISTRY: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "issue27786",
            "NumPy issue 27786: `x += 0.01; x[0] += x.mean() * 0.01` on a float64 array "
            "(FLOPs counted as in the issue: 2n per call)",
            setup="x = np.ones(n)",
            kernel="x += 0.01\nx[0] += x.mean() * 0.01",
            flops="2 * n",
        ),
        Workload(
            "add",
            "binary ufunc on small arrays: `np.add(a, b, out=c)` (float64), the ufunc bound to a local "
            "as in a hot loop (the tight loop of NumPy issue 27786 at n = 1)",
            setup="a = np.ones(n); b = np.ones(n); c = np.empty(n); add = np.add",
            kernel="add(a, b, out=c)",
            flops="n",
        ),
        Workload(
            "npadd",
            "the `add` call written the idiomatic way, `np.add(a, b, out=c)` looked up in the loop "
            "(float64; only with `--workloads npadd` or --full)",
            setup="a = np.ones(n); b = np.ones(n); c = np.empty(n)",
            kernel="np.add(a, b, out=c)",
            flops="n",
        ),
        Workload(
            "scalar",
            "ufuncs on NumPy float64 scalars: add, multiply, subtract, true_divide, bound to locals "
            "(size does not apply)",
            setup="a = np.float64(1.5); b = np.float64(0.5)\n"
                  "add, mul, sub, div = np.add, np.multiply, np.subtract, np.true_divide",
            kernel="add(a, b)\nmul(a, b)\nsub(a, b)\ndiv(a, b)",
            flops="4",
            fixed_size=1,
            calls_per_iteration=4,
        ),
        Workload(
            "mix",
            "dispatch-cache churn: every call `np.add(x, y, out=z)` (the read path, bound to a local); "
            "spread over the run, each worker also calls every binary ufunc on every promotable dtype "
            "pair in its own shuffled order, so the cache keeps growing while the others read. Cold "
            "cache: fresh process per measurement, no warmup; FLOPs count the `add` only",
            setup=_MIX_SETUP,
            kernel=_MIX_KERNEL,
            flops="n",
            fixed_size=100,
            warmup=False,
            fresh_process=True,
        ),
        Workload(
            "keys40",
            "many dispatch-cache keys: each call of the kernel runs 4 ufuncs (add, subtract, multiply, "
            "maximum) x 10 dtypes (int8-uint64, float32, float64) = 40 distinct (ufunc, dtype) keys, "
            "`u(a, b, out=o)` on 16-element arrays, ufuncs bound in setup, each worker in its own "
            "shuffled order (warm cache; not in the default plan: `--workloads keys40`, or --quick/--full)",
            setup=_KEYS40_SETUP,
            kernel=_KEYS40_KERNEL,
            flops="40 * n",
            fixed_size=16,
            calls_per_iteration=40,
        ),
        # The three forms of NumPy PR 32513's table (4-element float64 arrays, the result allocated by
        # the call, the ufunc looked up on the module per call): what still bounces after the lock is
        # the ufunc's and the DType's reference count (not in --quick or the default plan)
        Workload(
            "sin",
            "NumPy PR 32513's first form: `np.sin(a)` on a 4-element float64 array, looked up per call, "
            "result allocated (only by name or --full)",
            setup="a = np.ones(n)",
            kernel="np.sin(a)",
            flops="n",
            fixed_size=4,
        ),
        Workload(
            "addalloc",
            "NumPy PR 32513's second form: `np.add(a, b)` on 4-element float64 arrays, looked up per call, "
            "result allocated (only by name or --full)",
            setup="a = np.ones(n); b = np.ones(n)",
            kernel="np.add(a, b)",
            flops="n",
            fixed_size=4,
        ),
        Workload(
            "addop",
            "NumPy PR 32513's third form: the operator `a + b` on 4-element float64 arrays, result "
            "allocated (only by name or --full)",
            setup="a = np.ones(n); b = np.ones(n)",
            kernel="a + b",
            flops="n",
            fixed_size=4,
        ),
    )
}

# NumPy PR 32513's table, in its order: the report shows these as one table in the PR's layout
PR32513 = ("sin", "addalloc", "addop")
# --quick: every workload but npadd (the same dispatch path as add, only a different way to call it)
# and the PR-shaped forms (by name or --full)
QUICK = tuple(name for name in REGISTRY if name != "npadd" and name not in PR32513)

EXTRA_ENV = "LOCKSWAP_BENCH_WORKLOADS"


def extra() -> dict[str, Workload]:
    """Workloads of the Python file named by ``$LOCKSWAP_BENCH_WORKLOADS`` (its ``WORKLOADS`` list).

    For tests (workloads that fail on purpose) and experiments: selectable with ``--workloads``,
    never part of a default plan.
    """
    path = os.environ.get(EXTRA_ENV)
    if not path:
        return {}
    try:
        found = runpy.run_path(path).get("WORKLOADS", ())
    except (OSError, SyntaxError) as exc:
        raise ConfigError(f"{EXTRA_ENV}={path}: cannot load it ({exc})",
                          "point it to a .py file with a WORKLOADS list") from None
    return {w.name: w for w in found if isinstance(w, Workload)}


def get(name: str) -> Workload:
    found = REGISTRY.get(name) or extra().get(name)
    if found is None:
        raise ConfigError(
            f"unknown workload {name!r}", f"choose from: {', '.join(REGISTRY)} (lockswap/bench/workloads.py)"
        )
    return found


def select(names: str | None) -> tuple[Workload, ...]:
    """``"add,mix"`` -> those workloads (all of the registry when ``names`` is empty)."""
    if not names:
        return tuple(REGISTRY.values())
    return tuple(get(n.strip()) for n in names.split(",") if n.strip())
