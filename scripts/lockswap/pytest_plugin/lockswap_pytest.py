"""pytest plugin loaded into NumPy's test run (``-p lockswap_pytest``); stdlib and pytest only.

- Records every test's outcome (passed, failed, skipped, xfailed, xpassed, error) and writes them
  as JSON to ``$LOCKSWAP_OUTCOMES`` at the end of the session (written atomically).
- Fails the run as soon as the GIL is found re-enabled after a test (free-threaded builds), naming
  the test, as NumPy's own conftest does at the end of a run.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

_outcomes: dict[str, str] = {}
_state: dict[str, object] = {"gil_reenabled_by": None, "start": time.time()}


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


_gil_at_start = _gil_enabled()


def _set(nodeid: str, outcome: str) -> None:
    # a teardown error after a pass counts as an error; never downgrade a failure
    if _outcomes.get(nodeid) in ("failed", "error") and outcome == "passed":
        return
    _outcomes[nodeid] = outcome


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    wasxfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            _set(report.nodeid, "xpassed" if wasxfail else "passed")
        elif report.failed:
            _set(report.nodeid, "failed")
        elif report.skipped:
            _set(report.nodeid, "xfailed" if wasxfail else "skipped")
    elif report.failed:
        _set(report.nodeid, "error")
    elif report.skipped and report.when == "setup":
        _set(report.nodeid, "xfailed" if wasxfail else "skipped")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if not _gil_at_start and _gil_enabled() and _state["gil_reenabled_by"] is None:
        _state["gil_reenabled_by"] = item.nodeid


def pytest_runtest_logfinish(nodeid: str) -> None:
    culprit = _state["gil_reenabled_by"]
    if culprit is not None:
        _write(exitstatus=3)
        pytest.exit(f"the GIL was re-enabled during {culprit}", returncode=3)


def _write(exitstatus: int) -> None:
    target = os.environ.get("LOCKSWAP_OUTCOMES")
    if not target:
        return
    data = {
        "outcomes": _outcomes,
        "gil_enabled_at_start": _gil_at_start,
        "gil_reenabled_by": _state["gil_reenabled_by"],
        "exitstatus": exitstatus,
        "duration_s": time.time() - float(_state["start"]),  # type: ignore[arg-type]
    }
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, target)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _write(int(exitstatus))
