"""Released sdists through a package index on 127.0.0.1 (tests/unit/fake_index.py): digests, pins,
records, layouts, damaged archives, timeouts and the index being unreachable."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest
from fake_index import Entry, serve

from lockswap.base import manifest
from lockswap.base.errors import ConfigError, FetchError, LockswapError
from lockswap.source import fetch as source
from lockswap.source import sdist

UNREACHABLE = "http://127.0.0.1:9/simple/"


def tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def numpy_sdist(version: str) -> bytes:
    return tarball({f"numpy-{version}/pyproject.toml":
                    f'[project]\nname = "numpy"\nversion = "{version}"\n'.encode()})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PINNED, FREE = "2.1.3", "2.3.5"  # FREE: no pin in the test manifest
SDIST = numpy_sdist(PINNED)
FREE_SDIST = numpy_sdist(FREE)


@pytest.fixture(autouse=True)
def pinned_manifest(tmp_path, monkeypatch):
    """A manifest pinning PINNED's sdist to SDIST's digest; FREE is not listed."""
    path = tmp_path / "manifest.toml"
    path.write_text(f"""schema = 1
default_numpy = "{PINNED}"
[numpy."{PINNED}"]
sdist_sha256 = "{sha(SDIST)}"
pythons = ["3.13t"]
[variants.baseline]
description = "as released"
[ci]
pythons = ["3.13t"]
os = ["ubuntu-24.04"]
""")
    monkeypatch.setenv("LOCKSWAP_MANIFEST", str(path))
    manifest.default.cache_clear()


@pytest.fixture
def index(monkeypatch):
    entries = [Entry(f"numpy-{PINNED}.tar.gz", SDIST), Entry(f"numpy-{FREE}.tar.gz", FREE_SDIST)]
    with serve(entries) as idx:
        monkeypatch.setenv("PIP_INDEX_URL", idx.url)
        yield idx


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_pinned_sdist_is_checked_cached_unpacked_and_then_needs_no_index(cache, index, monkeypatch):
    src = source.fetch(PINNED)
    assert (src.version, src.sha256) == (PINNED, sha(SDIST)) and (src.tree / "pyproject.toml").is_file()
    assert (index.page_requests, index.downloads) == (1, 1)
    monkeypatch.setenv("PIP_INDEX_URL", UNREACHABLE)
    again = source.fetch(PINNED)
    assert again.tree == src.tree and (index.page_requests, index.downloads) == (1, 1)


def test_an_unpinned_version_records_what_the_index_said_and_then_needs_no_index(cache, index, monkeypatch):
    src = source.fetch(FREE)
    record = json.loads(sdist.record_path(FREE).read_text())
    assert record["filename"] == f"numpy-{FREE}.tar.gz" and record["sha256"] == sha(FREE_SDIST) == src.sha256
    monkeypatch.setenv("PIP_INDEX_URL", UNREACHABLE)
    assert source.fetch(FREE).tree == src.tree
    assert index.page_requests == 1  # the record and the verified archive: no network at all


def test_the_index_must_list_the_pinned_digest(cache, index):
    index.entries[0] = Entry(f"numpy-{PINNED}.tar.gz", numpy_sdist(PINNED) + b"")  # same bytes...
    index.entries[0].sha256 = "b" * 64  # ...but the index lists another digest
    with pytest.raises(FetchError) as err:
        sdist.sdist_path(PINNED)
    assert "b" * 64 in err.value.message and sha(SDIST) in err.value.message
    assert index.downloads == 0 and not files_under(cache / "sdist")


def test_a_crafted_digest_is_refused_before_any_use(cache, index, tmp_path):
    """A digest used as a path component once deleted a file outside the cache."""
    victim = tmp_path / "victim" / f"numpy-{FREE}.tar.gz"
    victim.parent.mkdir()
    victim.write_text("precious")
    index.entries[1].sha256 = "../../victim"
    with pytest.raises(FetchError, match="malformed sha256"):
        sdist.sdist_path(FREE)
    assert victim.read_text() == "precious"
    assert index.downloads == 0 and not files_under(cache / "sdist")
    assert not (tmp_path / "cache" / "victim").exists()


@pytest.mark.parametrize("name", ["../numpy-2.3.5.tar.gz", "numpy-2.3.5.tar.gz/../../x", "other.tar.gz"])
def test_a_crafted_file_name_is_refused(cache, index, name):
    index.entries[1].filename = name
    with pytest.raises(LockswapError):
        sdist.sdist_path(FREE)
    assert index.downloads == 0 and not files_under(cache / "sdist")
    with pytest.raises(FetchError, match=r"lists NumPy 2\.3\.5's sdist as"):
        sdist.checked_filename(name, FREE)


def test_an_sdist_without_exactly_one_top_level_folder_is_refused_before_it_is_cached(cache, index):
    bad = tarball({f"numpy-{FREE}/pyproject.toml": b"[project]\n", "evil/x": b"x"})
    index.entries[1] = Entry(f"numpy-{FREE}.tar.gz", bad)
    with pytest.raises(FetchError) as err:
        source.fetch(FREE)
    assert "exactly one top-level folder" in err.value.message and "evil" in err.value.message
    assert err.value.message.startswith(f"numpy-{FREE}.tar.gz is not an sdist")
    assert index.downloads == 1
    assert not files_under(cache / "sdist") and not files_under(cache / "src")
    index.entries[1] = Entry(f"numpy-{FREE}.tar.gz", tarball({"pyproject.toml": b"x"}))  # a file, no folder
    with pytest.raises(FetchError, match="exactly one top-level folder"):
        source.fetch(FREE)
    assert not files_under(cache / "sdist")


def test_a_cached_sdist_with_two_top_level_folders_is_removed_with_one_error(cache, index):
    """Cached by an older lockswap (no layout check): one error, then a clean state, not a crash."""
    bad = tarball({f"numpy-{FREE}/pyproject.toml": b"[project]\n", "evil/x": b"x"})
    archive = cache / "sdist" / sha(bad) / f"numpy-{FREE}.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(bad)
    with pytest.raises(FetchError, match="exactly one top-level folder"):
        sdist.unpack(archive, sha(bad))
    assert not archive.exists() and not files_under(cache / "src")


def test_an_archive_that_fails_to_extract_is_kept_with_one_error(cache, index):
    damaged = FREE_SDIST[:-200]  # the index lists this file's own digest: it arrives "verified"
    index.entries[1] = Entry(f"numpy-{FREE}.tar.gz", damaged)
    for _ in range(2):  # the second run: the same one error, no new download (no "run again" loop)
        with pytest.raises(FetchError) as err:
            source.fetch(FREE)
        assert "kept for inspection" in err.value.hint and "cannot be" in err.value.message
    archive = cache / "sdist" / sha(damaged) / f"numpy-{FREE}.tar.gz"
    assert archive.read_bytes() == damaged and index.downloads == 1
    assert not files_under(cache / "src")


def test_a_corrupt_download_is_fetched_again(cache, index, monkeypatch):
    real, calls = sdist.http_get, []

    def flaky(url, dest, deadline):  # the first download arrives truncated
        real(url, dest, deadline)
        calls.append(dest)
        if len(calls) == 1:
            dest.write_bytes(dest.read_bytes()[:50])

    monkeypatch.setattr(sdist, "http_get", flaky)
    assert source.fetch(FREE).tree.is_dir() and index.downloads == 2
    assert not [p for p in files_under(cache / "sdist") if p.name.endswith(".tmp")]


def test_an_always_corrupt_download_fails_and_leaves_nothing(cache, index, monkeypatch):
    real = sdist.http_get

    def corrupt(url, dest, deadline):
        real(url, dest, deadline)
        dest.write_bytes(dest.read_bytes()[:50])

    monkeypatch.setattr(sdist, "http_get", corrupt)
    with pytest.raises(FetchError, match="keeps arriving corrupt"):
        source.fetch(FREE)
    assert index.downloads == 2 and not files_under(cache / "sdist") and not files_under(cache / "src")


def test_a_corrupt_cached_sdist_is_replaced(cache, index):
    archive, _ = sdist.sdist_path(PINNED)
    archive.write_bytes(b"truncated")
    sdist.sdist_path(PINNED)
    assert index.downloads == 2 and archive.read_bytes() == SDIST


def test_a_record_the_index_later_contradicts_is_refused(cache, index):
    sdist.sdist_path(FREE)
    (cache / "sdist" / sha(FREE_SDIST) / f"numpy-{FREE}.tar.gz").unlink()
    index.entries[1] = Entry(f"numpy-{FREE}.tar.gz", numpy_sdist(FREE) + b"\0" * 10)
    with pytest.raises(FetchError) as err:
        sdist.sdist_path(FREE)
    assert "recorded" in err.value.message and sha(FREE_SDIST) in err.value.message


def test_unreachable_index_and_nothing_cached_is_one_fetch_error(cache, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", UNREACHABLE)
    with pytest.raises(FetchError, match="cannot read the numpy project page"):
        source.fetch(FREE)


def test_unknown_version_lists_recent_ones(cache, index):
    with pytest.raises(ConfigError, match="no sdist") as err:
        source.fetch("2.9.9")
    assert PINNED in err.value.hint


def test_a_download_past_its_deadline_fails_and_leaves_nothing(cache, index, monkeypatch):
    big = tarball({f"numpy-{FREE}/pyproject.toml": b"[project]\n", f"numpy-{FREE}/pad": os.urandom(4096)})
    index.entries[1] = Entry(f"numpy-{FREE}.tar.gz", big)
    index.drip_seconds = 0.05  # 64 bytes per 50 ms: seconds in all, far past the deadline
    monkeypatch.setattr(sdist, "DOWNLOAD_DEADLINE", 0.3)
    start = time.monotonic()
    with pytest.raises(FetchError, match="longer than"):
        sdist.sdist_path(FREE)
    assert time.monotonic() - start < 10
    assert not files_under(cache / "sdist")


def test_an_index_that_never_answers_times_out(cache, monkeypatch):
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.getsockname()[1]}/simple/")
    monkeypatch.setattr(sdist, "PAGE_TIMEOUT", (2.0, 0.5))
    start = time.monotonic()
    try:
        with pytest.raises(FetchError, match="cannot read the numpy project page"):
            sdist.sdist_path(FREE)
    finally:
        server.close()
    assert time.monotonic() - start < 10


def test_a_malformed_record_is_ignored(cache, index):
    sdist.record_path(FREE).parent.mkdir(parents=True)
    sdist.record_path(FREE).write_text(json.dumps({"filename": "../x", "sha256": "../../y"}))
    assert sdist.read_record(FREE) is None
    assert source.fetch(FREE).sha256 == sha(FREE_SDIST)
    assert sdist.read_record(FREE) == sdist.Listing(FREE, f"numpy-{FREE}.tar.gz", sha(FREE_SDIST))
