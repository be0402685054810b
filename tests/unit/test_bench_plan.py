from __future__ import annotations

import argparse
import json
import sys

import pytest

from lockswap import cli
from lockswap.base.errors import ConfigError
from lockswap.bench import process, runner, workloads
from lockswap.commands import bench as command


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    command.add_args(p)
    return p.parse_args(list(argv))


def test_registry_has_the_workloads_with_flop_counts():
    assert list(workloads.REGISTRY) == ["issue27786", "add", "npadd", "scalar", "mix", "keys40", "sin",
                                        "addalloc", "addop"]
    assert workloads.PR32513 == ("sin", "addalloc", "addop")  # NumPy PR 32513's forms, in its order
    assert not set(workloads.PR32513) & set(workloads.QUICK)  # by name or --full only
    assert workloads.get("scalar").calls_per_iteration == 4 and workloads.get("sin").sizes((1,)) == (4,)
    assert workloads.get("issue27786").flops_per_call(1000) == 2000  # as counted in NumPy issue 27786
    assert workloads.get("add").flops_per_call(10) == 10
    assert workloads.get("scalar").sizes((10, 100)) == (1,)
    mix = workloads.get("mix")
    assert mix.fresh_process and not mix.warmup


def test_keys40_is_selectable_but_not_in_the_default_plan(monkeypatch):
    monkeypatch.setattr(command.environment, "usable_cores", lambda: 2)
    keys40 = workloads.get("keys40")
    assert keys40.flops_per_call(16) == 640 and keys40.sizes((10, 1000)) == (16,)
    assert workloads.select("keys40") == (keys40,)
    assert keys40 not in command.make_plan(parse()).workloads
    assert command.make_plan(parse("--workloads", "keys40")).workloads == (keys40,)


def test_unknown_workload_is_one_clear_message():
    with pytest.raises(ConfigError, match="unknown workload 'nope'") as err:
        workloads.select("add,nope")
    assert "issue27786" in err.value.hint


def test_default_quick_and_full_plans(monkeypatch):
    monkeypatch.setattr(command.environment, "usable_cores", lambda: 2)
    plan = command.make_plan(parse())
    # the default: dispatch-bound kernels, threads, no oversubscription, many fresh processes
    assert [w.name for w in plan.workloads] == ["add", "issue27786", "scalar"]
    assert plan.workers == (1, 2) and plan.sizes == (1, 100) and plan.modes == ("threads",)
    assert plan.repeats >= 10  # enough processes per cell for the report's statistics
    assert len(runner.cells_of(plan)) == (2 + 2 + 1) * 2
    quick = command.make_plan(parse("--quick"))
    assert quick.workers == (1, 2, 4) and quick.sizes == (10, 1000) and quick.repeats == 4
    assert "npadd" not in {w.name for w in quick.workloads}
    cells = runner.cells_of(quick)
    # issue27786 and add: 2 sizes; scalar, mix and keys40: their fixed size
    assert len(cells) == (2 + 2 + 1 + 1 + 1) * 2 * 3
    full = command.make_plan(parse("--full"))
    assert full.workers == (1, 2, 4, 8) and full.modes == ("threads", "processes") and full.full
    assert {w.name for w in full.workloads} == set(workloads.REGISTRY)
    with pytest.raises(SystemExit):
        parse("--quick", "--full")
    with pytest.raises(ConfigError, match="unknown mode"):
        command.make_plan(parse("--modes", "fibers"))
    with pytest.raises(ConfigError, match="positive integers"):
        command.make_plan(parse("--workers", "0,2"))


def test_default_workers_never_oversubscribe():
    assert runner.scaling_workers(1) == (1,)
    assert runner.scaling_workers(2) == (1, 2)
    assert runner.scaling_workers(6) == (1, 2, 4, 6)
    assert runner.scaling_workers(16) == (1, 2, 4, 8, 16)
    assert runner.default_workers(2) == (1, 2, 4, 8)


def test_test_only_workloads_are_never_in_a_default_list(monkeypatch):
    from pathlib import Path

    fixture = Path(__file__).parents[1] / "fixtures" / "bench" / "failing_workloads.py"
    monkeypatch.setenv(workloads.EXTRA_ENV, str(fixture))
    assert workloads.get("fails_in_rwlock").name == "fails_in_rwlock"
    assert "fails_in_rwlock" not in {w.name for w in workloads.select(None)}
    assert "fails_in_rwlock" not in {w.name for w in command.make_plan(parse("--full")).workloads}
    monkeypatch.delenv(workloads.EXTRA_ENV)
    with pytest.raises(ConfigError, match="unknown workload"):
        workloads.get("fails_in_rwlock")


def test_unknown_variant_is_refused_before_any_build(capsys):
    assert cli.main(["bench", "--variants", "baseline,nosuchlock"]) == 2
    assert "unknown variant 'nosuchlock'" in capsys.readouterr().err


def test_gil_enabled_worker_is_refused_unless_allowed():
    with pytest.raises(ConfigError, match="GIL is enabled") as err:
        runner.check_env("baseline", {"gil_enabled": True, "free_threaded": False}, allow_gil=False)
    assert "--allow-gil" in err.value.hint
    runner.check_env("baseline", {"gil_enabled": True, "free_threaded": False}, allow_gil=True)
    runner.check_env("baseline", {"gil_enabled": False, "free_threaded": True}, allow_gil=False)


def test_worker_runs_every_workload_in_threads(tmp_path):
    """The standalone worker, in-process with whatever NumPy the test environment has."""
    pytest.importorskip("numpy")
    sys.path.insert(0, str(process.WORKER.parent))
    try:
        import worker  # the standalone script, imported as a module
    finally:
        sys.path.pop(0)
    for w in workloads.REGISTRY.values():
        cell = runner.Cell(w, 10, "threads", 2).spec(0, 50)
        spans = worker.run_threads({**cell, "timeout": None})
        assert len(spans) == 2 and all(t1 >= t0 for t0, t1 in spans)
    # lockswap.contention loads the worker too: calibrate gives iterations, calibrate_timed also s/call
    add = runner.Cell(workloads.get("add"), 10, "threads", 1).spec(0, 1)
    assert isinstance(worker.calibrate(add, 0.001), int)
    iterations, per_call = worker.calibrate_timed(add, 0.001)
    assert iterations >= 1 and 0 < per_call < 1
    env = worker.environment()
    assert {"gil_enabled", "free_threaded", "numpy_version", "python_build"} <= set(env)
    json.dumps(env)


def test_gil_enabled_interpreter_is_refused_end_to_end(tmp_path, monkeypatch, capsys):
    """A Python with the GIL (the test runner, if it has NumPy) is measured only with --allow-gil."""
    pytest.importorskip("numpy")
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("the test interpreter is free-threaded; this checks a GIL-enabled one")
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path))
    argv = ["bench", "--variants", "baseline", "--use-python", f"baseline={sys.executable}",
            "--workloads", "add", "--sizes", "10", "--workers", "1", "--modes", "threads",
            "--repeats", "1", "--target-seconds", "0.001"]
    assert cli.main(argv) == 2
    assert "the GIL is enabled in the benchmark worker" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no results file


def test_variants_of_other_numpy_versions_in_one_run():
    choices = command._variants(parse("--variants", "baseline,rwlock,baseline@2.2.6,baseline@2.1.3"), "2.1.3")
    assert [(c.label, c.variant, c.numpy) for c in choices] == [
        ("baseline", "baseline", "2.1.3"), ("rwlock", "rwlock", "2.1.3"),
        ("baseline@2.2.6", "baseline", "2.2.6")]  # baseline@2.1.3 is the same target as baseline
    with pytest.raises(ConfigError, match=r"NumPy 9\.9\.9 is not in the manifest"):
        command._variants(parse("--variants", "baseline@9.9.9"), "2.1.3")
    with pytest.raises(ConfigError, match="unknown variant"):
        command._variants(parse("--variants", "nolock@2.2.6"), "2.1.3")
    ported = command._variants(parse("--variants", "baseline,lockfree@2.5.5"), "2.1.3")[1]
    assert (ported.label, ported.port_from) == ("lockfree@2.5.5", "2.4.6")  # no patch: ported when built
    default = command._variants(parse(), "2.1.3")
    assert default[0].label == "baseline" and all(c.numpy == "2.1.3" for c in default[:-1])
    assert default[-1].label == "baseline@2.5.5"  # the newest release: the upstream bar of the default run
    assert command.make_plan(parse()).upstream == "baseline@2.5.5"
    assert command._variants(parse("--upstream", "none"), "2.1.3")[-1].numpy == "2.1.3"
    assert command.make_plan(parse("--variants", "baseline,rwlock")).upstream is None
    assert command.make_plan(parse("--quick")).upstream is None  # the smoke run stays a minute
    assert command.make_plan(parse("--quick", "--upstream", "2.5.5")).upstream == "baseline@2.5.5"
    assert command.make_plan(parse("--numpy", "2.5.5")).upstream is None  # its own newest
    with pytest.raises(ConfigError, match=r"--upstream 9\.9"):
        command.make_plan(parse("--upstream", "9.9"))
