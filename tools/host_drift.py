#!/usr/bin/env python3
"""Is a run's spread the host drifting over time, or noise inside each process? Read from its JSON.

    python3 tools/host_drift.py results/bench-*.json [--reference VARIANT]

The report marks a cell disturbed when its 1-thread time varies more than 10 % across processes
(``report/disturbance.py``). That spread can come from the host changing speed over minutes (every
build's processes slow down together) or from noise inside each process. An interleaved run tells
the two apart, because it measures one process per build in each round (``repeat``), back to back:

- **drift**: the *speed index* of a process is the mean, over its 1-thread cells, of log(its time /
  the cell's median). If the host drifts, consecutive processes (of different builds) have similar
  indices: the lag-1 autocorrelation of the indices in run order is positive, outside the 95 % range
  it has when the same indices are put in random orders (2,000 shuffles, fixed seed);
- **within-round spread**: each 1-thread time divided by its round's factor (the median, over the
  round's builds of any NumPy, of time / that build's median, same workload and size) varies across
  processes by this much (CV). It is the spread that is left once the rounds' common speed is taken
  out ("-" when the run measured that workload on one build only);
- with ``--reference VARIANT``: each build's 1-thread time per kernel iteration against the
  reference's (same NumPy, workload and size), as the report computes it (ratio of medians, each
  side resampled over its own processes) and paired by round (the median of the per-round ratios,
  resampled over rounds). Both intervals are 95 % and unadjusted: exploratory, for seeing how much
  of the report's interval the drift makes.

Nothing here changes a verdict: the report's rules stay what they are.
"""

from __future__ import annotations

import math
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHUFFLES = 2000
Cell = tuple[str, str, str, int]  # (NumPy, variant, workload, size)


def _corr(a: list[float], b: list[float]) -> float:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return num / den if den else 0.0


def lag1(values: list[float]) -> float:
    """Lag-1 autocorrelation (the correlation of each value with the next)."""
    return _corr(values[:-1], values[1:]) if len(values) > 2 else 0.0


def shuffled_range(values: list[float], seed: int = 0) -> tuple[float, float]:
    """The 2.5 % and 97.5 % points of :func:`lag1` over random orders of ``values``."""
    rng = random.Random(seed)
    got = []
    for _ in range(SHUFFLES):
        v = values[:]
        rng.shuffle(v)
        got.append(lag1(v))
    got.sort()
    return got[int(0.025 * SHUFFLES)], got[int(0.975 * SHUFFLES) - 1]


def one_thread_times(run: Any) -> tuple[list[tuple[str, int]], dict[Cell, dict[int, float]]]:
    """Processes ``(target, repeat)`` in the order they ran, and per 1-thread cell: repeat -> ns/iteration
    (the report's own numbers: ``cells.pool`` and ``scaling.ns_by_process``)."""
    from lockswap.report import cells, scaling

    order = list(dict.fromkeys((m.target, m.repeat) for m in run.measurements))
    pool = cells.pool([run])
    times = {(k.numpy, k.variant, k.workload, k.size):
             {repeat: ns for (_, repeat), ns in scaling.ns_by_process(pool, k).items()}
             for k in pool.processes if k.workers == 1}
    return order, {c: t for c, t in times.items() if t}


def analyse(run: Any, reference: str | None = None) -> str:
    from lockswap.base import stats
    from lockswap.report import disturbance

    processes, times = one_thread_times(run)
    median = {c: stats.median(list(t.values())) for c, t in times.items()}
    target_of = {label: (t.numpy_version, t.variant) for label, t in run.targets.items()}
    dev: dict[tuple[str, int], list[float]] = defaultdict(list)
    for (numpy, variant, workload, size), t in times.items():
        for label, (n, v) in target_of.items():
            if (n, v) == (numpy, variant):
                for r, ns in t.items():
                    dev[(label, r)].append(math.log(ns / median[(numpy, variant, workload, size)]))
    index = [sum(dev[p]) / len(dev[p]) for p in processes if dev.get(p)]
    lo, hi = shuffled_range(index)
    rounds: dict[int, list[float]] = defaultdict(list)
    for p in processes:
        if dev.get(p):
            rounds[p[1]].append(sum(dev[p]) / len(dev[p]))
    out = [f"## {run.label}", "",
           f"{len(index)} processes in run order. Lag-1 autocorrelation of their speed index: "
           f"**{lag1(index):.2f}** (random orders: {lo:.2f} to {hi:.2f}). Round means (x100, "
           "+ is slower): " + " ".join(f"{100 * sum(v) / len(v):+.0f}" for _, v in sorted(rounds.items())),
           ""]
    head = "| NumPy | build | workload | n | processes | 1-thread CV | within-round CV |"
    rule = "|---|---|---|---|---|---|---|"
    if reference:
        head += f" ns/iter / {reference}: as the report [95% CI] | paired by round [95% CI] |"
        rule += "---|---|"
    out += [head, rule]
    for cell in sorted(times):
        numpy, variant, workload, size = cell
        t = times[cell]
        same = [c for c in times if (c[2], c[3]) == (workload, size)]  # every build of the run
        factor = {r: stats.median([times[c][r] / median[c] for c in same if r in times[c]]) for r in t}
        raw, _ = disturbance.spread(list(t.values()))
        within = "-"  # one build of this workload: no other build to take a round's factor from
        if len(same) > 1:
            within = f"{disturbance.spread([t[r] / factor[r] for r in sorted(t)])[0]:.1%}"
        row = f"| {numpy} | {variant} | {workload} | {size} | {len(t)} | {raw:.1%} | {within} |"
        ref = times.get((numpy, reference, workload, size)) if reference else None
        if ref is not None and variant != reference:
            common = sorted(t.keys() & ref.keys())
            unpaired = stats.bootstrap_ratio(list(t.values()), list(ref.values()))
            row += f" {unpaired.estimate:.3f} [{unpaired.low:.3f}, {unpaired.high:.3f}] |"
            if common:  # an incomplete run may have no round with both builds
                paired = stats.bootstrap_median([t[r] / ref[r] for r in common])
                row += f" {paired.estimate:.3f} [{paired.low:.3f}, {paired.high:.3f}] |"
            else:
                row += " - |"
        elif reference:
            row += " | |"
        out.append(row)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    reference = None
    if "--reference" in argv:
        i = argv.index("--reference")
        if i + 1 >= len(argv):
            print("--reference needs a variant name, e.g. --reference baseline", file=sys.stderr)
            return 2
        reference = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    files = [Path(a) for a in argv]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        print(f"no such file: {', '.join(missing)}" if missing else __doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "scripts"))
    from lockswap.report import results

    runs = results.read(files).runs
    if not runs:
        print("none of these files is a lockswap bench result", file=sys.stderr)
        return 2
    for run in runs:
        if reference and reference not in {m.variant for m in run.measurements}:
            print(f"{run.path}: no variant {reference!r} measured in this run", file=sys.stderr)
            return 2
        print(analyse(run, reference))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
