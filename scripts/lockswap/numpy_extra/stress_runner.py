"""Run one stress case in its own process and name what happened (stdlib only).

Runs inside the variant's venv, where lockswap (and so ``proc.run``) is not installed: hence plain
``subprocess``. Used by ``test_lockswap_stress_cases.py`` inside the variant's venv and by lockswap's
unit tests (with tiny pure-Python fixture scripts): a crash (killed by a signal, faulthandler's stack on
stderr), a hang (the case's own faulthandler watchdog fired, or the outer timeout killed it) and a
plain failure are all a named :class:`CaseResult`, never a hung job. :func:`known_upstream` is the
venv side of the attribution rule: only the baseline build may turn a recorded case into xfail.

A deadlock need not wait out the watchdog: where ``/proc`` exists (Linux), the case's processes
(the case and every descendant, live or reaped) are sampled, and if together they use less than
:data:`STALL_SHARE` of one CPU over ``LOCKSWAP_STRESS_STALL`` seconds (default 60), nothing can be
making progress: every process of the case is asked for its threads' stacks (SIGUSR1, which
``stress_cases.py`` registers with faulthandler) and then killed, and the case is a hang. A live case
keeps at least one CPU busy, even 5-15x slowed down under a sanitizer; a deadlocked one only wakes
for CPython's stop-the-world polls and the sanitizer's background thread.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TAIL = 6000  # characters of output kept in a failure message
STALL = float(os.environ.get("LOCKSWAP_STRESS_STALL", "60"))  # seconds without progress: a deadlock
STALL_SHARE = 0.10  # "without progress": less than this share of one CPU over STALL seconds
DUMP_WAIT = 5.0  # seconds the processes get to print their stacks before they are killed
KNOWN = Path(__file__).with_name("known_upstream.json")
BASELINE = "baseline"


def variant(environ: dict[str, str] | None = None, numpy_dist_version: str | None = None) -> str:
    """The variant of the NumPy under test: ``LOCKSWAP_VARIANT`` (set by ``lockswap test``), else
    the installed wheel's local label (``2.3.5+lockswap.rwlock``); no label: NumPy as released."""
    told = (os.environ if environ is None else environ).get("LOCKSWAP_VARIANT")
    if told:
        return told
    if numpy_dist_version is None:
        from importlib.metadata import version

        numpy_dist_version = version("numpy")
    _, plus, label = numpy_dist_version.partition("+")
    if not plus:
        return BASELINE
    return label[len("lockswap."):] if label.startswith("lockswap.") else label


def known_upstream(case: str, numpy_version: str, build: str, python: str | None = None) -> str:
    """Why NumPy as released fails ``case`` (``known_upstream.json``), or "": for the baseline build
    only; any other build reports its failure as a failure (the host side attributes it)."""
    if build != BASELINE:
        return ""
    python = python or "{}.{}".format(*sys.version_info[:2])
    for e in json.loads(KNOWN.read_text(encoding="utf-8"))["cases"].get(case, []):
        if fnmatch.fnmatch(numpy_version, e["numpy"]) and fnmatch.fnmatch(python, e.get("python", "*")):
            return str(e["reason"])
    return ""


@dataclass(frozen=True)
class CaseResult:
    case: str
    kind: str  # "pass" | "fail" | "crash" | "hang"
    returncode: int | None
    output: str  # stdout + stderr (tail)
    seconds: float
    stopped: str = ""  # why the runner killed the case ("" when it ended by itself)

    @property
    def ok(self) -> bool:
        return self.kind == "pass"

    def message(self) -> str:
        what = {"fail": "failed", "crash": "crashed", "hang": "hung"}.get(self.kind, "passed")
        rc = self.returncode
        if self.stopped:
            rc_text = self.stopped
        elif rc is not None and rc < 0:
            try:
                rc_text = f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                rc_text = f"killed by signal {-rc}"
        else:
            rc_text = f"exit {rc}" if rc is not None else "killed after the outer timeout"
        return f"stress case {self.case} {what} ({rc_text}, {self.seconds:.1f} s):\n{self.output}"


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def classify(returncode: int, output: str) -> str:
    if returncode == 0:
        return "pass"
    if returncode < 0 or "Fatal Python error" in output:
        return "crash"
    if ("Timeout (" in output and "Thread 0x" in output) or "DEADLOCK" in output:
        return "hang"  # faulthandler.dump_traceback_later fired
    return "fail"


PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of the children it reaped) from /proc/PID/stat."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by ``pid`` and its descendants (live, or reaped by one of them);
    None where there is no ``/proc`` or ``pid`` is gone."""
    if not (PROC / "self" / "stat").is_file():
        return None
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            got = _stat(int(entry.name))
            if got is not None:
                stats[int(entry.name)] = got
    if pid not in stats:
        return None
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats[p][1]
        todo.extend(c for c, (parent, _) in stats.items() if parent == p)
    return total


class Progress:
    """Whether a case's processes still use CPU: :meth:`stalled` once, over the last ``window``
    seconds, they used less than ``share`` of one CPU."""

    def __init__(self, window: float, share: float = STALL_SHARE) -> None:
        self.window, self.need = window, share * window
        self.since: tuple[float, float] | None = None  # (time, CPU seconds) of the last progress

    def stalled(self, now: float, cpu: float | None) -> bool:
        if cpu is None:
            return False
        if self.since is None or cpu - self.since[1] >= self.need:
            self.since = (now, cpu)
            return False
        return now - self.since[0] >= self.window


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Every process of the case prints its threads' stacks (SIGUSR1), then all are killed."""
    if os.name != "posix":
        proc.kill()
        return
    for sig, wait in ((signal.SIGUSR1, DUMP_WAIT), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if wait is not None:
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """The case leads its own session (so the stall detector can signal all of it), which also
    shields it from the terminal's Ctrl-C and from a signal sent to the runner's group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    proc.wait()


def stop_cases_on_sigterm() -> None:
    """SIGTERM (lockswap stopping the test run, a CI cancel) raises KeyboardInterrupt in the main
    thread, so :func:`run_case` kills the running case's processes instead of leaving them behind
    (they are in their own session; SIGTERM's default action ends this process without cleanup)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def interrupt(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


def run_case(script: Path, case: str, timeout: float, python: str = sys.executable,
             env: dict[str, str] | None = None, stall: float = STALL) -> CaseResult:
    """Run ``python -X faulthandler script case``; ``timeout`` seconds is the outer limit, ``stall``
    seconds without progress (see the module's doc) ends it sooner."""
    import tempfile
    import time

    cmd = [python, "-X", "faulthandler", str(script), case]
    start = time.monotonic()
    progress = Progress(stall)
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: nothing blocks on a full pipe
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=os.name == "posix")
        stopped = ""
        try:
            while True:
                try:
                    proc.wait(min(1.0, stall / 10))
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now - start >= timeout:
                    stopped = "killed after the outer timeout"
                elif progress.stalled(now, tree_cpu_seconds(proc.pid)):
                    stopped = (f"killed: its processes used less than {STALL_SHARE:.0%} of a CPU for "
                               f"{stall:g} s, a deadlock; stacks from SIGUSR1 above")
                if stopped:
                    _stop(proc)
                    proc.wait()
                    break
        except BaseException:  # Ctrl-C, or SIGTERM through stop_cases_on_sigterm: the case goes too
            _kill_group(proc)
            raise
        if not stopped and os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # a forked child the case left behind
        out.seek(0)
        text = _text(out.read())[-TAIL:]
    seconds = time.monotonic() - start
    if stopped:
        return CaseResult(case, "hang", None, text, seconds, stopped)
    return CaseResult(case, classify(proc.returncode, text), proc.returncode, text, seconds)
