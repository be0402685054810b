"""pytest plugin loaded into NumPy's test run (``-p lockswap_pytest``); stdlib and pytest only.

- Records every test's outcome (passed, failed, skipped, xfailed, xpassed, error) and writes them
  as JSON to ``$LOCKSWAP_OUTCOMES`` at the end of the session (written atomically). Tests are keyed
  by node id; a file outside pytest's rootdir gets node ids without their file part
  (``::test_x``), so those are keyed by the file's name, and a key seen twice is numbered, so no
  outcome is ever lost to a collision.
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
_calls: dict[str, int] = {}  # node id -> tests reported under it (more than 1: a collision)
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


def _with_file(nodeid: str, path: str) -> str:
    """A file outside the rootdir gets node ids without the file part: put its name back."""
    return os.path.basename(path) + nodeid if nodeid.startswith("::") else nodeid


def _key(report: pytest.TestReport) -> str:
    nodeid = _with_file(report.nodeid, report.location[0])
    count = _calls.get(nodeid, 1)
    return nodeid if count == 1 else f"{nodeid} #{count}"


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    key = _with_file(nodeid, location[0])
    _calls[key] = _calls.get(key, 0) + 1


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    wasxfail = hasattr(report, "wasxfail")
    key = _key(report)
    if report.when == "call":
        if report.passed:
            _set(key, "xpassed" if wasxfail else "passed")
        elif report.failed:
            _set(key, "failed")
        elif report.skipped:
            _set(key, "xfailed" if wasxfail else "skipped")
    elif report.failed:
        _set(key, "error")
    elif report.skipped and report.when == "setup":
        _set(key, "xfailed" if wasxfail else "skipped")


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
    # Not lockswap.paths.atomic_output: this plugin runs inside the venv under test, without lockswap.
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, target)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _write(int(exitstatus))
