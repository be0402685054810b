"""Symbolic links in source trees: copied and synced as links, keyed by target, never followed out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockswap.base.errors import ConfigError
from lockswap.build.wheel import sync_tree
from lockswap.source import fetch as source
from lockswap.source import trees


def numpy_tree(root: Path) -> Path:
    tree = root / "numpy"
    (tree / "numpy" / "_core" / "include").mkdir(parents=True)
    (tree / "pyproject.toml").write_text('[project]\nname = "numpy"\nversion = "2.5.0.dev0"\n')
    (tree / "numpy" / "_core" / "a.c").write_text("int a;")
    (tree / "numpy" / "_core" / "include" / "a.h").write_text("#define A 1")
    return tree


def test_links_to_files_and_folders_are_entries_keyed_by_their_target(tmp_path):
    tree = numpy_tree(tmp_path)
    os.symlink("a.c", tree / "numpy" / "_core" / "b.c")
    os.symlink("_core/include", tree / "numpy" / "inc")  # a linked folder: one entry, not walked
    got = {p.as_posix() for p in trees.tree_files(tree)}
    assert got == {"pyproject.toml", "numpy/_core/a.c", "numpy/_core/include/a.h", "numpy/_core/b.c",
                   "numpy/inc"}
    key = source.fetch(f"path:{tree}").sha256
    (tree / "numpy" / "inc").unlink()
    os.symlink("_core", tree / "numpy" / "inc")  # same name, other target: another key
    assert source.fetch(f"path:{tree}").sha256 != key


def test_copy_tree_keeps_links_as_links(tmp_path):
    tree = numpy_tree(tmp_path)
    os.symlink("a.c", tree / "numpy" / "_core" / "b.c")
    os.symlink("_core/include", tree / "numpy" / "inc")
    trees.copy_tree(tree, tmp_path / "copy")
    assert os.readlink(tmp_path / "copy" / "numpy" / "_core" / "b.c") == "a.c"
    assert os.readlink(tmp_path / "copy" / "numpy" / "inc") == "_core/include"


@pytest.mark.parametrize(
    ("where", "target", "message"),
    [
        ("numpy/evil.c", "/etc/hostname", "absolute path"),
        ("numpy/evil.c", "../../outside.c", "leaves the tree"),
        ("numpy/_core/evil", "../../..", "leaves the tree"),
        ("evil", "..", "leaves the tree"),
    ],
)
def test_a_link_leaving_the_tree_is_one_config_error_naming_it(tmp_path, where, target, message):
    tree = numpy_tree(tmp_path)
    (tmp_path / "outside.c").write_text("secret")
    os.symlink(target, tree / where)
    for use in (lambda: source.fetch(f"path:{tree}"), lambda: trees.copy_tree(tree, tmp_path / "copy"),
                lambda: sync_tree(tree, tmp_path / "slot")):
        with pytest.raises(ConfigError) as err:
            use()
        assert str(tree / where) in err.value.message and message in err.value.message
        assert "link" in err.value.hint
    assert not (tmp_path / "copy").exists() and not (tmp_path / "slot").exists()


def test_a_link_through_a_linked_folder_that_ends_outside_is_refused(tmp_path):
    tree = numpy_tree(tmp_path)
    (tmp_path / "outside").mkdir()
    os.symlink("numpy/_core", tree / "core")
    os.symlink("core/../../outside", tree / "sneaky")  # lexically outside as well as for real
    with pytest.raises(ConfigError, match="leaves the tree"):
        trees.tree_files(tree)


def test_sync_copies_links_as_links_and_follows_changes(tmp_path):
    tree, slot = numpy_tree(tmp_path), tmp_path / "slot"
    os.symlink("a.c", tree / "numpy" / "_core" / "b.c")
    os.symlink("_core/include", tree / "numpy" / "inc")
    assert sync_tree(tree, slot) == 5
    assert os.readlink(slot / "numpy" / "_core" / "b.c") == "a.c"
    assert os.readlink(slot / "numpy" / "inc") == "_core/include"
    assert sync_tree(tree, slot) == 0  # unchanged links are not rewritten
    # a link becomes a file, a linked folder becomes a real one, and a file becomes a link
    (tree / "numpy" / "_core" / "b.c").unlink()
    (tree / "numpy" / "_core" / "b.c").write_text("int b;")
    (tree / "numpy" / "inc").unlink()
    (tree / "numpy" / "inc").mkdir()
    (tree / "numpy" / "inc" / "x.h").write_text("#define X 1")
    (tree / "numpy" / "_core" / "a.c").unlink()
    os.symlink("b.c", tree / "numpy" / "_core" / "a.c")
    sync_tree(tree, slot)
    assert (slot / "numpy" / "_core" / "b.c").read_text() == "int b;"
    assert not (slot / "numpy" / "_core" / "b.c").is_symlink()
    assert not (slot / "numpy" / "inc").is_symlink() and (slot / "numpy" / "inc" / "x.h").is_file()
    assert (slot / "numpy" / "_core" / "include" / "a.h").read_text() == "#define A 1"  # not written through
    assert os.readlink(slot / "numpy" / "_core" / "a.c") == "b.c"
    # and back: the real folder becomes a link again, its old files gone from the slot
    (tree / "numpy" / "inc" / "x.h").unlink()
    (tree / "numpy" / "inc").rmdir()
    os.symlink("_core/include", tree / "numpy" / "inc")
    sync_tree(tree, slot)
    assert os.readlink(slot / "numpy" / "inc") == "_core/include"
    assert sorted(p.name for p in (slot / "numpy" / "_core" / "include").iterdir()) == ["a.h"]
