"""Find a free-threaded CPython, or build one from source (see :mod:`lockswap.cpython`).

Order: ``--python PATH`` / ``LOCKSWAP_PYTHON``; ``python3.14t`` / ``python3.13t`` on PATH;
``uv python find``; interpreters lockswap built earlier (in the cache); else a new build.
With a sanitizer (``--sanitizer thread``) only an interpreter configured with it will do: the
explicit one if it is, else one lockswap built instrumented (``python-tsan/``), else a new build.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from ..base import log, paths, proc
from ..base.errors import BadInterpreter, CommandError, InterpreterError
from . import sanitizer as san

PREFERRED = ("3.14t", "3.13t")

_PROBE = r"""
import json, platform, sys, sysconfig
print(json.dumps({
    "version": platform.python_version(),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "executable": sys.executable,
    "build": sys.version.replace("\n", " "),
    "compiler": platform.python_compiler(),
}))
"""


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # e.g. "3.13.5"
    free_threaded: bool
    build: str  # sys.version: compiler, date, build flags
    compiler: str

    @property
    def short(self) -> str:
        """``3.13t`` for a free-threaded 3.13."""
        major, minor = self.version.split(".")[:2]
        return f"{major}.{minor}{'t' if self.free_threaded else ''}"

    @property
    def abi_tag(self) -> str:
        """The wheel ABI tag this interpreter accepts, e.g. ``cp313t``."""
        major, minor = self.version.split(".")[:2]
        return f"cp{major}{minor}{'t' if self.free_threaded else ''}"

    @property
    def key(self) -> str:
        """Identifies this build of CPython in cache keys."""
        return paths.content_key(self.path, self.version, self.build)

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path), "version": self.version, "free_threaded": self.free_threaded,
            "build": self.build, "compiler": self.compiler,
        }


def inspect(path: str | os.PathLike[str]) -> Interpreter:
    """Ask an interpreter what it is (runs it once)."""
    exe = shutil.which(os.fspath(path)) or os.fspath(path)
    try:
        out = proc.run([exe, "-c", _PROBE], timeout=60, env={"PYTHON_GIL": "0"}, echo=False).stdout
        data = json.loads(out.strip().splitlines()[-1])
    except (OSError, CommandError, ValueError, IndexError) as exc:
        raise BadInterpreter(
            f"{path} is not a working Python interpreter ({exc})",
            "pass --python with the path of a free-threaded CPython (python3.13t), or leave it out "
            "to let lockswap find or build one",
        ) from exc
    return Interpreter(
        Path(data["executable"]), data["version"], data["free_threaded"], data["build"],
        data["compiler"],
    )


def require_free_threaded(interp: Interpreter) -> Interpreter:
    if not interp.free_threaded:
        raise BadInterpreter(
            f"{interp.path} (Python {interp.version}) is built with the GIL (Py_GIL_DISABLED is unset)",
            "use a free-threaded build (python3.13t or python3.14t, configured with --disable-gil), "
            "or leave out --python / LOCKSWAP_PYTHON to let lockswap find or build one",
        )
    return interp


def _wanted(short: str, want: str | None) -> bool:
    return want is None or short == want


def _on_path(want: str | None) -> Interpreter | None:
    for short in PREFERRED:
        if _wanted(short, want) and (exe := shutil.which(f"python{short}")):
            interp = inspect(exe)
            if interp.free_threaded:
                return interp
    return None


def _from_uv(want: str | None) -> Interpreter | None:
    uv = shutil.which("uv")
    if not uv:
        return None
    for short in PREFERRED:
        if not _wanted(short, want):
            continue
        # the path is uv's last line (its warnings, merged in by proc.run, come first)
        found = proc.run([uv, "python", "find", short], check=False, timeout=60, echo=False)
        lines = found.stdout.strip().splitlines()
        if found.returncode == 0 and lines:
            interp = inspect(lines[-1].strip())
            if interp.free_threaded:
                return interp
    return None


def _from_cache(want: str | None) -> Interpreter | None:
    root = paths.cache_root() / "python"
    if not root.is_dir():
        return None
    candidates = sorted(
        (p for p in root.glob("*/bin/python3.*t") if p.is_file() and not p.name.endswith("-config")),
        key=lambda p: Version(p.name[len("python"):-1]),
        reverse=True,
    )
    for exe in candidates:
        try:
            interp = inspect(exe)
        except InterpreterError:
            continue
        if interp.free_threaded and _wanted(interp.short, want):
            return interp
    return None


def _instrumented(s: san.Sanitizer, explicit: str | None, want: str | None,
                  cpython_source: str | None) -> Interpreter:
    """The instrumented free-threaded interpreter: ``explicit`` if it is one, else cached or built."""
    if explicit:
        interp = require_free_threaded(inspect(explicit))
        if not san.is_instrumented(interp.path, s):
            raise BadInterpreter(
                f"{interp.path} is not configured {san.CPYTHON_FLAGS[s.name][0]}",
                f"leave out --python / LOCKSWAP_PYTHON: with --sanitizer {s.name} lockswap builds "
                "(once, cached) its own instrumented free-threaded CPython",
            )
        return interp
    minor = want[:-1] if want else None
    exe = san.cached_interpreter(s, minor)
    if exe is not None:
        log.info(f"using the {s.label} free-threaded Python from the lockswap cache: {exe}")
    else:
        from . import cpython

        exe = cpython.build(cpython_source, minor, s.name)
    return require_free_threaded(inspect(exe))


def find(
    explicit: str | None = None,
    *,
    want: str | None = None,
    build_if_missing: bool = True,
    cpython_source: str | None = None,
    sanitizer: str | None = None,
) -> Interpreter:
    """The free-threaded interpreter to use; ``want`` narrows to e.g. ``3.13t``; ``sanitizer``
    (``"thread"``) asks for one built with that sanitizer (see :mod:`lockswap.sanitizer`)."""
    explicit = explicit or os.environ.get("LOCKSWAP_PYTHON") or None
    if sanitizer:
        return _instrumented(san.Sanitizer(sanitizer), explicit, want, cpython_source)
    if explicit:
        chosen = require_free_threaded(inspect(explicit))
        if not _wanted(chosen.short, want):
            raise BadInterpreter(
                f"{chosen.path} is Python {chosen.short}, not the {want} asked for",
                "pass --python (or LOCKSWAP_PYTHON) with the matching interpreter, or drop --python-version",
            )
        return chosen
    for how, finder in (("PATH", _on_path), ("uv", _from_uv), ("lockswap cache", _from_cache)):
        interp = finder(want)
        if interp is not None:
            log.info(f"using free-threaded Python {interp.version} from {how}: {interp.path}")
            return interp
    if not build_if_missing:
        raise InterpreterError(
            "no free-threaded Python found",
            "install python3.13t, pass --python PATH, or run `nox -s python` to build one",
        )
    from . import cpython

    minor = want[:-1] if want else None
    return require_free_threaded(inspect(cpython.build(cpython_source, minor)))


def installer_for(interp: Interpreter, sanitizer: str | None) -> Interpreter | None:
    """Who runs pip for ``interp``'s venvs: for an instrumented interpreter, the ordinary
    free-threaded one of the same version (found or built once; pip under TSan takes minutes per
    venv), else None (the venv's own pip). None also when that one has no pip."""
    if not sanitizer:
        return None
    plain = find(want=interp.short)
    if plain.abi_tag != interp.abi_tag:
        return None
    got = proc.run([plain.path, "-m", "pip", "--version"], check=False, echo=False, timeout=120)
    if got.returncode != 0:
        log.info(f"{plain.path} has no pip: the instrumented interpreter installs its own venvs (slow)")
        return None
    return plain
