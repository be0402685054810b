"""Released NumPy sdists: found on pip's package index, pinned or recorded, cached, unpacked.

The index is pip's configured one (``PIP_INDEX_URL`` or ``pip config``; else the client library's
default), read through the Simple API. What is trusted, before anything else:

- a version pinned in ``patches/manifest.toml`` (``sdist_sha256``): the cached archive with that
  digest is used without asking the index; from the index only an sdist listed with that digest.
- any other version: what the index listed the first time (file name and sha256), recorded in
  ``sdist/index/numpy-<version>.json``; later runs use the record and the cached archive without
  asking the index, and an index that later lists another digest is refused.

A digest from the index must be 64 lowercase hex digits and a file name ``numpy-<version>.tar.gz``
before either is used. An archive must hold exactly one top-level folder (refused before it is
cached); a verified archive that cannot be extracted is kept, for inspection.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..base import log, manifest, paths, proc
from ..base.errors import ConfigError, FetchError

SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FILENAME = re.compile(r"^numpy-[0-9A-Za-z.+!_-]+\.tar\.gz$")
PAGE_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
READ_TIMEOUT = 60.0  # connect, and each read of a download
DOWNLOAD_DEADLINE = 1800.0  # the whole sdist download
_UNREADABLE = (tarfile.TarError, OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class Listing:
    """One sdist as an index (or the record of what it said) lists it."""

    version: str
    filename: str
    sha256: str
    url: str = ""


def index_url() -> str | None:
    """pip's configured index, or None for the client library's default."""
    url = os.environ.get("PIP_INDEX_URL")
    if url:
        return url
    got = proc.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                   check=False, echo=False, timeout=60)
    return got.stdout.strip() or None if got.returncode == 0 else None


def checked_digest(digest: object, filename: str) -> str:
    if not isinstance(digest, str) or not SHA256.match(digest):
        raise FetchError(f"the package index lists a malformed sha256 for {filename}: {digest!r}",
                         "use another index (PIP_INDEX_URL); a sha256 is 64 lowercase hex digits")
    return digest


def checked_filename(name: object, version: str) -> str:
    if not isinstance(name, str) or not _FILENAME.match(name) or name != f"numpy-{version}.tar.gz":
        raise FetchError(f"the package index lists NumPy {version}'s sdist as {name!r}",
                         f"use another index (PIP_INDEX_URL); expected numpy-{version}.tar.gz")
    return name


def find(version: str) -> Listing:
    """Ask the index for NumPy ``version``'s sdist (network)."""
    from packaging.version import Version
    from pypi_simple import ACCEPT_JSON_PREFERRED, PyPISimple

    endpoint = index_url()
    try:
        client_cm = (PyPISimple(endpoint, accept=ACCEPT_JSON_PREFERRED) if endpoint
                     else PyPISimple(accept=ACCEPT_JSON_PREFERRED))
        with client_cm as client:
            page = client.get_project_page("numpy", timeout=PAGE_TIMEOUT)
    except Exception as exc:  # network errors come in many types
        raise FetchError(
            f"cannot read the numpy project page from the package index ({exc})",
            "check the network or PIP_INDEX_URL; a sdist fetched once before is used without the index; "
            "or pass --numpy path:DIR with a local checkout",
        ) from exc
    sdists = [p for p in page.packages if p.package_type == "sdist" and not p.is_yanked]
    for pkg in sdists:
        if pkg.version == version:
            if "sha256" not in pkg.digests:
                raise FetchError(f"the index gives no sha256 for {pkg.filename}", "use another index")
            name = checked_filename(pkg.filename, version)
            return Listing(version, name, checked_digest(pkg.digests["sha256"], name), pkg.url)
    known = sorted({p.version for p in sdists if p.version}, key=Version)
    near = [v for v in known if Version(v) >= Version("2.1.0")][-12:]
    raise ConfigError(f"NumPy {version} has no sdist on the package index",
                      f"recent versions: {', '.join(near)}")


def pin(version: str) -> str:
    """The manifest's ``sdist_sha256`` for ``version`` ("" if it pins none)."""
    entry = manifest.default().numpy.get(version)
    return entry.sdist_sha256 if entry else ""


def record_path(version: str) -> Path:
    return paths.cache_root() / "sdist" / "index" / f"numpy-{version}.json"


def read_record(version: str) -> Listing | None:
    """What the index listed for ``version`` the first time, if recorded (and well-formed)."""
    try:
        data = json.loads(record_path(version).read_text(encoding="utf-8"))
        name, digest = data["filename"], data["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(name, str) and _FILENAME.match(name) and isinstance(digest, str)
            and SHA256.match(digest)):
        log.warn(f"ignoring the malformed index record {record_path(version)}")
        return None
    return Listing(version, name, digest)


def _write_record(listing: Listing) -> None:
    paths.atomic_write_text(record_path(listing.version), json.dumps(
        {"version": listing.version, "filename": listing.filename, "sha256": listing.sha256,
         "recorded": log.utc_now()}, indent=2) + "\n")


def _cached(sha: str, version: str) -> Path | None:
    """The cached archive with digest ``sha`` (checked), else None."""
    dest = paths.cache_root() / "sdist" / sha / f"numpy-{version}.tar.gz"
    if not dest.is_file():
        return None
    if paths.sha256_file(dest) == sha:
        return dest
    log.warn(f"cached {dest} is corrupt; fetching it again")
    dest.unlink()
    return None


def http_get(url: str, dest: Path, deadline: float) -> None:
    """Write ``url`` to ``dest``: each read within :data:`READ_TIMEOUT` s, the whole within
    ``deadline`` s (``read1`` returns what has arrived, so a slow trickle cannot outlast it)."""
    end = time.monotonic() + deadline
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT) as resp, dest.open("wb") as out:
        while chunk := resp.read1(1 << 16):
            out.write(chunk)
            if time.monotonic() > end:
                raise TimeoutError(f"the download took longer than {deadline:g} s")


class _Corrupt(Exception):
    """A download whose sha256 is not the expected one."""


def top_folder(archive: Path, name: str = "") -> str:
    """The one top-level folder of ``archive`` (shown as ``name``); FetchError if it has none or
    several entries there. Raises tarfile/OS errors if the archive cannot be read."""
    tops: dict[str, bool] = {}  # name -> may be a folder
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = [p for p in PurePosixPath(member.name).parts if p not in ("", ".")]
            if parts:
                tops[parts[0]] = tops.get(parts[0], True) and (len(parts) > 1 or member.isdir())
    folders = [name for name, is_dir in tops.items() if is_dir]
    if len(tops) != 1 or len(folders) != 1:
        shown = ", ".join(sorted(tops)[:6]) or "nothing"
        raise FetchError(f"{name or archive.name} is not an sdist: it must hold exactly one top-level "
                         f"folder, it holds {len(tops)} top-level entries ({shown})",
                         "use another index (PIP_INDEX_URL), or pass --numpy path:DIR with a checkout")
    return folders[0]


def _download(listing: Listing, dest: Path) -> None:
    for attempt in (1, 2):
        try:
            with paths.atomic_output(dest) as tmp:
                try:
                    http_get(listing.url, tmp, DOWNLOAD_DEADLINE)
                except Exception as exc:  # network errors come in many types
                    raise FetchError(f"downloading {listing.filename} failed ({exc})",
                                     "check the network or PIP_INDEX_URL and try again") from exc
                got = paths.sha256_file(tmp)
                if got != listing.sha256:
                    raise _Corrupt(got)  # leaves the with block: the partial file is removed
                # A wrong layout is refused here, before it is cached; a verified archive that cannot
                # be read is kept, and unpacking says so (see unpack).
                with contextlib.suppress(*_UNREADABLE):
                    top_folder(tmp, listing.filename)
            return
        except _Corrupt as bad:
            log.warn(f"{listing.filename}: sha256 {bad} != {listing.sha256} (attempt {attempt}); "
                     "downloading again")
    raise FetchError(f"{listing.filename} keeps arriving corrupt", "check the network or index mirror")


def sdist_path(version: str) -> tuple[Path, str]:
    """The cached, sha256-checked sdist of ``version`` and its digest (downloaded if needed)."""
    pinned, rec = pin(version), read_record(version)
    known = pinned or (rec.sha256 if rec else "")
    if known and (found := _cached(known, version)):
        return found, known  # no network: the pin or the record vouches for it
    listing = find(version)
    where = "patches/manifest.toml pins" if pinned else f"{record_path(version)} recorded"
    if known and listing.sha256 != known:
        raise FetchError(
            f"the package index lists sha256 {listing.sha256} for {listing.filename}, but {where} {known}",
            "the index serves another archive than the one lockswap knows: use another index "
            "(PIP_INDEX_URL); if NumPy really re-released it, update the pin or delete the record",
        )
    dest = paths.cache_dir("sdist", listing.sha256) / listing.filename
    if not _cached(listing.sha256, version):
        with log.step(f"download {listing.filename}"):
            _download(listing, dest)
    if rec != Listing(version, listing.filename, listing.sha256):
        _write_record(Listing(version, listing.filename, listing.sha256))
    return dest, listing.sha256


def unpack(archive: Path, sha: str) -> Path:
    """The unpacked tree of a verified sdist (``src/<sha>/<its folder>``)."""
    final = paths.cache_root() / "src" / sha
    if final.is_dir():
        entries = list(final.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            return entries[0]
        log.warn(f"{final} does not hold exactly one folder; unpacking it again")
        shutil.rmtree(final)
    keep = ("it is kept for inspection (e.g. tar -tzf it); if the index serves a broken file, use "
            f"another index (PIP_INDEX_URL) or --numpy path:DIR; delete {archive} to download it again")
    try:
        top = top_folder(archive)
    except FetchError:
        archive.unlink()  # cached before layouts were checked: never valid
        raise
    except _UNREADABLE as exc:
        raise FetchError(f"{archive} (sha256 as listed) cannot be read ({exc})", keep) from exc
    try:
        with paths.staging(final) as stage, tarfile.open(archive) as tar:
            tar.extractall(stage.path, filter="data")
    except _UNREADABLE as exc:
        raise FetchError(f"{archive} (sha256 as listed) cannot be extracted ({exc})", keep) from exc
    return final / top

