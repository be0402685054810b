"""The plan estimate printed before the benchmark: one model, checked structurally.

How close the estimate comes to a real run's wall time is a speed property of the machine; it is
measured by ``nox -s bench`` itself (it prints "measured in X (estimated Y)"), never asserted on
wall-clock time here.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from benchrun import argv, need_numpy

from lockswap import cli
from lockswap.bench import estimate, runner
from lockswap.commands import bench as command


def test_the_run_prints_the_same_estimate_before_and_after(tmp_path, capsys):
    need_numpy()
    out = tmp_path / "run.json"
    assert cli.main(argv(out, "--workloads", "add,scalar", "--workers", "1,2", "--repeats", "2",
                         "--target-seconds", "0.02", variants=("baseline", "rwlock"))) == 0
    err = capsys.readouterr().err
    before = re.search(r"benchmark: (\d+) worker processes, estimated (.+?) \(", err)
    after = re.search(r"benchmark: measured in (.+?) \(estimated (.+?)\)", err)
    assert before and after and before[2] == after[2]
    assert int(before[1]) == 2 * 2  # builds x repeats: one fresh process each


def _plan(*options: str) -> runner.Plan:
    p = argparse.ArgumentParser()
    command.add_args(p)
    return command.make_plan(p.parse_args(list(options)))


def test_the_estimate_is_the_sum_of_its_processes_and_grows_with_the_plan(monkeypatch):
    monkeypatch.setattr(command.environment, "usable_cores", lambda: 2)
    targets = [runner.Target(x, Path(), {}) for x in ("baseline", "rwlock", "lockfree")]
    plan = _plan()
    startup = estimate.ASSUMED_STARTUP
    total = runner.estimate_seconds(plan, targets, 2, startup=startup)
    cells = runner.cells_of(plan)
    by_slot = sum(runner._slot_cost(plan, cells, s, 2, startup, None) for s in runner.schedule(plan, targets))
    assert total == by_slot
    assert runner.estimate_seconds(plan, targets, 2, startup=startup, with_setup=True) > total
    assert runner.estimate_seconds(plan, [*targets, runner.Target("tls", Path(), {})], 2,
                                   startup=startup) > total  # one more build, more processes
    assert runner.estimate_seconds(_plan("--full"), targets, 2, startup=startup) > total
    assert runner.estimate_seconds(_plan("--quick"), targets, 2, startup=startup) < total


def test_the_default_plan_measures_the_upstream_build_too():
    plan = _plan()
    assert plan.upstream is not None and plan.upstream.startswith("baseline@")
    assert plan.repeats == command.DEFAULT_REPEATS and set(plan.workloads) == {
        w for w in plan.workloads if w.name in command.DEFAULT_WORKLOADS}
