#!/usr/bin/env python
"""Stress test for NumPy's per-ufunc dispatch cache under free-threading.

Run with a venv's python (no pytest needed):

    VENV/bin/python stress_dispatch.py [--threads 8] [--rounds 4] [--procs 2]

Exit code 0 when every result matched, 1 on a mismatch, a crash in a worker,
or a deadlock (the watchdog dumps all threads' stacks and exits).

How it works
------------
* The task list is every (ufunc, operand-a, operand-b) combination over many
  DISTINCT dtype pairs: arrays of bool, int8..int64, uint8..uint64,
  float16/32/64, complex64/128, the matching NumPy scalars, and Python
  scalars (bool/int/float/complex, weak promotion), for a set of binary ufuncs
  (plus a few unary ones).  Invalid combinations are kept: their exception
  (type and message) is the expected outcome.
* Expected outcomes are computed single-threaded, in a fresh shuffled order,
  in a SEPARATE process, so the worker's dispatch caches are still empty when
  the threads start: the first round of every worker process races cache
  misses, inserts, table resizes and reads.  Every worker is a fresh process
  (--procs of them, run one after the other), so each gets fresh caches.
* Every round also creates NEW ufuncs with np.frompyfunc (object loops) whose
  caches are empty, so later rounds still race misses/inserts/resizes.
* All threads wait at a barrier and then run all tasks, each thread in its own
  shuffled order; every result (dtype, shape, bytes; or exception) is compared
  with the expectation.
* A helper thread calls gc.collect() in a loop during every round:
  stop-the-world pauses are where blocking on a lock while attached to the
  interpreter deadlocks.
* Watchdog: faulthandler.dump_traceback_later(exit=True) armed per round in each
  worker plus a join timeout; the parent also kills a worker that overruns.
"""
import argparse
import faulthandler
import gc
import os
import pickle
import random
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]
PYSCALARS = {"pybool": True, "pyint": 3, "pyfloat": 2.5, "pycomplex": 1.5 + 2j}

BINARY = ["add", "multiply", "subtract", "maximum", "logical_and", "power",
          "arctan2", "true_divide", "bitwise_and", "greater", "divmod"]
UNARY = ["negative", "absolute", "sqrt", "invert", "isnan", "frexp"]

A_VALUES = [1, 2, 3, 0]
B_VALUES = [3, 0, 1, 2]


def pyfunc2(a, b):
    # deterministic object-loop function for np.frompyfunc ufuncs
    return f"{type(a).__name__}|{a!r}|{b!r}"


def pyfunc1(a):
    return f"{type(a).__name__}|{a!r}"


def make_operand(spec, values):
    kind, name = spec
    if kind == "arr":
        return np.array(values, dtype=name)
    if kind == "np":
        return np.array(values[1], dtype=name)[()]   # NumPy scalar
    return PYSCALARS[name]


def operand_specs():
    specs = [("arr", d) for d in DTYPES]
    specs += [("np", d) for d in DTYPES]
    specs += [("py", n) for n in PYSCALARS]
    return specs


def build_tasks():
    specs = operand_specs()
    tasks = []
    for uf in BINARY:
        for a in specs:
            for b in specs:
                if a[0] != "arr" and b[0] != "arr":
                    # scalar-scalar: keep only a few (NumPy scalar math may
                    # bypass the ufunc machinery; pure Python never calls it)
                    if a[0] == "py" or b[0] == "py" or a[1] != b[1]:
                        continue
                elif a[0] == "arr" and b[0] == "np":
                    continue  # NumPy scalar with array: one order suffices
                tasks.append(("np", uf, (a, b)))
    for uf in UNARY:
        for a in specs:
            if a[0] == "py":
                continue
            tasks.append(("np", uf, (a,)))
    arrs = [s for s in specs if s[0] == "arr"]
    # reductions (cache keys with a NULL first operand, the reduce-compatible
    # re-dispatch) and forced signatures (dtype=...)
    for uf in ["add", "multiply", "maximum", "logical_and", "bitwise_and"]:
        for a in arrs:
            tasks.append(("reduce", uf, (a,)))
            tasks.append(("accumulate", uf, (a,)))
    for uf in ["add", "true_divide", "greater"]:
        for a in arrs:
            for forced in ["float64", "complex128", "int64"]:
                tasks.append(("dtype=" + forced, uf, (a, ("py", "pyint"))))
    # fresh object-loop ufuncs (new per round): every array dtype pair
    for a in arrs:
        for b in [*arrs, ("py", "pyint"), ("py", "pyfloat")]:
            tasks.append(("pyf", "pyfunc2", (a, b)))
        tasks.append(("pyf", "pyfunc1", (a,)))
    return tasks


def outcome(res):
    if isinstance(res, tuple):
        return ("tuple", *tuple(outcome(r) for r in res))
    arr = np.asarray(res)
    if arr.dtype == object:
        return ("obj", arr.shape, tuple(repr(x) for x in arr.ravel()))
    return ("ok", arr.dtype.str, arr.shape, arr.tobytes())


def run_task(task, pyfuncs):
    kind, name, specs = task
    uf = pyfuncs[name] if kind == "pyf" else getattr(np, name)
    ops = [make_operand(s, v) for s, v in zip(specs, (A_VALUES, B_VALUES), strict=False)]
    try:
        if kind in ("reduce", "accumulate"):
            res = getattr(uf, kind)(ops[0])
        elif kind.startswith("dtype="):
            res = uf(*ops, dtype=kind[6:])
        else:
            res = uf(*ops)
    except Exception as e:  # invalid combinations: the error is the outcome
        return ("exc", type(e).__name__, str(e))
    return outcome(res)


def fresh_pyfuncs():
    return {"pyfunc2": np.frompyfunc(pyfunc2, 2, 1),
            "pyfunc1": np.frompyfunc(pyfunc1, 1, 1)}


def compute_expected(seed):
    tasks = build_tasks()
    order = list(range(len(tasks)))
    random.Random(seed).shuffle(order)
    pyfuncs = fresh_pyfuncs()
    exp = [None] * len(tasks)
    with np.errstate(all="ignore"):
        for i in order:
            exp[i] = run_task(tasks[i], pyfuncs)
    return exp


def worker(args, expected):
    """Run --rounds rounds of --threads threads in this process."""
    tasks = build_tasks()
    assert len(tasks) == len(expected)
    if args.inject_mismatch:
        expected = list(expected)
        expected[len(expected) // 2] = ("ok", "<f8", (4,), b"wrong")
    nthreads = args.threads
    failures = []
    ncalls = 0
    ngc = 0
    lock = threading.Lock()
    t0 = time.perf_counter()
    for rnd in range(args.rounds):
        # backstop if even the main thread cannot make progress (e.g. a
        # stop-the-world pause that never ends): dump all stacks and exit 1
        faulthandler.dump_traceback_later(args.timeout + 15, exit=True)
        pyfuncs = fresh_pyfuncs()
        barrier = threading.Barrier(nthreads + 1)
        stop = threading.Event()
        counts = [0] * nthreads

        def run(tid):
            order = list(range(len(tasks)))
            random.Random(args.seed * 1000003 + rnd * 101 + tid).shuffle(order)
            bad = []
            barrier.wait(timeout=args.timeout)
            with np.errstate(all="ignore"):
                for i in order:
                    got = run_task(tasks[i], pyfuncs)
                    if got != expected[i]:
                        bad.append((rnd, tid, tasks[i], expected[i], got))
                    if args.inject_hang and tid == 0 and i == order[-1]:
                        threading.Event().wait()   # self-test of watchdog
            counts[tid] = len(order)
            with lock:
                failures.extend(bad)

        def collector():
            nonlocal ngc
            barrier.wait(timeout=args.timeout)
            while not stop.is_set():
                gc.collect()
                ngc += 1
                time.sleep(0.002)

        threads = [threading.Thread(target=run, args=(t,), daemon=True)
                   for t in range(nthreads)]
        gct = threading.Thread(target=collector, daemon=True)
        for t in threads:
            t.start()
        gct.start()
        deadline = time.monotonic() + args.timeout
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stop.set()
        gct.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in [*threads, gct] if t.is_alive()]
        if alive:
            print("stress_dispatch: DEADLOCK/timeout in round %d; "
                  "%d thread(s) still running; stacks:" % (rnd, len(alive)),
                  file=sys.stderr, flush=True)
            faulthandler.dump_traceback(all_threads=True)
            os._exit(1)
        ncalls += sum(counts)
        if sum(counts) != nthreads * len(tasks):
            failures.append((rnd, -1, "a thread died (see stderr)", None, None))
    faulthandler.cancel_dump_traceback_later()
    dt = time.perf_counter() - t0
    for f in failures[:10]:
        print("MISMATCH round={} thread={} task={!r}\n  expected={!r}\n  got     ={!r}".format(*f),
              file=sys.stderr)
    return failures, ncalls, ngc, dt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--procs", type=int, default=2,
                   help="fresh worker processes, run one after another "
                        "(0: run the rounds in this process)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="watchdog seconds per round")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--inject-mismatch", action="store_true",
                   help="self-test: corrupt one expectation (must exit 1)")
    p.add_argument("--inject-hang", action="store_true",
                   help="self-test: one thread hangs (watchdog must fire)")
    p.add_argument("--_expect", metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--_worker", metavar="FILE", help=argparse.SUPPRESS)
    args = p.parse_args()
    warnings.simplefilter("ignore")

    if args._expect:
        with open(args._expect, "wb") as f:
            pickle.dump(compute_expected(args.seed ^ 0x5EED), f)
        return 0
    if args._worker:
        with open(args._worker, "rb") as f:
            expected = pickle.load(f)
        failures, ncalls, ngc, dt = worker(args, expected)
        print("worker pid=%d: %d calls, %d mismatches, %d gc.collect, %.1fs"
              % (os.getpid(), ncalls, len(failures), ngc, dt), flush=True)
        return 1 if failures else 0

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    with tempfile.TemporaryDirectory() as tmp:
        expfile = os.path.join(tmp, "expected.pickle")
        base = [sys.executable, os.path.abspath(__file__),
                "--threads", str(args.threads), "--rounds", str(args.rounds),
                "--timeout", str(args.timeout), "--seed", str(args.seed)]
        base += ["--inject-mismatch"] if args.inject_mismatch else []
        base += ["--inject-hang"] if args.inject_hang else []
        r = subprocess.run([*base, "--_expect", expfile], timeout=args.timeout)
        if r.returncode != 0:
            print("stress_dispatch: FAIL computing expectations (rc=%d)"
                  % r.returncode)
            return 1
        ok = True
        t0 = time.perf_counter()
        if args.procs <= 0:
            with open(expfile, "rb") as f:
                failures, ncalls, ngc, dt = worker(args, pickle.load(f))
            ok = not failures
            detail = "%d calls, %d mismatches, %d gc.collect" % (
                ncalls, len(failures), ngc)
        else:
            rcs = []
            for _i in range(args.procs):
                try:
                    r = subprocess.run([*base, "--_worker", expfile],
                                       timeout=args.rounds * (args.timeout + 30))
                    rcs.append(r.returncode)
                except subprocess.TimeoutExpired:
                    rcs.append("timeout")
            ok = all(rc == 0 for rc in rcs)
            detail = f"worker exit codes {rcs}"
    ntasks = len(build_tasks())
    print("stress_dispatch: %s numpy %s GIL=%s threads=%d rounds=%d procs=%d "
          "tasks/thread/round=%d %s (%.1fs)"
          % ("PASS" if ok else "FAIL", np.__version__, gil, args.threads,
             args.rounds, args.procs, ntasks, detail,
             time.perf_counter() - t0), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
