"""The Windows/macOS compile check on real patches: NumPy 2.1.3's generated headers (meson setup of
the pristine sdist), zig cc for both targets, the unpatched sources first.

- ``rwlock`` on 2.1.3, whose ``npy_hashtable.c`` has an SRWLOCK branch for Windows and a pthread one
  elsewhere: every touched source compiles for both targets.
- The same patch with one line of its Windows branch broken (an SRWLOCK call with an argument too
  many, an error no Linux build sees): the check fails for Windows only, naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOOD = "+    AcquireSRWLockShared(NPY_SRW(lock));\n"
BROKEN = "+    AcquireSRWLockShared(NPY_SRW(lock), 0);\n"  # one argument too many: an error in C


def _rows(out: str, variant: str) -> list[tuple[str, str, str]]:
    """The table's rows of ``variant`` (the progress lines above it read ``variant version target: ...``)."""
    rows = [line.split() for line in out.splitlines() if line.startswith(f"{variant} ")]
    return [(r[1], r[2], r[3]) for r in rows if len(r) > 3 and r[2] in ("windows", "macos", "linux")]


def test_rwlock_on_2_1_3_compiles_for_windows_and_macos(lockswap):
    out = lockswap.run("crosscheck", "--variants", "rwlock", "--numpy", "2.1.3", timeout=3600).stdout
    assert _rows(out, "rwlock") == [("2.1.3", "windows", "ok"), ("2.1.3", "macos", "ok")]
    touched = re.findall(r"^diff --git a/(\S+\.c) ", (REPO / "patches/2.1.3/rwlock.patch").read_text(), re.M)
    assert "numpy/_core/src/common/npy_hashtable.c" in touched  # the SRWLOCK branch is checked
    assert f"{len(touched)} files compile: {', '.join(sorted(touched))}" in out
    assert "2 of 2 patch x target compile; 0 fail" in out


def test_a_broken_windows_branch_fails_for_windows_only(lockswap, tmp_path):
    text = (REPO / "patches/2.1.3/rwlock.patch").read_text()
    assert text.count(GOOD) == 1
    broken = tmp_path / "rwlockbroken.patch"
    broken.write_text(text.replace(GOOD, BROKEN))
    entry = ('[variants.rwlockbroken]\ndescription = "rwlock, Windows branch broken"\n'
             f'patches = {{ "2.1.3" = "{broken}" }}\n')
    lockswap.manifest_with(tmp_path, entry)
    got = lockswap.run("crosscheck", "--variants", "rwlockbroken", "--numpy", "2.1.3", check=False,
                       timeout=3600)
    assert got.returncode == 1
    assert _rows(got.stdout, "rwlockbroken") == [("2.1.3", "windows", "FAIL"), ("2.1.3", "macos", "ok")]
    (windows,) = [ln for ln in got.stdout.splitlines() if ln.startswith("rwlockbroken  2.1.3   windows")]
    assert "numpy/_core/src/common/npy_hashtable.c: " in windows and "npy_hashtable.c:" in windows
    assert "error:" in windows
    assert "1 fail" in got.stdout
