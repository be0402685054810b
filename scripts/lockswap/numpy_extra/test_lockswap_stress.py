"""lockswap's dispatch-cache stress test, run by ``lockswap test`` next to NumPy's own tests.

Runs ``stress_dispatch.py`` (beside this file) in fresh processes of the interpreter under test:
many threads race dispatch-cache misses, inserts, resizes and reads on many distinct dtype
combinations while another thread forces stop-the-world pauses; every result is compared with a
single-threaded run, and a watchdog turns a deadlock into a failure with all threads' stacks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("stress_dispatch.py")
THREADS = int(os.environ.get("LOCKSWAP_STRESS_THREADS", "8"))
TIMEOUT = int(float(os.environ.get("LOCKSWAP_STRESS_WATCHDOG", "300")))  # longer under a sanitizer


def stress(*extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(SCRIPT), "--threads", str(THREADS), "--rounds", "2", "--procs", "2",
           "--timeout", str(TIMEOUT), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=6 * TIMEOUT, check=False)


def test_dispatch_cache_under_racing_threads():
    got = stress()
    assert got.returncode == 0, f"{got.stdout}\n{got.stderr[-6000:]}"
    assert "stress_dispatch: PASS" in got.stdout


# An interpreter built --with-thread-sanitizer: the self-test below checks the harness, not NumPy, and
# costs minutes there, so it runs in ordinary builds only.
INSTRUMENTED = "--with-thread-sanitizer" in (sysconfig.get_config_var("CONFIG_ARGS") or "")


@pytest.mark.skipif(INSTRUMENTED, reason="harness self-test; runs without a sanitizer")
@pytest.mark.parametrize("fault", ["--inject-mismatch"])
def test_the_stress_test_can_fail(fault):
    """Self-test: a corrupted expectation must be reported (the check is not vacuous)."""
    got = stress(fault)
    assert got.returncode == 1 and "stress_dispatch: FAIL" in got.stdout
