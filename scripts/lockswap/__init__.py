"""lockswap: build, test and benchmark NumPy dispatch-cache lock variants on free-threaded CPython."""

from __future__ import annotations

__version__ = "0.1.0"
