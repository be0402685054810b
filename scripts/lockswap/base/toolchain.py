"""The compiler preflight: are the C (and C++) compilers there, before minutes of build start.

``CC``/``CXX`` may name a launcher and a compiler (``ccache gcc``) and are split like a shell
would; the compiler is the last word. On Windows meson finds MSVC itself, so nothing is checked.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from . import proc
from .errors import CommandError, ToolMissing

DEFAULTS = {"CC": ("C", ("cc", "gcc", "clang")), "CXX": ("C++", ("c++", "g++", "clang++"))}
HINT = "install one (Debian/Ubuntu: apt-get install build-essential; macOS: xcode-select --install)"


def compiler(var: str) -> list[str]:
    """The command of the ``CC``/``CXX`` compiler: the variable's words, else the first one found."""
    words = shlex.split(os.environ.get(var) or "")
    if words:
        return words
    _, candidates = DEFAULTS[var]
    return [next((c for c in candidates if shutil.which(c)), candidates[0])]


def require(*variables: str) -> dict[str, list[str]]:
    """The compiler commands of ``variables`` (e.g. ``"CC", "CXX"``); fails naming what is missing."""
    found = {var: compiler(var) for var in variables}
    if sys.platform == "win32":
        return found
    missing = [f"{DEFAULTS[v][0]} ({' '.join(cmd)})" for v, cmd in found.items() if not shutil.which(cmd[-1])]
    if missing:
        langs = "/".join(DEFAULTS[v][0] for v in variables)
        raise ToolMissing(f"no {langs} compiler found: {', '.join(missing)} missing", HINT)
    return found


def links(cc: list[str], program: str, flags: tuple[str, ...] = ()) -> str | None:
    """None if the compiler command ``cc`` compiles and links the C ``program`` with ``flags``
    (e.g. ``-fsanitize=thread``: is its runtime installed?), else the last line of why not."""
    try:
        got = proc.run([*cc, "-x", "c", "-", *flags, "-o", os.devnull], input=program, check=False,
                       echo=False, timeout=120)
    except (OSError, CommandError) as exc:
        return str(exc)
    return None if got.returncode == 0 else (got.stdout.strip().splitlines() or ["failed"])[-1]
