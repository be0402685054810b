"""The stress suite's harness: a crash and a hang are named failures with stacks, never a hung job."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lockswap.bench import workloads
from lockswap.numpy_extra import stress_runner
from lockswap.test import suite as testsuite
from lockswap.test import tsan_run

CASES = Path(__file__).parents[1] / "fixtures" / "stress" / "cases.py"


def test_a_passing_case_passes():
    got = stress_runner.run_case(CASES, "ok", timeout=60)
    assert got.ok and got.kind == "pass" and got.returncode == 0


def test_a_failing_case_is_named_with_its_output():
    got = stress_runner.run_case(CASES, "fail", timeout=60)
    assert got.kind == "fail" and not got.ok
    assert "stress case fail failed (exit 1" in got.message() and "wrong result" in got.message()


def test_a_crash_is_a_named_failure_with_the_stack():
    got = stress_runner.run_case(CASES, "crash", timeout=60)
    assert got.kind == "crash" and got.returncode is not None and got.returncode < 0
    msg = got.message()
    assert msg.startswith("stress case crash crashed (killed by SIGABRT")
    assert "Fatal Python error: Aborted" in msg and "cases.py" in msg  # faulthandler's stack


def test_a_hang_caught_by_the_watchdog_is_named_with_every_thread():
    got = stress_runner.run_case(CASES, "hang", timeout=60)
    assert got.kind == "hang" and got.seconds < 30
    assert got.message().startswith("stress case hang hung (exit 1")
    assert got.output.count("Thread 0x") >= 2


def test_a_hang_without_watchdog_ends_at_the_outer_timeout():
    got = stress_runner.run_case(CASES, "stuck", timeout=2)
    assert got.kind == "hang" and got.returncode is None
    assert "stress case stuck hung (killed after the outer timeout" in got.message()


@pytest.mark.skipif(os.name != "posix", reason="process groups and SIGTERM")
def test_a_stopped_runner_takes_its_running_case_with_it(tmp_path):
    """The case leads its own session, so neither Ctrl-C nor a SIGTERM to the runner reaches it:
    the runner must kill it on the way out, or it runs on after the test run was stopped."""
    pidfile = tmp_path / "case.pid"
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]); "
            "import stress_runner as r; r.stop_cases_on_sigterm(); "
            "r.run_case(Path(sys.argv[1]), 'stuck', timeout=100)")
    here = str(Path(stress_runner.__file__).parent)
    runner = subprocess.Popen([sys.executable, "-c", code, str(CASES), here],
                              env={**os.environ, "STUCK_PIDFILE": str(pidfile)})
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pidfile.exists(), f"the case never started (runner exit code {runner.poll()})"
        case_pid = int(pidfile.read_text())
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) != 0
        deadline = time.monotonic() + 10
        while _alive(case_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(case_pid), "the case process outlived its stopped runner"
    finally:
        runner.kill()
        runner.wait()
        if pidfile.exists() and pidfile.read_text() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_deadlock_ends_after_the_stall_window_with_every_stack():
    """No watchdog in the case: the runner sees its threads stop using CPU, asks for the stacks and
    kills it long before the outer timeout."""
    got = stress_runner.run_case(CASES, "deadlock", timeout=300, stall=3)
    assert got.kind == "hang" and got.returncode is None and got.seconds < 60
    assert "a deadlock" in got.message() and "outer timeout" not in got.message()
    assert got.output.lower().count("thread 0x") >= 3  # main ("Current thread") and both deadlocked


@pytest.mark.parametrize("case", ["busy", "busy_child"])
def test_a_case_that_keeps_a_cpu_busy_is_not_stalled(case):
    """busy_child's own process only waits: its child's CPU time counts for it."""
    got = stress_runner.run_case(CASES, case, timeout=120, stall=2)
    assert got.ok, got.message()


def test_progress_is_cpu_time_per_window():
    p = stress_runner.Progress(window=10, share=0.1)  # 1 CPU-second in 10 s is progress
    assert not p.stalled(0.0, 0.0)
    assert not p.stalled(9.0, 0.5)
    assert p.stalled(10.0, 0.9)
    p = stress_runner.Progress(window=10, share=0.1)
    assert not p.stalled(0.0, 0.0)
    assert not p.stalled(5.0, 1.0)  # progress: the window starts again here
    assert not p.stalled(14.0, 1.5)
    assert p.stalled(15.0, 1.9)
    assert not stress_runner.Progress(window=1).stalled(100.0, None)  # no /proc: never stalled


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc")
def test_tree_cpu_seconds_counts_a_child_while_it_runs():
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + 60\n"
                              "while time.monotonic() < end: pass"])
    try:
        start = stress_runner.tree_cpu_seconds(child.pid)
        time.sleep(1.5)
        assert start is not None and stress_runner.tree_cpu_seconds(child.pid) - start > 0.5
    finally:
        child.kill()
        child.wait()
    assert stress_runner.tree_cpu_seconds(child.pid) is None  # gone


@pytest.mark.parametrize(("rc", "out", "kind"), [
    (0, "", "pass"), (1, "stress case x: FAIL", "fail"), (-6, "", "crash"),
    (1, "Fatal Python error: PyArrayIdentityHash_LockShared", "crash"),
    (1, "Timeout (0:02:00)!\nThread 0x00007f (most recent call first):", "hang"),
])
def test_classify(rc, out, kind):
    assert stress_runner.classify(rc, out) == kind


def test_stress_suite_runs_the_cases_and_the_dispatch_stress_test(tmp_path):
    assert "stress" in testsuite.SUITES
    targets = testsuite.selection("stress", tmp_path)
    assert targets == [str(testsuite.STRESS_TEST), str(testsuite.TLS_TEST), str(testsuite.RWLOCK_TEST),
                       str(testsuite.STRESS_CASES)]
    for suite in ("quick", "full", "threads"):  # lockswap's own tests stay in the other suites
        own = {str(testsuite.STRESS_TEST), str(testsuite.TLS_TEST)}
        assert own <= set(testsuite.selection(suite, tmp_path))


EXTRA = Path(testsuite.STRESS_CASES).parent


def _case_names() -> set[str]:
    """Every case function of stress_cases.py and the sibling modules it collects them from."""
    names = set()
    for f in EXTRA.glob("stress_*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("case_"):
                names.add(node.name[5:])
    return names


def test_known_upstream_is_one_file_with_a_reason_per_entry():
    data = json.loads(tsan_run.KNOWN_UPSTREAM.read_text())
    assert "baseline" in data["about"]
    for case, entries in data["cases"].items():
        assert case in _case_names(), case
        for e in entries:
            assert e["numpy"] and len(e["reason"]) > 20


def test_every_case_is_named_in_the_module_docstring():
    doc = ast.get_docstring(ast.parse((EXTRA / "stress_cases.py").read_text(encoding="utf-8"))) or ""
    names = _case_names()
    assert {"reentrant_fresh", "reentrant_cross_thread_fresh", "writer_starvation", "fork",
            "finalization"} <= names
    assert [n for n in sorted(names) if f"``{n}``" not in doc] == []


def test_only_the_baseline_build_may_xfail_a_recorded_case():
    data = json.loads(tsan_run.KNOWN_UPSTREAM.read_text())
    case, entries = next((c, e) for c, e in data["cases"].items() if "python" not in e[0])
    version = entries[0]["numpy"].replace("*", "0")
    assert stress_runner.known_upstream(case, version, "baseline") == entries[0]["reason"]
    for build in ("rwlock", "tls", ""):
        assert stress_runner.known_upstream(case, version, build) == ""
    assert stress_runner.known_upstream("table_growth", version, "baseline") == ""


@pytest.mark.parametrize(("env", "dist", "want"), [
    ({"LOCKSWAP_VARIANT": "rwlock"}, "2.3.5+lockswap.baseline", "rwlock"),  # lockswap test says
    ({}, "2.3.5+lockswap.tls", "tls"),
    ({}, "2.3.5+lockswap.baseline", "baseline"),
    ({}, "2.5.5", "baseline"),  # no local label: NumPy as released
    ({}, "2.5.5+someone.else", "someone.else"),  # never taken for baseline
])
def test_the_venv_knows_its_variant(env, dist, want):
    assert stress_runner.variant(env, dist) == want


def test_lockswap_test_tells_the_venv_its_variant():
    text = (Path(testsuite.__file__)).read_text(encoding="utf-8")
    assert '"LOCKSWAP_VARIANT": wheel.variant' in text


def test_verdict_table_lists_known_upstream_cases(tmp_path):
    data = json.loads(tsan_run.KNOWN_UPSTREAM.read_text())
    if not data["cases"]:
        pytest.skip("no known-upstream case")
    case, entries = next(iter(data["cases"].items()))
    version = entries[0]["numpy"].replace("*", "0")
    r = testsuite.TestResult(variant="baseline", numpy_version=version, suite="stress", python="3.13t",
                             counts={k: 0 for k in ("passed", "failed", "skipped", "xfailed", "xpassed",
                                                    "error")} | {"xfailed": 1},
                             failing=[], duration_s=1.0, crashed="", wheel={}, interpreter={}, command=[])
    table = testsuite.table([(r, [])])
    assert "Known upstream behaviour" in table and case in table and entries[0]["reason"] in table


def test_mix_workload_never_touches_numpys_lazy_attributes():
    """The RecursionError of the default bench: threads running `getattr(np, name)` over dir(np)
    import np.rec, np.char, ... concurrently (CPython gh-149728). The setup reads vars(np) only."""
    setup = "\n".join(line for line in workloads.REGISTRY["mix"].setup.splitlines()
                      if not line.lstrip().startswith("#"))
    assert "dir(np)" not in setup and "getattr(np" not in setup and "vars(np)" in setup
