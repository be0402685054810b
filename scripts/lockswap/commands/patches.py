"""``lockswap patches``: does every patch of the manifest apply strictly to its NumPy version?"""

from __future__ import annotations

import argparse

from ..base import errors, manifest
from ..patch import apply as patching
from ..source import fetch as source

NAME = "patches"
HELP = "check every patch of the manifest against its NumPy version"


def add_args(p: argparse.ArgumentParser) -> None:
    del p  # no options


def run(args: argparse.Namespace) -> int:
    rows = patching.check_all(manifest.default(), source.fetch)
    width = max((len(r.variant) for r in rows), default=7)
    print(f"{'variant':<{width}}  numpy   result")
    for r in rows:
        print(f"{r.variant:<{width}}  {r.numpy:<7} {'ok   ' if r.ok else 'FAIL '} {r.detail}")
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(failed)} of {len(rows)} patches apply")
    return errors.EXIT_VERDICT if failed else 0
