"""The entry point: ``python -m lockswap COMMAND``. Nox sessions call these commands.

This module imports every command module explicitly and reads their ``COMMANDS``; no command module
imports it back. It is the only place a :class:`LockswapError` is caught: it is printed with its
hint, and the exit code says which class of failure it was (see :mod:`lockswap.errors`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from . import buildbench, errors, log, manifest, paths, pipeline, proc, report, request, testcli
from .bench import command as bench_command
from .commands import Command
from .contention import command as contention_command
from .errors import LockswapError


def cmd_python(args: argparse.Namespace) -> int:
    interp = request.Request("", (), request.PythonOptions.from_args(args)).interpreter
    log.info(f"Python {interp.version} (free-threaded: {interp.free_threaded}), {interp.compiler}")
    print(interp.path)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from . import source

    spec = request.numpy_spec(args.numpy)
    with log.step(f"NumPy source {spec}"):
        src = source.fetch(spec)
    log.info(f"NumPy {src.version}, sha256 {src.sha256}")
    print(src.tree)
    return 0


def _build_args(p: argparse.ArgumentParser) -> None:
    request.add_python_args(p)
    request.add_numpy_arg(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")
    request.add_sanitizer_arg(p)


def _python_args(p: argparse.ArgumentParser) -> None:
    request.add_python_args(p)
    request.add_sanitizer_arg(p)


def cmd_build(args: argparse.Namespace) -> int:
    req = request.from_args(args, [args.variant])
    wheel = pipeline.build_target(req, req.targets[0]).wheel
    log.info(f"wheel: {wheel.path}")
    log.job_summary(f"Built `{wheel.path.name}` ({wheel.variant}, NumPy {wheel.numpy_version})")
    print(wheel.path)
    return 0


def cmd_patches(args: argparse.Namespace) -> int:
    from . import patching, source

    rows = patching.check_all(manifest.default(), source.fetch)
    width = max((len(r.variant) for r in rows), default=7)
    print(f"{'variant':<{width}}  numpy   result")
    for r in rows:
        print(f"{r.variant:<{width}}  {r.numpy:<7} {'ok   ' if r.ok else 'FAIL '} {r.detail}")
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(failed)} of {len(rows)} patches apply")
    return errors.EXIT_VERDICT if failed else 0


CORE = (
    Command("python", "find or build a free-threaded CPython and print its path", _python_args, cmd_python),
    Command("fetch", "fetch NumPy source into the cache and print its tree", request.add_numpy_arg,
            cmd_fetch),
    Command("build", "build (or reuse) the wheel of one variant into dist/", _build_args, cmd_build),
    Command("patches", "check every patch of the manifest against its NumPy version", lambda p: None,
            cmd_patches),
)
COMMANDS: tuple[Command, ...] = (
    *CORE, *testcli.COMMANDS, *bench_command.COMMANDS, *report.COMMANDS, *buildbench.COMMANDS,
    *contention_command.COMMANDS,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lockswap", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for c in COMMANDS:
        sp = sub.add_parser(c.name, help=c.help)
        c.add_args(sp)
        sp.set_defaults(func=c.run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    start = time.perf_counter()
    args = parser().parse_args(argv)
    paths.forget_commits()
    try:
        with proc.sigterm_interrupts():
            code = int(args.func(args))
    except LockswapError as exc:
        log.info(f"\nlockswap: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        log.info(f"\nlockswap: interrupted. {paths.interrupted_summary()}")
        return errors.EXIT_INTERRUPTED
    log.info(f"lockswap {args.command}: done in {log.format_seconds(time.perf_counter() - start)}")
    return code
