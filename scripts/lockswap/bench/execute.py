"""What ``lockswap bench`` does once its options are read: a new run, or the rest of an interrupted one.

Nothing measured is lost: every finished cell goes to the journal (``journal.py``) as it completes,
the results file is rewritten from it as the run goes (``complete: false`` until every cell is a
measurement or a failure) and once more on any interruption, which then prints the resume command.
A run with failed cells completes, keeps them under ``failures`` and exits 1.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import log, paths, proc
from ..base.errors import ConfigError
from ..build import wheel as build
from . import environment, estimate, journal, resume, runner, schema

SAVE_EVERY = 10.0  # seconds between rewrites of the partial results file
SHOWN = 12  # failed cells listed on the terminal (all of them are in the results and the report)


@dataclass(frozen=True)
class Finished:
    """A run that went to its end: its results file, and the exit status it earns (1 with failed cells)."""

    path: Path
    exit_code: int


def check_writable(folder: Path) -> None:
    """Refuse a results folder that cannot be written, before anything is built."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".lockswap-write-check-", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"the results folder {folder} is not writable ({exc.strerror or exc})",
                          "fix its permissions, or choose another: LOCKSWAP_RESULTS=DIR or --output FILE"
                          ) from None


def describe(plan: runner.Plan, labels: Sequence[str]) -> str:
    """The plan in one line: what is measured, and how many processes."""
    cells = runner.cells_of(plan)
    what = "; ".join(w.name if w.fixed_size is not None else f"{w.name} n={','.join(map(str, plan.sizes))}"
                     for w in plan.workloads)
    processes = len(runner.schedule(plan, [runner.Target(x, Path(), {}) for x in labels]))
    n_keys = len({(c.workload.name, c.size) for c in cells})
    workers = ",".join(map(str, plan.workers))
    return (f"{len(labels)} builds ({', '.join(labels)}) x {n_keys} "
            f"workload sizes ({what}) x {'/'.join(plan.modes)} at {workers} workers, "
            f"{plan.repeats} fresh processes per build ({processes} worker processes, "
            f"{len(cells) * len(labels) * plan.repeats} measurements)")


def results_path(created: str, hostname: str, numpy_versions: Sequence[str]) -> Path:
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", hostname)[:40]
    stamp = created.replace(":", "").replace("-", "")
    return paths.results_dir() / f"bench-{stamp}-{host}-numpy{'+'.join(sorted(set(numpy_versions)))}.json"


class Recorder:
    """The runner's sink: journal first (fsync'd), then the in-memory records the results fold from."""

    def __init__(self, jr: journal.Journal, records: list[dict[str, Any]], out: Path) -> None:
        self.journal, self.records, self.out = jr, records, out
        self.saved = 0.0

    def add(self, record: dict[str, Any]) -> None:
        self.journal.write(record)
        self.records.append(record)
        if time.monotonic() - self.saved > SAVE_EVERY:
            self.save()

    def measurement(self, record: dict[str, Any]) -> None:
        self.add({"event": "measurement", **record})

    def failure(self, record: dict[str, Any]) -> None:
        self.add({"event": "failure", **record})

    def save(self) -> dict[str, Any]:
        # Fold what is on disk, not self.records: a Ctrl-C between the journal's fsync and the
        # in-memory append would otherwise leave a cell in the journal but not in the results.
        doc = journal.fold(journal.read(self.journal.path))
        paths.atomic_write_text(self.out, schema.dumps(doc))
        self.saved = time.monotonic()
        return doc


def _probe(targets: Sequence[runner.Target], allow_gil: bool) -> tuple[dict[str, dict[str, Any]], float]:
    envs: dict[str, dict[str, Any]] = {}
    starts = []
    with log.step(f"start the benchmark worker of each of {len(targets)} builds"):
        for t in targets:
            envs[t.label], seconds = runner.probe(t, allow_gil)
            starts.append(seconds)
    return envs, sum(starts) / len(starts)


def new_run(plan: runner.Plan, numpy_spec: str, labels: Sequence[str],
            build_targets: Callable[[], list[runner.Target]], *, output: Path | None,
            allow_gil: bool, settle: float = environment.SETTLE_SECONDS) -> Finished:
    check_writable(output.parent if output else paths.results_dir())
    if output is not None and journal.path_for(output).exists():
        raise ConfigError(f"{journal.path_for(output)} (of an interrupted run) is in the way of --output "
                          f"{output}",
                          f"resume it: nox -s bench -- --resume {output}; or choose another --output")
    cores = environment.usable_cores()
    guess = runner.estimate_seconds(plan, [runner.Target(x, Path(), {}) for x in labels], cores,
                                    startup=estimate.ASSUMED_STARTUP, with_setup=True)
    log.info(f"bench plan: {describe(plan, labels)}; about {log.format_seconds(guess)} once the builds are "
             "ready (--full: the long plan, --quick: a smoke run)")
    targets = build_targets()
    envs, startup = _probe(targets, allow_gil)
    targets = [t if t.numpy_version else runner.Target(t.label, t.python, t.info, t.variant,
                                                       str(envs[t.label].get("numpy_version")))
               for t in targets]
    settled = environment.settle(settle)  # the builds just ran: let the load they left decay first
    created = log.utc_now()
    machine = {**environment.machine(), "settle_seconds": settled}
    out = output or results_path(created, str(machine["hostname"]), [t.numpy_version for t in targets])
    jpath = journal.path_for(out)
    start = {"event": "start", "created": created, "lockswap": environment.lockswap_commit(),
             "worker_sha256": environment.worker_sha256(), "machine": machine, "plan": plan.to_json(),
             "numpy": numpy_spec, "workloads": {w.name: w.to_json() for w in plan.workloads},
             "targets": [_target_record(t) for t in targets]}
    rec = Recorder(journal.Journal(jpath), [], out)
    rec.add(start)
    for t in targets:
        rec.add({"event": "env", "target": t.label, "env": envs[t.label]})
    rec.save()
    log.info(f"results: {out} (each finished cell is also appended to {jpath.name} as it completes)")
    return _measure(rec, plan, targets, None, set(), startup=startup, cores=cores, allow_gil=allow_gil)


def _target_record(t: runner.Target) -> dict[str, Any]:
    record: dict[str, Any] = {"label": t.label, "variant": t.name, "numpy_version": t.numpy_version,
                              "python": str(t.python), "info": t.info}
    key = t.info.get("key")
    if key and t.info.get("wheel"):  # a built wheel: the cache's copy identifies it for --resume
        wheel = build.store_dir(str(key)) / str(t.info["wheel"])
        record.update(wheel_file=str(wheel), wheel_sha256=paths.sha256_file(wheel),
                      venv=str(t.python.parent.parent))
    return record


def resume_run(path: Path, *, given_plan: runner.Plan | None, given_labels: list[str] | None,
               allow_gil: bool) -> Finished:
    results, jpath = resume.files(path)
    records = journal.read(jpath)
    start = records[0]
    resume.refuse_if_different(results, start, given_plan=given_plan, given_labels=given_labels)
    check_writable(results.parent)
    plan = resume.plan_of(start)
    done = journal.done_cells(records)
    total = len(journal.expected_cells(start))
    log.info(f"resuming {results.name}: {len(done)} of {total} cells done, {total - len(done)} to go "
             f"(plan: {describe(plan, [t['label'] for t in start['targets']])})")
    targets = resume.targets(start)
    envs, startup = _probe(targets, allow_gil)
    calibration = next((r for r in reversed(records) if r.get("event") == "calibration"), None)
    rec = Recorder(journal.Journal(jpath), records, results)
    rec.add({"event": "resume", "at": log.utc_now(), "done": len(done)})
    known = {r["target"] for r in records if r.get("event") == "env"}
    for t in targets:
        if t.label not in known:
            rec.add({"event": "env", "target": t.label, "env": envs[t.label]})
    return _measure(rec, plan, targets, calibration, done, startup=startup, cores=environment.usable_cores(),
                    allow_gil=allow_gil)


def _measure(rec: Recorder, plan: runner.Plan, targets: list[runner.Target],
             calibrated: dict[str, Any] | None, done: set[runner.CellKey], *, startup: float, cores: int,
             allow_gil: bool) -> Finished:
    out = rec.out
    try:
        with proc.sigterm_interrupts():
            if calibrated is None:
                n_keys = len({(c.workload.name, c.size) for c in runner.cells_of(plan)})
                with log.step(f"calibrate {n_keys} workload sizes on {targets[0].label}"):
                    calibration = runner.calibrate(plan, targets[0])
                timeout = runner.derive_timeout(plan, calibration, cores)
                rec.add({"event": "calibration", **calibration.to_json(), "timeout_seconds": timeout})
            else:
                calibration = runner.Calibration.from_json(calibrated)
                timeout = float(calibrated["timeout_seconds"])
            est = runner.estimate_seconds(plan, targets, cores, startup=startup, calibration=calibration,
                                          done=done)
            n_proc = len(runner.schedule(plan, targets, done))
            log.info(f"benchmark: {n_proc} worker processes, estimated {log.format_seconds(est)} "
                     f"(a worker is stopped after {timeout:.0f} s without progress)")
            began = time.monotonic()
            runner.run(plan, targets, calibration, rec, timeout=timeout, cores=cores, startup=startup,
                       done=done, allow_gil=allow_gil)
            took = time.monotonic() - began
    except BaseException as exc:
        doc = rec.save()
        rec.journal.close()
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped by an error"
        log.info(f"\nbench {why}: {len(doc['measurements'])} measurements and {len(doc['failures'])} failed "
                 f"cells kept in {out} (complete: false)\n"
                 f"resume with: nox -s bench -- --resume {out}")
        raise
    rec.add({"event": "end", "loadavg": environment.loadavg()})
    rec.journal.close()
    doc = rec.save()
    log.info(f"benchmark: measured in {log.format_seconds(took)} (estimated {log.format_seconds(est)})")
    if doc["complete"]:
        rec.journal.path.unlink(missing_ok=True)
    else:
        log.warn(f"{out} is not complete; its journal {rec.journal.path.name} stays for --resume")
    log.info(f"results: {out}  ({len(doc['measurements'])} measurements, "
             f"{len(doc['failures'])} failed cells)")
    log.job_summary(f"Benchmark results: `{out.name}` ({', '.join(doc['variants'])})")
    print(out)
    if doc["failures"]:
        log.info(failures_table(doc["failures"]))
    return Finished(out, 1 if doc["failures"] or not doc["complete"] else 0)


def failures_table(failures: list[dict[str, Any]]) -> str:
    """The failed cells, one line each (the full error and stderr tail are in the results file)."""
    row = "  {:<16} {:<12} {:>6} {:<9} {:>7} {:>6}  {:<10} {}"
    lines = [f"{len(failures)} failed cell(s) (recorded under \"failures\" in the results):",
             row.format("target", "workload", "n", "mode", "workers", "repeat", "kind", "error")]
    for f in failures[:SHOWN]:
        error = (f.get("error") or "").splitlines()[0][:80] if f.get("error") else ""
        lines.append(row.format(f["target"], f["workload"], f["size"], f["mode"], f["workers"],
                                f["repeat"] + 1, f["kind"], error))
    if len(failures) > SHOWN:
        lines.append(f"  ... and {len(failures) - SHOWN} more")
    return "\n".join(lines)
