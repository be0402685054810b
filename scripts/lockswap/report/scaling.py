"""Thread-scaling efficiency t1/tN and single-thread cost per call, across NumPy versions and variants.

Every one of N threads does the work one thread did (weak scaling), so ``t1/tN`` = 1.0 is linear
scaling and 0.5 means two threads took twice as long as one (fully serialised). t1 and tN come from
the same repeat, i.e. the same worker process, so each process gives one efficiency; tables show the
median with its bootstrap 95% confidence interval over processes, the unit of replication. Linear is
only expected up to the physical cores of the affinity mask: rows beyond are flagged. This is the
comparison of NumPy issue 27786 (t1/t2 of a tight ufunc loop), and the one place it is computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..base import stats
from ..base.errors import ConfigError
from ..base.manifest import BASELINE
from ..base.mdtext import escape as esc
from .results import Key, Pool


def efficiencies(pool: Pool, key: Key) -> list[float]:
    """t1/tN of every process that measured both 1 and ``key.workers`` threads with the same work."""
    one = pool.processes.get(replace(key, workers=1), {})
    mine = pool.processes.get(key, {})
    return [one[r][0] / mine[r][0] for r in sorted(one.keys() & mine.keys()) if one[r][1] == mine[r][1]]


def ns_per_call(pool: Pool, key: Key) -> list[float]:
    """Single-thread nanoseconds per kernel call, one per process."""
    return [s / it * 1e9 for s, it in pool.processes.get(replace(key, workers=1), {}).values()]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in re.split(r"[.+-]", version))


def parse_reference(text: str | None) -> tuple[str, str] | None:
    """The ``--reference VARIANT@NUMPY`` option (user input) -> (NumPy, variant)."""
    if not text:
        return None
    variant, sep, numpy = text.partition("@")
    if not sep or not variant or not numpy:
        raise ConfigError(f"--reference {text!r}: expected VARIANT@NUMPY", "e.g. --reference baseline@2.2.6")
    return numpy, variant


def flag(pool: Pool, machine: str, workers: int) -> str:
    """"oversubscribed" beyond the affinity mask, "SMT" beyond the physical cores, else ""."""
    m = pool.machine(machine)
    if workers > m.usable:
        return "oversubscribed"
    return "SMT" if workers > m.physical else ""


@dataclass(frozen=True)
class Row:
    """One (NumPy, variant, N) of one machine, workload and size; comparisons are Family indices."""

    machine: str
    workload: str
    size: int
    numpy: str
    variant: str
    workers: int
    processes: int
    ns: stats.Interval | None
    eff: stats.Interval | None
    ns_vs_base: int | None
    eff_vs_base: int | None
    ns_vs_ref: int | None
    eff_vs_ref: int | None
    flag: str


def _maybe(family: stats.Family, mine: list[float], other: list[float], skip: bool,
           key: tuple[object, ...]) -> int | None:
    return None if skip or not mine or not other else family.compare(mine, other, key)


def rows(pool: Pool, family: stats.Family, machine: str, workload: str, size: int,
         reference: tuple[str, str] | None = None) -> list[Row]:
    """Rows of one machine, workload and size (threads), each compared with the same NumPy's baseline
    and, if given and measured, with the ``reference`` build; comparisons go into ``family``."""
    want = (machine, workload, size, "threads")
    keys = [k for k in pool.processes if (k.machine, k.workload, k.size, k.mode) == want]
    workers = sorted({k.workers for k in keys if k.workers > 1})
    targets = sorted({(k.numpy, k.variant) for k in keys if k.workers == 1},
                     key=lambda t: (version_key(t[0]), t[1] != BASELINE, t[1]))
    if reference and reference not in targets:
        reference = None
    out = []
    for numpy, variant in targets:
        key = Key(machine, numpy, variant, workload, size, "threads", 1)
        base = replace(key, variant=BASELINE)
        ref = replace(key, numpy=reference[0], variant=reference[1]) if reference else None
        is_base, is_ref = variant == BASELINE, (numpy, variant) == reference
        ns = ns_per_call(pool, key)
        for n in workers:
            eff = efficiencies(pool, replace(key, workers=n))
            if not eff:
                continue
            out.append(Row(
                machine, workload, size, numpy, variant, n, len(eff),
                stats.bootstrap_median(ns) if ns else None, stats.bootstrap_median(eff),
                _maybe(family, ns, ns_per_call(pool, base), is_base, ("ns", key, base)),
                _maybe(family, eff, efficiencies(pool, replace(base, workers=n)), is_base,
                       ("eff", key, base, n)),
                _maybe(family, ns, ns_per_call(pool, ref), is_ref, ("ns", key, ref)) if ref else None,
                _maybe(family, eff, efficiencies(pool, replace(ref, workers=n)), is_ref, ("eff", key, ref, n))
                if ref else None,
                flag(pool, machine, n)))
    return out


def all_rows(pool: Pool, family: stats.Family, reference: tuple[str, str] | None = None) -> list[Row]:
    groups = sorted({(k.machine, k.workload, k.size) for k in pool.processes if k.mode == "threads"})
    return [r for g in groups for r in rows(pool, family, *g, reference)]


def interval(ci: stats.Interval | None, digits: int) -> str:
    if ci is None:
        return "-"
    return f"{ci.estimate:.{digits}f} [{ci.low:.{digits}f}, {ci.high:.{digits}f}]"


def comparison(family: stats.Family, index: int | None) -> str:
    """``ratio [CI] p=..`` with Holm-adjusted p, bold when significant after adjustment."""
    if index is None:
        return "-"
    r = family.ratios[index]
    text = f"{r.ratio:.3f} [{r.low:.3f}, {r.high:.3f}] p={family.p_adjusted(index):.3f}"
    return f"**{text}**" if family.significant(index) else text


def verdict(family: stats.Family, row: Row, higher_is_better: bool = True) -> str:
    """The first column: how this row's t1/tN compares with baseline, after Holm."""
    if row.flag == "oversubscribed":
        return "oversubscribed"
    if row.variant == BASELINE:
        return "baseline"
    if row.eff_vs_base is None:
        return "no baseline"
    r = family.ratios[row.eff_vs_base]
    if family.significant(row.eff_vs_base):
        return "scales better" if (r.ratio > 1) == higher_is_better else "scales worse"
    if stats.min_p(*r.n) >= stats.ALPHA:
        return "too few processes"
    return "no significant difference"


def table(pool: Pool, family: stats.Family, group: list[Row], reference: tuple[str, str] | None = None,
          ) -> list[str]:
    """Long format: one row per (NumPy, variant, N), verdict first."""
    if not group:
        return []
    ref_name = esc(f"{reference[1]}@{reference[0]}") if reference else ""
    has_ref = reference and any(r.eff_vs_ref is not None or r.ns_vs_ref is not None for r in group)
    mixed = len({(r.machine, r.workload, r.size) for r in group}) > 1  # e.g. CI jobs in one table
    head = ["verdict", *(["machine", "workload"] if mixed else []), "NumPy", "variant", "N", "processes",
            "t1/tN [95% CI]", "t1/tN / baseline", "1 thread: ns/call [95% CI]", "ns/call / baseline"]
    head += [f"t1/tN / {ref_name}", f"ns/call / {ref_name}"] if has_ref else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in group:
        note = f" ({r.flag})" if r.flag == "SMT" else ""
        where = [esc(r.machine), f"{esc(r.workload)} n={r.size}"] if mixed else []
        cells = [verdict(family, r), *where, esc(r.numpy), esc(r.variant), f"{r.workers}{note}",
                 str(r.processes),
                 interval(r.eff, 2), comparison(family, r.eff_vs_base), interval(r.ns, 0),
                 comparison(family, r.ns_vs_base)]
        cells += [comparison(family, r.eff_vs_ref), comparison(family, r.ns_vs_ref)] if has_ref else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def header(family: stats.Family) -> list[str]:
    return ["Each of N threads does the work one thread did, so t1/tN = 1.00 is linear scaling and "
            "0.50 is fully serialised; t1 and tN come from the same process. Cells give the median and its "
            f"bootstrap {stats.LEVEL:.0%} confidence interval over processes (seeded, {stats.RESAMPLES} "
            "resamples). `/ baseline` compares with the unpatched build of the same NumPy: ratio of "
            "medians [bootstrap CI], two-sided Mann-Whitney p **Holm-adjusted across all "
            f"{len(family)} comparisons of this report**, bold when adjusted p < {stats.ALPHA}. N beyond the "
            "physical cores of the affinity mask is marked SMT (linear is not expected there); beyond "
            "the mask, oversubscribed. `--reference VARIANT@NUMPY` adds the same comparison with one "
            "chosen build, e.g. upstream 2.2.6."]


def section(pool: Pool, family: stats.Family, all_: list[Row],
            reference: tuple[str, str] | None = None) -> list[str]:
    """The markdown section: one long table per machine, workload and size that has threaded runs."""
    md: list[str] = []
    groups: dict[tuple[str, str, int], list[Row]] = {}
    for r in all_:
        groups.setdefault((r.machine, r.workload, r.size), []).append(r)
    for (machine, workload, size), group in groups.items():
        md += [f"### {esc(workload)}, n = {size} ({esc(machine)})", "",
               *table(pool, family, group, reference), ""]
    if not md:
        return []
    return ["## Thread scaling t1/tN, every NumPy version side by side", "", *header(family), "", *md]
