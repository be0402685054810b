"""GitHub-hosted runner labels: which exist, how many vCPUs they give, which GitHub has retired.

A job that asks for a retired label is not failed by GitHub: it stays queued forever
(``timeout-minutes`` does not count queue time), and the report job that needs it never starts.
So ``nox -s matrix`` refuses a ``[ci] os`` entry that is retired (naming the date, the
runner-images announcement and the label to use instead) or unknown. Update these tables when
GitHub announces a change: https://github.com/actions/runner-images#available-images
"""

from __future__ import annotations

from dataclasses import dataclass

from lockswap.base.errors import ConfigError


@dataclass(frozen=True)
class Retired:
    label: str
    date: str  # the day GitHub stopped running jobs on it (YYYY-MM-DD)
    issue: str  # the actions/runner-images announcement
    replacement: str


RETIRED: dict[str, Retired] = {r.label: r for r in (
    Retired("macos-14", "2026-11-02", "actions/runner-images#13518", "macos-15"),
    Retired("macos-13", "2025-12-04", "actions/runner-images#13046", "macos-15-intel"),
    Retired("macos-12", "2024-12-03", "actions/runner-images#10721", "macos-15"),
    Retired("windows-2019", "2025-06-30", "actions/runner-images#12045", "windows-2022"),
    Retired("ubuntu-20.04", "2025-04-15", "actions/runner-images#11101", "ubuntu-24.04"),
)}

# Standard GitHub-hosted runners for public repositories and their vCPUs (what a benchmark job can
# use as its top worker count). macos-15 and macos-latest are arm64 (M1, 3 vCPUs).
CORES: dict[str, int] = {
    "ubuntu-24.04": 4, "ubuntu-22.04": 4, "ubuntu-latest": 4,
    "ubuntu-24.04-arm": 4, "ubuntu-22.04-arm": 4,
    "windows-2025": 4, "windows-2022": 4, "windows-latest": 4, "windows-11-arm": 4,
    "macos-15": 3, "macos-latest": 3, "macos-26": 3, "macos-15-intel": 4,
}


def check(label: str) -> None:
    """Refuse a retired or unknown runner label, saying what to use instead."""
    if label in RETIRED:
        r = RETIRED[label]
        raise ConfigError(
            f"runner label {label} was retired by GitHub on {r.date} ({r.issue}): "
            "its jobs would stay queued forever",
            f"use {r.replacement} instead in the [ci] os list of patches/manifest.toml",
        )
    if label not in CORES:
        raise ConfigError(
            f"unknown runner label {label!r}",
            f"use one of {', '.join(CORES)} in [ci] os of patches/manifest.toml "
            "(or add the label to ci/runners.py if GitHub has introduced it)",
        )


def bench_workers(label: str) -> str:
    """``1,2,<vCPUs>``: t1/tN on the runner's own cores, the many-core evidence CI can give."""
    return ",".join(str(n) for n in sorted({1, 2, CORES[label]}))
