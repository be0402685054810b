"""A failing cell is a row, not the end of the run (real worker processes on the test interpreter)."""

from __future__ import annotations

import json

from benchrun import FIXTURE, argv, need_numpy

from lockswap import cli
from lockswap.bench import journal, workloads

FAILURE_KEYS = {"target", "variant", "numpy_version", "workload", "size", "mode", "workers", "repeat", "kind",
                "error", "stderr_tail", "seconds"}


def test_exception_crash_and_hang_are_recorded_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    need_numpy()
    monkeypatch.setenv(workloads.EXTRA_ENV, str(FIXTURE))
    out = tmp_path / "results" / "run.json"
    code = cli.main(argv(out, "--workloads", "add,fails_on_worker1,crashes_on_worker1,hangs_on_worker1",
                         "--workers", "1,2", "--repeats", "2", "--target-seconds", "0.02", "--timeout", "3"))
    err = capsys.readouterr().err
    assert code == 1, err  # failures: non-zero at the end
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and not journal.path_for(out).exists()
    # every other cell was measured: add at 1 and 2 workers, the failing workloads at 1 worker
    measured = sorted((m["workload"], m["workers"], m["repeat"]) for m in doc["measurements"])
    failing = ("fails_on_worker1", "crashes_on_worker1", "hangs_on_worker1")
    assert measured == sorted([("add", k, r) for k in (1, 2) for r in (0, 1)]
                              + [(w, 1, r) for w in failing for r in (0, 1)])
    failures = {(f["workload"], f["repeat"]): f for f in doc["failures"]}
    assert len(doc["failures"]) == 6 and len(failures) == 6
    for f in doc["failures"]:
        assert set(f) >= FAILURE_KEYS and f["workers"] == 2 and f["target"] == "baseline"
    exc = failures["fails_on_worker1", 0]
    assert exc["kind"] == "exception" and "RecursionError" in exc["error"]
    assert "injected: maximum recursion depth" in exc["stderr_tail"]
    crash = failures["crashes_on_worker1", 0]
    assert crash["kind"] == "crash" and "SIGABRT" in crash["error"]
    assert "Fatal Python error: Aborted" in crash["stderr_tail"]  # faulthandler's dump
    hang = failures["hangs_on_worker1", 1]
    assert hang["kind"] == "timeout" and hang["seconds"] >= 3
    assert 'File "<workload>"' in hang["stderr_tail"]  # the stacks show where it hung
    assert doc["plan"]["timeout_seconds"] == 3
    assert "6 failed cell(s)" in err and "hangs_on_worker1" in err


def test_unwritable_results_folder_is_refused_before_anything_is_built(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LOCKSWAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(blocker / "results"))
    assert cli.main(["bench", "--variants", "baseline,rwlock"]) == 2
    err = capsys.readouterr().err
    assert f"the results folder {blocker / 'results'} is not writable" in err
    assert "LOCKSWAP_RESULTS" in err
    assert not (tmp_path / "cache").exists()  # nothing fetched, nothing built
    assert cli.main(["bench", "--variants", "baseline", "--output", str(blocker / "x" / "run.json")]) == 2
    assert "is not writable" in capsys.readouterr().err
