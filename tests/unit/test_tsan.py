"""--sanitizer thread: option validation, cache-key separation, TSan report parsing and verdict."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lockswap import build, cli, sanitizer, testsuite, tsan_report, tsan_run, wheels
from lockswap.errors import ConfigError
from lockswap.interpreter import Interpreter
from lockswap.patching import PatchedTree
from lockswap.source import Source, parse_spec

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
    from lockswap import cpython

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
    from lockswap import interpreter

    ordinary = interpreter.Interpreter(tmp_path / "python3.13t", "3.13.15", True, "b", "GCC 12")
    monkeypatch.setattr(interpreter, "inspect", lambda exe: ordinary)
    monkeypatch.setattr(sanitizer, "is_instrumented", lambda exe, s: False)
    with pytest.raises(interpreter.BadInterpreter) as exc:
        interpreter.find(str(ordinary.path), sanitizer="thread")
    assert "not configured --with-thread-sanitizer" in exc.value.message

    built: list[tuple] = []
    exe = tmp_path / "tsan" / "python3.13t"
    monkeypatch.setattr("lockswap.cpython.build", lambda *a: built.append(a) or exe)
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
    from lockswap import cli, request

    monkeypatch.setattr(sanitizer, "_probe_compiler", lambda cc: None)
    monkeypatch.setattr(sanitizer.toolchain, "require", lambda *v: {"CC": ["gcc"]})
    monkeypatch.setattr(sanitizer.sys, "platform", "linux")
    monkeypatch.setattr(sanitizer.platform, "machine", lambda: "x86_64")
    p = cli.parser()
    for argv in (["test", "--variant", "rwlock"], ["test-all"], ["build", "--variant", "rwlock"], ["python"]):
        req = request.from_args(p.parse_args([*argv, "--sanitizer", "thread"]), ["baseline"])
        assert req.python.sanitizer == "thread"
        assert request.from_args(p.parse_args(argv), ["baseline"]).python.sanitizer is None
    seen = {}

    def find(explicit, **kw):
        seen.update(kw, tsan_options=os.environ.get("TSAN_OPTIONS"))
        return "interp"

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "TSAN_OPTIONS"})
    monkeypatch.setattr(request.interpreter, "find", find)
    req = request.from_args(p.parse_args(["build", "--variant", "baseline", "--sanitizer", "thread"]),
                            ["baseline"])
    assert req.interpreter == "interp"
    assert seen["sanitizer"] == "thread" and seen["tsan_options"] == sanitizer.QUIET


def test_results_of_tsan_runs_have_their_own_files():
    assert testsuite.result_stem("2.1.3", "3.13t", "rwlock", "quick") == "test-2.1.3-3.13t-rwlock-quick"
    assert testsuite.result_stem("2.1.3", "3.13t", "rwlock", "quick", "thread") == \
        "test-2.1.3-3.13t-rwlock-quick-tsan"
    assert "sanitizer" not in testsuite.TestOptions().to_json()
    assert testsuite.TestOptions(sanitizer="thread").to_json()["sanitizer"] == "thread"


# --- report parsing ------------------------------------------------------------------------------

def test_parse_real_gcc_data_race():
    parsed = tsan_report.parse_files([FIXTURES / "racy-gcc12.log"])
    assert parsed.unparsed == [] and parsed.reports == 1
    (race,) = parsed.races.values()
    assert race.kind == "data race"
    assert race.signature == "data race: bump < worker | bump < worker"
    assert race.summary.startswith("data race ") and race.summary.endswith("in bump")
    assert "Previous write of size 4" in race.example


def test_parse_real_lock_order_inversion():
    parsed = tsan_report.parse_files([FIXTURES / "lock-order-gcc12.log"])
    (race,) = parsed.races.values()
    assert race.kind == "lock-order-inversion (potential deadlock)"
    assert race.stacks == [["pthread_mutex_lock", "lock_ab", "main"],
                           ["pthread_mutex_lock", "lock_ba", "main"]]


def _swap_and_move(text: str) -> str:
    """The same race seen from the other side, in another process, at other addresses."""
    text = re.sub(r"0x[0-9a-f]+", "0xdeadbeef", text).replace("pid=4518", "pid=999")
    text = text.replace("bump /tmp/tsan-w/racy.c:4", "bump /elsewhere/racy.c:44")
    return text.replace("by thread T2", "by thread T7")


def test_same_race_is_one_entry_with_a_count(tmp_path):
    raw = (FIXTURES / "racy-gcc12.log").read_text()
    (tmp_path / "tsan.1").write_text(raw)
    (tmp_path / "tsan.2").write_text(_swap_and_move(raw) + raw)
    parsed = tsan_report.parse_files(sorted(tmp_path.iterdir()))
    assert parsed.reports == 3 and len(parsed.races) == 1
    (race,) = parsed.races.values()
    assert race.count == 3 and len(race.files) == 2


def test_stack_order_does_not_matter():
    a = tsan_report.parse_report(
        "WARNING: ThreadSanitizer: data race (pid=1)\n"
        "  Write of size 8 at 0x1 by thread T1:\n    #0 f a.c:1 (m.so+0x1)\n    #1 g a.c:2 (m.so+0x2)\n\n"
        "  Previous read of size 8 at 0x1 by main thread:\n    #0 h b.c:1 (m.so+0x3)\n\n"
        "SUMMARY: ThreadSanitizer: data race a.c:1 in f\n")
    b = tsan_report.parse_report(
        "WARNING: ThreadSanitizer: data race (pid=2)\n"
        "  Read of size 8 at 0x2 by thread T3:\n    #0 h b.c:1 (m.so+0x3)\n\n"
        "  Previous write of size 8 at 0x2 by thread T4 (mutexes: write M0):\n"
        "    #0 f a.c:1 (m.so+0x1)\n    #1 g a.c:2 (m.so+0x2)\n\n"
        "SUMMARY: ThreadSanitizer: data race b.c:1 in h\n")
    assert a.signature == b.signature == "data race: f < g | h"
    assert not a.in_numpy


def test_races_in_numpy_code_are_marked():
    r = tsan_report.parse_report(
        "WARNING: ThreadSanitizer: data race (pid=1)\n"
        "  Write of size 8 at 0x1 by thread T1:\n"
        "    #0 ufunc_generic_fastcall ../src/numpy/_core/src/umath/ufunc_object.c:4296 "
        "(_multiarray_umath.cpython-313t-x86_64-linux-gnu.so+0x2d5e1a)\n\n"
        "  Previous write of size 8 at 0x1 by main thread:\n    #0 h b.c:1 (m.so+0x3)\n\n"
        "  Thread T1 (tid=5, running) created by main thread at:\n"
        "    #0 pthread_create x.cpp:1 (libtsan.so.2+0x1)\n\n"
        "SUMMARY: ThreadSanitizer: data race b.c:1 in h\n")
    assert r.in_numpy and r.signature == "data race: h | ufunc_generic_fastcall"


@pytest.mark.parametrize("frame, name", [
    ("bump /tmp/racy.c:4 (racy+0x11d7)", "bump"),
    ("bump /tmp/racy.c:4:7 (racy+0x11d7)", "bump"),
    ("<null> <null> (libfoo.so.1+0x1234)", "<libfoo.so.1>"),
    ("memcpy ../../../../src/libsanitizer/sanitizer_common/sanitizer_common_interceptors.inc:827 "
     "(libtsan.so.2+0x62d2c)", "memcpy"),
    ("std::__shared_mutex_pthread::lock_shared() /usr/include/c++/12/shared_mutex:228 "
     "(_multiarray_umath.cpython-313t-x86_64-linux-gnu.so+0x4a1b2)",
     "std::__shared_mutex_pthread::lock_shared()"),
    ("PyArrayIdentityHash_GetItem (/venv/lib/numpy/_core/_multiarray_umath.so+0x1b2)",
     "PyArrayIdentityHash_GetItem"),
    ("foo+0x12 (python3.13t+0x99)", "foo"),
])
def test_function_names_without_addresses(frame, name):
    assert tsan_report.function_name(frame) == name


def test_failed_stack_restore_is_kept_as_a_marker():
    r = tsan_report.parse_report(
        "WARNING: ThreadSanitizer: data race (pid=1)\n"
        "  Write of size 8 at 0x1 by thread T1:\n    #0 f a.c:1 (m.so+0x1)\n\n"
        "  Previous read of size 8 at 0x1 by main thread:\n    [failed to restore the stack]\n\n"
        "SUMMARY: ThreadSanitizer: data race a.c:1 in f\n")
    assert r.stacks == (("<stack not restored>",), ("f",))


def test_truncated_report_is_unparsed():
    raw = (FIXTURES / "racy-gcc12.log").read_text()
    parsed = tsan_report.parse_text(raw[: raw.index("SUMMARY")], "tsan.7")
    assert parsed.races == {} and len(parsed.unparsed) == 1
    assert "never ends" in parsed.unparsed[0].why


def test_tsan_crash_text_is_unparsed():
    parsed = tsan_report.parse_text(
        "FATAL: ThreadSanitizer: unexpected memory mapping 0x7f0000000000-0x7f0000001000\n", "tsan.8")
    assert len(parsed.unparsed) == 1 and parsed.unparsed[0].file == "tsan.8"
    msg = tsan_run.unparsed_message({"unparsed": [u.__dict__ for u in parsed.unparsed]})
    assert "could not be parsed" in msg and "tsan.8" in msg


def test_report_without_summary_is_unparsed():
    parsed = tsan_report.parse_text(
        "==================\nWARNING: ThreadSanitizer: data race (pid=1)\n"
        "  Write of size 8 at 0x1 by thread T1:\n    #0 f a.c:1 (m.so+0x1)\n==================\n", "x")
    assert len(parsed.unparsed) == 1 and "SUMMARY" in parsed.unparsed[0].why


def test_benign_trailer_is_accepted():
    parsed = tsan_report.parse_text("ThreadSanitizer: reported 3 warnings\n\n", "x")
    assert parsed.unparsed == [] and parsed.reports == 0


# --- verdict -------------------------------------------------------------------------------------

def _collected(tmp_path: Path, name: str, *logs: str) -> dict[str, object]:
    folder = tsan_run.log_dir(tmp_path, name)
    folder.mkdir(parents=True)
    for i, text in enumerate(logs):
        (folder / f"tsan.{i}").write_text(text)
    return tsan_run.collect(tmp_path, name)


def test_new_race_fails_and_baseline_race_is_listed(tmp_path):
    racy = (FIXTURES / "racy-gcc12.log").read_text()
    inversion = (FIXTURES / "lock-order-gcc12.log").read_text()
    base = _collected(tmp_path, "base", racy)
    variant = _collected(tmp_path, "rwlock", racy, inversion)
    new = tsan_run.new_races(variant, base)
    assert new == ["race: lock-order-inversion (potential deadlock): pthread_mutex_lock < lock_ab < main | "
                   "pthread_mutex_lock < lock_ba < main"]
    assert tsan_run.new_races(base, base) == []

    def result(variant_name, tsan):
        counts = dict.fromkeys(testsuite._COUNTED, 0)
        return testsuite.TestResult(variant_name, "2.1.3", "quick", "3.13t", counts, [], 1.0, "", {}, {}, [],
                                    tsan=tsan)

    rows = [(result("baseline", base), []), (result("rwlock", variant), testsuite.new_failures(
        result("rwlock", variant), result("baseline", base)))]
    assert rows[1][1] == new
    text = testsuite.table(rows)
    assert "| rwlock |" in text and "new failures" in text
    assert "[baseline] data race: bump < worker" in text  # listed, not hidden
    assert "[also in baseline] data race: bump < worker" in text
    assert "[NEW] lock-order-inversion" in text


def test_ordinary_runs_have_no_race_verdict():
    assert tsan_run.new_races({}, {}) == []
    assert tsan_run.summary_lines([]) == []


def test_suppressions_prepared_with_cpython_list(tmp_path):
    prefix = tmp_path / "py"
    (prefix / "bin").mkdir(parents=True)
    exe = prefix / "bin" / "python3.13t"
    exe.write_text("")
    cpy = prefix / sanitizer.CPYTHON_SUPPRESSIONS
    cpy.parent.mkdir(parents=True)
    cpy.write_text("race_top:assign_version_tag\n")
    env = tsan_run.prepare(tmp_path / "results", "stem", exe)
    opts = dict(kv.split("=", 1) for kv in env["TSAN_OPTIONS"].split(":"))
    assert opts["halt_on_error"] == "0" and opts["log_path"].endswith("stem.tsan/tsan")
    text = Path(opts["suppressions"]).read_text()
    assert "race:PyArray_Nonzero" in text and "race_top:assign_version_tag" in text


# --- the suppressions file -----------------------------------------------------------------------

DISPATCH = re.compile(r"dispatch|hashtable|IdentityHash|promote_and_get|ufuncimpl|resolve_implementation"
                      r"|_loops|lockswap", re.I)


def test_every_suppression_has_a_reason_and_spares_the_dispatch_cache():
    lines = sanitizer.SUPPRESSIONS.read_text().splitlines()
    entries = 0
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith("#"):
            continue
        entries += 1
        kind, _, pattern = line.partition(":")
        assert kind in ("race", "race_top", "thread", "mutex", "signal", "deadlock", "called_from_lib"), line
        assert not DISPATCH.search(pattern), f"never suppress the dispatch cache: {line}"
        above = i - 1
        while above >= 0 and lines[above].strip() and not lines[above].startswith("#"):
            above -= 1  # a group of entries shares the comment above it
        assert above >= 0 and lines[above].startswith("#"), f"no comment says why: {line}"
    assert entries > 0
    assert sanitizer.SUPPRESSIONS == REPO / "ci" / "tsan_suppressions.txt"


# --- where TSan results and tests show up ---------------------------------------------------------

def test_report_keeps_tsan_verdicts_apart_and_counts_races(tmp_path):
    from lockswap import results

    racy = (FIXTURES / "racy-gcc12.log").read_text()
    doc = {"kind": "lockswap-test", "schema_version": testsuite.SCHEMA, "variant": "rwlock",
           "numpy_version": "2.1.3", "python": "3.13t", "suite": "quick", "counts": {"passed": 3},
           "failing": [], "options": {"suite": "quick", "sanitizer": "thread"},
           "tsan": _collected(tmp_path, "rwlock", racy)}
    t = results.TestVerdict.of(tmp_path / "t.json", doc)
    assert t.suite == "quick+tsan" and t.failing == ("race: data race: bump < worker | bump < worker",)
    plain = results.TestVerdict.of(tmp_path / "p.json", {**doc, "options": {"suite": "quick"}, "tsan": {}})
    assert plain.suite == "quick" and plain.failing == ()


def test_default_test_session_leaves_the_tsan_e2e_test_out():
    noxfile = (REPO / "noxfile.py").read_text()
    assert 'session.posargs or ["tests", "-m", "not tsan"]' in noxfile
    e2e = (REPO / "tests" / "e2e" / "test_sanitizer_e2e.py").read_text()
    assert "pytestmark = [pytest.mark.tsan]" in e2e
    assert "nox -s tests -- -m tsan" in (REPO / "README.md").read_text()
