"""The contention finder: candidate discovery, counterfactual scheduling, ranking and rendering."""

from __future__ import annotations

import json
import random
import sys
import threading
import types
from pathlib import Path

import pytest
from contention_fixtures import ARMS
from contention_fixtures import doc as _doc
from contention_fixtures import runs as _runs

from lockswap.base.errors import ConfigError
from lockswap.commands import contention as command
from lockswap.contention import analysis, candidates, probe, render, runner

np = pytest.importorskip("numpy")


# --- discovery ------------------------------------------------------------------------------------

def _ns(setup: str) -> dict:
    ns = {"np": np, "n": 1, "worker": 0, "iterations": 1}
    exec(setup, ns)
    return ns


def test_kernel_roots_name_locals_and_attribute_chains():
    ns = _ns("a = np.ones(n); b = np.ones(n); c = np.empty(n); add = np.add")
    locals_ = {loc for loc, _ in candidates.kernel_roots("add(a, b, out=c)", ns)}
    assert {"add", "a", "b", "c"} <= locals_
    chained = {loc for loc, _ in candidates.kernel_roots("np.add(a, b, out=c)", ns)}
    assert {"np", "np.add"} <= chained
    assert "add" not in chained  # a keyword `out=` is not a name, and `add` is not used


def test_kernel_roots_find_methods_on_the_type_and_builtins():
    ns = _ns("x = np.ones(n)")
    roots = dict(candidates.kernel_roots("x[0] += x.mean() * len(x)", ns))
    method = "type(x).__mro__[0].__dict__['mean']"
    assert method in roots
    assert candidates.locate(method, ns) is np.ndarray.__dict__["mean"]
    assert candidates.locate("builtins.len", ns) is len and "builtins.len" in roots


def test_collect_locators_find_the_same_objects_again():
    holder = types.SimpleNamespace(payload=[object(), {"key": object()}])
    ns = {"holder": holder}
    found = candidates.collect([("holder", "kernel name `holder`")], ns, depth=4)
    assert len(found) > 4
    for key, entry in found.items():
        assert id(candidates.locate(entry["locator"], ns)) == key, entry["locator"]
    # the dict value inside the list is reached and keeps a readable path of how it was found
    inner = next(e for e in found.values() if e["obj"] is holder.payload[1]["key"])
    assert inner["via"][0].endswith("kernel name `holder`")


def test_collect_treats_module_attributes_as_leaves():
    mod = types.ModuleType("lockswap_fake_mod")
    mod.thing = types.SimpleNamespace(deep=object())
    found = candidates.collect([("m", "root")], {"m": mod}, depth=3)
    objs = [e["obj"] for e in found.values()]
    assert any(o is mod.thing for o in objs)
    assert not any(o is mod.thing.deep for o in objs)


def test_trace_roots_names_called_python_code_and_its_globals(monkeypatch):
    mod = types.ModuleType("lockswap_traced_mod")
    exec("HELPER = [1, 2]\ndef work():\n    return len(HELPER)\n", vars(mod))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    roots = dict(candidates.trace_roots(mod.work))
    base = f"sys.modules[{mod.__name__!r}]"
    assert {base, f"{base}.work", f"{base}.HELPER"} <= set(roots)
    assert candidates.locate(f"{base}.HELPER", {}) is mod.HELPER


def test_short_repr_drops_addresses():
    assert " at 0x" not in candidates.short_repr(object())


@pytest.mark.skipif(probe.free_threaded(), reason="checks the refusal on a GIL build")
def test_gil_build_refuses_with_a_reason():
    why = probe.immortal_reason(object())
    assert why and "GIL" in why
    with pytest.raises(probe.Refused, match="GIL"):
        probe.immortalize(object())


def test_immortalize_refuses_once_another_thread_runs():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with pytest.raises(probe.Refused, match="other thread"):
            probe.immortalize(object())
    finally:
        stop.set()
        t.join()


# --- statistics and ranking -----------------------------------------------------------------------

def test_contention_ranks_with_the_bench_statistics():  # one bootstrap and one Holm rule for all reports
    from lockswap.base import stats

    xs = [0.80, 0.82, 0.85, 0.86, 0.87, 0.90]
    ci = stats.bootstrap_median(xs)
    assert analysis.bootstrap_median_ci(xs) == (ci.low, ci.high)
    assert not hasattr(analysis, "holm")


def test_bootstrap_ci_covers_a_clear_difference_and_zero_for_none():
    rng = random.Random(1)
    a = [1.0 + rng.gauss(0, 0.01) for _ in range(12)]
    b = [0.9 + rng.gauss(0, 0.01) for _ in range(12)]
    lo, hi = analysis.bootstrap_diff_ci(a, b)
    assert 0.08 < lo < 0.1 < hi < 0.12
    lo, hi = analysis.bootstrap_diff_ci(b, [x + rng.gauss(0, 0.01) for x in b])
    assert lo < 0 < hi


def test_rank_orders_by_gain_with_the_ceiling_last_and_holm_applied():
    rows = analysis.rank(_runs({"none": 0.87, "c1": 0.91, "c2": 0.94, "c3": 0.87, "all": 0.99}), ARMS)
    assert [r.arm for r in rows] == ["c2", "c1", "c3", "all"]
    by = {r.arm: r for r in rows}
    assert by["c2"].significant and by["c1"].significant and by["all"].significant
    assert not by["c3"].significant
    assert all(r.p_holm >= r.p for r in rows)
    assert by["all"].gain == pytest.approx(0.12, abs=0.02)
    assert by["c2"].gain_ci[0] < by["c2"].gain < by["c2"].gain_ci[1]
    assert json.loads(json.dumps(by["c2"].to_json()))["with"] == pytest.approx(by["c2"].with_)


MASKED = {  # measured 2.1.3 lockfree/add medians: the capsule gains nothing alone, much at the ceiling
    "none": {"label": "unmodified", "locators": []},
    "c1": {"label": "add", "type": "ufunc", "repr": "<ufunc 'add'>", "locators": ["add"]},
    "c2": {"label": "capsule", "type": "PyCapsule", "repr": "<c>", "locators": ["cap"]},
    "all": {"label": "everything at once", "locators": ["add", "cap"]},
}


def test_rank_finds_an_object_whose_gain_another_one_hides():
    rows = analysis.rank(_runs({"none": 0.479, "c1": 0.810, "c2": 0.481, "all": 0.975}, n=24), MASKED)
    assert [r.arm for r in rows] == ["c1", "c2", "all"]
    by = {r.arm: r for r in rows}
    assert not by["c2"].significant  # alone: nothing
    cost = by["c2"].ceiling
    assert cost is not None and cost.significant and cost.loss == pytest.approx(0.165, abs=0.02)
    assert cost.loss_ci[0] > 0.1 and cost.n_without == 24 and by["c2"].matters
    assert by["c1"].ceiling is not None and by["c1"].ceiling.loss == pytest.approx(0.494, abs=0.02)
    assert by["all"].ceiling is None
    assert json.loads(json.dumps(by["c2"].to_json()))["ceiling"]["significant"] is True


def test_rank_pairs_each_candidate_with_its_all_but_arm():
    arms, _ = runner.make_arms([{**c, "immortal_refused": None, "locator": f"o{i}"}
                                for i, c in enumerate(CANDIDATES)], limit=5)
    info = {a.name: {**a.info, "locators": a.locators} for a in arms}
    assert analysis.complements(info) == {"c1": "all-but-c1", "c2": "all-but-c2", "c3": "all-but-c3"}
    means = {"none": 0.5, "c1": 0.5, "c2": 0.5, "c3": 0.5, "all": 0.9,
             "all-but-c1": 0.6, "all-but-c2": 0.9, "all-but-c3": 0.9}
    rows = analysis.rank(_runs(means), info)
    assert rows[0].arm == "c1" and rows[-1].arm == "all"  # all-but arms are not rows
    by = {r.arm: r for r in rows}
    assert by["c1"].matters and not by["c2"].matters and not by["c3"].matters


def test_rank_without_unmodified_runs_is_empty():
    assert analysis.rank(_runs({"c1": 0.9}), ARMS) == []


# --- scheduling: refusals and crashes stay with their arm ---------------------------------------------

CANDIDATES = [
    {"locator": "add", "type": "ufunc", "repr": "<ufunc 'add'>", "immortal_refused": None},
    {"locator": "cap", "type": "PyCapsule", "repr": "<capsule>", "immortal_refused": None},
    {"locator": "gone", "type": "module", "repr": "<module>", "immortal_refused": "already immortal"},
]


def test_make_arms_leaves_out_refused_and_excess_candidates():
    arms, left = runner.make_arms(CANDIDATES, limit=5)
    # two: "all but one" = the other's arm; the thread-layout arm last
    assert [a.name for a in arms] == ["none", "c1", "c2", "all", "layout"]
    assert arms[3].locators == ["add", "cap"]
    assert arms[-1].locators == [] and arms[-1].spacers == 1 and all(a.spacers == 0 for a in arms[:-1])
    assert left[0]["locator"] == "gone" and "already immortal" in left[0]["why"]
    arms, left = runner.make_arms(CANDIDATES, limit=1, layout=False)
    assert [a.name for a in arms] == ["none", "c1"]  # no ceiling for a single candidate
    assert [c["locator"] for c in left] == ["cap", "gone"]
    arms, _ = runner.make_arms([], limit=5)  # nothing written: still the layout counterfactual
    assert [a.name for a in arms] == ["none", "layout"]


def _ok(t1: float, t2: float) -> runner.Outcome:
    return runner.Outcome([{"event": "immortalized", "objects": [], "skipped": []},
                           {"event": "cell", "workers": 1, "seconds": t1, "per_worker": [t1]},
                           {"event": "cell", "workers": 2, "seconds": t2, "per_worker": [t2, t2 * 0.8]},
                           {"event": "env"}], 0, "")


def test_measure_records_a_crash_for_its_arm_only(monkeypatch):
    arms, _ = runner.make_arms(CANDIDATES, limit=5)
    kernel = runner.Kernel("add", "", "", 1, "workload")

    def fake(python, spec, timeout):
        if spec["immortalize"] == ["add"]:
            return runner.Outcome([], -11, "Fatal Python error: Segmentation fault")
        if spec["immortalize"] == ["cap"]:
            return runner.Outcome([{"event": "refused", "locator": "cap", "reason": "no way"}],
                                  runner.REFUSED_EXIT, "")
        return _ok(1.0, 1.1)

    specs = []
    monkeypatch.setattr(runner, "run_probe", lambda python, spec, timeout: specs.append(spec) or fake(
        python, spec, timeout))
    runs, failures = runner.measure("py", kernel, arms, iterations=10, workers=2, repeats=4, timeout=5)
    assert {f["arm"] for f in failures} == {"c1"} and len(failures) == runner.MAX_CRASHES
    assert "Segmentation fault" in failures[0]["stderr_tail"]
    by_arm = analysis.per_process(runs)
    assert set(by_arm) == {"none", "all", "layout"} and len(by_arm["none"]) == 4
    assert by_arm["none"][0]["ratio"] == pytest.approx(1.0 / 1.1)
    assert by_arm["none"][0]["spread"] == pytest.approx(1.25)  # slowest / fastest worker of the t2 run
    assert {s["spacers"] for s in specs if not s["immortalize"]} == {0, 1}  # unmodified and layout
    assert arms[2].refused == "cap: no way"


# --- input and output -------------------------------------------------------------------------------

def test_kernel_file_without_kernel_is_one_clear_message(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('setup = "a = np.ones(n)"\n')
    with pytest.raises(ConfigError, match="no string kernel"):
        command.load_kernel_file(bad)
    good = tmp_path / "npadd.py"
    good.write_text('raise SystemExit("never executed")\n'
                    'setup = "a = np.ones(n)"\nkernel = "np.add(a, a, out=a)"\n')
    k = command.load_kernel_file(good)
    assert (k.name, k.kernel) == ("npadd", "np.add(a, a, out=a)")


def test_render_round_trip_table_and_chart(tmp_path):
    path, png = render.write(_doc(), tmp_path / "contention.json")
    doc = render.load(path)
    text = render.markdown(doc)
    assert text.index("workload add") < text.index(r"\_extobj\_contextvar") < text.index("everything at once")
    assert "&lt;ufunc 'add'&gt;" in text  # a repr is text, not an HTML tag
    assert "Holm" in text and "perf c2c: not usable" in text
    assert "at the ceiling" in text and text.count("**+0.0") >= 2  # gain alone and cost at the ceiling
    pytest.importorskip("matplotlib")
    assert png is not None and png.stat().st_size > 1000


def test_render_refuses_other_kinds(tmp_path):
    other = tmp_path / "bench.json"
    other.write_text(json.dumps({"kind": "lockswap-bench", "schema_version": 3}))
    with pytest.raises(ConfigError, match="not a contention result"):
        render.load(other)


@pytest.mark.skipif(probe.free_threaded(), reason="checks the refusal on a GIL build")
def test_discovery_on_a_gil_build_is_one_clear_message():
    kernel = runner.Kernel("add", "a = np.ones(n)", "a + a", 1, "workload")
    with pytest.raises(ConfigError, match="not a free-threaded CPython"):
        runner.discover(Path(sys.executable), kernel, target_seconds=0.01, sample_seconds=0.01, timeout=60)


def test_the_shipped_example_kernel_file_loads():
    path = Path(__file__).parents[1] / "fixtures" / "contention" / "npadd_in_loop.py"
    k = command.load_kernel_file(path)
    assert (k.setup, k.kernel, k.size) == ("a = np.ones(n); b = np.ones(n); c = np.empty(n)",
                                           "np.add(a, b, out=c)", 1)
    assert candidates.kernel_roots(k.kernel, _ns(k.setup))[0][0] == "np.add"


def test_find_paths_locates_objects_the_sweep_found():
    target = object()
    holder = types.SimpleNamespace(inner={"k": target})
    ns = {"holder": holder}
    paths = candidates.find_paths({id(target)}, [("holder", "root")], ns)
    loc, how = paths[id(target)]
    assert candidates.locate(loc, ns) is target and "sweep" in how
    assert candidates.find_paths({id(object())}, [("holder", "root")], ns) == {}


def test_lockswap_report_gives_contention_results_their_own_section(tmp_path):
    pytest.importorskip("matplotlib")
    from lockswap import cli

    path, _ = render.write(_doc(), tmp_path / "contention.json")
    bench = Path(__file__).parents[1] / "fixtures" / "bench" / "results-v2.json"
    out = tmp_path / "report"
    assert cli.main(["report", str(bench), str(path), "--output-dir", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "## Contention: which shared objects limit scaling" in md and "![contention](contention.png)" in md
    assert md.index("lockswap thread-scaling report") < md.index("## Contention")
    assert (out / "contention.png").exists()


def test_the_report_says_how_much_scaling_is_unexplained():
    from lockswap.contention import render

    doc = {"plan": {"workers": 2}, "ranking": [], "unmodified": {"median": 0.70, "ci": [0.69, 0.71], "n": 12}}
    text = render.unexplained(doc)
    assert "0.700 unmodified" in text and "30.0% of linear scaling" in text
    doc["ranking"] = [{"arm": "c1", "with": 0.81}, {"arm": "all", "with": 0.98}]
    assert "0.980 with every measured candidate immortal" in render.unexplained(doc)
    assert "2.0% of linear" in render.unexplained(doc)


# --- ContextVars: per-context state that C code reads on every call -------------------------------

def test_render_names_contextvars_it_could_not_examine_and_the_unexplained_share():
    doc = _doc()
    assert "Not examined" not in render.markdown(doc)
    doc["discovery"]["contextvars_ambiguous"] = ["lockswap_twin"]
    text = render.markdown(doc)
    assert "Not examined: ContextVars that share a name" in text and "lockswap\\_twin" in text
    doc["ranking"] = []
    doc["unmodified"] = {"median": 0.70, "ci": [0.65, 0.75], "n": 12}
    assert "30.0% of linear scaling is not explained" in render.markdown(doc)
