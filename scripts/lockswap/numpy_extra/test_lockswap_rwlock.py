"""lockswap's test of how the ``rwlock`` variant takes its readers-writer lock on this C library.

Runs against the installed NumPy and skips on any build without
``numpy._core._multiarray_umath._rwlock_policy`` (every variant but ``rwlock``). The patch decides
once per process, from the C library, how the lock is taken: the writer-preferring kind with a
try-lock fast path only on glibc >= 2.29 (glibc 2.25-2.28 can hang readers and writers in those
calls, glibc bugs 23844 and 23861), the default kind with blocking calls made detached everywhere
else. ``_rwlock_policy(version)`` asks the same function the patch uses what a given glibc version
gets, so an old glibc is simulated here; ``_rwlock_policy()`` reports this process's own choice,
which must be the one its C library's version calls for.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

_umath = getattr(getattr(np, "_core", None), "_multiarray_umath", None)
POLICY = getattr(_umath, "_rwlock_policy", None)

pytestmark = pytest.mark.skipif(
    POLICY is None, reason="this NumPy has no lockswap rwlock policy (rwlock variant only)")

TRY = "try-lock attached, else wait detached"
BLOCK = "blocking, detached"
POSIX_KINDS = {TRY: "prefer-writer-nonrecursive", BLOCK: "default"}


@pytest.mark.parametrize(("glibc", "acquire"), [
    ("2.17", BLOCK), ("2.25", BLOCK), ("2.27", BLOCK), ("2.28", BLOCK),  # bugs 23844, 23861
    ("2.29", TRY), ("2.31", TRY), ("2.36", TRY), ("2.41", TRY), ("3.0", TRY),
    ("", BLOCK),  # a C library other than glibc (musl, macOS's, Windows)
    ("not a version", BLOCK),
])
def test_the_choice_follows_the_glibc_version(glibc, acquire):
    got = POLICY(glibc)
    assert got["simulated"] is True
    assert got["acquire"] == acquire
    if sys.platform != "win32":
        assert got["kind"] == POSIX_KINDS[acquire]
    assert got["libc"] == (f"glibc {glibc}" if glibc else "not glibc")


def test_this_process_uses_the_choice_of_its_own_c_library():
    got = POLICY()
    assert got["simulated"] is False
    libc, version = platform.libc_ver()
    if libc == "glibc":
        assert got["libc"] == f"glibc {version}"
        assert got == {**POLICY(version), "simulated": False}
    else:
        assert got["libc"] == "not glibc"
        assert got["acquire"] == BLOCK
    print(f"rwlock policy here: {got}")  # shown with -s, e.g. in the test log
