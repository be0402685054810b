"""NumPy source specs: a released version (sdist), ``git:URL@REF`` or ``path:DIR``.

Sdists are resolved through the Simple API of pip's configured index (``PIP_INDEX_URL`` or
``pip config``; else the client library's default), checked against the index's sha256, cached by
sha256, and unpacked through a staging directory so nothing half-unpacked is ever used.
"""

from __future__ import annotations

import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..base import log, paths, proc, tomlfile
from ..base.errors import ConfigError, FetchError
from . import trees

# The first NumPy release with free-threaded support (cp313t wheels, PR 26348 and follow-ups).
FIRST_FREE_THREADED = Version("2.1.0")


@dataclass(frozen=True)
class Spec:
    kind: str  # "sdist" | "git" | "path"
    value: str  # version, URL or directory
    ref: str = ""  # git ref

    def __str__(self) -> str:
        if self.kind == "sdist":
            return self.value
        return f"git:{self.value}@{self.ref}" if self.kind == "git" else f"path:{self.value}"


@dataclass(frozen=True)
class Source:
    spec: Spec
    version: str  # NumPy's version, as its pyproject.toml says
    tree: Path  # pristine, read-only by convention
    sha256: str  # sdist sha256, git commit, or a hash of the tree's files


def parse_spec(text: str) -> Spec:
    text = text.strip()
    if text.startswith("git:"):
        url, sep, ref = text[4:].rpartition("@")
        if not sep or not url or not ref or url.endswith(":"):
            raise ConfigError(f"bad git spec {text!r}", "write git:URL@REF, e.g. git:https://host/numpy.git@v2.2.6")
        return Spec("git", url, ref)
    if text.startswith("path:"):
        return Spec("path", text[5:])
    try:
        version = Version(text)
    except InvalidVersion:
        raise ConfigError(
            f"bad NumPy spec {text!r}", "use a version (2.1.3), git:URL@REF or path:DIR"
        ) from None
    if version < FIRST_FREE_THREADED:
        raise ConfigError(
            f"NumPy {text} has no free-threaded support",
            f"use NumPy {FIRST_FREE_THREADED} or newer (lockswap's default is 2.1.3)",
        )
    return Spec("sdist", str(version))


def index_url() -> str | None:
    """pip's configured index, or None for the client library's default."""
    url = os.environ.get("PIP_INDEX_URL")
    if url:
        return url
    got = proc.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                   check=False, echo=False)
    return got.stdout.strip() or None if got.returncode == 0 else None


def _find_sdist(version: str):  # -> pypi_simple.DistributionPackage
    from pypi_simple import ACCEPT_JSON_PREFERRED, PyPISimple

    endpoint = index_url()
    try:
        client_cm = (PyPISimple(endpoint, accept=ACCEPT_JSON_PREFERRED) if endpoint
                     else PyPISimple(accept=ACCEPT_JSON_PREFERRED))
        with client_cm as client:
            page = client.get_project_page("numpy", timeout=60)
    except Exception as exc:  # network errors come in many types
        raise FetchError(
            f"cannot read the numpy project page from the package index ({exc})",
            "check the network or PIP_INDEX_URL; or pass --numpy path:DIR with a local checkout",
        ) from exc
    sdists = [p for p in page.packages if p.package_type == "sdist" and not p.is_yanked]
    for pkg in sdists:
        if pkg.version == version:
            if "sha256" not in pkg.digests:
                raise FetchError(f"the index gives no sha256 for {pkg.filename}", "use another index")
            return pkg
    known = sorted({p.version for p in sdists if p.version}, key=Version)
    near = [v for v in known if Version(v) >= FIRST_FREE_THREADED][-12:]
    raise ConfigError(
        f"NumPy {version} has no sdist on the package index",
        f"recent versions: {', '.join(near)}",
    )


class _Corrupt(Exception):
    """A download whose sha256 is not the index's."""


def _download(pkg, dest: Path) -> None:  # pkg: pypi_simple.DistributionPackage
    from pypi_simple import PyPISimple

    expected = pkg.digests["sha256"]
    for attempt in (1, 2):
        try:
            with paths.atomic_output(dest) as tmp, PyPISimple() as client:
                try:
                    client.download_package(pkg, tmp, verify=False, timeout=120)
                except Exception as exc:
                    raise FetchError(f"downloading {pkg.filename} failed ({exc})", "try again") from exc
                got = paths.sha256_file(tmp)
                if got != expected:
                    raise _Corrupt(got)  # leaves the with block: the partial file is removed
            return
        except _Corrupt as bad:
            log.warn(f"{pkg.filename}: sha256 {bad} != {expected} (attempt {attempt}); downloading again")
    raise FetchError(f"{pkg.filename} keeps arriving corrupt", "check the network or index mirror")


def sdist_path(version: str) -> tuple[Path, str]:
    """The cached, sha256-checked sdist of ``version`` (downloaded if needed)."""
    pkg = _find_sdist(version)
    sha = pkg.digests["sha256"]
    dest = paths.cache_dir("sdist", sha) / pkg.filename
    if dest.exists() and paths.sha256_file(dest) != sha:
        log.warn(f"cached {dest} is corrupt; fetching it again")
        dest.unlink()
    if not dest.exists():
        with log.step(f"download {pkg.filename}"):
            _download(pkg, dest)
    return dest, sha


def _unpack(archive: Path, sha: str) -> Path:
    final = paths.cache_root() / "src" / sha
    if not final.is_dir():
        try:
            with paths.staging(final) as stage, tarfile.open(archive) as tar:
                tar.extractall(stage.path, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            archive.unlink(missing_ok=True)
            raise FetchError(f"{archive.name} is damaged ({exc}); removed it", "run again") from exc
    (tree,) = final.iterdir()
    return tree


def tree_version(tree: Path) -> str:
    """NumPy's version from the ``[project]`` table of the tree's ``pyproject.toml``."""
    try:
        project = tomlfile.load(tree / "pyproject.toml").get("project", {})
    except OSError:
        raise FetchError(f"{tree} has no pyproject.toml", "point path: at a NumPy source tree") from None
    except tomlfile.TOMLDecodeError as exc:
        raise FetchError(f"{tree / 'pyproject.toml'} is not valid TOML ({exc})", "") from None
    if project.get("name") != "numpy":
        raise FetchError(f"{tree} is not a NumPy source tree", "point path: at a NumPy checkout")
    if not isinstance(project.get("version"), str):
        raise FetchError(f"cannot read NumPy's version from {tree / 'pyproject.toml'}", "")
    return project["version"]


def _git(spec: Spec) -> Path:
    key = paths.content_key(spec.value, spec.ref)
    final = paths.cache_root() / "git" / key
    if final.is_dir():
        return final
    hint = f"check that {spec.value} is reachable and {spec.ref} exists (tag, branch or pull/N/head)"
    with paths.staging(final) as stage, log.step(f"git clone {spec.value} @ {spec.ref}"):
        staging = stage.path
        proc.run(["git", "init", "-q", staging])
        proc.run(["git", "-C", staging, "fetch", "--depth=1", spec.value, spec.ref],
                 hint=hint, timeout=1800)
        proc.run(["git", "-C", staging, "checkout", "-q", "FETCH_HEAD"])
        proc.run(["git", "-C", staging, "submodule", "update", "--init", "--recursive", "--depth=1"],
                 hint=hint, timeout=1800)
    return final


def fetch(text: str) -> Source:
    spec = parse_spec(text)
    if spec.kind == "sdist":
        archive, sha = sdist_path(spec.value)
        tree = _unpack(archive, sha)
        return Source(spec, tree_version(tree), tree, sha)
    if spec.kind == "git":
        tree = _git(spec)
        commit = proc.run(["git", "-C", tree, "rev-parse", "HEAD"], echo=False).stdout.strip()
        return Source(spec, tree_version(tree), tree, commit)
    tree = Path(spec.value).expanduser().resolve()
    if not tree.is_dir():
        raise ConfigError(f"{tree} is not a directory", "pass path:DIR with an existing NumPy checkout")
    return Source(spec, tree_version(tree), tree, trees.tree_hash(tree))
