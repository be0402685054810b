"""Nothing measured is lost: the journal, an interrupted run, ``--resume`` and its refusals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchrun import argv, need_numpy

from lockswap import cli
from lockswap.bench import environment, execute, journal, resume, runner
from lockswap.interpreter import venvs
from lockswap.interpreter.find import Interpreter

REPO = Path(__file__).resolve().parents[2]


def _sigint_default() -> None:
    """Let the child take SIGINT as Ctrl-C even when this test runs where SIGINT is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cells(doc):
    return [runner.key_of(m) for m in [*doc["measurements"], *doc["failures"]]]


def test_interrupted_run_keeps_its_cells_and_resume_finishes_each_exactly_once(tmp_path):
    """SIGINT to the bench process part-way, then --resume: every cell once, the first ones kept."""
    need_numpy()
    out = tmp_path / "run.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    cmd = [sys.executable, "-m", "lockswap"]
    args = argv(out, "--workloads", "add,scalar", "--workers", "1,2", "--repeats", "6",
                "--target-seconds", "0.1", variants=("baseline", "rwlock"))
    p = subprocess.Popen([*cmd, *args], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True,
                         preexec_fn=_sigint_default)
    jpath = journal.path_for(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if jpath.exists() and jpath.read_text().count('"event": "measurement"') >= 10:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    print(err)
    assert p.returncode == 130
    partial = json.loads(out.read_text())
    total = 2 * 2 * 2 * 6  # builds x workload sizes x worker counts x repeats
    assert partial["complete"] is False and 10 <= len(partial["measurements"]) < total
    assert f"resume with: nox -s bench -- --resume {out}" in err and "complete: false" in err
    assert jpath.exists()

    r = subprocess.run([*cmd, "bench", "--resume", str(out), "--allow-gil", "--no-report"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    print(r.stderr)
    assert r.returncode == 0, r.stderr
    assert f"resuming {out.name}: {len(partial['measurements'])} of {total} cells done" in r.stderr
    final = json.loads(out.read_text())
    cells = _cells(final)
    assert final["complete"] is True and len(cells) == len(set(cells)) == total
    assert final["measurements"][:len(partial["measurements"])] == partial["measurements"]  # kept as measured
    assert final["created"] == partial["created"] and final["plan"] == partial["plan"]
    assert not jpath.exists()


@pytest.fixture
def interrupted(tmp_path, monkeypatch):
    """A real run stopped (as by Ctrl-C) after its third measurement: (results file, journal)."""
    need_numpy()
    out = tmp_path / "run.json"
    real = execute.Recorder.measurement
    count = {"n": 0}

    def stop_after_three(self, record):
        real(self, record)
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(execute.Recorder, "measurement", stop_after_three)
    assert cli.main(argv(out, "--workloads", "add", "--workers", "1,2", "--repeats", "2",
                         "--target-seconds", "0.02")) == 130
    monkeypatch.setattr(execute.Recorder, "measurement", real)
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and len(doc["measurements"]) == 3
    return out, journal.path_for(out)


def _refused(capsys, files, *args):
    before = [f.read_bytes() for f in files]
    assert cli.main(["bench", "--allow-gil", "--no-report", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("lockswap: error") == 1
    assert [f.read_bytes() for f in files] == before  # nothing overwritten
    return err


def _edit_start(jpath, **changes):
    lines = jpath.read_text().splitlines()
    start = json.loads(lines[0])
    for key, value in changes.items():
        _, _, field = key.partition("__")
        if field:
            start["targets"][0][field] = value
        else:
            start[key] = value
    jpath.write_text("\n".join([json.dumps(start), *lines[1:]]) + "\n")


def test_resume_refuses_another_plan_version_or_variants(interrupted, capsys, monkeypatch):
    out, jpath = interrupted
    capsys.readouterr()
    err = _refused(capsys, [out, jpath], "--resume", str(out), "--repeats", "9")
    assert f"cannot resume {out}" in err and "plan: repeats was 2, the options given say 9" in err
    err = _refused(capsys, [out, jpath], "--resume", str(out), "--variants", "baseline,rwlock")
    assert "variants: the run measures baseline, the options given say baseline,rwlock" in err
    monkeypatch.setattr(environment, "lockswap_commit", lambda: {"commit": "f" * 40, "dirty": False})
    _edit_start(jpath, lockswap={"commit": "a" * 40, "dirty": False})
    err = _refused(capsys, [out, jpath], "--resume", str(out))
    assert f"lockswap version: the run was made by commit {'a' * 12}, this is {'f' * 12}" in err


WHEEL = "numpy-2.1.3+lockswap.rwlock-cp313-cp313t-linux_x86_64.whl"


def _built_target(cache: Path) -> dict:
    """Journal fields of a target built into ``cache`` (LOCKSWAP_CACHE), as a new run records them."""
    facts = {"path": str(cache / "python" / "k" / "bin" / "python3.13t"), "version": "3.13.15",
             "free_threaded": True, "build": "b", "compiler": "cc"}
    interp = Interpreter(Path(facts["path"]), "3.13.15", True, "b", "cc")
    venv = runner.venv_path(interp, "k")
    return {"t__wheel_file": str(cache / "wheels" / "k" / WHEEL), "t__wheel_sha256": "0" * 64,
            "t__venv": str(venv), "t__python": str(venvs.python_of(venv)),
            "t__info": {"key": "k", "wheel": WHEEL, "interpreter": facts, "variant": "baseline"}}


def test_resume_refuses_missing_or_changed_wheels(interrupted, capsys, tmp_path, monkeypatch):
    out, jpath = interrupted
    capsys.readouterr()
    monkeypatch.setenv("LOCKSWAP_CACHE", str(tmp_path / "cache"))
    gone = tmp_path / "cache" / "wheels" / "k" / WHEEL
    _edit_start(jpath, **_built_target(tmp_path / "cache"))
    err = _refused(capsys, [out, jpath], "--resume", str(out))
    assert f"baseline: its wheel {gone.name} no longer exists" in err
    gone.parent.mkdir(parents=True)
    gone.write_bytes(b"another build")
    err = _refused(capsys, [out, jpath], "--resume", str(jpath))  # the journal may be given too
    assert f"baseline: its wheel {gone.name} changed" in err


def test_resume_finishes_in_process_and_a_complete_file_is_refused(interrupted, capsys):
    out, jpath = interrupted
    assert cli.main(["bench", "--resume", str(out), "--allow-gil", "--no-report"]) == 0
    doc = json.loads(out.read_text())
    cells = _cells(doc)
    assert doc["complete"] and len(cells) == len(set(cells)) == 2 * 2 and not jpath.exists()
    capsys.readouterr()
    err = _refused(capsys, [out], "--resume", str(out))
    assert "is complete: nothing to resume" in err


def test_journal_fold_drops_a_truncated_line_and_duplicates(tmp_path):
    start = {"event": "start", "created": "2026-11-30T00:00:00Z", "lockswap": {}, "machine": {},
             "numpy": "2.1.3",
             "plan": {"workloads": ["add"], "sizes": [1], "modes": ["threads"], "workers": [1], "repeats": 2},
             "workloads": {"add": {"fixed_size": None}},
             "targets": [{"label": "baseline", "variant": "baseline", "numpy_version": "2.1.3", "info": {}}]}
    cell = {"target": "baseline", "variant": "baseline", "numpy_version": "2.1.3", "workload": "add",
            "size": 1, "mode": "threads", "workers": 1, "iterations": 10, "calls": 10, "flops": 10,
            "seconds": 0.1}
    path = tmp_path / "j.jsonl"
    with journal.Journal(path) as j:
        j.write(start)
        j.write({"event": "measurement", **cell, "repeat": 0})
        j.write({"event": "measurement", **cell, "repeat": 0})
    with path.open("a") as fh:
        fh.write('{"event": "measurement", "targ')  # killed mid-write
    doc = journal.fold(journal.read(path))
    assert len(doc["measurements"]) == 1 and doc["complete"] is False and doc["failures"] == []
    with journal.Journal(path) as j:
        pass
    with path.open("a") as fh:
        fh.write("\n" + json.dumps({"event": "failure", **cell, "repeat": 1, "kind": "crash"}) + "\n")
    doc = journal.fold(journal.read(path))
    assert doc["complete"] is True and len(doc["failures"]) == 1


@pytest.mark.parametrize(("field", "value", "named"), [
    ("venv", "{victim}", "venv {victim} is not the bench venv this run would use"),
    ("venv", "{cache}", "venv {cache} is not the bench venv"),  # would delete the whole cache
    ("python", "/bin/sh", "python /bin/sh is not its venv's python"),
    ("wheel_file", "/dev/zero", "wheel_file /dev/zero is not the wheel store's file"),
    ("wheel_file", "{cache}/wheels/k/../../../x/" + WHEEL, "wheel_file"),
    ("interpreter", "/bin/sh", "interpreter path /bin/sh is neither in lockswap's cache"),
])
def test_resume_refuses_a_journal_path_outside_the_cache_before_deleting_or_running(
        interrupted, capsys, tmp_path, monkeypatch, field, value, named):
    """A forged journal cannot make --resume delete a folder or run a program of its choosing."""
    out, jpath = interrupted
    capsys.readouterr()
    cache = tmp_path / "cache"
    monkeypatch.setenv("LOCKSWAP_CACHE", str(cache))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    edits = _built_target(cache)
    wheel = Path(edits["t__wheel_file"])
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"the recorded wheel")  # intact: only the forged path may stop the resume
    edits["t__wheel_sha256"] = hashlib.sha256(b"the recorded wheel").hexdigest()
    value = value.format(victim=victim, cache=cache)
    if field == "interpreter":
        edits["t__info"]["interpreter"]["path"] = value
        monkeypatch.setattr(resume.interpreter, "find", lambda **kw: Interpreter(
            Path(sys.executable), "3.13.15", True, "b", "cc"))  # what this machine would use
    else:
        edits[f"t__{field}"] = value
    _edit_start(jpath, **edits)

    def never(*args, **kwargs):
        raise AssertionError("ran or deleted something")

    monkeypatch.setattr(venvs, "ensure", never)
    monkeypatch.setattr(runner, "probe", never)
    monkeypatch.setattr(execute, "_probe", never)
    err = _refused(capsys, [out, jpath], "--resume", str(out))
    assert f"baseline: {named.format(victim=victim, cache=cache)}" in err, err
    assert "(nothing was deleted or run)" in err
    assert (victim / "keep.txt").read_text() == "mine"


def test_resume_accepts_the_paths_it_would_derive_and_refuses_a_use_python_that_is_no_python(
        interrupted, capsys, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LOCKSWAP_CACHE", str(cache))
    t = {k.removeprefix("t__"): v for k, v in _built_target(cache).items()}
    assert resume.path_problems({"label": "baseline", **t}) == []
    assert resume.path_problems({"label": "b", "python": sys.executable, "info": {}}) == []  # --use-python
    out, jpath = interrupted
    capsys.readouterr()
    _edit_start(jpath, t__python="/bin/rm")
    err = _refused(capsys, [out, jpath], "--resume", str(out))
    assert "baseline: python /bin/rm is not a Python executable" in err
