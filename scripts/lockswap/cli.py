"""The entry point: ``python -m lockswap COMMAND``. Nox sessions call these commands.

This module holds only the parser and the error -> exit-code map. Every command is a module of
:mod:`lockswap.commands` with ``NAME``, ``HELP``, ``add_args(parser)`` and ``run(args) -> int``; none
imports this module back. It is the only place a :class:`LockswapError` is caught: it is printed with
its hint, and the exit code says which class of failure it was (see :mod:`lockswap.base.errors`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from .base import errors, log, paths, proc
from .base.errors import LockswapError
from .commands import (
    bench,
    bench_build,
    build,
    contention,
    crosscheck,
    fetch,
    patches,
    port,
    python,
    report,
    test,
    test_all,
)

COMMANDS = (python, fetch, patches, crosscheck, port, build, test, test_all, bench, report, bench_build,
            contention)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lockswap", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sp = sub.add_parser(command.NAME, help=command.HELP)
        command.add_args(sp)
        sp.set_defaults(run=command.run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    start = time.perf_counter()
    args = parser().parse_args(argv)
    paths.forget_commits()
    try:
        with proc.sigterm_interrupts():
            code = int(args.run(args))
    except LockswapError as exc:
        log.info(f"\nlockswap: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        log.info(f"\nlockswap: interrupted. {paths.interrupted_summary()}")
        return errors.EXIT_INTERRUPTED
    log.info(f"lockswap {args.command}: done in {log.format_seconds(time.perf_counter() - start)}")
    return code
