"""Thread-scaling efficiency t1/tN and single-thread cost per call, across NumPy versions and variants.

Every one of N threads does the work one thread did (weak scaling), so ``t1/tN`` = 1.0 is linear
scaling and 0.5 means two threads took twice as long as one (fully serialised). t1 and tN come from
the same repeat, i.e. the same worker process, so each process gives one efficiency; tables show the
median with its interval over processes, the unit of replication. Linear is only expected up to the
physical cores of the affinity mask: rows beyond are flagged. This is the comparison of NumPy issue
27786 (t1/t2 of a tight ufunc loop), and the one place it is computed.

Comparisons never leave their group (one interleaved run). A group's *headline* comparisons (each
build's t1/tN at the verdict N and its 1-thread time per call, against the same NumPy's baseline and
against the run's upstream build) form its fixed Holm family; every other comparison (other cells,
other N, ``--reference``) is exploratory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..base import manifest, stats
from ..base.errors import ConfigError
from ..base.manifest import BASELINE
from ..base.mdtext import escape as esc
from .cells import Key, Pool
from .disturbance import Disturbance, check


def efficiencies(pool: Pool, key: Key) -> list[float]:
    """t1/tN of every process that measured both 1 and ``key.workers`` threads with the same work."""
    one = pool.processes.get(replace(key, workers=1), {})
    mine = pool.processes.get(key, {})
    return [one[r][0] / mine[r][0] for r in sorted(one.keys() & mine.keys()) if one[r][1] == mine[r][1]]


def ns_by_process(pool: Pool, key: Key) -> dict[tuple[int, int], float]:
    """Single-thread nanoseconds per kernel iteration by process ((run index, repeat))."""
    return {r: s / it * 1e9 for r, (s, it) in pool.processes.get(replace(key, workers=1), {}).items()}


def ns_per_call(pool: Pool, key: Key) -> list[float]:
    """Single-thread nanoseconds per kernel iteration, one per process."""
    return list(ns_by_process(pool, key).values())


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in re.split(r"[.+-]", version))


def parse_reference(text: str | None) -> tuple[str, str] | None:
    """The ``--reference VARIANT@NUMPY`` option (user input) -> (NumPy, variant)."""
    if not text:
        return None
    build = manifest.parse_build(text, option="--reference")
    if build.numpy is None:
        raise ConfigError(f"--reference {text!r}: expected VARIANT@NUMPY", "e.g. --reference baseline@2.2.6")
    return build.numpy, build.variant


def flag(pool: Pool, group: str, workers: int) -> str:
    """"oversubscribed" beyond the affinity mask, "SMT" beyond the physical cores, else ""."""
    m = pool.machine(group)
    if workers > m.usable:
        return "oversubscribed"
    return "SMT" if workers > m.physical else ""


@dataclass(frozen=True)
class Row:
    """One (NumPy, variant, N) of one group, workload and size; comparisons are Family indices."""

    group: str
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
    ns_vs_up: int | None
    eff_vs_up: int | None
    flag: str
    headline: bool  # the group's verdict cell at its verdict N
    disturbed: Disturbance
    pooled: bool  # the group pools several runs (--pool-runs): exploratory only
    spread: float | None = None  # median over processes of the slowest worker's time over the fastest's

    @property
    def run(self) -> str:
        return self.group


@dataclass(frozen=True)
class Headline:
    """A group's verdict cell: the workload and size, and the N its verdict is read at."""

    workload: str
    size: int
    workers: int


def _maybe(family: stats.Family, mine: list[float], other: list[float], skip: bool,
           key: tuple[object, ...], group: str, headline: bool) -> int | None:
    if skip or not mine or not other:
        return None
    return family.compare(mine, other, key, group=group, headline=headline)


def rows(pool: Pool, family: stats.Family, group: str, workload: str, size: int,
         reference: tuple[str, str] | None = None, head: Headline | None = None) -> list[Row]:
    """Rows of one group, workload and size (threads), each compared with the same NumPy's baseline,
    the group's upstream build (if it measured one) and, if given and measured, the ``reference``
    build; comparisons go into ``family`` (headline ones into the group's Holm family)."""
    want = (group, workload, size, "threads")
    keys = [k for k in pool.processes if (k.run, k.workload, k.size, k.mode) == want]
    workers = sorted({k.workers for k in keys if k.workers > 1})
    targets = sorted({(k.numpy, k.variant) for k in keys if k.workers == 1},
                     key=lambda t: (version_key(t[0]), t[1] != BASELINE, t[1]))
    if reference and reference not in targets:
        reference = None
    upstream = pool.upstream(group)
    if upstream not in targets:
        upstream = None
    is_head_cell = head is not None and (head.workload, head.size) == (workload, size)
    # pooled runs were not interleaved with each other: nothing of theirs enters a Holm family
    in_family = is_head_cell and not pool.pooled
    loaded = pool.loaded(group)
    out = []
    for numpy, variant in targets:
        key = Key(group, numpy, variant, workload, size, "threads", 1)
        base = replace(key, variant=BASELINE)
        ref = replace(key, numpy=reference[0], variant=reference[1]) if reference else None
        up = replace(key, numpy=upstream[0], variant=upstream[1]) if upstream else None
        is_base = variant == BASELINE
        is_ref, is_up = (numpy, variant) == reference, (numpy, variant) == upstream
        ns = ns_per_call(pool, key)
        for n in workers:
            eff = efficiencies(pool, replace(key, workers=n))
            if not eff:
                continue
            at_head = is_head_cell and head is not None and n == head.workers
            eff_family = at_head and in_family
            out.append(Row(
                group, workload, size, numpy, variant, n, len(eff),
                stats.median_interval(ns) if ns else None, stats.median_interval(eff),
                _maybe(family, ns, ns_per_call(pool, base), is_base, ("ns", key, base), group, in_family),
                _maybe(family, eff, efficiencies(pool, replace(base, workers=n)), is_base,
                       ("eff", key, base, n), group, eff_family),
                _maybe(family, ns, ns_per_call(pool, ref), is_ref, ("ns", key, ref), group, False)
                if ref else None,
                _maybe(family, eff, efficiencies(pool, replace(ref, workers=n)), is_ref, ("eff", key, ref, n),
                       group, False) if ref else None,
                _maybe(family, ns, ns_per_call(pool, up), is_up, ("ns", key, up), group, in_family)
                if up else None,
                _maybe(family, eff, efficiencies(pool, replace(up, workers=n)), is_up, ("eff", key, up, n),
                       group, eff_family) if up else None,
                flag(pool, group, n), at_head,
                check(ns, eff, pool.foreign.get(replace(key, workers=n), []), loaded), pool.pooled,
                _median_or_none(pool.spreads.get(replace(key, workers=n), []))))
    return out


def _median_or_none(values: list[float]) -> float | None:
    return stats.median(values) if values else None


SPREAD_NOTE = 1.10  # a cell whose workers differ by more than this (median) gets the note under its table


def spread_note(group: list[Row]) -> list[str]:
    """A line under a table whose cells had one worker much slower than another (median over processes):
    the workers did the same work, so a thread paid for something its neighbour did not (on CPython
    3.13t, neighbouring per-thread QSBR slots: docs/measurements.md); the contention finder's
    thread-layout arm measures it."""
    uneven = [r for r in group if r.spread is not None and r.spread > SPREAD_NOTE]
    if not uneven:
        return []
    cells = "; ".join(f"{esc(r.variant)}@{esc(r.numpy)} N={r.workers}: {r.spread:.2f}" for r in uneven)
    return ["", f"Workers unequal (slowest over fastest worker, median over processes, above "
                f"{SPREAD_NOTE:.2f}): {cells}. Each worker did the same work, so one thread paid for "
                "something the other did not (a line both write slows both alike), such as where its "
                "interpreter state sits. `nox -s contention` measures that (its thread-layout arm, "
                "docs/contention.md)."]


def all_rows(pool: Pool, family: stats.Family, reference: tuple[str, str] | None = None,
             heads: dict[str, Headline] | None = None) -> list[Row]:
    groups = sorted({(k.run, k.workload, k.size) for k in pool.processes if k.mode == "threads"})
    return [r for g in groups for r in rows(pool, family, *g, reference, (heads or {}).get(g[0]))]


def interval(ci: stats.Interval | None, digits: int) -> str:
    """``0.49 [0.45, 0.52]``; the coverage when it is not 95 %; ``n too small`` without an interval."""
    if ci is None:
        return "n too small"
    level = "" if abs(ci.level - stats.LEVEL) < 1e-9 else f" ({ci.level:.1%})"
    return f"{ci.estimate:.{digits}f} [{ci.low:.{digits}f}, {ci.high:.{digits}f}]{level}"


def comparison(family: stats.Family, index: int | None) -> str:
    """``ratio [CI] p=..``: headline comparisons with Holm-adjusted p and Bonferroni-adjusted CI, bold
    when significant; exploratory ones with raw p and a 95 % CI (``n too small``: no interval)."""
    if index is None:
        return "-"
    r = family.ratios[index]
    ci = f" [{r.low:.3f}, {r.high:.3f}]" if r.has_interval else " (n too small)"
    text = f"{r.ratio:.3f}{ci} {stats.format_p(family.p_adjusted(index))}"
    return f"**{text}**" if family.significant(index) else text


def verdict(family: stats.Family, row: Row, higher_is_better: bool = True) -> str:
    """The first column: how this row's t1/tN compares with baseline, after Holm (headline rows), or
    ``exploratory`` (every other row); ``(disturbed)`` when the cell's processes were disturbed."""
    if row.flag == "oversubscribed":
        return "oversubscribed"
    note = " (disturbed)" if row.disturbed else ""
    if row.variant == BASELINE:
        return "baseline" + note
    if row.eff_vs_base is None:
        return "no baseline" + note
    r = family.ratios[row.eff_vs_base]
    if not r.headline:
        return ("pooled runs: exploratory" if row.pooled else "exploratory") + note
    if family.significant(row.eff_vs_base):
        return ("scales better" if (r.ratio > 1) == higher_is_better else "scales worse") + note
    if stats.min_p(*r.n) * family.size(row.group) >= stats.ALPHA:
        return "too few processes" + note
    return "no significant difference" + note


def table(pool: Pool, family: stats.Family, group: list[Row], reference: tuple[str, str] | None = None,
          ) -> list[str]:
    """Long format: one row per (NumPy, variant, N), verdict first."""
    if not group:
        return []
    ref_name = esc(f"{reference[1]}@{reference[0]}") if reference else ""
    has_ref = reference and any(r.eff_vs_ref is not None or r.ns_vs_ref is not None for r in group)
    up = pool.upstream(group[0].group)
    has_up = up is not None and any(r.eff_vs_up is not None for r in group)
    mixed = len({(r.group, r.workload, r.size) for r in group}) > 1  # e.g. CI jobs in one table
    head = ["verdict", *(["run", "workload"] if mixed else []), "NumPy", "variant", "N", "processes",
            "t1/tN [CI]", "t1/tN / baseline", "1 thread: ns/iteration [CI]", "ns / baseline"]
    head += [f"t1/tN / upstream {up[0]}", f"ns / upstream {up[0]}"] if has_up and up else []
    head += [f"t1/tN / {ref_name}", f"ns / {ref_name}"] if has_ref else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in group:
        note = f" ({r.flag})" if r.flag == "SMT" else ""
        where = [esc(r.group), f"{esc(r.workload)} n={r.size}"] if mixed else []
        cells = [verdict(family, r), *where, esc(r.numpy), esc(r.variant), f"{r.workers}{note}",
                 str(r.processes),
                 interval(r.eff, 2), comparison(family, r.eff_vs_base), interval(r.ns, 0),
                 comparison(family, r.ns_vs_base)]
        cells += [comparison(family, r.eff_vs_up), comparison(family, r.ns_vs_up)] if has_up else []
        cells += [comparison(family, r.eff_vs_ref), comparison(family, r.ns_vs_ref)] if has_ref else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines + spread_note(group)


def header(family: stats.Family) -> list[str]:
    del family  # the family's size is given per run, in each run's section
    return ["Each of N threads does the work one thread did, so t1/tN = 1.00 is linear scaling and "
            "0.50 is fully serialised; t1 and tN come from the same process. Cells give the median and its "
            f"bootstrap {stats.LEVEL:.0%} confidence interval over processes (seeded, {stats.RESAMPLES} "
            f"resamples); below {stats.MIN_BOOTSTRAP} processes [min, max] with its real coverage in "
            f"brackets, below {stats.MIN_ORDER_STAT} none (`n too small`). Comparisons never leave their "
            "run: `/ baseline` compares with the unpatched build of the same NumPy, `/ upstream` with the "
            "newest NumPy release measured in the same run (ratio of medians, two-sided Mann-Whitney p). "
            "The run's **headline** comparisons (its verdict cell: t1/tN at the verdict N and the "
            "1-thread time per kernel iteration) form its fixed Holm family: p Holm-adjusted, CI "
            "Bonferroni-adjusted to the same family, **bold** when adjusted p < "
            f"{stats.ALPHA}. Every other comparison is **unadjusted, exploratory** (raw p, 95 % CI, never "
            "called significant). N beyond the physical cores of the affinity mask is marked SMT (linear "
            "is not expected there); beyond the mask, oversubscribed. `(disturbed)`: see the run's "
            "disturbance notes. `--reference VARIANT@NUMPY` adds an exploratory comparison with one "
            "chosen build of the same run."]


def section(pool: Pool, family: stats.Family, all_: list[Row],
            reference: tuple[str, str] | None = None) -> list[str]:
    """The markdown section: one long table per group, workload and size that has threaded runs."""
    md: list[str] = []
    groups: dict[tuple[str, str, int], list[Row]] = {}
    for r in all_:
        groups.setdefault((r.group, r.workload, r.size), []).append(r)
    for (group, workload, size), rows_ in groups.items():
        per = pool.workloads.get(workload, {}).get("calls_per_iteration")
        calls = f" ({esc(per)} ufunc calls per kernel iteration)" if per and per != 1 else ""
        md += [f"### {esc(workload)}, n = {size}{calls} ({esc(group)})", "",
               *table(pool, family, rows_, reference), ""]
    if not md:
        return []
    return ["## Thread scaling t1/tN, every NumPy version side by side", "", *header(family), "", *md]
