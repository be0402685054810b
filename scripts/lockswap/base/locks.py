"""Locks on cache entries and build slots, and what a killed owner leaves behind.

- :func:`entry_lock`: one writer per cache entry (a venv, a wheel store key, a CPython build). The
  lock file is in the cache's ``locks/`` folder; the caller re-checks the entry under the lock,
  so a run that waited finds the entry the other one completed instead of building it again.
- :func:`build_slot`: a build slot is held as long as any process of its build lives, not only as
  long as lockswap does. On POSIX the slot's ``.lock`` is an ``flock`` whose descriptor is passed to
  the build's child (``pass_fds``), so a SIGKILLed lockswap leaves the slot locked while its orphaned
  pip, meson and ninja run. Beside it, ``.owner.lock`` is held by lockswap alone, and
  ``.owner.json`` records the owner and the process group of its build. A later build that takes
  ``.owner.lock`` and finds the record of a build still in progress knows its owner died: it stops
  that group (SIGTERM, then SIGKILL) and wipes the build directory before syncing its own tree. On
  Windows a ``filelock`` lock is held by lockswap (its build children end with it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from . import log, paths

_POSIX = sys.platform != "win32"
OWNER = ".owner.json"
GRACE_SECONDS = 10.0  # what a dead owner's build group gets between SIGTERM and SIGKILL


def lock_file(entry: Path) -> Path:
    """The lock file of cache entry ``entry``: in the cache's ``locks/`` folder, named after the entry's
    path, so that no lock file sits among the entries (and lock files are never deleted: that races)."""
    return paths.cache_dir("locks") / f"{entry.name}-{paths.content_key(entry.resolve())}.lock"


@contextlib.contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """Hold the lock of cache entry ``entry`` (see :func:`lock_file`), telling the user if it waits."""
    lock = FileLock(lock_file(entry))
    try:
        lock.acquire(timeout=0)
    except TimeoutError:
        log.info(f"waiting for {entry} (another lockswap run is writing it)")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@dataclass
class SlotLock:
    """A held build slot: give :attr:`pass_fds` to the build's :func:`proc.run` and record its group."""

    slot: Path
    pass_fds: tuple[int, ...] = ()
    wiped: bool = False  # the build directory was wiped: a dead owner's build was still running in it
    _record: dict[str, object] = field(default_factory=dict)

    def record_group(self, pgid: int) -> None:
        """The build's process group (its child leads a new session): stopped by a later build if
        lockswap dies while the group still runs."""
        self._record["pgid"] = pgid
        paths.atomic_write_text(self.slot / OWNER, json.dumps(self._record))


def _flock(path: Path, blocking_message: str) -> int:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(blocking_message)
            fcntl.flock(fd, fcntl.LOCK_EX)  # a signal interrupts the wait (KeyboardInterrupt)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_owner(slot: Path) -> dict[str, object]:
    try:
        data = json.loads((slot / OWNER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def group_members(pgid: int) -> list[int]:
    """Live processes of the build started as session and group ``pgid``: its group, and the groups
    ninja puts each compile command in (they stay in the session). Read from ``/proc``; without it,
    the group leader if alive."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, session, ...
        if len(fields) > 3 and str(pgid) in (fields[2], fields[3]) and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _belongs_to(pid: int, slot: Path) -> bool:
    """Whether process ``pid`` works in ``slot`` (its cwd is inside it, or its command line names it)."""
    base = Path("/proc") / str(pid)
    if not base.is_dir():
        return True  # no /proc: trust the recorded group
    try:
        if Path(os.readlink(base / "cwd")).is_relative_to(slot):
            return True
        return str(slot) in (base / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the build's group ``pgid`` (ninja passes it on to its commands), SIGKILL what is left
    of it and of its session after ``grace`` s, and wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        targets = [pgid] if sig == signal.SIGTERM else [pgid, *group_members(pgid)]
        for target in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if target == pgid:
                    os.killpg(pgid, sig)
                else:
                    os.kill(target, sig)
        end = time.monotonic() + wait
        while group_members(pgid) and time.monotonic() < end:
            time.sleep(0.1)
        if not group_members(pgid):
            return


def _stop_orphans(slot: Path, record: dict[str, object]) -> bool:
    """Stop the build group of a dead owner if it still runs in ``slot``; True if there was one."""
    pgid = record.get("pgid")
    if not isinstance(pgid, int) or pgid <= 1:
        return False
    alive = [pid for pid in group_members(pgid) if _belongs_to(pid, slot)]
    if not alive:
        return False
    log.warn(f"a killed lockswap run (pid {record.get('pid')}) left its build running in {slot} "
             f"(process group {pgid}, {len(alive)} processes): stopping it and wiping the build directory")
    stop_group(pgid)
    return True


@contextlib.contextmanager
def build_slot(slot: Path) -> Iterator[SlotLock]:
    """Hold build slot ``slot`` for one build (see the module's doc)."""
    slot.mkdir(parents=True, exist_ok=True)
    if not _POSIX:
        with FileLock(slot / ".lock"):
            yield SlotLock(slot)
        return
    owner = _flock(slot / ".owner.lock", f"waiting for build slot {slot} (another lockswap run builds in it)")
    try:
        previous = _read_owner(slot)
        wiped = False
        # a record of a build in progress means its owner died (we hold .owner.lock)
        if previous.get("state") == "building" and _stop_orphans(slot, previous):
            shutil.rmtree(slot / "build", ignore_errors=True)
            wiped = True
        lock = _flock(slot / ".lock", f"waiting for build slot {slot} (a build started by another "
                                      "lockswap version, or processes of a killed one, still use it)")
        try:
            record: dict[str, object] = {"pid": os.getpid(), "state": "building", "started": log.utc_now()}
            paths.atomic_write_text(slot / OWNER, json.dumps(record))
            yield SlotLock(slot, (lock,), wiped, record)
        finally:
            # proc.run has stopped the build's group on every way out: the slot is idle again
            with contextlib.suppress(OSError):
                paths.atomic_write_text(slot / OWNER, json.dumps({**record, "state": "idle", "pgid": None}))
            os.close(lock)
    finally:
        os.close(owner)
