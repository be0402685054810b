"""Contention probe: runs INSIDE a variant's venv (stdlib + numpy only; never lockswap).

``python probe.py SPEC.json`` writes JSON lines ``{"event": ...}`` on stdout. It reuses the bench
worker (``worker.py``, loaded from the path in the spec) to compile and run kernels, and finds
candidates with ``candidates.py`` beside it.

``mode: "discover"``: which objects does a call of the kernel write the reference count of?
  1. run the workload's setup once in the main thread and collect candidate objects reachable from
     the kernel: the names and attribute chains it uses, the numpy module, every live ContextVar
     and its current value (NumPy's errstate extobj and memory-handler capsules are held only by
     C statics and reached this way), the operands' types and dtypes, and whatever Python code a
     traced call runs (its functions, modules and the globals they name), expanded one or two levels
     (type, ``gc.get_referents``, dict values, module attributes);
  2. run the kernel in a loop on a second thread while the main thread samples every candidate's
     ``ob_ref_shared``. On free-threaded CPython a thread that does not own an object changes only
     the shared count, and every candidate here is owned by the main thread, which only reads: so a
     candidate whose shared count moves is one the kernel's calls incref/decref.

``mode: "measure"``: make the objects named by ``immortalize`` (locator expressions) immortal
while this is the only thread (3.13t: through the object header, as the 2.1.3 ``immortal`` patch's
``npy_set_immortal`` does; 3.14t+: ``PyUnstable_SetImmortal`` where the C API has it), then time
the kernel with 1 and with N threads (each worker's own time too). An object that cannot be made
immortal is refused (exit 3). With ``spacers``, that many idle threads start between consecutive
workers (the thread-layout arm: see ``worker.run_threads``).
"""

from __future__ import annotations

import ctypes
import faulthandler
import gc
import importlib.util
import json
import operator
import sys
import sysconfig
import threading
import time

try:  # imported as lockswap.contention.probe (tests), or run as a script inside the venv
    from . import candidates as cand
except ImportError:
    import candidates as cand  # type: ignore[no-redef]

REFUSED_EXIT = 3
IMMORTAL_LOCAL = 0xFFFFFFFF  # _Py_IMMORTAL_REFCNT_LOCAL (3.13t/3.14t)
OFF_TID, OFF_LOCAL, OFF_SHARED, OFF_TYPE = 0, 12, 16, 24  # free-threaded PyObject header (64-bit)
REF_QUEUED = 2  # low bits of ob_ref_shared: queued for merging by its owner thread


class Refused(Exception):
    """This object cannot be made immortal here; the message says why."""


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def load_worker(path):
    spec = importlib.util.spec_from_file_location("lockswap_bench_worker", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def free_threaded():
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


# ---------------------------------------------------------------------------------------------
# object headers (free-threaded 64-bit CPython)
# ---------------------------------------------------------------------------------------------

def header(obj):
    a = id(obj)
    return {"tid": ctypes.c_size_t.from_address(a + OFF_TID).value,
            "local": ctypes.c_uint32.from_address(a + OFF_LOCAL).value,
            "shared": ctypes.c_ssize_t.from_address(a + OFF_SHARED).value,
            "type_ok": ctypes.c_size_t.from_address(a + OFF_TYPE).value == id(type(obj))}


def immortal_reason(obj):
    """Why ``obj`` cannot be made immortal on this Python right now, or None."""
    if not free_threaded():
        return "this Python has the GIL (not a free-threaded build): its refcounts are not shared-written"
    if sys.version_info[:2] < (3, 13):
        return f"Python {sys.version_info[0]}.{sys.version_info[1]} is not supported (3.13t or newer)"
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return "only 64-bit builds are supported (header offsets)"
    if sys.version_info[:2] > (3, 13) and not hasattr(ctypes.pythonapi, "PyUnstable_SetImmortal"):
        return (f"Python {sys.version_info[0]}.{sys.version_info[1]} has no PyUnstable_SetImmortal and "
                "lockswap writes object headers only on 3.13t")
    h = header(obj)
    if not h["type_ok"]:
        return "unexpected object header layout (ob_type not at offset 24)"
    if h["local"] == IMMORTAL_LOCAL:
        return "already immortal"
    if h["shared"] & 3 == REF_QUEUED:
        return "queued for a refcount merge by another thread"
    return None


def immortalize(obj):
    """Make ``obj`` immortal. Safe only while no other thread can hold or touch it."""
    if threading.active_count() != 1:
        raise Refused(f"{threading.active_count() - 1} other thread(s) running: the object may be "
                      "shared already, and its header can only be rewritten before any thread starts")
    why = immortal_reason(obj)
    if why:
        raise Refused(why)
    if sys.version_info[:2] > (3, 13):
        fn = ctypes.pythonapi.PyUnstable_SetImmortal
        fn.argtypes, fn.restype = [ctypes.py_object], ctypes.c_int
        if not fn(obj):
            raise Refused("PyUnstable_SetImmortal refused it")
        return
    if gc.is_tracked(obj):  # as npy_set_immortal: immortal objects are not collected
        untrack = ctypes.pythonapi.PyObject_GC_UnTrack
        untrack.argtypes, untrack.restype = [ctypes.py_object], None
        untrack(obj)
    a = id(obj)
    ctypes.c_size_t.from_address(a + OFF_TID).value = 0  # _Py_UNOWNED_TID
    ctypes.c_uint32.from_address(a + OFF_LOCAL).value = IMMORTAL_LOCAL
    ctypes.c_ssize_t.from_address(a + OFF_SHARED).value = 0


# ---------------------------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------------------------

def setup_namespace(spec, iterations):
    import numpy as np

    ns = {"np": np, "n": spec["size"], "worker": 0, "iterations": iterations}
    exec(compile(spec["setup"], "<setup>", "exec"), ns)
    return ns


def sample(entries, thread, ready, go, seconds_cap):
    """Read every entry's ob_ref_shared until ``thread`` ends.

    Returns per entry the samples that differ from its value at rest (the sampling thread inside
    ``sync``, between warmup and the loop) and the changes between consecutive samples, the
    entries CPython made immortal by then (3.13t immortalises objects with deferred reference
    counting, modules and their dicts among them, when the first thread starts: gh-117783), and
    the number of samples.
    """
    ready.wait()
    late = [e for e in entries if header(e["obj"])["local"] == IMMORTAL_LOCAL]
    watched = [e for e in entries if header(e["obj"])["local"] != IMMORTAL_LOCAL]
    cells = [ctypes.c_ssize_t.from_address(id(e["obj"]) + OFF_SHARED) for e in watched]
    value = operator.attrgetter("value")
    rest = list(map(value, cells))
    prev = rest
    changes = [0] * len(cells)
    busy = [0] * len(cells)
    deltas = [set() for _ in cells]
    samples = 0
    go.set()
    end = time.perf_counter() + seconds_cap
    while thread.is_alive() and time.perf_counter() < end:
        now = list(map(value, cells))
        samples += 1
        if now != rest:
            for i, v in enumerate(now):
                if v != rest[i]:
                    busy[i] += 1
                    if len(deltas[i]) < 8:
                        deltas[i].add(v - rest[i])
        if now != prev:
            for i, v in enumerate(now):
                if v != prev[i]:
                    changes[i] += 1
        prev = now
    return watched, busy, changes, deltas, late, samples


def discover(spec, worker):
    if not free_threaded() or sys.version_info[:2] < (3, 13):
        emit({"event": "error", "message": f"{sys.executable} is not a free-threaded CPython 3.13+ "
                                           "(shared refcounts exist only there)"})
        sys.exit(2)
    gc.disable()  # the collector must not touch headers while they are sampled
    cell = {"setup": spec["setup"], "kernel": spec["kernel"], "size": spec["size"], "workers": 1,
            "iterations": 1, "warmup": True}
    iterations = worker.calibrate(cell, spec["target_seconds"])
    ns = setup_namespace(spec, iterations)
    run_once = worker.build_run(spec["setup"], spec["kernel"])
    var_roots, ambiguous = cand.contextvar_roots()
    roots = [*cand.kernel_roots(spec["kernel"], ns), *cand.NUMPY_ROOTS, *var_roots, *cand.operand_roots(ns),
             *cand.trace_roots(lambda: run_once(spec["size"], 0, 2, 0, lambda: None))]
    found = cand.collect(roots, ns, depth=spec.get("depth", 2))
    entries, immortal = [], 0
    for e in found.values():
        h = header(e["obj"])
        if h["local"] == IMMORTAL_LOCAL:
            immortal += 1
            e["already_immortal"] = True
        entries.append(e)
    watched = [e for e in entries if not e.get("already_immortal")]
    before = {id(e["obj"]): sys.getrefcount(e["obj"]) for e in watched}
    watched, busy, changes, deltas, late, samples = sample_rounds(spec, worker, watched, iterations,
                                                                  MIN_SAMPLES)
    out = [written(e, busy[i], changes[i], deltas[i], samples, before.get(id(e["obj"])))
           for i, e in enumerate(watched) if busy[i] or changes[i]]
    swept = 0
    if spec.get("sweep"):
        swept, more = sweep(spec, worker, found, iterations, roots, ns)
        out += more
    out.sort(key=lambda c: (c["locator"] is None, -c["busy"], -c["changes"], c["locator"] or ""))
    root_locs = {loc for loc, _ in roots}
    late_roots = [{"locator": e["locator"], "type": type(e["obj"]).__qualname__,
                   "repr": cand.short_repr(e["obj"])} for e in late if e["locator"] in root_locs]
    emit({"event": "candidates", "candidates": out, "examined": len(entries), "already_immortal": immortal,
          "immortal_at_thread_start": len(late), "immortal_at_thread_start_roots": late_roots,
          "samples": samples, "swept": swept, "iterations": iterations, "roots": sorted(root_locs),
          "contextvars_ambiguous": ambiguous})


def written(e, busy, changes, deltas, samples, refcount_before):
    obj = e["obj"]
    refused = immortal_reason(obj)
    if e["locator"] is None:
        refused = "found only by the sweep of all objects: no path from the kernel's names to it"
    return {"locator": e["locator"], "via": e["via"][:5], "type": type(obj).__qualname__,
            "type_module": type(obj).__module__, "repr": cand.short_repr(obj),
            "busy": busy, "changes": changes, "samples": samples, "deltas": sorted(deltas),
            "refcount_before": refcount_before, "refcount_after": sys.getrefcount(obj),
            "immortal_refused": refused}


MIN_SAMPLES = 20_000  # about a second on an idle machine; a busy one gets more rounds
MIN_SWEEP_SAMPLES = 200
MAX_ROUNDS = 4


def sample_rounds(spec, worker, watched, iterations, min_samples):
    """:func:`run_sampled` again (fresh thread, fresh rest values) until ``min_samples`` are taken."""
    watched, busy, changes, deltas, late, samples = run_sampled(spec, worker, watched, iterations)
    for _ in range(MAX_ROUNDS - 1):
        if samples >= min_samples:
            break
        w2, b2, c2, d2, _, s2 = run_sampled(spec, worker, watched, iterations)
        if len(w2) != len(watched) or any(a is not b for a, b in zip(w2, watched, strict=True)):
            break  # (cannot happen: nothing turns immortal after the first thread started)
        busy = [a + b for a, b in zip(busy, b2, strict=True)]
        changes = [a + b for a, b in zip(changes, c2, strict=True)]
        deltas = [a | b for a, b in zip(deltas, d2, strict=True)]
        samples += s2
    return watched, busy, changes, deltas, late, samples


def run_sampled(spec, worker, watched, iterations):
    """Run the kernel on a second thread while sampling ``watched``; see :func:`sample`."""
    ready, go = threading.Event(), threading.Event()
    loop_iterations = max(1, int(iterations * spec["sample_seconds"] / spec["target_seconds"]))
    errors = []

    def sync():
        ready.set()
        go.wait()

    def target():
        try:
            worker.build_run(spec["setup"], spec["kernel"])(spec["size"], 1, loop_iterations,
                                                              max(1, loop_iterations // 10), sync)
        except BaseException as exc:
            errors.append(repr(exc))
            ready.set()

    t = threading.Thread(target=target)
    t.start()
    got = sample(watched, t, ready, go, 10 * spec["sample_seconds"] + 5)
    t.join()
    if errors:
        raise RuntimeError(f"the kernel failed on the sampling thread: {errors[0]}")
    return got


SWEEP_MIN_CHANGES = 4  # the harness's own objects (events the thread waits on) change once or twice


def sweep(spec, worker, found, iterations, roots, ns):
    """Every other GC-tracked object of the main thread, sampled the same way (slower, complete).

    Returns (objects swept, written ones), each located from the roots when a path of at most
    three steps exists.
    """
    me = threading.get_ident()
    skip = {id(e["obj"]) for e in found.values()}
    pool = [o for o in gc.get_objects() if id(o) not in skip and header(o)["tid"] == me
            and header(o)["local"] != IMMORTAL_LOCAL]
    entries = [{"obj": o, "locator": None, "via": ["sweep of all GC-tracked objects"]} for o in pool]
    del pool
    watched, busy, changes, deltas, _, samples = sample_rounds(spec, worker, entries, iterations,
                                                               MIN_SWEEP_SAMPLES)
    hits = [(e, i) for i, e in enumerate(watched) if changes[i] >= SWEEP_MIN_CHANGES]
    paths = cand.find_paths({id(e["obj"]) for e, _ in hits}, roots, ns)
    out = []
    for e, i in hits:
        if id(e["obj"]) in paths:
            e["locator"], how = paths[id(e["obj"])]
            e["via"] = [how, *e["via"]]
        out.append(written(e, busy[i], changes[i], deltas[i], samples, None))
    return len(watched), out


def measure(spec, worker):
    ns = setup_namespace(spec, spec["iterations"])
    done, skipped, located = [], [], []
    for loc in spec["immortalize"]:  # every locator first: immortalising one (GC-untracking it) must
        try:                         # not hide it from the next one's gc.get_objects()
            located.append((loc, cand.locate(loc, ns), None))
        except Exception as exc:
            located.append((loc, None, f"cannot locate {loc!r} in this process: {exc!r}"))
    for loc, obj, reason in located:
        if reason is None:
            try:
                immortalize(obj)
                done.append({"locator": loc, "type": type(obj).__qualname__, "repr": cand.short_repr(obj)})
                continue
            except Refused as exc:
                reason = str(exc)
        if not spec.get("skip_refused"):
            emit({"event": "refused", "locator": loc, "reason": reason})
            sys.exit(REFUSED_EXIT)
        skipped.append({"locator": loc, "reason": reason})
    del ns, located
    emit({"event": "immortalized", "objects": done, "skipped": skipped})
    for workers in spec["workers"]:
        cell = {"setup": spec["setup"], "kernel": spec["kernel"], "size": spec["size"], "workers": workers,
                "iterations": spec["iterations"], "warmup": True, "spacers": spec.get("spacers", 0)}
        spans = worker.run_threads(cell)
        start = min(s[0] for s in spans)
        emit({"event": "cell", "workers": workers, "seconds": max(s[1] for s in spans) - start,
              "per_worker": [s[1] - s[0] for s in spans]})


def main():
    faulthandler.enable()  # a crash leaves its stack in the output tail the runner reports
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    worker = load_worker(spec["worker"])
    limits = worker._pin_blas()  # noqa: F841  (kept alive: BLAS on one thread, as in the bench)
    if spec["mode"] == "discover":
        discover(spec, worker)
    else:
        measure(spec, worker)
    emit({"event": "env", **worker.environment()})


if __name__ == "__main__":
    main()
