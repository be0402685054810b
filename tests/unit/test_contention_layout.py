"""The contention finder's thread-layout arm: idle threads between workers, the workers' spread, and
what the table says when the layout explains the missing scaling."""

from __future__ import annotations

import threading

import pytest
from contention_fixtures import doc as _doc
from contention_fixtures import runs as _runs

from lockswap.contention import analysis, render

pytest.importorskip("numpy")


def test_run_threads_starts_idle_threads_between_workers_and_stops_them():
    from lockswap.bench import worker

    before = threading.active_count()
    # the last worker's setup runs once every thread is started and none has passed the barrier; a
    # thread is listed by threading.enumerate() from before its start() returns, so in start order
    setup = "import threading as _t\nif worker == 2: _t.lockswap_order = [x.name for x in _t.enumerate()]"
    cell = {"setup": setup, "size": 1, "workers": 3, "iterations": 5, "warmup": False, "kernel": "pass",
            "spacers": 1}
    assert len(worker.run_threads(cell)) == 3
    order = [name for name in threading.lockswap_order if name.endswith(("(target)", "(wait)"))]
    assert [n.rsplit("(", 1)[1] for n in order] == ["target)", "wait)", "target)", "wait)", "target)"]
    assert threading.active_count() == before  # the idle threads ended with the cell
    worker.run_threads({**cell, "spacers": 0})
    assert [n for n in threading.lockswap_order if n.endswith("(wait)")] == []
    del threading.lockswap_order


def test_the_layout_arm_is_named_when_it_explains_the_rest():
    arms = {"none": {"label": "unmodified", "locators": []},
            "layout": {"label": "threads' interpreter state apart", "type": "thread layout", "locators": []}}
    rows = analysis.rank(_runs({"none": 0.81, "layout": 0.98}), arms)
    assert [r.arm for r in rows] == ["layout"] and rows[0].significant
    doc = {"plan": {"workers": 2}, "ranking": [r.to_json() for r in rows],
           "unmodified": {"median": 0.81, "ci": [0.80, 0.82], "n": 12}}
    text = render.unexplained(doc)
    assert "0.810 unmodified" in text and "19.0% of linear scaling" in text  # no object: as before
    got = rows[0].with_
    assert "**Keeping the workers' interpreter state apart**" in text and f"t1/t2 {got:.3f}" in text
    assert f"leaves {1 - got:.1%} unexplained" in text and "QSBR" in text
    same = analysis.rank(_runs({"none": 0.81, "layout": 0.81}), arms)
    assert "not significant, so the thread layout is not what is missing" in render.unexplained(
        {**doc, "ranking": [r.to_json() for r in same]})


def test_render_shows_the_workers_spread_per_arm():
    doc = _doc()
    assert render.spread_line(doc) == ""  # schema 3 files have no per-worker times
    doc["arms"] = {"none": {"label": "unmodified"}, "layout": {"label": "x"}}
    doc["runs"] = [{"arm": "none", "spread": s} for s in (1.2, 1.3, 1.25)] + \
                  [{"arm": "layout", "spread": 1.01}, {"arm": "layout", "spread": None}]
    line = render.spread_line(doc)
    assert line.startswith("Slowest over fastest worker in the t2 run")
    assert "unmodified 1.25; interpreter state apart 1.01." in line
    assert line in render.markdown(doc)
