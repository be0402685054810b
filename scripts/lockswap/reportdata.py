"""The measurements the report and the scaling table read, grouped by cell (shared by both)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Key:
    machine: str
    numpy: str
    variant: str
    workload: str
    size: int
    mode: str
    workers: int


@dataclass(frozen=True)
class Data:
    samples: dict[Key, list[float]]  # MFLOPS per repeat
    calls: dict[Key, list[float]]  # calls/s per repeat
    # (file index, repeat) -> (seconds, iterations per worker): pairs cells measured in one process
    runs: dict[Key, dict[tuple[int, int], tuple[float, int]]]
    machines: dict[str, list[tuple[Path, dict[str, Any]]]]  # machine -> (file, document) run on it
    workloads: dict[str, dict[str, Any]]
    files: list[Path]
