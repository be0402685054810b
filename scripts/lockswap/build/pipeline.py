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
from ..patch import port
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
    patch: Path | None  # None for baseline (and until the version is known); with port_from, that version's
    port_from: str | None = None  # the manifest version whose patch is ported (no patch for this version)


def numpy_spec(text: str | None, m: Manifest | None = None) -> str:
    return text or (m or manifest.default()).default_numpy


def target(m: Manifest, variant: str, spec: str, version: str | None = None, label: str = "",
           port_from: str | None = None) -> Target:
    """``variant`` on ``spec`` (whose version is ``version``, if already known from its tree).

    The one place that decides which patch a target gets: the manifest's patch for its version, else
    the patch of the version :func:`lockswap.patch.port.choose_base` picks (``port_from`` overrides),
    to be ported by :func:`build_target`. Fails, with the same message for every command, for an
    unknown variant, a malformed spec or a ``port_from`` the variant has no patch for.
    """
    v = m.variant(variant)  # unknown variant: one clear message
    if version is None and not spec.startswith(_NOT_YET):
        version = str(source.parse_spec(spec))
    if version is None or v.is_baseline:
        return Target(label or variant, variant, spec, version, None)
    if version in v.patches:
        return Target(label or variant, variant, spec, version, v.patches[version])
    base = port.choose_base(m, variant, version, port_from)
    return Target(label or variant, variant, spec, version, v.patches[base], base)


def pinned(m: Manifest, t: Target, version: str, port_from: str | None = None) -> Target:
    """``t`` once its source is fetched and its NumPy version known (checks the patch again if new)."""
    if t.numpy_version == version:
        return t
    return replace(target(m, t.variant, t.numpy, version, port_from=port_from), label=t.label)


def default_variants(m: Manifest, spec: str) -> list[str]:
    """Every variant with a patch for ``spec`` (a manifest version); baseline alone otherwise."""
    return m.variants_for(spec) if spec in m.numpy else [BASELINE]


def parse_targets(m: Manifest, text: str | None, spec: str, *, other_numpy: bool = False,
                  port_from: str | None = None) -> list[Target]:
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
            found[label] = target(m, name, version, label=label, port_from=port_from)
    return list(found.values())


@dataclass(frozen=True)
class Request:
    numpy: str  # the NumPy spec of the command line (or the manifest's default)
    targets: tuple[Target, ...]
    python: PythonOptions = field(default_factory=PythonOptions)
    port_from: str | None = None  # --port-from: the base of every port (default: the nearest version)

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
    m = manifest.default()
    t = pinned(m, t, src.version, req.port_from)  # git:/path: decided here, before building CPython
    ported = port_target(t, src) if t.port_from is not None else None
    interp = req.interpreter
    # a ported patch says where from in its header (Ported-From), as one a person resolved and listed
    patched = patching.apply(src, t.variant, ported.patch if ported else t.patch, m.versions_for(t.variant))
    san = req.python.sanitizer  # instrumented: a wheel of its own (label, key) for an instrumented Python
    with log.step(f"wheel for NumPy {src.version} [{sanitizer.variant_label(t.variant, san)}] on Python "
                  f"{interp.short}"):
        wheel = build.build(patched, interp, san)
    return Built(interp, wheel)


def port_target(t: Target, src: source.Source) -> port.Ported:
    """``t``'s base patch ported to ``src`` (cached); a conflict or a moved file stops here."""
    assert t.patch is not None and t.port_from is not None
    shown = f"patches/{t.port_from}/{t.patch.name}"
    log.info(f"{t.variant!r} has no patch for NumPy {src.version}: porting {shown} (NumPy {t.port_from}, "
             f"sha256 {patching.patch_sha256(t.patch)[:12]}) by a three-way merge")
    with log.step(f"NumPy source {t.port_from} (merge base)"):
        base = source.fetch(t.port_from)
    with log.step(f"port {t.variant} from NumPy {t.port_from} to {src.version}"):
        ported = port.port(src, t.variant, base, t.patch)
    log.info(f"ported {t.variant} from NumPy {ported.base_version} (base patch sha256 "
             f"{ported.base_patch_sha256[:12]}) to {src.version}: {ported.patch} "
             f"(sha256 {ported.sha256[:12]})")
    return ported
