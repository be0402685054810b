"""The stress suite's harness: a crash and a hang are named failures with stacks, never a hung job."""

from __future__ import annotations

import json
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
    assert targets == [str(testsuite.STRESS_TEST), str(testsuite.TLS_TEST), str(testsuite.STRESS_CASES)]
    for suite in ("quick", "full", "threads"):  # lockswap's own tests stay in the other suites
        own = {str(testsuite.STRESS_TEST), str(testsuite.TLS_TEST)}
        assert own <= set(testsuite.selection(suite, tmp_path))


def test_known_upstream_is_one_file_with_a_reason_per_entry():
    data = json.loads(tsan_run.KNOWN_UPSTREAM.read_text())
    cases = (Path(testsuite.STRESS_CASES).parent / "stress_cases.py").read_text()
    for case, entries in data["cases"].items():
        assert f"def case_{case}(" in cases, case
        for e in entries:
            assert e["numpy"] and len(e["reason"]) > 20


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
