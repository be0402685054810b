"""NumPy source specs: a released version (sdist), ``git:URL@REF`` or ``path:DIR``.

Sdists: :mod:`lockswap.source.sdist` (the package index, pins, records, the archive cache). ``git:``
specs: :mod:`lockswap.source.git` (accepted URLs and refs, one checkout per commit). ``path:`` trees
are used in place and keyed by :func:`lockswap.source.trees.tree_hash`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..base import tomlfile
from ..base.errors import ConfigError, FetchError
from . import git, sdist, trees

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
            raise ConfigError(f"bad git spec {text!r}", git.URL_HINT)
        return Spec("git", git.check_url(url), git.check_ref(ref))
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


def fetch(text: str) -> Source:
    spec = parse_spec(text)
    if spec.kind == "sdist":
        archive, sha = sdist.sdist_path(spec.value)
        tree = sdist.unpack(archive, sha)
        return Source(spec, tree_version(tree), tree, sha)
    if spec.kind == "git":
        tree, commit = git.fetch(spec.value, spec.ref)
        return Source(spec, tree_version(tree), tree, commit)
    tree = Path(spec.value).expanduser().resolve()
    if not tree.is_dir():
        raise ConfigError(f"{tree} is not a directory", "pass path:DIR with an existing NumPy checkout")
    return Source(spec, tree_version(tree), tree, trees.tree_hash(tree))
