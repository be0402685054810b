"""What the GitHub Actions workflow uses: matrix expansion, the one-job runner, result merging, lint.

Each module runs as ``python -m ci.NAME`` from the repository root (nox sessions do that). The
lockswap package is importable without installing it: ``scripts/`` is put on ``sys.path`` here, as
the noxfile does, so these entry points also run on the interpreter that runs nox.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

_SCRIPTS = str(Path(__file__).resolve().parents[1] / "scripts")
if _SCRIPTS not in sys.path:
    sys.path.insert(0, _SCRIPTS)

from lockswap.base import log  # noqa: E402
from lockswap.base.errors import LockswapError  # noqa: E402


def entry(name: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run an entry point of ci/: like ``lockswap.cli.main``, the one place errors are printed."""
    try:
        return main(argv)
    except LockswapError as exc:
        log.info(f"\n{name}: error: {exc}")
        return exc.exit_code  # the same codes as lockswap's own commands (README "Exit codes")
