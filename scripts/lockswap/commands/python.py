"""``lockswap python``: find (or build) the free-threaded interpreter and print its path."""

from __future__ import annotations

import argparse

from ..base import log
from ..build.pipeline import Request
from . import options

NAME = "python"
HELP = "find or build a free-threaded CPython and print its path"


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_sanitizer_arg(p)


def run(args: argparse.Namespace) -> int:
    interp = Request("", (), options.python_options(args)).interpreter
    log.info(f"Python {interp.version} (free-threaded: {interp.free_threaded}), {interp.compiler}")
    print(interp.path)
    return 0
