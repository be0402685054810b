"""Fetch, patch and build one target of a :class:`~lockswap.request.Request`."""

from __future__ import annotations

from dataclasses import dataclass

from . import build, log, manifest, patching, sanitizer, source
from .build import Wheel
from .interpreter import Interpreter
from .request import Request, Target, pinned


@dataclass(frozen=True)
class Built:
    target: Target  # with its NumPy version and patch known
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
    return Built(t, interp, wheel)
