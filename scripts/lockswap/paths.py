"""Where lockswap keeps things: one place, each overridable from the environment.

- cache (``LOCKSWAP_CACHE``, default ``$XDG_CACHE_HOME/lockswap`` or ``~/.cache/lockswap``): CPython
  builds, sdists, unpacked and patched trees, build slots, ccache, built wheels, venvs. Every entry is
  keyed by content (sha256 of its inputs), so it is safe to share between checkouts.
- dist (``LOCKSWAP_DIST``, default ``<repo>/dist``): the wheels a user asked for.
- results (``LOCKSWAP_RESULTS``, default ``<repo>/results``): test and benchmark JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATCHES = REPO / "patches"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return _env_path("LOCKSWAP_CACHE", base / "lockswap")


def cache_dir(*parts: str) -> Path:
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def dist_dir() -> Path:
    return _env_path("LOCKSWAP_DIST", REPO / "dist")


def results_dir() -> Path:
    return _env_path("LOCKSWAP_RESULTS", REPO / "results")


def content_key(*parts: object, length: int = 16) -> str:
    """A short sha256 over JSON-serialised parts: the key of a cache entry."""
    blob = json.dumps([str(p) for p in parts], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy a file so that ``dest`` is either absent/old or complete, never partial."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_dir(final: Path) -> Path:
    """A fresh temporary sibling of ``final``, to be renamed onto it with :func:`commit_dir`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))


def replace_dir(staging: Path, final: Path) -> None:
    """Move a completed staging directory into place, replacing an older ``final``."""
    if final.exists():
        shutil.rmtree(final)
    commit_dir(staging, final)


def commit_dir(staging: Path, final: Path) -> None:
    """Move a completed staging directory into place; a concurrent winner is kept."""
    try:
        os.rename(staging, final)
    except OSError:
        if not final.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)
