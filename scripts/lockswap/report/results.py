"""The typed model of what the report reads: benchmark runs (schema 3) and test verdicts.

``read(files)`` sorts any number of JSON files into bench runs, test verdicts and skipped files (another
kind, corrupt, or from a newer lockswap: one line each, never an error). ``cells.pool`` indexes the
runs' measurements by cell.
Labels are never split here: every target and measurement carries its variant and NumPy version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base import jsonfile, log, manifest, stats
from ..base.errors import ConfigError
from ..bench import schema
from ..interpreter import sanitizer
from ..test import tsan_run

TEST_KIND = "lockswap-test"


@dataclass(frozen=True)
class CiTag:
    """Which CI job produced a file (added by ``ci-merge collect``)."""

    job: str
    variant: str
    numpy: str
    python: str
    os: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> CiTag | None:
        ci = doc.get("ci")
        if not isinstance(ci, dict):
            return None
        return cls(*(str(ci.get(k) or "") for k in ("job", "variant", "numpy", "python", "os")))


@dataclass(frozen=True)
class Machine:
    hostname: str
    cpu_model: str
    logical_cores: int | None
    usable_cores: int | None
    affinity: tuple[int, ...] | None
    smt_siblings: tuple[tuple[int, ...], ...] | None  # sibling cpu ids per physical core
    physical_cores: int | None
    os: str
    loadavg_at_start: tuple[float, ...] | None
    loadavg_at_end: float | None = None  # 1-minute load when the last cell was measured
    settle_seconds: float | None = None  # waited for the load of the builds to decay before the run

    @classmethod
    def of(cls, m: dict[str, Any]) -> Machine:
        aff = m.get("affinity")
        sib = m.get("smt_siblings")
        load = m.get("loadavg_at_start")
        end = m.get("loadavg_at_end")
        return cls(str(m.get("hostname") or "?"), str(m.get("cpu_model") or "?"), m.get("logical_cores"),
                   m.get("usable_cores"), tuple(aff) if aff else None,
                   tuple(tuple(s) for s in sib) if sib else None, m.get("physical_cores"),
                   str(m.get("os") or "?"), tuple(load) if load else None,
                   float(end) if isinstance(end, (int, float)) else None, m.get("settle_seconds"))

    @property
    def usable(self) -> int:
        """CPUs the run could use (its affinity mask)."""
        return len(self.affinity) if self.affinity else (self.usable_cores or self.logical_cores or 1)

    @property
    def physical(self) -> int:
        """Physical cores within the affinity mask: SMT siblings count once ("linear" means this)."""
        if self.smt_siblings:
            mask = set(self.affinity or [c for s in self.smt_siblings for c in s])
            return max(1, sum(1 for s in self.smt_siblings if mask & set(s)))
        return min(self.physical_cores, self.usable) if self.physical_cores else self.usable

    @property
    def label(self) -> str:
        cores = f"{self.usable} cores" if self.physical == self.usable else \
            f"{self.usable} CPUs, {self.physical} physical cores"
        return f"{self.hostname} ({self.cpu_model}, {cores})"


@dataclass(frozen=True)
class Target:
    """One build measured in a run: a variant of one NumPy version."""

    label: str
    variant: str
    numpy_version: str
    gil_enabled: bool | None
    python: str  # e.g. "3.13t" (minor version + t when free-threaded), "?" if unknown
    version: str  # the wheel's version, e.g. 2.1.3+lockswap.rwlock
    patch_sha256: str
    ported_from: str = ""  # the NumPy version whose patch was ported to this one ("" if none)

    @classmethod
    def of(cls, label: str, t: dict[str, Any]) -> Target:
        w = t.get("worker") or {}
        return cls(label, str(t["variant"]), str(t["numpy_version"]), w.get("gil_enabled"),
                   short_python(w.get("python") or (t.get("interpreter") or {}).get("version"),
                                w.get("free_threaded", (t.get("interpreter") or {}).get("free_threaded"))),
                   str(w.get("numpy_dist_version") or t.get("version") or "?"),
                   str(t.get("patch_sha256") or ""), str(t.get("ported_from") or ""))


@dataclass(frozen=True)
class Cell:
    """Which cell of a plan: the build (target, variant, NumPy), workload, size, mode, workers, repeat."""

    target: str
    variant: str
    numpy_version: str
    workload: str
    size: int
    mode: str
    workers: int
    repeat: int


@dataclass(frozen=True)
class Measurement(Cell):
    iterations: int | None
    calls: float | None
    flops: float
    seconds: float
    foreign_cpu: float | None = None  # share of the CPUs other processes took while the cell ran
    spread: float | None = None  # slowest worker's time over the fastest one's (N > 1 and spans recorded)

    @property
    def mflops(self) -> float:
        return self.flops / self.seconds / 1e6


@dataclass(frozen=True)
class Failure(Cell):
    kind: str  # exception | crash | timeout
    error: str
    stderr_tail: str
    seconds: float | None


@dataclass(frozen=True)
class BenchRun:
    path: Path
    created: str
    commit: str
    dirty: bool
    machine: Machine
    plan: dict[str, Any] = field(compare=False)
    workloads: dict[str, dict[str, Any]] = field(compare=False)
    targets: dict[str, Target] = field(compare=False)
    measurements: tuple[Measurement, ...]
    failures: tuple[Failure, ...]
    complete: bool
    ci: CiTag | None

    @property
    def os(self) -> str:
        return self.ci.os if self.ci and self.ci.os else manifest.os_family(self.machine.os)

    @property
    def machine_label(self) -> str:
        """Where the run ran; CI jobs run on different machines, so each job is its own."""
        if self.ci and self.ci.job:
            return f"{self.os} CI job {self.ci.job} ({self.machine.cpu_model}, {self.machine.usable} CPUs)"
        return self.machine.label

    @property
    def label(self) -> str:
        """One interleaved run: its machine and when it started (comparisons never leave it)."""
        return f"{self.machine_label}, run {self.created}"

    @property
    def upstream(self) -> str | None:
        """The label of the build measured as the upstream bar (``plan.upstream``), if it was."""
        label = self.plan.get("upstream")
        return str(label) if label and label in self.targets else None

    def loaded_at_start(self) -> bool:
        """The 1-minute load at the start was above half the usable CPUs: other work competed."""
        load = self.machine.loadavg_at_start
        return bool(load) and load[0] > self.machine.usable / 2  # type: ignore[index]

    def warnings(self) -> list[str]:
        """Why this run's numbers should not be trusted as they stand (empty when nothing is wrong)."""
        out = []
        gil = sorted(t.label for t in self.targets.values() if t.gil_enabled)
        if gil:
            out.append(f"the GIL was enabled in the worker of {', '.join(gil)}: "
                       "not a free-threaded measurement")
        load = self.machine.loadavg_at_start
        if load and self.loaded_at_start():
            out.append(f"load average {load[0]:.2f} at start exceeded half of the {self.machine.usable} "
                       "usable CPUs: every cell of the run is marked disturbed")
        over = sorted({m.workers for m in self.measurements if m.workers > self.machine.usable})
        if over:
            out.append(f"{', '.join(map(str, over))} workers on {self.machine.usable} CPUs (affinity): "
                       "oversubscribed, not scaling evidence")
        if not self.complete:
            out.append("the run is incomplete (interrupted): cells are missing")
        return out

    @classmethod
    def of(cls, path: Path, doc: dict[str, Any]) -> BenchRun:
        lk = doc.get("lockswap") or {}
        return cls(path, str(doc.get("created") or "?"), str(lk.get("commit") or "?"), bool(lk.get("dirty")),
                   Machine.of(doc["machine"]), doc["plan"], doc["workloads"],
                   {label: Target.of(label, t) for label, t in doc["variants"].items()},
                   tuple(Measurement(m["target"], m["variant"], m["numpy_version"], m["workload"],
                                     int(m["size"]), m["mode"], int(m["workers"]), int(m["repeat"]),
                                     m.get("iterations"), m.get("calls"), float(m["flops"]),
                                     float(m["seconds"]), _fraction(m.get("foreign_cpu")),
                                     _spread(m.get("spans")))
                         for m in doc["measurements"]),
                   tuple(Failure(**{k: f[k] for k in schema.FAILURE_KEYS}) for f in doc["failures"]),
                   bool(doc["complete"]), CiTag.of(doc))


@dataclass(frozen=True)
class TestVerdict:
    """One test-suite run of one build (``testsuite.py``'s JSON)."""

    path: Path
    variant: str
    numpy_version: str
    python: str
    suite: str
    counts: dict[str, int] = field(compare=False)
    failing: tuple[str, ...]
    crashed: str
    ci: CiTag | None
    stress: dict[str, str] = field(default_factory=dict, compare=False)  # stress case -> outcome

    @property
    def os(self) -> str:
        return self.ci.os if self.ci and self.ci.os else "?"

    @classmethod
    def of(cls, path: Path, doc: dict[str, Any]) -> TestVerdict:
        # --sanitizer runs: their own suite label (compared with baseline under the same sanitizer
        # only), and each ThreadSanitizer race counts like a failing test (testsuite.new_failures)
        san = (doc.get("options") or {}).get("sanitizer")
        suite = f"{doc['suite']}+{sanitizer.LABEL.get(san, san)}" if san else str(doc["suite"])
        tsan = doc.get("tsan") or {}
        races = tuple(f"race: {r['signature']}" for r in (tsan.get("races") or {}).values()
                      if not tsan_run.known_upstream(r, str(doc["numpy_version"])))  # listed by test-all
        return cls(path, str(doc["variant"]), str(doc["numpy_version"]), str(doc["python"]),
                   suite, dict(doc["counts"]), (*(doc.get("failing") or ()), *races),
                   str(doc.get("crashed") or ""), CiTag.of(doc),
                   {str(k): str(v) for k, v in dict(doc.get("stress") or {}).items()})


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass(frozen=True)
class Inputs:
    runs: tuple[BenchRun, ...]
    tests: tuple[TestVerdict, ...]
    skipped: tuple[Skipped, ...]


def short_python(version: Any, free_threaded: Any) -> str:
    """``3.13.15`` + free-threaded -> ``3.13t`` (how test verdicts and CI name a Python)."""
    m = re.match(r"(\d+)\.(\d+)", str(version or ""))
    return f"{m[1]}.{m[2]}{'t' if free_threaded else ''}" if m else "?"


def _spread(spans: Any) -> float | None:
    """Slowest over fastest worker of one measurement, from its ``spans`` ([start, end] per worker)."""
    try:
        took = [float(end) - float(start) for start, end in spans]
    except (TypeError, ValueError):
        return None
    return stats.spread(took)


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _is_test(doc: dict[str, Any]) -> bool:
    if doc.get("kind") == TEST_KIND:
        return True
    # before the envelope: testsuite's own ``schema`` field and its verdict fields
    return "kind" not in doc and isinstance(doc.get("schema"), int) and \
        all(k in doc for k in ("variant", "numpy_version", "python", "suite", "counts"))


def read(files: list[Path]) -> Inputs:
    """Every file as a bench run, a test verdict or a skipped file (logged, one line each)."""
    runs, tests, skipped = [], [], []
    for f in files:
        try:
            doc = jsonfile.read(f)  # bounded: a huge or deeply nested file is one skipped line
        except jsonfile.BadJson as exc:
            skipped.append(Skipped(f, exc.reason))
            continue
        try:
            if isinstance(doc, dict) and _is_test(doc):
                tests.append(TestVerdict.of(f, doc))
            elif isinstance(doc, dict) and (doc.get("kind") == schema.KIND or "format" in doc):
                runs.append(BenchRun.of(f, schema.upgrade(doc, str(f))))
            else:
                kind = doc.get("kind") if isinstance(doc, dict) else None
                skipped.append(Skipped(f, f"kind {kind!r}, not a lockswap bench or test result" if kind
                                       else "not a lockswap bench or test result"))
        except ConfigError as exc:
            skipped.append(Skipped(f, exc.message))
        except (KeyError, TypeError, ValueError) as exc:
            skipped.append(Skipped(f, f"malformed ({exc!r})"))
    for s in skipped:
        log.warn(f"skipped {s.path}: {s.reason}")
    return Inputs(tuple(runs), tuple(tests), tuple(skipped))
