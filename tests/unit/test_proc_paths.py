from __future__ import annotations

import sys

import pytest

from lockswap import build, paths, proc
from lockswap.errors import CommandError


def test_failure_shows_the_output_tail():
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit(3)"
    with pytest.raises(CommandError) as err:
        proc.run([sys.executable, "-c", code], hint="do something")
    text = str(err.value)
    assert "exit code 3" in text and "line 99" in text and "line 10\n" not in text
    assert "do something" in text


def test_failure_with_log_file_shows_its_tail(tmp_path):
    logf = tmp_path / "x.log"
    with pytest.raises(CommandError) as err:
        proc.run([sys.executable, "-c", "print('boom'); raise SystemExit(1)"], log_file=logf)
    assert "boom" in err.value.output_tail and str(logf) in err.value.hint


def test_missing_command():
    with pytest.raises(CommandError, match="command not found"):
        proc.run(["no-such-command-lockswap"])


def test_atomic_write_and_content_key(tmp_path):
    target = tmp_path / "a" / "b.json"
    paths.atomic_write_text(target, "{}")
    assert target.read_text() == "{}" and len(list(target.parent.iterdir())) == 1
    assert paths.content_key(1, "a") == paths.content_key(1, "a") != paths.content_key(1, "b")


def test_sync_tree_rewrites_only_what_changed(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "d").mkdir(parents=True)
    (src / "same.c").write_text("same")
    (src / "d" / "changed.c").write_text("new")
    (dest / "d").mkdir(parents=True)
    (dest / "same.c").write_text("same")
    (dest / "d" / "changed.c").write_text("old")
    (dest / "stale.c").write_text("gone")
    import os
    os.utime(dest / "same.c", (1_000_000, 1_000_000))
    assert build.sync_tree(src, dest) == 2
    assert (dest / "d" / "changed.c").read_text() == "new" and not (dest / "stale.c").exists()
    assert (dest / "same.c").stat().st_mtime == 1_000_000  # untouched: ninja keeps its object
    assert build.sync_tree(src, dest) == 0


def test_missing_compiler_is_reported_before_building(monkeypatch):
    from lockswap.errors import BuildError

    monkeypatch.setenv("CXX", "no-such-cxx-lockswap")
    if sys.platform == "win32":
        pytest.skip("MSVC is found by meson itself")
    with pytest.raises(BuildError, match=r"c\+\+ missing"):
        build._preflight()


def test_threads_suite_finds_threaded_modules_but_not_f2py(tmp_path):
    from lockswap import testsuite

    (tmp_path / "_core" / "tests").mkdir(parents=True)
    (tmp_path / "f2py" / "tests").mkdir(parents=True)
    (tmp_path / "_core" / "tests" / "test_a.py").write_text("import threading\n")
    (tmp_path / "_core" / "tests" / "test_b.py").write_text("import os\n")
    (tmp_path / "f2py" / "tests" / "test_c.py").write_text("import threading\n")
    assert testsuite.threaded_modules(tmp_path) == ["numpy._core.tests.test_a"]
    assert testsuite.selection("threads", tmp_path)[:-1] == ["numpy._core.tests.test_a"]
