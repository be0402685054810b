"""``lockswap fetch``: NumPy source into the cache; prints its tree."""

from __future__ import annotations

import argparse

from ..base import log
from ..build import pipeline
from ..source import fetch as source
from . import options

NAME = "fetch"
HELP = "fetch NumPy source into the cache and print its tree"


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_numpy_arg(p)


def run(args: argparse.Namespace) -> int:
    spec = pipeline.numpy_spec(args.numpy)
    with log.step(f"NumPy source {spec}"):
        src = source.fetch(spec)
    log.info(f"NumPy {src.version}, sha256 {src.sha256}")
    print(src.tree)
    return 0
