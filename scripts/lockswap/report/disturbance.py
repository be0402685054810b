"""Was a cell measured on a quiet machine? A check in the spirit of pyperf's, per cell of a run.

A cell (one build, workload, size and N of one run) is *disturbed* when any of these holds, each
written out as a reason:

- the 1-thread time per kernel iteration varies across its processes more than a quiet machine
  lets it: coefficient of variation above :data:`CV_LIMIT`, or the slowest process more than
  :data:`MAX_OVER_MEDIAN` times the median (pyperf warns at the same 10 % and 50 %);
- the median t1/tN is above :data:`SUPERLINEAR`: N threads faster per thread than one means the
  1-thread cell was slowed, which inflates t1/tN;
- other processes took more than :data:`FOREIGN_LIMIT` of the affinity mask's CPU time while the
  cell ran (median over its processes; recorded per cell on Linux, see ``bench/environment.py``);
- the run started with a 1-minute load above half the usable CPUs.

A verdict that rests on a disturbed cell says so in its own column ("scales better (disturbed)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..base import stats

CV_LIMIT = 0.10
MAX_OVER_MEDIAN = 1.5
SUPERLINEAR = 1.02
FOREIGN_LIMIT = 0.10


@dataclass(frozen=True)
class Disturbance:
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.reasons)

    def __str__(self) -> str:
        return "; ".join(self.reasons)


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(coefficient of variation, max / median) of one number per process."""
    if len(values) < 2:
        return 0.0, 1.0
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return sd / mean, max(values) / stats.median(values)


def check(ns: Sequence[float], eff: Sequence[float], foreign: Sequence[float], loaded: bool) -> Disturbance:
    """The reasons a cell is disturbed: ``ns`` its 1-thread time per iteration per process, ``eff``
    its t1/tN per process, ``foreign`` the others' CPU share per process, ``loaded`` its run's start."""
    reasons = []
    cv, worst = spread(ns)
    if cv > CV_LIMIT:
        reasons.append(f"1-thread time varies {cv:.0%} across processes (CV > {CV_LIMIT:.0%})")
    if worst > MAX_OVER_MEDIAN:
        reasons.append(f"slowest 1-thread process {worst:.2f}x the median")
    if eff and stats.median(eff) > SUPERLINEAR:
        reasons.append(f"t1/tN {stats.median(eff):.2f} > {SUPERLINEAR} (a slowed 1-thread cell)")
    if foreign and stats.median(foreign) > FOREIGN_LIMIT:
        reasons.append(f"other processes took {stats.median(foreign):.0%} of the CPUs")
    if loaded:
        reasons.append("load at the run's start above half the usable CPUs")
    return Disturbance(tuple(reasons))
