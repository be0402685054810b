from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lockswap import cli
from lockswap.base import stats
from lockswap.base.errors import ConfigError
from lockswap.report import analysis, verdict
from lockswap.report import render as report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"
DATA = Path(__file__).parents[2] / "docs" / "data" / "2026-11-25"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _fewer_resamples(monkeypatch):
    monkeypatch.setattr(stats, "RESAMPLES", 300)  # the same code, faster


def _a(*files: Path) -> analysis.Analysis:
    return analysis.analyse(verdict.load(list(files)))


def _test_json(tmp_path: Path, variant: str, *, envelope: bool = True, failing: tuple[str, ...] = (),
               ci: dict | None = None, name: str = "") -> Path:
    doc = json.loads((DATA / f"test-2.1.3-3.13t-{variant}-quick.json").read_text())
    doc["failing"] = list(failing)
    doc["counts"]["failed"] = len(failing)
    if envelope:
        doc.update(kind="lockswap-test", schema_version=3, created="2026-11-30T01:00:00Z")
    if ci:
        doc["ci"] = ci
    path = tmp_path / (name or f"test-2.1.3-3.13t-{variant}-quick.json")
    path.write_text(json.dumps(doc))
    return path


def test_throughput_comparisons_are_exploratory_and_speedups_paired():
    a = _a(FIXTURES / "results-v4.json")
    rows = {(r.key.variant, r.key.workload, r.key.mode, r.key.workers): r for r in a.throughput_rows}
    r = rows["rwlock", "add", "threads", 2]
    assert r.vs_base is not None
    ratio = a.family.ratios[r.vs_base]
    assert ratio.ratio == pytest.approx(1.3, rel=0.05) and ratio.low <= ratio.ratio <= ratio.high
    # 5 vs 5 processes, fully separated: p = 0.0079, shown raw; exploratory, so never "significant"
    assert not ratio.headline and a.family.p_adjusted(r.vs_base) == ratio.p < 0.05
    assert not a.family.significant(r.vs_base)
    assert rows["rwlock", "add", "threads", 1].vs_base is None  # the per-call comparison is that test
    same = rows["rwlock", "add", "processes", 2]
    assert a.family.ratios[same.vs_base].ratio == pytest.approx(1.0, rel=0.05)
    assert rows["baseline", "add", "threads", 2].vs_base is None
    sp = rows["baseline", "add", "threads", 4].speedup
    assert sp is not None and sp.estimate == pytest.approx(2.0, rel=0.05)  # saturates at two cores
    assert rows["baseline", "add", "threads", 1].speedup is None  # 1 by definition: no interval


def test_render_merges_machines_and_writes_real_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    a = _a(FIXTURES / "results-v4.json", FIXTURES / "results-v1.json")
    md_path, summary, pngs = report.render(a, out)
    md = md_path.read_text()
    assert "## golden (Test CPU, 2 cores), run 2026-11-30T02:00:00Z, NumPy 2.1.3" in md
    assert "## oldbox (Old CPU, 4 cores), run 2026-11-20T08:00:00Z, NumPy 2.1.3" in md
    assert "| verdict | n | mode | workers | variant | MFLOPS median [CI] |" in md  # long format
    assert "fixed Holm family" in md and "unadjusted and exploratory" in md
    assert "smallest attainable p is 0.10" in md  # the v1 file has 3 repeats
    forest = [p for p in pngs if p.name.endswith("-forest.png")]
    assert len(forest) == 2  # the golden run's add and issue27786 (the v1 file has no per-process data)
    assert len(pngs) == 6 + 2  # (add, issue27786 on golden; add on oldbox) x (throughput, vs-baseline)
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC and f"]({png.name})" in md
    assert summary.read_text().startswith("# lockswap summary")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing temporary left


def test_failed_cells_get_a_table():
    a = _a(FIXTURES / "results-v4.json")
    md = "\n".join(report.failures_table(a.inputs.runs))
    assert "## Failed cells" in md
    assert "| rwlock | issue27786 | 100 | threads | 4 | 4 | timeout | 5.0 |" in md
    assert "in kernel" in md  # the stderr tail's last line
    assert report.failures_table(_a(FIXTURES / "results-v2.json").inputs.runs) == []


def test_foreign_and_corrupt_files_are_skipped_and_the_rest_renders(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "left-pad"}')
    build = tmp_path / "bench-build.json"
    build.write_text('{"kind": "lockswap-bench-build", "schema_version": 1, "created": "x"}')
    corrupt = tmp_path / "bench-cut.json"
    corrupt.write_text('{"kind": "lockswap-bench", "sche')
    good = tmp_path / "bench.json"
    shutil.copy(FIXTURES / "results-v4.json", good)
    out = tmp_path / "r"
    args = [str(foreign), str(build), str(corrupt), str(good)]
    assert cli.main(["report", *args, "--output-dir", str(out)]) == 0
    err = capsys.readouterr().err
    for f in (foreign, build, corrupt):
        assert sum(f"skipped {f}" in line for line in err.splitlines()) == 1
    md = (out / "report.md").read_text()
    assert "> skipped " in md and "lockswap-bench-build" in md and "## Verdict" in md


def test_nothing_renderable_is_an_error(tmp_path, capsys):
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "left-pad"}')
    assert cli.main(["report", str(foreign), "--output-dir", str(tmp_path / "r")]) == 2
    assert "nothing to report" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nope.json"), "--output-dir", str(tmp_path / "r")]) == 2
    with pytest.raises(ConfigError, match="nothing to report"):
        verdict.load([])


def test_test_verdicts_sit_next_to_the_scaling_numbers(tmp_path):
    """Fails on the old report, which stopped at the first test JSON ("not a lockswap benchmark")."""
    bench = tmp_path / "bench.json"
    shutil.copy(FIXTURES / "results-v4.json", bench)
    base = _test_json(tmp_path, "baseline", envelope=False, failing=("t::flaky",))  # before the envelope
    rw = _test_json(tmp_path, "rwlock", failing=("t::flaky", "t::new"))
    a = _a(bench, base, rw)
    rows = {r.variant: r for r in a.verdict_rows}
    assert rows["rwlock"].tests == "quick: 1 new failures" and rows["rwlock"].tests_ok is False
    assert rows["baseline"].tests == "quick: 1 failing"
    assert verdict.overall(a, rows["rwlock"]) == "TESTS FAIL"
    assert rows["rwlock"].scaling is not None
    assert rows["rwlock"].scaling.workers == 2  # not 4 (oversubscribed)
    _test_json(tmp_path, "dict")  # another build's verdict in the results folder: not a row of this run
    text = verdict.verdict_table([bench], tests_dir=tmp_path)
    lines = text.splitlines()
    assert not [line for line in lines if " dict " in line]
    assert lines[0].split()[:3] == ["verdict", "variant", "NumPy"]
    assert any(line.startswith("TESTS FAIL") and "rwlock" in line and "1 new failures" in line
               for line in lines)


def test_gil_and_load_and_oversubscription_are_loud(tmp_path):
    doc = json.loads((FIXTURES / "results-v4.json").read_text())
    doc["variants"]["rwlock"]["worker"]["gil_enabled"] = True
    doc["machine"]["loadavg_at_start"] = [3.5, 1.0, 1.0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    a = _a(path)
    (run,) = a.inputs.runs
    w = "\n".join(run.warnings())
    assert "GIL was enabled in the worker of rwlock" in w
    assert "load average 3.5" in w and "oversubscribed" in w
    row = next(r for r in a.verdict_rows if r.variant == "rwlock")
    assert verdict.overall(a, row) == "UNRELIABLE: GIL enabled"
    # load 3.5 at start on 2 CPUs: every cell of the run is disturbed, and says so in its verdict
    assert verdict.overall(a, next(r for r in a.verdict_rows if r.variant == "baseline")) == \
        "baseline (disturbed)"
    assert "> **WARNING**" in "\n".join(report.warnings_section(a))


def _ci_job(tmp_path: Path, i: int, os: str) -> list[Path]:
    """One CI job's results: a small bench of baseline + a variant, and both test verdicts."""
    doc = json.loads((FIXTURES / "results-v4.json").read_text())
    variant = f"v{i}"
    doc["variants"][f"v{i}"] = {**doc["variants"].pop("rwlock"), "label": variant, "variant": variant}
    doc["measurements"] = [
        {**m, **({"target": variant, "variant": variant} if m["variant"] == "rwlock" else {})}
        for m in doc["measurements"]
        if m["workload"] == "add" and m["mode"] == "threads" and m["workers"] <= 2]
    doc["failures"] = []
    tag = {"job": f"{variant}-2.1.3-3.13t-{os}", "variant": variant, "numpy": "2.1.3", "python": "3.13t",
           "os": os}
    doc["ci"] = tag
    bench = tmp_path / f"bench-{i}.json"
    bench.write_text(json.dumps(doc))
    tests = [_test_json(tmp_path, "baseline", ci=tag, name=f"test-{i}-baseline.json"),
             _test_json(tmp_path, "rwlock", ci=tag, name=f"test-{i}-v.json")]
    t = json.loads(tests[1].read_text())
    t["variant"] = variant
    tests[1].write_text(json.dumps(t))
    return [bench, *tests]


def test_ci_jobs_group_by_os_and_the_summary_stays_small(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "RESAMPLES", 100)
    files = [f for i in range(50) for f in _ci_job(tmp_path, i, ("ubuntu-24.04", "windows-2025")[i % 2])]
    a = _a(*files)
    assert len({r.machine for r in a.verdict_rows}) == 50  # one machine per job, never pooled
    oses = [r.os for r in a.verdict_rows]
    assert oses == sorted(oses)  # grouped by OS (the files alternate)
    row = next(r for r in a.verdict_rows if r.variant == "v1")
    assert (row.os, row.python, row.numpy) == ("windows-2025", "3.13t", "2.1.3")
    assert row.tests == "quick: as baseline"
    text = verdict.summary_markdown(a)
    assert len(text.encode()) < 256 * 1024  # GitHub drops a step summary above 1 MiB
    assert text.count("| windows-2025 |") >= 25 and "## Headline thread scaling" in text


def test_summary_is_cut_to_its_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(verdict, "SUMMARY_LIMIT", 2500)
    jobs = [*_ci_job(tmp_path, 0, "ubuntu-24.04"), *_ci_job(tmp_path, 1, "macos-15")]
    text = verdict.summary_markdown(_a(*jobs))
    assert "cut to fit" in text


def test_report_on_the_real_results_of_2026_11_25(tmp_path):
    a = _a(*sorted(DATA.glob("*.json")))
    assert len(a.inputs.runs) == 6 and len(a.inputs.tests) == 28 and not a.inputs.skipped
    assert len({r.group for r in a.verdict_rows if r.scaling}) == 6  # one group per run: nothing pooled
    imm = max((r for r in a.verdict_rows if (r.numpy, r.variant) == ("2.1.3", "immortal") and r.scaling
               and r.scaling.eff), key=lambda r: r.scaling.eff.estimate)  # type: ignore[union-attr]
    assert imm.scaling is not None and imm.scaling.eff is not None and imm.scaling.eff.estimate > 0.9
    # those runs started with a load above half the CPUs: the verdict carries it
    assert verdict.overall(a, imm) == "scales better (disturbed)" and imm.tests == "quick: as baseline"
    assert any(r.scaling is not None for r in a.verdict_rows if (r.numpy, r.variant) == ("2.2.6", "baseline"))


def test_plot_legends_sit_outside_the_axes(tmp_path, monkeypatch):
    """The old throughput plot put a 14-entry legend on the axes, over the curves."""
    plt = pytest.importorskip("matplotlib.pyplot")
    figures = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (figures.append(fig), real_close(fig)))
    a = _a(*sorted(DATA.glob("bench-tight-A.json")))
    machine, numpy = next((r.key.run, r.key.numpy) for r in a.throughput_rows)
    assert len(report.plots.plot_group(a, machine, numpy, "add", tmp_path)) == 2
    assert len(figures) == 2
    for fig in figures:
        assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)
        (legend,) = fig.legends
        right_of_axes = max(ax.get_position().x1 for ax in fig.axes) * fig.bbox.width
        assert legend.get_bbox_to_anchor().x0 >= right_of_axes - 1


def _run(tmp_path: Path, name: str, *, created: str = "2026-12-01T10:00:00Z", slow: float = 1.0,
         variants: tuple[str, ...] = ("baseline", "rwlock"), repeats: int = 12, load: float = 0.2,
         upstream: bool = False) -> Path:
    """A synthetic interleaved run on 2 CPUs: add n=1 at 1 and 2 threads, ``repeats`` processes per
    build; rwlock scales better than baseline; ``slow`` makes every third 1-thread process slower."""
    doc = json.loads((FIXTURES / "results-v4.json").read_text())
    doc["created"] = created
    doc["machine"]["loadavg_at_start"] = [load, load, load]
    doc["failures"] = []
    base = doc["variants"]["baseline"]
    doc["variants"] = {}
    doc["measurements"] = []
    labels = [*variants, *(["baseline@2.5.5"] if upstream else [])]
    eff = {"baseline": 0.50, "rwlock": 0.80, "tls": 0.82, "tlsimmortal": 0.98, "baseline@2.5.5": 0.70}
    for label in labels:
        variant, _, numpy = label.partition("@")
        numpy = numpy or "2.1.3"
        doc["variants"][label] = {**base, "label": label, "variant": variant, "numpy_version": numpy,
                                  "worker": {**base["worker"], "numpy_version": numpy}}
        for r in range(repeats):
            t1 = 0.010 * (1 + 0.002 * r) * (slow if r % 3 == 0 else 1.0)
            for workers, secs in ((1, t1), (2, t1 / (eff[label] * (1 + 0.001 * r)))):
                doc["measurements"].append({
                    "target": label, "variant": variant, "numpy_version": numpy, "workload": "add",
                    "size": 1, "mode": "threads", "workers": workers, "repeat": r, "iterations": 1000,
                    "calls": 1000 * workers, "flops": 1000 * workers, "seconds": secs, "load": [load, load],
                    "foreign_cpu": 0.01})
    doc["plan"].update(workloads=["add"], sizes=[1], workers=[1, 2], modes=["threads"], repeats=repeats,
                       upstream="baseline@2.5.5" if upstream else None)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_two_runs_are_shown_side_by_side_and_never_compared_with_each_other(tmp_path):
    """Run one measured only baseline, run two only rwlock: pooled, rwlock would look 1.6x better."""
    one = _run(tmp_path, "one.json", variants=("baseline",))
    two = _run(tmp_path, "two.json", created="2026-12-02T10:00:00Z", variants=("rwlock",))
    a = _a(one, two)
    assert len(a.pool.groups) == 2
    rw = next(r for r in a.verdict_rows if r.variant == "rwlock")
    assert rw.scaling is not None and rw.scaling.eff_vs_base is None  # no baseline in its own run
    assert verdict.overall(a, rw) == "no baseline" and not any(r.headline for r in a.family.ratios)
    pooled = analysis.analyse(verdict.load([one, two]), pooled=True)  # opt-in, labelled, never significant
    prw = next(r for r in pooled.verdict_rows if r.variant == "rwlock")
    assert prw.scaling is not None and prw.scaling.eff_vs_base is not None
    assert verdict.overall(pooled, prw) == "pooled runs: exploratory"
    assert not any(pooled.family.significant(i) for i in range(len(pooled.family)))
    assert "pooled" in verdict.text_table(pooled)


def test_a_disturbed_run_marks_the_verdicts_that_rest_on_it(tmp_path):
    quiet = _a(_run(tmp_path, "quiet.json"))
    rw = next(r for r in quiet.verdict_rows if r.variant == "rwlock")
    assert verdict.overall(quiet, rw) == "scales better"
    assert rw.scaling is not None and not rw.scaling.disturbed
    noisy = _a(_run(tmp_path, "noisy.json", slow=1.5))  # every third 1-thread process 1.5x slower
    rw = next(r for r in noisy.verdict_rows if r.variant == "rwlock")
    assert rw.scaling is not None and rw.scaling.disturbed
    assert verdict.overall(noisy, rw).endswith("(disturbed)")
    assert "varies" in str(rw.scaling.disturbed) and "disturbed: rwlock@2.1.3" in verdict.text_table(noisy)
    loaded = _a(_run(tmp_path, "loaded.json", load=1.5))  # above half of 2 CPUs at the start
    assert all(verdict.overall(loaded, r).endswith("(disturbed)") for r in loaded.verdict_rows)


def test_a_builds_adjusted_p_does_not_change_when_files_or_a_reference_are_added(tmp_path):
    run = _run(tmp_path, "run.json", variants=("baseline", "rwlock", "tls"), repeats=8, upstream=True)
    other = _run(tmp_path, "other.json", created="2026-12-02T10:00:00Z", repeats=8)

    def adjusted(a: analysis.Analysis) -> dict[str, float]:
        rows = [r for r in a.verdict_rows if r.scaling and r.scaling.eff_vs_base is not None
                and "2026-12-01" in r.group]
        return {r.variant: a.family.p_adjusted(r.scaling.eff_vs_base) for r in rows}  # type: ignore[union-attr]

    alone = adjusted(_a(run))
    assert set(alone) == {"rwlock", "tls"}
    assert adjusted(_a(run, other)) == alone
    with_ref = analysis.analyse(verdict.load([run]), reference=("2.5.5", "baseline"))
    assert adjusted(with_ref) == alone
    # the family: rwlock, tls and the upstream build, each t1/tN and ns vs baseline and vs upstream
    group = next(iter(g for g in with_ref.pool.groups))
    assert with_ref.family.size(group) == 2 * 2 + 2 * 2 + 2


def test_report_summary_and_terminal_agree_cell_for_cell(tmp_path):
    """One analysis, three renderings: every verdict row reads the same in report.md, summary.md and on
    the terminal (the bench's answer), test verdicts included."""
    pytest.importorskip("matplotlib")
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    bench = _run(results_dir, "bench-x.json", upstream=True)
    _test_json(results_dir, "baseline", failing=("t::flaky",))
    _test_json(results_dir, "rwlock", failing=("t::flaky",))
    a = report.answer(bench)
    out = report.answer_dir(bench)
    terminal = verdict.text_table(a)
    md_rows = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("| ")]
    summary_rows = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("| ")]
    for row in a.verdict_rows:
        cells = verdict._cells(a, row, markdown=True)
        line = "| " + " | ".join(cells) + " |"
        assert line in md_rows and line in summary_rows
        plain = [c.replace("**", "") for c in verdict._cells(a, row, markdown=False)]
        assert all(c.replace(" *", "") in terminal for c in plain)
    rw = next(r for r in a.verdict_rows if r.variant == "rwlock")
    assert rw.tests == "quick: as baseline"  # the test verdicts reached all three
    assert "quick: as baseline" in terminal and "| quick: as baseline |" in "\n".join(md_rows)
    assert "t1/tN / upstream 2.5.5" in terminal


def test_the_gil_flag_is_the_builds_own(tmp_path):
    """tlsimmortal ran with the GIL, tls did not: only tlsimmortal is flagged (its label contains tls)."""
    path = _run(tmp_path, "gil.json", variants=("baseline", "tls", "tlsimmortal"))
    doc = json.loads(path.read_text())
    doc["variants"]["tlsimmortal"]["worker"]["gil_enabled"] = True
    path.write_text(json.dumps(doc))
    a = _a(path)
    rows = {r.variant: r for r in a.verdict_rows}
    assert verdict.overall(a, rows["tlsimmortal"]) == "UNRELIABLE: GIL enabled"
    assert not verdict.overall(a, rows["tls"]).startswith("UNRELIABLE")
    assert not verdict.overall(a, rows["baseline"]).startswith("UNRELIABLE")


def test_the_pr_32513_forms_run_and_get_their_table(tmp_path):
    """The three forms of NumPy PR 32513, measured for real on the test interpreter, in the PR's layout."""
    from benchrun import argv, need_numpy

    from lockswap.report import prtable

    need_numpy()
    out = tmp_path / "pr.json"
    assert cli.main(argv(out, "--workloads", "sin,addalloc,addop", "--workers", "1,2", "--repeats", "4",
                         "--target-seconds", "0.01", variants=("baseline", "rwlock"))) == 0
    md = "\n".join(prtable.section(_a(out)))
    assert "## NumPy PR 32513's forms" in md and "| form | N | baseline@" in md
    for form in ("`np.sin(a)`", "`np.add(a, b)`", "`a + b`"):
        assert f"| {form} | 2 | " in md
    assert "(87.5%)" not in md and "x [" in md  # 4 processes: [min, max] of the speed-up


def test_environment_table_says_which_build_was_ported_from_where(tmp_path):
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
    doc["variants"]["rwlock"].update(ported_from="2.2.6", base_patch_sha256="c" * 64)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    (run,) = _a(path).inputs.runs
    assert run.targets["rwlock"].ported_from == "2.2.6" and run.targets["baseline"].ported_from == ""
    rows = [line for line in report.environment_table([run]) if "| rwlock |" in line]
    assert rows and all("(ported from 2.2.6)" in line for line in rows)
    assert not any("ported" in line for line in report.environment_table([run]) if "| baseline |" in line)
