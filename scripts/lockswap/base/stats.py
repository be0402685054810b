"""Statistics of repeated measurements: median, IQR, bootstrap CIs, Mann-Whitney U, Holm (no scipy).

The unit of replication is one repeat (a fresh worker process); these functions see one number
per repeat. Confidence intervals are percentile bootstraps over those processes with a fixed seed,
so a report is reproducible; p-values of one report are corrected together with Holm's method.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarize(values: Sequence[float]) -> Summary:
    return Summary(len(values), median(values), quantile(values, 0.25), quantile(values, 0.75))


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


LEVEL = 0.95  # confidence level of every interval lockswap reports
RESAMPLES = 2000
SEED = 27786


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _percentiles(values: list[float], estimate: float) -> Interval:
    tail = (1 - LEVEL) / 2
    return Interval(estimate, quantile(values, tail), quantile(values, 1 - tail))


def _resample(rng: random.Random, xs: Sequence[float]) -> list[float]:
    return rng.choices(xs, k=len(xs))


def bootstrap_median(x: Sequence[float], seed: int = SEED, resamples: int | None = None) -> Interval:
    """Median of ``x`` (one value per process) with its percentile-bootstrap 95% interval."""
    if not x:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    return _percentiles([median(_resample(rng, x)) for _ in range(resamples or RESAMPLES)], median(x))


def bootstrap_ratio(x: Sequence[float], y: Sequence[float], seed: int = SEED,
                    resamples: int | None = None) -> Interval:
    """median(x) / median(y) with its 95% interval, each sample resampled over its own processes."""
    if not x or not y:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    ratios = [median(_resample(rng, x)) / median(_resample(rng, y)) for _ in range(resamples or RESAMPLES)]
    return _percentiles(ratios, median(x) / median(y))


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


@dataclass(frozen=True)
class Ratio:
    ratio: float  # median of the first sample / median of the second
    p: float  # two-sided Mann-Whitney U p-value, uncorrected
    significant: bool  # p < ALPHA (before any correction for multiple comparisons)
    low: float = math.nan  # bootstrap 95% interval of the ratio
    high: float = math.nan
    n: tuple[int, int] = (0, 0)  # processes on each side


def compare(x: Sequence[float], y: Sequence[float]) -> Ratio:
    """``x`` against ``y``: ratio of medians with its bootstrap CI and a two-sided Mann-Whitney U test."""
    test = mann_whitney_u(x, y)
    ci = bootstrap_ratio(x, y)
    return Ratio(ci.estimate, test.p, test.p < ALPHA, ci.low, ci.high, (len(x), len(y)))


class Family:
    """The comparisons of one report, corrected together (Holm) once all of them are made.

    ``compare`` records a comparison and returns its index (the same comparison asked twice counts
    once); after ``adjust()``, ``p_adjusted`` and ``significant`` answer for that index.
    """

    def __init__(self) -> None:
        self.ratios: list[Ratio] = []
        self._seen: dict[Hashable, int] = {}
        self._adjusted: list[float] | None = None

    def compare(self, x: Sequence[float], y: Sequence[float], key: Hashable = None) -> int:
        """Record ``x`` against ``y``; ``key`` names the comparison (default: the values themselves),
        so two different cells that happen to hold equal numbers still count twice."""
        key = (tuple(x), tuple(y)) if key is None else key
        if key in self._seen:
            return self._seen[key]
        if self._adjusted is not None:
            raise RuntimeError("comparison added after Holm adjustment")
        self.ratios.append(compare(x, y))
        self._seen[key] = len(self.ratios) - 1
        return len(self.ratios) - 1

    def adjust(self) -> None:
        self._adjusted = holm([r.p for r in self.ratios])

    def p_adjusted(self, index: int) -> float:
        if self._adjusted is None:
            raise RuntimeError("call adjust() first")
        return self._adjusted[index]

    def significant(self, index: int) -> bool:
        return self.p_adjusted(index) < ALPHA

    def __len__(self) -> int:
        return len(self.ratios)
