"""Run the scaling suite: probe, calibrate, then all targets interleaved round-robin, one process per repeat.

The runner never imports the NumPy it measures: it sends a JSON spec to ``worker.py`` running in
each target's venv and reads JSON lines back (``process.run``).

Order of a run (fair to every target):
1. probe: each target's worker starts once and reports its environment (GIL, NumPy, BLAS) and how
   long it takes to start; a target that cannot run stops the run before anything is measured;
2. calibration: iterations per (workload, size) so one worker runs ``target_seconds`` (first target,
   one thread); the same fixed work is then used for every target, mode and worker count;
3. for each repeat r: the cells are shuffled (seed r, same order for every target) and the
   targets take turns in an order rotated by r, each in a fresh worker process (its own
   interpreter: the unit of replication). Workloads marked ``fresh_process`` get a fresh worker
   process per cell, targets alternating cell by cell.

A failing cell is a row, not the end: an exception in a cell is reported by the worker and the next
cell runs; a crash or a hang (no event for ``timeout`` seconds) ends that process, the cell is
recorded as failed with the stderr tail, and the remaining cells go on in a fresh process.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..base import log, paths
from ..base.errors import CommandError, ConfigError
from ..build.wheel import Wheel
from ..interpreter import venvs
from ..interpreter.find import Interpreter
from . import environment, estimate, process
from .workloads import Workload

MODES = ("threads", "processes")
BENCH_REQUIREMENTS = ("threadpoolctl",)  # installed beside the wheel in each target's venv
TIMEOUT_FLOOR = 60.0  # seconds: a worker process start on a loaded machine fits in it
TIMEOUT_FACTOR = 10.0  # times the longest expected cell (all workers serialised)


@dataclass(frozen=True)
class Target:
    """One build to measure: the python of its venv and what its wheel is."""

    label: str  # unique in the run: the variant, with ``@numpy`` when it is not the run's NumPy
    python: Path
    info: dict[str, Any]  # wheel facts for the results (version, patch sha256, ...)
    variant: str = ""  # the variant name (default: the label)
    numpy_version: str = ""

    @property
    def name(self) -> str:
        return self.variant or self.label


@dataclass(frozen=True)
class Plan:
    workloads: tuple[Workload, ...]
    sizes: tuple[int, ...]
    workers: tuple[int, ...]
    modes: tuple[str, ...]
    repeats: int
    target_seconds: float
    quick: bool = False
    full: bool = False
    timeout: float | None = None  # per worker process without progress; None: derived from calibration
    upstream: str | None = None  # label of the newest NumPy release measured as the bar, if any

    def to_json(self) -> dict[str, Any]:
        return {"workloads": [w.name for w in self.workloads], "sizes": list(self.sizes),
                "workers": list(self.workers), "modes": list(self.modes), "repeats": self.repeats,
                "target_seconds": self.target_seconds, "quick": self.quick, "full": self.full,
                "timeout": self.timeout, "upstream": self.upstream,
                "order": "calibrate once; per repeat: cells shuffled, variants round-robin, fresh process"}


@dataclass(frozen=True)
class Cell:
    workload: Workload
    size: int
    mode: str
    workers: int

    def spec(self, cid: int, iterations: int) -> dict[str, Any]:
        return {"id": cid, "setup": self.workload.setup, "kernel": self.workload.kernel,
                "size": self.size, "mode": self.mode, "workers": self.workers,
                "iterations": iterations, "warmup": self.workload.warmup}


@dataclass(frozen=True)
class Calibration:
    iterations: dict[tuple[str, int], int]
    per_call: dict[tuple[str, int], float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"iterations": {f"{w}:{n}": v for (w, n), v in self.iterations.items()},
                "seconds_per_call": {f"{w}:{n}": v for (w, n), v in self.per_call.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        def keyed(d: dict[str, Any]) -> dict[tuple[str, int], Any]:
            return {(k.rpartition(":")[0], int(k.rpartition(":")[2])): v for k, v in d.items()}

        return cls({k: int(v) for k, v in keyed(data["iterations"]).items()},
                   {k: float(v) for k, v in keyed(data.get("seconds_per_call", {})).items()})


class Sink(Protocol):
    def measurement(self, record: dict[str, Any]) -> None: ...

    def failure(self, record: dict[str, Any]) -> None: ...


CellKey = tuple[str, str, int, str, int, int]  # target, workload, size, mode, workers, repeat


def key_of(record: dict[str, Any]) -> CellKey:
    """The cell a measurement or failure record is of."""
    target = record.get("target", record.get("variant"))
    return (str(target), str(record["workload"]), int(record["size"]), str(record["mode"]),
            int(record["workers"]), int(record["repeat"]))


def default_workers(cores: int) -> tuple[int, ...]:
    """The long plan's worker counts: every count up to the cores, then 2x and 4x oversubscribed."""
    return (*range(1, cores + 1), 2 * cores, 4 * cores)


def scaling_workers(cores: int) -> tuple[int, ...]:
    """The default plan's worker counts: powers of two up to the cores, and the cores; never more."""
    counts = {cores}
    k = 1
    while k < cores:
        counts.add(k)
        k *= 2
    return tuple(sorted(counts))


def cells_of(plan: Plan) -> list[Cell]:
    return [Cell(w, n, mode, k) for w in plan.workloads for n in w.sizes(plan.sizes)
            for mode in plan.modes for k in plan.workers]


@dataclass(frozen=True)
class Slot:
    """One worker process of the schedule: a target's cells of one repeat."""

    target: Target
    repeat: int
    ids: tuple[int, ...]


def schedule(plan: Plan, targets: Sequence[Target], done: Iterable[CellKey] = ()) -> list[Slot]:
    """Every worker process of the run in order, without the cells already ``done`` (a resume)."""
    cells = cells_of(plan)
    finished = set(done)
    fresh = [i for i, c in enumerate(cells) if c.workload.fresh_process]
    shared = [i for i, c in enumerate(cells) if not c.workload.fresh_process]
    slots: list[Slot] = []

    def todo(t: Target, r: int, ids: list[int]) -> tuple[int, ...]:
        return tuple(i for i in ids if (t.label, cells[i].workload.name, cells[i].size, cells[i].mode,
                                        cells[i].workers, r) not in finished)

    for repeat in range(plan.repeats):
        rng = random.Random(repeat)
        order = [*targets[repeat % len(targets):], *targets[:repeat % len(targets)]]
        ids = list(shared)
        rng.shuffle(ids)
        slots += [Slot(t, repeat, todo(t, repeat, ids)) for t in order]
        fresh_ids = list(fresh)
        rng.shuffle(fresh_ids)
        for k, i in enumerate(fresh_ids):
            turn = order[k % len(order):] + order[:k % len(order)]
            slots += [Slot(t, repeat, todo(t, repeat, [i])) for t in turn]
    return [s for s in slots if s.ids]


def _cell_cost(plan: Plan, cell: Cell, cores: int, calibration: Calibration | None) -> float:
    k = (cell.workload.name, cell.size)
    per_call = calibration.per_call.get(k) if calibration else None
    iters = calibration.iterations.get(k) if calibration else None
    return estimate.cell_seconds(plan.target_seconds, cell.workers, cell.workload.warmup, cores, per_call,
                                 iters)


def _slot_cost(plan: Plan, cells: list[Cell], slot: Slot, cores: int, startup: float,
               calibration: Calibration | None) -> float:
    pool = max((cells[i].workers for i in slot.ids if cells[i].mode == "processes"), default=0)
    costs = [_cell_cost(plan, cells[i], cores, calibration) for i in slot.ids]
    return estimate.process_seconds(startup, costs, pool, cores)


def estimate_seconds(plan: Plan, targets: Sequence[Target], cores: int, *, startup: float,
                     calibration: Calibration | None = None, done: Iterable[CellKey] = (),
                     with_setup: bool = False) -> float:
    """Expected seconds of the measurement (``with_setup``: plus probing and calibrating first)."""
    cells = cells_of(plan)
    total = sum(_slot_cost(plan, cells, s, cores, startup, calibration)
                for s in schedule(plan, targets, done))
    if with_setup:
        n_keys = len({(c.workload.name, c.size) for c in cells})
        total += len(targets) * startup + estimate.calibration_seconds(n_keys, plan.target_seconds, startup)
    return total


def derive_timeout(plan: Plan, calibration: Calibration, cores: int) -> float:
    """Seconds a worker may go without finishing a cell: floor + factor x the longest cell, serialised."""
    if plan.timeout:
        return plan.timeout
    longest = max((_cell_cost(plan, c, 1, calibration) for c in cells_of(plan)), default=plan.target_seconds)
    return round(TIMEOUT_FLOOR + TIMEOUT_FACTOR * longest, 1)


def venv_path(interp: Interpreter, wheel_key: str) -> Path:
    """Where the benchmark venv of a wheel lives: one per wheel and interpreter (bench and contention
    share it; ``--resume`` checks a journal's venv against it)."""
    return paths.cache_dir("venvs") / f"bench-{paths.content_key(wheel_key, interp.key, BENCH_REQUIREMENTS)}"


def bench_python(interp: Interpreter, wheel: Wheel, *, label: str, venv: Path | None = None) -> Path:
    """The python of the wheel's benchmark venv (made once: the wheel plus :data:`BENCH_REQUIREMENTS`)."""
    with log.step(f"bench venv for {label}"):
        return venvs.ensure(interp, venv or venv_path(interp, wheel.key), [wheel.path, *BENCH_REQUIREMENTS])


def wheel_info(interp: Interpreter, wheel: Wheel, variant: str) -> dict[str, Any]:
    """What the results record of a built target: the wheel's facts, its file name and interpreter."""
    info: dict[str, Any] = {k: v for k, v in wheel.to_json().items() if k != "path"}
    info.update(wheel=wheel.path.name, interpreter=interp.to_json(), variant=variant)
    return info


def check_env(label: str, env: dict[str, Any], allow_gil: bool) -> None:
    if env.get("gil_enabled") and not allow_gil:
        why = "this Python is not free-threaded" if not env.get("free_threaded") else \
            "the GIL was enabled at run time (PYTHON_GIL=1, or a module without Py_mod_gil)"
        raise ConfigError(f"variant {label!r}: the GIL is enabled in the benchmark worker ({why})",
                          "use a free-threaded interpreter without PYTHON_GIL=1, or pass --allow-gil "
                          "to measure anyway (results are marked gil_enabled)")


def _failed(what: str, exit: process.Exit, python: Path) -> CommandError:
    return CommandError(f"{what}: {exit.describe(TIMEOUT_FLOOR)} ({python} {process.WORKER})",
                        "the worker's output is below", output_tail=exit.stderr_tail)


def probe(target: Target, allow_gil: bool) -> tuple[dict[str, Any], float]:
    """Start the target's worker once: its environment and how many seconds it took to start."""
    got: dict[str, Any] = {}
    start = time.monotonic()
    exit = process.run(target.python, {"mode": "probe", "cells": []}, 2 * TIMEOUT_FLOOR,
                       lambda m: got.update(m, seconds=time.monotonic() - start))
    if not exit.ok or "seconds" not in got:
        raise _failed(f"the benchmark worker of {target.label} does not start", exit, target.python)
    startup = float(got.pop("seconds"))
    got.pop("event", None)
    check_env(target.label, got, allow_gil)
    return got, startup


def calibrate(plan: Plan, target: Target) -> Calibration:
    """Iterations per (workload, size) for one worker to run about ``plan.target_seconds``."""
    keys = sorted({(c.workload.name, c.size) for c in cells_of(plan)})
    by_name = {w.name: w for w in plan.workloads}
    cells = [Cell(by_name[w], n, "threads", 1).spec(i, 0) for i, (w, n) in enumerate(keys)]
    iterations: dict[tuple[str, int], int] = {}
    per_call: dict[tuple[str, int], float] = {}
    errors: list[str] = []

    def on_event(m: dict[str, Any]) -> None:
        if m["event"] == "cell":
            iterations[keys[m["id"]]] = int(m["iterations"])
            per_call[keys[m["id"]]] = float(m["seconds_per_call"])
        elif m["event"] == "error":
            name, n = keys[m["id"]]
            errors.append(f"{name} (n={n}): {m['error']}\n{m.get('traceback', '')}")

    spec = {"mode": "calibrate", "target_seconds": plan.target_seconds, "cells": cells,
            "timeout": TIMEOUT_FLOOR + TIMEOUT_FACTOR * plan.target_seconds}
    limit = TIMEOUT_FLOOR + 2 * TIMEOUT_FACTOR * plan.target_seconds
    exit = process.run(target.python, spec, limit, on_event)
    if errors:
        raise CommandError(f"calibration on {target.label} failed for {len(errors)} workload size(s)",
                           "fix the workload (or leave it out with --workloads)",
                           output_tail=errors[0][-4000:])
    if not exit.ok or len(iterations) != len(keys):
        raise _failed(f"calibration on {target.label} failed", exit, target.python)
    return Calibration(iterations, per_call)


def run(plan: Plan, targets: Sequence[Target], calibration: Calibration, sink: Sink, *, timeout: float,
        cores: int, startup: float, done: Iterable[CellKey] = (), allow_gil: bool = False) -> int:
    """Measure every cell of ``plan`` for every target not in ``done``; records go to ``sink``.

    Returns the number of failed cells.
    """
    cells = cells_of(plan)
    slots = schedule(plan, targets, done)
    costs = {id(s): _slot_cost(plan, cells, s, cores, startup, calibration) for s in slots}
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    progress = estimate.Progress(sum(costs.values()), "bench")
    failures = 0

    def record(target: Target, repeat: int, cid: int) -> dict[str, Any]:
        c = cells[cid]
        return {"target": target.label, "variant": target.name, "numpy_version": target.numpy_version,
                "workload": c.workload.name, "size": c.size, "mode": c.mode, "workers": c.workers,
                "repeat": repeat}

    def fail(target: Target, repeat: int, cid: int, kind: str, error: str, tail: str,
             seconds: float | None) -> None:
        nonlocal failures
        failures += 1
        sink.failure({**record(target, repeat, cid), "kind": kind, "error": error, "stderr_tail": tail,
                      "seconds": None if seconds is None else round(seconds, 3)})
        c = cells[cid]
        log.warn(f"{target.label} {c.workload.name} n={c.size} {c.mode} x{c.workers} repeat {repeat + 1}: "
                 f"{kind}: {error.splitlines()[0] if error else ''} (recorded; the run goes on)")

    def one_process(slot: Slot) -> None:
        target, repeat = slot.target, slot.repeat
        pending = list(slot.ids)
        while pending:
            state: dict[str, Any] = {"current": None, "began": 0.0, "progress": False, "crash": None}

            def on_event(m: dict[str, Any], state: dict[str, Any] = state) -> None:
                ev, cid = m["event"], m.get("id")
                if ev == "env":
                    check_env(target.label, m, allow_gil)
                    state["pid"] = m.get("pid")
                elif ev == "begin":
                    state.update(current=cid, began=time.monotonic(), progress=True,
                                 load=environment.loadavg(),
                                 window=environment.CpuWindow(state.get("pid"), affinity))
                elif ev == "cell" and cid in pending:
                    c = cells[cid]
                    iters = int(calibration.iterations[c.workload.name, c.size])
                    calls = iters * c.workers
                    window = state.get("window")
                    foreign = window.share() if window is not None and c.mode == "threads" else None
                    sink.measurement({**record(target, repeat, cid), "iterations": iters, "calls": calls,
                                      "flops": c.workload.flops_per_call(c.size) * calls,
                                      "seconds": m["seconds"], "spans": m["spans"],
                                      "load": [state.get("load"), environment.loadavg()],
                                      "foreign_cpu": foreign})
                    pending.remove(cid)
                    state["current"] = None
                    progress.advance(_cell_cost(plan, c, cores, calibration),
                                     f"{target.label} r{repeat + 1}/{plan.repeats}")
                elif ev == "error" and cid in pending:
                    if m.get("kind") == "crash":  # recorded at exit, with the process's stderr
                        state["crash"] = m.get("error", "")
                        return
                    fail(target, repeat, cid, "exception", m.get("error", ""),
                         str(m.get("traceback", ""))[-process.TAIL_CHARS:], time.monotonic() - state["began"])
                    pending.remove(cid)
                    state["current"] = None

            spec = {"mode": "measure", "timeout": timeout, "cells": [
                cells[i].spec(i, int(calibration.iterations[cells[i].workload.name, cells[i].size]))
                for i in pending]}
            exit = process.run(target.python, spec, timeout, on_event)
            if not pending:
                break
            error = exit.describe(timeout)
            if state["crash"]:
                error = f"{state['crash']}; {error}"
            kind = "timeout" if exit.timed_out else "crash"
            if state["current"] is not None:
                fail(target, repeat, state["current"], kind, error, exit.stderr_tail,
                     time.monotonic() - state["began"])
                pending.remove(state["current"])
            elif not state["progress"]:  # it never started a cell: the same would happen again
                for cid in list(pending):
                    fail(target, repeat, cid, kind, f"before the first cell: {error}", exit.stderr_tail, None)
                pending.clear()
        progress.advance(startup)

    try:
        for slot in slots:
            one_process(slot)
    finally:
        progress.close()
    return failures
