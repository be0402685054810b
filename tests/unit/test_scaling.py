from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lockswap import report, scaling
from lockswap.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"


def _doc_with_other_numpy(tmp_path: Path) -> Path:
    """The golden run plus a ``baseline@2.2.6`` target whose 2 threads take 1.25x one thread's time."""
    doc = json.loads((FIXTURES / "results-v2.json").read_text())
    other = copy.deepcopy(doc["variants"]["baseline"])
    other["worker"].update(numpy_version="2.2.6", numpy_dist_version="2.2.6+lockswap.baseline")
    doc["variants"]["baseline@2.2.6"] = other
    for repeat in range(12):
        for workers, seconds in ((1, 0.010 + repeat * 1e-4), (2, (0.010 + repeat * 1e-4) * 1.25)):
            doc["measurements"].append({
                "variant": "baseline@2.2.6", "workload": "add", "size": 100, "mode": "threads",
                "workers": workers, "repeat": repeat, "iterations": 1000, "calls": 1000 * workers,
                "flops": 100 * 1000 * workers, "seconds": seconds})
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    return path


def test_efficiency_pairs_the_same_process_and_labels_map_to_their_numpy(tmp_path):
    data = report.load([_doc_with_other_numpy(tmp_path)])
    machine = next(iter(data.machines))
    key = report.Key(machine, "2.2.6", "baseline", "add", 100, "threads", 2)
    eff = scaling.efficiencies(data, key)
    assert len(eff) == 12 and all(e == pytest.approx(0.8) for e in eff)
    ns = scaling.ns_per_call(data, key)
    assert sorted(ns) == pytest.approx([(0.010 + r * 1e-4) / 1000 * 1e9 for r in range(12)])
    # the golden 2.1.3 run is still its own group, under its own baseline
    assert report.Key(machine, "2.1.3", "baseline", "add", 100, "threads", 2) in data.runs


def test_efficiency_skips_processes_that_did_different_work(tmp_path):
    path = _doc_with_other_numpy(tmp_path)
    doc = json.loads(path.read_text())
    for m in doc["measurements"]:
        if m["variant"] == "baseline@2.2.6" and m["workers"] == 2 and m["repeat"] == 0:
            m["iterations"] = 999
    path.write_text(json.dumps(doc))
    data = report.load([path])
    key = report.Key(next(iter(data.machines)), "2.2.6", "baseline", "add", 100, "threads", 2)
    assert len(scaling.efficiencies(data, key)) == 11


def test_table_orders_versions_and_compares_with_the_same_numpys_baseline(tmp_path):
    data = report.load([_doc_with_other_numpy(tmp_path)])
    machine = next(iter(data.machines))
    lines = scaling.table(data, machine, "add", 100)
    head, rows = lines[0], lines[2:]
    assert "t1/t2" in head and "t1/t4" in head and "ns/call / baseline" in head
    assert [r.split("|")[1:3] for r in rows] == [[" 2.1.3 ", " baseline "], [" 2.1.3 ", " rwlock "],
                                                 [" 2.2.6 ", " baseline "]]
    assert " 0.80 [0.80-0.80] " in rows[2]  # the 2.2.6 baseline: 2 threads took 1.25x
    assert rows[2].split("|")[5].strip() == "-"  # a baseline is not compared with itself
    md = "\n".join(scaling.section(data))
    assert "## Thread scaling t1/tN" in md and f"### add, n = 100 ({machine})" in md


def test_reference_column_compares_every_row_with_one_chosen_build(tmp_path):
    data = report.load([_doc_with_other_numpy(tmp_path)])
    machine = next(iter(data.machines))
    lines = scaling.table(data, machine, "add", 100, scaling.parse_reference("baseline@2.2.6"))
    head = [c.strip() for c in lines[0].split("|")[1:-1]]
    assert "t1/t2 / baseline@2.2.6" in head and "ns/call / baseline@2.2.6" in head
    col = head.index("t1/t2 / baseline@2.2.6")
    rows = {tuple(c.strip() for c in r.split("|")[1:3]): [c.strip() for c in r.split("|")[1:-1]]
            for r in lines[2:]}
    assert rows["2.2.6", "baseline"][col] == "-"  # the reference itself
    assert rows["2.1.3", "baseline"][col] != "-"
    # a reference that was not measured adds no columns
    assert "@9.9" not in "\n".join(scaling.table(data, machine, "add", 100, ("9.9", "baseline")))
    with pytest.raises(ConfigError, match="expected VARIANT@NUMPY"):
        scaling.parse_reference("baseline")
