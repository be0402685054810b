"""Cache races and killed runs: staging folders of dead owners are swept, entries are built once under
their lock and replaced by renames, a build slot stays locked while its build's processes live (and a
later build stops those of a dead owner), SIGHUP/SIGQUIT stop lockswap like SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from lockswap.base import locks, paths
from lockswap.build import wheel as build

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes, signals and flock")
REPO = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@POSIX
def test_staging_sweeps_folders_and_files_of_dead_owners_only(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".entry.tmp-{dead}-abc").mkdir()
    (tmp_path / f".entry.tmp-{dead}-abc" / "half.o").write_text("x")
    (tmp_path / f".other.json.tmp-{dead}-xyz").write_text("{")
    live = tmp_path / f".entry.tmp-{os.getppid()}-abc"  # a live process's staging folder stays
    live.mkdir()
    unrelated = tmp_path / ".entry.tmp-abcdefgh"  # another naming: not ours to judge
    unrelated.mkdir()
    with paths.staging(tmp_path / "entry") as stage:
        assert f".entry.tmp-{os.getpid()}-" in stage.path.name
        (stage.path / "ok").write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["entry", live.name, unrelated.name])


def test_replace_renames_the_old_entry_aside_and_leaves_nothing(tmp_path):
    final = tmp_path / "entry"
    final.mkdir()
    (final / "old.whl").write_text("old")
    seen: list[bool] = []
    with paths.staging(final, replace=True) as stage:
        (stage.path / "new.whl").write_text("new")
        seen.append(final.exists())  # the old entry is there until the new one is complete
    assert seen == [True]
    assert [p.name for p in final.iterdir()] == ["new.whl"]
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_a_waiting_builder_rechecks_under_the_lock_and_finds_the_entry(tmp_path, cache):
    """Two threads want the same entry: one builds it, the other waits and then finds it made."""
    entry = tmp_path / "wheels" / "k"
    built: list[str] = []
    started = threading.Event()

    def want(name: str) -> None:
        with locks.entry_lock(entry):
            started.set()
            if not (entry / "wheel.json").exists():  # the re-check the wheel store does
                time.sleep(0.5)
                with paths.staging(entry) as stage:
                    (stage.path / "wheel.json").write_text(name)
                built.append(name)

    first = threading.Thread(target=want, args=("first",))
    first.start()
    started.wait(5)
    second = threading.Thread(target=want, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert built == ["first"] and (entry / "wheel.json").read_text() == "first"


def test_the_wheel_store_is_rechecked_under_its_lock(tmp_path, monkeypatch, cache):
    """build.build holds the key's lock, then finds the wheel another run stored: no compile."""
    store = build.store_dir("k")
    store.mkdir(parents=True)
    (store / "numpy-2.1.3+lockswap.x-cp313-cp313t-linux_x86_64.whl").write_bytes(b"wheel")
    (store / "wheel.json").write_text("{}")
    monkeypatch.setattr(build, "_compile", lambda *a, **k: pytest.fail("compiled although stored"))

    class Src:
        version, sha256 = "2.1.3", "s"

    class Tree:
        source, variant, patch_sha256, tree = Src(), "x", "p", tmp_path
        ported_from, base_patch_sha256 = "", ""

    class Interp:
        abi_tag = "cp313t"

    got = build._build_locked(Tree(), Interp(), None, store, "k", "2.1.3+lockswap.x", ())  # type: ignore[arg-type]
    assert got.path.read_bytes() == b"wheel" and got.path.parent == paths.dist_dir()


@POSIX
def test_venvs_are_created_by_one_run_at_a_time(tmp_path, cache):
    """While a run holds a venv's lock, another ensure() waits; then it finds the venv complete."""
    from lockswap.interpreter import find as interpreter
    from lockswap.interpreter import venvs

    host = interpreter.inspect(sys.executable)
    venv = tmp_path / "venv"
    done = threading.Event()
    with locks.entry_lock(venv):
        t = threading.Thread(target=lambda: (venvs.ensure(host, venv), done.set()))
        t.start()
        time.sleep(1.0)
        assert not done.is_set()  # waiting for our lock
        venv.mkdir()
        (venv / ".lockswap-complete").write_text("")  # as the other run would have left it
    t.join(30)
    assert done.is_set() and not (venv / "bin").exists()  # found complete: not created again


_HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {scripts!r})
    from pathlib import Path
    from lockswap.base import locks, proc
    slot = Path(sys.argv[1])
    with locks.build_slot(slot) as held:
        # like pip, the build's leader names the slot on its command line
        proc.run([sys.executable, "-c", "import time; time.sleep(300)", str(slot)], log_file=slot / "log",
                 pass_fds=held.pass_fds, on_start=held.record_group, echo=False)
""")


@POSIX
def test_a_killed_owners_build_keeps_the_slot_until_a_later_build_stops_it(tmp_path):
    slot = tmp_path / "slot"
    (slot / "build").mkdir(parents=True)
    (slot / "build" / "half.o").write_text("from the killed build")
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER.format(scripts=str(REPO / "scripts")))
    owner = subprocess.Popen([sys.executable, str(script), str(slot)])
    deadline = time.monotonic() + 30
    while not locks._read_owner(slot).get("pgid"):
        assert time.monotonic() < deadline and owner.poll() is None
        time.sleep(0.1)
    pgid = json.loads((slot / locks.OWNER).read_text())["pgid"]
    owner.kill()  # SIGKILL: no cleanup; the build's group (own session) lives on, holding .lock
    owner.wait()
    assert locks.group_members(pgid)
    import fcntl

    fd = os.open(slot / ".lock", os.O_RDWR)
    with pytest.raises(BlockingIOError):  # the orphaned build still holds the slot
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    with locks.build_slot(slot) as held:  # a later build: stops the orphans, wipes the build dir
        assert held.wiped and not (slot / "build").exists()
        assert not locks.group_members(pgid)
        assert json.loads((slot / locks.OWNER).read_text())["pid"] == os.getpid()
    assert json.loads((slot / locks.OWNER).read_text())["state"] == "idle"
    with locks.build_slot(slot) as held:  # a clean previous build: nothing to stop or wipe
        assert not held.wiped


@POSIX
def test_a_slot_whose_build_ended_cleanly_is_not_wiped(tmp_path):
    slot = tmp_path / "slot"
    (slot / "build").mkdir(parents=True)
    record = {"pid": _dead_pid(), "state": "building", "pgid": _dead_pid()}
    (slot / locks.OWNER).write_text(json.dumps(record))
    with locks.build_slot(slot) as held:  # the owner died, but nothing of its build runs: ninja resumes
        assert not held.wiped and (slot / "build").exists()


_INTERRUPTED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {scripts!r})
    from pathlib import Path
    from lockswap.base import paths, proc
    final = Path(sys.argv[1])
    try:
        with proc.sigterm_interrupts():
            with paths.staging(final) as stage:
                (stage.path / "half").write_text("x")
                print("staged", flush=True)
                time.sleep(60)
    except KeyboardInterrupt:
        sys.exit(130)
""")


@POSIX
@pytest.mark.parametrize("sig", ["SIGHUP", "SIGQUIT", "SIGTERM"])
def test_stop_signals_exit_130_leaving_no_staging_folder(tmp_path, sig):
    script = tmp_path / "run.py"
    script.write_text(_INTERRUPTED.format(scripts=str(REPO / "scripts")))
    cache = tmp_path / "cache"
    p = subprocess.Popen([sys.executable, str(script), str(cache / "entry")], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "staged"
    assert any(".tmp-" in q.name for q in cache.iterdir())
    p.send_signal(getattr(signal, sig))
    assert p.wait(timeout=30) == 130
    assert list(cache.iterdir()) == []


_CLEANUP = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {scripts!r})
    from pathlib import Path
    from lockswap.base import paths, proc
    final = Path(sys.argv[1])
    try:
        with proc.sigterm_interrupts():
            try:
                with paths.staging(final) as stage:
                    print("staged", flush=True)
                    time.sleep(60)
            finally:
                print("cleaning", flush=True)
                time.sleep(2)  # a slow cleanup (stopping a build group): a second signal must not cut it
                (final.parent / "cleaned").write_text("yes")
    except KeyboardInterrupt:
        sys.exit(130)
""")


@POSIX
def test_a_second_signal_does_not_cut_the_cleanup_short(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_CLEANUP.format(scripts=str(REPO / "scripts")))
    cache = tmp_path / "cache"
    p = subprocess.Popen([sys.executable, str(script), str(cache / "entry")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "staged"
    p.send_signal(signal.SIGINT)
    assert p.stdout.readline().strip() == "cleaning"
    p.send_signal(signal.SIGTERM)  # what nox sends when its interrupt timeout is over
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=30) == 130
    assert (cache / "cleaned").read_text() == "yes" and sorted(q.name for q in cache.iterdir()) == ["cleaned"]
