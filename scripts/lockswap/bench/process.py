"""One benchmark worker process: spec in, events out, killed when it stops making progress.

The worker (``worker.py``, run by the variant's venv python) writes JSON lines; :func:`run` hands each
to ``on_event`` as it arrives. A worker that goes ``timeout`` seconds without an event is killed with
its whole process group (pool children included) ``GRACE`` seconds after the worker's own
``faulthandler.dump_traceback_later`` has written every thread's stack to stderr, so the stderr tail
shows where it hung. Ctrl-C (or any error raised by ``on_event``) kills the worker the same way and
propagates. The worker runs in its own session, so a terminal's Ctrl-C reaches only the runner,
which decides what to keep.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..base.errors import CommandError
from . import worker

WORKER = Path(__file__).with_name("worker.py")
GRACE = 5.0  # seconds between the worker's own stack dump and the kill
TAIL_LINES = 60
TAIL_CHARS = 8000


@dataclass(frozen=True)
class Exit:
    """How a worker process ended."""

    returncode: int | None
    timed_out: bool
    stderr_tail: str
    seconds: float  # since the last event (how long the cell in progress ran, on a timeout or crash)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self, timeout: float) -> str:
        if self.timed_out:
            return f"no progress for {timeout:.0f} s: killed (stacks dumped to stderr)"
        rc = self.returncode
        if rc is not None and rc < 0:
            try:
                return f"worker died of signal {signal.Signals(-rc).name}"
            except ValueError:
                return f"worker died of signal {-rc}"
        return f"worker exited with status {rc}"


def worker_env() -> dict[str, str]:
    """The environment of every process that runs a kernel (bench workers, contention probes): no
    PYTHONPATH/PYTHONHOME, BLAS on one thread (:data:`worker.BLAS_ENV`, the one list), faulthandler on."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(dict.fromkeys(worker.BLAS_ENV, "1"))
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def _kill(p: subprocess.Popen[str]) -> None:
    """Kill the worker and everything it started (its process group on POSIX)."""
    if p.poll() is not None and sys.platform == "win32":
        return
    try:
        if sys.platform != "win32":
            os.killpg(p.pid, signal.SIGKILL)
        else:
            p.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _reader(stream: IO[str], q: queue.Queue[str | None]) -> None:
    try:
        for line in stream:
            q.put(line)
    finally:
        q.put(None)


def _tail(err: IO[str]) -> str:
    err.seek(0)
    text = "\n".join(err.read().splitlines()[-TAIL_LINES:])
    return text[-TAIL_CHARS:]


def run(python: Path, spec: dict[str, Any], timeout: float,
        on_event: Callable[[dict[str, Any]], None]) -> Exit:
    """Run the worker with ``spec``; call ``on_event`` per line; kill it after ``timeout`` s of silence."""
    # Popen rather than proc.run: events stream in line by line, with a deadline between them.
    extra: dict[str, Any] = ({"start_new_session": True} if sys.platform != "win32"
                             else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)})
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        try:
            # Not proc.run: the worker is a long-lived peer spoken to line by line over its pipes.
            p = subprocess.Popen([str(python), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=err, text=True, env=worker_env(), cwd=tempfile.gettempdir(), **extra)
        except OSError as exc:
            raise CommandError(f"cannot start the benchmark worker with {python}: {exc.strerror or exc}",
                               "is its venv still there? (--resume remakes deleted bench venvs)") from None
        assert p.stdin is not None and p.stdout is not None
        q: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_reader, args=(p.stdout, q), daemon=True)
        reader.start()
        timed_out = False
        grace = min(GRACE, max(1.0, timeout / 4))
        last = time.monotonic()
        try:
            try:
                p.stdin.write(json.dumps(spec))
                p.stdin.close()
            except (BrokenPipeError, OSError):
                pass  # it died at once: its exit status and stderr say why
            while True:
                try:
                    line = q.get(timeout=max(0.0, last + timeout + grace - time.monotonic()))
                except queue.Empty:
                    timed_out = True
                    _kill(p)
                    break
                if line is None:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue  # stray output of a workload; the protocol lines are JSON objects
                if isinstance(msg, dict) and "event" in msg:
                    on_event(msg)
                    last = time.monotonic()
        except BaseException:
            _kill(p)
            raise
        finally:
            p.wait()
            reader.join(timeout=10)
            p.stdout.close()
        return Exit(p.returncode, timed_out, _tail(err), time.monotonic() - last)
