"""Registers the commands of the later stages (tests, benchmarks, reports) with the CLI."""

from __future__ import annotations

from . import buildbench, report, testcli  # noqa: F401
from .bench import command  # noqa: F401
from .contention import command as contention_command  # noqa: F401  (lockswap contention)
