"""Virtual environments of a free-threaded interpreter, created once and marked complete."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import paths, proc
from .interpreter import Interpreter

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
) -> Path:
    """Create ``venv`` with ``requirements`` unless a complete one exists; return its python.

    A venv whose creation was interrupted lacks the completion marker and is made again.
    """
    if fresh or not (venv / _DONE).exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        proc.run([interp.path, "-m", "venv", venv], log_file=log_file)
        if requirements:
            proc.run(
                [python_of(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                 *pip_args, *requirements],
                log_file=log_file,
                hint="check that pip can reach its configured package index",
            )
        (venv / _DONE).write_text("\n".join(map(str, requirements)) + "\n")
        if not fresh:
            paths.note_complete(venv)
    return python_of(venv)
