"""--sanitizer thread: option validation and cache-key separation (parsing: test_tsan_report.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockswap import cli
from lockswap.base.errors import ConfigError
from lockswap.build import wheel as build
from lockswap.build import wheels
from lockswap.interpreter import sanitizer
from lockswap.interpreter.find import Interpreter
from lockswap.patch.apply import PatchedTree
from lockswap.source.fetch import Source, parse_spec
from lockswap.test import suite as testsuite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tsan"
REPO = Path(__file__).resolve().parents[2]


# --- option validation ---------------------------------------------------------------------------

def test_no_sanitizer_is_none():
    assert sanitizer.validate(None) is None
    assert sanitizer.validate("none") is None


def test_unknown_sanitizer_names_what_works():
    with pytest.raises(ConfigError) as exc:
        sanitizer.validate("address")
    assert "'address' is not supported" in exc.value.message
    assert "--sanitizer thread on Linux" in exc.value.hint


def test_sanitizer_on_windows_is_refused(monkeypatch):
    monkeypatch.setattr(sanitizer.sys, "platform", "win32")
    with pytest.raises(ConfigError) as exc:
        sanitizer.validate("thread")
    assert "cannot be built on win32" in exc.value.message
    assert "--sanitizer thread on Linux" in exc.value.hint


def test_compiler_without_tsan_runtime_is_refused(monkeypatch):
    monkeypatch.setattr(sanitizer.sys, "platform", "linux")
    monkeypatch.setattr(sanitizer.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(sanitizer.toolchain, "require", lambda *v: {"CC": ["gcc"]})
    monkeypatch.setattr(sanitizer, "_probe_compiler", lambda cc: "cannot find -ltsan")
    with pytest.raises(ConfigError) as exc:
        sanitizer.validate("thread")
    assert "cannot find -ltsan" in exc.value.message
    assert "libtsan" in exc.value.hint


def test_thread_validates_on_linux(monkeypatch):
    monkeypatch.setattr(sanitizer.sys, "platform", "linux")
    monkeypatch.setattr(sanitizer.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(sanitizer, "_probe_compiler", lambda cc: None)
    s = sanitizer.validate("thread")
    assert s is not None and s.name == "thread" and s.label == "tsan"


def test_cli_refuses_unsupported_sanitizer_before_any_work(cache, capsys):
    assert cli.main(["build", "--variant", "baseline", "--sanitizer", "memory"]) == 2
    err = capsys.readouterr().err
    assert "--sanitizer 'memory' is not supported" in err
    assert not (cache / "src").exists()  # nothing fetched


def test_test_commands_take_the_option():
    p = cli.parser()
    for argv in (["test", "--variant", "rwlock"], ["test-all"], ["build", "--variant", "rwlock"]):
        assert p.parse_args([*argv, "--sanitizer", "thread"]).sanitizer == "thread"


# --- keys and labels: instrumented builds never mix with ordinary ones -----------------------------

def _patched(tree: Path) -> PatchedTree:
    src = Source(parse_spec("2.1.3"), "2.1.3", tree, "a" * 64)
    return PatchedTree(src, "rwlock", tree, None, "b" * 64)


def _interp(path: str) -> Interpreter:
    return Interpreter(Path(path), "3.13.15", True, "3.13.15 experimental free-threading build", "GCC 12")


def test_ordinary_keys_do_not_change(tmp_path):
    p, i = _patched(tmp_path), _interp("/x/python3.13t")
    assert sanitizer.meson_build_options(None, tmp_path) == ()
    assert sanitizer.key_parts(None) == ()
    assert build.build_key(p, i) == build.build_key(p, i, ())
    assert sanitizer.python_cache_folder(None) == "python"
    assert sanitizer.cpython_configure_flags(None) == ()
    assert sanitizer.variant_label("rwlock", None) == "rwlock"
    assert sanitizer.cpython_install_args(None) == () and sanitizer.cpython_build_env(None) == {}
    assert sanitizer.quiet_env(None) == {} and sanitizer.numpy_build_env(None) == {}


def test_sanitizer_is_part_of_every_key(tmp_path):
    (tmp_path / "meson_options.txt").write_text(
        "option('disable-highway', type: 'boolean', value: false)\n"
        "option('disable-svml', type: 'boolean', value: false)\n")
    p, i = _patched(tmp_path), _interp("/x/python3.13t")
    extra = sanitizer.meson_build_options("thread", tmp_path)
    assert "-Csetup-args=-Db_sanitize=thread" in extra
    assert "-Csetup-args=-Db_lundef=false" in extra
    assert "-Csetup-args=-Dblas=none" in build.BUILD_OPTIONS  # no (uninstrumented) BLAS under TSan
    assert not any("blas" in a for a in extra)  # chosen once, in build.BUILD_OPTIONS
    assert "-Csetup-args=-Ddisable-highway=true" in extra
    assert not any("intel-sort" in a for a in extra)  # not declared by this tree: left out
    tsan_key = build.build_key(p, i, (*extra, *sanitizer.key_parts("thread")))
    assert tsan_key != build.build_key(p, i)
    assert sanitizer.python_cache_folder("thread") == "python-tsan"
    assert sanitizer.cpython_configure_flags("thread") == ("--with-thread-sanitizer",)
    assert sanitizer.cpython_build_env("thread")["TSAN_OPTIONS"] == "report_bugs=0:exitcode=0"
    assert sanitizer.quiet_env("thread")["PIP_NO_COMPILE"] == "1"
    assert "-fsanitize=thread" in sanitizer.numpy_build_env("thread")["LDFLAGS"]
    assert wheels.labelled_version("2.1.3", sanitizer.variant_label("rwlock", "thread")) == \
        "2.1.3+lockswap.rwlock.tsan"


def test_cpython_key_and_folder_differ_and_a_failed_build_leaves_nothing(monkeypatch, cache, tmp_path):
    from lockswap.interpreter import cpython

    tarball = tmp_path / "Python-3.13.15.tar.xz"
    tarball.write_bytes(b"not really")
    finals: list[Path] = []
    real_staging = cpython.paths.staging

    def staging(final, **kw):
        finals.append(final)
        return real_staging(final, **kw)

    def broken_tarball(*a, **k):
        raise ConfigError("the build broke halfway")

    monkeypatch.setattr(cpython, "_preflight", lambda: ["cc"])
    monkeypatch.setattr(cpython.paths, "staging", staging)
    monkeypatch.setattr(cpython.tarfile, "open", broken_tarball)
    for san in (None, "thread"):
        with pytest.raises(ConfigError):
            cpython.build(str(tarball), "3.13", san)
    ordinary, tsan = finals
    assert ordinary.parent.name == "python" and tsan.parent.name == "python-tsan"
    assert ordinary.name != tsan.name  # different keys
    # the ordinary key is the one it always was: source sha256, configure flags, recipe
    sha = cpython.paths.sha256_file(tarball)
    key = cpython.paths.content_key(sha, cpython.CONFIGURE_FLAGS, cpython.RECIPE)
    assert ordinary.name == f"3.13.15t-{key}"
    for folder in (ordinary.parent, tsan.parent):
        assert list(folder.iterdir()) == []  # nothing half-built left behind


def test_interpreter_with_sanitizer_never_takes_an_ordinary_one(monkeypatch, cache, tmp_path):
    from lockswap.interpreter import find as interpreter

    ordinary = interpreter.Interpreter(tmp_path / "python3.13t", "3.13.15", True, "b", "GCC 12")
    monkeypatch.setattr(interpreter, "inspect", lambda exe: ordinary)
    monkeypatch.setattr(sanitizer, "is_instrumented", lambda exe, s: False)
    with pytest.raises(interpreter.BadInterpreter) as exc:
        interpreter.find(str(ordinary.path), sanitizer="thread")
    assert "not configured --with-thread-sanitizer" in exc.value.message

    built: list[tuple] = []
    exe = tmp_path / "tsan" / "python3.13t"
    monkeypatch.setattr("lockswap.interpreter.cpython.build", lambda *a: built.append(a) or exe)
    monkeypatch.setattr(interpreter, "_on_path", lambda want: pytest.fail("PATH is not searched"))
    interpreter.find(None, want="3.13t", cpython_source="src.tar.xz", sanitizer="thread")
    assert built == [("src.tar.xz", "3.13", "thread")]  # nothing cached: an instrumented build


def test_cached_instrumented_interpreter_is_found_by_its_marker(cache):
    prefix = cache / "python-tsan" / "3.13.15t-abc"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3.13t").write_text("")
    sanitizer.write_marker("thread", prefix, "3.13.15")
    s = sanitizer.Sanitizer("thread")
    assert sanitizer.cached_interpreter(s, "3.13") == prefix / "bin" / "python3.13t"
    assert sanitizer.cached_interpreter(s, "3.14") is None
    assert not (cache / "python").exists()  # ordinary interpreters' folder untouched


def test_request_carries_the_sanitizer(monkeypatch, cache):
    from lockswap import cli
    from lockswap.build import pipeline as request
    from lockswap.commands import options

    monkeypatch.setattr(sanitizer, "_probe_compiler", lambda cc: None)
    monkeypatch.setattr(sanitizer.toolchain, "require", lambda *v: {"CC": ["gcc"]})
    monkeypatch.setattr(sanitizer.sys, "platform", "linux")
    monkeypatch.setattr(sanitizer.platform, "machine", lambda: "x86_64")
    p = cli.parser()
    for argv in (["test", "--variant", "rwlock"], ["test-all"], ["build", "--variant", "rwlock"], ["python"]):
        req = options.from_args(p.parse_args([*argv, "--sanitizer", "thread"]), ["baseline"])
        assert req.python.sanitizer == "thread"
        assert options.from_args(p.parse_args(argv), ["baseline"]).python.sanitizer is None
    seen = {}

    def find(explicit, **kw):
        seen.update(kw, tsan_options=os.environ.get("TSAN_OPTIONS"))
        return "interp"

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "TSAN_OPTIONS"})
    monkeypatch.setattr(request.interpreter, "find", find)
    req = options.from_args(p.parse_args(["build", "--variant", "baseline", "--sanitizer", "thread"]),
                            ["baseline"])
    assert req.interpreter == "interp"
    assert seen["sanitizer"] == "thread" and seen["tsan_options"] == sanitizer.QUIET


def test_results_of_tsan_runs_have_their_own_files():
    assert testsuite.result_stem("2.1.3", "3.13t", "rwlock", "quick") == "test-2.1.3-3.13t-rwlock-quick"
    assert testsuite.result_stem("2.1.3", "3.13t", "rwlock", "quick", "thread") == \
        "test-2.1.3-3.13t-rwlock-quick-tsan"
    assert "sanitizer" not in testsuite.TestOptions().to_json()
    assert testsuite.TestOptions(sanitizer="thread").to_json()["sanitizer"] == "thread"


def test_stress_runs_under_tsan_are_smaller_and_wait_longer(tmp_path):
    plain = testsuite.TestOptions(suite="stress")
    tsan = testsuite.TestOptions(suite="stress", sanitizer="thread")
    assert testsuite.per_test(plain) == 900 and testsuite.per_test(tsan) == 900 * 4
    args = testsuite._pytest_args(tsan, ["x"], tmp_path / "j.xml", tmp_path)
    assert "--timeout=3600" in args
    env = sanitizer.stress_env("thread")
    assert sanitizer.stress_env(None) == {}
    # every knob is read by the stress files, so none is set for nothing
    extra = (REPO / "scripts" / "lockswap" / "numpy_extra")
    text = "".join(p.read_text() for p in extra.glob("*stress*.py"))
    assert env and all(name in text for name in env), [n for n in env if n not in text]
    assert float(env["LOCKSWAP_STRESS_WATCHDOG"]) > 300


def test_numpy_whose_asserts_need_python_314_builds_without_asserts_on_313t(tmp_path):
    """NumPy 2.5.5's npy_hashtable.c asserts PyMutex_IsLocked (3.14 API): a debugoptimized TSan
    build on 3.13t failed to import (undefined symbol), so such trees get -Db_ndebug=true there."""
    src = tmp_path / "numpy" / "_core" / "src" / "common"
    src.mkdir(parents=True)
    (src / "npy_hashtable.c").write_text("assert(PyMutex_IsLocked(&tb->mutex));\n")
    assert "-Csetup-args=-Db_ndebug=true" in sanitizer.meson_build_options("thread", tmp_path, "3.13t")
    assert "-Csetup-args=-Db_ndebug=true" not in sanitizer.meson_build_options("thread", tmp_path, "3.14t")
    (src / "npy_hashtable.c").write_text("/* 2.1.3: PyMutex_Lock only */\n")
    assert "-Csetup-args=-Db_ndebug=true" not in sanitizer.meson_build_options("thread", tmp_path, "3.13t")
    assert sanitizer.meson_build_options(None, tmp_path, "3.13t") == ()
