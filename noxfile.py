"""lockswap's sessions. Thin by design: each installs what it needs and calls one lockswap command.

Per-variant sessions (build-<variant>, ...) are generated from patches/manifest.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from lockswap import manifest  # noqa: E402

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

MANIFEST = manifest.default()


def lockswap(session: nox.Session, *args: str, extras: str = "") -> None:
    """Install lockswap (with ``extras``) into the session and run one of its commands."""
    session.install("-e", f".[{extras}]" if extras else ".")
    session.run("python", "-m", "lockswap", *args, *session.posargs)


@nox.session
def python(session: nox.Session) -> None:
    """Find or build the free-threaded CPython; print its path."""
    lockswap(session, "python")


@nox.session
def fetch(session: nox.Session) -> None:
    """Fetch NumPy source (-- --numpy 2.1.3 | git:URL@REF | path:DIR) into the cache."""
    lockswap(session, "fetch")


@nox.session
def patches(session: nox.Session) -> None:
    """Check that every patch of the manifest applies to its NumPy version(s)."""
    lockswap(session, "patches")


def _build_session(variant: str) -> None:
    def session_fn(session: nox.Session) -> None:
        lockswap(session, "build", "--variant", variant)

    session_fn.__doc__ = f"Build the {variant} wheel: {MANIFEST.variants[variant].description}"
    nox.session(name=f"build-{variant}")(session_fn)


for _variant in MANIFEST.variants:
    _build_session(_variant)


@nox.session
def bench(session: nox.Session) -> None:
    """Thread-scaling benchmark (-- --numpy V --variants a,b --quick; default: every variant of V)."""
    lockswap(session, "bench")


@nox.session
def report(session: nox.Session) -> None:
    """Markdown report and PNG plots from benchmark results (-- results/bench-*.json)."""
    lockswap(session, "report", extras="report")


@nox.session
def tests(session: nox.Session) -> None:
    """Run lockswap's tests: unit and end-to-end (-- -m "not e2e" for the fast unit tests only)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *(session.posargs or ["tests"]))
