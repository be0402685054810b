"""lockswap's test of the per-thread dispatch cache of the ``tls`` and ``tlsimmortal`` variants.

Runs against the installed NumPy. Those variants' cache counts, per thread and only on its miss
path, the lookups that missed, the entries it filled and the live entries it evicted, and exposes
them as ``numpy._core._multiarray_umath._tls_dispatch_stats()``. The tests below skip on any other
build (baseline, the other variants, and the earlier direct-mapped cache, ``tlsbefore`` of
``tools/before_after.py 09e35e1``, which has no counters).

What they show, deterministically: a thread that cycles through more keys than a direct-mapped
cache of the same number of sets could hold without collisions (here 56 (ufunc, DTypes) keys, 12 of
them with a Python scalar operand, i.e. an abstract DType) misses each key exactly once, then hits on
every later call, in several threads at once. The cache is placed by identities that are the same in
every process, so this does not depend on addresses: the test is run in several fresh processes too.
A cache that lost a key to a collision counts a miss on every later call of that key, so
``misses`` keeps growing and the test fails; built with ``-DTLS_DISPATCH_WAYS=1`` (direct-mapped, same
placement), 56 keys in 64 slots collide in every process (the chance that they do not is
2e-17) and the test fails deterministically.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

_umath = getattr(np, "_core", None)
STATS = getattr(getattr(_umath, "_multiarray_umath", None), "_tls_dispatch_stats", None)

pytestmark = pytest.mark.skipif(
    STATS is None or STATS() is None,
    reason="this NumPy has no lockswap per-thread dispatch cache with counters (tls, tlsimmortal only)")

UFUNCS = (np.add, np.subtract, np.multiply, np.maximum)
DTYPES = ("b", "B", "h", "H", "i", "I", "q", "Q", "e", "f", "d")
SIZE = 4
CYCLES = 5


def keys():
    """56 distinct dispatch keys: 4 ufuncs x 11 dtypes, and 4 ufuncs x 3 Python scalar kinds."""
    calls = []
    for u in UFUNCS:
        for c in DTYPES:
            a = np.ones(SIZE, dtype=c)
            calls.append((u, a, np.ones(SIZE, dtype=c), np.empty(SIZE, dtype=c)))
        f = np.ones(SIZE)
        for scalar in (2, 2.0, True):  # abstract Python int/float DTypes, and a bool scalar
            calls.append((u, f, scalar, np.empty(SIZE)))
    return calls


def too_many_keys():
    """605 keys (5 ufuncs x 11 x 11 dtype pairs): more than the cache holds, so some must miss."""
    calls = []
    for u in (*UFUNCS, np.minimum):
        for a in DTYPES:
            for b in DTYPES:
                calls.append((u, np.ones(SIZE, dtype=a), np.ones(SIZE, dtype=b),
                              np.empty(SIZE, dtype=np.result_type(a, b))))
    return calls


def run_thread(calls, out, index):
    """One thread: a fresh cache, one cycle to fill it, then CYCLES cycles that must all hit."""
    try:
        start = STATS()
        for u, a, b, o in calls:
            u(a, b, out=o)
        warm = STATS()
        for _ in range(CYCLES):
            for u, a, b, o in calls:
                u(a, b, out=o)
        out[index] = (start, warm, STATS())
    except BaseException as e:  # reported by the main thread
        out[index] = e


def check(calls=None, nthreads=4):
    calls = keys() if calls is None else calls
    results = [None] * nthreads
    # Each thread its own output arrays: threads writing one array would be a data race of this
    # test (ThreadSanitizer reports it), not of NumPy. Inputs are only read, so they are shared.
    threads = [threading.Thread(target=run_thread, args=(
                   [(u, a, b, np.empty_like(o)) for u, a, b, o in calls[i:] + calls[:i]], results, i))
               for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if isinstance(r, BaseException):
            raise r
        start, warm, end = r
        assert start["entries"] == 0 and start["misses"] == 0, f"a new thread's cache is not empty: {start}"
        # The first cycle missed (and filled) every key: the cache is really used for these calls.
        assert warm["fills"] >= len(calls), f"{len(calls)} keys but only {warm['fills']} fills: {warm}"
        # ... and every later call hit: no miss, no eviction.
        assert end["misses"] == warm["misses"], (
            f"{end['misses'] - warm['misses']} misses in {CYCLES} further cycles of {len(calls)} keys "
            f"(a key lost to a collision misses on every call): {warm} -> {end}")
        assert end["evictions"] == warm["evictions"] == 0, f"entries were evicted: {end}"
        assert end["entries"] == warm["entries"]


def test_geometry():
    s = STATS()
    assert s["ways"] >= 2 and s["sets"] * s["ways"] >= 256, s


def test_many_keys_keep_hitting_in_every_thread():
    check()


def test_the_check_can_fail():
    """Self-test: with more keys than entries, keys are lost and the check must say so."""
    calls = too_many_keys()
    assert len(calls) > STATS()["sets"] * STATS()["ways"]
    with pytest.raises(AssertionError, match="misses in 5 further cycles"):
        check(calls, nthreads=1)


def test_many_keys_keep_hitting_in_fresh_processes():
    """The placement must not depend on the process (ASLR): the same check in fresh interpreters."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_lockswap_tls as t; "
            "t.check(); print('tls-ok')")
    for _ in range(4):
        got = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)],
                             capture_output=True, text=True, timeout=300, check=False)
        assert got.returncode == 0 and "tls-ok" in got.stdout, got.stderr[-4000:]


def test_results_are_right_after_a_dynamic_ufunc_dies():
    """Entries of a freed ufunc never match a new ufunc (its table gets a new tag, even at the
    same address): each new frompyfunc ufunc must return its own result, on a warm cache."""
    a = np.array([1, 2], dtype=object)
    for i in range(50):
        f = np.frompyfunc(lambda x, y, i=i: i, 2, 1)
        for _ in range(3):
            assert list(f(a, a)) == [i, i]
        del f


def test_an_error_is_not_cached():
    """A call that fails to resolve a loop must fail every time, also after a hit of a near key."""
    s = np.array(["a"])
    np.add(np.ones(2), np.ones(2))
    for _ in range(3):
        with pytest.raises(TypeError):
            np.add(np.ones(1), s)
