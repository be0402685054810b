from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lockswap.base import stats
from lockswap.base.errors import ConfigError
from lockswap.report import analysis, cells, results, scaling

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"


def _doc_with_other_numpy(tmp_path: Path) -> Path:
    """The golden run plus a ``baseline@2.2.6`` target whose 2 threads take 1.25x one thread's time."""
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
    other = copy.deepcopy(doc["variants"]["baseline"])
    other.update(label="baseline@2.2.6", numpy_version="2.2.6")
    other["worker"].update(numpy_version="2.2.6", numpy_dist_version="2.2.6+lockswap.baseline")
    doc["variants"]["baseline@2.2.6"] = other
    for repeat in range(12):
        for workers, seconds in ((1, 0.010 + repeat * 1e-4), (2, (0.010 + repeat * 1e-4) * 1.25)):
            doc["measurements"].append({
                "target": "baseline@2.2.6", "variant": "baseline", "numpy_version": "2.2.6",
                "workload": "add", "size": 100, "mode": "threads",
                "workers": workers, "repeat": repeat, "iterations": 1000, "calls": 1000 * workers,
                "flops": 100 * 1000 * workers, "seconds": seconds})
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    return path


def _pool(*files: Path) -> cells.Pool:
    return cells.pool(results.read(list(files)).runs)


def test_efficiency_pairs_the_same_process_and_targets_map_to_their_numpy(tmp_path):
    pool = _pool(_doc_with_other_numpy(tmp_path))
    machine = next(iter(pool.groups))
    key = cells.Key(machine, "2.2.6", "baseline", "add", 100, "threads", 2)
    eff = scaling.efficiencies(pool, key)
    assert len(eff) == 12 and all(e == pytest.approx(0.8) for e in eff)
    ns = scaling.ns_per_call(pool, key)
    assert sorted(ns) == pytest.approx([(0.010 + r * 1e-4) / 1000 * 1e9 for r in range(12)])
    # the golden 2.1.3 run is still its own group, under its own baseline
    assert cells.Key(machine, "2.1.3", "baseline", "add", 100, "threads", 2) in pool.processes


def test_efficiency_skips_processes_that_did_different_work(tmp_path):
    path = _doc_with_other_numpy(tmp_path)
    doc = json.loads(path.read_text())
    for m in doc["measurements"]:
        if m["target"] == "baseline@2.2.6" and m["workers"] == 2 and m["repeat"] == 0:
            m["iterations"] = 999
    path.write_text(json.dumps(doc))
    pool = _pool(path)
    key = cells.Key(next(iter(pool.groups)), "2.2.6", "baseline", "add", 100, "threads", 2)
    assert len(scaling.efficiencies(pool, key)) == 11


def _table(pool: cells.Pool, reference=None, head=None) -> tuple[stats.Family, list[str]]:
    family = stats.Family()
    machine = next(iter(pool.groups))
    rows = scaling.rows(pool, family, machine, "add", 100, reference, head)
    family.adjust()
    return family, scaling.table(pool, family, rows, reference)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|")[1:-1]]


def test_table_is_long_format_verdict_first_and_compares_with_the_same_numpys_baseline(tmp_path):
    pool = _pool(_doc_with_other_numpy(tmp_path))
    _, lines = _table(pool)
    head, rows = _cells(lines[0]), [_cells(r) for r in lines[2:]]
    assert head[0] == "verdict" and len(head) <= 11  # no 29-column rows
    assert head[:6] == ["verdict", "NumPy", "variant", "N", "processes", "t1/tN [CI]"]
    # one row per (NumPy, variant, N), versions in order, baseline first
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("2.1.3", "baseline", "2"), ("2.1.3", "baseline", "4"), ("2.1.3", "rwlock", "2"),
        ("2.1.3", "rwlock", "4"), ("2.2.6", "baseline", "2")]
    assert rows[-1][5] == "0.80 [0.80, 0.80]"  # the 2.2.6 baseline: 2 threads took 1.25x
    assert rows[-1][6] == "-" and rows[-1][0] == "baseline"  # a baseline is not compared with itself
    assert rows[1][0] == "oversubscribed"  # 4 workers on 2 CPUs


def test_a_table_whose_workers_took_unequal_times_says_so_under_it(tmp_path):
    path = _doc_with_other_numpy(tmp_path)
    doc = json.loads(path.read_text())
    for m in doc["measurements"]:
        if m["target"] == "baseline@2.2.6" and m["workers"] == 2:  # the first worker 20 % slower
            m["spans"] = [[0.0, m["seconds"]], [0.0, m["seconds"] / 1.2]]
    path.write_text(json.dumps(doc))
    _, lines = _table(_pool(path))
    assert lines[-1].startswith("Workers unequal (slowest over fastest worker")
    assert "baseline@2.2.6 N=2: 1.20" in lines[-1] and "thread-layout arm" in lines[-1]
    assert "2.1.3" not in lines[-1]  # the golden run's cells recorded no spans
    for m in doc["measurements"]:
        if "spans" in m:
            m["spans"] = [[0.0, m["seconds"]], [0.001, m["seconds"] * 1.05]]  # within 10 %: no note
    path.write_text(json.dumps(doc))
    assert not any(line.startswith("Workers unequal") for line in _table(_pool(path))[1])


def test_spread_of_a_measurement_needs_two_workers_and_sane_spans():
    assert results._spread([[0.0, 2.0], [0.5, 2.0]]) == pytest.approx(2.0 / 1.5)
    assert results._spread([[0.0, 1.0]]) is None  # one worker
    assert results._spread(None) is None and results._spread([[1.0, 1.0], [0.0, 1.0]]) is None
    assert results._spread([["x", 1.0], [0.0, 1.0]]) is None


def test_only_the_headline_cell_is_holm_adjusted_the_rest_is_exploratory(tmp_path):
    pool = _pool(_doc_with_other_numpy(tmp_path))
    family, lines = _table(pool, head=scaling.Headline("add", 100, 2))
    group = next(iter(pool.groups))
    assert family.size(group) == 2  # rwlock's t1/t2 and its 1-thread ns, vs the same run's baseline
    heads = [r for r in family.ratios if r.headline]
    assert {r.n for r in heads} == {(5, 5)} and all(r.level == 1 - stats.ALPHA / 2 for r in heads)
    rows = {(c[1], c[2], c[3]): c for c in map(_cells, lines[2:])}
    assert rows["2.1.3", "rwlock", "4"][0] == "oversubscribed"
    explore, _ = _table(pool)  # no headline: every comparison exploratory, nothing adjusted
    assert explore.size(group) == 0 and not any(explore.significant(i) for i in range(len(explore)))
    md = "\n".join(scaling.header(family))
    assert "fixed Holm family" in md and "unadjusted, exploratory" in md
    assert "bootstrap 95% confidence interval" in md


def test_reference_columns_compare_every_row_with_one_chosen_build(tmp_path):
    pool = _pool(_doc_with_other_numpy(tmp_path))
    _, lines = _table(pool, scaling.parse_reference("baseline@2.2.6"))
    head = _cells(lines[0])
    assert "t1/tN / baseline@2.2.6" in head and "ns / baseline@2.2.6" in head
    col = head.index("t1/tN / baseline@2.2.6")
    rows = {(r[1], r[2], r[3]): r for r in map(_cells, lines[2:])}
    assert rows["2.2.6", "baseline", "2"][col] == "-"  # the reference itself
    assert rows["2.1.3", "baseline", "2"][col] != "-"
    # a reference that was not measured adds no columns
    assert "@9.9" not in "\n".join(_table(pool, ("9.9", "baseline"))[1])
    with pytest.raises(ConfigError, match="expected VARIANT@NUMPY"):
        scaling.parse_reference("baseline")


def test_smt_siblings_count_once_for_linear(tmp_path):
    doc = json.loads((FIXTURES / "results-v3.json").read_text())
    doc["machine"].update(physical_cores=1, smt_siblings=[[0, 1]])  # two hyperthreads of one core
    path = tmp_path / "smt.json"
    path.write_text(json.dumps(doc))
    pool = _pool(path)
    machine = next(iter(pool.groups))
    assert pool.machine(machine).physical == 1 and "1 physical cores" in machine
    assert scaling.flag(pool, machine, 2) == "SMT" and scaling.flag(pool, machine, 4) == "oversubscribed"
    a = analysis.analyse(results.read([path]))
    rw = next(r for r in a.verdict_rows if r.variant == "rwlock")
    assert rw.scaling is not None and rw.scaling.workers == 2 and rw.scaling.flag == "SMT"
