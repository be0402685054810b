#!/usr/bin/env python
"""lockswap's adversarial dispatch-cache cases (``--suite stress``), one case per process.

    VENV/bin/python stress_cases.py CASE      # exit 0: passed; anything else: failed
    VENV/bin/python stress_cases.py --list

Runs INSIDE a variant's test venv (stdlib + NumPy only). Each case arms
``faulthandler.dump_traceback_later(..., exit=True)``, so a hang ends as exit 1 with every thread's
stack on stderr; a crash (abort, segfault) ends with faulthandler's stack. ``test_lockswap_stress.py``
runs every case in its own subprocess with an outer timeout and turns the result into a named
pytest outcome. Cases (see each function): re-entrant resolution through a ctypes promoter (hit,
miss, cross-thread), concurrent table growth, hits racing with promoter registration, thread churn,
user ufuncs dying while cached, shutdown with daemon threads, the benchmark's workloads, and
NumPy's lazy submodule attributes under concurrent first access.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import random
import sys
import threading
import time
import typing
import warnings

import numpy as np
from capi_promoter import ERRORS, add_promoter, dtype_class  # beside this file (run by path)

# a case that has not finished after WATCHDOG seconds is a hang (generous: 2 shared cores under load)
WATCHDOG = float(os.environ.get("LOCKSWAP_STRESS_WATCHDOG", "300"))
THREADS = int(os.environ.get("LOCKSWAP_STRESS_THREADS", "8"))
CODES = "?bBhHiIlLqQefdFD"
BINARY = ("add", "subtract", "multiply", "true_divide", "maximum", "minimum", "power", "arctan2",
          "hypot", "greater", "equal", "logical_and", "bitwise_and", "floor_divide", "fmod",
          "copysign", "nextafter", "logaddexp", "heaviside", "fmax")
# NumPy's lazily imported submodules (numpy/__init__.py's module __getattr__)
LAZY = ("rec", "char", "testing", "ctypeslib", "typing", "strings", "polynomial", "ma", "fft",
        "linalg", "random", "dtypes", "exceptions", "matlib", "core")


class CaseFailed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CaseFailed(what)


def arr(code: str, n: int = 3) -> np.ndarray:
    return np.ones(n, dtype=code)


# ---------------------------------------------------------------- cases
def case_reentrant_hit() -> None:
    """A promoter (Python, via PyUFunc_AddPromoter) calls the same ufunc on a cached key and runs
    gc.collect() while NumPy resolves a miss of that ufunc (rwlock: read lock under its own write
    lock; mutex: the same mutex)."""
    f = arr("d")
    np.add(f, f)  # cached

    def body():
        check(np.add(f, f)[0] == 2.0, "re-entrant hit: wrong result")
        gc.collect()

    add_promoter(np.add, (dtype_class("b"), dtype_class("e"), None), body)
    got = np.add(arr("b"), arr("e"))
    check(got.dtype == np.float64 and got[0] == 2.0, f"promoted result {got!r}")
    check(not ERRORS, f"errors inside the promoter: {ERRORS}")


class _Finalized:
    """Part of a reference cycle; its __del__ calls np.add when gc.collect() runs it."""
    calls: typing.ClassVar[list[np.ndarray]] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Finalized.calls.append(np.add(arr("I"), arr("H")))


def case_reentrant_miss() -> None:
    """As reentrant_hit, but the re-entrant calls are misses (a new key of the same ufunc,
    directly and from a __del__ run by gc.collect()), so the inner call resolves and inserts too."""
    def body():
        _Finalized()
        check(np.add(arr("h"), arr("B")).dtype == np.int16, "re-entrant miss: wrong dtype")
        gc.collect()

    add_promoter(np.add, (dtype_class("b"), dtype_class("e"), None), body)
    got = np.add(arr("b"), arr("e"))
    check(got.dtype == np.float64, f"promoted result {got!r}")
    check(bool(_Finalized.calls) and _Finalized.calls[0].dtype == np.uint32,
          f"finalizer's np.add: {_Finalized.calls}")
    check(not ERRORS, f"errors inside the promoter: {ERRORS}")


def case_reentrant_cross_thread() -> None:
    """Two threads resolve add and multiply at once (behind a barrier); add's promoter calls
    multiply and multiply's calls add: whoever holds a ufunc's lock across resolution deadlocks."""
    f = arr("d")
    np.add(f, f), np.multiply(f, f)
    barrier = threading.Barrier(2)

    def calls(other):
        def body():
            barrier.wait(timeout=WATCHDOG / 4)
            check(other(f, f)[0] in (1.0, 2.0), "cross call: wrong result")
        return body

    key = (dtype_class("h"), dtype_class("e"), None)
    add_promoter(np.add, key, calls(np.multiply))
    add_promoter(np.multiply, key, calls(np.add))
    results: dict[str, object] = {}

    def run(name):
        results[name] = getattr(np, name)(arr("h"), arr("e")).dtype

    ts = [threading.Thread(target=run, args=(n,)) for n in ("add", "multiply")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(results == {"add": np.float64, "multiply": np.float64}, f"results {results}")
    check(not ERRORS, f"errors inside the promoters: {ERRORS}")


def _outcome(uf, a, b):
    try:
        r = uf(a, b)
    except Exception as exc:  # invalid combinations: the error is the outcome
        return ("exc", type(exc).__name__)
    return ("ok", r.dtype.str, r.tobytes())


def _combos(seed: int):
    combos = [(u, a, b) for u in BINARY for a in CODES for b in CODES]
    random.Random(seed).shuffle(combos)
    return combos


def _run_threads(n: int, target) -> None:
    barrier = threading.Barrier(n)
    errors: list[str] = []

    def wrapped(i):
        try:
            barrier.wait(timeout=WATCHDOG / 2)
            target(i)
        except BaseException as exc:
            errors.append(f"thread {i}: {exc!r}")

    ts = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "; ".join(errors[:5]))


def case_table_growth() -> None:
    """Many threads insert fresh keys at once (every binary ufunc x dtype pair, each thread in its
    own order): lookups walk tables that other threads are growing. Results must equal a
    single-threaded rerun."""
    arrays = {c: np.arange(1, 4).astype(c) for c in CODES}
    got: list[dict] = [{} for _ in range(THREADS)]

    def work(i):
        for u, a, b in _combos(i):
            got[i][(u, a, b)] = _outcome(getattr(np, u), arrays[a], arrays[b])

    with np.errstate(all="ignore"):
        _run_threads(THREADS, work)
        for key in got[0]:
            want = _outcome(getattr(np, key[0]), arrays[key[1]], arrays[key[2]])
            bad = [i for i in range(THREADS) if got[i][key] != want]
            check(not bad, f"{key}: threads {bad} disagree with {want}")


def case_register_race() -> None:
    """Cache hits and misses racing with promoter registration on the same ufuncs."""
    f = arr("d")
    stop = threading.Event()
    pairs = [(a, b) for a in "bhilBHIL" for b in "ef"]

    def reader(i):
        rng = random.Random(i)
        while not stop.is_set():
            check(np.add(f, f)[0] == 2.0 and np.multiply(f, f)[0] == 1.0, "hit: wrong result")
            a, b = rng.choice(pairs)
            check(np.add(arr(a), arr(b))[0] == 2.0, "miss: wrong result")

    def registrar():
        try:
            for a, b in pairs:
                for uf in (np.add, np.multiply):
                    add_promoter(uf, (dtype_class(a), dtype_class(b), None), lambda: None)
                time.sleep(0.002)
        finally:
            stop.set()

    def work(i):
        if i == 0:
            registrar()
        else:
            reader(i)

    _run_threads(THREADS, work)
    check(not ERRORS, f"errors inside the promoters: {ERRORS}")


def case_thread_churn() -> None:
    """Thousands of short-lived threads, each calling ufuncs (hits and a few misses): per-thread
    caches are created and torn down all the time. At most LOCKSWAP_STRESS_CHURN threads (3000),
    and no new ones after LOCKSWAP_STRESS_CHURN_SECONDS (60; a loaded machine starts fewer)."""
    total = int(os.environ.get("LOCKSWAP_STRESS_CHURN", "3000"))
    deadline = time.monotonic() + float(os.environ.get("LOCKSWAP_STRESS_CHURN_SECONDS", "60"))
    combos = _combos(7)[:400]
    arrays = {c: np.arange(1, 4).astype(c) for c in CODES}
    errors: list[str] = []

    def one(k):
        try:
            with np.errstate(all="ignore"):
                for u, a, b in combos[k % 50 * 8:(k % 50 + 1) * 8]:
                    _outcome(getattr(np, u), arrays[a], arrays[b])
                check(np.add(arrays["d"], arrays["d"])[2] == 6.0, "wrong result")
        except BaseException as exc:
            errors.append(repr(exc))

    live: list[threading.Thread] = []
    for k in range(total):
        if k >= 200 and time.monotonic() > deadline:
            break
        t = threading.Thread(target=one, args=(k,))
        t.start()
        live.append(t)
        if len(live) >= 2 * THREADS:
            live.pop(0).join()
    for t in live:
        t.join()
    check(not errors, f"{len(errors)} threads failed, first: {errors[:3]}")


def case_ufunc_death() -> None:
    """User ufuncs (np.frompyfunc, np.vectorize) created, called on several dtypes (filling their
    caches) and dropped in a loop across threads, with gc.collect() in between."""
    rounds = int(os.environ.get("LOCKSWAP_STRESS_ROUNDS", "150"))

    def work(i):
        for k in range(rounds):
            uf = np.frompyfunc(lambda a, b, k=k: a + b + k, 2, 1)
            for c in "bdF":
                check(uf(arr(c), arr(c))[0] == 2 + k, "frompyfunc: wrong result")
            vec = np.vectorize(lambda a, k=k: a * 2 + k, otypes=["d"])
            check(vec(arr("d"))[0] == 2 + k, "vectorize: wrong result")
            del uf, vec
            if k % 25 == i % 25:
                gc.collect()

    _run_threads(THREADS, work)


def case_shutdown() -> None:
    """Daemon threads keep calling ufuncs with fresh dtype pairs while the interpreter finalizes
    (the case returns at once; a crash or hang at exit is the failure)."""
    arrays = {c: np.arange(1, 4).astype(c) for c in CODES}

    def spin(i):
        with np.errstate(all="ignore"):
            while True:
                for u, a, b in _combos(100 + i):
                    _outcome(getattr(np, u), arrays[a], arrays[b])
                    np.frompyfunc(lambda x, y: x, 2, 1)(arrays[a], arrays[b])

    for i in range(THREADS):
        threading.Thread(target=spin, args=(i,), daemon=True).start()
    time.sleep(0.3)


_ARRIVAL = __import__("itertools").count()
_LOCAL = threading.local()


def _window_tracer(frame, event, arg):
    """Widen CPython's import window (gh-149728) and stagger the threads' arrival in it.

    * When importlib's ``_load_unlocked`` returns a numpy submodule (``spec._initializing`` already
      cleared, the parent attribute not yet set) sleep 0.2 s: a thread preempted there on a loaded
      machine, made deterministic.
    * A thread's first call of NumPy's module ``__getattr__`` waits 0.05 s x its arrival order, so
      later threads reach the same lazy import inside that window instead of all blocking on the
      module lock while the first one still executes the submodule."""
    code = frame.f_code
    if event != "call":
        return None
    if code.co_name == "_load_unlocked":
        def local(frame, event, arg):
            if event == "return" and getattr(frame.f_locals.get("spec"), "name", "").startswith("numpy."):
                time.sleep(0.2)
            return local
        return local
    if (code.co_name == "__getattr__" and code.co_filename.endswith(os.path.join("numpy", "__init__.py"))
            and not getattr(_LOCAL, "arrived", False)):
        _LOCAL.arrived = True
        time.sleep(0.05 * (next(_ARRIVAL) % 8))
    return None


def case_lazy_import_race() -> None:
    """Threads touch NumPy's lazily imported submodules for the first time at once (np.rec,
    np.char, ...), with the importlib window widened: CPython gh-149728 recurses in numpy's
    module __getattr__ to RecursionError. Known upstream (CPython), see known_upstream.json."""
    names = [n for n in LAZY if n not in vars(np)]
    check(bool(names), "no lazy submodule left to import")
    threading.settrace(_window_tracer)
    warnings.simplefilter("ignore")

    def work(i):
        for n in names[i % len(names):] + names[:i % len(names)]:
            getattr(np, n)

    _run_threads(THREADS, work)


def case_bench_workloads() -> None:
    """lockswap's benchmark workloads (bench/workloads.py, through bench/worker.py) with THREADS
    threads in fresh processes, with the importlib window of lazy_import_race widened: a workload
    setup that touches NumPy's lazy attributes from threads fails here (the RecursionError once seen
    in the default bench)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(os.path.dirname(here)))  # scripts/ (stdlib-only modules)
    from lockswap.bench import worker, workloads

    threading.settrace(_window_tracer)
    for w in workloads.REGISTRY.values():
        size = w.fixed_size or 100
        cell = {"setup": w.setup, "kernel": w.kernel, "size": size, "workers": THREADS,
                "iterations": 3000 if w.name == "mix" else 300, "warmup": w.warmup}
        spans = worker.run_threads(cell)
        check(len(spans) == THREADS and all(s and s[1] >= s[0] for s in spans), f"{w.name}: {spans}")


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main(argv: list[str]) -> int:
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) != 2 or argv[1] not in CASES:
        print(f"usage: stress_cases.py CASE | --list  (cases: {', '.join(CASES)})", file=sys.stderr)
        return 2
    faulthandler.enable(all_threads=True)
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)  # a hang: every stack, then exit 1
    try:
        CASES[argv[1]]()
    except CaseFailed as exc:
        print(f"stress case {argv[1]}: FAIL: {exc}", flush=True)
        return 1
    print(f"stress case {argv[1]}: PASS (numpy {np.__version__})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
