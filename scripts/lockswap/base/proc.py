"""The one subprocess helper: echo the command, capture or log its output, show the tail on failure.

A command that writes to a log file is a long step (a CPython or NumPy build, a pip install): while
it runs, a progress line is printed every :data:`HEARTBEAT_SECONDS` with the elapsed time, the
last progress line of the log (e.g. ninja's ``[123/456] Compiling ...``) and the log's path.
Such a command runs in its own process group: Ctrl-C, SIGTERM (see :func:`sigterm_interrupts`)
or a timeout stops all of it (pip, meson, ninja, the compilers), so nothing writes into the cache
after lockswap has returned.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from . import log
from .errors import CommandError, CommandNotFound

TAIL_LINES = 40
HEARTBEAT_SECONDS = 15.0
_PROGRESS = re.compile(r"^\s*\[\d+/\d+\]")  # ninja (and meson through it)


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class ProgressReader:
    """Follows a growing log: the last ninja-style ``[n/m]`` line seen so far, else the last line.

    Reads only what was appended since the previous call, so a ``[n/m]`` line stays found even when
    megabytes of compiler warnings follow it (NumPy's x86-simd-sort objects print tens of MB).
    """

    def __init__(self, log_file: Path) -> None:
        self.log_file, self.offset, self.step, self.line = log_file, 0, "", ""

    def __call__(self) -> str:
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return self.step or self.line
        cut = data.rfind(b"\n") + 1  # keep a partial last line for the next call
        self.offset += cut
        lines = [ln.strip() for ln in data[:cut].decode("utf-8", "replace").splitlines() if ln.strip()]
        self.step = next((ln for ln in reversed(lines) if _PROGRESS.match(ln)), self.step)
        self.line = lines[-1] if lines else self.line
        found = self.step or self.line
        return found if len(found) <= 120 else found[:117] + "..."


def _wait(p: subprocess.Popen[str], args: list[str], log_file: Path, timeout: float | None,
          heartbeat: float, hint: str) -> int:
    """Wait for ``p``, printing a progress line every ``heartbeat`` seconds."""
    start = time.monotonic()
    progress = ProgressReader(log_file)
    while True:
        elapsed = time.monotonic() - start
        if timeout is not None and elapsed >= timeout:
            _stop(p, grace=0)
            raise CommandError(f"command timed out after {timeout} s: {shlex.join(args)}", hint)
        step = heartbeat if timeout is None else min(heartbeat, timeout - elapsed)
        try:
            return p.wait(timeout=max(step, 0.01))
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - start
        if timeout is None or elapsed < timeout:
            last = progress()
            log.info(f"    ... {log.format_seconds(elapsed)} elapsed"
                     f"{f', last: {last}' if last else ''} (log: {log_file})")


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
    input: str | None = None,
    stream: bool = False,
    heartbeat: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; return the completed process with stdout+stderr merged in ``stdout``.

    With ``log_file`` the output is appended there instead of being kept in memory, a progress line
    is printed every ``heartbeat`` seconds (default :data:`HEARTBEAT_SECONDS`), and the tail of the
    log is shown on failure. With ``stream`` the output goes straight to the console as it is
    printed (nothing is captured). ``input`` is given to the command's stdin (else stdin is empty).
    ``env`` entries are added to the current environment, and the variables named in ``unset`` are
    removed from it. On Ctrl-C the command is stopped before the interrupt goes on.
    """
    args = [os.fspath(c) for c in cmd]
    if input is not None and (log_file is not None or stream):
        raise ValueError("proc.run: input= goes with captured output only")
    if echo:
        where = f" (in {cwd})" if cwd else ""
        log.info(f"$ {shlex.join(args)}{where}")
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    output = ""
    try:
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with log_file.open("a", encoding="utf-8") as fh:
                fh.write(f"\n$ {shlex.join(args)}\n")
                fh.flush()
                p = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=_POSIX)
                try:
                    code = _wait(p, args, log_file, timeout, heartbeat or HEARTBEAT_SECONDS, hint)
                except BaseException:
                    _stop(p)
                    raise
        else:
            out = None if stream else subprocess.PIPE
            if input is None:
                done = subprocess.run(
                    args, cwd=cwd, env=full_env, stdout=out, stderr=None if stream else subprocess.STDOUT,
                    text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                )
            else:
                done = subprocess.run(
                    args, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                    text=True, timeout=timeout, input=input, check=False,
                )
            code, output = done.returncode, done.stdout or ""
    except FileNotFoundError as exc:
        raise CommandNotFound(f"command not found: {args[0]}", hint or f"install {args[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"command timed out after {timeout} s: {shlex.join(args)}", hint) from exc
    if check and code != 0:
        if log_file is not None:
            tail = _tail(log_file.read_text(encoding="utf-8", errors="replace"))
            where = f"full log: {log_file}"
        else:
            tail = _tail(output)
            where = ""
        raise CommandError(
            f"command failed with exit code {code}: {shlex.join(args)}",
            " ".join(x for x in (hint, where) if x),
            output_tail=tail,
        )
    return subprocess.CompletedProcess(args, code, output, "")


_POSIX = sys.platform != "win32"


def _signal_group(p: subprocess.Popen[str], sig: int) -> None:
    try:
        if _POSIX:
            os.killpg(p.pid, sig)  # the child leads its own group: pip, meson, ninja and compilers
        elif sig == signal.SIGTERM:
            p.terminate()
        else:
            p.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _stop(p: subprocess.Popen[str], grace: float = 10) -> None:
    """End ``p`` and everything it started (they may clean up for ``grace`` s) so nothing writes after
    we return."""
    if p.poll() is None and grace > 0:
        _signal_group(p, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=grace)
    _signal_group(p, signal.SIGKILL if _POSIX else signal.SIGTERM)  # stragglers of the group too
    p.wait()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a killed nox session, a CI cancel, ``kill``) stops lockswap like Ctrl-C does: staged
    cache entries are removed, child process groups stopped, bench results kept."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
