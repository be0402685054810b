"""``lockswap test`` and ``lockswap test-all``: NumPy's suite per variant, verdict against baseline."""

from __future__ import annotations

import argparse

from . import errors, log, manifest, paths, pipeline, request, testsuite
from .commands import Command
from .manifest import BASELINE
from .request import Request, Target
from .testsuite import TestOptions, TestResult


def add_args(p: argparse.ArgumentParser) -> None:
    request.add_python_args(p)
    request.add_numpy_arg(p)
    p.add_argument("--suite", default="quick", choices=testsuite.SUITES,
                   help="quick (default): ufunc/umath/threading/dispatch-cache tests; full: whole suite; "
                        "threads: every test module that uses threads; parallel: quick under "
                        "pytest-run-parallel; stress: lockswap's adversarial dispatch-cache cases")
    p.add_argument("--slow", action="store_true", help="with --suite full: include tests marked slow")
    p.add_argument("--parallel-threads", type=int, default=4, help="threads per test for --suite parallel")
    p.add_argument("--timeout", type=int, default=900, help="seconds per test before it counts as hung")
    p.add_argument("--pytest-args", default="", help="more pytest arguments, one string")
    request.add_sanitizer_arg(p)


def _options(args: argparse.Namespace, req: Request) -> TestOptions:
    return TestOptions(args.suite, args.slow, args.parallel_threads, args.timeout,
                       tuple(args.pytest_args.split()), req.python.sanitizer or "")


def _run(req: Request, t: Target, opts: TestOptions) -> TestResult:
    built = pipeline.build_target(req, t)
    return testsuite.run(built.interpreter, built.wheel, opts)


def _baseline_for(req: Request, result: TestResult, opts: TestOptions) -> TestResult:
    """Baseline's result on the same NumPy source, Python, suite and options; run it if missing."""
    stem = testsuite.result_stem(result.numpy_version, result.python, BASELINE, result.suite, opts.sanitizer)
    path = paths.results_dir() / f"{stem}.json"
    base = TestResult.load_current(path)
    if (base is not None and base.wheel.get("source_sha256") == result.wheel.get("source_sha256")
            and base.options == result.options and not base.crashed):
        log.info(f"comparing with baseline result {path}")
        return base
    log.info("no matching baseline result yet: running baseline first")
    return _run(req, request.target(manifest.default(), BASELINE, req.numpy), opts)


def report(rows: list[tuple[TestResult, list[str]]]) -> int:
    text = testsuite.table(rows)
    print(text)
    log.job_summary(f"### NumPy test suite\n\n{text}")
    bad = [r for r, new in rows if new or r.crashed]
    return errors.EXIT_VERDICT if bad else 0


def _test_args(p: argparse.ArgumentParser) -> None:
    add_args(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")


def cmd_test(args: argparse.Namespace) -> int:
    req = request.from_args(args, [args.variant])
    opts = _options(args, req)
    (t,) = req.targets
    result = _run(req, t, opts)
    new = [] if t.variant == BASELINE else testsuite.new_failures(result, _baseline_for(req, result, opts))
    return report([(result, new)])


def _test_all_args(p: argparse.ArgumentParser) -> None:
    add_args(p)
    p.add_argument("--variants", help="comma-separated subset (default: every variant of that NumPy); "
                                      "baseline always runs first")


def cmd_test_all(args: argparse.Namespace) -> int:
    req = request.from_args(args, variants_text=args.variants)  # every variant checked before any build
    opts = _options(args, req)
    base_target = request.target(manifest.default(), BASELINE, req.numpy)
    base = _run(req, base_target, opts)
    rows: list[tuple[TestResult, list[str]]] = [(base, [])]
    for t in req.targets:
        if t.variant != BASELINE:
            result = _run(req, t, opts)
            rows.append((result, testsuite.new_failures(result, base)))
    return report(rows)


COMMANDS = (
    Command("test", "run NumPy's tests on one variant and compare with baseline", _test_args, cmd_test),
    Command("test-all", "run NumPy's tests on every variant of the manifest for one NumPy version",
            _test_all_args, cmd_test_all),
)
