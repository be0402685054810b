"""Process-lifecycle and fairness cases of ``stress_cases.py``: shutdown with daemon threads,
fork while threads hammer the dispatch cache, interpreter finalization while a thread is blocked
mid-resolution, and a writer among many readers. Runs INSIDE a variant's test venv.

Every wait here has a bound (overridable by environment variables, generous for 2 loaded cores), so
a case ends as a named failure, never as a wait that lasts forever.
"""

from __future__ import annotations

import atexit
import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
from capi_promoter import add_promoter, dtype_class
from stress_common import NUMERIC, THREADS, WATCHDOG, arr, check, checked, combos, outcome, seconds

CHILD_FLAG = "--finalization-child"
FINAL_MARKERS = ("finalization: atexit OK", "finalization: __del__ OK")
EXIT_KEYS = (("add", "h", "I"), ("add", "q", "I"))  # first used at exit (the hammers leave them out)


def case_shutdown() -> None:
    """Daemon threads keep calling ufuncs with fresh dtype pairs while the interpreter finalizes
    (the case returns at once; a crash or hang at exit is the failure)."""
    arrays = {c: np.arange(1, 4).astype(c) for c in "?" + NUMERIC}

    def spin(i):
        with np.errstate(all="ignore"):
            while True:
                for u, a, b in combos(100 + i):
                    outcome(getattr(np, u), arrays[a], arrays[b])
                    np.frompyfunc(lambda x, y: x, 2, 1)(arrays[a], arrays[b])

    for i in range(THREADS):
        threading.Thread(target=spin, args=(i,), daemon=True).start()
    time.sleep(0.3)


def case_writer_starvation() -> None:
    """THREADS-1 readers call np.add on one cached key in a tight loop while one writer inserts
    fresh keys (new dtype pairs of np.add, then of other ufuncs). Every insert must finish within
    LOCKSWAP_STRESS_INSERT_SECONDS (10) and all of them within LOCKSWAP_STRESS_INSERTS_SECONDS (60,
    at most half the watchdog): a lock that lets readers starve a writer fails here, naming the
    slowest insert."""
    each = seconds("LOCKSWAP_STRESS_INSERT_SECONDS", 10)
    total = seconds("LOCKSWAP_STRESS_INSERTS_SECONDS", min(60, WATCHDOG / 2))
    f = arr("d")
    np.add(f, f)
    stop, running = threading.Event(), threading.Semaphore(0)
    reads = [0] * THREADS
    keys = [("add", a, b) for a in NUMERIC for b in NUMERIC if a != b]
    keys += [(u, a, "d") for u in ("multiply", "maximum", "subtract") for a in NUMERIC if a != "d"]

    def reader(i):
        while not stop.is_set():
            np.add(f, f)
            reads[i] += 1
            if reads[i] == 200:  # hammering: the writer starts once every reader is
                running.release()

    readers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(1, THREADS)]
    for t in readers:
        t.start()
    for _ in readers:
        check(running.acquire(timeout=WATCHDOG / 4), "a reader thread never got going")
    times: list[tuple[float, str]] = []
    start = time.monotonic()
    try:
        with np.errstate(all="ignore"):
            for u, a, b in keys:
                t0 = time.monotonic()
                outcome(getattr(np, u), arr(a), arr(b))
                times.append((time.monotonic() - t0, f"np.{u}({a!r}, {b!r})"))
                if time.monotonic() - start > total:
                    break
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=WATCHDOG / 4)
    spent = time.monotonic() - start
    slowest = max(times)
    check(len(times) == len(keys) and spent <= total,
          f"{len(times)} of {len(keys)} inserts in {spent:.1f} s (bound {total:g} s); slowest: "
          f"{slowest[1]} {slowest[0]:.2f} s")
    check(slowest[0] <= each, f"slowest insert {slowest[1]} took {slowest[0]:.2f} s (bound {each:g} s)")
    check(sum(reads) > 0, "the readers never ran")
    print(f"writer_starvation: {len(times)} inserts in {spent:.2f} s, slowest {slowest[1]} "
          f"{slowest[0] * 1000:.1f} ms, {sum(reads)} reads")


def _fork_child(names: tuple[str, ...], fresh: list[tuple[str, str, str]]) -> None:
    """In the forked child: the ufuncs on cached and fresh keys, then ``os._exit`` (never returns)."""
    code = 1
    try:
        faulthandler.enable(all_threads=True)  # SIGABRT from the parent prints this child's stack
        with np.errstate(all="ignore"):
            for u in names:
                check(getattr(np, u)(arr("d"), arr("d")).dtype == np.float64, f"np.{u}: wrong dtype")
            for u, a, b in fresh:
                outcome(getattr(np, u), arr(a), arr(b))
        code = 0
    except BaseException as exc:
        os.write(2, f"fork child: {exc!r}\n".encode())
    os._exit(code)


def _reap(pid: int, limit: float) -> str:
    """Wait for a forked child (polling, with a deadline); "" when it exited 0, else what happened.
    A child still running at the deadline gets SIGABRT (faulthandler prints its stack), then
    SIGKILL."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "" if code == 0 else f"child {pid} ended with {code}"
        time.sleep(0.05)
    os.kill(pid, signal.SIGABRT)
    for sig in (None, signal.SIGKILL):
        if sig is not None:
            os.kill(pid, sig)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return f"child {pid} hung (no exit after {limit:g} s): killed (SIGABRT, stacks above)"
            time.sleep(0.05)
    os.waitpid(pid, 0)
    return f"child {pid} hung (no exit after {limit:g} s): killed (SIGKILL)"


def case_fork() -> None:
    """Threads call ufuncs (hits and fresh keys) while the main thread forks several times; each
    child calls the same ufuncs (cached and fresh keys) and must exit within
    LOCKSWAP_STRESS_FORK_SECONDS (60, at most a third of the watchdog): a lock held by a thread
    that does not exist in the child hangs it (the parent then prints its stacks with SIGABRT and
    kills it). Skipped without fork."""
    if not hasattr(os, "fork"):
        print("fork: SKIP (no os.fork on this platform)")
        return
    limit = seconds("LOCKSWAP_STRESS_FORK_SECONDS", min(60, WATCHDOG / 3))
    forks = int(os.environ.get("LOCKSWAP_STRESS_FORKS", "6"))
    names = ("add", "multiply", "maximum", "subtract")
    stop = threading.Event()
    errors: list[str] = []
    for u in names:
        getattr(np, u)(arr("d"), arr("d"))
    # (ufunc, a, complex) keys of the hammered ufuncs are left to the children: fresh there
    reserved = {(u, a, "D") for u in names for a in NUMERIC}

    def hammer(i):
        try:
            with np.errstate(all="ignore"):
                keys = iter([c for c in combos(300 + i) if c not in reserved])
                while not stop.is_set():
                    for u in names:
                        getattr(np, u)(arr("d"), arr("d"))
                    u, a, b = next(keys, ("add", "d", "d"))
                    outcome(getattr(np, u), arr(a), arr(b))
        except BaseException as exc:
            errors.append(f"thread {i}: {exc!r}")

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(THREADS - 1)]
    for t in threads:
        t.start()
    failures = []
    try:
        for k in range(forks):
            time.sleep(0.05 + 0.02 * k)
            fresh = [(u, a, "D") for u in names for a in NUMERIC[k::forks]]
            with warnings.catch_warnings():  # "use of fork() may lead to deadlocks": what we test
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                _fork_child(names, fresh)
            failures += [w for w in [_reap(pid, limit)] if w]
            if failures:  # one hung child says it; the watchdog need not wait for more
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=WATCHDOG / 4)
    check(not failures, "; ".join(failures))
    check(not errors, "; ".join(errors[:5]))


class _AtExit:
    """Kept by a module global (no cycle: it dies when that module's globals are cleared or
    collected); its __del__, run while the interpreter finalizes, calls np.add on a cached and a
    fresh key. Holds what it needs: module globals may be gone by then."""

    def __init__(self) -> None:
        self.add, self.write, self.want = np.add, os.write, np.dtype("q")
        self.ones = {c: arr(c) for c in "dIq"}

    def __del__(self) -> None:
        o = self.ones
        if self.add(o["d"], o["d"])[0] == 2 and self.add(o["q"], o["I"]).dtype == self.want:
            self.write(1, f"{FINAL_MARKERS[1]}\n".encode())


_KEEP: list[object] = []


def _final_limit() -> float:
    """Seconds the finalization child may take (its faulthandler then prints every stack)."""
    return seconds("LOCKSWAP_STRESS_FINALIZATION_SECONDS", min(120, WATCHDOG / 2))


def finalization_child() -> int:
    """The scenario of ``finalization`` (in a fresh interpreter): a daemon thread blocked inside
    np.add's promoter (NumPy is resolving a miss), others hammering hits and misses, then exit."""
    faulthandler.dump_traceback_later(_final_limit(), exit=True)
    f = arr("d")
    np.add(f, f)
    entered, never = threading.Event(), threading.Event()

    def blocked():
        entered.set()
        never.wait()

    add_promoter(np.add, (dtype_class("b"), dtype_class("e"), None), blocked)
    threading.Thread(target=lambda: np.add(arr("b"), arr("e")), daemon=True).start()
    check(entered.wait(WATCHDOG / 4), "the promoter never ran")

    def hammer(i):
        with np.errstate(all="ignore"):
            for u, a, b in [c for c in combos(500 + i) if c not in EXIT_KEYS] * 100:
                np.add(f, f)
                outcome(getattr(np, u), arr(a), arr(b))

    for i in range(max(THREADS - 2, 1)):
        threading.Thread(target=hammer, args=(i,), daemon=True).start()

    def at_exit():
        checked("add", "d", "d")
        checked("add", "h", "I")  # used by nobody before
        print(FINAL_MARKERS[0], flush=True)

    atexit.register(at_exit)
    _KEEP.append(_AtExit())
    time.sleep(0.2)
    print("finalization: exiting", flush=True)
    return 0


def case_finalization() -> None:
    """The interpreter finalizes while a daemon thread is blocked mid-call of np.add (its promoter
    waits on an Event: NumPy is resolving a miss) and others hammer hits and misses; an atexit
    handler and an object's __del__ then call np.add (cached and fresh keys) and must complete.
    Runs in a child interpreter (this file with --finalization-child) so its exit can be observed:
    the case fails when the child hangs (LOCKSWAP_STRESS_FINALIZATION_SECONDS, 120 or half the
    watchdog: faulthandler prints every thread's stack), crashes, or misses a marker."""
    limit = _final_limit()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stress_cases.py")
    cmd = [sys.executable, "-X", "faulthandler", script, CHILD_FLAG]
    try:
        got = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + WATCHDOG / 4, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        check(False, f"finalization child killed after {limit + WATCHDOG / 4:g} s:\n{out[-4000:]}")
        return
    out = got.stdout + got.stderr
    missing = [m for m in FINAL_MARKERS if m not in got.stdout]
    check(got.returncode == 0 and not missing,
          f"finalization child: exit {got.returncode}, missing {missing}:\n{out[-5000:]}")
