"""``bench --resume FILE``: finish an interrupted run with the same plan, the same wheels, the same lockswap.

Everything is checked before anything runs, and every difference is named in one message; a refused
resume writes nothing. The targets are not rebuilt: each wheel must still be in the cache with the
sha256 the run recorded (a venv that was deleted is made again from that wheel).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..base import log, paths
from ..base.errors import ConfigError
from ..interpreter import venvs
from . import environment, journal, runner, workloads


def files(path: Path) -> tuple[Path, Path]:
    """``(results, journal)`` of ``--resume PATH`` (either of the two may be given)."""
    results = path.with_suffix(".json") if path.suffix == journal.SUFFIX else path
    jpath = journal.path_for(results)
    if not jpath.exists():
        try:
            complete = json.loads(results.read_text(encoding="utf-8")).get("complete")
        except (OSError, ValueError):
            complete = None
        if complete is True:
            raise ConfigError(f"{results} is complete: nothing to resume",
                              "start a new run with nox -s bench, or report it with nox -s report")
        raise ConfigError(f"cannot resume {path}: no journal {jpath.name} beside it",
                          "--resume takes the results file of an interrupted run (results/bench-*.json)")
    return results, jpath


def plan_of(start: dict[str, Any]) -> runner.Plan:
    p = start["plan"]
    return runner.Plan(
        workloads=tuple(workloads.get(w) for w in p["workloads"]), sizes=tuple(p["sizes"]),
        workers=tuple(p["workers"]), modes=tuple(p["modes"]), repeats=int(p["repeats"]),
        target_seconds=float(p["target_seconds"]), quick=bool(p.get("quick")), full=bool(p.get("full")),
        timeout=p.get("timeout"), upstream=p.get("upstream"))


def differences(start: dict[str, Any], *, given_plan: runner.Plan | None, given_labels: list[str] | None,
                worker_sha256: str, lockswap: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    """What differs between the interrupted run and what would run now (empty: it may resume)."""
    diffs = []
    was, now = start["lockswap"].get("commit"), lockswap.get("commit")
    if was and now and was != now:
        diffs.append(f"lockswap version: the run was made by commit {was[:12]}, this is {now[:12]}")
    elif start.get("worker_sha256") != worker_sha256:
        diffs.append("lockswap version: the benchmark worker (bench/worker.py) changed since the run started")
    for name, old in start["workloads"].items():
        try:
            new = workloads.get(name).to_json()
        except ConfigError:
            diffs.append(f"workload {name!r} no longer exists")
            continue
        if any(old.get(k) != new[k] for k in ("setup", "kernel", "flops")):
            diffs.append(f"workload {name!r}: its source text changed since the run started")
    for key in ("hostname", "usable_cores"):
        if start["machine"].get(key) != machine.get(key):
            diffs.append(f"machine: {key} was {start['machine'].get(key)!r}, now {machine.get(key)!r}")
    if given_plan is not None:
        old_plan, new_plan = start["plan"], given_plan.to_json()
        for key, value in new_plan.items():
            if key != "order" and old_plan.get(key) != value:
                diffs.append(f"plan: {key} was {old_plan.get(key)!r}, the options given say {value!r}")
    if given_labels is not None:
        old_labels = [t["label"] for t in start["targets"]]
        if sorted(old_labels) != sorted(given_labels):
            diffs.append(f"variants: the run measures {','.join(old_labels)}, the options given say "
                         f"{','.join(given_labels)}")
    for t in start["targets"]:
        diffs += _target_differences(t)
    return diffs


def _target_differences(t: dict[str, Any]) -> list[str]:
    label = t["label"]
    if not t.get("wheel_file"):  # --use-python: an existing environment
        return [] if Path(t["python"]).exists() else [f"{label}: its python {t['python']} no longer exists"]
    wheel = Path(t["wheel_file"])
    if not wheel.exists():
        return [f"{label}: its wheel {wheel.name} no longer exists (was {wheel})"]
    if paths.sha256_file(wheel) != t["wheel_sha256"]:
        return [f"{label}: its wheel {wheel.name} changed (sha256 differs from the run's)"]
    interp = Path(t["info"].get("interpreter", {}).get("path", ""))
    if not Path(t["python"]).exists() and not interp.exists():
        return [f"{label}: neither its venv nor its interpreter {interp} exists any more"]
    return []


def targets(start: dict[str, Any]) -> list[runner.Target]:
    """The run's targets, their venvs made again from the recorded wheels where they were deleted."""
    out = []
    for t in start["targets"]:
        python = Path(t["python"])
        if t.get("wheel_file") and not python.exists():
            from ..interpreter import find as interpreter

            interp = interpreter.inspect(t["info"]["interpreter"]["path"])
            venv = Path(t["venv"])
            with log.step(f"bench venv for {t['label']} (made again from {Path(t['wheel_file']).name})"):
                python = venvs.ensure(interp, venv, [Path(t["wheel_file"]), *runner.BENCH_REQUIREMENTS])
        out.append(runner.Target(t["label"], python, t["info"], t["variant"], t["numpy_version"]))
    return out


def refuse_if_different(results: Path, start: dict[str, Any], **current: Any) -> None:
    diffs = differences(start, worker_sha256=environment.worker_sha256(),
                        lockswap=environment.lockswap_commit(), machine=environment.machine(), **current)
    if diffs:
        raise ConfigError(f"cannot resume {results}: {'; '.join(diffs)} (nothing was changed)",
                          "start a new run (nox -s bench with the options you want); the interrupted "
                          "file keeps what it measured")
