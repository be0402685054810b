"""End to end: a short contention analysis of the real 2.1.3 lockfree wheel, read back by the renderer."""

from __future__ import annotations

import pytest

from lockswap import cli
from lockswap.base import manifest
from lockswap.base.mdtext import escape
from lockswap.contention import render

NUMPY = "2.1.3"
VARIANT = "lockfree"


@pytest.mark.e2e
def test_contention_finds_the_add_ufunc_on_lockfree(tmp_path, monkeypatch, capsys):
    m = manifest.default()
    if VARIANT not in m.variants or NUMPY not in m.versions_for(VARIANT):
        pytest.skip(f"variant {VARIANT} for NumPy {NUMPY} not in patches/manifest.toml")
    monkeypatch.setenv("LOCKSWAP_DIST", str(tmp_path / "dist"))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path / "results"))
    out = tmp_path / "results" / "contention.json"
    assert cli.main(["contention", "--numpy", NUMPY, "--variant", VARIANT, "--workload", "add",
                     "--repeats", "2", "--target-seconds", "0.03", "--max-candidates", "3",
                     "--output", str(out)]) == 0

    doc = render.load(out)
    assert doc["kind"] == "lockswap-contention" and doc["schema_version"] == render.VERSION
    assert doc["target"]["worker"]["numpy_dist_version"] == f"{NUMPY}+lockswap.{VARIANT}"
    found = {(c["locator"], c["type"], c["repr"]) for c in doc["discovery"]["candidates"]}
    assert ("add", "ufunc", "<ufunc 'add'>") in found, found
    assert any(c["type"] == "PyCapsule" for c in doc["discovery"]["candidates"]), found
    arms = {a["label"] for a in doc["arms"].values()}
    assert "add" in arms and "unmodified" in arms
    assert len(doc["runs"]) >= 2 * 2  # unmodified + at least one counterfactual, 2 processes each
    assert doc["arms"]["layout"]["spacers"] == 1 and doc["arms"]["layout"]["locators"] == []
    assert {r["arm"] for r in doc["runs"]} >= {"none", "layout"}
    assert all(r["spread"] >= 1.0 for r in doc["runs"]), doc["runs"]  # each worker's own time, t2 run
    assert doc["failures"] == [], doc["failures"]
    assert {r["label"] for r in doc["ranking"]} >= {"add"}
    singles = [r for r in doc["ranking"] if r["arm"] not in ("all", "layout")]  # objects only
    if len(singles) >= 2:  # every candidate also has its cost at the ceiling (all vs all but it)
        assert all(r["ceiling"] and r["ceiling"]["n_without"] >= 2 for r in singles), singles

    capsys.readouterr()
    assert cli.main(["contention", "--render", str(out)]) == 0
    table = capsys.readouterr().out
    ufunc = "<ufunc 'add'>"
    row = f"| {escape('add')} {escape(ufunc)} | ufunc |"  # the file's strings, escaped for Markdown
    assert row in table and "Holm" in table and "at the ceiling" in table
    assert "Slowest over fastest worker in the t2 run" in table and "interpreter state apart" in table
    if doc["ranking"] and (out.with_suffix(".png")).exists():
        assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_contention_finds_nothing_left_on_immortal(tmp_path, monkeypatch):
    m = manifest.default()
    if "immortal" not in m.variants or NUMPY not in m.versions_for("immortal"):
        pytest.skip(f"variant immortal for NumPy {NUMPY} not in patches/manifest.toml")
    monkeypatch.setenv("LOCKSWAP_DIST", str(tmp_path / "dist"))
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path / "results"))
    out = tmp_path / "results" / "contention.json"
    assert cli.main(["contention", "--numpy", NUMPY, "--variant", "immortal", "--workload", "add",
                     "--repeats", "2", "--target-seconds", "0.03", "--output", str(out)]) == 0
    doc = render.load(out)
    written = {c["type"] for c in doc["discovery"]["candidates"]}
    assert not written & {"ufunc", "PyCapsule"}, doc["discovery"]["candidates"]
    assert doc["unmodified"]["n"] == 2 and not any(r["significant"] for r in doc["ranking"])
