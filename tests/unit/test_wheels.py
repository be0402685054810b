from __future__ import annotations

import json
import zipfile

import pytest

from lockswap.build import wheels


@pytest.mark.parametrize(
    ("version", "variant", "expected"),
    [("2.1.3", "rwlock", "2.1.3+lockswap.rwlock"),
     ("2.5.0.dev0", "baseline", "2.5.0.dev0+lockswap.baseline"),
     ("2.5.0.dev0+git20260101.abc", "tls", "2.5.0.dev0+git20260101.abc.lockswap.tls")],
)
def test_labelled_version(version, variant, expected):
    assert wheels.labelled_version(version, variant) == expected


def make_wheel(folder):
    path = folder / "numpy-2.1.3-cp313-cp313t-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("numpy/__init__.py", "__version__ = '2.1.3'\n")
        z.writestr("numpy-2.1.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: numpy\nVersion: 2.1.3\n")
        z.writestr("numpy-2.1.3.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp313-cp313t-linux_x86_64\n")
        z.writestr("numpy-2.1.3.dist-info/RECORD", "numpy/__init__.py,,\n")
    return path


def test_relabel_changes_only_packaging_metadata(tmp_path):
    out = wheels.relabel(make_wheel(tmp_path), "2.1.3+lockswap.rwlock", tmp_path / "out")
    assert out.name == "numpy-2.1.3+lockswap.rwlock-cp313-cp313t-linux_x86_64.whl"
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert "numpy-2.1.3+lockswap.rwlock.dist-info/METADATA" in names
        assert not any(n.startswith("numpy-2.1.3.dist-info/") for n in names)
        assert "Version: 2.1.3+lockswap.rwlock" in z.read(
            "numpy-2.1.3+lockswap.rwlock.dist-info/METADATA").decode()
        assert z.read("numpy/__init__.py") == b"__version__ = '2.1.3'\n"
        record = z.read("numpy-2.1.3+lockswap.rwlock.dist-info/RECORD").decode().splitlines()
        assert any(r.startswith("numpy/__init__.py,sha256=") for r in record)
        assert len(record) == len(names)
    assert wheels.abi_tags(out) == {"cp313t"}
    assert not list((tmp_path / "out").glob(".*"))  # no temporary left


def test_the_blas_choice_is_explicit_on_every_os_and_recorded():
    """The same build on every OS; the choice is in the key (via BUILD_OPTIONS) and the JSON."""
    from pathlib import Path

    from lockswap.build import wheel as build

    assert build.BLAS == "none"
    assert {"-Csetup-args=-Dblas=none", "-Csetup-args=-Dlapack=none"} <= set(build.BUILD_OPTIONS)
    wheel = build.Wheel(Path("w.whl"), "x", "2.1.3", "2.1.3+lockswap.x", "cp313t", "p", "s", "k")
    assert wheel.to_json()["blas"] == "none"
    assert set(wheel.to_json()) >= {"blas", "key", "variant"}


def configured(build_dir, c, cpp):
    """A build directory as meson describes it after a configure with these compiler commands."""
    info = build_dir / "meson-info"
    info.mkdir(parents=True)
    host = {"c": {"exelist": c}, "cpp": {"exelist": cpp}, "cython": {"exelist": ["cython"]}}
    (info / "intro-compilers.json").write_text(json.dumps({"host": host, "build": host}))


CCACHED = {"CC": ["ccache", "cc"], "CXX": ["ccache", "c++"]}


def test_a_slot_configured_before_ccache_was_installed_is_configured_afresh(tmp_path):
    """Meson keeps the compilers of a build directory's first configure on --reconfigure."""
    from lockswap.build import wheel as build

    configured(tmp_path / "old", ["cc"], ["c++"])
    assert build.stale_compilers(tmp_path / "old", CCACHED) == (
        "it was configured with CC cc, CXX c++, and now CC ccache cc, CXX ccache c++")
    configured(tmp_path / "new", ["/usr/bin/ccache", "cc"], ["/usr/bin/ccache", "c++"])  # meson 1.12
    assert build.stale_compilers(tmp_path / "new", CCACHED) == ""
    assert "CC gcc" in build.stale_compilers(tmp_path / "new", {"CC": ["gcc"], "CXX": ["ccache", "c++"]})
    assert build.stale_compilers(tmp_path / "never-configured", CCACHED) == ""


def test_the_compilers_of_the_last_build_decide_once_recorded(tmp_path):
    """After a build the stamp decides, so a meson that ignores an installed cache is not rebuilt
    from scratch on every build."""
    from lockswap.build import wheel as build

    configured(tmp_path, ["cc"], ["c++"])
    build.record_compilers(tmp_path, CCACHED)
    assert build.stale_compilers(tmp_path, CCACHED) == ""
    plain = {"CC": ["cc"], "CXX": ["c++"]}
    assert build.stale_compilers(tmp_path, plain) == (
        "it was built with CC ccache cc, CXX ccache c++, and now CC cc, CXX c++")


@pytest.mark.parametrize(
    ("cc", "found", "expected"),
    [(None, "/usr/bin/ccache", ["ccache", "cc"]), (None, None, ["cc"]),
     ("gcc-12", "/usr/bin/ccache", ["gcc-12"]), ("ccache /usr/bin/gcc", None, ["ccache", "gcc"])],
)
def test_the_compilers_meson_will_use(monkeypatch, cc, found, expected):
    from lockswap.build import wheel as build

    for var in ("CC", "CXX"):
        monkeypatch.delenv(var, raising=False)
    if cc:
        monkeypatch.setenv("CC", cc)
    which = build.shutil.which
    caches = {"ccache": found, "sccache": None}
    monkeypatch.setattr(build.shutil, "which", lambda name: caches[name] if name in caches else which(name))
    assert build.compilers()["CC"] == expected
