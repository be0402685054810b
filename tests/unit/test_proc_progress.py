"""proc.run's progress lines, stdin and streaming; the staging and atomic-output helpers."""

from __future__ import annotations

import shutil
import sys

import pytest

from lockswap.base import paths, proc

LOOP = ('i=1; while [ $i -le 6 ]; do echo "[$i/6] Compiling C object f$i.o"; echo "note $i"; '
        'sleep 0.2; i=$((i+1)); done')


@pytest.mark.skipif(not shutil.which("sh"), reason="needs a POSIX shell")
def test_a_long_logged_command_prints_progress_lines(tmp_path, capsys):
    logf = tmp_path / "build.log"
    proc.run(["sh", "-c", LOOP], log_file=logf, heartbeat=0.05)
    err = capsys.readouterr().err
    beats = [ln for ln in err.splitlines() if "elapsed" in ln]
    assert beats, err  # a command running for a second, beating every 0.05 s, said something
    assert all(f"(log: {logf})" in ln for ln in beats)
    assert any("Compiling C object" in ln and "/6]" in ln for ln in beats)  # ninja's line, not "note"
    assert "[6/6]" in logf.read_text()


def test_a_quick_command_prints_no_progress(tmp_path, capsys):
    proc.run([sys.executable, "-c", "print('hi')"], log_file=tmp_path / "x.log", heartbeat=30)
    assert "elapsed" not in capsys.readouterr().err


def test_last_progress_prefers_the_ninja_line(tmp_path):
    logf = tmp_path / "x.log"
    logf.write_text("configure\n[12/340] Compiling C object a.o\nwarning: something\n\n")
    assert proc.ProgressReader(logf)() == "[12/340] Compiling C object a.o"
    logf.write_text("checking for gcc... yes\n")
    assert proc.ProgressReader(logf)() == "checking for gcc... yes"
    assert proc.ProgressReader(tmp_path / "none.log")() == ""


def test_input_goes_to_stdin():
    got = proc.run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], input="abc\n")
    assert got.stdout.strip() == "ABC"
    with pytest.raises(ValueError):
        proc.run(["true"], input="x", stream=True)


def test_stream_prints_as_it_goes_and_captures_nothing(capfd):
    got = proc.run([sys.executable, "-c", "print('streamed line')"], stream=True, echo=False)
    assert got.stdout == "" and "streamed line" in capfd.readouterr().out


def test_staging_commits_only_a_complete_block(tmp_path):
    final = tmp_path / "entry"
    with pytest.raises(KeyboardInterrupt), paths.staging(final) as stage:
        (stage.path / "half").write_text("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # no entry, no staging directory
    with paths.staging(final) as stage:
        (stage.path / "whole").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["entry"] and (final / "whole").exists()
    with paths.staging(final) as stage:  # a concurrent winner is kept
        (stage.path / "other").write_text("x")
    assert (final / "whole").exists() and not (final / "other").exists()
    with paths.staging(final, replace=True) as stage:
        (stage.path / "other").write_text("x")
    assert (final / "other").exists() and [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_staging_result_can_be_a_folder_inside(tmp_path):
    final = tmp_path / "python"
    with paths.staging(final) as stage:
        (stage.path / "root" / "prefix").mkdir(parents=True)
        (stage.path / "root" / "prefix" / "bin").write_text("x")
        (stage.path / "objects").write_text("x")
        stage.result = stage.path / "root" / "prefix"
    assert [p.name for p in final.iterdir()] == ["bin"] and [p.name for p in tmp_path.iterdir()] == ["python"]


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a.whl"
    with pytest.raises(KeyboardInterrupt), paths.atomic_output(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with paths.atomic_output(target) as tmp:
        tmp.write_text("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["a.whl"] and target.read_text() == "whole"


def test_the_ninja_line_stays_found_under_megabytes_of_warnings(tmp_path):
    logf = tmp_path / "build.log"
    logf.write_text("  [48/156] Compiling C++ object x86_simd_qsort.o\n")
    follow = proc.ProgressReader(logf)
    assert follow() == "[48/156] Compiling C++ object x86_simd_qsort.o"
    with logf.open("a") as fh:
        fh.write("warning: '__Y' is used uninitialized\n" * 100_000)  # ~3.7 MB after the step
    assert follow() == "[48/156] Compiling C++ object x86_simd_qsort.o"
    with logf.open("a") as fh:
        fh.write("[49/156] Linking target _multiarray_umath.so\n")
    assert follow() == "[49/156] Linking target _multiarray_umath.so"
    assert proc.ProgressReader(logf)() == "[49/156] Linking target _multiarray_umath.so"
