"""Load and validate ``patches/manifest.toml``: the one place variants and NumPy versions live."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from packaging.version import Version

from . import paths, tomlfile
from .errors import ConfigError

SCHEMA = 1
BASELINE = "baseline"
_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_PYTHON = re.compile(r"^3\.\d+t$")


@dataclass(frozen=True)
class NumpyVersion:
    version: str
    lock: str
    pythons: tuple[str, ...]  # what lockswap builds and tests this NumPy on
    # What NumPy itself supports (wheels, cibuildwheel): the scheduled CI default. Cells in
    # ``pythons`` but not here (NumPy 2.5 on 3.13t) run only when a manual CI run asks.
    upstream_pythons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    origin: str
    patches: dict[str, Path] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE


EXCLUDE_KEYS = ("variant", "numpy", "python", "os")


@dataclass(frozen=True)
class CIConfig:
    """The ``[ci]`` table: what the GitHub Actions matrix is expanded from (see ``ci/matrix.py``)."""

    pythons: tuple[str, ...]
    os: tuple[str, ...]  # runner labels, e.g. ubuntu-24.04
    exclude: tuple[dict[str, str], ...]  # each: cells matching all its keys are left out
    numpy: tuple[str, ...]  # NumPy versions a push runs (default: default_numpy)


@dataclass(frozen=True)
class Manifest:
    path: Path
    default_numpy: str
    numpy: dict[str, NumpyVersion]
    variants: dict[str, Variant]
    ci: CIConfig

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            raise ConfigError(
                f"unknown variant {name!r}",
                f"choose one of: {', '.join(self.variants)} (listed in {self.path})",
            ) from None

    def versions_for(self, variant: str) -> list[str]:
        v = self.variant(variant)
        return list(self.numpy) if v.is_baseline else list(v.patches)

    def patch_for(self, variant: str, numpy_version: str) -> Path | None:
        """The patch of ``variant`` for ``numpy_version`` (None for baseline)."""
        v = self.variant(variant)
        if v.is_baseline:
            return None
        if numpy_version not in v.patches:
            raise ConfigError(
                f"variant {variant!r} has no patch for NumPy {numpy_version}",
                f"{variant!r} supports NumPy {', '.join(v.patches) or '(none)'}; "
                f"pass --numpy with one of those, or write patches/{numpy_version}/{variant}.patch "
                "and list it in patches/manifest.toml",
            )
        return v.patches[numpy_version]

    @property
    def newest(self) -> str:
        """The newest NumPy release the manifest lists: the upstream bar of ``nox -s bench``."""
        return max(self.numpy, key=Version)

    def variants_for(self, numpy_version: str) -> list[str]:
        return [name for name in self.variants if numpy_version in self.versions_for(name)]


@dataclass(frozen=True)
class Build:
    """``VARIANT`` or ``VARIANT@NUMPY``: a variant on the command's own NumPy, or on another one."""

    variant: str
    numpy: str | None  # None: the NumPy of the command (--numpy)

    @property
    def label(self) -> str:
        return f"{self.variant}@{self.numpy}" if self.numpy else self.variant


def bad_build(text: str, option: str) -> ConfigError:
    return ConfigError(f"{option} {text!r}: expected VARIANT or VARIANT@NUMPY",
                       "e.g. rwlock or baseline@2.5.5")


def parse_build(text: str, option: str = "--variants") -> Build:
    """The one reader of the ``VARIANT@NUMPY`` grammar (``--variants``, ``--reference``)."""
    variant, at, numpy = text.strip().partition("@")
    if not variant or (at and not numpy) or ("@" in numpy and not numpy.startswith(("git:", "path:"))):
        raise bad_build(text, option)
    return Build(variant, numpy or None)


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: '{key}' must be a {kind.__name__}", "fix patches/manifest.toml")
    return value


def parse(data: dict[str, Any], path: Path) -> Manifest:
    where = str(path)
    if data.get("schema") != SCHEMA:
        raise ConfigError(f"{where}: schema must be {SCHEMA}", "fix patches/manifest.toml")
    numpy: dict[str, NumpyVersion] = {}
    for version, table in _require(data, "numpy", dict, where).items():
        pythons = tuple(_require(table, "pythons", list, f"{where} [numpy.{version!r}]"))
        bad = [p for p in pythons if not _PYTHON.match(p)]
        if bad:
            raise ConfigError(f"{where}: NumPy {version}: bad Python {bad}", "write them like '3.13t'")
        upstream = table.get("upstream_pythons", pythons)
        upstream = tuple(upstream) if isinstance(upstream, (list, tuple)) else ()
        if not upstream or not all(isinstance(p, str) and _PYTHON.match(p) for p in upstream):
            raise ConfigError(f"{where}: NumPy {version}: upstream_pythons must be a non-empty list "
                              "like ['3.14t']", "list the free-threaded Pythons NumPy publishes wheels for")
        numpy[version] = NumpyVersion(version, str(table.get("lock", "")), pythons, upstream)
    default = _require(data, "default_numpy", str, where)
    if default not in numpy:
        raise ConfigError(f"{where}: default_numpy {default} is not under [numpy]", "add it")
    variants: dict[str, Variant] = {}
    for name, table in _require(data, "variants", dict, where).items():
        vwhere = f"{where} [variants.{name}]"
        if not _NAME.match(name):
            raise ConfigError(f"{vwhere}: names are lowercase letters and digits", "rename it")
        patches: dict[str, Path] = {}
        for version, rel in table.get("patches", {}).items():
            if version not in numpy:
                raise ConfigError(f"{vwhere}: NumPy {version} is not under [numpy]", "add it there")
            patch = (path.parent / rel).resolve()
            if not patch.is_file():
                raise ConfigError(f"{vwhere}: missing patch file {patch}", "add it or drop the entry")
            patches[version] = patch
        if name == BASELINE and patches:
            raise ConfigError(f"{vwhere}: baseline has no patches", "remove them")
        if name != BASELINE and not patches:
            raise ConfigError(f"{vwhere}: no patches listed", "add [variants.NAME.patches]")
        variants[name] = Variant(
            name, _require(table, "description", str, vwhere), str(table.get("origin", "")), patches
        )
    if BASELINE not in variants:
        raise ConfigError(f"{where}: [variants.baseline] is missing", "add it")
    ci = _parse_ci(_require(data, "ci", dict, where), f"{where} [ci]", numpy, variants, default)
    return Manifest(path, default, numpy, variants, ci)


def default_path() -> Path:
    """``patches/manifest.toml``, or the file named by ``LOCKSWAP_MANIFEST`` (tests, experiments)."""
    override = os.environ.get("LOCKSWAP_MANIFEST")
    return Path(override).resolve() if override else paths.PATCHES / "manifest.toml"


def os_family(text: str) -> str:
    """The OS family of a runner label or a platform string: ``windows-2022`` and ``Windows-10-...`` ->
    ``windows``; ``macos-15`` and ``macOS-14-arm64``/``Darwin`` -> ``macos``; ``ubuntu-24.04`` and
    ``Linux-6.1-...`` -> ``linux``; anything else as it is. Exclusions may name a label or its family."""
    lowered = text.lower()
    for family, marks in (("windows", ("windows",)), ("macos", ("macos", "darwin")),
                          ("linux", ("linux", "ubuntu", "debian"))):
        if any(mark in lowered for mark in marks):
            return family
    return text or "?"


def _parse_ci(
    table: dict[str, Any], where: str, numpy: dict[str, NumpyVersion], variants: dict[str, Variant],
    default: str,
) -> CIConfig:
    fix = "fix the [ci] table of patches/manifest.toml"
    pythons = tuple(_require(table, "pythons", list, where))
    if not pythons or not all(isinstance(p, str) and _PYTHON.match(p) for p in pythons):
        raise ConfigError(f"{where}: pythons must be a non-empty list like ['3.13t']", fix)
    runners = tuple(_require(table, "os", list, where))
    if not runners or not all(isinstance(o, str) and o for o in runners):
        raise ConfigError(f"{where}: os must be a non-empty list of runner labels", fix)
    versions = tuple(table.get("numpy", [default]))
    unknown = [v for v in versions if v not in numpy]
    if not versions or unknown:
        raise ConfigError(f"{where}: numpy {unknown or '[]'} must list versions under [numpy]", fix)
    known = {
        "variant": set(variants), "numpy": set(numpy), "python": set(pythons),
        "os": set(runners) | {os_family(o) for o in runners} | {o.split("-")[0] for o in runners},
    }
    exclude = []
    for rule in table.get("exclude", []):
        if not isinstance(rule, dict) or not rule or set(rule) - set(EXCLUDE_KEYS):
            raise ConfigError(
                f"{where}: exclude entry {rule!r} must be a table of {', '.join(EXCLUDE_KEYS)}", fix
            )
        for key, value in rule.items():
            if value not in known[key]:
                raise ConfigError(
                    f"{where}: exclude entry {rule!r}: {key} {value!r} matches nothing",
                    f"use one of: {', '.join(sorted(known[key]))}",
                )
        exclude.append({k: str(v) for k, v in rule.items()})
    return CIConfig(pythons, runners, tuple(exclude), versions)


def load(path: Path | None = None) -> Manifest:
    path = path or default_path()
    try:
        data = tomlfile.load(path)
    except (OSError, tomlfile.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "restore patches/manifest.toml") from exc
    return parse(data, path)


@cache
def default() -> Manifest:
    return load()
