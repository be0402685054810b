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
    options.add_port_arg(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")
    options.add_sanitizer_arg(p)


def run(args: argparse.Namespace) -> int:
    req = options.from_args(args, [args.variant])
    wheel = pipeline.build_target(req, req.targets[0]).wheel
    ported = (f", ported from NumPy {wheel.ported_from} (base patch sha256 {wheel.base_patch_sha256[:12]}, "
              f"ported patch sha256 {wheel.patch_sha256[:12]})" if wheel.ported_from else "")
    log.info(f"wheel: {wheel.path}{ported}")
    log.job_summary(f"Built `{wheel.path.name}` ({wheel.variant}, NumPy {wheel.numpy_version}{ported})")
    print(wheel.path)
    return 0
