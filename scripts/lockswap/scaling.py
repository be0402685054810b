"""Thread-scaling efficiency t1/tN and single-thread cost per call, across NumPy versions and variants.

Every one of N threads does the work one thread did (weak scaling), so ``t1/tN`` = 1.0 is linear
scaling and 0.5 means two threads took twice as long as one (fully serialised). t1 and tN come from
the same repeat, i.e. the same worker process, so each process gives one efficiency; tables show the
median and interquartile range over processes, the unit of replication. This is the comparison of
NumPy issue 27786 (t1/t2 of a tight ufunc loop), and the one place it is computed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from .bench import stats
from .errors import ConfigError
from .manifest import BASELINE

if TYPE_CHECKING:
    from .reportdata import Data, Key

ALPHA = stats.ALPHA


def efficiencies(data: Data, key: Key) -> list[float]:
    """t1/tN of every process that measured both 1 and ``key.workers`` threads with the same work."""
    one = data.runs.get(replace(key, workers=1), {})
    mine = data.runs.get(key, {})
    return [one[r][0] / mine[r][0] for r in sorted(one.keys() & mine.keys()) if one[r][1] == mine[r][1]]


def ns_per_call(data: Data, key: Key) -> list[float]:
    """Single-thread nanoseconds per kernel call, one per process."""
    return [s / it * 1e9 for s, it in data.runs.get(replace(key, workers=1), {}).values()]


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in re.split(r"[.+-]", version))


def _cell(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    s = stats.summarize(values)
    return f"{s.median:.{digits}f} [{s.q1:.{digits}f}-{s.q3:.{digits}f}]"


def _compare(mine: list[float], base: list[float], is_baseline: bool) -> str:
    """Ratio of medians to baseline's, bold when Mann-Whitney p < ALPHA; with its p."""
    if is_baseline or not mine or not base:
        return "-"
    r = stats.compare(mine, base)
    text = f"{r.ratio:.3f} (p={r.p:.3f})"
    return f"**{text}**" if r.significant else text


def parse_reference(text: str | None) -> tuple[str, str] | None:
    """``baseline@2.2.6`` -> (NumPy, variant): the build every row is also compared with."""
    if not text:
        return None
    variant, sep, numpy = text.partition("@")
    if not sep or not variant or not numpy:
        raise ConfigError(f"--reference {text!r}: expected VARIANT@NUMPY", "e.g. --reference baseline@2.2.6")
    return numpy, variant


def table(data: Data, machine: str, workload: str, size: int,
          reference: tuple[str, str] | None = None) -> list[str]:
    """One row per (NumPy, variant) measured on ``machine``: ns/call at 1 thread and t1/tN per N,
    each compared with the same NumPy's baseline and, if given, with the ``reference`` build."""
    want = (machine, workload, size, "threads")
    keys = [k for k in data.runs if (k.machine, k.workload, k.size, k.mode) == want]
    workers = sorted({k.workers for k in keys if k.workers > 1})
    rows = sorted({(k.numpy, k.variant) for k in keys if k.workers == 1},
                  key=lambda t: (_version_key(t[0]), t[1] != BASELINE, t[1]))
    if not workers or not rows:
        return []
    if reference and reference not in rows:
        reference = None  # not measured in this group
    ref_name = f"{reference[1]}@{reference[0]}" if reference else ""
    head = ["NumPy", "variant", "processes", "1 thread: ns/call", "ns/call / baseline"]
    head += [f"ns/call / {ref_name}"] if reference else []
    for n in workers:
        head += [f"t1/t{n}", f"t1/t{n} / baseline"] + ([f"t1/t{n} / {ref_name}"] if reference else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for numpy, variant in rows:
        key = next(k for k in keys if (k.numpy, k.variant, k.workers) == (numpy, variant, 1))
        base = replace(key, variant=BASELINE)
        ns, base_ns = ns_per_call(data, key), ns_per_call(data, base)
        ref = replace(key, numpy=reference[0], variant=reference[1]) if reference else None
        is_ref = (numpy, variant) == reference
        row = [numpy, variant, str(len(ns)), _cell(ns, 0), _compare(ns, base_ns, variant == BASELINE)]
        row += [_compare(ns, ns_per_call(data, ref), is_ref)] if ref else []
        for n in workers:
            eff = efficiencies(data, replace(key, workers=n))
            row += [_cell(eff, 2), _compare(eff, efficiencies(data, replace(base, workers=n)),
                                            variant == BASELINE)]
            row += [_compare(eff, efficiencies(data, replace(ref, workers=n)), is_ref)] if ref else []
        lines.append("| " + " | ".join(row) + " |")
    return lines


def section(data: Data, reference: tuple[str, str] | None = None) -> list[str]:
    """The markdown section: one table per machine, workload and size that has threaded runs."""
    groups = sorted({(k.machine, k.workload, k.size) for k in data.runs if k.mode == "threads"})
    md: list[str] = []
    for machine, workload, size in groups:
        lines = table(data, machine, workload, size, reference)
        if lines:
            md += [f"### {workload}, n = {size} ({machine})", "", *lines, ""]
    if not md:
        return []
    return ["## Thread scaling t1/tN, every NumPy version side by side", "",
            "Each of N threads does the work one thread did, so t1/tN = 1.00 is linear scaling and "
            "0.50 is fully serialised; t1 and tN come from the same process, and the cells give the "
            "median [interquartile range] over processes. `/ baseline` compares with the unpatched "
            "build of the same NumPy (ratio of medians; **bold** when Mann-Whitney p < "
            f"{ALPHA}); `--reference VARIANT@NUMPY` adds the same comparison with one chosen build, "
            "e.g. upstream 2.2.6. Measure other NumPy versions in the same run with "
            "`--variants baseline@2.2.6`.",
            "", *md]
