"""Ranking of counterfactual runs: t1/tN per process, gain over unmodified runs, bootstrap CI, Holm.

One number per process (t1/tN: one thread's time over N threads' time for the same calls per
thread) is the unit of replication. The gain of a candidate is the difference of medians
(with it immortal minus unmodified), with a percentile bootstrap confidence interval (resampling
processes within each arm) and a two-sided Mann-Whitney U p-value, Holm-adjusted across every
counterfactual of the run ("everything at once" included).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..bench import stats

NONE = "none"  # the unmodified arm
ALL = "all"  # every candidate immortal at once: the ceiling
BOOTSTRAP = 4000
CONFIDENCE = 0.95


def bootstrap_diff_ci(with_: Sequence[float], without: Sequence[float], *, resamples: int = BOOTSTRAP,
                      confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of median(with_) - median(without), resampling each arm."""
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        a = [with_[rng.randrange(len(with_))] for _ in with_]
        b = [without[rng.randrange(len(without))] for _ in without]
        diffs.append(stats.median(a) - stats.median(b))
    tail = (1 - confidence) / 2
    return stats.quantile(diffs, tail), stats.quantile(diffs, 1 - tail)


def bootstrap_median_ci(values: Sequence[float], *, seed: int = 0) -> tuple[float, float]:
    """The bench's percentile-bootstrap 95% interval of the median (one rule for every report)."""
    ci = stats.bootstrap_median(values, seed=seed, resamples=BOOTSTRAP)
    return ci.low, ci.high


@dataclass(frozen=True)
class Row:
    arm: str
    label: str  # the object (locator) or "everything at once"
    type: str
    repr: str
    n_without: int
    n_with: int
    without: float  # median t1/tN, unmodified
    with_: float  # median t1/tN, this arm
    with_ci: tuple[float, float]
    gain: float  # with_ - without
    gain_ci: tuple[float, float]
    p: float
    p_holm: float
    significant: bool
    t1_ns_without: float | None  # median single-thread time per call
    t1_ns_with: float | None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["with"] = d.pop("with_")
        return d


def summary(ratios: Sequence[float]) -> dict[str, Any] | None:
    """Median t1/tN of one arm with its bootstrap CI (None without runs)."""
    if not ratios:
        return None
    return {"n": len(ratios), "median": stats.median(ratios), "ci": list(bootstrap_median_ci(ratios))}


def per_process(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_arm.setdefault(str(r["arm"]), []).append(r)
    return by_arm


def rank(runs: Sequence[Mapping[str, Any]], arms: Mapping[str, Mapping[str, Any]], *,
         seed: int = 0) -> list[Row]:
    """Rows for every arm with results, best gain first, "everything at once" last.

    ``runs``: ``{"arm", "ratio", "t1_ns"}`` per process; ``arms``: arm -> ``{"label", "type", "repr"}``.
    """
    by_arm = per_process(runs)
    base = [float(r["ratio"]) for r in by_arm.get(NONE, [])]
    if not base:
        return []
    base_t1 = [float(r["t1_ns"]) for r in by_arm[NONE] if r.get("t1_ns") is not None]
    raw = []
    for arm, info in arms.items():
        got = [float(r["ratio"]) for r in by_arm.get(arm, [])]
        if arm == NONE or not got:
            continue
        t1 = [float(r["t1_ns"]) for r in by_arm[arm] if r.get("t1_ns") is not None]
        p = stats.mann_whitney_u(got, base).p
        raw.append((arm, info, got, t1, p))
    adjusted = stats.holm([x[4] for x in raw])  # the one Holm rule of every lockswap report
    rows = []
    for k, ((arm, info, got, t1, p), p_adj) in enumerate(zip(raw, adjusted, strict=True)):
        gain = stats.median(got) - stats.median(base)
        ci = bootstrap_diff_ci(got, base, seed=seed + k)
        rows.append(Row(
            arm=arm, label=str(info.get("label", arm)), type=str(info.get("type", "")),
            repr=str(info.get("repr", "")), n_without=len(base), n_with=len(got),
            without=stats.median(base), with_=stats.median(got),
            with_ci=bootstrap_median_ci(got, seed=seed + k), gain=gain, gain_ci=ci, p=p, p_holm=p_adj,
            significant=p_adj < stats.ALPHA and (ci[0] > 0 or ci[1] < 0),
            t1_ns_without=stats.median(base_t1) if base_t1 else None,
            t1_ns_with=stats.median(t1) if t1 else None,
        ))
    rows.sort(key=lambda r: (r.arm == ALL, -r.gain))
    return rows
