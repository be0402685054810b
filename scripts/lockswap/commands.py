"""Registers the commands of the later stages (tests, benchmarks, reports) with the CLI."""

from __future__ import annotations

from . import buildbench, testcli  # noqa: F401
