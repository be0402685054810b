"""Options shared by several commands, and the command line resolved into a typed request.

Only commands read ``argparse`` namespaces: what they hand the stages is a
:class:`~lockswap.build.pipeline.Request` (or another frozen value), never the namespace.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..base import manifest
from ..base.errors import ConfigError
from ..build import pipeline
from ..build.pipeline import PythonOptions, Request
from ..interpreter import sanitizer


def add_python_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", help="free-threaded interpreter to use (default: find or build one)")
    p.add_argument("--cpython-source", help="local CPython source tarball, if one must be built")
    p.add_argument("--python-version", help="e.g. 3.13t: which free-threaded Python to find or build")


def add_sanitizer_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sanitizer", default=None, metavar="NAME",
        help="build CPython and NumPy instrumented and run under it: 'thread' (ThreadSanitizer, "
             "Linux; separate cached builds, wheels labelled +lockswap.<variant>.tsan)",
    )


def add_numpy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--numpy", default=None,
        help="NumPy version (e.g. 2.1.3), git:URL@REF or path:DIR (default: the manifest's default)",
    )


def add_port_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port-from", default=None, metavar="VERSION",
        help="a variant with no patch for --numpy gets the patch of this manifest version ported by a "
             "three-way merge (default: the nearest version not newer, else the nearest newer)",
    )


def python_options(args: argparse.Namespace) -> PythonOptions:
    """``--python``, ``--python-version``, ``--cpython-source``, ``--sanitizer`` of a command line.

    An unsupported ``--sanitizer`` value or platform: a ConfigError here, before any work."""
    san = sanitizer.validate(getattr(args, "sanitizer", None))
    return PythonOptions(getattr(args, "python", None), getattr(args, "python_version", None),
                         getattr(args, "cpython_source", None), san.name if san else None)


def ints(text: str, what: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers (``--workers 1,2,4``)."""
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--{what} must be comma-separated integers, got {text!r}", "e.g. 1,2,4") from None
    if not values or min(values) < 1:
        raise ConfigError(f"--{what} must list positive integers, got {text!r}", "e.g. 1,2,4")
    return values


def from_args(args: argparse.Namespace, variants: Sequence[str] = (), *, variants_text: str | None = None,
              other_numpy: bool = False) -> Request:
    """The request of a command line: ``variants`` by name, or a ``--variants`` text."""
    m = manifest.default()
    spec = pipeline.numpy_spec(getattr(args, "numpy", None), m)
    if variants:
        targets = [pipeline.target(m, v, spec, port_from=getattr(args, "port_from", None)) for v in variants]
    else:
        targets = pipeline.parse_targets(m, variants_text, spec, other_numpy=other_numpy,
                                         port_from=getattr(args, "port_from", None))
    return Request(spec, tuple(targets), python_options(args), getattr(args, "port_from", None))
