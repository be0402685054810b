"""``lockswap build``: the verified wheel of one variant (built, or reused from the cache) in ``dist/``."""

from __future__ import annotations

import argparse

from ..base import log
from ..build import pipeline
from . import options

NAME = "build"
HELP = "build (or reuse) the wheel of one variant into dist/"


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_numpy_arg(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")
    options.add_sanitizer_arg(p)


def run(args: argparse.Namespace) -> int:
    req = options.from_args(args, [args.variant])
    wheel = pipeline.build_target(req, req.targets[0]).wheel
    log.info(f"wheel: {wheel.path}")
    log.job_summary(f"Built `{wheel.path.name}` ({wheel.variant}, NumPy {wheel.numpy_version})")
    print(wheel.path)
    return 0
