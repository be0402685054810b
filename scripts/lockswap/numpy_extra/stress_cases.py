#!/usr/bin/env python
"""lockswap's adversarial dispatch-cache cases (``--suite stress``), one case per process.

    VENV/bin/python stress_cases.py CASE      # exit 0: passed; anything else: failed
    VENV/bin/python stress_cases.py --list

Runs INSIDE a variant's test venv (stdlib + NumPy only). Each case arms
``faulthandler.dump_traceback_later(..., exit=True)``, so a hang ends as exit 1 with every thread's
stack on stderr; a crash (abort, segfault) ends with faulthandler's stack; SIGUSR1 prints every
thread's stack (the runner sends it to a case whose processes stopped using CPU: a deadlock).
``test_lockswap_stress_cases.py`` runs every case in its own subprocess with an outer timeout and
turns the result into a named pytest outcome. Cases (see each function):

- re-entrant resolution through a ctypes promoter (``stress_reentrant.py``): ``reentrant_hit``,
  ``reentrant_miss``, ``reentrant_cross_thread`` (keys cached before the promoter runs), and
  ``reentrant_fresh``, ``reentrant_cross_thread_fresh`` (keys the re-entering thread never used,
  some cached in the shared table by another thread, some by nobody: a per-thread cache must take
  the shared, locked path while resolution is in progress);
- ``table_growth`` (concurrent inserts and resizes), ``register_race`` (hits racing with promoter
  registration), ``register_miss_race`` (resolution on every call racing with registration),
  ``thread_churn``, ``ufunc_death`` (user ufuncs dying while cached);
- process lifecycle and fairness (``stress_lifecycle.py``): ``shutdown`` (daemon threads calling
  ufuncs at exit), ``fork`` (children forked while threads hit and insert must call the same
  ufuncs and exit in time), ``finalization`` (atexit and ``__del__`` call a ufunc while a daemon
  thread is blocked mid-resolution of it; run in a child interpreter), ``writer_starvation``
  (inserts among THREADS-1 readers of one cached key, each within a bound);
- ``bench_workloads`` (the benchmark's workloads under many threads) and ``lazy_import_race``
  (NumPy's lazy submodule attributes under concurrent first access).
"""

from __future__ import annotations

import faulthandler
import gc
import os
import random
import signal
import sys
import threading
import time
import warnings

import numpy as np

# beside this file (run by path, so its folder is on sys.path)
import stress_lifecycle
import stress_reentrant
from capi_promoter import ERRORS, add_promoter, dtype_class
from stress_common import (
    CODES,
    THREADS,
    WATCHDOG,
    CaseFailed,
    arr,
    check,
    combos,
    outcome,
    run_threads,
    seconds,
)

# NumPy's lazily imported submodules (numpy/__init__.py's module __getattr__)
LAZY = ("rec", "char", "testing", "ctypeslib", "typing", "strings", "polynomial", "ma", "fft",
        "linalg", "random", "dtypes", "exceptions", "matlib", "core")


# ---------------------------------------------------------------- cases
def case_table_growth() -> None:
    """Many threads insert fresh keys at once (every binary ufunc x dtype pair, each thread in its
    own order): lookups walk tables that other threads are growing. Results must equal a
    single-threaded rerun."""
    arrays = {c: np.arange(1, 4).astype(c) for c in CODES}
    got: list[dict] = [{} for _ in range(THREADS)]

    def work(i):
        for u, a, b in combos(i):
            got[i][(u, a, b)] = outcome(getattr(np, u), arrays[a], arrays[b])

    with np.errstate(all="ignore"):
        run_threads(THREADS, work)
        for key in got[0]:
            want = outcome(getattr(np, key[0]), arrays[key[1]], arrays[key[2]])
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

    run_threads(THREADS, work)
    check(not ERRORS, f"errors inside the promoters: {ERRORS}")


def case_register_miss_race() -> None:
    """Promoter registration racing with resolution on the same ufunc, all the time: THREADS-1
    threads call ``np.bitwise_and`` on float64, which has no loop, so every call resolves anew
    (a failed resolution is never cached) and reads all of the ufunc's loops and promoters, while
    one thread registers promoters for integer DType triples on it for at most
    LOCKSWAP_STRESS_REGISTER_SECONDS (10). NumPy 2.1-2.4 keep loops and promoters in a list that
    resolution reads and registration appends to. Every call must raise TypeError and every
    registered promoter must be there afterwards; a data race between the two shows under TSan."""
    f = arr("d")
    ints = "?bBhHiIlLqQ"
    triples = [tuple(dtype_class(c) for c in (a, b, o)) for a in ints for b in ints for o in ints]
    deadline = time.monotonic() + seconds("LOCKSWAP_STRESS_REGISTER_SECONDS", 10)
    stop = threading.Event()
    added: list[tuple] = []

    def reader():
        n = 0
        while not stop.is_set() or n < 20:
            try:
                np.bitwise_and(f, f)
            except TypeError:
                n += 1
                continue
            check(False, "np.bitwise_and(float64, float64) did not raise")

    def registrar():
        try:
            for k, t in enumerate(triples):
                if time.monotonic() > deadline and len(added) >= 64:
                    break
                try:
                    add_promoter(np.bitwise_and, t, lambda: None)
                    added.append(t)
                except TypeError:  # that DType triple has a loop already
                    pass
                if k % 16 == 15:
                    time.sleep(0.001)
        finally:
            stop.set()

    run_threads(THREADS, lambda i: registrar() if i == 0 else reader())
    for t in (added[0], added[-1]):  # registered: a second registration must be refused
        try:
            add_promoter(np.bitwise_and, t, lambda: None)
        except TypeError:
            continue
        check(False, f"promoter for {t} registered twice: the first registration was lost")
    check(not ERRORS, f"errors inside the promoters: {ERRORS}")

def case_thread_churn() -> None:
    """Thousands of short-lived threads, each calling ufuncs (hits and a few misses): per-thread
    caches are created and torn down all the time. At most LOCKSWAP_STRESS_CHURN threads (3000),
    and no new ones after LOCKSWAP_STRESS_CHURN_SECONDS (60; a loaded machine starts fewer)."""
    total = int(os.environ.get("LOCKSWAP_STRESS_CHURN", "3000"))
    deadline = time.monotonic() + float(os.environ.get("LOCKSWAP_STRESS_CHURN_SECONDS", "60"))
    keys = combos(7)[:400]
    arrays = {c: np.arange(1, 4).astype(c) for c in CODES}
    errors: list[str] = []

    def one(k):
        try:
            with np.errstate(all="ignore"):
                for u, a, b in keys[k % 50 * 8:(k % 50 + 1) * 8]:
                    outcome(getattr(np, u), arrays[a], arrays[b])
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

    run_threads(THREADS, work)


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

    run_threads(THREADS, work)


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


CASES = dict(sorted((name[5:], fn) for module in (globals(), vars(stress_reentrant), vars(stress_lifecycle))
                    for name, fn in module.items() if name.startswith("case_")))


def main(argv: list[str]) -> int:
    if hasattr(faulthandler, "register") and hasattr(signal, "SIGUSR1"):
        # the runner's deadlock detector asks every process of a stalled case for its stacks
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    if argv[1:] == [stress_lifecycle.CHILD_FLAG]:  # the interpreter case_finalization observes
        try:
            return stress_lifecycle.finalization_child()
        except CaseFailed as exc:
            print(f"finalization child: FAIL: {exc}", flush=True)
            return 1
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
