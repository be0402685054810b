from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from lockswap.base.errors import InterpreterError
from lockswap.interpreter import find as interpreter


def fake_python(folder: Path, name: str, *, free_threaded: bool, version: str = "3.13.5") -> Path:
    """An executable that answers lockswap's probe like a CPython build would."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    answer = json.dumps({
        "version": version, "free_threaded": free_threaded, "gil_enabled_now": not free_threaded,
        "executable": str(exe), "build": f"{version} fake", "compiler": "GCC 12", "abiflags": "t",
    })
    exe.write_text(f"#!/bin/sh\necho '{answer}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell-script fakes")


def test_the_running_python_is_inspected_truthfully():
    me = interpreter.inspect(sys.executable)
    assert me.version == ".".join(map(str, sys.version_info[:3]))
    assert me.free_threaded == bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))


def test_gil_interpreter_is_refused_with_advice(tmp_path):
    exe = fake_python(tmp_path, "python3.13", free_threaded=False)
    with pytest.raises(InterpreterError) as err:
        interpreter.find(str(exe), build_if_missing=False)
    assert "GIL" in err.value.message and "free-threaded" in err.value.hint


def test_not_an_interpreter(tmp_path):
    with pytest.raises(InterpreterError, match="not a working Python"):
        interpreter.inspect(tmp_path / "nothing")


def test_explicit_then_env_var(tmp_path, monkeypatch):
    a = fake_python(tmp_path / "a", "python3.13t", free_threaded=True)
    b = fake_python(tmp_path / "b", "python3.13t", free_threaded=True, version="3.13.1")
    monkeypatch.setenv("LOCKSWAP_PYTHON", str(b))
    assert interpreter.find(str(a)).path == a
    assert interpreter.find().path == b


def test_path_prefers_314t_and_honours_want(tmp_path, monkeypatch, cache):
    fake_python(tmp_path, "python3.13t", free_threaded=True)
    fake_python(tmp_path, "python3.14t", free_threaded=True, version="3.14.0")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    assert interpreter.find(build_if_missing=False).version == "3.14.0"
    assert interpreter.find(want="3.13t", build_if_missing=False).version == "3.13.5"


def test_gil_build_named_like_free_threaded_on_path_is_skipped(tmp_path, monkeypatch, cache):
    fake_python(tmp_path, "python3.13t", free_threaded=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(InterpreterError, match="no free-threaded Python found"):
        interpreter.find(build_if_missing=False)


def test_cached_build_is_found(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    fake_python(cache / "python" / "3.13.5t-abc" / "bin", "python3.13t", free_threaded=True)
    assert interpreter.find(build_if_missing=False).version == "3.13.5"


def test_tags():
    i = interpreter.Interpreter(Path("/x"), "3.13.5", True, "", "")
    assert (i.short, i.abi_tag) == ("3.13t", "cp313t")


def test_explicit_interpreter_must_match_the_wanted_version(tmp_path):
    exe = fake_python(tmp_path, "python3.14t", free_threaded=True, version="3.14.0")
    assert interpreter.find(str(exe), want="3.14t").version == "3.14.0"
    with pytest.raises(InterpreterError, match=r"not the 3\.13t asked for"):
        interpreter.find(str(exe), want="3.13t")
