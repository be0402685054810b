"""Run one stress case in its own process and name what happened (stdlib only).

Runs inside the variant's venv, where lockswap (and so ``proc.run``) is not installed: hence plain
``subprocess``. Used by ``test_lockswap_stress_cases.py`` inside the variant's venv and by lockswap's
unit tests (with tiny pure-Python fixture scripts): a crash (killed by a signal, faulthandler's stack on
stderr), a hang (the case's own faulthandler watchdog fired, or the outer timeout killed it) and a
plain failure are all a named :class:`CaseResult`, never a hung job. :func:`known_upstream` is the
venv side of the attribution rule: only the baseline build may turn a recorded case into xfail.
"""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TAIL = 6000  # characters of output kept in a failure message
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

    @property
    def ok(self) -> bool:
        return self.kind == "pass"

    def message(self) -> str:
        what = {"fail": "failed", "crash": "crashed", "hang": "hung"}.get(self.kind, "passed")
        rc = self.returncode
        if rc is not None and rc < 0:
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


def run_case(script: Path, case: str, timeout: float, python: str = sys.executable,
             env: dict[str, str] | None = None) -> CaseResult:
    """Run ``python -X faulthandler script case``; ``timeout`` seconds is the outer limit."""
    import time

    cmd = [python, "-X", "faulthandler", str(script), case]
    start = time.perf_counter()
    try:
        got = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        return CaseResult(case, "hang", None, out[-TAIL:], time.perf_counter() - start)
    out = _text(got.stdout) + _text(got.stderr)
    return CaseResult(case, classify(got.returncode, out), got.returncode, out[-TAIL:],
                      time.perf_counter() - start)
