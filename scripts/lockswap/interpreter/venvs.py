"""Virtual environments of a free-threaded interpreter, created once and marked complete.

An instrumented interpreter (``--sanitizer thread``) runs pip 5-15 times slower than an ordinary one
(minutes per venv). Its venvs can be filled by an *installer*: the ordinary free-threaded
interpreter of the same version runs pip with ``--prefix`` into the venv (same ABI tag, same
``lib/python3.13t/site-packages``), and the scripts pip writes are pointed at the venv's python.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ..base import locks, paths, proc
from .find import Interpreter

_DONE = ".lockswap-complete"


def python_of(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def bin_dir(venv: Path) -> Path:
    return python_of(venv).parent


def ensure(
    interp: Interpreter,
    venv: Path,
    requirements: Sequence[str | os.PathLike[str]] = (),
    *,
    fresh: bool = False,
    pip_args: Sequence[str] = (),
    log_file: Path | None = None,
    installer: Interpreter | None = None,
) -> Path:
    """Create ``venv`` with ``requirements`` unless a complete one exists; return its python.

    A venv whose creation was interrupted lacks the completion marker and is made again. One run at a
    time creates a venv (``.<name>.lock`` beside it); a run that waited finds it complete. With an
    ``installer`` (an interpreter of the same version and ABI), pip runs there instead of in the venv.
    Requirements follow ``--``: one starting with ``-`` is never read as a pip option.
    """
    if not fresh and (venv / _DONE).exists():
        return python_of(venv)
    paths.sweep_dead_owners(venv.parent)  # verify venvs of killed runs
    # a fresh venv is private to this run (e.g. verify's, named by our pid): no lock needed
    with contextlib.nullcontext() if fresh else locks.entry_lock(venv):
        _create(interp, venv, requirements, fresh=fresh, pip_args=pip_args, log_file=log_file,
                installer=installer)
    return python_of(venv)


def _create(interp: Interpreter, venv: Path, requirements: Sequence[str | os.PathLike[str]], *, fresh: bool,
            pip_args: Sequence[str], log_file: Path | None, installer: Interpreter | None) -> None:
    if fresh or not (venv / _DONE).exists():  # re-checked under the lock
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        hint = "check that pip can reach its configured package index"
        if installer is None:
            proc.run([interp.path, "-m", "venv", venv], log_file=log_file)
            if requirements:
                proc.run([python_of(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                          *pip_args, "--", *requirements], log_file=log_file, hint=hint)
        else:
            proc.run([interp.path, "-m", "venv", "--without-pip", venv], log_file=log_file)
            if requirements:  # --ignore-installed: the installer's own packages must not count
                proc.run([installer.path, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                          "--prefix", venv, "--ignore-installed", "--compile", *pip_args,
                          "--", *requirements],
                         log_file=log_file, hint=hint)
                _point_scripts_at(venv, installer.path)
        (venv / _DONE).write_text("\n".join(map(str, requirements)) + "\n")
        if not fresh:
            paths.note_complete(venv)


def _point_scripts_at(venv: Path, installer: Path) -> None:
    """Scripts pip wrote for ``installer`` run the venv's python instead (POSIX shebangs)."""
    if sys.platform == "win32":  # pip writes .exe launchers there; sanitizer runs are POSIX-only
        return
    old = f"#!{installer}".encode()
    new = f"#!{python_of(venv)}".encode()
    for script in bin_dir(venv).iterdir():
        if not script.is_file() or script.is_symlink():
            continue
        with script.open("rb") as fh:
            head = fh.read(len(old) + 1)
        if head.rstrip(b"\n") == old or head.startswith(old + b"\n"):
            script.write_bytes(new + script.read_bytes()[len(old):])

