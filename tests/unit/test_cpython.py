from __future__ import annotations

from pathlib import Path

import pytest

from lockswap.base.errors import FetchError, ToolMissing
from lockswap.interpreter import cpython


def test_mirror_from_deb822_sources(tmp_path):
    f = tmp_path / "debian.sources"
    f.write_text(
        "Types: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert cpython.system_mirror("bookworm", [f]) == "http://mirror.example/debian"
    assert cpython.system_mirror("trixie", [f]) is None


def test_mirror_from_one_line_sources(tmp_path):
    f = tmp_path / "sources.list"
    f.write_text("# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/ubuntu noble main universe\n")
    assert cpython.system_mirror("noble", [f]) == "http://m.example/ubuntu"


@pytest.mark.parametrize(
    ("name", "version"),
    [("Python-3.13.5.tar.xz", "3.13.5"), ("python3.13_3.13.5.orig.tar.xz", "3.13.5"),
     ("Python-3.14.0.tar.gz", "3.14.0")],
)
def test_local_tarball_names(tmp_path, name, version):
    f = tmp_path / name
    f.write_bytes(b"x")
    src = cpython.resolve_source(str(f), None)
    assert src.version == version and src.origin == "local tarball" and len(src.sha256) == 64


def test_local_tarball_must_look_like_cpython(tmp_path):
    f = tmp_path / "python3.13_3.13.5.orig.tar.xz.asc"
    f.write_bytes(b"x")
    with pytest.raises(FetchError, match="not a CPython source tarball"):
        cpython.resolve_source(str(f), None)


def test_debian_version_order():
    versions = ["3.13.5-2+deb13u5", "3.13.18-1", "3.13.15-1", "3.13.5-2"]
    assert sorted(versions, key=cpython._debian_order)[-1] == "3.13.18-1"
    assert sorted(versions, key=cpython._debian_order)[0] == "3.13.5-2"


def test_no_compiler_is_reported(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    with pytest.raises(ToolMissing, match="no C compiler"):
        cpython._preflight()


def test_orig_tarballs_skip_signatures(tmp_path: Path):
    (tmp_path / "python3.13_3.13.5.orig.tar.xz").write_bytes(b"")
    (tmp_path / "python3.13_3.13.5.orig.tar.xz.asc").write_bytes(b"")
    assert [p.name for p in cpython._orig_tarballs(tmp_path, "3.13")] == ["python3.13_3.13.5.orig.tar.xz"]
