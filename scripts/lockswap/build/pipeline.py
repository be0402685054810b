"""The command line resolved once into a frozen, typed request; one target fetched, patched and built.

A :class:`Request` holds the NumPy source spec, the targets (variant + NumPy version + patch) and
the interpreter options; the interpreter itself is found once, on first use, and shared by every
target. :func:`target` is the one place that decides whether a variant can be built on a NumPy
version (unknown variant, or no patch for that version: one message, before anything is built), and
:func:`build_target` the one composition of the stages interpreter -> source -> patch -> build.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from ..base import log, manifest
from ..base.errors import ConfigError
from ..base.manifest import BASELINE, Manifest
from ..interpreter import find as interpreter
from ..interpreter import sanitizer
from ..interpreter.find import Interpreter
from ..patch import apply as patching
from ..source import fetch as source
from . import wheel as build
from .wheel import Wheel

_NOT_YET = ("git:", "path:")  # specs whose NumPy version is known only once fetched


@dataclass(frozen=True)
class PythonOptions:
    """``--python``, ``--python-version``, ``--cpython-source``: how to find the interpreter;
    ``--sanitizer`` (commands that take it): an instrumented one, and instrumented NumPy builds."""

    python: str | None = None
    version: str | None = None
    cpython_source: str | None = None
    sanitizer: str | None = None  # "thread", already validated; None for ordinary builds


@dataclass(frozen=True)
class Target:
    """One thing to build: a variant on a NumPy source."""

    label: str  # unique in a request: the variant, with ``@numpy`` when it is not the request's NumPy
    variant: str
    numpy: str  # the NumPy spec: a version, git:URL@REF or path:DIR
    numpy_version: str | None  # None until a git:/path: spec is fetched
    patch: Path | None  # None for baseline (and until the version is known)


def numpy_spec(text: str | None, m: Manifest | None = None) -> str:
    return text or (m or manifest.default()).default_numpy


def target(m: Manifest, variant: str, spec: str, version: str | None = None, label: str = "") -> Target:
    """``variant`` on ``spec`` (whose version is ``version``, if already known from its tree).

    Fails, with the same message for every command, for an unknown variant or a variant that has
    no patch for the version.
    """
    m.variant(variant)  # unknown variant: one clear message
    if version is None and not spec.startswith(_NOT_YET):
        version = spec
    patch = None if version is None else m.patch_for(variant, version)
    return Target(label or variant, variant, spec, version, patch)


def pinned(m: Manifest, t: Target, version: str) -> Target:
    """``t`` once its source is fetched and its NumPy version known (checks the patch again if new)."""
    if t.numpy_version == version:
        return t
    return replace(target(m, t.variant, t.numpy, version), label=t.label)


def default_variants(m: Manifest, spec: str) -> list[str]:
    """Every variant with a patch for ``spec`` (a manifest version); baseline alone otherwise."""
    return m.variants_for(spec) if spec in m.numpy else [BASELINE]


def parse_targets(m: Manifest, text: str | None, spec: str, *, other_numpy: bool = False) -> list[Target]:
    """A comma-separated ``--variants`` list (default: :func:`default_variants`).

    With ``other_numpy``, an item ``VARIANT@NUMPY`` is that variant on another NumPy version (label
    ``VARIANT@NUMPY``); the same target named twice is kept once.
    """
    items = [v.strip() for v in (text or "").split(",") if v.strip()] or default_variants(m, spec)
    found: dict[str, Target] = {}
    for item in items:
        build = manifest.parse_build(item) if other_numpy else manifest.Build(item, None)
        name, version = build.variant, build.numpy or ""
        if version and version not in m.numpy and not version.startswith(_NOT_YET):
            m.variant(name)
            raise ConfigError(f"--variants {item!r}: NumPy {version} is not in the manifest",
                              f"use one of {', '.join(m.numpy)} after the @")
        version = version or spec
        label = name if version == spec else f"{name}@{version}"
        if label not in found:
            found[label] = target(m, name, version, label=label)
    return list(found.values())


@dataclass(frozen=True)
class Request:
    numpy: str  # the NumPy spec of the command line (or the manifest's default)
    targets: tuple[Target, ...]
    python: PythonOptions = field(default_factory=PythonOptions)

    @cached_property
    def interpreter(self) -> interpreter.Interpreter:
        """The free-threaded interpreter, found (or built) once for the whole request."""
        san = self.python.sanitizer
        sanitizer.activate(san)  # an instrumented interpreter's helper processes: reports silenced
        with log.step("free-threaded interpreter" + (f" ({sanitizer.LABEL[san]})" if san else "")):
            return interpreter.find(self.python.python, want=self.python.version,
                                    cpython_source=self.python.cpython_source, sanitizer=san)


@dataclass(frozen=True)
class Built:
    interpreter: Interpreter
    wheel: Wheel


def build_target(req: Request, t: Target) -> Built:
    """The verified wheel of ``t`` (cache hit if unchanged), built with the request's interpreter."""
    with log.step(f"NumPy source {t.numpy}"):
        src = source.fetch(t.numpy)
    t = pinned(manifest.default(), t, src.version)  # git:/path: no patch: fail before building CPython
    interp = req.interpreter
    patched = patching.apply(src, t.variant, t.patch, manifest.default().versions_for(t.variant))
    san = req.python.sanitizer  # instrumented: a wheel of its own (label, key) for an instrumented Python
    with log.step(f"wheel for NumPy {src.version} [{sanitizer.variant_label(t.variant, san)}] on Python "
                  f"{interp.short}"):
        wheel = build.build(patched, interp, san)
    return Built(interp, wheel)
