from __future__ import annotations

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
