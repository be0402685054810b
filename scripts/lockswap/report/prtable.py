"""NumPy PR 32513's table, with this run's numbers: speed-up over one thread per build and form.

The PR measured three forms on 4-element float64 arrays (``np.sin(a)``, ``np.add(a, b)``, ``a + b``,
the ufunc looked up on the module per call, the result allocated) and gave the speed-up over one
thread at 6 pinned threads. lockswap's workloads ``sin``, ``addalloc`` and ``addop`` are those forms;
each worker does the same work (weak scaling), so the speed-up is N x t1/tN, paired per process, for
every N the run measured. The numbers are exploratory: the run's Holm family is its verdict cell.
"""

from __future__ import annotations

from ..base import stats
from ..base.mdtext import escape
from ..bench.workloads import PR32513, REGISTRY
from . import scaling
from .analysis import Analysis
from .cells import Key

FORMS = {"sin": "`np.sin(a)`", "addalloc": "`np.add(a, b)`", "addop": "`a + b`"}
PUBLISHED = ("PR 32513 (6 pinned threads, 3.14t): `np.sin(a)` main 1.6x, with the PR 3.0x, 3.15t 6.0x; "
             "`np.add(a, b)` 1.5x, 4.6x, 6.0x; `a + b` 5.9x, 5.8x, 5.9x.")


def section(a: Analysis) -> list[str]:
    """One table per run that measured any of the three forms (rows: form and N; columns: builds)."""
    md: list[str] = []
    for group in sorted(a.pool.groups):
        keys = [k for k in a.pool.processes if k.run == group and k.workload in PR32513
                and k.mode == "threads"]
        if not keys:
            continue
        builds = sorted({(k.numpy, k.variant) for k in keys},
                        key=lambda b: (scaling.version_key(b[0]), b[1] != "baseline", b[1]))
        workers = sorted({k.workers for k in keys if k.workers > 1})
        head = ["form", "N", *(escape(f"{v}@{n}") for n, v in builds)]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for form in (w for w in PR32513 if any(k.workload == w for k in keys)):
            size = REGISTRY[form].fixed_size or 4
            for n in workers:
                cells = []
                for numpy, variant in builds:
                    eff = scaling.efficiencies(a.pool, Key(group, numpy, variant, form, size, "threads", n))
                    ci = stats.median_interval([n * e for e in eff]) if eff else None
                    cells.append("-" if not eff else f"{n * stats.median(eff):.2f}x" + (
                        f" [{ci.low:.2f}, {ci.high:.2f}]" if ci else " (n too small)"))
                lines.append(f"| {FORMS[form]} | {n} | " + " | ".join(cells) + " |")
        md += [f"### {escape(group)}", "", *lines, ""]
    if not md:
        return []
    return ["## NumPy PR 32513's forms: speed-up over one thread", "",
            "Speed-up = N x t1/tN per process (each thread does one thread's work), median and "
            f"{stats.LEVEL:.0%} CI over processes, unadjusted and exploratory; 4-element float64 arrays, "
            "the ufunc looked up per call, the result allocated, as in the PR. For comparison, "
            + PUBLISHED + " This machine's N is its own.", "", *md]
