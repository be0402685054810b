"""--sanitizer thread: TSan report parsing and dedup, the race verdict, the suppressions file, the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lockswap.interpreter import sanitizer
from lockswap.test import suite as testsuite
from lockswap.test import tsan_report, tsan_run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tsan"
REPO = Path(__file__).resolve().parents[2]


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


def test_parse_real_one_stack_report_without_a_section_title():
    """'signal handler spoils errno' (here: faulthandler's SIGUSR1 dump of a case the stress runner
    stopped as stalled) lists its one stack right under the header, with no "by thread" title."""
    parsed = tsan_report.parse_files([FIXTURES / "signal-errno-gcc12.log"])
    assert parsed.unparsed == [] and parsed.reports == 1
    (race,) = parsed.races.values()
    assert race.kind == "signal handler spoils errno"
    assert race.stacks == [["faulthandler_user", "select_poll_poll_impl", "select_poll_poll"]]
    assert not race.in_numpy


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
    new = tsan_run.new_races(variant, base, "2.1.3")
    assert new == ["race: lock-order-inversion (potential deadlock): pthread_mutex_lock < lock_ab < main | "
                   "pthread_mutex_lock < lock_ba < main"]
    assert tsan_run.new_races(base, base, "2.1.3") == []

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
    assert tsan_run.new_races({}, {}, "2.1.3") == []
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
    from lockswap.report import results

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


def test_a_known_upstream_race_is_listed_but_never_new(tmp_path):
    """Real gcc 12 TSan output of a 2.1.3 rwlock stress run: NumPy 2.1's lazily cached reduction
    initial (legacy_array_method.c), which baseline's run hits or not depending on timing."""
    real = (FIXTURES / "reduction-initial-2.1.3-gcc12.log").read_text()
    base = _collected(tmp_path, "base", "")
    variant = _collected(tmp_path, "rwlock", real)
    assert len(variant["races"]) == 2 and not variant["unparsed"]
    assert all(tsan_run.known_upstream(r, "2.1.3").startswith("lazy_reduction_initial:")
               for r in variant["races"].values())
    assert tsan_run.new_races(variant, base, "2.1.3") == []
    assert len(tsan_run.new_races(variant, base, "2.2.6")) == 2  # fixed upstream in 2.2: new there

    counts = dict.fromkeys(testsuite._COUNTED, 0)
    rows = [(testsuite.TestResult(v, "2.1.3", "stress", "3.13t", counts, [], 1.0, "", {}, {}, [], tsan=t), [])
            for v, t in (("baseline", base), ("rwlock", variant))]
    text = testsuite.table(rows)
    assert text.count("[known upstream, lazy_reduction_initial]") == 2 and "as baseline" in text

    from lockswap.report import results
    doc = {"variant": "rwlock", "numpy_version": "2.1.3", "python": "3.13t", "suite": "stress",
           "counts": counts, "failing": [], "options": {"sanitizer": "thread"}, "tsan": variant}
    assert results.TestVerdict.of(tmp_path / "t.json", doc).failing == ()  # the report agrees
    doc["numpy_version"] = "2.2.6"
    assert len(results.TestVerdict.of(tmp_path / "t.json", doc).failing) == 2


def test_known_upstream_races_never_name_a_dispatch_cache_frame():
    data = json.loads(tsan_run.KNOWN_UPSTREAM.read_text())
    frames = {f for entries in data["races"].values() for e in entries for f in e["frames"]}
    assert frames and not {f for f in frames if "dispatch" in f.lower() or "identity_hash" in f.lower()
                           or "promote_and_get" in f.lower()}
