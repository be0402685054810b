"""Measurements indexed by cell, so the report, the scaling table and the verdict table see the same
numbers: ``pool(runs)`` groups the bench runs that ``results.read`` returned, each run its own group
(one interleaved run), or with ``pooled`` the runs of one machine (exploratory only).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import log, paths
from ..base.manifest import BASELINE
from ..bench import workloads
from .results import BenchRun, Machine


@dataclass(frozen=True)
class Key:
    run: str  # the group: one interleaved run (or, with --pool-runs, one machine's runs pooled)
    numpy: str
    variant: str
    workload: str
    size: int
    mode: str
    workers: int


@dataclass(frozen=True)
class Pool:
    """Measurements by cell, each cell inside one group: one interleaved run, never pooled with another
    run unless asked (``pooled``: the runs of one machine pooled, which is exploratory only)."""

    samples: dict[Key, list[float]]  # MFLOPS per repeat
    calls: dict[Key, list[float]]  # calls/s per repeat
    # (run index, repeat) -> (seconds, iterations per worker): pairs cells measured in one process
    processes: dict[Key, dict[tuple[int, int], tuple[float, int]]]
    foreign: dict[Key, list[float]]  # share of the CPUs other processes took, per process (Linux)
    spreads: dict[Key, list[float]]  # slowest over fastest worker, per process (threads, N > 1)
    runs: tuple[BenchRun, ...]
    groups: dict[str, list[BenchRun]]
    workloads: dict[str, dict[str, Any]]
    pooled: bool = False

    def machine(self, group: str) -> Machine:
        return self.groups[group][0].machine

    def upstream(self, group: str) -> tuple[str, str] | None:
        """(NumPy, variant) of the group's upstream build, when its run measured one."""
        run = self.groups[group][0]
        label = run.upstream
        if label is None or self.pooled:
            return None
        t = run.targets[label]
        return t.numpy_version, t.variant

    def loaded(self, group: str) -> bool:
        return any(run.loaded_at_start() for run in self.groups[group])

    def variants(self, keys: list[Key]) -> list[str]:
        names = sorted({k.variant for k in keys})
        return [BASELINE, *[n for n in names if n != BASELINE]] if BASELINE in names else names


def _workload_names(defs: dict[str, dict[str, Any]], seen: dict[str, dict[str, Any]],
                    where: Path) -> dict[str, str]:
    """Names under which ``defs`` are reported; adds them to ``seen``.

    Measurements of one workload name with different source text (an older lockswap's kernel) are
    never pooled: the later definition is reported as ``name#<hash of its source>``.
    """
    names = {}
    for name, d in defs.items():
        same = {k: d.get(k) for k in ("setup", "kernel")}
        if name in seen and {k: seen[name].get(k) for k in ("setup", "kernel")} != same:
            names[name] = f"{name}#{paths.content_key(same['setup'], same['kernel'])[:6]}"
            log.warn(f"{where.name}: workload {name!r} has other source text than in an earlier file; "
                     f"reported separately as {names[name]!r}")
        else:
            names[name] = name
        seen.setdefault(names[name], _with_calls(name, d))
    return names


def _with_calls(name: str, d: dict[str, Any]) -> dict[str, Any]:
    """Files written before workloads recorded their ufunc calls per iteration: the registry's count,
    when the registry's workload of that name has the same source text."""
    if "calls_per_iteration" in d or name not in workloads.REGISTRY:
        return d
    known = workloads.REGISTRY[name]
    same = (known.setup, known.kernel) == (d.get("setup"), d.get("kernel"))
    return {**d, "calls_per_iteration": known.calls_per_iteration} if same else d


def pool(runs: tuple[BenchRun, ...] | list[BenchRun], pooled: bool = False) -> Pool:
    """Index the runs' measurements by cell; each run is its own group, or with ``pooled`` the runs of
    one machine form one (exploratory) group."""
    samples: dict[Key, list[float]] = defaultdict(list)
    calls: dict[Key, list[float]] = defaultdict(list)
    processes: dict[Key, dict[tuple[int, int], tuple[float, int]]] = defaultdict(dict)
    foreign: dict[Key, list[float]] = defaultdict(list)
    spreads: dict[Key, list[float]] = defaultdict(list)
    groups: dict[str, list[BenchRun]] = defaultdict(list)
    workloads: dict[str, dict[str, Any]] = {}
    for index, run in enumerate(runs):
        group = run.machine_label if pooled else run.label
        groups[group].append(run)
        names = _workload_names(run.workloads, workloads, run.path)
        for m in run.measurements:
            key = Key(group, m.numpy_version, m.variant, names.get(m.workload, m.workload),
                      m.size, m.mode, m.workers)
            samples[key].append(m.mflops)
            if m.iterations:
                processes[key][index, m.repeat] = (m.seconds, int(m.iterations))
            if m.calls:
                calls[key].append(m.calls / m.seconds)
            if m.foreign_cpu is not None:
                foreign[key].append(m.foreign_cpu)
            if m.spread is not None:
                spreads[key].append(m.spread)
    return Pool(dict(samples), dict(calls), dict(processes), dict(foreign), dict(spreads), tuple(runs),
                dict(groups), workloads, pooled)
