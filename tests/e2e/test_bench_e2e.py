"""End to end: a --quick benchmark of baseline and rwlock of NumPy 2.1.3, then a report with real PNGs."""

from __future__ import annotations

import pytest

from lockswap import cli
from lockswap.base import manifest
from lockswap.bench import runner, schema, workloads

NUMPY = "2.1.3"
VARIANTS = ("baseline", "rwlock")


@pytest.mark.e2e
def test_quick_bench_and_report(tmp_path, monkeypatch):
    m = manifest.default()
    missing = [v for v in VARIANTS if v not in m.variants or NUMPY not in m.versions_for(v)]
    if missing:
        pytest.skip(f"variant(s) {', '.join(missing)} for NumPy {NUMPY} not in patches/manifest.toml yet")
    # real cache (warm reruns), private dist and results
    monkeypatch.setenv("LOCKSWAP_DIST", str(tmp_path / "dist"))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path / "results"))
    out = tmp_path / "results" / "quick.json"
    assert cli.main(["bench", "--numpy", NUMPY, "--variants", ",".join(VARIANTS), "--quick",
                     "--settle", "0", "--output", str(out)]) == 0

    doc = schema.load(out)
    assert set(doc["variants"]) == set(VARIANTS)
    for name, v in doc["variants"].items():
        assert v["worker"]["numpy_version"] == NUMPY and v["worker"]["gil_enabled"] is False
        assert v["worker"]["numpy_dist_version"] == f"{NUMPY}+lockswap.{name}"
        assert bool(v["patch_sha256"]) == (name != "baseline")
    cells = runner.cells_of(runner.Plan(
        workloads=workloads.select(",".join(workloads.QUICK)),  # --quick: every workload but npadd
        sizes=tuple(doc["plan"]["sizes"]), workers=tuple(doc["plan"]["workers"]),
        modes=tuple(doc["plan"]["modes"]), repeats=doc["plan"]["repeats"], target_seconds=0.02))
    assert len(doc["measurements"]) == len(cells) * len(VARIANTS) * doc["plan"]["repeats"]

    pytest.importorskip("matplotlib")
    from matplotlib import image

    report_dir = tmp_path / "report"
    assert cli.main(["report", str(out), "--output-dir", str(report_dir)]) == 0
    md = (report_dir / "report.md").read_text()
    assert "## Verdict" in md and "Holm-adjusted" in md and (report_dir / "summary.md").is_file()
    forest = sorted(report_dir.glob("*-forest.png"))
    assert forest and all(f"]({png.name})" in md for png in forest)  # the headline picture, embedded
    assert "## Thread scaling t1/tN" in md and "| 2.1.3 | rwlock |" in md
    pngs = sorted(p for p in report_dir.glob("*.png") if not p.name.endswith("-forest.png"))
    assert len(pngs) == 2 * len(doc["workloads"])  # throughput and vs-baseline per workload
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = image.imread(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0  # not blank
        assert f"]({png.name})" in md


# Another NumPy release for the cross-version run: 2.3.5, which the port test builds anyway, so the
# two tests share one build slot (2.5.5 here compiled a second NumPy from scratch, about 7 min cold).
# `VARIANT@NUMPY` takes only listed versions, so this test's manifest lists it (pinned).
OTHER = "2.3.5"
OTHER_TABLE = f"""[numpy."{OTHER}"]
sdist_sha256 = "784db1dcdab56bf0517743e746dfb0f885fc68d948aba86eeec2cba234bdf1c0"
pythons = ["3.13t"]
"""


@pytest.mark.e2e
def test_another_numpy_version_in_the_same_run(lockswap, tmp_path):
    """`--variants baseline,baseline@2.3.5`: two NumPy versions interleaved, compared per process."""
    lockswap.manifest_with(tmp_path, OTHER_TABLE)
    out = tmp_path / "results" / "two.json"
    lockswap.run("bench", "--numpy", NUMPY, "--variants", f"baseline,baseline@{OTHER}",
                 "--workloads", "add", "--sizes", "1", "--workers", "1,2", "--modes", "threads",
                 "--repeats", "3", "--target-seconds", "0.02", "--settle", "0", "--output", str(out))
    doc = schema.load(out)
    assert {k: v["worker"]["numpy_version"] for k, v in doc["variants"].items()} == {
        "baseline": NUMPY, f"baseline@{OTHER}": OTHER}
    assert doc["variants"][f"baseline@{OTHER}"]["variant"] == "baseline"
    assert len(doc["measurements"]) == 2 * 2 * 3  # builds x worker counts x repeats

    pytest.importorskip("matplotlib")
    report_dir = tmp_path / "report"
    lockswap.run("report", str(out), "--reference", f"baseline@{OTHER}", "--output-dir", str(report_dir))
    md = (report_dir / "report.md").read_text()
    assert f"| {NUMPY} | baseline | 2 | 3 |" in md and f"| {OTHER} | baseline | 2 | 3 |" in md
    assert f"t1/tN / baseline@{OTHER}" in md
