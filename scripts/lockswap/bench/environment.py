"""Facts about the machine and the lockswap checkout, recorded with every benchmark run.

What the interpreter and NumPy are (build, GIL state, versions) is measured inside the worker.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..base import log, paths, proc


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def governors() -> dict[str, str]:
    """Frequency governor per CPU, from /sys (empty when not exposed, e.g. in VMs and containers)."""
    found: dict[str, str] = {}
    for f in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor")):
        try:
            found[f.parts[-3]] = f.read_text().strip()
        except OSError:
            continue
    return found


def smt_siblings(cpus: list[int] | None) -> list[list[int]] | None:
    """The CPUs of ``cpus`` grouped by physical core (SMT siblings together), from /sys; None if unknown."""
    if not cpus:
        return None
    groups: dict[str, list[int]] = {}
    for cpu in cpus:
        f = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            groups.setdefault(f.read_text().strip(), []).append(cpu)
        except OSError:
            return None
    return sorted(groups.values())


def worker_sha256() -> str:
    """Identifies the measuring code: the worker script (a resume must use the same)."""
    return paths.sha256_file(Path(__file__).with_name("worker.py"))


def machine() -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    siblings = smt_siblings(affinity)
    govs = governors()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "affinity": affinity,
        "physical_cores": len(siblings) if siblings else None,
        "smt_siblings": siblings,
        "governor": sorted(set(govs.values())) if govs else None,
        "os": platform.platform(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "github_actions": bool(os.environ.get("GITHUB_ACTIONS")),
    }


def loadavg() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


SETTLE_SECONDS = 120.0  # the longest a run waits for the machine to settle before it starts


def settle(limit: float = SETTLE_SECONDS) -> float:
    """Wait (up to ``limit`` s) until the 1-minute load is at most half the usable CPUs, as after the
    builds that precede a run: the seconds waited. The run records the load it then starts with."""
    start = time.monotonic()
    half = usable_cores() / 2
    load = loadavg()
    if load is None or load <= half:
        return 0.0
    log.info(f"waiting up to {limit:.0f} s for the machine to settle: load {load:.2f} > {half:g} "
             "(half the usable CPUs)")
    while (load := loadavg()) is not None and load > half and time.monotonic() - start < limit:
        time.sleep(5)
    waited = time.monotonic() - start
    log.info(f"load {load:.2f} after {waited:.0f} s" if load is not None else "")
    return round(waited, 1)


class CpuWindow:
    """How much of the affinity mask's CPU time other processes took while one worker ran a cell.

    Linux: the busy jiffies of the mask's CPUs (``/proc/stat``, steal included: a VM's neighbours)
    minus the worker's own CPU time (``/proc/<pid>/stat``, all its threads) and lockswap's own, over
    wall time x CPUs. ``share()`` is None elsewhere, or when a number could not be read."""

    def __init__(self, pid: int | None, cpus: list[int] | None) -> None:
        self.pid, self.cpus = pid, cpus
        self.start = self._snapshot()

    def _snapshot(self) -> tuple[float, float, float, float] | None:
        if self.pid is None or not sys.platform.startswith("linux"):
            return None
        try:
            busy = _busy_seconds(self.cpus)
            mine = _process_seconds(self.pid)
        except (OSError, ValueError, IndexError):
            return None
        return time.monotonic(), busy, mine, time.process_time()

    def share(self) -> float | None:
        end = self._snapshot()
        if self.start is None or end is None:
            return None
        wall = end[0] - self.start[0]
        cpus = len(self.cpus) if self.cpus else (os.cpu_count() or 1)
        if wall <= 0:
            return None
        other = (end[1] - self.start[1]) - (end[2] - self.start[2]) - (end[3] - self.start[3])
        return round(max(0.0, other) / (wall * cpus), 3)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def _busy_seconds(cpus: list[int] | None) -> float:
    busy = 0
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            if cpus is not None and int(name[3:]) not in cpus:
                continue
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy / _TICK


def _process_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15 of proc(5))


def lockswap_commit() -> dict[str, Any]:
    head = proc.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO, check=False, echo=False)
    dirty = proc.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.REPO,
                     check=False, echo=False)
    ok = head.returncode == 0
    return {"commit": head.stdout.strip() if ok else None,
            "dirty": bool(dirty.stdout.strip()) if ok else None}

