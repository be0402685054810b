"""The plan estimate printed before the benchmark, against the measured duration of a real short run."""

from __future__ import annotations

import re
from pathlib import Path

from benchrun import argv, need_numpy, seconds

from lockswap import cli
from lockswap.bench import estimate, runner
from lockswap.commands import bench as command


def test_estimate_is_within_a_factor_of_two_of_a_short_run(tmp_path, capsys):
    need_numpy()
    out = tmp_path / "run.json"
    assert cli.main(argv(out, "--workloads", "add,scalar", "--workers", "1,2", "--repeats", "3",
                         "--target-seconds", "0.05", variants=("baseline", "rwlock"))) == 0
    err = capsys.readouterr().err
    print(err)
    before = re.search(r"benchmark: \d+ worker processes, estimated (.+?) \(", err)
    after = re.search(r"benchmark: measured in (.+?) \(estimated (.+?)\)", err)
    assert before and after
    assert before[1] == after[2]
    estimated, measured = seconds(before[1]), seconds(after[1])
    assert 0.5 <= measured / estimated <= 2.0, (measured, estimated)


def test_default_plan_fits_a_newcomers_wait_on_two_cores(monkeypatch):
    """7 builds of 2.1.3 on 2 cores: the default bench phase is well under 20 minutes."""
    monkeypatch.setattr(command.environment, "usable_cores", lambda: 2)
    import argparse

    p = argparse.ArgumentParser()
    command.add_args(p)
    plan = command.make_plan(p.parse_args([]))
    targets = [runner.Target(x, Path(), {}) for x in
               ("baseline", "rwlock", "lockfree", "immortal", "dict", "tls", "tlsimmortal")]
    total = runner.estimate_seconds(plan, targets, 2, startup=estimate.ASSUMED_STARTUP, with_setup=True)
    assert total < 15 * 60
    full = command.make_plan(p.parse_args(["--full"]))
    assert runner.estimate_seconds(full, targets, 2, startup=estimate.ASSUMED_STARTUP) > total
