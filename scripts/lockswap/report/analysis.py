"""Everything a report states, computed once: rows of every table and one Holm family of comparisons.

The full report, the compact ``summary.md`` and the terminal verdict table all format one
``Analysis``, so a ratio and its adjusted p-value read the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..base import stats
from ..base.manifest import BASELINE
from . import scaling
from .results import Inputs, Key, Pool, TestVerdict, pool

# The headline cell of a machine: the tightest dispatch-bound loop that was measured with threads.
HEADLINE_WORKLOADS = ("add", "npadd", "issue27786", "scalar", "keys40", "mix")


@dataclass(frozen=True)
class ThroughputRow:
    key: Key
    mflops: stats.Interval
    speedup: stats.Interval | None  # throughput(N) / throughput(1), ratio of medians
    vs_base: int | None  # Family index
    flag: str


@dataclass(frozen=True)
class VerdictRow:
    machine: str
    os: str
    python: str
    numpy: str
    variant: str
    tests: str  # test verdict(s) of this build, "-" when none was found
    tests_ok: bool | None
    workload: str
    size: int
    scaling: scaling.Row | None  # t1/tN at the largest N not beyond the physical cores
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Analysis:
    inputs: Inputs
    pool: Pool
    family: stats.Family
    scaling_rows: list[scaling.Row]
    throughput_rows: list[ThroughputRow]
    verdict_rows: list[VerdictRow]
    reference: tuple[str, str] | None


def test_text(t: TestVerdict, tests: tuple[TestVerdict, ...]) -> tuple[str, bool]:
    """One test run's verdict and whether it is good: new failures are judged against baseline's run
    of the same NumPy, Python, suite and OS when one is present."""
    if t.crashed:
        return f"CRASHED ({t.crashed[:60]})", False
    if t.verdict:
        return t.verdict, not any(w in t.verdict.lower() for w in ("new fail", "crash", "fail"))
    base = next((b for b in tests if b.variant == BASELINE and (b.numpy_version, b.python, b.suite, b.os) ==
                 (t.numpy_version, t.python, t.suite, t.os)), None)
    if base is not None and t.variant != BASELINE:
        new = set(t.failing) - set(base.failing)
        return ("as baseline", True) if not new else (f"{len(new)} new failures", False)
    n = t.counts.get("failed", 0) + t.counts.get("error", 0)
    return ("pass", True) if n == 0 else (f"{n} failing", t.variant == BASELINE)


def tests_for(tests: tuple[TestVerdict, ...], variant: str, numpy: str, python: str, os: str,
              ) -> tuple[str, bool | None]:
    found = [t for t in tests if (t.variant, t.numpy_version) == (variant, numpy)
             and (python == "?" or t.python == python) and (os == "?" or t.os in (os, "?"))]
    if not found:
        return "-", None
    texts = [(t.suite, *test_text(t, tests)) for t in sorted(found, key=lambda t: t.suite)]
    return "; ".join(f"{suite}: {text}" for suite, text, _ in texts), all(ok for _, _, ok in texts)


def _headline(keys: list[Key]) -> tuple[str, int] | None:
    cells = {(k.workload, k.size) for k in keys if k.mode == "threads"}
    if not cells:
        return None
    rank = {w: i for i, w in enumerate(HEADLINE_WORKLOADS)}
    return min(cells, key=lambda c: (rank.get(c[0], len(rank)), c[0], c[1]))


def _verdict_rows(inputs: Inputs, p: Pool, rows: list[scaling.Row], tested_only: bool) -> list[VerdictRow]:
    out: list[VerdictRow] = []
    covered: set[tuple[str, str, str, str]] = set()
    for machine, runs in sorted(p.run_of_machine.items(), key=lambda kv: (kv[1][0].os, kv[0])):  # by OS
        keys = [k for k in p.samples if k.machine == machine]
        head = _headline(keys)
        warnings = tuple(dict.fromkeys(w for run in runs for w in run.warnings()))
        targets = {(t.numpy_version, t.variant): t for run in runs for t in run.targets.values()}
        order = sorted({(k.numpy, k.variant) for k in keys},
                       key=lambda t: (scaling.version_key(t[0]), t[1] != BASELINE, t[1]))
        os = runs[0].os
        for numpy, variant in order:
            target = targets.get((numpy, variant))
            python = target.python if target else "?"
            tests, ok = tests_for(inputs.tests, variant, numpy, python, os)
            covered.add((variant, numpy, python, os))
            pick = None
            if head:
                mine = [r for r in rows if (r.machine, r.workload, r.size, r.numpy, r.variant) ==
                        (machine, *head, numpy, variant)]
                fits = [r for r in mine if not r.flag] or [r for r in mine if r.flag == "SMT"]
                pick = max(fits, key=lambda r: r.workers) if fits else None
            gil = tuple(w for w in warnings if "GIL" in w and target and target.label in w)
            out.append(VerdictRow(machine, os, python, numpy, variant, tests, ok, head[0] if head else "-",
                                  head[1] if head else 0, pick,
                                  gil + tuple(w for w in warnings if "GIL" not in w)))
    ordered = sorted(inputs.tests, key=lambda t: (t.os, scaling.version_key(t.numpy_version), t.python,
                                                  t.variant != BASELINE, t.variant))
    for t in ordered if tested_only else ():  # tested but not benchmarked (e.g. CI, --bench off)
        ident = (t.variant, t.numpy_version, t.python, t.os)
        if ident not in covered and not any(c[:3] == ident[:3] and "?" in (c[3], t.os) for c in covered):
            covered.add(ident)
            tests, ok = tests_for(inputs.tests, *ident)
            out.append(VerdictRow("-", t.os, t.python, t.numpy_version, t.variant, tests, ok, "-", 0, None,
                                  ()))
    return out


def _throughput_rows(p: Pool, family: stats.Family) -> list[ThroughputRow]:
    out = []
    for key in sorted(p.samples, key=lambda k: (k.machine, scaling.version_key(k.numpy), k.workload, k.size,
                                                 k.mode != "threads", k.workers, k.variant != BASELINE,
                                                 k.variant)):
        mine = p.samples[key]
        one = p.samples.get(replace(key, workers=1))
        base = p.samples.get(replace(key, variant=BASELINE))
        out.append(ThroughputRow(
            key, stats.bootstrap_median(mine), stats.bootstrap_ratio(mine, one) if one else None,
            family.compare(mine, base, ("mflops", key)) if base and key.variant != BASELINE else None,
            scaling.flag(p, key.machine, key.workers)))
    return out


def analyse(inputs: Inputs, reference: tuple[str, str] | None = None, tested_only: bool = True) -> Analysis:
    """All rows of a report, every comparison in one Holm family; ``tested_only=False`` gives verdict
    rows only to benchmarked builds (test verdicts then only annotate them)."""
    p = pool(inputs.runs)
    family = stats.Family()
    rows = scaling.all_rows(p, family, reference)
    through = _throughput_rows(p, family)
    family.adjust()
    return Analysis(inputs, p, family, rows, through, _verdict_rows(inputs, p, rows, tested_only), reference)
