"""Which entries of a NumPy source tree count: the one rule, shared by copying, syncing and hashing.

Left out: VCS data and ``__pycache__`` everywhere, and at the top of a checkout its build products
(``build/``, ``build-install/``, ``dist/``, meson-python's native file). A ``path:`` tree's key
(:func:`tree_hash`) therefore changes exactly when an entry that is copied into a build changes.

Symbolic links are entries of their own, copied as links and keyed by their target, whether they
point at a file or a folder (a linked folder is never walked into). A link must stay inside the
tree: an absolute target, or one that leaves the tree, is refused (one ConfigError naming it), so
nothing outside the tree is ever read into a build.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..base import paths
from ..base.errors import ConfigError

IGNORE_ANYWHERE = frozenset({".git", "__pycache__"})
IGNORE_AT_TOP = frozenset({"build", "build-install", "dist", ".mesonpy-native-file.ini"})


def _ignore_for(top: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = IGNORE_ANYWHERE | (IGNORE_AT_TOP if os.path.samefile(folder, top) else frozenset())
        return {n for n in names if n in skip}

    return ignore


def check_link(src: Path, rel: Path) -> str:
    """The target of the link ``src/rel`` if it stays inside ``src``; else one ConfigError."""
    target = os.readlink(src / rel)
    hint = (f"make the link relative and inside {src}, or replace it with what it points at "
            "(lockswap copies links as links and never reads outside the tree)")
    if os.path.isabs(target) or Path(target).drive:
        raise ConfigError(f"{src / rel} is a link to the absolute path {target}", hint)
    lexical = os.path.normpath(os.path.join(os.path.dirname(rel.as_posix()) or ".", target))
    real = Path(os.path.realpath(src / rel))
    top = Path(os.path.realpath(src))
    if lexical == ".." or lexical.startswith(("../", "..\\")) or not real.is_relative_to(top):
        raise ConfigError(f"{src / rel} is a link to {target}, which leaves the tree", hint)
    return target


def tree_files(src: Path) -> list[Path]:
    """The entries :func:`copy_tree` copies, relative to ``src``, sorted: files, and links to files
    or folders (each link checked with :func:`check_link`)."""
    ignore = _ignore_for(src)
    found = []
    for folder, dirs, files in os.walk(src):
        skip = ignore(folder, dirs + files)
        linked = [d for d in dirs if d not in skip and os.path.islink(os.path.join(folder, d))]
        dirs[:] = [d for d in dirs if d not in skip and d not in linked]
        for name in [*files, *linked]:
            if name in skip:
                continue
            rel = Path(folder, name).relative_to(src)
            if os.path.islink(src / rel):
                check_link(src, rel)
            found.append(rel)
    return sorted(found)


def copy_tree(src: Path, dest: Path) -> None:
    """Copy a source tree's entries (see the module's rule), keeping symlinks as links."""
    tree_files(src)  # refuses links that leave the tree before anything is copied
    shutil.copytree(src, dest, ignore=_ignore_for(src), symlinks=True)


def same_entry(src: Path, dest: Path) -> bool:
    """Whether ``dest`` already is what copying ``src`` (a file or a link) would make."""
    if src.is_symlink():
        return dest.is_symlink() and os.readlink(dest) == os.readlink(src)
    return dest.is_file() and not dest.is_symlink() and filecmp.cmp(src, dest, shallow=False)


def sync_entry(src: Path, dest: Path, rel: Path) -> bool:
    """Make ``dest/rel`` what ``src/rel`` is (a file, or a link copied as a link), atomically; False if
    it already was. A rewritten entry gets the current time (ninja then rebuilds what uses it)."""
    source, target = src / rel, dest / rel
    for parent in reversed(rel.parents[:-1]):  # a folder that was a link in the previous tree
        if (dest / parent).is_symlink():
            (dest / parent).unlink()
    if same_entry(source, target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    if source.is_symlink():
        tmp = target.with_name(f".{target.name}.link-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.symlink(os.readlink(source), tmp)
        os.replace(tmp, target)
        os.utime(target, follow_symlinks=False)
        return True
    if target.is_symlink():
        target.unlink()
    paths.atomic_copy(source, target)
    os.utime(target)
    return True


def tree_hash(src: Path) -> str:
    """A sha256 over the names and contents (link targets for links) of :func:`tree_files`: a
    ``path:`` tree's cache key."""
    listing = []
    for rel in tree_files(src):
        p = src / rel
        content = f"link:{os.readlink(p)}" if p.is_symlink() else paths.sha256_file(p)
        listing.append((rel.as_posix(), content))
    return paths.content_key(listing, length=64)
