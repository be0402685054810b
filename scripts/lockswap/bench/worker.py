"""Benchmark worker: runs INSIDE a variant's venv (stdlib + numpy + threadpoolctl only; never lockswap).

Reads a JSON spec on stdin, writes JSON lines on stdout: first ``{"event": "env", ...}`` (what this
interpreter and NumPy are), then per cell ``{"event": "begin", "id"}`` and, when it finishes,
``{"event": "cell", "id", ...}`` or ``{"event": "error", "id", "error", "traceback"}``: a cell that
raises is reported and the next cell runs. If a pool child dies the worker exits with status 3
after its ``error`` line (the pool is unusable; the runner goes on in a fresh process).

Spec: ``{"mode": "measure" | "calibrate" | "probe", "target_seconds": float, "timeout": float | null,
"cells": [{"id", "setup", "kernel", "size", "mode": "threads" | "processes", "workers",
"iterations", "warmup"}]}`` (threads cells may add ``"spacers"``: see :func:`run_threads`). ``probe``
only reports the environment.

faulthandler is on (a crash prints every thread's stack on stderr) and, with a ``timeout``, each
cell arms ``faulthandler.dump_traceback_later``: a cell that hangs dumps its stacks to stderr before
the runner kills the process, so the failure's stderr tail shows where it hung.

A measurement: N workers (threads of this process, or N persistent child processes) each build
their own data, warm up, meet at a barrier, then run the kernel ``iterations`` times. Wall time is
from the earliest start to the latest end (``time.perf_counter``, CLOCK_MONOTONIC on Linux, shared
by processes).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import multiprocessing as mp
import os
import platform
import sys
import sysconfig
import textwrap
import threading
import time
import traceback

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _pin_blas():
    for var in BLAS_ENV:
        os.environ[var] = "1"
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_limits(1)


def build_run(setup, kernel):
    """Compile ``setup`` + ``kernel`` into ``run(n, worker, iterations, warmup, sync) -> (t0, t1)``.

    Setup and kernel share one function body, so the workload's names are fast locals that the
    kernel may rebind (``x += 0.01``), as in a hand-written benchmark.
    """
    import numpy as np

    body = (
        setup.rstrip() + "\n"
        "for _k in range(warmup):\n" + textwrap.indent(kernel.rstrip(), "    ") + "\n"
        "sync()\n"
        "_t0 = _perf()\n"
        "for _k in range(iterations):\n" + textwrap.indent(kernel.rstrip(), "    ") + "\n"
        "return _t0, _perf()\n"
    )
    src = "def _run(n, worker, iterations, warmup, sync):\n" + textwrap.indent(body, "    ")
    ns = {"np": np, "_perf": time.perf_counter, "__name__": "lockswap_workload"}
    exec(compile(src, "<workload>", "exec"), ns)
    return ns["_run"]


class CellError(RuntimeError):
    """A cell failed: ``error`` (one line) and ``tb`` (the traceback of where it was raised)."""

    def __init__(self, error, tb):
        super().__init__(error)
        self.error, self.tb = error, tb


class PoolBroken(Exception):
    """A child process of the pool died: this worker cannot run further process cells."""


def _format(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _arm(cell):
    if cell.get("timeout"):
        faulthandler.dump_traceback_later(cell["timeout"], exit=False)


def _disarm():
    faulthandler.cancel_dump_traceback_later()


def _warmup_count(cell):
    return max(1, cell["iterations"] // 10) if cell["warmup"] else 0


def _one(cell, worker, barrier):
    run = build_run(cell["setup"], cell["kernel"])
    return run(cell["size"], worker, cell["iterations"], _warmup_count(cell), barrier.wait)


def run_threads(cell):
    """Run a threads cell; ``cell.get("spacers", 0)`` idle threads are started between consecutive
    workers (and stopped after them), so that what the interpreter allocates per thread when a thread
    starts (CPython 3.13t: its QSBR slot, 64 bytes after the previous thread's) is not next to the
    previous worker's. The contention finder's thread-layout arm uses it; the bench never does."""
    n = cell["workers"]
    barrier = threading.Barrier(n)
    spans = [None] * n
    errors = []
    idle = threading.Event()
    spacers = []

    def target(i):
        try:
            spans[i] = _one(cell, i, barrier)
        except BaseException as exc:  # reported, and the barrier broken so nobody waits forever
            broken = isinstance(exc, threading.BrokenBarrierError)
            errors.append((broken, f"worker thread {i}: {exc!r}", _format(exc)))
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    try:
        for i, t in enumerate(threads):
            t.start()
            if i < n - 1:
                for _ in range(cell.get("spacers", 0)):
                    spacers.append(threading.Thread(target=idle.wait))
                    spacers[-1].start()
        for t in threads:
            t.join()
    finally:
        idle.set()
        for s in spacers:
            s.join()
    if errors:  # the real error, not the BrokenBarrierError it caused in the other threads
        _, error, tb = min(errors, key=lambda e: e[0])
        raise CellError(error, tb)
    return spans


def _child(conn, barriers):
    faulthandler.enable()
    limits = _pin_blas()  # noqa: F841  (kept alive for the child's lifetime)
    import numpy  # noqa: F401  (import before the first barrier, not inside a measurement)

    while True:
        msg = conn.recv()
        if msg is None:
            return
        cell, worker = msg
        _arm(cell)
        try:
            conn.send(("ok", _one(cell, worker, barriers[cell["workers"]])))
        except BaseException as exc:
            barriers[cell["workers"]].abort()
            conn.send(("error", f"worker process {worker}: {exc!r}", _format(exc)))
        finally:
            _disarm()


class Pool:
    """Persistent child processes (spawned once per worker run), one barrier per worker count."""

    def __init__(self, size, counts):
        ctx = mp.get_context("spawn")
        self.barriers = {c: ctx.Barrier(c) for c in counts}
        self.conns = []
        self.procs = []
        for _ in range(size):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_child, args=(child, self.barriers), daemon=True)
            p.start()
            self.conns.append(parent)
            self.procs.append(p)

    def run(self, cell):
        n = cell["workers"]
        try:
            for i in range(n):
                self.conns[i].send((cell, i))
            replies = [self.conns[i].recv() for i in range(n)]
        except (EOFError, OSError) as exc:
            dead = [p.pid for p in self.procs if not p.is_alive()]
            raise PoolBroken(f"a worker process died ({exc!r}; exit codes "
                             f"{[p.exitcode for p in self.procs if not p.is_alive()]}, pids {dead})") from exc
        self.barriers[n].reset()
        bad = [r for r in replies if r[0] != "ok"]
        if bad:  # the first real error, not a BrokenBarrierError it caused in the others
            first = next((r for r in bad if "BrokenBarrierError" not in r[1]), bad[0])
            raise CellError(first[1], first[2])
        return [r[1] for r in replies]

    def close(self):
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send(None)
        for p in self.procs:
            p.join(timeout=30)


def _nothing():
    pass


def calibrate(cell, target):
    """Iterations for one worker to run about ``target`` seconds (also used by lockswap.contention)."""
    return calibrate_timed(cell, target)[0]


def calibrate_timed(cell, target):
    """``(iterations, seconds per call)``: iterations for one worker to run about ``target`` seconds."""
    count = 1
    while True:
        t0, t1 = build_run(cell["setup"], cell["kernel"])(cell["size"], 0, count, 0, _nothing)
        dt = t1 - t0
        if dt >= min(0.05, target / 2) or count >= 1 << 30:
            return max(1, int(count * target / max(dt, 1e-9))), dt / count
        count *= 4 if dt < 0.005 else 2


def environment():
    import importlib.metadata as md

    import numpy as np

    env = {
        "python": platform.python_version(),
        "python_build": sys.version.replace("\n", " "),
        "implementation": platform.python_implementation(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True,
        "python_compiler": platform.python_compiler(),
        "numpy_version": np.__version__,
        "numpy_dist_version": md.version("numpy"),
        "numpy_file": np.__file__,
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "pid": os.getpid(),
    }
    try:
        compilers = np.show_config(mode="dicts")["Compilers"]
        env["numpy_compiler"] = {k: f"{v.get('name')} {v.get('version')}" for k, v in compilers.items()}
    except Exception:
        env["numpy_compiler"] = None
    try:
        import threadpoolctl

        env["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                       for i in threadpoolctl.threadpool_info()]
    except ImportError:
        env["blas"] = None
    return env


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _measure(cell, pool):
    spans = pool.run(cell) if cell["mode"] == "processes" else run_threads(cell)
    start = min(s[0] for s in spans)
    return {"seconds": max(s[1] for s in spans) - start,
            "spans": [[s[0] - start, s[1] - start] for s in spans]}


def main():
    faulthandler.enable()
    spec = json.load(sys.stdin)
    limits = _pin_blas()  # noqa: F841
    emit({"event": "env", **environment()})
    if spec["mode"] == "probe":
        return 0
    cells = [{**c, "timeout": spec.get("timeout")} for c in spec["cells"]]
    procs = [c for c in cells if c["mode"] == "processes"] if spec["mode"] == "measure" else []
    pool = Pool(max(c["workers"] for c in procs), {c["workers"] for c in procs}) if procs else None
    try:
        for cell in cells:
            emit({"event": "begin", "id": cell["id"]})
            _arm(cell)
            try:
                if spec["mode"] == "calibrate":
                    iterations, per_call = calibrate_timed(cell, spec["target_seconds"])
                    result = {"iterations": iterations, "seconds_per_call": per_call}
                else:
                    result = _measure(cell, pool)
            except PoolBroken as exc:
                emit({"event": "error", "id": cell["id"], "kind": "crash", "error": str(exc),
                      "traceback": ""})
                return 3
            except CellError as exc:
                sys.stderr.write(f"cell {cell['id']} failed:\n{exc.tb}")
                emit({"event": "error", "id": cell["id"], "kind": "exception", "error": exc.error,
                      "traceback": exc.tb})
                continue
            except Exception as exc:
                sys.stderr.write(f"cell {cell['id']} failed:\n{_format(exc)}")
                emit({"event": "error", "id": cell["id"], "kind": "exception", "error": repr(exc),
                      "traceback": _format(exc)})
                continue
            finally:
                _disarm()
            emit({"event": "cell", "id": cell["id"], **result})
    finally:
        if pool is not None:
            pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
