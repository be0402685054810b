from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lockswap import cli
from lockswap.base import stats
from lockswap.base.errors import ConfigError
from lockswap.report import analysis, results, verdict
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


def test_ratios_speedups_and_holm_significance():
    a = _a(FIXTURES / "results-v3.json")
    rows = {(r.key.variant, r.key.workload, r.key.mode, r.key.workers): r for r in a.throughput_rows}
    r = rows["rwlock", "add", "threads", 2]
    assert r.vs_base is not None
    ratio = a.family.ratios[r.vs_base]
    assert ratio.ratio == pytest.approx(1.3, rel=0.05) and ratio.low <= ratio.ratio <= ratio.high
    # 5 vs 5 processes, fully separated: p = 0.0079 alone, but not after Holm across the report
    assert ratio.significant and not a.family.significant(r.vs_base)
    assert a.family.p_adjusted(r.vs_base) == pytest.approx(min(1.0, ratio.p * len(a.family)), rel=0.01) \
        or a.family.p_adjusted(r.vs_base) > ratio.p
    same = rows["rwlock", "add", "processes", 2]
    assert a.family.ratios[same.vs_base].ratio == pytest.approx(1.0, rel=0.05)
    assert rows["baseline", "add", "threads", 2].vs_base is None
    sp = rows["baseline", "add", "threads", 4].speedup
    assert sp is not None and sp.estimate == pytest.approx(2.0, rel=0.05)  # saturates at two cores


def test_render_merges_machines_and_writes_real_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    a = _a(FIXTURES / "results-v3.json", FIXTURES / "results-v1.json")
    md_path, summary, pngs = report.render(a, out)
    md = md_path.read_text()
    assert "## golden (Test CPU, 2 cores), NumPy 2.1.3" in md
    assert "## oldbox (Old CPU, 4 cores), NumPy 2.1.3" in md
    assert "| verdict | n | mode | workers | variant | MFLOPS median [95% CI] |" in md  # long format
    assert "Holm-adjusted across all" in md
    assert "smallest attainable p is 0.10" in md  # the v1 file has 3 repeats
    assert len(pngs) == 6  # (add, issue27786 on golden; add on oldbox) x (throughput, vs-baseline)
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC and f"]({png.name})" in md
    assert summary.read_text().startswith("# lockswap summary")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing temporary left


def test_failed_cells_get_a_table():
    a = _a(FIXTURES / "results-v3.json")
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
    shutil.copy(FIXTURES / "results-v3.json", good)
    out = tmp_path / "r"
    args = [str(foreign), str(build), str(corrupt), str(good)]
    assert cli.main(["report", *args, "--output-dir", str(out)]) == 0
    err = capsys.readouterr().err
    for f in (foreign, build, corrupt):
        assert sum(f"skipped {f}" in line for line in err.splitlines()) == 1
    md = (out / "report.md").read_text()
    assert "skipped `" in md and "lockswap-bench-build" in md and "## Verdict" in md


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
    shutil.copy(FIXTURES / "results-v3.json", bench)
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
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
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
    assert verdict.overall(a, next(r for r in a.verdict_rows if r.variant == "baseline")) == "baseline"
    assert "> **WARNING**" in "\n".join(report.warnings_section(a))


def _ci_job(tmp_path: Path, i: int, os: str) -> list[Path]:
    """One CI job's results: a small bench of baseline + a variant, and both test verdicts."""
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
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


def test_a_workload_with_other_source_text_is_never_pooled(tmp_path):
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    doc["workloads"]["add"]["kernel"] = "add(a, b, out=c)"  # a later lockswap's kernel
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(doc))
    pool = results.pool(results.read([older, newer]).runs)
    names = {k.workload for k in pool.samples}
    (renamed,) = names - {"add", "issue27786"}
    assert renamed.startswith("add#") and pool.workloads[renamed]["kernel"] == "add(a, b, out=c)"
    assert pool.workloads["add"]["kernel"] == "np.add(a, b, out=c)"
    key = next(k for k in pool.samples if k.workload == "add")
    assert len(pool.samples[key]) == len(results.pool(results.read([older]).runs).samples[key])  # not pooled
    same = results.pool(results.read([older, older]).runs)  # identical definitions still pool
    assert {k.workload for k in same.samples} == {"add", "issue27786"}


def test_report_on_the_real_results_of_2026_11_25(tmp_path):
    a = _a(*sorted(DATA.glob("*.json")))
    assert len(a.inputs.runs) == 6 and len(a.inputs.tests) == 28 and not a.inputs.skipped
    rows = {(r.numpy, r.variant): r for r in a.verdict_rows}
    imm = rows["2.1.3", "immortal"]
    assert imm.scaling is not None and imm.scaling.eff is not None and imm.scaling.eff.estimate > 0.9
    assert verdict.overall(a, imm) == "scales better" and imm.tests == "quick: as baseline"
    assert rows["2.2.6", "baseline"].scaling is not None  # baseline@2.2.6 of a 2.1.3 run


def test_plot_legends_sit_outside_the_axes(tmp_path, monkeypatch):
    """The old throughput plot put a 14-entry legend on the axes, over the curves."""
    plt = pytest.importorskip("matplotlib.pyplot")
    figures = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (figures.append(fig), real_close(fig)))
    a = _a(*sorted(DATA.glob("bench-tight-A.json")))
    machine, numpy = next((r.key.machine, r.key.numpy) for r in a.throughput_rows)
    assert len(report.plots.plot_group(a, machine, numpy, "add", tmp_path)) == 2
    assert len(figures) == 2
    for fig in figures:
        assert fig.legends and all(ax.get_legend() is None for ax in fig.axes)
        (legend,) = fig.legends
        right_of_axes = max(ax.get_position().x1 for ax in fig.axes) * fig.bbox.width
        assert legend.get_bbox_to_anchor().x0 >= right_of_axes - 1


def test_headline_prefers_the_tightest_dispatch_bound_workload_measured():
    from lockswap.report import analysis
    from lockswap.report.results import Key

    def keys(*names: str) -> list[Key]:
        return [Key("m", "2.1.3", "baseline", w, 16, "threads", 2) for w in names]

    assert analysis._headline(keys("mix", "keys40")) == ("keys40", 16)  # a run of keys40 alone has one
    assert analysis._headline(keys("npadd", "add", "scalar")) == ("add", 16)
    assert analysis._headline(keys("npadd", "issue27786")) == ("npadd", 16)


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
