"""``lockswap test`` and ``lockswap test-all``: NumPy's suite per variant, verdict against baseline."""

from __future__ import annotations

import argparse

from . import cli, log, manifest, paths, testsuite
from .manifest import BASELINE
from .testsuite import TestOptions, TestResult


def add_args(p: argparse.ArgumentParser) -> None:
    cli.add_python_args(p)
    cli.add_numpy_arg(p)
    p.add_argument("--suite", default="quick", choices=testsuite.SUITES,
                   help="quick (default): ufunc/umath/threading/dispatch-cache tests; full: whole suite; "
                        "threads: every test module that uses threads; parallel: quick under "
                        "pytest-run-parallel")
    p.add_argument("--slow", action="store_true", help="with --suite full: include tests marked slow")
    p.add_argument("--parallel-threads", type=int, default=4, help="threads per test for --suite parallel")
    p.add_argument("--timeout", type=int, default=900, help="seconds per test before it counts as hung")
    p.add_argument("--pytest-args", default="", help="more pytest arguments, one string")


def _options(args: argparse.Namespace) -> TestOptions:
    return TestOptions(args.suite, args.slow, args.parallel_threads, args.timeout,
                       tuple(args.pytest_args.split()))


def _run_variant(args: argparse.Namespace, variant: str) -> TestResult:
    interp, wheel = cli.build_variant(args, variant)
    return testsuite.run(interp, wheel, _options(args))


def _baseline_for(args: argparse.Namespace, result: TestResult) -> TestResult:
    """Baseline's result on the same NumPy source, Python, suite and options; run it if missing."""
    stem = testsuite.result_stem(result.numpy_version, result.python, BASELINE, result.suite)
    path = paths.results_dir() / f"{stem}.json"
    base = TestResult.load_current(path)
    if (base is not None and base.wheel.get("source_sha256") == result.wheel.get("source_sha256")
            and base.options == result.options and not base.crashed):
        log.info(f"comparing with baseline result {path}")
        return base
    log.info("no matching baseline result yet: running baseline first")
    return _run_variant(args, BASELINE)


def verdict(args: argparse.Namespace, variant: str) -> tuple[TestResult, list[str]]:
    result = _run_variant(args, variant)
    if variant == BASELINE:
        return result, []
    return result, testsuite.new_failures(result, _baseline_for(args, result))


def report(rows: list[tuple[TestResult, list[str]]]) -> int:
    text = testsuite.table(rows)
    print(text)
    log.job_summary(f"### NumPy test suite\n\n{text}")
    bad = [r for r, new in rows if new or r.crashed]
    return 1 if bad else 0


def _test_args(p: argparse.ArgumentParser) -> None:
    add_args(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")


@cli.command("test", "run NumPy's tests on one variant and compare with baseline", _test_args)
def cmd_test(args: argparse.Namespace) -> int:
    manifest.default().variant(args.variant)
    return report([verdict(args, args.variant)])


def _test_all_args(p: argparse.ArgumentParser) -> None:
    add_args(p)
    p.add_argument("--variants", help="comma-separated subset (default: every variant of that NumPy); "
                                      "baseline always runs first")


@cli.command("test-all", "run NumPy's tests on every variant of the manifest for one NumPy version",
             _test_all_args)
def cmd_test_all(args: argparse.Namespace) -> int:
    m = manifest.default()
    version = cli.numpy_spec(args)
    variants = m.variants_for(version) if version in m.numpy else [BASELINE]
    if args.variants:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        for v in variants:
            m.variant(v)  # unknown variant: one message before anything runs
            if version in m.numpy:
                m.patch_for(v, version)  # no patch for this NumPy: the same
    rows: list[tuple[TestResult, list[str]]] = []
    base = None
    for variant in [BASELINE, *[v for v in variants if v != BASELINE]]:
        if variant == BASELINE:
            base, _ = verdict(args, BASELINE)
            rows.append((base, []))
        else:
            result = _run_variant(args, variant)
            assert base is not None
            rows.append((result, testsuite.new_failures(result, base)))
    return report(rows)
