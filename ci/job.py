"""One CI job, runnable anywhere: ``nox -s ci-local -- --variant X [--numpy V] [--python 3.13t] ...``.

Each GitHub Actions job of the matrix runs exactly this (``nox -s matrix`` prints the command of
every job), so a CI failure is reproduced on a laptop with the same command. The job is a short
plan of nox sessions, all given the same free-threaded interpreter through ``LOCKSWAP_PYTHON``:

    build-<variant>  -- --numpy V                   the wheel, into dist/
    test-<variant>   -- --numpy V --suite S         test verdict JSON, into results/
    bench            -- --numpy V --variants baseline,X [--quick] [--workers 1,2,4]
                                                    scaling JSON, into results/ (--bench on|quick)

The benchmark measures baseline next to the variant, interleaved in the same job: jobs run on
different machines, so a ratio to baseline is only meaningful within one job. CI passes
``--workers 1,2,<runner vCPUs>`` (see ``ci/runners.py``), so each runner gives t1/tN on its cores.

On GitHub Actions the workflow sets ``LOCKSWAP_CI_JOB`` to the job's matrix id; the job writes it to
``results/ci-job.txt``, so ``ci-merge collect`` can name the job of an artifact that
download-artifact extracted without its folder (it does that when a run has a single artifact).

A failed build skips the rest; a failed test still runs the benchmark. The exit code is 1 if any
step failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ci import entry
from ci.matrix import BENCH_MODES, DEFAULT_BENCH, DEFAULT_SUITE, Cell, parse_bench
from lockswap.base import log, paths, proc
from lockswap.base import manifest as manifest_mod
from lockswap.base.errors import ConfigError, InterpreterError
from lockswap.base.manifest import BASELINE
from lockswap.build import pipeline as request
from lockswap.interpreter import find as interpreter


@dataclass(frozen=True)
class Step:
    name: str
    session: str
    args: tuple[str, ...]
    needed_by_later: bool = False  # a failure skips the steps after it

    def command(self, nox_python: str = sys.executable) -> list[str]:
        return [nox_python, "-m", "nox", "-s", self.session, "--", *self.args]


JOB_ENV = "LOCKSWAP_CI_JOB"
JOB_MARKER = "ci-job.txt"  # not .json: the report reads every JSON of an artifact


def plan(variant: str, numpy: str, suite: str, bench: str, workers: str = "") -> list[Step]:
    """The nox sessions one job runs, in order (``bench``: on, quick or off)."""
    steps = [
        Step("build", f"build-{variant}", ("--numpy", numpy), needed_by_later=True),
        Step("test", f"test-{variant}", ("--numpy", numpy, "--suite", suite)),
    ]
    if bench != "off":
        variants = BASELINE if variant == BASELINE else f"{BASELINE},{variant}"
        args = ("--numpy", numpy, "--variants", variants, *(["--quick"] if bench == "quick" else []),
                *(["--workers", workers] if workers else []))
        steps.append(Step("bench", "bench", args))
    return steps


def resolve_cell(args: argparse.Namespace) -> Cell:
    m = manifest_mod.default()
    m.variant(args.variant)  # unknown variant: the message every command gives
    numpy = request.numpy_spec(args.numpy, m)
    if numpy not in m.numpy:
        raise ConfigError(f"NumPy {numpy} is not in {m.path}", f"choose from: {', '.join(m.numpy)}")
    variant = request.target(m, args.variant, numpy).variant  # no patch: the same message as build/test
    suite = args.suite or DEFAULT_SUITE
    bench = parse_bench(args.bench, DEFAULT_BENCH)
    workers = args.workers or ""
    if workers and not re.fullmatch(r"\d+(,\d+)*", workers):
        raise ConfigError(f"--workers {workers!r} is not a list of counts", "e.g. --workers 1,2,4")
    return Cell(variant, numpy, args.python or "", "local", suite, bench, workers)


def find_interpreter(want: str | None, numpy_pythons: Sequence[str]) -> interpreter.Interpreter:
    """``LOCKSWAP_PYTHON`` (what CI sets) or lockswap's usual search; it must be ``want``.

    ``want`` is a version like ``3.13t``, or the path of an interpreter.
    """
    if want and not re.match(r"^3\.\d+t$", want):
        interp = interpreter.require_free_threaded(interpreter.inspect(want))
        want = None
    else:
        interp = interpreter.find(None, want=want or None)
    if want and interp.short != want:
        raise InterpreterError(
            f"{interp.path} is Python {interp.short}, this job wants {want}",
            "point LOCKSWAP_PYTHON at a free-threaded Python " + want + " (or unset it)",
        )
    if interp.short not in numpy_pythons:
        raise InterpreterError(
            f"Python {interp.short} is not among this NumPy's Pythons ({', '.join(numpy_pythons)})",
            "pass --python with one of those",
        )
    return interp


def run_steps(steps: Sequence[Step], env: dict[str, str]) -> list[tuple[Step, str, float]]:
    outcomes: list[tuple[Step, str, float]] = []
    blocked = False
    for step in steps:
        if blocked:
            outcomes.append((step, "skipped", 0.0))
            continue
        start = time.perf_counter()
        with log.step(f"{step.name}: nox -s {step.session} -- {shlex.join(step.args)}"):
            # stream: a build or test suite runs for many minutes; its output goes to the console
            # (and the CI log) as it happens
            code = proc.run(step.command(), env=env, check=False, stream=True, echo=False).returncode
        outcomes.append((step, "ok" if code == 0 else f"failed (exit {code})", time.perf_counter() - start))
        blocked = code != 0 and step.needed_by_later
    return outcomes


def summary(cell: Cell, interp_text: str, outcomes: Sequence[tuple[Step, str, float]]) -> str:
    rows = "\n".join(f"| {s.name} | `nox -s {s.session}` | {status} | {log.format_seconds(t)} |"
                     for s, status, t in outcomes)
    return (f"### {cell.variant} · NumPy {cell.numpy} · {interp_text}\n\n"
            f"Reproduce locally: `{cell.command}`\n\n"
            f"| step | session | result | time |\n|---|---|---|---|\n{rows}\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s ci-local --", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", required=True, help="variant from patches/manifest.toml")
    p.add_argument("--numpy", help="NumPy version (default: the manifest's default)")
    p.add_argument("--python", help="free-threaded Python: 3.13t or a path (default: what lockswap finds)")
    p.add_argument("--suite", help=f"NumPy test suite (default: {DEFAULT_SUITE})")
    p.add_argument("--bench", help=f"{', '.join(BENCH_MODES)}: the scaling benchmark, its one-minute "
                   f"--quick plan, or none (default: {DEFAULT_BENCH})")
    p.add_argument("--workers", help="worker counts of the benchmark, e.g. 1,2,4 (default: bench's own)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cell = resolve_cell(args)
    steps = plan(cell.variant, cell.numpy, cell.suite, cell.bench, cell.workers)
    if args.dry_run:
        for step in steps:
            print(shlex.join(["nox", "-s", step.session, "--", *step.args]))
        return 0
    with log.step("free-threaded interpreter"):
        interp = find_interpreter(args.python, manifest_mod.default().numpy[cell.numpy].pythons)
    cell = Cell(cell.variant, cell.numpy, interp.short, cell.os, cell.suite, cell.bench, cell.workers)
    log.info(f"job {cell.variant} / NumPy {cell.numpy} / Python {interp.version} at {interp.path}")
    log.info(f"reproduce: {cell.command}")
    if os.environ.get(JOB_ENV):
        paths.results_dir().mkdir(parents=True, exist_ok=True)
        paths.atomic_write_text(paths.results_dir() / JOB_MARKER, os.environ[JOB_ENV].strip() + "\n")
    outcomes = run_steps(steps, {**os.environ, "LOCKSWAP_PYTHON": str(interp.path)})
    text = summary(cell, f"Python {interp.version} ({sys.platform})", outcomes)
    log.info(text)
    log.job_summary(text)
    return 0 if all(status == "ok" for _, status, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(entry("ci-local", main))
