"""The Windows/macOS compile check (lockswap.build.crosscheck): real zig cc on tiny fixtures.

``tests/fixtures/crosscheck/broken_win32.c`` is ``good.c`` with a broken ``#ifdef _WIN32`` branch
(an SRWLOCK passed by value): gcc on Linux accepts it, the check's Windows target does not.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from lockswap import cli
from lockswap.base import errors, toolchain
from lockswap.base.errors import ConfigError, ToolMissing
from lockswap.build import crosscheck
from lockswap.commands import crosscheck as command

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crosscheck"
REPO = Path(__file__).resolve().parents[2]
C11 = crosscheck.Flags("c", (), ("-std=c11",), "fixture.o")


def env(name: str, tmp_path: Path) -> crosscheck.Env:
    (tmp_path / "overlay").mkdir(exist_ok=True)
    return crosscheck.Env(crosscheck.TARGETS[name], tmp_path / "overlay", tmp_path / "no-python-headers")


@pytest.fixture(scope="module")
def zig() -> list[str]:
    return crosscheck.zig()  # ziglang is a test requirement


def test_gcc_on_linux_accepts_the_broken_windows_branch():
    cc = toolchain.compiler("CC")
    if not shutil.which(cc[-1]):
        pytest.skip("no host C compiler")
    got = subprocess.run([*cc, "-std=c11", "-Wall", "-Werror", "-fsyntax-only", FIXTURES / "broken_win32.c"],
                         capture_output=True, text=True, check=False)
    assert got.returncode == 0, got.stderr


def test_the_check_fails_the_broken_windows_branch_and_passes_linux(zig, tmp_path):
    broken = FIXTURES / "broken_win32.c"
    linux = crosscheck.compile_source(zig, env("linux", tmp_path), C11, broken)
    windows = crosscheck.compile_source(zig, env("windows", tmp_path), C11, broken)
    assert linux == crosscheck.Compiled(True, "")
    assert not windows.ok
    assert "broken_win32.c:7:" in windows.errors and "error:" in windows.errors
    assert "SRWLOCK" in windows.errors  # the compiler's own words, first errors only


@pytest.mark.parametrize("target", ["windows", "macos", "linux"])
def test_the_good_file_compiles_for_every_target(zig, tmp_path, target):
    assert crosscheck.compile_source(zig, env(target, tmp_path), C11, FIXTURES / "good.c").ok


def test_baseline_first_blames_the_patch_only_when_baseline_compiles(zig, tmp_path):
    e = env("windows", tmp_path)
    good = crosscheck.compile_source(zig, e, C11, FIXTURES / "good.c")
    bad = crosscheck.compile_source(zig, e, C11, FIXTURES / "broken_win32.c")
    status, detail = crosscheck.verdict([("dispatching.c", good, bad)])
    assert status == "failed" and detail.startswith("dispatching.c: ") and "SRWLOCK" in detail
    status, detail = crosscheck.verdict([("dispatching.c", bad, bad)])
    assert status == "baseline"
    assert detail.startswith("baseline does not compile for this target: dispatching.c: ")
    both = [("a.c", good, good), ("b.c", good, good)]
    assert crosscheck.verdict(both) == ("ok", "2 files compile: a.c, b.c")


def test_every_target_defines_what_it_must(zig, tmp_path):
    pyinc = tmp_path / "py"
    pyinc.mkdir()
    # as Python.h with its pyconfig.h (Windows': PC/pyconfig.h) does
    (pyinc / "Python.h").write_text("#define Py_GIL_DISABLED 1\n#ifdef _WIN32\n#define MS_WINDOWS\n#endif\n")
    for target in crosscheck.TARGETS.values():
        found = crosscheck.probe(zig, target, {"HAVE_FEATURES_H": "features.h"}, pyinc)
        assert found == {"HAVE_FEATURES_H": target.name == "linux"}
    lying = crosscheck.CrossTarget("windows", "x86_64-linux-gnu", (), ("_WIN32",), False)
    with pytest.raises(errors.BuildError, match="does not define _WIN32"):
        crosscheck.probe(zig, lying, {}, pyinc)


def test_compile_commands_keep_includes_defines_and_target_flags(tmp_path):
    command_line = ("ccache c++ -Inumpy/_core -I../src/numpy/_core/src/common -I/py/include "
                    "-fvisibility=hidden -DNDEBUG -Wall -std=c++17 -O3 -msse3 -DNPY_HAVE_SSE3 -fPIC "
                    "-fno-exceptions -fno-rtti -MD -MQ out.o -MF out.o.d -o out.o -c ../src/x.cpp")
    flags = crosscheck.parse_command(command_line, tmp_path / "build", "out.o", ".cpp")
    assert flags.language == "c++"
    assert flags.includes == ((tmp_path / "build/numpy/_core").resolve(),
                              (tmp_path / "src/numpy/_core/src/common").resolve(), Path("/py/include"))
    assert flags.other == ("-DNDEBUG", "-std=c++17", "-msse3", "-DNPY_HAVE_SSE3", "-fno-exceptions",
                           "-fno-rtti")


def test_overlay_answers_header_probes_and_sizes_for_the_target():
    host = ("#define NPY_HAVE_ENDIAN_H 1\n#define NPY_SIZEOF_LONG 8\n#define NPY_SIZEOF_OFF_T 8\n"
            "#define HAVE_FEATURES_H 1\n/* #undef HAVE_XLOCALE_H */\n#define HAVE_SYS_MMAN_H 1\n")
    got = crosscheck.overlay_text(host, {"NPY_HAVE_ENDIAN_H": False, "HAVE_FEATURES_H": False,
                                         "HAVE_XLOCALE_H": True, "HAVE_SYS_MMAN_H": True})
    assert got == ("/* #undef NPY_HAVE_ENDIAN_H */\n#define NPY_SIZEOF_LONG __SIZEOF_LONG__\n"
                   "#define NPY_SIZEOF_OFF_T 8\n/* #undef HAVE_FEATURES_H */\n/* #undef HAVE_XLOCALE_H */\n"
                   "#define HAVE_SYS_MMAN_H 1\n")


def test_sources_are_the_c_and_cpp_files_a_patch_touches():
    assert crosscheck.sources(REPO / "patches/2.1.3/tls.patch") == [
        "numpy/_core/src/common/npy_hashtable.c", "numpy/_core/src/multiarray/multiarraymodule.c",
        "numpy/_core/src/umath/dispatching.c"]
    assert crosscheck.sources(REPO / "patches/2.5.5/rwlock.patch") == [
        "numpy/_core/src/common/npy_hashtable.c", "numpy/_core/src/multiarray/multiarraymodule.c"]


def _args(**kw: str) -> argparse.Namespace:
    base = {"variants": "", "numpy": "", "targets": "windows,macos", "python": None, "cpython_source": None,
            "python_version": None}
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize(("kw", "message"), [
    ({"variants": "nosuch"}, "unknown variant: nosuch"),
    ({"variants": "baseline"}, "unknown variant: baseline"),  # nothing to check: no patch
    ({"numpy": "9.9.9"}, "unknown NumPy version: 9.9.9"),
    ({"targets": "beos"}, "unknown target: beos"),
    ({"variants": "lockfree", "numpy": "2.5.5"}, "no patch of lockfree for NumPy 2.5.5"),
])
def test_bad_input_is_one_error_before_any_work(kw, message):
    with pytest.raises(ConfigError, match=message) as exc:
        command.run(_args(**kw))
    assert exc.value.hint


def test_missing_zig_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(crosscheck.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(crosscheck.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissing, match="zig") as exc:
        crosscheck.zig()
    assert "pip install ziglang" in exc.value.hint
    assert cli.main(["crosscheck", "--variants", "rwlock", "--numpy", "2.1.3"]) == errors.EXIT_TOOL
    shown = capsys.readouterr()
    assert "nox -s crosscheck" in shown.out + shown.err


def test_table_names_every_row():
    rows = [crosscheck.Row("rwlock", "2.1.3", "windows", "ok", "1 file compiles: a.c"),
            crosscheck.Row("tls", "2.5.5", "macos", "failed", "a.c: error: x"),
            crosscheck.Row("dict", "2.2.6", "windows", "baseline",
                           "baseline does not compile for this target: y")]
    lines = command.table(rows).splitlines()
    assert lines[0].split() == ["variant", "numpy", "target", "result", "detail"]
    assert lines[1].split()[:4] == ["rwlock", "2.1.3", "windows", "ok"]
    assert lines[2].split()[:4] == ["tls", "2.5.5", "macos", "FAIL"]
    assert lines[3].split()[:4] == ["dict", "2.2.6", "windows", "n/a"]


def test_meson_setup_runs_the_meson_the_tree_names(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.meson-python]\nmeson = 'vendored-meson/meson/meson.py'\n")
    python, bin_dir = Path("/venv/bin/python"), Path("/venv/bin")
    assert crosscheck.meson_command(tmp_path, python, bin_dir) == [
        python, tmp_path / "vendored-meson/meson/meson.py"]
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'numpy'\n")
    assert crosscheck.meson_command(tmp_path, python, bin_dir) == [bin_dir / "meson"]
