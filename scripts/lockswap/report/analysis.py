"""Everything a report states, computed once: rows of every table and each run's Holm family.

The full report, the compact ``summary.md`` and the terminal verdict table all format one
``Analysis``, so a ratio and its adjusted p-value read the same everywhere. Comparisons never leave
their run (a *group*); with ``pooled`` the runs of one machine form one group whose comparisons are
all exploratory (they were not interleaved with each other).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..base import stats
from ..base.manifest import BASELINE
from ..test import attribution, suite
from . import scaling
from .cells import Key, Pool, pool
from .results import Inputs, TestVerdict

# The headline cell of a run: the tightest dispatch-bound loop that was measured with threads.
HEADLINE_WORKLOADS = ("add", "npadd", "issue27786", "scalar", "keys40", "mix")


@dataclass(frozen=True)
class ThroughputRow:
    key: Key
    mflops: stats.Interval | None
    speedup: stats.Interval | None  # N x t1/tN, paired per process; None at N = 1
    vs_base: int | None  # Family index (exploratory); None at N = 1 (the per-call comparison says it)
    flag: str


@dataclass(frozen=True)
class VerdictRow:
    group: str  # the run (or, pooled, the machine)
    os: str
    python: str
    numpy: str
    variant: str
    tests: str  # test verdict(s) of this build, "-" when none was found
    tests_ok: bool | None
    workload: str
    size: int
    scaling: scaling.Row | None  # the headline row: t1/tN at the verdict N
    gil_enabled: bool  # the build's own worker ran with the GIL (typed, from its results)

    @property
    def machine(self) -> str:
        return self.group


@dataclass(frozen=True)
class Analysis:
    inputs: Inputs
    pool: Pool
    family: stats.Family
    scaling_rows: list[scaling.Row]
    throughput_rows: list[ThroughputRow]
    verdict_rows: list[VerdictRow]
    reference: tuple[str, str] | None
    heads: dict[str, scaling.Headline]
    stress: list[StressGroup] = field(default_factory=list)

    def upstream_version(self) -> str | None:
        """The NumPy of the upstream build, when every run that measured one agrees on it."""
        found = {up[0] for g in self.pool.groups if (up := self.pool.upstream(g))}
        return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class StressGroup:
    """The stress cases of one NumPy, Python, suite and OS: one column of words per build."""
    numpy: str
    python: str
    suite: str
    os: str
    columns: list[tuple[str, dict[str, str]]]


def _baseline_of(t: TestVerdict, tests: tuple[TestVerdict, ...]) -> TestVerdict | None:
    return next((b for b in tests if b.variant == BASELINE and (b.numpy_version, b.python, b.suite, b.os) ==
                 (t.numpy_version, t.python, t.suite, t.os)), None)


def stress_words(t: TestVerdict, tests: tuple[TestVerdict, ...]) -> dict[str, str]:
    """The words of a run's stress cases (the test stage's one rule, ``attribution.attribute``);
    baseline's own: ``passes`` / ``upstream flaw``."""
    if t.variant == BASELINE:
        return attribution.baseline_words(t.stress)
    base = _baseline_of(t, tests)
    return attribution.attribute(t.stress, base.stress if base else None, t.numpy_version, t.python)


def test_text(t: TestVerdict, tests: tuple[TestVerdict, ...]) -> tuple[str, bool]:
    """One test run's verdict and whether it is good: new failures are judged against baseline's run
    of the same NumPy, Python, suite and OS when one is present (the test stage's one rule), a stress
    case inheriting baseline's upstream flaw is never one, and the stress cases' words are named."""
    if t.crashed:
        return f"CRASHED ({t.crashed[:60]})", False
    base = _baseline_of(t, tests)
    if t.variant == BASELINE:
        n = t.counts.get("failed", 0) + t.counts.get("error", 0)
        text, ok = ("pass", True) if n == 0 else (f"{n} failing", True)
        return "; ".join(filter(None, [text, attribution.baseline_summary(t.stress)])), ok
    words = stress_words(t, tests)
    inherited = attribution.inherited_tests(t.failing, words)
    if base is not None:
        new = suite.newly_failing(t.failing, base.failing, inherited)
        text, ok = ("as baseline", True) if not new else (f"{len(new)} new failures", False)
    else:
        n = t.counts.get("failed", 0) + t.counts.get("error", 0) - len(inherited)
        text, ok = ("pass", True) if n <= 0 else (f"{n} failing", False)
    return "; ".join(filter(None, [text, attribution.summary(words)])), ok


def stress_groups(tests: tuple[TestVerdict, ...]) -> list[StressGroup]:
    """Every run with stress cases, grouped by NumPy, Python, suite and OS, baseline first."""
    groups: dict[tuple[str, str, str, str], list[TestVerdict]] = {}
    for t in tests:
        if t.stress:
            groups.setdefault((t.numpy_version, t.python, t.suite, t.os), []).append(t)
    return [StressGroup(*key, [(t.variant, stress_words(t, tests)) for t in
                               sorted(found, key=lambda t: (t.variant != BASELINE, t.variant))])
            for key, found in sorted(groups.items(), key=lambda kv: (scaling.version_key(kv[0][0]), kv[0]))]


def tests_for(tests: tuple[TestVerdict, ...], variant: str, numpy: str, python: str, os: str,
              ) -> tuple[str, bool | None]:
    found = [t for t in tests if (t.variant, t.numpy_version) == (variant, numpy)
             and (python == "?" or t.python == python) and (os == "?" or t.os in (os, "?"))]
    if not found:
        return "-", None
    texts = [(t.suite, *test_text(t, tests)) for t in sorted(found, key=lambda t: t.suite)]
    return "; ".join(f"{suite}: {text}" for suite, text, _ in texts), all(ok for _, _, ok in texts)


def _headline_cell(keys: list[Key]) -> tuple[str, int] | None:
    cells = {(k.workload, k.size) for k in keys if k.mode == "threads"}
    if not cells:
        return None
    rank = {w: i for i, w in enumerate(HEADLINE_WORKLOADS)}
    return min(cells, key=lambda c: (rank.get(c[0], len(rank)), c[0], c[1]))


def headlines(p: Pool) -> dict[str, scaling.Headline]:
    """Each group's verdict cell and N, from what that run measured alone: the tightest dispatch-bound
    loop, at the largest N within the physical cores (else within the affinity mask, SMT)."""
    out = {}
    for group in p.groups:
        keys = [k for k in p.processes if k.run == group]
        cell = _headline_cell(keys)
        if cell is None:
            continue
        ns = sorted({k.workers for k in keys if (k.workload, k.size, k.mode) == (*cell, "threads")
                     and k.workers > 1})
        fits = [n for n in ns if not scaling.flag(p, group, n)] or \
               [n for n in ns if scaling.flag(p, group, n) == "SMT"]
        if fits:
            out[group] = scaling.Headline(cell[0], cell[1], max(fits))
    return out


def _verdict_rows(inputs: Inputs, p: Pool, rows: list[scaling.Row], heads: dict[str, scaling.Headline],
                  tested_only: bool) -> list[VerdictRow]:
    out: list[VerdictRow] = []
    covered: set[tuple[str, str, str, str]] = set()
    for group, runs in sorted(p.groups.items(), key=lambda kv: (kv[1][0].os, kv[0])):  # by OS
        keys = [k for k in p.samples if k.run == group]
        head = heads.get(group)
        targets = {(t.numpy_version, t.variant): t for run in runs for t in run.targets.values()}
        order = sorted({(k.numpy, k.variant) for k in keys},
                       key=lambda t: (scaling.version_key(t[0]), t[1] != BASELINE, t[1]))
        os = runs[0].os
        for numpy, variant in order:
            target = targets.get((numpy, variant))
            python = target.python if target else "?"
            tests, ok = tests_for(inputs.tests, variant, numpy, python, os)
            covered.add((variant, numpy, python, os))
            pick = next((r for r in rows if r.group == group and r.headline and (r.numpy, r.variant) ==
                         (numpy, variant)), None)
            out.append(VerdictRow(group, os, python, numpy, variant, tests, ok,
                                  head.workload if head else "-", head.size if head else 0, pick,
                                  bool(target and target.gil_enabled)))
    ordered = sorted(inputs.tests, key=lambda t: (t.os, scaling.version_key(t.numpy_version), t.python,
                                                  t.variant != BASELINE, t.variant))
    for t in ordered if tested_only else ():  # tested but not benchmarked (e.g. CI, --bench off)
        ident = (t.variant, t.numpy_version, t.python, t.os)
        if ident not in covered and not any(c[:3] == ident[:3] and "?" in (c[3], t.os) for c in covered):
            covered.add(ident)
            tests, ok = tests_for(inputs.tests, *ident)
            out.append(VerdictRow("-", t.os, t.python, t.numpy_version, t.variant, tests, ok, "-", 0, None,
                                  False))
    return out


def _throughput_rows(p: Pool, family: stats.Family) -> list[ThroughputRow]:
    """Every cell, exploratory: throughput, the speedup N x t1/tN paired per process, and the ratio to
    the same run's baseline (not at N = 1, where the per-call comparison is the same test)."""
    out = []
    for key in sorted(p.samples, key=lambda k: (k.run, scaling.version_key(k.numpy), k.workload, k.size,
                                                 k.mode != "threads", k.workers, k.variant != BASELINE,
                                                 k.variant)):
        mine = p.samples[key]
        base = p.samples.get(replace(key, variant=BASELINE))
        eff = scaling.efficiencies(p, key) if key.workers > 1 else []
        speedup = stats.median_interval([key.workers * e for e in eff]) if eff else None
        compare = base and key.variant != BASELINE and key.workers > 1
        out.append(ThroughputRow(
            key, stats.median_interval(mine), speedup,
            family.compare(mine, base, ("mflops", key), group=key.run) if compare and base else None,
            scaling.flag(p, key.run, key.workers)))
    return out


def analyse(inputs: Inputs, reference: tuple[str, str] | None = None, tested_only: bool = True,
            pooled: bool = False) -> Analysis:
    """All rows of a report; each run's headline comparisons in its own Holm family. ``tested_only=False``
    gives verdict rows only to benchmarked builds (test verdicts then only annotate them); ``pooled``
    pools the runs of each machine (exploratory: no Holm family, nothing significant)."""
    p = pool(inputs.runs, pooled)
    heads = headlines(p)
    family = stats.Family()
    rows = scaling.all_rows(p, family, reference, heads)
    through = _throughput_rows(p, family)
    family.adjust()
    return Analysis(inputs, p, family, rows, through, _verdict_rows(inputs, p, rows, heads, tested_only),
                    reference, heads, stress_groups(inputs.tests))
