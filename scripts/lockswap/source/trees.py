"""Which files of a NumPy source tree count: the one rule, shared by copying, syncing and hashing.

Left out: VCS data and ``__pycache__`` everywhere, and at the top of a checkout its build products
(``build/``, ``build-install/``, ``dist/``, meson-python's native file). A ``path:`` tree's key
(:func:`tree_hash`) therefore changes exactly when a file that is copied into a build changes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..base import paths

IGNORE_ANYWHERE = frozenset({".git", "__pycache__"})
IGNORE_AT_TOP = frozenset({"build", "build-install", "dist", ".mesonpy-native-file.ini"})


def _ignore_for(top: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = IGNORE_ANYWHERE | (IGNORE_AT_TOP if os.path.samefile(folder, top) else frozenset())
        return {n for n in names if n in skip}

    return ignore


def copy_tree(src: Path, dest: Path) -> None:
    """Copy a source tree's files (see the module's rule), keeping symlinks as links."""
    shutil.copytree(src, dest, ignore=_ignore_for(src), symlinks=True)


def tree_files(src: Path) -> list[Path]:
    """The files :func:`copy_tree` copies, relative to ``src``, sorted."""
    ignore = _ignore_for(src)
    found = []
    for folder, dirs, files in os.walk(src):
        skip = ignore(folder, dirs + files)
        dirs[:] = [d for d in dirs if d not in skip]
        found += [Path(folder, f).relative_to(src) for f in files if f not in skip]
    return sorted(found)


def tree_hash(src: Path) -> str:
    """A sha256 over the names and contents of :func:`tree_files`: a ``path:`` tree's cache key."""
    listing = []
    for rel in tree_files(src):
        p = src / rel
        content = f"link:{os.readlink(p)}" if p.is_symlink() else paths.sha256_file(p)
        listing.append((rel.as_posix(), content))
    return paths.content_key(listing, length=64)
