"""The one subprocess helper: echo the command, capture or log its output, show the tail on failure."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import log
from .errors import CommandError

TAIL_LINES = 40


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    check: bool = True,
    echo: bool = True,
    timeout: float | None = None,
    hint: str = "",
    unset: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; return the completed process with stdout+stderr merged in ``stdout``.

    With ``log_file`` the output is appended there instead of being kept in memory, and the tail of
    the log is shown on failure. ``env`` entries are added to the current environment, and the
    variables named in ``unset`` are removed from it.
    """
    args = [os.fspath(c) for c in cmd]
    if echo:
        where = f" (in {cwd})" if cwd else ""
        log.info(f"$ {shlex.join(args)}{where}")
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    try:
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with log_file.open("a", encoding="utf-8") as fh:
                fh.write(f"\n$ {shlex.join(args)}\n")
                fh.flush()
                proc = subprocess.run(
                    args, cwd=cwd, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                    text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                )
            output = ""
        else:
            proc = subprocess.run(
                args, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
            )
            output = proc.stdout or ""
    except FileNotFoundError as exc:
        raise CommandError(f"command not found: {args[0]}", hint or f"install {args[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            f"command timed out after {timeout} s: {shlex.join(args)}", hint
        ) from exc
    if check and proc.returncode != 0:
        if log_file is not None:
            tail = _tail(log_file.read_text(encoding="utf-8", errors="replace"))
            where = f"full log: {log_file}"
        else:
            tail = _tail(output)
            where = ""
        raise CommandError(
            f"command failed with exit code {proc.returncode}: {shlex.join(args)}",
            " ".join(x for x in (hint, where) if x),
            output_tail=tail,
        )
    return subprocess.CompletedProcess(args, proc.returncode, output, "")
