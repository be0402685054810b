"""Where lockswap keeps things: one place, each overridable from the environment.

- cache (``LOCKSWAP_CACHE``, default ``$XDG_CACHE_HOME/lockswap`` or ``~/.cache/lockswap``): CPython
  builds, sdists, unpacked and patched trees, build slots, ccache, built wheels, venvs. Every entry is
  keyed by content (sha256 of its inputs), so it is safe to share between checkouts.
- dist (``LOCKSWAP_DIST``, default ``<repo>/dist``): the wheels a user asked for.
- results (``LOCKSWAP_RESULTS``, default ``<repo>/results``): test and benchmark JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PATCHES = REPO / "patches"
# scripts/lockswap: numpy_extra/ and pytest_plugin/ (code run inside a variant's venv) are read from here
PACKAGE = Path(__file__).resolve().parents[1]


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


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; done once, at import, before any thread starts
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _tmp_prefix(final: Path) -> str:
    """Temporary siblings are named ``.<name>.tmp-<pid>-<random>``: see :func:`sweep_dead_owners`."""
    return f".{final.name}.tmp-{os.getpid()}-"


_TMP = re.compile(r"^\..+\.tmp-(\d+)-[^/]*$")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows always True: nothing is swept there)."""
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_owners(folder: Path) -> list[Path]:
    """Remove the staging directories and temporary files in ``folder`` whose owner process is gone
    (a SIGKILL gives no chance to clean up); return what was removed."""
    swept: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return swept
    for name in names:
        m = _TMP.match(name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            path = folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            swept.append(path)
    return swept


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write; renamed onto ``path`` when the block succeeds.

    On an error or Ctrl-C the temporary file is removed, so ``path`` is either old or complete and
    nothing (no ``.part`` file) is left beside it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy a file so that ``dest`` is either absent/old or complete, never partial."""
    with atomic_output(dest) as tmp:
        shutil.copy2(src, tmp)


class Stage:
    """The directory a :func:`staging` block fills. ``result`` (default: the directory itself) is
    what becomes the cache entry, e.g. an install prefix inside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.result = path


# Cache entries completed by this process (reported when a run is interrupted).
_COMMITTED: list[Path] = []


@contextlib.contextmanager
def staging(final: Path, *, replace: bool = False) -> Iterator[Stage]:
    """Fill a fresh temporary sibling of ``final``; it becomes ``final`` only if the block succeeds.

    On an error or Ctrl-C the staging directory is removed: a cache entry is complete or absent.
    Staging directories left by a killed run (SIGKILL) are swept by the next one (their names carry
    the owner's pid). If ``final`` appeared meanwhile (a concurrent run), the winner is kept, unless
    ``replace``: then the old entry is renamed aside (never deleted first), the new one renamed in.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_dead_owners(final.parent)
    stage = Stage(Path(tempfile.mkdtemp(prefix=_tmp_prefix(final), dir=final.parent)))
    aside: Path | None = None
    try:
        yield stage
        if replace and final.exists():
            aside = Path(tempfile.mkdtemp(prefix=_tmp_prefix(final), dir=final.parent))
            os.rename(final, aside / "old")  # into a staging-named folder: swept if we die right here
        try:
            os.rename(stage.result, final)
        except OSError:
            if not final.exists():
                raise
        _COMMITTED.append(final)
    finally:
        shutil.rmtree(stage.path, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def note_complete(path: Path) -> None:
    """Record a cache entry completed in place (e.g. a venv with its completion marker)."""
    _COMMITTED.append(path)


def forget_commits() -> None:
    _COMMITTED.clear()


def interrupted_summary() -> str:
    """What an interrupted run leaves: complete cache entries only; which ones it added."""
    root = cache_root()
    kept = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in _COMMITTED]
    text = f"Nothing half-written was left in {root} (build slots stay as they are: ninja resumes them)"
    return text + (f"; kept the entries completed by this run: {', '.join(kept)}" if kept
                   else "; this run completed no new cache entry")
