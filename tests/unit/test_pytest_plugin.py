"""lockswap's pytest plugin, run in a real pytest subprocess on a small fixture suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from lockswap.test import suite as testsuite

SAME_NAMES = '''
import pytest

def test_same():
    pass

@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    assert x == 1

@pytest.mark.xfail(reason="known")
def test_known():
    assert False

@pytest.fixture
def broken():
    raise RuntimeError("setup fails")

def test_setup_error(broken):
    pass
'''


def _run(tmp_path: Path, *targets: str, rootdir: Path) -> dict:
    out = tmp_path / "outcomes.json"
    env = {**os.environ, "LOCKSWAP_OUTCOMES": str(out),
           "PYTHONPATH": os.pathsep.join([str(testsuite.PLUGIN_DIR), os.environ.get("PYTHONPATH", "")])}
    got = subprocess.run([sys.executable, "-m", "pytest", "-p", "lockswap_pytest", "-p", "no:cacheprovider",
                          "-q", f"--rootdir={rootdir}", *targets], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=False)
    assert got.returncode == 1, got.stdout + got.stderr  # the fixture suite has failures
    return json.loads(out.read_text())


def test_same_test_names_in_files_outside_the_rootdir_do_not_collide(tmp_path):
    # NumPy's installed tests next to lockswap's stress test: pytest gives files outside its rootdir
    # node ids without the file part, so equal names in two files used to overwrite each other
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"test_{name}.py").write_text(SAME_NAMES)
    root = tmp_path / "elsewhere"
    root.mkdir()
    data = _run(tmp_path, str(tmp_path / "one" / "test_one.py"), str(tmp_path / "two" / "test_two.py"),
                rootdir=root)
    outcomes = data["outcomes"]
    assert len(outcomes) == 10  # 5 tests per file, none lost
    assert outcomes["test_one.py::test_same"] == outcomes["test_two.py::test_same"] == "passed"
    assert outcomes["test_two.py::test_param[2]"] == "failed"
    assert outcomes["test_one.py::test_known"] == "xfailed"
    assert outcomes["test_one.py::test_setup_error"] == "error"
    assert data["exitstatus"] == 1 and data["gil_reenabled_by"] is None


def test_node_ids_inside_the_rootdir_keep_their_path(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "test_a.py").write_text(SAME_NAMES)
    data = _run(tmp_path, "pkg/test_a.py", rootdir=tmp_path)
    assert sorted(data["outcomes"]) == ["pkg/test_a.py::test_known", "pkg/test_a.py::test_param[1]",
                                        "pkg/test_a.py::test_param[2]", "pkg/test_a.py::test_same",
                                        "pkg/test_a.py::test_setup_error"]


def test_results_of_an_older_lockswap_are_rerun_not_compared(tmp_path):
    path = tmp_path / "test-2.1.3-3.13t-baseline-quick.json"
    assert testsuite.TestResult.load_current(path) is None  # missing
    result = testsuite.TestResult(
        variant="baseline", numpy_version="2.1.3", suite="quick", python="3.13t",
        counts={"passed": 1}, failing=[], duration_s=1.0, crashed="", wheel={}, interpreter={}, command=[])
    path.write_text(json.dumps(asdict(result)))
    assert testsuite.TestResult.load_current(path) == result
    path.write_text(json.dumps({**asdict(result), "schema_version": 2}))  # before the envelope
    assert testsuite.TestResult.load_current(path) is None
    assert asdict(result)["kind"] == "lockswap-test" and asdict(result)["created"].endswith("Z")
    path.write_text(json.dumps({**asdict(result), "ci": {"job": "x"}}))  # tagged by ci-merge collect
    assert testsuite.TestResult.load_current(path) == result
    path.write_text("{truncated")
    assert testsuite.TestResult.load_current(path) is None


def test_pytest_runs_with_site_packages_as_rootdir(tmp_path):
    args = testsuite._pytest_args(testsuite.TestOptions(), ["numpy"], tmp_path / "j.xml", tmp_path / "sp")
    assert f"--rootdir={tmp_path / 'sp'}" in args and args[-1] == "numpy"
