"""Re-entrant resolution cases of ``stress_cases.py``: a promoter (Python code registered with
``PyUFunc_AddPromoter`` through ctypes, ``capi_promoter.py``) calls ufuncs while NumPy resolves a
miss of the same ufunc (or, across two threads, of each other's).

``reentrant_hit`` and ``reentrant_cross_thread`` re-enter with keys cached before the promoter runs,
which a per-thread cache serves without ever taking a lock; ``reentrant_fresh`` and
``reentrant_cross_thread_fresh`` re-enter with keys the re-entering thread has never used (some
cached in the shared table by another thread, some used by nobody), so every design reaches its
shared, locked path while resolution is in progress. Runs INSIDE a variant's test venv.
"""

from __future__ import annotations

import gc
import threading
import typing

import numpy as np
from capi_promoter import ERRORS, add_promoter, dtype_class
from stress_common import WATCHDOG, arr, check, checked, run_threads


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


# (a, b) pairs of np.add another thread caches first, and pairs nobody uses before the promoter does
SHARED = (("i", "H"), ("l", "B"), ("Q", "h"), ("d", "I"), ("f", "b"))
UNUSED = (("h", "B"), ("I", "b"), ("L", "f"), ("H", "q"), ("F", "i"))


def case_reentrant_fresh() -> None:
    """A promoter of np.add calls np.add with keys this thread has never used: some another thread
    cached in the shared table beforehand, some nobody has used; then gc.collect(). A per-thread
    cache misses on all of them, so the re-entrant calls reach the shared (locked) path while the
    outer resolution is in progress."""
    run_threads(1, lambda _i: [checked("add", a, b) for a, b in SHARED])

    def body():
        for a, b in (*SHARED, *UNUSED):
            checked("add", a, b)
        gc.collect()

    add_promoter(np.add, (dtype_class("b"), dtype_class("e"), None), body)
    got = np.add(arr("b"), arr("e"))
    check(got.dtype == np.float64 and got[0] == 2.0, f"promoted result {got!r}")
    check(not ERRORS, f"errors inside the promoter: {ERRORS}")


def _cross_thread(fresh: bool) -> None:
    f = arr("d")
    np.add(f, f), np.multiply(f, f)
    # fresh: each thread re-enters the other ufunc with pairs it never used, one cached by the main
    # thread (in the shared table), the others by nobody (and different for the two threads)
    pairs = {"add": (("i", "H"), ("Q", "h"), ("H", "f")),
             "multiply": (("i", "H"), ("q", "B"), ("I", "f"))}
    if fresh:
        checked("add", "i", "H"), checked("multiply", "i", "H")
    barrier = threading.Barrier(2)

    def calls(other: str):
        def body():
            barrier.wait(timeout=WATCHDOG / 4)
            if fresh:
                for a, b in pairs[other]:
                    checked(other, a, b)
            else:
                check(getattr(np, other)(f, f)[0] in (1.0, 2.0), "cross call: wrong result")
        return body

    key = (dtype_class("h"), dtype_class("e"), None)
    add_promoter(np.add, key, calls("multiply"))
    add_promoter(np.multiply, key, calls("add"))
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


def case_reentrant_cross_thread() -> None:
    """Two threads resolve add and multiply at once (behind a barrier); add's promoter calls
    multiply and multiply's calls add (cached keys): whoever holds a ufunc's lock across
    resolution deadlocks."""
    _cross_thread(fresh=False)


def case_reentrant_cross_thread_fresh() -> None:
    """As reentrant_cross_thread, but each thread's re-entering calls use dtype pairs that thread
    has never used (one cached by the main thread, the others by nobody): a per-thread cache
    cannot serve them, so both threads reach the other ufunc's shared path at once."""
    _cross_thread(fresh=True)
