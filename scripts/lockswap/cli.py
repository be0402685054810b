"""The entry point: ``python -m lockswap COMMAND``. Nox sessions call these commands.

This is the only place a :class:`LockswapError` is caught: it is printed with its hint, exit 2.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from . import log, manifest
from .errors import LockswapError

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {}


def command(name: str, help_text: str, add_args: Callable[[argparse.ArgumentParser], None]):
    def register(fn: Command) -> Command:
        COMMANDS[name] = (help_text, add_args, fn)
        return fn

    return register


def add_python_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", help="free-threaded interpreter to use (default: find or build one)")
    p.add_argument("--cpython-source", help="local CPython source tarball, if one must be built")
    p.add_argument("--python-version", help="e.g. 3.13t: which free-threaded Python to find or build")


def add_numpy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--numpy", default=None,
        help="NumPy version (e.g. 2.1.3), git:URL@REF or path:DIR (default: the manifest's default)",
    )


def get_interpreter(args: argparse.Namespace):
    from . import interpreter

    return interpreter.find(args.python, want=args.python_version, cpython_source=args.cpython_source)


def numpy_spec(args: argparse.Namespace) -> str:
    return args.numpy or manifest.default().default_numpy


def _python_args(p: argparse.ArgumentParser) -> None:
    add_python_args(p)


@command("python", "find or build a free-threaded CPython and print its path", _python_args)
def cmd_python(args: argparse.Namespace) -> int:
    with log.step("free-threaded interpreter"):
        interp = get_interpreter(args)
    log.info(f"Python {interp.version} (free-threaded: {interp.free_threaded}), {interp.compiler}")
    print(interp.path)
    return 0


@command("fetch", "fetch NumPy source into the cache and print its tree", add_numpy_arg)
def cmd_fetch(args: argparse.Namespace) -> int:
    from . import source

    with log.step(f"NumPy source {numpy_spec(args)}"):
        src = source.fetch(numpy_spec(args))
    log.info(f"NumPy {src.version}, sha256 {src.sha256}")
    print(src.tree)
    return 0


def _build_args(p: argparse.ArgumentParser) -> None:
    add_python_args(p)
    add_numpy_arg(p)
    p.add_argument("--variant", required=True, help="variant name from patches/manifest.toml")


def build_variant(args: argparse.Namespace, variant: str, numpy: str | None = None):
    """Fetch, patch and build ``variant`` of ``numpy`` (default: ``--numpy``): for build, test, bench."""
    from . import build, patching, source

    m = manifest.default()
    m.variant(variant)  # unknown variant: fail before any work
    spec = numpy or numpy_spec(args)
    with log.step(f"NumPy source {spec}"):
        src = source.fetch(spec)
    m.patch_for(variant, src.version)  # no patch for this version: fail before building CPython
    with log.step("free-threaded interpreter"):
        interp = get_interpreter(args)
    patched = patching.apply(src, variant, m)
    with log.step(f"wheel for NumPy {src.version} [{variant}] on Python {interp.short}"):
        wheel = build.build(patched, interp)
    return interp, wheel


@command("build", "build (or reuse) the wheel of one variant into dist/", _build_args)
def cmd_build(args: argparse.Namespace) -> int:
    _, wheel = build_variant(args, args.variant)
    log.info(f"wheel: {wheel.path}")
    log.job_summary(f"Built `{wheel.path.name}` ({wheel.variant}, NumPy {wheel.numpy_version})")
    print(wheel.path)
    return 0


@command("patches", "check every patch of the manifest against its NumPy version", lambda p: None)
def cmd_patches(args: argparse.Namespace) -> int:
    from . import patching, source

    rows = patching.check_all(manifest.default(), source.fetch)
    width = max((len(r.variant) for r in rows), default=7)
    print(f"{'variant':<{width}}  numpy   result")
    for r in rows:
        print(f"{r.variant:<{width}}  {r.numpy:<7} {'ok   ' if r.ok else 'FAIL '} {r.detail}")
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(failed)} of {len(rows)} patches apply")
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    from . import commands  # noqa: F401  (registers the test/bench/report commands)

    p = argparse.ArgumentParser(prog="lockswap", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, (help_text, add_args, fn) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        add_args(sp)
        sp.set_defaults(func=fn)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    start = time.perf_counter()
    args = parser().parse_args(argv)
    try:
        code = int(args.func(args))
    except LockswapError as exc:
        log.info(f"\nlockswap: error: {exc}")
        return 2
    except KeyboardInterrupt:
        log.info("\nlockswap: interrupted")
        return 130
    log.info(f"lockswap {args.command}: done in {log.format_seconds(time.perf_counter() - start)}")
    return code
