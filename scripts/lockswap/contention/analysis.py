"""Ranking of counterfactual runs: t1/tN per process, gain over unmodified runs, bootstrap CI, Holm.

One number per process (t1/tN: one thread's time over N threads' time for the same calls per
thread) is the unit of replication. The gain of a candidate is the difference of medians
(with it immortal minus unmodified), with a percentile bootstrap confidence interval (resampling
processes within each arm) and a two-sided Mann-Whitney U p-value, Holm-adjusted across every
comparison of the run ("everything at once" included).

Gains need not add up: while one object's cache line still bounces, freeing another one may give
nothing (on 2.1.3 lockfree the errstate capsule alone gained +0.002, yet the pair reached the
ceiling). So every candidate also gets its cost *at the ceiling*: median t1/tN with everything
immortal minus median t1/tN with everything but this object immortal ("all but X" arms; with two
candidates that is the other candidate's own arm). An object matters if either number is
significant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..base import stats

NONE = "none"  # the unmodified arm
ALL = "all"  # every candidate immortal at once: the ceiling
ALL_BUT = "all-but-"  # prefix: every candidate but one immortal
LAYOUT = "layout"  # nothing immortal, the workers' per-thread interpreter state kept apart



def bootstrap_diff_ci(with_: Sequence[float], without: Sequence[float]) -> tuple[float, float]:
    """Percentile bootstrap 95% CI of median(with_) - median(without), resampling each arm
    (:func:`lockswap.base.stats.bootstrap_diff`: the report's seed and resample count)."""
    ci = stats.bootstrap_diff(with_, without)
    return ci.low, ci.high


def bootstrap_median_ci(values: Sequence[float]) -> tuple[float, float]:
    """The bench's percentile-bootstrap 95% interval of the median (one rule for every report)."""
    ci = stats.bootstrap_median(values)
    return ci.low, ci.high


def is_set_arm(arm: str) -> bool:
    """Arms that make several candidates immortal (they skip a refused one instead of failing)."""
    return arm == ALL or arm.startswith(ALL_BUT)


@dataclass(frozen=True)
class Ceiling:
    """What a candidate costs at the ceiling: all immortal minus all but this one immortal."""
    n_without: int  # processes of the "all but this one" arm
    without: float  # its median t1/tN
    loss: float  # median(all) - median(all but this one)
    loss_ci: tuple[float, float]
    p: float
    p_holm: float
    significant: bool


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
    ceiling: Ceiling | None = None  # None for "everything at once", a single candidate, or no runs

    @property
    def matters(self) -> bool:
        return self.significant or (self.ceiling is not None and self.ceiling.significant)

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


def complements(arms: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Candidate arm -> the arm with every other candidate immortal (by their ``locators``)."""
    every = set(arms.get(ALL, {}).get("locators", []))
    by_set = {frozenset(info.get("locators", [])): arm for arm, info in arms.items()}
    out = {}
    for arm, info in arms.items():
        own = set(info.get("locators", []))
        if arm in (NONE, ALL) or arm.startswith(ALL_BUT) or not own or not own <= every:
            continue
        other = by_set.get(frozenset(every - own))
        if other is not None and other != arm:
            out[arm] = other
    return out


def rank(runs: Sequence[Mapping[str, Any]], arms: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Rows for every candidate with results, most costly first, "everything at once" last.

    ``runs``: ``{"arm", "ratio", "t1_ns"}`` per process; ``arms``: arm -> ``{"label", "type", "repr",
    "locators"}`` (the locators pair each candidate with its "all but" arm).
    """
    by_arm = per_process(runs)
    ratios = {arm: [float(r["ratio"]) for r in rs] for arm, rs in by_arm.items()}
    base = ratios.get(NONE, [])
    if not base:
        return []
    base_t1 = [float(r["t1_ns"]) for r in by_arm[NONE] if r.get("t1_ns") is not None]
    pairs = complements(arms)
    ceiling = ratios.get(ALL, [])
    tests: list[tuple[str, str, list[float], list[float]]] = []  # (kind, arm, with, without)
    for arm in arms:
        if arm == NONE or arm.startswith(ALL_BUT) or not ratios.get(arm):
            continue
        tests.append(("alone", arm, ratios[arm], base))
        other = ratios.get(pairs.get(arm, ""), [])
        if ceiling and other:
            tests.append(("ceiling", arm, ceiling, other))
    raw_p = [stats.mann_whitney_u(w, wo).p for _, _, w, wo in tests]
    adjusted = stats.holm(raw_p)  # the one Holm rule of every lockswap report, over every comparison
    found: dict[tuple[str, str], tuple[float, float, tuple[float, float]]] = {}
    for (kind, arm, w, wo), p, p_adj in zip(tests, raw_p, adjusted, strict=True):
        found[(kind, arm)] = (p, p_adj, bootstrap_diff_ci(w, wo))
    rows = []
    for kind, arm, got, _ in (t for t in tests if t[0] == "alone"):
        info = arms[arm]
        p, p_adj, ci = found[(kind, arm)]
        t1 = [float(r["t1_ns"]) for r in by_arm[arm] if r.get("t1_ns") is not None]
        cost = None
        if ("ceiling", arm) in found:
            cp, cp_adj, cci = found[("ceiling", arm)]
            other = ratios[pairs[arm]]
            cost = Ceiling(n_without=len(other), without=stats.median(other),
                           loss=stats.median(ceiling) - stats.median(other), loss_ci=cci, p=cp, p_holm=cp_adj,
                           significant=cp_adj < stats.ALPHA and (cci[0] > 0 or cci[1] < 0))
        rows.append(Row(
            arm=arm, label=str(info.get("label", arm)), type=str(info.get("type", "")),
            repr=str(info.get("repr", "")), n_without=len(base), n_with=len(got),
            without=stats.median(base), with_=stats.median(got),
            with_ci=bootstrap_median_ci(got), gain=stats.median(got) - stats.median(base),
            gain_ci=ci, p=p, p_holm=p_adj,
            significant=p_adj < stats.ALPHA and (ci[0] > 0 or ci[1] < 0),
            t1_ns_without=stats.median(base_t1) if base_t1 else None,
            t1_ns_with=stats.median(t1) if t1 else None, ceiling=cost,
        ))
    rows.sort(key=lambda r: (r.arm == ALL, -max(r.gain, r.ceiling.loss if r.ceiling else r.gain)))
    return rows
