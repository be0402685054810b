"""Porting real patches to real NumPy releases the manifest has no patch for.

- ``dict`` on NumPy 2.3.5: the 2.2.6 patch (the nearest version not newer) merges cleanly; the
  ported wheel is built, imports with the GIL disabled and says where its patch came from.
- ``rwlock`` on NumPy 2.3.5: the 2.2.6 patch conflicts (2.3 reordered the includes the patch
  removes); nothing is built and the conflicts are named.
- ``immortal`` on NumPy 2.3.5: its nearest patch not newer is 2.1.3's (C dispatch sources): refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _store(wheel: Path) -> Path:
    """The wheel store entry (wheel.json, ported.patch) of a wheel copied into dist/."""
    from lockswap.base import paths

    (store,) = [p.parent for p in (paths.cache_root() / "wheels").glob(f"*/{wheel.name}")]
    return store


def test_dict_ports_cleanly_to_2_3_5_and_builds(lockswap):
    out = lockswap.run("build", "--variant", "dict", "--numpy", "2.3.5", timeout=5400).stdout
    assert "'dict' has no patch for NumPy 2.3.5: porting patches/2.2.6/dict.patch" in out
    assert "ported dict from NumPy 2.2.6" in out
    assert "ported from NumPy 2.2.6 (base patch sha256" in out
    (wheel,) = lockswap.dist.glob("numpy-2.3.5+lockswap.dict-*.whl")
    store = _store(wheel)
    info = json.loads((store / "wheel.json").read_text())
    assert info["ported_from"] == "2.2.6" and info["verify"]["gil_after"] is False
    assert "Ported-From: 2.2.6 (patch sha256 " in (store / "ported.patch").read_text()


def test_rwlock_port_to_2_3_5_conflicts_before_any_build(lockswap):
    got = lockswap.run("build", "--variant", "rwlock", "--numpy", "2.3.5", check=False)
    assert got.returncode == 3
    assert "porting 'rwlock' from NumPy 2.2.6 to 2.3.5 conflicts; nothing was built" in got.stdout
    assert "numpy/_core/src/common/npy_hashtable.cpp: hunk #1" in got.stdout
    assert "nox -s port -- --variant rwlock --numpy 2.3.5 --port-from 2.2.6 --resolved " in got.stdout
    assert "free-threaded interpreter" not in got.stdout  # stopped before finding or building Python


@pytest.mark.parametrize("variant", ["immortal"])
def test_port_across_the_c_to_cpp_rename_is_refused(lockswap, variant):
    got = lockswap.run("build", "--variant", variant, "--numpy", "2.3.5", check=False)
    assert got.returncode == 2
    assert "numpy/_core/src/umath/dispatching.c -> numpy/_core/src/umath/dispatching.cpp" in got.stdout
    assert "NumPy 2.2 renamed dispatching.c and npy_hashtable.c to .cpp" in got.stdout
