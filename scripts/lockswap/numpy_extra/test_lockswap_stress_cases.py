"""``--suite stress``: every case of ``stress_cases.py`` in its own process, as a named test.

A crash or a hang is a failure naming the case, with faulthandler's stacks in the message. Where
NumPy as released (the baseline build) fails a case (an upstream flaw), ``known_upstream.json``
(the one place) records it with the reason, and only the baseline build reports such a failure as
xfail "known upstream: ...". Every other build reports it as a failure: lockswap's host side then
says whether the variant inherits baseline's flaw or fails anew (``lockswap.test.attribution``).
The build's variant comes from ``LOCKSWAP_VARIANT`` (set by ``lockswap test``), else from the
installed wheel's local version label (``stress_runner.variant``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from stress_runner import known_upstream, run_case, stop_cases_on_sigterm, variant

HERE = Path(__file__).parent
SCRIPT = HERE / "stress_cases.py"
WATCHDOG = float(os.environ.get("LOCKSWAP_STRESS_WATCHDOG", "300"))
# cases that run several fresh processes (a first-access race shows in a fresh process only)
stop_cases_on_sigterm()  # a stopped test run takes its running case with it
REPEAT = {"bench_workloads": 3, "shutdown": 5, "lazy_import_race": 2, "finalization": 2}


def cases() -> list[str]:
    got = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True,
                         check=True, timeout=300)
    return got.stdout.split()


@pytest.mark.parametrize("case", cases())
def test_stress_case(case):
    import numpy as np

    for _ in range(REPEAT.get(case, 1)):
        got = run_case(SCRIPT, case, timeout=WATCHDOG + 120)
        if not got.ok:
            reason = known_upstream(case, np.__version__, variant())
            if reason:
                pytest.xfail(f"known upstream: {reason}")
            pytest.fail(got.message(), pytrace=False)
