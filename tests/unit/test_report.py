from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lockswap import cli, report
from lockswap.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_ratios_speedups_and_significance():
    data = report.load([FIXTURES / "results-v2.json"])
    machine = report.machine_label(json.loads((FIXTURES / "results-v2.json").read_text()))
    key = report.Key(machine, "2.1.3", "rwlock", "add", 100, "threads", 2)
    r = report.ratio_to_baseline(data, key)
    assert r is not None and r.ratio == pytest.approx(1.3, rel=0.05) and r.significant  # 5 vs 5, separated
    same = report.ratio_to_baseline(data, report.Key(machine, "2.1.3", "rwlock", "add", 100, "processes", 2))
    assert same is not None and same.ratio == pytest.approx(1.0, rel=0.05) and not same.significant
    base = report.Key(machine, "2.1.3", "baseline", "add", 100, "threads", 2)
    assert report.ratio_to_baseline(data, base) is None
    sp = report.speedup(data, report.Key(machine, "2.1.3", "baseline", "add", 100, "threads", 4))
    assert sp == pytest.approx(2.0, rel=0.05)  # the fixture saturates at two cores


def test_render_merges_machines_and_writes_real_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    data = report.load([FIXTURES / "results-v2.json", FIXTURES / "results-v1.json"])
    md_path, pngs = report.render(data, out)
    md = md_path.read_text()
    assert "## golden (Test CPU, 2 cores), NumPy 2.1.3" in md
    assert "## oldbox (Old CPU, 4 cores), NumPy 2.1.3" in md
    assert "| n | mode | workers | baseline MFLOPS median [IQR] |" in md
    assert "**1.3" in md  # a significant ratio is bold
    assert "smallest attainable p is 0.10" in md  # the v1 file has 3 repeats
    assert len(pngs) == 6  # (add, issue27786 on golden; add on oldbox) x (throughput, vs-baseline)
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC and f"]({png.name})" in md
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # nothing temporary left


def test_report_command_bad_inputs(tmp_path, capsys):
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "left-pad"}')
    assert cli.main(["report", str(foreign), "--output-dir", str(tmp_path / "r")]) == 2
    assert "is not a lockswap benchmark result" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no results files"):
        report.load([])


def test_report_command_end_to_end_on_golden(tmp_path):
    pytest.importorskip("matplotlib")
    src = tmp_path / "in.json"
    shutil.copy(FIXTURES / "results-v2.json", src)
    assert cli.main(["report", str(src), "--output-dir", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.md").is_file()


def test_a_workload_with_other_source_text_is_never_pooled(tmp_path):
    doc = json.loads((FIXTURES / "results-v2.json").read_text())
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    doc["workloads"]["add"]["kernel"] = "add(a, b, out=c)"  # a later lockswap's kernel
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(doc))
    data = report.load([older, newer])
    names = {k.workload for k in data.samples}
    (renamed,) = names - {"add", "issue27786"}
    assert renamed.startswith("add#") and data.workloads[renamed]["kernel"] == "add(a, b, out=c)"
    assert data.workloads["add"]["kernel"] == "np.add(a, b, out=c)"
    n_old = len(report.load([older]).samples[next(k for k in data.samples if k.workload == "add")])
    assert len(data.samples[next(k for k in data.samples if k.workload == "add")]) == n_old  # not pooled
    same = report.load([older, older])  # identical definitions still pool
    assert {k.workload for k in same.samples} == {"add", "issue27786"}
