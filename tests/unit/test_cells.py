"""Measurements indexed by cell (report/cells.py): workloads with other source text never pool, and the
headline cell is the tightest dispatch-bound workload measured."""

from __future__ import annotations

import json
from pathlib import Path

from lockswap.report import analysis, cells, results
from lockswap.report.cells import Key

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"


def test_a_workload_with_other_source_text_is_never_pooled(tmp_path):
    doc = json.loads((FIXTURES / "results-v4.json").read_text())
    older = tmp_path / "older.json"
    older.write_text(json.dumps(doc))
    doc["workloads"]["add"]["kernel"] = "add(a, b, out=c)"  # a later lockswap's kernel
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(doc))
    pool = cells.pool(results.read([older, newer]).runs)
    names = {k.workload for k in pool.samples}
    (renamed,) = names - {"add", "issue27786"}
    assert renamed.startswith("add#") and pool.workloads[renamed]["kernel"] == "add(a, b, out=c)"
    assert pool.workloads["add"]["kernel"] == "np.add(a, b, out=c)"
    key = next(k for k in pool.samples if k.workload == "add")
    assert len(pool.samples[key]) == len(cells.pool(results.read([older]).runs).samples[key])  # not pooled
    same = cells.pool(results.read([older, older]).runs)  # identical definitions still pool
    assert {k.workload for k in same.samples} == {"add", "issue27786"}


def test_headline_prefers_the_tightest_dispatch_bound_workload_measured():
    def keys(*names: str) -> list[Key]:
        return [Key("m", "2.1.3", "baseline", w, 16, "threads", 2) for w in names]

    assert analysis._headline_cell(keys("mix", "keys40")) == ("keys40", 16)  # a run of keys40 alone has one
    assert analysis._headline_cell(keys("npadd", "add", "scalar")) == ("add", 16)
    assert analysis._headline_cell(keys("npadd", "issue27786")) == ("npadd", 16)
