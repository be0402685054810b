"""The short answer: per target, t1/tN, the ratio to baseline and the test verdict.

``verdict_table`` is what ``lockswap bench`` prints on the terminal at its end; ``summary_markdown``
is the compact ``summary.md`` the report writes beside ``report.md`` (and CI puts on the step summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def verdict_table(files: Sequence[Path], *, tests_dir: Path | None = None) -> str:
    """The terminal verdict table of benchmark results ``files`` (plain text, no trailing newline).

    One row per target (variant + NumPy version) and machine: the test verdict where a test JSON of
    that build (same variant, NumPy and Python) is among ``files`` or in ``tests_dir`` (e.g. the
    results folder; ``test-*.json`` there are read), t1/tN at the largest worker count that is not
    oversubscribed (at most the physical cores in the affinity mask), and the ratio of t1/tN to the
    same NumPy's baseline with its bootstrap 95% CI and Holm-adjusted significance. Runs marked
    unreliable (GIL enabled, oversubscribed, loaded machine) say so in the row.

    Files of another kind and corrupt files are skipped (named in a line below the table). Raises
    ``ConfigError`` only when nothing renderable is left.
    """
    raise NotImplementedError("stub: lands with the results model (helper results)")
