from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from lockswap.base.errors import ConfigError, FetchError
from lockswap.source import fetch as source


@pytest.mark.parametrize(
    ("text", "kind", "value", "ref"),
    [
        ("2.1.3", "sdist", "2.1.3", ""),
        (" 2.5.5 ", "sdist", "2.5.5", ""),
        ("git:https://example.org/numpy.git@v2.2.6", "git", "https://example.org/numpy.git", "v2.2.6"),
        ("git:git@example.org:numpy/numpy.git@pull/123/head", "git", "git@example.org:numpy/numpy.git",
         "pull/123/head"),
        ("path:/src/numpy", "path", "/src/numpy", ""),
    ],
)
def test_parse_spec(text, kind, value, ref):
    spec = source.parse_spec(text)
    assert (spec.kind, spec.value, spec.ref) == (kind, value, ref)


@pytest.mark.parametrize("text", ["banana", "git:https://example.org/numpy.git", "git:@main"])
def test_bad_specs_say_what_is_accepted(text):
    with pytest.raises(ConfigError) as err:
        source.parse_spec(text)
    assert "git:" in err.value.hint


def test_versions_before_free_threading_are_refused():
    with pytest.raises(ConfigError, match="no free-threaded support"):
        source.parse_spec("1.26.4")


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


SDIST = _tarball({"numpy-2.1.3/pyproject.toml": b'[project]\nname = "numpy"\nversion = "2.1.3"\n'})


class FakeIndex:
    """Stands in for the package index: serves SDIST, corrupt the first ``corrupt`` times."""

    def __init__(self, corrupt: int = 0, body: bytes = SDIST) -> None:
        self.corrupt, self.body, self.downloads = corrupt, body, 0
        self.pkg = SimpleNamespace(
            filename="numpy-2.1.3.tar.gz", version="2.1.3", package_type="sdist", is_yanked=False,
            digests={"sha256": hashlib.sha256(body).hexdigest()},
        )

    def install(self, monkeypatch):
        index = self

        class Client:
            def __init__(self, *a, **k): ...
            def __enter__(self): return self
            def __exit__(self, *a): return False

            def download_package(self, pkg, path, **kwargs):
                index.downloads += 1
                data = index.body
                if index.corrupt:
                    index.corrupt -= 1
                    data = data[: len(data) // 2]
                Path(path).write_bytes(data)

        monkeypatch.setattr(source, "_find_sdist", lambda version: index.pkg)
        import pypi_simple
        monkeypatch.setattr(pypi_simple, "PyPISimple", Client)
        return self


def test_sdist_is_checked_cached_and_unpacked(cache, monkeypatch):
    index = FakeIndex().install(monkeypatch)
    src = source.fetch("2.1.3")
    assert src.version == "2.1.3" and src.sha256 == index.pkg.digests["sha256"]
    assert (src.tree / "pyproject.toml").is_file()
    source.fetch("2.1.3")
    assert index.downloads == 1  # second fetch is a cache hit


def test_corrupt_download_is_fetched_again(cache, monkeypatch):
    index = FakeIndex(corrupt=1).install(monkeypatch)
    src = source.fetch("2.1.3")
    assert index.downloads == 2 and src.tree.is_dir()
    assert not list(cache.rglob("*.part-*"))


def test_always_corrupt_download_fails_and_leaves_nothing(cache, monkeypatch):
    FakeIndex(corrupt=5).install(monkeypatch)
    with pytest.raises(FetchError, match="corrupt"):
        source.fetch("2.1.3")
    assert not list((cache / "sdist").rglob("*.tar.gz"))
    assert not (cache / "src").exists() or not any((cache / "src").iterdir())


def test_corrupt_cached_sdist_is_replaced(cache, monkeypatch):
    index = FakeIndex().install(monkeypatch)
    archive, _ = source.sdist_path("2.1.3")
    archive.write_bytes(b"truncated")
    source.sdist_path("2.1.3")
    assert index.downloads == 2 and archive.read_bytes() == SDIST


def test_damaged_archive_is_removed_and_nothing_half_unpacked(cache, monkeypatch):
    bad = SDIST[:-200]
    FakeIndex(body=bad).install(monkeypatch)
    with pytest.raises(FetchError, match="damaged"):
        source.fetch("2.1.3")
    assert not list((cache / "src").iterdir())


def test_path_source(tmp_path):
    tree = tmp_path / "numpy"
    tree.mkdir()
    (tree / "pyproject.toml").write_text('[project]\nname = "numpy"\nversion = "2.5.0.dev0"\n')
    src = source.fetch(f"path:{tree}")
    assert src.version == "2.5.0.dev0" and len(src.sha256) == 64
    (tree / "x.c").write_text("int x;")
    assert source.fetch(f"path:{tree}").sha256 != src.sha256


def test_path_key_ignores_exactly_what_is_never_copied(tmp_path):
    """__pycache__ and dist/ (never copied into a build) keep a path: tree's key: no cold rebuild."""
    from lockswap.source import trees

    tree = tmp_path / "numpy"
    (tree / "numpy" / "_core").mkdir(parents=True)
    (tree / "pyproject.toml").write_text('[project]\nname = "numpy"\nversion = "2.5.0.dev0"\n')
    (tree / "numpy" / "_core" / "a.c").write_text("int a;")
    key = source.fetch(f"path:{tree}").sha256
    (tree / "numpy" / "__pycache__").mkdir()
    (tree / "numpy" / "__pycache__" / "x.cpython-313t.pyc").write_bytes(b"\0" * 8)
    (tree / "dist").mkdir()
    (tree / "dist" / "numpy-2.5.0.dev0.tar.gz").write_bytes(b"sdist")
    assert source.fetch(f"path:{tree}").sha256 == key
    assert {p.as_posix() for p in trees.tree_files(tree)} == {"pyproject.toml", "numpy/_core/a.c"}
    (tree / "numpy" / "dist").mkdir()  # dist/ below the top is source, as copy_tree copies it
    (tree / "numpy" / "dist" / "b.py").write_text("b = 1")
    assert source.fetch(f"path:{tree}").sha256 != key


def test_path_source_must_be_numpy(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "1"\n')
    with pytest.raises(FetchError, match="not a NumPy source tree"):
        source.fetch(f"path:{tmp_path}")
