"""Run the scaling suite: calibrate, then all variants interleaved round-robin, one process per repeat.

The runner never imports the NumPy it measures: it sends a JSON spec to ``worker.py`` running in
each variant's venv and reads JSON lines back.

Order of a run (fair to every variant):
1. calibration: iterations per (workload, size) so one worker runs ``target_seconds`` (first variant,
   one thread); the same fixed work is then used for every variant, mode and worker count;
2. for each repeat r: the cells are shuffled (seed r, same order for every variant) and the
   variants take turns in an order rotated by r, each in a fresh worker process (its own
   interpreter: the unit of replication). Workloads marked ``fresh_process`` get a fresh worker
   process per cell, variants alternating cell by cell.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import log
from ..errors import CommandError, ConfigError
from . import environment
from .workloads import Workload

WORKER = Path(__file__).with_name("worker.py")
MODES = ("threads", "processes")


@dataclass(frozen=True)
class Target:
    """One variant to measure: the python of its venv and what its wheel is."""

    variant: str
    python: Path
    info: dict[str, Any]  # wheel facts for the results (version, patch sha256, ...)


@dataclass(frozen=True)
class Plan:
    workloads: tuple[Workload, ...]
    sizes: tuple[int, ...]
    workers: tuple[int, ...]
    modes: tuple[str, ...]
    repeats: int
    target_seconds: float
    quick: bool = False
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"workloads": [w.name for w in self.workloads], "sizes": list(self.sizes),
                "workers": list(self.workers), "modes": list(self.modes), "repeats": self.repeats,
                "target_seconds": self.target_seconds, "quick": self.quick, "seed": self.seed,
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


def default_workers(cores: int) -> tuple[int, ...]:
    return (*range(1, cores + 1), 2 * cores, 4 * cores)


def cells_of(plan: Plan) -> list[Cell]:
    return [Cell(w, n, mode, k) for w in plan.workloads for n in w.sizes(plan.sizes)
            for mode in plan.modes for k in plan.workers]


class Progress:
    """A plain-text progress bar with time left, on stderr; periodic lines on GitHub Actions."""

    def __init__(self, total: float, title: str) -> None:
        self.total, self.title, self.done = max(total, 1e-9), title, 0.0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty() and not log.on_github()

    def advance(self, amount: float, note: str = "") -> None:
        self.done = min(self.total, self.done + amount)
        now = time.monotonic()
        if not self.tty and now - self.last < 15 and self.done < self.total:
            return
        self.last = now
        frac = self.done / self.total
        elapsed = now - self.start
        left = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        line = (f"{self.title} [{bar}] {100 * frac:5.1f}%  {log.format_seconds(elapsed)} elapsed, "
                f"~{log.format_seconds(left)} left  {note}")
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            sys.stderr.flush()
        else:
            log.info(line)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env[var] = "1"
    return env


def run_worker(python: Path, spec: dict[str, Any], on_cell: Callable[[dict[str, Any]], None]
               ) -> dict[str, Any]:
    """Run the worker with ``spec``; call ``on_cell`` per result line; return its environment."""
    cmd = [str(python), str(WORKER)]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        # Popen rather than proc.run: the results stream in line by line to drive the progress bar.
        with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                              env=worker_env(), cwd=tempfile.gettempdir()) as p:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(json.dumps(spec))
            p.stdin.close()
            env: dict[str, Any] | None = None
            for line in p.stdout:
                msg = json.loads(line)
                if msg.pop("event") == "cell":
                    on_cell(msg)
                else:
                    env = msg
        err.seek(0)
        tail = "\n".join(err.read().splitlines()[-30:])
    if p.returncode != 0 or env is None:
        raise CommandError(f"benchmark worker failed (exit {p.returncode}): {shlex.join(cmd)}",
                           "the worker's output is below; run with a single --workloads to narrow it",
                           output_tail=tail)
    return env


def check_env(variant: str, env: dict[str, Any], allow_gil: bool) -> None:
    if env.get("gil_enabled") and not allow_gil:
        why = "this Python is not free-threaded" if not env.get("free_threaded") else \
            "the GIL was enabled at run time (PYTHON_GIL=1, or a module without Py_mod_gil)"
        raise ConfigError(f"variant {variant!r}: the GIL is enabled in the benchmark worker ({why})",
                          "use a free-threaded interpreter without PYTHON_GIL=1, or pass --allow-gil "
                          "to measure anyway (results are marked gil_enabled)")


def calibrate(plan: Plan, target: Target, allow_gil: bool) -> dict[tuple[str, int], float]:
    """Iterations per (workload, size) for one worker to run about ``plan.target_seconds``."""
    keys = sorted({(c.workload.name, c.size) for c in cells_of(plan)})
    by_name = {w.name: w for w in plan.workloads}
    cells = [Cell(by_name[w], n, "threads", 1).spec(i, 0) for i, (w, n) in enumerate(keys)]
    got: dict[tuple[str, int], float] = {}
    spec = {"mode": "calibrate", "target_seconds": plan.target_seconds, "cells": cells}
    env = run_worker(target.python, spec, lambda m: got.__setitem__(keys[m["id"]], m["iterations"]))
    check_env(target.variant, env, allow_gil)
    return got


def _weight(cell: Cell, plan: Plan, cores: int) -> float:
    """Estimated seconds of one cell: drives the progress bar's time-left estimate."""
    return plan.target_seconds * cell.workers / min(cell.workers, cores) * 1.1 + 0.02


def run(plan: Plan, targets: Sequence[Target], *, allow_gil: bool = False) -> dict[str, Any]:
    """Measure every cell of ``plan`` for every target; return the measurements and environments."""
    cells = cells_of(plan)
    n_keys = len({(c.workload.name, c.size) for c in cells})
    with log.step(f"calibrate {n_keys} workload sizes on {targets[0].variant} ({len(cells)} cells)"):
        iterations = calibrate(plan, targets[0], allow_gil)
    cores = environment.usable_cores()
    weights = [_weight(c, plan, cores) for c in cells]
    startup = 1.0  # rough seconds per worker process start (interpreter + NumPy import)
    fresh = [i for i, c in enumerate(cells) if c.workload.fresh_process]
    shared = [i for i, c in enumerate(cells) if not c.workload.fresh_process]
    per_repeat = sum(weights) + startup * (len(fresh) + (1 if shared else 0))
    progress = Progress(per_repeat * plan.repeats * len(targets), "bench")
    measurements: list[dict[str, Any]] = []
    envs: dict[str, dict[str, Any]] = {}

    def one_process(target: Target, repeat: int, ids: list[int]) -> None:
        def on_cell(msg: dict[str, Any]) -> None:
            c = cells[msg["id"]]
            iters = int(iterations[c.workload.name, c.size])
            calls = iters * c.workers
            measurements.append({
                "variant": target.variant, "workload": c.workload.name, "size": c.size, "mode": c.mode,
                "workers": c.workers, "repeat": repeat, "iterations": iters, "calls": calls,
                "flops": c.workload.flops_per_call(c.size) * calls, "seconds": msg["seconds"],
                "spans": msg["spans"],
            })
            progress.advance(weights[msg["id"]], f"{target.variant} r{repeat + 1}/{plan.repeats}")

        spec = {"mode": "measure", "cells": [cells[i].spec(i, int(iterations[cells[i].workload.name,
                                                                             cells[i].size])) for i in ids]}
        env = run_worker(target.python, spec, on_cell)
        check_env(target.variant, env, allow_gil)
        envs.setdefault(target.variant, env)
        progress.advance(startup)

    try:
        for repeat in range(plan.repeats):
            rng = random.Random(plan.seed * 1000 + repeat)
            order = [*targets[repeat % len(targets):], *targets[:repeat % len(targets)]]
            ids = list(shared)
            rng.shuffle(ids)
            for target in order:
                if ids:
                    one_process(target, repeat, ids)
            fresh_ids = list(fresh)
            rng.shuffle(fresh_ids)
            for k, i in enumerate(fresh_ids):
                for target in order[k % len(order):] + order[:k % len(order)]:
                    one_process(target, repeat, [i])
    finally:
        progress.close()
    return {"measurements": measurements, "worker_env": envs, "iterations": {
        f"{w}:{n}": int(v) for (w, n), v in iterations.items()}}
