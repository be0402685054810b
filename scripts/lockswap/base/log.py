"""Console progress: timed steps, and on GitHub Actions ``::group::`` blocks and the job summary."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def info(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP): the run goes on cleaning up, unheard
        print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    prefix = "::warning::" if on_github() else "warning: "
    info(f"{prefix}{message}")


UTC_ISO = "%Y-%m-%dT%H:%M:%SZ"


def utc_now(fmt: str = UTC_ISO) -> str:
    """The current UTC time, ``2026-11-25T17:00:00Z`` by default: every timestamp lockswap writes."""
    return time.strftime(fmt, time.gmtime())


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """Print ``==> title``, run the block, then ``<== title: 12.3 s`` (or ``FAILED after``)."""
    start = time.perf_counter()
    if on_github():
        info(f"::group::{title}")
    info(f"==> {title}")
    ok = False
    try:
        yield
        ok = True
    finally:
        elapsed = format_seconds(time.perf_counter() - start)
        if on_github():
            info("::endgroup::")
        info(f"<== {title}: {elapsed}" if ok else f"<== {title}: FAILED after {elapsed}")


def job_summary(markdown: str) -> None:
    """Append markdown to the GitHub Actions job summary (no-op elsewhere)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip() + "\n\n")
