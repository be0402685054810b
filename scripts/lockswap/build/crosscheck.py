"""Compile the C/C++ sources a patch touches for targets no local build reaches (Windows, macOS).

A patch's ``#ifdef _WIN32`` (SRWLOCK) and ``__APPLE__`` branches are never compiled by a Linux build.
This check compiles each touched ``.c``/``.cpp`` file with ``zig cc``/``zig c++`` (the ``ziglang``
package: clang plus the libc headers of every target) for each target of :data:`TARGETS`:

- **Generated headers** come from a host build of the *pristine* NumPy tree: ``meson setup`` (the
  build's own options) and ninja of only the generated headers the file's object depends on
  (``ninja -t query``: its order-only inputs), cached in ``crosscheck/`` per source, interpreter and
  :data:`RECIPE`. Its ``compile_commands.json`` gives each file's include paths, defines, ``-std``
  and ``-m`` flags; include paths into the source tree are pointed at the tree being checked.
- **Per target**, an overlay folder searched first holds ``config.h`` and ``_numpyconfig.h`` with
  what meson probed on the host redone for the target: every ``HAVE_<X>_H`` header probe (by
  ``__has_include`` in the target compiler) and the ``NPY_SIZEOF_*`` sizes (the target compiler's
  ``__SIZEOF_*__``). Windows gets CPython's ``PC/pyconfig.h`` (from the interpreter's source
  tarball) in place of the host's, and ``Py_GIL_DISABLED``; macOS and Linux use the interpreter's own
  pyconfig.h (configure's answers on this host; Python's headers need only its sizes and
  ``Py_GIL_DISABLED`` from it). A probe checks each target defines what it must (``_WIN32``,
  ``MS_WINDOWS``, ``__APPLE__``, ``Py_GIL_DISABLED``) before anything is compiled.
- **Baseline first**: each file is compiled unpatched the same way; a patched file that fails is the
  patch's fault only if its baseline compiles. Otherwise the result says "baseline does not
  compile for this target" with the baseline's first errors, neither pass nor fail.

Compiling means ``-c -O0`` into a throwaway object: zig 0.17's ``cc`` fails after a successful
``-fsyntax-only`` parse (it expects an object file to move into its cache), and code generation at
``-O0`` costs little more.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..base import locks, log, paths, proc, tomlfile
from ..base.errors import BuildError, ToolMissing
from ..interpreter import cpython, venvs
from ..interpreter.find import Interpreter
from ..patch.apply import PatchedTree
from ..patch.port import changes
from ..source.fetch import Source
from . import wheel

# Bump when the host build or the overlays change: part of every crosscheck cache key.
RECIPE = 1
SOURCE_SUFFIXES = {".c": "c", ".cpp": "c++", ".cc": "c++", ".cxx": "c++"}
ZIG_HINT = "pip install ziglang (`nox -s crosscheck` installs it), or put zig on PATH"


@dataclass(frozen=True)
class CrossTarget:
    name: str
    triple: str  # zig's -target
    defines: tuple[str, ...]  # -D given to every compile for this target
    expect: tuple[str, ...]  # macros the target must define (checked before compiling)
    windows_pyconfig: bool  # CPython's PC/pyconfig.h instead of the interpreter's own


# The one list of targets. x86_64 for macOS too: the host build's x86-64 CPU baseline (-m flags,
# NPY_HAVE_* defines) then holds; the lock code takes the same __APPLE__ branches on arm64.
TARGETS: dict[str, CrossTarget] = {t.name: t for t in (
    CrossTarget("windows", "x86_64-windows-gnu", ("Py_GIL_DISABLED=1",),
                ("_WIN32", "MS_WINDOWS", "Py_GIL_DISABLED"), True),
    CrossTarget("macos", "x86_64-macos", (), ("__APPLE__", "Py_GIL_DISABLED"), False),
    CrossTarget("linux", "x86_64-linux-gnu", (), ("__linux__", "Py_GIL_DISABLED"), False),
)}
DEFAULT_TARGETS = ("windows", "macos")
# NPY_SIZEOF_<X> of _numpyconfig.h -> the target compiler's own size
_SIZES = {
    "SHORT": "__SIZEOF_SHORT__", "INT": "__SIZEOF_INT__", "LONG": "__SIZEOF_LONG__",
    "LONGLONG": "__SIZEOF_LONG_LONG__", "PY_LONG_LONG": "__SIZEOF_LONG_LONG__",
    "FLOAT": "__SIZEOF_FLOAT__", "DOUBLE": "__SIZEOF_DOUBLE__", "LONGDOUBLE": "__SIZEOF_LONG_DOUBLE__",
    "COMPLEX_FLOAT": "(2 * __SIZEOF_FLOAT__)", "COMPLEX_DOUBLE": "(2 * __SIZEOF_DOUBLE__)",
    "COMPLEX_LONGDOUBLE": "(2 * __SIZEOF_LONG_DOUBLE__)", "PY_INTPTR_T": "__SIZEOF_POINTER__",
    "INTP": "__SIZEOF_POINTER__", "UINTP": "__SIZEOF_POINTER__", "WCHAR_T": "__SIZEOF_WCHAR_T__",
}
_KEPT = ("-fno-exceptions", "-fno-rtti", "-fexceptions")  # C++ semantics a patch may rely on
_HEADER_PROBE = re.compile(r"^(?:#define|/\* #undef) ((?:NPY_)?HAVE_([A-Z0-9_]+)_H)\b.*$", re.M)
_SIZE_LINE = re.compile(r"^#define NPY_SIZEOF_([A-Z_]+) \d+$", re.M)


def zig() -> list[str]:
    """The zig command: the ``ziglang`` package of this interpreter, else ``zig`` on PATH."""
    if importlib.util.find_spec("ziglang") is not None:
        return [sys.executable, "-m", "ziglang"]
    if shutil.which("zig"):
        return ["zig"]
    raise ToolMissing("zig, the C/C++ cross compiler of the compile check, is not installed", ZIG_HINT)


@dataclass(frozen=True)
class Flags:
    """How the host build compiles one file: its language, include paths and the other flags kept."""

    language: str  # "c" | "c++"
    includes: tuple[Path, ...]  # absolute
    other: tuple[str, ...]  # -D, -U, -std=, -m..., exception/RTTI switches
    output: str  # the object's ninja target (relative to the build dir)


@dataclass(frozen=True)
class Compiled:
    ok: bool
    errors: str  # the compiler's first errors ("" if it compiled)


@dataclass(frozen=True)
class Env:
    """What one target compiles against: the overlay folder (searched first) and Python's headers."""

    target: CrossTarget
    overlay: Path
    python_include: Path


def parse_command(command: str, directory: Path, output: str, suffix: str) -> Flags:
    """The flags of a ``compile_commands.json`` command worth keeping for another target."""
    words = shlex.split(command)
    start = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    includes: list[Path] = []
    other: list[str] = []
    it = iter(words[start:])
    for w in it:
        if w.startswith("-I"):
            includes.append((directory / (w[2:] or next(it))).resolve())
        elif w.startswith(("-D", "-U", "-std=", "-m")) or w in _KEPT:
            other.append(w)
        elif w in ("-o", "-MQ", "-MF", "-include"):
            skipped = next(it, "")
            if w == "-include":
                other += [w, str((directory / skipped).resolve())]
    return Flags(SOURCE_SUFFIXES[suffix], tuple(includes), tuple(other), output)


def first_errors(output: str, limit: int = 3) -> str:
    errors = [ln.strip() for ln in output.splitlines() if "error:" in ln]
    shown = "; ".join(errors[:limit]) or (output.strip().splitlines() or ["failed"])[-1]
    return shown if len(shown) <= 400 else shown[:397] + "..."


def compile_source(zig_cmd: list[str], env: Env, flags: Flags, file: Path, tree: Path | None = None,
                   source_root: Path | None = None) -> Compiled:
    """Compile ``file`` for ``env``'s target; include paths under ``source_root`` are moved to ``tree``."""
    includes = []
    for inc in flags.includes:
        if tree is not None and source_root is not None and inc.is_relative_to(source_root):
            inc = tree / inc.relative_to(source_root)
        elif (inc / "Python.h").is_file():
            inc = env.python_include
        includes.append(f"-I{inc}")
    tool = "c++" if flags.language == "c++" else "cc"
    with tempfile.TemporaryDirectory(prefix="lockswap-crosscheck-") as tmp:
        got = proc.run([*zig_cmd, tool, "-target", env.target.triple, "-c", "-O0", "-fno-color-diagnostics",
                        "-o", Path(tmp, "out.o"), *(f"-D{d}" for d in env.target.defines),
                        f"-I{env.overlay}", *includes, *flags.other, file],
                       check=False, echo=False, timeout=900)
    return Compiled(got.returncode == 0, "" if got.returncode == 0 else first_errors(got.stdout))


# --- the host build: generated headers and compile commands of the pristine tree ---
@dataclass(frozen=True)
class HostBuild:
    source: Source
    entry: Path  # crosscheck/<name>/: build/, targets/, the log
    ninja: Path
    python_include: Path

    @property
    def build_dir(self) -> Path:
        return self.entry / "build"


_DONE = ".lockswap-complete"


def setup_args() -> list[str]:
    """meson setup's options: those lockswap's wheel builds give meson-python."""
    return [a.removeprefix("-Csetup-args=") for a in wheel.BUILD_OPTIONS if a.startswith("-Csetup-args=")
            and a != "-Csetup-args=--vsenv"] + ["-Dbuildtype=release", "-Db_ndebug=if-release"]


def meson_command(tree: Path, python: Path, bin_dir: Path) -> list[str | Path]:
    """The meson meson-python runs for ``tree``: NumPy's vendored one (its ``features`` module) when
    ``[tool.meson-python] meson`` names it, else the build venv's."""
    vendored = tomlfile.load(tree / "pyproject.toml").get("tool", {}).get("meson-python", {}).get("meson")
    return [python, tree / vendored] if isinstance(vendored, str) else [bin_dir / "meson"]


def host_build(source: Source, interp: Interpreter) -> HostBuild:
    """``meson setup`` of the pristine ``source`` for ``interp``, done once per key (marked complete)."""
    reqs = wheel.build_requirements(source.tree)
    key = paths.content_key(source.sha256, interp.key, reqs, setup_args(), RECIPE)
    entry = paths.cache_dir("crosscheck") / f"numpy-{source.version}-{key}"
    benv = wheel.build_env(interp, reqs)
    logf = entry / "setup.log"
    with locks.entry_lock(entry):
        python = venvs.ensure(interp, benv, reqs, log_file=logf)
        bin_dir = venvs.bin_dir(benv)
        if not (entry / _DONE).exists():
            shutil.rmtree(entry / "build", ignore_errors=True)
            entry.mkdir(parents=True, exist_ok=True)
            native = entry / "native.ini"
            native.write_text(f"[binaries]\npython = {str(python)!r}\n")
            with log.step(f"meson setup of NumPy {source.version} for its generated headers (log: {logf})"):
                proc.run([*meson_command(source.tree, python, bin_dir), "setup", entry / "build", source.tree,
                          *setup_args(),
                          f"--native-file={native}"], log_file=logf,
                         env={"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
                         hint="read the log: the host build's setup failed, so nothing can be checked")
            (entry / _DONE).write_text("")
            paths.note_complete(entry)
        include = proc.run([python, "-c", "import sysconfig; print(sysconfig.get_path('include'))"],
                           echo=False).stdout.strip()
    return HostBuild(source, entry, bin_dir / "ninja", Path(include))


def host_flags(hb: HostBuild, rel: str) -> Flags | None:
    """How the host build compiles ``rel`` (the main extension's command when it is compiled twice)."""
    want = (hb.source.tree / rel).resolve()
    found: list[Flags] = []
    for e in json.loads((hb.build_dir / "compile_commands.json").read_text(encoding="utf-8")):
        directory = Path(e["directory"])
        if (directory / e["file"]).resolve() == want:
            found.append(parse_command(e["command"], directory, e["output"], want.suffix))
    found.sort(key=lambda f: "_multiarray_umath" not in f.output)
    return found[0] if found else None


def generate_headers(hb: HostBuild, outputs: list[str]) -> None:
    """Build the generated files (order-only inputs) the objects ``outputs`` need, nothing else."""
    deps: set[str] = set()
    for out in outputs:
        query = proc.run([hb.ninja, "-C", hb.build_dir, "-t", "query", out], echo=False).stdout
        deps |= {ln.strip()[2:].strip() for ln in query.splitlines() if ln.strip().startswith("||")}
    missing = sorted(d for d in deps if not (hb.build_dir / d).exists())
    if missing:
        what = f"generate {len(missing)} headers of NumPy {hb.source.version}"
        with locks.entry_lock(hb.entry), log.step(what):
            proc.run([hb.ninja, "-C", hb.build_dir, *missing], log_file=hb.entry / "headers.log",
                     hint="read the log: NumPy's header generation failed on the host")


# --- per target: the overlay of probed headers and sizes, Python's headers ---
def probe(zig_cmd: list[str], target: CrossTarget, headers: dict[str, str], python_include: Path
          ) -> dict[str, bool]:
    """Which ``headers`` (macro -> file) the target has; fails unless it defines what it must."""
    # the printed names are prefixed: pyconfig.h defines some of the same macros (HAVE_DLFCN_H)
    lines = [f"#if __has_include(<{h}>)\nlockswap_has_{m}=1\n#else\nlockswap_has_{m}=0\n#endif"
             for m, h in headers.items()]
    lines += [f"#if defined({m})\nlockswap_defines_{m}=1\n#else\nlockswap_defines_{m}=0\n#endif"
              for m in target.expect]
    got = proc.run([*zig_cmd, "cc", "-target", target.triple, *(f"-D{d}" for d in target.defines),
                    f"-I{python_include}", "-E", "-P", "-x", "c", "-"],
                   input="#include <Python.h>\n" + "\n".join(lines) + "\n", echo=False,
                   hint=f"zig cannot preprocess Python.h for {target.triple}; {ZIG_HINT}")
    words = (w.partition("=") for w in got.stdout.split())
    found = {k.removeprefix("lockswap_"): v == "1" for k, _, v in words
             if k.startswith("lockswap_") and v in ("0", "1")}
    missing = [m for m in target.expect if not found.get(f"defines_{m}")]
    if missing:
        raise BuildError(f"the {target.name} target ({target.triple}) does not define {', '.join(missing)}",
                         "the check would not take that target's branches: fix TARGETS in "
                         "scripts/lockswap/build/crosscheck.py")
    return {k.removeprefix("has_"): v for k, v in found.items() if k.startswith("has_")}


def _header_file(name: str) -> str:
    low = name.lower()
    return ("sys/" + low[4:] if low.startswith("sys_") else low) + ".h"


def overlay_text(text: str, found: dict[str, bool]) -> str:
    """``config.h``/``_numpyconfig.h`` answered for the target: a header the host found but the target
    lacks is undefined (one the host build left undefined stays so: NumPy's meson.build may not set it
    on any platform), and every size is the target compiler's."""
    text = _HEADER_PROBE.sub(
        lambda m: m.group(0) if found.get(m.group(1), True) or m.group(0).startswith("/*")
        else f"/* #undef {m.group(1)} */", text)
    return _SIZE_LINE.sub(
        lambda m: f"#define NPY_SIZEOF_{m.group(1)} {_SIZES[m.group(1)]}" if m.group(1) in _SIZES
        else m.group(0), text)


def windows_pyconfig(interp: Interpreter, cpython_source: str | None) -> str:
    """CPython's ``PC/pyconfig.h.in``: Windows' pyconfig.h (``Py_GIL_DISABLED`` comes as a define)."""
    tarball = Path(cpython_source) if cpython_source else cpython.cached_tarball(interp.version)
    if tarball is None:
        tarball = cpython.resolve_source(None, ".".join(interp.version.split(".")[:2])).tarball
    with tarfile.open(tarball) as tar:
        member = next((m for m in tar if m.name.endswith("/PC/pyconfig.h.in")), None)
        data = tar.extractfile(member) if member else None
        if data is None:
            raise BuildError(f"{tarball} has no PC/pyconfig.h.in", "pass a CPython source tarball "
                             "(--cpython-source) of the interpreter's version")
        return data.read().decode("utf-8")


def target_env(zig_cmd: list[str], hb: HostBuild, target: CrossTarget, interp: Interpreter,
               cpython_source: str | None = None) -> Env:
    """The overlay and Python headers of ``target`` on this host build (made once, atomically)."""
    final = hb.entry / "targets" / target.name
    with locks.entry_lock(final):
        if not (final / "overlay").is_dir():
            with paths.staging(final) as stage:
                configs = [hb.build_dir / "numpy" / "_core" / n for n in ("config.h", "_numpyconfig.h")]
                texts = {p.name: p.read_text(encoding="utf-8") for p in configs if p.is_file()}
                headers = {m.group(1): _header_file(m.group(2)) for t in texts.values()
                           for m in _HEADER_PROBE.finditer(t)}
                pyinc = hb.python_include
                if target.windows_pyconfig:
                    pyinc = stage.path / "python"
                    shutil.copytree(hb.python_include, pyinc)
                    pyconfig = windows_pyconfig(interp, cpython_source)
                    (pyinc / "pyconfig.h").write_text(pyconfig, encoding="utf-8")
                found = probe(zig_cmd, target, headers, pyinc)
                (stage.path / "overlay").mkdir()
                for name, text in texts.items():
                    (stage.path / "overlay" / name).write_text(overlay_text(text, found), encoding="utf-8")
    return Env(target, final / "overlay", final / "python" if target.windows_pyconfig else hb.python_include)


# --- the check: every touched source, baseline first ---
@dataclass(frozen=True)
class Row:
    variant: str
    numpy: str
    target: str
    status: str  # "ok" | "failed" | "baseline" (the unpatched file does not compile for the target)
    detail: str


def sources(patch: Path) -> list[str]:
    """The C/C++ files ``patch`` modifies (headers are compiled through the files that include them)."""
    return [c.path for c in changes(patch) if c.kind != "delete" and Path(c.path).suffix in SOURCE_SUFFIXES]


def verdict(files: list[tuple[str, Compiled | None, Compiled]]) -> tuple[str, str]:
    """(status, detail) of one patch on one target from (file, baseline, patched) results."""
    failed = [f"{f}: {p.errors}" for f, b, p in files if not p.ok and (b is None or b.ok)]
    if failed:
        return "failed", " | ".join(failed)
    broken = [f"{f}: {b.errors}" for f, b, _ in files if b is not None and not b.ok]
    if broken:
        return "baseline", "baseline does not compile for this target: " + " | ".join(broken)
    compile_ = "1 file compiles" if len(files) == 1 else f"{len(files)} files compile"
    return "ok", f"{compile_}: {', '.join(f for f, _, _ in files)}"


class Checker:
    """Compiles for one host build; baseline results are kept per (file, target)."""

    def __init__(self, zig_cmd: list[str], hb: HostBuild, interp: Interpreter, cpython_source: str | None):
        self.zig, self.hb, self.interp, self.cpython_source = zig_cmd, hb, interp, cpython_source
        self._envs: dict[str, Env] = {}
        self._baseline: dict[tuple[str, str], Compiled] = {}

    def env(self, target: CrossTarget) -> Env:
        if target.name not in self._envs:
            self._envs[target.name] = target_env(self.zig, self.hb, target, self.interp, self.cpython_source)
        return self._envs[target.name]

    def check(self, patched: PatchedTree, targets: list[CrossTarget]) -> list[Row]:
        assert patched.patch is not None
        tree, root = patched.tree, self.hb.source.tree
        files = sources(patched.patch)
        flags = {f: host_flags(self.hb, f) for f in files}
        unknown = [f for f, fl in flags.items() if fl is None]
        if unknown:
            return [Row(patched.variant, patched.source.version, t.name, "failed",
                        f"not compiled by NumPy's build (no compile command): {', '.join(unknown)}")
                    for t in targets]
        known = {f: fl for f, fl in flags.items() if fl is not None}
        generate_headers(self.hb, [fl.output for fl in known.values()])
        rows = []
        for t in targets:
            env = self.env(t)
            results: list[tuple[str, Compiled | None, Compiled]] = []
            for f, fl in known.items():
                if (f, t.name) not in self._baseline:
                    self._baseline[f, t.name] = compile_source(self.zig, env, fl, root / f, root, root)
                patched_result = compile_source(self.zig, env, fl, tree / f, tree, root)
                results.append((f, self._baseline[f, t.name], patched_result))
            status, detail = verdict(results)
            log.info(f"{patched.variant} {patched.source.version} {t.name}: {status}")
            rows.append(Row(patched.variant, patched.source.version, t.name, status, detail))
        return rows
