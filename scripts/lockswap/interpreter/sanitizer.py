"""``--sanitizer thread``: what a ThreadSanitizer build and run of lockswap needs.

One place for the choices: which values and platforms work, the CPython configure flags, NumPy's
meson options, the cache folders and key parts that keep instrumented builds apart from ordinary
ones, and the ``TSAN_OPTIONS`` of a test run. The option travels in the typed request
(:class:`lockswap.request.PythonOptions`); the builds themselves stay in :mod:`lockswap.cpython` and
:mod:`lockswap.build`, the interpreter search in :mod:`lockswap.interpreter`, which call the small
functions here; the report parser lives in :mod:`lockswap.tsan_report` and the run-time side in
:mod:`lockswap.tsan_run`. This module imports none of them (no import cycles).

Both CPython and NumPy are compiled by the same C compiler (the system ``cc``, gcc on Debian): a
TSan extension module resolves the runtime's symbols from the interpreter it is loaded into
(``-Db_lundef=false``), so the two must share one runtime.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..base import paths, proc, toolchain
from ..base.errors import CommandError, ConfigError

THREAD = "thread"
SUPPORTED = (THREAD,)
LABEL = {THREAD: "tsan"}  # wheel local label suffix, cache folder suffix
# bump when anything below changes what gets built
# 2: install without byte-compiling every stdlib package and pip under the instrumented interpreter
RECIPE = 2
CPYTHON_FLAGS = {THREAD: ("--with-thread-sanitizer",)}
# Follows NumPy's own TSan CI job (.github/workflows/compiler_sanitizers.yml, clang_TSAN): no
# runtime CPU dispatch, no Highway/SVML/intel-sort (hand-written SIMD TSan cannot see through),
# debug info for readable stacks; extension modules may leave TSan symbols undefined (the
# interpreter provides the runtime). No BLAS (an uninstrumented OpenBLAS only gives false reports):
# build.BUILD_OPTIONS already chooses none on every OS (tests/unit/test_tsan.py checks it).
NUMPY_MESON_ARGS = {THREAD: (
    "-Db_sanitize=thread", "-Db_lundef=false", "-Dbuildtype=debugoptimized", "-Dcpu-dispatch=none",
)}
# meson options that only exist in some NumPy versions: added when meson.options declares them
NUMPY_OPTIONAL_ARGS = {THREAD: (
    "-Ddisable-highway=true", "-Ddisable-svml=true", "-Ddisable-intel-sort=true",
)}
SUPPRESSIONS = paths.REPO / "ci" / "tsan_suppressions.txt"
CPYTHON_SUPPRESSIONS = "share/lockswap/cpython-tsan-suppressions.txt"  # inside the interpreter


@dataclass(frozen=True)
class Sanitizer:
    name: str  # "thread"

    @property
    def label(self) -> str:
        return LABEL[self.name]


def combinations() -> str:
    return "--sanitizer thread on Linux (x86-64 or aarch64) with gcc or clang and its TSan runtime"


def _probe_compiler(cc: list[str]) -> str | None:
    """None if ``cc`` links a threaded program with ``-fsanitize=thread``, else why not."""
    return toolchain.links(cc, "#include <pthread.h>\nint main(void){return 0;}\n",
                           ("-fsanitize=thread", "-pthread"))


def validate(value: str | None, *, probe: bool = True) -> Sanitizer | None:
    """The sanitizer asked for, or None; a :class:`ConfigError` naming what works otherwise."""
    if value in (None, "", "none"):
        return None
    hint = f"supported: {combinations()}; leave out --sanitizer for an ordinary build"
    if value not in SUPPORTED:
        raise ConfigError(f"--sanitizer {value!r} is not supported", hint)
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "amd64", "aarch64", "arm64"):
        raise ConfigError(
            f"--sanitizer {value} cannot be built on {sys.platform}/{machine}", hint
        )
    if probe:
        cc = toolchain.require("CC")["CC"]  # no compiler at all: the usual ToolMissing
        why = _probe_compiler(cc)
        if why:
            raise ConfigError(
                f"--sanitizer {value}: the C compiler {' '.join(cc)} cannot link with "
                f"-fsanitize={value} ({why})",
                f"{hint}. Debian/Ubuntu: apt-get install gcc (libtsan comes with it) or clang "
                "and libclang-rt-dev",
            )
    return Sanitizer(value)


def _name(s: Sanitizer | str | None) -> str | None:
    return s.name if isinstance(s, Sanitizer) else s


# --- hooks called by cpython.build ---------------------------------------------------------------

def cpython_configure_flags(s: Sanitizer | str | None) -> tuple[str, ...]:
    n = _name(s)
    return CPYTHON_FLAGS[n] if n else ()


def key_parts(s: Sanitizer | str | None) -> tuple[str, ...]:
    """Extra cache-key parts: empty for ordinary builds, so their keys do not change."""
    n = _name(s)
    return (f"sanitizer={n}", f"sanitizer-recipe={RECIPE}") if n else ()


def python_cache_folder(s: Sanitizer | str | None) -> str:
    """``python`` for ordinary interpreters, ``python-tsan`` for TSan ones (never mixed)."""
    n = _name(s)
    return f"python-{LABEL[n]}" if n else "python"


def cpython_build_env(s: Sanitizer | str | None) -> dict[str, str]:
    """While CPython builds and installs itself under TSan, reports would fail make: silence them.
    Each build runs in a fresh staging folder: without CCACHE_NOHASHDIR ccache hashes that folder
    (``-g``) and a rebuild after an interrupted one recompiles everything."""
    return {**quiet_env(s), "CCACHE_NOHASHDIR": "true"} if _name(s) else {}


def cpython_install_args(s: Sanitizer | str | None) -> tuple[str, ...]:
    """``make install`` byte-compiles the whole stdlib three times with the freshly built python:
    under TSan on 2 busy cores that alone took over half an hour. Compile the top level only
    (``-l``); packages get their ``.pyc`` on first import, into the (writable) cache."""
    return ("COMPILEALL_OPTS=-j0 -l",) if _name(s) else ()


def after_cpython_build(s: Sanitizer | str | None, tree: Path, staged: Path) -> None:
    """Keep CPython's own suppressions next to the staged interpreter (its CI runs with them)."""
    if not _name(s):
        return
    for name in ("suppressions_free_threading.txt", "suppressions.txt"):
        src = tree / "Tools" / "tsan" / name
        if src.is_file():
            dest = staged / CPYTHON_SUPPRESSIONS
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(src.read_text())
            return


# --- hooks called by build.build -----------------------------------------------------------------

def _declared_options(tree: Path) -> set[str]:
    names: set[str] = set()
    for f in ("meson.options", "meson_options.txt"):
        if (tree / f).is_file():
            names |= set(re.findall(r"option\(\s*'([\w-]+)'", (tree / f).read_text(encoding="utf-8")))
    return names


def _asserts_need_newer_python(tree: Path, python: str | None) -> bool:
    """NumPy 2.5's asserts call ``PyMutex_IsLocked`` (public from CPython 3.14 on): with asserts
    compiled in, as ``debugoptimized`` does, the module does not import on 3.13t (undefined symbol)."""
    if not python or not python.startswith("3.13"):
        return False
    src = tree / "numpy" / "_core" / "src"
    return any("PyMutex_IsLocked" in f.read_text(encoding="utf-8", errors="replace")
               for f in src.rglob("*.c*")) if src.is_dir() else False


def meson_build_options(s: Sanitizer | str | None, tree: Path, python: str | None = None) -> tuple[str, ...]:
    """meson-python ``-C`` options of an instrumented NumPy build (empty without a sanitizer).

    ``python`` (e.g. ``3.13t``): NumPy >= 2.5 on 3.13t gets ``-Db_ndebug=true`` (its asserts need
    3.14's API; the ordinary release builds compile them out too), nothing else changes."""
    n = _name(s)
    if not n:
        return ()
    have = _declared_options(tree)
    optional = [a for a in NUMPY_OPTIONAL_ARGS[n] if a[2:].split("=")[0] in have]
    ndebug = ["-Db_ndebug=true"] if _asserts_need_newer_python(tree, python) else []
    return tuple(f"-Csetup-args={a}" for a in (*NUMPY_MESON_ARGS[n], *optional, *ndebug))


def numpy_build_env(s: Sanitizer | str | None) -> dict[str, str]:
    """NumPy's TSan job links with ``-fsanitize=thread`` too (meson's b_sanitize covers compiles)."""
    n = _name(s)
    return {"LDFLAGS": f"{os.environ.get('LDFLAGS', '')} -fsanitize={n}".strip()} if n else {}


def variant_label(variant: str, s: Sanitizer | str | None) -> str:
    """The wheel's local-label part: ``rwlock`` or ``rwlock.tsan``."""
    n = _name(s)
    return f"{variant}.{LABEL[n]}" if n else variant


# --- the instrumented interpreter ----------------------------------------------------------------

MARKER = "share/lockswap/sanitizer.json"  # written into every instrumented interpreter we build


def is_instrumented(exe: Path, s: Sanitizer) -> bool:
    """Whether ``exe`` was configured with this sanitizer (asks its sysconfig)."""
    flag = CPYTHON_FLAGS[s.name][0]
    try:
        got = proc.run([exe, "-c", "import sysconfig; print(sysconfig.get_config_var('CONFIG_ARGS'))"],
                       check=False, echo=False, timeout=120, env=quiet_env(s))
    except (OSError, CommandError):
        return False
    return got.returncode == 0 and flag in got.stdout


def cached_interpreter(s: Sanitizer, minor: str | None) -> Path | None:
    """The newest instrumented interpreter of this recipe lockswap built (its marker says so)."""
    root = paths.cache_root() / python_cache_folder(s)
    best: tuple[tuple[int, ...], Path] | None = None
    for marker in root.glob(f"*/{MARKER}") if root.is_dir() else ():
        try:
            data = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        prefix = marker.parents[2]
        if data.get("sanitizer") != s.name or data.get("recipe") != RECIPE:
            continue
        exe = prefix / "bin" / f"python{data.get('minor')}t"
        version = tuple(int(x) for x in str(data.get("version", "0")).split("."))
        wanted = exe.is_file() and (minor is None or data.get("minor") == minor)
        if wanted and (best is None or version > best[0]):
            best = (version, exe)
    return best[1] if best else None


def write_marker(s: Sanitizer | str | None, staged: Path, version: str) -> None:
    n = _name(s)
    if n:
        dest = staged / MARKER
        dest.parent.mkdir(parents=True, exist_ok=True)
        minor = ".".join(version.split(".")[:2])
        dest.write_text(json.dumps({"sanitizer": n, "recipe": RECIPE, "version": version, "minor": minor}))


# --- helper processes ----------------------------------------------------------------------------

QUIET = "report_bugs=0:exitcode=0"


# --suite stress under a sanitizer: every process runs 5-15 times slower, so the adversarial cases
# run smaller (the same code paths, fewer repetitions) and the per-case watchdog waits longer. Each
# name is read by numpy_extra/stress_cases.py or test_lockswap_stress.py; the baseline run under
# the same sanitizer uses the same sizes, so "new races versus baseline" compares like with like.
STRESS_ENV = {THREAD: {
    "LOCKSWAP_STRESS_THREADS": "4",  # racing threads per case (8 without a sanitizer; 2 cores here)
    "LOCKSWAP_STRESS_ROUNDS": "30",  # create/call/drop rounds of user ufuncs (150)
    "LOCKSWAP_STRESS_CHURN": "300",  # short-lived threads in thread_churn (3000)
    "LOCKSWAP_STRESS_WATCHDOG": "1800",  # seconds before a case counts as hung (300)
    "LOCKSWAP_STRESS_STALL": "120",  # seconds below 10 % of a CPU before a case counts as deadlocked (60)
    "LOCKSWAP_STRESS_INSERT_SECONDS": "120",  # writer_starvation: one insert among readers (10)
    "LOCKSWAP_STRESS_INSERTS_SECONDS": "600",  # writer_starvation: all inserts (60)
    "LOCKSWAP_STRESS_FORK_SECONDS": "300",  # fork: a forked child's calls and exit (60)
    "LOCKSWAP_STRESS_FINALIZATION_SECONDS": "600",  # finalization: the child interpreter (120)
}}


TIMEOUT_FACTOR = {THREAD: 4}  # per-test pytest timeout under the sanitizer: --timeout times this


def timeout_factor(s: Sanitizer | str | None) -> int:
    n = _name(s)
    return TIMEOUT_FACTOR[n] if n else 1


def stress_env(s: Sanitizer | str | None) -> dict[str, str]:
    """Environment of a ``--suite stress`` run under ``s`` (empty without a sanitizer)."""
    n = _name(s)
    return dict(STRESS_ENV[n]) if n else {}


def quiet_env(s: Sanitizer | str | None) -> dict[str, str]:
    """For helper processes of an instrumented interpreter (pip, venv, import checks): no reports,
    and pip does not byte-compile what it installs (slow under TSan; imports compile lazily)."""
    return {"TSAN_OPTIONS": QUIET, "PIP_NO_COMPILE": "1"} if _name(s) else {}


def activate(s: Sanitizer | str | None) -> None:
    """Helper processes of an instrumented interpreter (its probes, pip, venvs, import checks) run
    with reports silenced: the request's interpreter calls this before it runs one."""
    os.environ.update(quiet_env(s))
