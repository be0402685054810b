"""Build a free-threaded NumPy wheel of one variant with meson-python, and check it.

Cache layout (all keyed by content):
- ``wheels/<key>/``: finished, verified wheels; key = sdist/commit sha256 + patch sha256 +
  interpreter + build options. An unchanged variant is a cache hit: copied to ``dist/`` in seconds.
- ``build/<numpy>-<interpreter>-r<recipe>/``: one *build slot* per NumPy source and interpreter, a
  stable source path plus meson build dir. Each variant's tree is synced into it file by file:
  unchanged files keep their mtimes, every rewritten file gets the current time (also a file put
  back to its pristine content, whose own mtime predates the outputs built from the previous
  variant), so ninja recompiles exactly what differs from the previous build; ccache (stable base
  dir) covers the rest, e.g. a wiped slot. Meson keeps a build directory's first compilers, so a
  slot built with other compilers than the current ones (ccache installed since, another ``CC``)
  is wiped once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from ..base import locks, log, paths, proc, tomlfile, toolchain
from ..base.errors import BuildError, ConfigError
from ..interpreter import find as interpreter
from ..interpreter import sanitizer as san
from ..interpreter import venvs
from ..interpreter.find import Interpreter
from ..patch.apply import PatchedTree
from ..source.trees import sync_entry, tree_files
from . import wheels

# Bump when the build recipe changes; it is part of every wheel's key and of the build slot's name.
# 2: sync_tree stamps rewritten files with the current time (recipe 1 kept the sdist's mtimes, so a
#    file restored to pristine content was not recompiled and the previous variant's object stayed).
RECIPE = 2
# Extra -C options given to meson-python (part of the key). On Windows, --vsenv makes meson activate
# MSVC even when another compiler is on PATH (GitHub's Windows runners have MinGW's gcc there), as
# NumPy's own Windows builds do.
# BLAS, chosen explicitly on every OS (left to meson, macOS linked Accelerate while Linux and
# Windows runners found none): "none" builds NumPy's own fallback routines everywhere, so a wheel
# is the same build on each OS. The choice is part of the wheel key and of its JSON (results).
BLAS = "none"
BUILD_OPTIONS: tuple[str, ...] = (
    f"-Csetup-args=-Dblas={BLAS}", f"-Csetup-args=-Dlapack={BLAS}", "-Csetup-args=-Dallow-noblas=true",
    *(("-Csetup-args=--vsenv",) if sys.platform == "win32" else ()),
)
EXTRA_BUILD_REQUIREMENTS = ("ninja", "packaging")
_VERIFY = r"""
import json, sys, importlib.metadata as md
before = sys._is_gil_enabled()
import numpy
numpy.add(numpy.ones(3), 1.0)
print(json.dumps({"gil_before": before, "gil_after": sys._is_gil_enabled(),
                  "numpy_version": numpy.__version__, "dist_version": md.version("numpy"),
                  "file": numpy.__file__}))
"""


@dataclass(frozen=True)
class Wheel:
    path: Path
    variant: str
    numpy_version: str
    version: str  # the wheel's labelled version, e.g. 2.1.3+lockswap.rwlock
    abi_tag: str
    patch_sha256: str
    source_sha256: str
    key: str
    blas: str = BLAS  # the BLAS it was built with (part of the key through BUILD_OPTIONS)
    ported_from: str = ""  # the NumPy version whose patch was ported ("" for a manifest patch)
    base_patch_sha256: str = ""  # that version's patch; patch_sha256 is the ported patch's

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def store_dir(key: str) -> Path:
    """The wheel store entry of a build key: ``wheels/<key>/`` holds the verified wheel and its
    ``wheel.json`` (the one place that says where a built wheel lives)."""
    return paths.cache_root() / "wheels" / key


def build_key(patched: PatchedTree, interp: Interpreter, extra: tuple[str, ...] = ()) -> str:
    """``extra``: sanitizer options; empty for ordinary builds, whose keys stay as they were."""
    return paths.content_key(
        patched.source.sha256, patched.patch_sha256, interp.key, BUILD_OPTIONS, RECIPE, patched.variant,
        *extra,
    )


def build_requirements(tree: Path) -> list[str]:
    """What building ``tree`` needs installed: its ``[build-system] requires`` plus ninja and packaging."""
    data = tomlfile.load(tree / "pyproject.toml")
    listed = data.get("build-system", {}).get("requires", [])
    for req in listed if isinstance(listed, list) else [None]:
        try:  # each goes to pip: a requirement, never an option
            Requirement(req if isinstance(req, str) and not req.startswith("-") else "-")
        except InvalidRequirement:
            raise ConfigError(f"{tree / 'pyproject.toml'}: build requirement {req!r} is not a requirement",
                              "fix [build-system] requires of that tree (a list of requirements)") from None
    return [*listed, *EXTRA_BUILD_REQUIREMENTS]


def sync_tree(src: Path, dest: Path) -> int:
    """Make ``dest`` hold ``src``'s files, rewriting (atomically) only files whose content differs.

    Unchanged files keep their mtimes; rewritten ones get the current time, never ``src``'s mtime:
    a file restored to its pristine content has an sdist-era mtime, older than the outputs the
    previous variant built from it, and ninja would keep those. So ninja rebuilds exactly what
    depends on changed files.
    """
    changed = 0
    wanted = set(tree_files(src))  # refuses a link that leaves the tree before anything is written
    dest.mkdir(parents=True, exist_ok=True)
    for rel in sorted(wanted):  # links are copied as links (see lockswap.source.trees)
        changed += sync_entry(src, dest, rel)  # a rewrite is stamped now: newer than its old outputs
    for p in sorted(dest.rglob("*"), reverse=True):
        if (p.is_file() or p.is_symlink()) and p.relative_to(dest) not in wanted:
            p.unlink()
            changed += 1
    return changed


def build_env(interp: Interpreter, reqs: list[str]) -> Path:
    """The build venv of ``interp`` with ``reqs`` (shared by every build and compile check that needs
    the same requirements); created by :func:`lockswap.interpreter.venvs.ensure`."""
    return paths.cache_dir("venvs") / f"build-{paths.content_key(interp.key, reqs)}"


def _ccache_env(slot: Path) -> dict[str, str]:
    if not shutil.which("ccache"):
        log.warn("ccache not found: every variant compiles from scratch (install ccache)")
        return {}
    return {
        "CCACHE_DIR": str(paths.cache_dir("ccache")), "CCACHE_BASEDIR": str(slot),
        "CCACHE_NOHASHDIR": "true",
        "CCACHE_SLOPPINESS": "time_macros,include_file_mtime,include_file_ctime",
    }


COMPILER_CACHES = ("ccache", "sccache")
COMPILERS_STAMP = "lockswap-compilers.json"  # in a slot's build dir: the compilers of its last build


def compilers() -> dict[str, list[str]]:
    """The compilers meson will configure a new build directory with: for ``CC`` and ``CXX``, the
    compiler's name, after the compiler cache that wraps it if one does (a variable that is set
    names its own, ``ccache gcc``; meson wraps an unset one in ccache or sccache if installed)."""
    cache = next((c for c in reversed(COMPILER_CACHES) if shutil.which(c)), "")  # meson's order
    got: dict[str, list[str]] = {}
    for var in ("CC", "CXX"):
        words = [Path(w).name for w in toolchain.compiler(var)]
        if os.environ.get(var):
            got[var] = [words[0], words[-1]] if len(words) > 1 and words[0] in COMPILER_CACHES else words[-1:]
        else:
            got[var] = [cache, words[-1]] if cache else words[-1:]
    return got


def stale_compilers(build_dir: Path, wanted: dict[str, list[str]]) -> str:
    """Why ``build_dir`` must be configured afresh for the compilers ``wanted`` (:func:`compilers`),
    or "" if it need not be.

    Meson fixes a build directory's compilers at its first configure and keeps them on every
    ``--reconfigure``: a slot configured before ccache was installed never uses it, and one
    configured with another ``CC``/``CXX`` keeps that compiler. The compilers of the slot's last
    build are in :data:`COMPILERS_STAMP`; a directory without it (configured by an older lockswap)
    is judged by what meson recorded. Never configured, or not described: nothing to do.
    """
    try:
        before = json.loads((build_dir / COMPILERS_STAMP).read_text())
    except (OSError, ValueError):
        before = None
    if before is not None:
        return "" if before == wanted else f"it was built with {_words(before)}, and now {_words(wanted)}"
    try:
        host = json.loads((build_dir / "meson-info" / "intro-compilers.json").read_text())["host"]
        meson = {var: [Path(str(w)).name for w in host[lang]["exelist"]]
                 for var, lang in (("CC", "c"), ("CXX", "cpp"))}
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    had = {var: [w for w in words if w in COMPILER_CACHES][:1] + words[-1:] for var, words in meson.items()}
    return "" if had == wanted else f"it was configured with {_words(had)}, and now {_words(wanted)}"


def record_compilers(build_dir: Path, used: dict[str, list[str]]) -> None:
    """Write what :func:`stale_compilers` reads: the compilers a finished build of ``build_dir`` used."""
    paths.atomic_write_text(build_dir / COMPILERS_STAMP, json.dumps(used))


def _words(compilers_: dict[str, list[str]]) -> str:
    return ", ".join(f"{var} {' '.join(words)}" for var, words in compilers_.items())


def _slot(name: str) -> Path:
    """The build slot ``name`` of this recipe; slots of other recipes of that name are deleted."""
    root = paths.cache_dir("build")
    for old in root.glob(f"{name}*"):
        if old.is_dir() and old.name != f"{name}-r{RECIPE}" and old.name.removeprefix(name)[:2] in ("", "-r"):
            log.info(f"removing build slot {old} (an older build recipe)")
            shutil.rmtree(old, ignore_errors=True)
    return paths.cache_dir("build", f"{name}-r{RECIPE}")


def _compile(patched: PatchedTree, interp: Interpreter, out_dir: Path, logf: Path,
             extra: tuple[str, ...] = (), extra_env: dict[str, str] | None = None) -> Path:
    src = patched.source
    slot = _slot(f"numpy-{src.version}-{src.sha256[:12]}-{interp.key}")
    reqs = build_requirements(patched.tree)
    benv = build_env(interp, reqs)
    # Held while any process of the build lives; a killed run's leftovers are stopped (lockswap.base.locks)
    with locks.build_slot(slot) as held:
        if held.wiped:
            log.info(f"build directory {slot / 'build'} wiped: everything recompiles (ccache helps)")
        wanted = compilers()
        if not held.wiped and sys.platform != "win32" and (why := stale_compilers(slot / "build", wanted)):
            shutil.rmtree(slot / "build", ignore_errors=True)
            log.info(f"build directory {slot / 'build'} wiped, {why}: meson keeps a build directory's "
                     "first compilers, so everything recompiles once with the current ones")
        with log.step(f"build environment ({', '.join(reqs)})"):
            venvs.ensure(interp, benv, reqs, log_file=logf)
        with log.step(f"sync {patched.variant} tree into build slot {slot}"):
            n = sync_tree(patched.tree, slot / "src")
            log.info(f"{n} files changed since the slot's last build")
        env = {
            **_ccache_env(slot),
            "PATH": f"{venvs.bin_dir(benv)}{os.pathsep}{os.environ.get('PATH', '')}",
            **(extra_env or {}),
        }
        with log.step(f"compile NumPy {src.version} [{patched.variant}] (log: {logf})"):
            proc.run(
                [venvs.python_of(benv), "-m", "pip", "wheel", "-v", "--no-build-isolation", "--no-deps",
                 "--disable-pip-version-check", "-w", out_dir, f"-Cbuild-dir={slot / 'build'}",
                 *BUILD_OPTIONS, *extra, slot / "src"],
                log_file=logf, env=env, pass_fds=held.pass_fds, on_start=held.record_group,
                hint="read the log; a compile error in a patched file means the patch is wrong",
            )
        record_compilers(slot / "build", wanted)
    built = list(out_dir.glob("numpy-*.whl"))
    if len(built) != 1:
        raise BuildError(f"expected one wheel in {out_dir}, found {built}", "see the log")
    return built[0]


def verify(wheel: Path, interp: Interpreter, logf: Path, installer: Interpreter | None = None
           ) -> dict[str, object]:
    """Install ``wheel`` in a fresh venv: it must import, keep the GIL off, and match the tag.

    ``installer``: see :func:`lockswap.venvs.ensure` (instrumented interpreters)."""
    if interp.abi_tag not in wheels.abi_tags(wheel):
        raise BuildError(f"{wheel.name} is not tagged {interp.abi_tag}", "build with a free-threaded Python")
    venv = paths.cache_dir("venvs") / f".verify.tmp-{os.getpid()}-venv"  # swept if we are killed
    try:
        python = venvs.ensure(interp, venv, [wheel], fresh=True, pip_args=["--no-deps", "--no-index"],
                              log_file=logf, installer=installer)
        got = proc.run([python, "-c", _VERIFY], cwd=venv, check=False, timeout=300, echo=False,
                       unset=("PYTHON_GIL",))
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    if got.returncode != 0:
        raise BuildError(f"the built wheel does not import:\n{got.stdout[-2000:]}", f"see {logf}")
    info: dict[str, object] = json.loads(got.stdout.strip().splitlines()[-1])
    if info["gil_after"]:
        raise BuildError(
            "importing the built NumPy re-enabled the GIL",
            "an extension module lacks Py_mod_gil = Py_MOD_GIL_NOT_USED; fix the patch or NumPy version",
        )
    return info


def build(patched: PatchedTree, interp: Interpreter, sanitizer: str | None = None) -> Wheel:
    """The verified wheel of ``patched`` for ``interp``, in ``dist/`` (cache hit if unchanged).

    With ``sanitizer`` (``interp`` must be instrumented alike) the wheel is labelled
    ``+lockswap.<variant>.tsan`` and keyed apart: see :mod:`lockswap.sanitizer`.
    """
    src = patched.source
    extra = san.meson_build_options(sanitizer, patched.tree, interp.short)
    key = build_key(patched, interp, (*extra, *san.key_parts(sanitizer)))
    version = wheels.labelled_version(src.version, san.variant_label(patched.variant, sanitizer))
    store = store_dir(key)
    with locks.entry_lock(store):  # one build per key; a run that waited finds the wheel made
        return _build_locked(patched, interp, sanitizer, store, key, version, extra)


def _stored(store: Path) -> list[Path]:
    return list(store.glob("*.whl")) if (store / "wheel.json").exists() else []


def _build_locked(patched: PatchedTree, interp: Interpreter, sanitizer: str | None, store: Path, key: str,
                  version: str, extra: tuple[str, ...]) -> Wheel:
    src = patched.source
    found = _stored(store)
    if not found:
        toolchain.require("CC", "CXX")  # meson needs both
        logf = paths.cache_dir("logs") / f"build-numpy-{src.version}-{patched.variant}-{key}.log"
        logf.unlink(missing_ok=True)
        with paths.staging(store, replace=True) as stage:
            staging = stage.path
            raw = _compile(patched, interp, staging / "raw", logf, extra, san.numpy_build_env(sanitizer))
            wheel = wheels.relabel(raw, version, staging)
            shutil.rmtree(staging / "raw")
            with log.step(f"check {wheel.name} in a fresh venv"):
                info = verify(wheel, interp, logf, interpreter.installer_for(interp, sanitizer))
                log.info(f"imports from {info['file']}; GIL stays disabled")
            (staging / "wheel.json").write_text(json.dumps(
                {"variant": patched.variant, "numpy_version": src.version, "version": version,
                 "patch_sha256": patched.patch_sha256, "source_sha256": src.sha256, "key": key, "blas": BLAS,
                 "ported_from": patched.ported_from, "base_patch_sha256": patched.base_patch_sha256,
                 "interpreter": interp.to_json(), "verify": info}, indent=2))
            if patched.ported_from and patched.patch:  # the ported patch, readable beside the wheel
                shutil.copyfile(patched.patch, staging / "ported.patch")
        found = list(store.glob("*.whl"))
    dest = paths.dist_dir() / found[0].name
    paths.atomic_copy(found[0], dest)
    return Wheel(dest, patched.variant, src.version, version, interp.abi_tag, patched.patch_sha256,
                 src.sha256, key, ported_from=patched.ported_from,
                 base_patch_sha256=patched.base_patch_sha256)
