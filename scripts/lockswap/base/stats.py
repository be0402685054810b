"""Statistics of repeated measurements: medians, bootstrap CIs, Mann-Whitney U, Holm (no scipy).

The one statistics module of lockswap, shared by the report and the contention finder (one seed,
one resample count). The unit of replication is one repeat (a fresh worker process); these
functions see one number per repeat. Confidence intervals are percentile bootstraps over those
processes with a fixed seed, so a report is reproducible; below :data:`MIN_BOOTSTRAP` processes an
interval is an order statistic with its real coverage, or none. Comparisons are corrected with
Holm's method within one fixed family per interleaved run (:class:`Family`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from functools import cache


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (NumPy's default, ``method='linear'``)."""
    if not values:
        raise ValueError("quantile of no values")
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return quantile(values, 0.5)


def spread(durations: Sequence[float]) -> float | None:
    """The slowest worker's time over the fastest one's (workers that did the same work): None below two
    workers or for a time that is not positive. The one rule for the bench report and the contention
    finder."""
    if len(durations) < 2 or min(durations) <= 0:
        return None
    return max(durations) / min(durations)


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks starting at 1, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@cache
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many of the C(n1+n2, n1) orderings give U = 0, 1, ..., n1*n2 (no ties)."""
    # f[i][j][u]: arrangements of i x's and j y's with u (x > y) pairs; built by the last element.
    table: dict[tuple[int, int], list[int]] = {}
    for i in range(n1 + 1):
        for j in range(n2 + 1):
            if i == 0 or j == 0:
                table[i, j] = [1] + [0] * (i * j)
                continue
            counts = [0] * (i * j + 1)
            for u, c in enumerate(table[i - 1, j]):  # largest is an x: it beats all j y's
                counts[u + j] += c
            for u, c in enumerate(table[i, j - 1]):  # largest is a y
                counts[u] += c
            table[i, j] = counts
    return tuple(table[n1, n2])


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U statistic of the first sample
    p: float  # two-sided p-value
    method: str  # "exact" or "normal"


EXACT_LIMIT = 20  # exact distribution when both samples are at most this large and there are no ties


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test of ``x`` against ``y``.

    Exact for small samples without ties; otherwise the normal approximation with tie correction
    and continuity correction (as ``scipy.stats.mannwhitneyu(method='asymptotic')``).
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs two non-empty samples")
    ranks = _ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    ties = len(set(ranks)) < n1 + n2
    if not ties and max(n1, n2) <= EXACT_LIMIT:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        u_low = min(u1, n1 * n2 - u1)
        tail = sum(counts[: int(u_low) + 1]) / total
        return MannWhitney(u1, min(1.0, 2 * tail), "exact")
    mu = n1 * n2 / 2
    n = n1 + n2
    tie_term = sum(t**3 - t for t in (ranks.count(r) for r in set(ranks)))
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return MannWhitney(u1, 1.0, "normal")
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return MannWhitney(u1, min(1.0, p), "normal")


def min_p(n1: int, n2: int) -> float:
    """The smallest two-sided exact p-value attainable with these sample sizes."""
    return min(1.0, 2 / math.comb(n1 + n2, n1))


ALPHA = 0.05  # significance level of every comparison lockswap reports
LEVEL = 0.95  # confidence level of every interval lockswap reports (before any adjustment)
RESAMPLES = 2000  # bootstrap resamples: the one count, for the report and the contention finder
SEED = 27786  # the one bootstrap seed: a report is reproducible
MIN_BOOTSTRAP = 6  # fewer processes: an order-statistic interval with its real coverage, or none
MIN_ORDER_STAT = 4  # fewer processes: "n too small", no interval at all


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    level: float = LEVEL  # the interval's coverage (below MIN_BOOTSTRAP processes: its real one)


def _percentiles(values: list[float], estimate: float, level: float = LEVEL) -> Interval:
    tail = (1 - level) / 2
    return Interval(estimate, quantile(values, tail), quantile(values, 1 - tail), level)


def _resample(rng: random.Random, xs: Sequence[float]) -> list[float]:
    return rng.choices(xs, k=len(xs))


def bootstrap_median(x: Sequence[float], seed: int = SEED, resamples: int | None = None,
                     level: float = LEVEL) -> Interval:
    """Median of ``x`` (one value per process) with its percentile-bootstrap interval."""
    if not x:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    return _percentiles([median(_resample(rng, x)) for _ in range(resamples or RESAMPLES)], median(x), level)


def order_statistic_coverage(n: int) -> float:
    """Coverage of [min, max] as an interval for the median of ``n`` values: 1 - 2 * 0.5**n."""
    return 1 - 2 * 0.5 ** n


def median_interval(x: Sequence[float]) -> Interval | None:
    """The median with its interval: a 95 % bootstrap from :data:`MIN_BOOTSTRAP` processes on (where a
    percentile bootstrap's coverage holds), [min, max] with its real coverage below that (87.5 % at
    n = 4, 93.8 % at n = 5), and None ("n too small") below :data:`MIN_ORDER_STAT`."""
    if len(x) >= MIN_BOOTSTRAP:
        return bootstrap_median(x)
    if len(x) >= MIN_ORDER_STAT:
        return Interval(median(x), min(x), max(x), order_statistic_coverage(len(x)))
    return None


def bootstrap_ratio(x: Sequence[float], y: Sequence[float], seed: int = SEED,
                    resamples: int | None = None, level: float = LEVEL) -> Interval:
    """median(x) / median(y) with its interval, each sample resampled over its own processes."""
    if not x or not y:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    ratios = [median(_resample(rng, x)) / median(_resample(rng, y)) for _ in range(resamples or RESAMPLES)]
    return _percentiles(ratios, median(x) / median(y), level)


def bootstrap_diff(with_: Sequence[float], without: Sequence[float], seed: int = SEED,
                   resamples: int | None = None, level: float = LEVEL) -> Interval:
    """median(with_) - median(without) with its percentile-bootstrap interval, each arm resampled."""
    if not with_ or not without:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    diffs = [median(_resample(rng, with_)) - median(_resample(rng, without))
             for _ in range(resamples or RESAMPLES)]
    return _percentiles(diffs, median(with_) - median(without), level)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order): the family-wise error rate stays <= ALPHA."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def format_p(p: float) -> str:
    """``p<0.001`` or ``p=0.012``: never ``p=0.000``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


@dataclass(frozen=True)
class Ratio:
    ratio: float  # median of the first sample / median of the second
    p: float  # two-sided Mann-Whitney U p-value, uncorrected
    low: float = math.nan  # bootstrap interval of the ratio (level: see ``level``)
    high: float = math.nan
    n: tuple[int, int] = (0, 0)  # processes on each side
    level: float = LEVEL  # the interval's level: 1 - ALPHA/m (Bonferroni) for a headline comparison
    group: str = ""  # the interleaved run both samples come from
    headline: bool = False  # in its run's Holm family; else exploratory (raw p, never "significant")

    @property
    def has_interval(self) -> bool:
        return min(self.n) >= MIN_BOOTSTRAP


def compare(x: Sequence[float], y: Sequence[float], *, level: float = LEVEL, group: str = "",
            headline: bool = False) -> Ratio:
    """``x`` against ``y``: ratio of medians with its bootstrap CI and a two-sided Mann-Whitney U test."""
    test = mann_whitney_u(x, y)
    ci = bootstrap_ratio(x, y, level=level)
    return Ratio(ci.estimate, test.p, ci.low, ci.high, (len(x), len(y)), level, group, headline)


class Family:
    """The comparisons of one report, by group: a group is one interleaved run.

    A *headline* comparison belongs to its run's fixed Holm family (which comparisons those are is
    decided by what the run measured, never by what else the report holds), and its interval is
    Bonferroni-adjusted to the same family (level 1 - ALPHA/m). Every other comparison is
    *exploratory*: raw p-value, unadjusted 95 % interval, never called significant.

    ``compare`` records a comparison and returns its index (the same key asked twice counts once; a
    headline request upgrades an exploratory one); after ``adjust()``, ``p_adjusted`` and
    ``significant`` answer for that index.
    """

    def __init__(self) -> None:
        self.ratios: list[Ratio] = []
        self._samples: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
        self._seen: dict[Hashable, int] = {}
        self._adjusted: dict[int, float] | None = None

    def compare(self, x: Sequence[float], y: Sequence[float], key: Hashable = None, *, group: str = "",
                headline: bool = False) -> int:
        """Record ``x`` against ``y``; ``key`` names the comparison (default: the values themselves),
        so two different cells that happen to hold equal numbers still count twice."""
        key = (tuple(x), tuple(y)) if key is None else key
        if self._adjusted is not None:
            raise RuntimeError("comparison added after Holm adjustment")
        if key in self._seen:
            i = self._seen[key]
            if headline and not self.ratios[i].headline:
                self.ratios[i] = replace(self.ratios[i], headline=True, group=group)
            return i
        self.ratios.append(compare(x, y, group=group, headline=headline))
        self._samples.append((tuple(x), tuple(y)))
        self._seen[key] = len(self.ratios) - 1
        return len(self.ratios) - 1

    def members(self, group: str) -> list[int]:
        """The indices of one run's Holm family."""
        return [i for i, r in enumerate(self.ratios) if r.headline and r.group == group]

    def adjust(self) -> None:
        self._adjusted = {}
        for group in sorted({r.group for r in self.ratios if r.headline}):
            members = self.members(group)
            level = 1 - ALPHA / len(members)
            for i, p in zip(members, holm([self.ratios[i].p for i in members]), strict=True):
                self._adjusted[i] = p
                x, y = self._samples[i]
                ci = bootstrap_ratio(x, y, level=level)
                self.ratios[i] = replace(self.ratios[i], low=ci.low, high=ci.high, level=level)

    def p_adjusted(self, index: int) -> float:
        """Holm-adjusted p of a headline comparison; the raw p of an exploratory one."""
        if self._adjusted is None:
            raise RuntimeError("call adjust() first")
        return self._adjusted.get(index, self.ratios[index].p)

    def significant(self, index: int) -> bool:
        return self.ratios[index].headline and self.p_adjusted(index) < ALPHA

    def size(self, group: str) -> int:
        return len(self.members(group))

    def __len__(self) -> int:
        return len(self.ratios)
