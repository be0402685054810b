"""End to end on real wheels of NumPy 2.1.3 (baseline and rwlock): a failing cell is a row, not the end;
an interrupted run keeps its cells and ``--resume`` finishes each missing one exactly once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.base.mdtext import escape
from lockswap.bench import journal, runner, workloads
from lockswap.report import render

REPO = Path(__file__).resolve().parents[2]
NUMPY = "2.1.3"
VARIANTS = ("baseline", "rwlock")
FIXTURE = REPO / "tests" / "fixtures" / "bench" / "failing_workloads.py"


def _need_variants() -> None:
    m = manifest.default()
    missing = [v for v in VARIANTS if v not in m.variants or NUMPY not in m.versions_for(v)]
    if missing:
        pytest.skip(f"variant(s) {', '.join(missing)} for NumPy {NUMPY} not in patches/manifest.toml")


def _sigint_default() -> None:
    """Let the child take SIGINT as Ctrl-C even when this test runs where SIGINT is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cells(doc):
    return [runner.key_of(r) for r in [*doc["measurements"], *doc["failures"]]]


def test_a_failing_cell_is_a_row_and_the_run_completes(lockswap):
    """A test-only workload raises in every worker of the rwlock build: a row; the rest measured; exit 1."""
    _need_variants()
    lockswap.env[workloads.EXTRA_ENV] = str(FIXTURE)
    out = lockswap.results / "fail.json"
    r = lockswap.run("bench", "--numpy", NUMPY, "--variants", ",".join(VARIANTS),
                     "--workloads", "add,fails_in_rwlock", "--sizes", "1", "--workers", "1,2",
                     "--modes", "threads", "--repeats", "3", "--target-seconds", "0.05",
                     "--output", str(out), "--settle", "0", check=False)
    assert r.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and not journal.path_for(out).exists()
    measured = sorted((m["target"], m["workload"], m["workers"], m["repeat"]) for m in doc["measurements"])
    expected = [(t, w, k, rep) for t in VARIANTS for w in ("add", "fails_in_rwlock") for k in (1, 2)
                for rep in range(3) if (t, w) != ("rwlock", "fails_in_rwlock")]
    assert measured == sorted(expected)  # every other measurement is in the file
    assert {(f["target"], f["workload"], f["workers"], f["repeat"]) for f in doc["failures"]} == {
        ("rwlock", "fails_in_rwlock", k, rep) for k in (1, 2) for rep in range(3)}
    for f in doc["failures"]:
        assert f["kind"] == "exception" and "injected failure" in f["error"]
        assert f["variant"] == "rwlock" and f["numpy_version"] == NUMPY
        assert "RuntimeError: injected failure" in f["stderr_tail"]
    assert doc["variants"]["rwlock"]["worker"]["numpy_dist_version"] == f"{NUMPY}+lockswap.rwlock"
    assert "6 failed cell(s)" in r.stdout
    # the answer at the end: the report (with the failed cells) and its path
    report = render.answer_dir(out) / "report.md"
    assert f"report: {report}" in r.stdout
    md = report.read_text()
    # the workload's name comes from the results file: escaped for Markdown, as every such string
    assert re.search(r"failed cells", md, re.IGNORECASE) and escape("fails_in_rwlock") in md


def test_sigint_part_way_then_resume_measures_every_cell_exactly_once(lockswap):
    _need_variants()
    out = lockswap.results / "resume.json"
    args = ["bench", "--numpy", NUMPY, "--variants", ",".join(VARIANTS), "--workloads", "add,scalar",
            "--sizes", "1", "--workers", "1,2", "--modes", "threads", "--repeats", "4",
            "--target-seconds", "0.1", "--output", str(out), "--no-report", "--settle", "0"]
    # the wheels first (built or from the cache), so that the SIGINT lands in the measurements
    lockswap.run("bench", "--numpy", NUMPY, "--variants", ",".join(VARIANTS), "--workloads", "add",
                 "--sizes", "1", "--workers", "1", "--modes", "threads", "--repeats", "1",
                 "--target-seconds", "0.01", "--no-report", "--settle", "0",
                 "--output", str(lockswap.results / "warm.json"))
    p = subprocess.Popen([sys.executable, "-m", "lockswap", *args], cwd=REPO, env=lockswap.env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         preexec_fn=_sigint_default)
    jpath = journal.path_for(out)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and p.poll() is None:
        if jpath.exists() and jpath.read_text().count('"event": "measurement"') >= 8:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    first, _ = p.communicate(timeout=300)
    print(first)
    assert p.returncode == 130
    partial = json.loads(out.read_text())
    total = len(VARIANTS) * 2 * 2 * 4  # builds x workload sizes x worker counts x repeats
    assert partial["complete"] is False and 8 <= len(partial["measurements"]) < total
    assert f"resume with: nox -s bench -- --resume {out}" in first

    second = lockswap.run("bench", "--resume", str(out), "--no-report")
    final = json.loads(out.read_text())
    cells = _cells(final)
    assert final["complete"] is True and final["failures"] == []
    assert len(cells) == len(set(cells)) == total  # every cell exactly once
    assert final["measurements"][:len(partial["measurements"])] == partial["measurements"]
    assert f"{len(partial['measurements'])} of {total} cells done" in second.stdout
    assert not jpath.exists()
