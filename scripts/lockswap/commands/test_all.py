"""``lockswap test-all``: NumPy's suite on every variant of one NumPy version, baseline first, one table."""

from __future__ import annotations

import argparse

from ..base import manifest
from ..base.manifest import BASELINE
from ..build import pipeline
from ..test import suite as testsuite
from ..test.suite import TestResult
from . import options
from .test import add_suite_args, run_target, test_options, verdict

NAME = "test-all"
HELP = "run NumPy's tests on every variant of the manifest for one NumPy version"


def add_args(p: argparse.ArgumentParser) -> None:
    add_suite_args(p)
    p.add_argument("--variants", help="comma-separated subset (default: every variant of that NumPy); "
                                      "baseline always runs first")


def run(args: argparse.Namespace) -> int:
    req = options.from_args(args, variants_text=args.variants)  # every variant checked before any build
    opts = test_options(args, req)
    base = run_target(req, pipeline.target(manifest.default(), BASELINE, req.numpy), opts)
    rows: list[tuple[TestResult, list[str]]] = [(base, [])]
    for t in req.targets:
        if t.variant != BASELINE:
            result = run_target(req, t, opts)
            rows.append((result, testsuite.new_failures(result, base)))
    return verdict(rows)
