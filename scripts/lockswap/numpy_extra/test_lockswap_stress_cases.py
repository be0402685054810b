"""``--suite stress``: every case of ``stress_cases.py`` in its own process, as a named test.

A crash or a hang is a failure naming the case, with faulthandler's stacks in the message. Where
baseline NumPy itself fails a case (an upstream flaw), ``known_upstream.json`` (the one place)
says so with the reason, and a failure there is reported as xfail "known upstream: ...".
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from stress_runner import run_case

HERE = Path(__file__).parent
SCRIPT = HERE / "stress_cases.py"
KNOWN = HERE / "known_upstream.json"
WATCHDOG = float(os.environ.get("LOCKSWAP_STRESS_WATCHDOG", "300"))
# cases that run several fresh processes (a first-access race shows in a fresh process only)
REPEAT = {"bench_workloads": 3, "shutdown": 5, "lazy_import_race": 2}


def cases() -> list[str]:
    got = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                         check=True, timeout=300)
    return got.stdout.split()


def known_upstream(case: str, numpy_version: str) -> str:
    """The reason ``case`` fails on this NumPy as released, or ""."""
    entries = json.loads(KNOWN.read_text(encoding="utf-8"))["cases"].get(case, [])
    python = "{}.{}".format(*sys.version_info[:2])
    for e in entries:
        if fnmatch.fnmatch(numpy_version, e["numpy"]) and fnmatch.fnmatch(python, e.get("python", "*")):
            return e["reason"]
    return ""


@pytest.mark.parametrize("case", cases())
def test_stress_case(case):
    import numpy as np

    for _ in range(REPEAT.get(case, 1)):
        got = run_case(SCRIPT, case, timeout=WATCHDOG + 120)
        if not got.ok:
            reason = known_upstream(case, np.__version__)
            if reason:
                pytest.xfail(f"known upstream: {reason}")
            pytest.fail(got.message(), pytrace=False)
