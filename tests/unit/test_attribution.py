"""Stress-case attribution: each case of a variant gets one of four words against baseline, the
rule of new failures agrees, and the test-all table and the report say the same (no real build)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from lockswap.base import stats
from lockswap.report import analysis, render, results, verdict
from lockswap.test import attribution
from lockswap.test import suite as testsuite

NODE = "test_lockswap_stress_cases.py::test_stress_case[{}]"
REASON = "NumPy 2.2-2.4 hold the ufunc's std::shared_mutex exclusively across resolution (fixture)"


@pytest.fixture(autouse=True)
def _records(monkeypatch):
    """Baseline records of a fixture NumPy 9.1 (the real file changes with what was observed)."""
    monkeypatch.setattr(attribution, "_records", lambda: {
        "reentrant_miss": [{"numpy": "9.1.*", "reason": REASON}],
        "reentrant_fresh": [{"numpy": "9.1.*", "reason": REASON}],
        "lazy_import_race": [{"numpy": "*", "python": "3.1[34]", "reason": "CPython gh-149728 (fixture)"}],
    })
    monkeypatch.setattr(stats, "RESAMPLES", 300)


def result(variant: str, stress: dict[str, str], numpy: str = "9.1.0") -> testsuite.TestResult:
    """A stress-suite result as ``suite.run`` writes it: failing node ids and counts from the outcomes."""
    failing = sorted(NODE.format(c) for c, o in stress.items() if o in ("failed", "error"))
    counts = dict.fromkeys(testsuite._COUNTED, 0)
    for o in stress.values():
        counts[o] += 1
    return testsuite.TestResult(variant, numpy, "stress", "3.13t", counts, failing, 1.0, "",
                                {"source_sha256": "s"}, {}, [], options={"suite": "stress"},
                                stress=dict(stress))


def test_the_plugins_outcomes_give_each_case_its_outcome():
    outcomes = {NODE.format("fork"): "passed", NODE.format("reentrant_miss"): "xfailed",
                "test_lockswap_stress.py::test_dispatch_cache_under_racing_threads": "passed",
                "numpy/_core/tests/test_ufunc.py::test_x[a]": "failed"}
    assert attribution.stress_outcomes(outcomes) == {"fork": "passed", "reentrant_miss": "xfailed"}


def test_each_of_the_four_words():
    base = {"a": "passed", "b": "xfailed", "c": "failed", "d": "passed", "e": "skipped"}
    mine = {"a": "passed", "b": "passed", "c": "failed", "d": "failed", "e": "passed"}
    assert attribution.attribute(mine, base, "9.1.0", "3.13t") == {
        "a": "passes", "b": "fixes upstream flaw", "c": "inherits upstream flaw", "d": "new failure",
        "e": "passes"}  # baseline skipped e: its records say it passes
    assert set(attribution.WORDS) == {"passes", "fixes upstream flaw", "inherits upstream flaw",
                                      "new failure"}


def test_without_baselines_run_the_records_decide():
    mine = {"reentrant_miss": "failed", "reentrant_fresh": "passed", "fork": "failed",
            "table_growth": "passed"}
    assert attribution.attribute(mine, None, "9.1.3", "3.13t") == {
        "reentrant_miss": "inherits upstream flaw", "reentrant_fresh": "fixes upstream flaw",
        "fork": "new failure", "table_growth": "passes"}
    # another NumPy: nothing recorded, a failure is new; the Python glob matches 3.13t
    assert attribution.attribute({"reentrant_miss": "failed"}, None, "9.2.0", "3.13t") == {
        "reentrant_miss": "new failure"}
    assert attribution.recorded("2.5.5", "3.14t") == {"lazy_import_race": "CPython gh-149728 (fixture)"}


def test_a_variant_failing_a_recorded_case_inherits_it_and_never_xfails():
    base = result("baseline", {"reentrant_miss": "xfailed", "fork": "passed"})
    mine = result("rwlock", {"reentrant_miss": "failed", "fork": "passed"})
    assert mine.counts["xfailed"] == 0 and mine.failing == [NODE.format("reentrant_miss")]  # a failure
    assert testsuite.stress_words(mine, base) == {"reentrant_miss": "inherits upstream flaw",
                                                  "fork": "passes"}
    assert testsuite.new_failures(mine, base) == []  # the rule of new failures agrees
    assert testsuite.new_failures(mine, result("baseline", {})) == []  # records only
    text = testsuite.table([(base, []), (mine, [])])
    assert "| as baseline; inherits upstream flaw: reentrant_miss |" in text  # named, never hidden
    assert "| baseline |" in text and "upstream flaw: reentrant_miss |" in text
    assert f"- reentrant_miss (NumPy 9.1.0): {REASON}" in text


def test_a_recorded_flaw_baseline_passed_by_chance_is_inherited_an_unrecorded_one_is_new():
    # recorded (an intermittent upstream flaw), but this baseline run passed: still baseline's flaw
    base = result("baseline", {"reentrant_miss": "passed", "fork": "passed"})
    mine = result("rwlock", {"reentrant_miss": "failed", "fork": "failed"})
    assert testsuite.stress_words(mine, base) == {"reentrant_miss": "inherits upstream flaw",
                                                  "fork": "new failure"}
    assert testsuite.new_failures(mine, base) == [NODE.format("fork")]
    assert ("| new failures; new failure: fork; inherits upstream flaw: reentrant_miss |"
            in testsuite.table([(base, []), (mine, ["x"])]))


def test_fixes_are_named_too():
    base = result("baseline", {"reentrant_miss": "xfailed", "reentrant_fresh": "xfailed"})
    mine = result("lockfree", {"reentrant_miss": "passed", "reentrant_fresh": "passed"})
    assert "as baseline; fixes upstream flaw: reentrant_fresh, reentrant_miss" in testsuite.table(
        [(base, []), (mine, testsuite.new_failures(mine, base))])


def test_the_test_command_attributes_against_a_baseline_that_is_not_a_row():
    base = result("baseline", {"reentrant_miss": "passed", "fork": "passed"})
    mine = result("tls", {"reentrant_miss": "failed", "fork": "failed"})
    want = "new failure: fork; inherits upstream flaw: reentrant_miss"
    assert want in testsuite.table([(mine, ["x"])], base)
    assert "inherits upstream flaw: reentrant_miss" in testsuite.table([(mine, [])])  # records


def _write(folder: Path, r: testsuite.TestResult) -> Path:
    path = folder / f"{testsuite.result_stem(r.numpy_version, r.python, r.variant, r.suite)}.json"
    path.write_text(json.dumps(asdict(r), indent=2) + "\n")
    return path


def test_results_files_keep_the_outcomes_and_the_report_agrees_with_test_all(tmp_path):
    rows = [result("baseline", {"reentrant_miss": "xfailed", "reentrant_fresh": "passed", "fork": "passed",
                                "writer_starvation": "passed"}),
            result("lockfree", {"reentrant_miss": "passed", "reentrant_fresh": "passed", "fork": "passed",
                                "writer_starvation": "passed"}),
            result("rwlock", {"reentrant_miss": "failed", "reentrant_fresh": "passed", "fork": "passed",
                              "writer_starvation": "failed"})]
    files = [_write(tmp_path, r) for r in rows]
    back = [testsuite.TestResult.load_current(f) for f in files]  # every file written is read back
    assert back == rows and back[2] is not None and back[2].stress["writer_starvation"] == "failed"
    assert json.loads(files[0].read_text())["schema_version"] == testsuite.SCHEMA >= 4
    table_rows = [(r, testsuite.new_failures(r, rows[0]) if r.variant != "baseline" else []) for r in rows]
    assert [len(new) for _, new in table_rows] == [0, 0, 1]
    terminal = testsuite.table(table_rows)

    a = analysis.analyse(results.read(files))
    by_variant = {row.variant: row for row in a.verdict_rows}
    for r, new in table_rows:  # the report's tests column says what test-all's verdict column says
        text = testsuite._verdict(r, new, rows[0])
        assert f"| {text} |" in terminal
        # the same words after the verdict ("as baseline"/"new failures" there, "pass"/"1 new failures" here)
        assert by_variant[r.variant].tests.split("; ", 1)[1] == text.split("; ", 1)[1], r.variant
        assert by_variant[r.variant].tests_ok is (not new)
    assert by_variant["rwlock"].tests == ("stress: 1 new failures; new failure: writer_starvation; "
                                          "inherits upstream flaw: reentrant_miss")
    assert by_variant["rwlock"].tests_ok is False and by_variant["lockfree"].tests_ok is True
    assert by_variant["lockfree"].tests == "stress: as baseline; fixes upstream flaw: reentrant_miss"

    (group,) = a.stress
    cols = dict(group.columns)
    assert cols == {v: testsuite.stress_columns(rows, rows[0])[i][1] for i, v in
                    enumerate(("baseline", "lockfree", "rwlock"))}
    report_md, _, _ = render.render(a, tmp_path / "report")
    md = report_md.read_text(encoding="utf-8")
    assert "## Stress cases" in md
    head = "| case | baseline | lockfree | rwlock |"
    assert head in md and head in terminal
    line = next(x for x in md.splitlines() if x.startswith("| reentrant\\_miss |"))
    assert line == "| reentrant\\_miss | upstream flaw | fixes upstream flaw | inherits upstream flaw |"
    line = next(x for x in md.splitlines() if x.startswith("| writer\\_starvation |"))
    assert line == "| writer\\_starvation | passes | passes | **new failure** |"
    term = next(x for x in terminal.splitlines() if x.startswith("| writer_starvation |"))
    assert term == "| writer_starvation | passes | passes | **new failure** |"  # the same table
    assert "inherits upstream flaw: reentrant" in verdict.text_table(a)


def test_older_results_without_outcomes_still_render(tmp_path):
    old = {**asdict(result("rwlock", {})), "schema_version": 3}
    del old["stress"]
    path = tmp_path / "test-9.1.0-3.13t-rwlock-stress.json"
    path.write_text(json.dumps(old))
    assert testsuite.TestResult.load_current(path) is None  # rerun by lockswap test
    (t,) = results.read([path]).tests
    assert t.stress == {} and analysis.test_text(t, (t,)) == ("pass", True)
