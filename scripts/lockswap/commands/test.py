"""``lockswap test``: NumPy's suite on one variant, verdict against baseline's run of the same build inputs.

The helpers here (options, running one target, finding or running baseline, the verdict table) are
shared with ``test-all``.
"""

from __future__ import annotations

import argparse

from ..base import errors, log, manifest, paths
from ..base.manifest import BASELINE
from ..build import pipeline
from ..build.pipeline import Request, Target
from ..test import suite as testsuite
from ..test.suite import TestOptions, TestResult
from . import options

NAME = "test"
HELP = "run NumPy's tests on one variant and compare with baseline"


def add_suite_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_numpy_arg(p)
    options.add_port_arg(p)
    p.add_argument("--suite", default="quick", choices=testsuite.SUITES,
                   help="quick (default): ufunc/umath/threading/dispatch-cache tests; full: whole suite; "
                        "threads: every test module that uses threads; parallel: quick under "
                        "pytest-run-parallel; stress: lockswap's adversarial dispatch-cache cases")
    p.add_argument("--slow", action="store_true", help="with --suite full: include tests marked slow")
    p.add_argument("--parallel-threads", type=int, default=4, help="threads per test for --suite parallel")
    p.add_argument("--timeout", type=int, default=900, help="seconds per test before it counts as hung")
    p.add_argument("--pytest-args", default="", help="more pytest arguments, one string")
    options.add_sanitizer_arg(p)


def add_args(p: argparse.ArgumentParser) -> None:
    add_suite_args(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")


def test_options(args: argparse.Namespace, req: Request) -> TestOptions:
    return TestOptions(args.suite, args.slow, args.parallel_threads, args.timeout,
                       tuple(args.pytest_args.split()), req.python.sanitizer or "")


def run_target(req: Request, t: Target, opts: TestOptions) -> TestResult:
    built = pipeline.build_target(req, t)
    return testsuite.run(built.interpreter, built.wheel, opts)


def baseline_for(req: Request, result: TestResult, opts: TestOptions) -> TestResult:
    """Baseline's result on the same NumPy source, Python, suite and options; run it if missing."""
    stem = testsuite.result_stem(result.numpy_version, result.python, BASELINE, result.suite, opts.sanitizer)
    path = paths.results_dir() / f"{stem}.json"
    base = TestResult.load_current(path)
    if (base is not None and base.wheel.get("source_sha256") == result.wheel.get("source_sha256")
            and base.options == result.options and not base.crashed):
        log.info(f"comparing with baseline result {path}")
        return base
    log.info("no matching baseline result yet: running baseline first")
    return run_target(req, pipeline.target(manifest.default(), BASELINE, req.numpy), opts)


def verdict(rows: list[tuple[TestResult, list[str]]], baseline: TestResult | None = None) -> int:
    """Print the verdict table (and add it to CI's job summary); exit status 1 on new failures.
    ``baseline``: baseline's result when it is not one of the rows (its stress cases attribute the
    variants')."""
    text = testsuite.table(rows, baseline)
    print(text)
    log.job_summary(f"### NumPy test suite\n\n{text}")
    bad = [r for r, new in rows if new or r.crashed]
    return errors.EXIT_VERDICT if bad else 0


def run(args: argparse.Namespace) -> int:
    req = options.from_args(args, [args.variant])
    opts = test_options(args, req)
    (t,) = req.targets
    result = run_target(req, t, opts)
    if t.variant == BASELINE:
        return verdict([(result, [])])
    base = baseline_for(req, result, opts)
    return verdict([(result, testsuite.new_failures(result, base))], base)
