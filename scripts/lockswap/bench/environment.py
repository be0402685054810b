"""Facts about the machine and the lockswap checkout, recorded with every benchmark run.

What the interpreter and NumPy are (build, GIL state, versions) is measured inside the worker.
"""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import Any

from ..base import paths, proc


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


def lockswap_commit() -> dict[str, Any]:
    head = proc.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO, check=False, echo=False)
    dirty = proc.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.REPO,
                     check=False, echo=False)
    ok = head.returncode == 0
    return {"commit": head.stdout.strip() if ok else None,
            "dirty": bool(dirty.stdout.strip()) if ok else None}

