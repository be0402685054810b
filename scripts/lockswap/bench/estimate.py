"""How long a plan takes: the estimate printed before the benchmark, and the progress bar's time left.

One model for both. A worker process costs its start (interpreter + NumPy import, measured by the
probe of each target; ``ASSUMED_STARTUP`` before that) plus, when it has process-mode cells, the
start of its pool (children spawned together, ``ceil(workers / cores)`` starts). A cell costs
``target_seconds`` of work per worker (+10% warmup), times the oversubscription ``workers / cores``,
times ``CONTENTION`` when several workers share a lock, plus ``CELL_OVERHEAD`` (setup, threads,
pipes). ``tests/unit/test_bench_estimate.py`` checks it against a real short run (within 2x).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence

from ..base import log, manifest

ASSUMED_STARTUP = 1.0  # seconds to start a worker process before one was measured (2-core VM: ~0.6)
CONTENTION = 1.3  # N workers of a dispatch-bound kernel: t1/tN of 0.6-1.0 measured on 2 cores
CELL_OVERHEAD = 0.02
CALIBRATION_ROUNDS = 1.6  # calibration runs each workload size about this many target_seconds


# Builds, measured on 2 cores (docs/measurements.md): a NumPy version with no build slot yet compiles
# cold in about 5 minutes; a variant in a warm slot recompiles what its patch touches in 1-1.5 minutes.
COLD_BUILD = 300.0
VARIANT_BUILD = 90.0


def build_seconds(labels: Sequence[str], numpy_spec: str, cores: int, slots: Sequence[str]) -> float:
    """At most how long the builds of ``labels`` take before the benchmark starts (cached wheels take
    seconds): a cold build per NumPy version without a build slot (``slots``: the names of the
    cache's build slots), a variant rebuild per other build, scaled from 2 cores to ``cores``."""
    total = 0.0
    versions: dict[str, int] = {}
    for label in labels:
        version = manifest.parse_build(label).numpy or numpy_spec
        versions[version] = versions.get(version, 0) + 1
    for version, builds in versions.items():
        warm = any(name.startswith(f"numpy-{version}-") for name in slots)
        total += (0 if warm else COLD_BUILD) + VARIANT_BUILD * (builds - (0 if warm else 1))
    return total * 2 / max(cores, 1)


def cell_seconds(target_seconds: float, workers: int, warmup: bool, cores: int,
                 per_call: float | None = None, iterations: int | None = None) -> float:
    """Expected wall time of one cell."""
    work = target_seconds
    if per_call is not None and iterations is not None:
        work = max(work, per_call * iterations)  # one call longer than target_seconds
    work *= 1.1 if warmup else 1.0
    over = max(1.0, workers / max(cores, 1))
    return work * over * (CONTENTION if workers > 1 else 1.0) + CELL_OVERHEAD


def process_seconds(startup: float, cell_costs: Sequence[float], pool_workers: int, cores: int) -> float:
    """Expected wall time of one worker process running cells of ``cell_costs``."""
    pool = startup * math.ceil(pool_workers / max(cores, 1)) if pool_workers else 0.0
    return startup + pool + sum(cell_costs)


def calibration_seconds(n_keys: int, target_seconds: float, startup: float) -> float:
    return startup + n_keys * (CALIBRATION_ROUNDS * target_seconds + CELL_OVERHEAD)


class Progress:
    """A plain-text progress bar with time left, on stderr; a line every 15 s when not a terminal."""

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
