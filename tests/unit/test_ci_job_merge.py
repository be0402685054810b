from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ci import job, matrix, merge
from lockswap.base.errors import ConfigError, InterpreterError
from lockswap.interpreter import find as interpreter


def test_plan_is_build_test_bench_with_the_same_numpy():
    steps = job.plan("x", "2.5.5", "threads", bench="on")
    assert [(s.session, s.args) for s in steps] == [
        ("build-x", ("--numpy", "2.5.5")),
        ("test-x", ("--numpy", "2.5.5", "--suite", "threads")),
        ("bench", ("--numpy", "2.5.5", "--variants", "baseline,x")),  # same machine: a fair ratio
    ]
    assert steps[0].command("py")[:5] == ["py", "-m", "nox", "-s", "build-x"]
    assert [s.name for s in job.plan("x", "2.5.5", "quick", bench="off")] == ["build", "test"]
    assert job.plan("baseline", "2.5.5", "quick", bench="on")[-1].args[-1] == "baseline"
    assert job.plan("x", "2.5.5", "quick", "quick", "1,2,3")[-1].args == (
        "--numpy", "2.5.5", "--variants", "baseline,x", "--quick", "--workers", "1,2,3")


def test_dry_run_prints_the_sessions(capsys):
    assert job.main(["--variant", "baseline", "--numpy", "2.5.5", "--bench", "off", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "nox -s build-baseline -- --numpy 2.5.5",
        "nox -s test-baseline -- --numpy 2.5.5 --suite quick",
    ]


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--variant", "nope"], "unknown variant"),
        (["--variant", "baseline", "--numpy", "1.26.4"], "NumPy 1.26.4 is not in"),
        (["--variant", "baseline", "--bench", "sometimes"], "not a yes/no value"),
        (["--variant", "baseline", "--workers", "1;rm"], "not a list of counts"),
    ],
)
def test_bad_jobs_are_refused_before_any_work(argv, complaint):
    with pytest.raises(ConfigError, match=complaint):
        job.main([*argv, "--dry-run"])


def test_the_interpreter_must_be_the_jobs_python(monkeypatch):
    found = interpreter.Interpreter(Path("/ft/python3.14t"), "3.14.1", True, "build", "cc")
    monkeypatch.setattr(interpreter, "find", lambda explicit, want=None: found)
    with pytest.raises(InterpreterError, match=r"this job wants 3\.13t"):
        job.find_interpreter("3.13t", ("3.13t", "3.14t"))
    with pytest.raises(InterpreterError, match="not among this NumPy's Pythons"):
        job.find_interpreter(None, ("3.13t",))
    assert job.find_interpreter("3.14t", ("3.13t", "3.14t")).short == "3.14t"


def fake_runs(monkeypatch, codes: dict[str, int]) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(cmd, env, check, stream, echo):  # lockswap's one subprocess helper, streaming
        calls.append(cmd)
        assert env["LOCKSWAP_PYTHON"] == "/ft/python" and stream and not check
        return SimpleNamespace(returncode=codes.get(cmd[4], 0))

    monkeypatch.setattr(job.proc, "run", run)
    return calls


def test_a_failed_test_still_benches_and_fails_the_job(monkeypatch):
    calls = fake_runs(monkeypatch, {"test-x": 1})
    outcomes = job.run_steps(job.plan("x", "2.1.3", "quick", "on"), {"LOCKSWAP_PYTHON": "/ft/python"})
    assert [c[4] for c in calls] == ["build-x", "test-x", "bench"]
    assert [o[1] for o in outcomes] == ["ok", "failed (exit 1)", "ok"]


def test_a_failed_build_skips_the_rest(monkeypatch):
    calls = fake_runs(monkeypatch, {"build-x": 2})
    outcomes = job.run_steps(job.plan("x", "2.1.3", "quick", "on"), {"LOCKSWAP_PYTHON": "/ft/python"})
    assert [c[4] for c in calls] == ["build-x"]
    assert [o[1] for o in outcomes] == ["failed (exit 2)", "skipped", "skipped"]
    text = job.summary(matrix.Cell("x", "2.1.3", "3.13t", "local", "quick", "on"), "Python 3.13.1", outcomes)
    assert "nox -s ci-local -- --variant x" in text and "| bench | `nox -s bench` | skipped |" in text


CELLS = [matrix.Cell("baseline", "2.1.3", "3.13t", "ubuntu-24.04", "quick", "on", "1,2,4"),
         matrix.Cell("x", "2.1.3", "3.13t", "windows-2022", "quick", "on", "1,2,4")]


def test_collect_flattens_tags_and_reports_missing_jobs(tmp_path):
    cells = merge.load_matrix(matrix.to_github(CELLS))
    art = tmp_path / "artifacts" / f"results-{CELLS[0].id}"
    (art / "sub").mkdir(parents=True)
    (art / "test-baseline.json").write_text(json.dumps({"verdict": "pass"}))
    (art / "sub" / "bench.json").write_text(json.dumps([1, 2]))
    (tmp_path / "artifacts" / "results-stranger").mkdir()
    found = merge.collect(cells, tmp_path / "artifacts", tmp_path / "merged")
    assert sorted(p.name for p in found[CELLS[0].id]) == [
        f"{CELLS[0].id}--sub--bench.json", f"{CELLS[0].id}--test-baseline.json"]
    assert found[CELLS[1].id] == []
    tagged = json.loads((tmp_path / "merged" / f"{CELLS[0].id}--test-baseline.json").read_text())
    assert tagged == {"verdict": "pass", "ci": {"job": CELLS[0].id, "variant": "baseline",
                                                "numpy": "2.1.3", "python": "3.13t", "os": "ubuntu-24.04"}}
    table = merge.status_table(cells, found)
    assert "1 of 2 jobs delivered results" in table
    assert "| x | 2.1.3 | 3.13t | windows-2022 | 0 | **missing** |" in table


def test_collect_without_any_results_fails(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ConfigError, match="no results JSON"):
        merge.main(["collect", "--matrix", matrix.to_github(CELLS), "--artifacts", str(tmp_path / "a"),
                    "--out", str(tmp_path / "m")])
    with pytest.raises(ConfigError, match="not a matrix"):
        merge.load_matrix('{"cells": []}')


def test_collect_names_the_job_of_an_artifact_extracted_without_its_folder(tmp_path, monkeypatch):
    """download-artifact puts a lone matching artifact straight into the path (v5+)."""
    cells = merge.load_matrix(matrix.to_github(CELLS))
    art = tmp_path / "artifacts"
    art.mkdir()
    monkeypatch.setenv(job.JOB_ENV, CELLS[1].id)
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(art))
    monkeypatch.setattr(job, "find_interpreter", lambda want, pythons: interpreter.Interpreter(
        Path("/ft/python"), "3.13.1", True, "build", "cc"))
    monkeypatch.setattr(job, "run_steps", lambda steps, env: [])
    assert job.main(["--variant", "baseline", "--numpy", "2.1.3"]) == 0  # writes ci-job.txt
    assert (art / job.JOB_MARKER).read_text() == f"{CELLS[1].id}\n"
    (art / "test-x.json").write_text(json.dumps({"kind": "lockswap-test"}))
    (art / "corrupt.json").write_text("{trunc")
    found = merge.collect(cells, art, tmp_path / "merged")
    assert sorted(p.name for p in found[CELLS[1].id]) == [f"{CELLS[1].id}--corrupt.json",
                                                        f"{CELLS[1].id}--test-x.json"]
    assert json.loads((tmp_path / "merged" / f"{CELLS[1].id}--test-x.json").read_text())["ci"]["os"] == \
        "windows-2022"
    assert (tmp_path / "merged" / f"{CELLS[1].id}--corrupt.json").read_text() == "{trunc"  # report skips it
    (art / job.JOB_MARKER).unlink()
    assert merge.collect(cells, art, tmp_path / "m2") == {c.id: [] for c in CELLS}  # job unknown: left out
    one = merge.load_matrix(matrix.to_github(CELLS[:1]))
    assert len(merge.collect(one, art, tmp_path / "m3")[CELLS[0].id]) == 2  # a one-job matrix


def test_publish_puts_the_compact_summary_on_the_page_and_points_at_the_artifact(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = tmp_path / "report" / "report"
    report.mkdir(parents=True)
    (report / "report.md").write_text("# the full lockswap report\n" + "| a | b |\n" * 1000)
    (report / "summary.md").write_text("# lockswap CI summary\n| verdict |\n")
    (report / "scaling.png").write_bytes(b"png")
    assert merge.main(["publish", str(tmp_path / "report")]) == 0
    text = summary.read_text()
    assert "# lockswap CI summary" in text and "full lockswap report" not in text
    assert "scaling.png" in text and "`report` artifact" in text
    with pytest.raises(ConfigError, match=r"no summary\.md or report\.md"):
        merge.publish(tmp_path / "nothing")


def test_publish_refuses_a_summary_over_githubs_cap(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.md").write_text("x" * merge.SUMMARY_CAP)
    with pytest.raises(ConfigError, match="exceeds GitHub's cap"):
        merge.publish(tmp_path / "report")
    assert summary.stat().st_size < 1000 and "`report` artifact" in summary.read_text()
