"""Helpers for unit tests that run the real bench worker on the test interpreter (GIL or not).

The test environment has NumPy (matplotlib needs it), so ``--use-python`` with ``sys.executable``
measures it for real: no build, no mocks, a few seconds per run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "bench" / "failing_workloads.py"


def argv(out: Path, *extra: str, variants: tuple[str, ...] = ("baseline",)) -> list[str]:
    """``bench`` options measuring the test interpreter as each of ``variants``, into ``out``."""
    uses = [x for v in variants for x in ("--use-python", f"{v}={sys.executable}")]
    return ["bench", "--variants", ",".join(variants), *uses, "--allow-gil", "--no-report", "--settle", "0",
            "--output", str(out), "--modes", "threads", "--sizes", "1", *extra]


def need_numpy() -> None:
    pytest.importorskip("numpy")


def seconds(text: str) -> float:
    """Parse ``log.format_seconds`` output: ``12.3 s`` or ``2 min 05 s``."""
    m = re.fullmatch(r"(?:(\d+) min (\d+) s|([\d.]+) s)", text.strip())
    assert m, text
    return int(m[1]) * 60 + int(m[2]) if m[1] else float(m[3])
