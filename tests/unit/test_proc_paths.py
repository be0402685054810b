from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lockswap.base import paths, proc
from lockswap.base.errors import CommandError
from lockswap.build import wheel as build


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
    os.utime(dest / "same.c", (1_000_000, 1_000_000))
    assert build.sync_tree(src, dest) == 2
    assert (dest / "d" / "changed.c").read_text() == "new" and not (dest / "stale.c").exists()
    assert (dest / "same.c").stat().st_mtime == 1_000_000  # untouched: ninja keeps its object
    assert build.sync_tree(src, dest) == 0


SDIST_TIME = 1_600_000_000  # the mtime files of an unpacked sdist carry (2020)


def _tree(root: Path, text: str) -> Path:
    """A variant's tree: ``gen.c.src`` (templated into ``gen.c`` like NumPy's loops.c.src) + main.c."""
    root.mkdir(parents=True)
    (root / "gen.c.src").write_text(f'const char *which = "{text}";\n')
    (root / "main.c").write_text("int main(void) { return 0; }\n")
    for f in root.iterdir():
        os.utime(f, (SDIST_TIME, SDIST_TIME))
    return root


def test_a_variant_after_another_rebuilds_the_files_put_back_to_pristine(tmp_path):
    """The build slot on a real ninja: pristine -> variant (patches gen.c.src) -> pristine again.

    The last build must contain the pristine template again. Restoring gen.c.src with the sdist's
    mtime (older than the generated gen.c) made ninja keep the variant's output: every variant
    built after another one carried the previous variant's changes.
    """
    ninja = shutil.which("ninja", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                        os.environ.get("PATH", "")]))
    assert ninja, "ninja is a test requirement (pip install -e '.[test]')"
    pristine, variant = _tree(tmp_path / "pristine", "pristine"), _tree(tmp_path / "variant", "pristine")
    (variant / "gen.c.src").write_text('const char *which = "variant";\n')  # as `git apply` does: now
    slot = tmp_path / "slot"
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "build.ninja").write_text(
        "rule template\n  command = cp $in $out\n"
        f"build gen.c: template {slot / 'src' / 'gen.c.src'}\n")

    def build_from(tree: Path) -> str:
        build.sync_tree(tree, slot / "src")
        subprocess.run([ninja, "-C", str(tmp_path / "build")], check=True, capture_output=True)
        return (tmp_path / "build" / "gen.c").read_text()

    assert "pristine" in build_from(pristine)
    first = (slot / "src" / "main.c").stat().st_mtime
    assert "variant" in build_from(variant)
    assert "pristine" in build_from(pristine)
    assert (slot / "src" / "main.c").stat().st_mtime == first  # same in every variant: never rewritten


def test_missing_compiler_is_reported_before_building(monkeypatch):
    from lockswap.base import toolchain
    from lockswap.base.errors import EXIT_TOOL, ToolMissing

    monkeypatch.setenv("CXX", "no-such-cxx-lockswap")
    if sys.platform == "win32":
        pytest.skip("MSVC is found by meson itself")
    with pytest.raises(ToolMissing, match=r"C\+\+ \(no-such-cxx-lockswap\) missing") as err:
        toolchain.require("CC", "CXX")
    assert err.value.exit_code == EXIT_TOOL


def test_compiler_variables_are_split_like_a_shell(monkeypatch):
    from lockswap.base import toolchain

    monkeypatch.setenv("CC", "ccache 'my gcc'")
    assert toolchain.compiler("CC") == ["ccache", "my gcc"]


def test_threads_suite_finds_threaded_modules_but_not_f2py(tmp_path):
    from lockswap.test import suite as testsuite

    (tmp_path / "_core" / "tests").mkdir(parents=True)
    (tmp_path / "f2py" / "tests").mkdir(parents=True)
    (tmp_path / "_core" / "tests" / "test_a.py").write_text("import threading\n")
    (tmp_path / "_core" / "tests" / "test_b.py").write_text("import os\n")
    (tmp_path / "f2py" / "tests" / "test_c.py").write_text("import threading\n")
    assert testsuite.threaded_modules(tmp_path) == ["numpy._core.tests.test_a"]
    own = len(testsuite.OWN_TESTS)
    assert testsuite.selection("threads", tmp_path)[:-own] == ["numpy._core.tests.test_a"]


def test_atomic_outputs_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    from lockswap.base import paths as p

    out = tmp_path / "results.json"
    p.atomic_write_text(out, "{}\n")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
