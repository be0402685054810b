"""Registers the commands of the later stages (tests, benchmarks, reports) with the CLI."""

from __future__ import annotations

from . import report as _report  # noqa: F401
from .bench import command as _bench  # noqa: F401
