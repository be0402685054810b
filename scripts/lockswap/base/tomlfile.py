"""Reading TOML: ``tomllib`` (Python 3.11+), else the ``tomli`` backport. The one place TOML is read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError


def loads(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def load(path: Path) -> dict[str, Any]:
    """The TOML document at ``path`` (OSError and :data:`TOMLDecodeError` pass through)."""
    return tomllib.loads(path.read_text(encoding="utf-8"))
