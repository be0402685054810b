"""PNG plots of the report (matplotlib Agg, imported lazily; the report env only).

Every build keeps one (colour, marker) style from :func:`build_styles` wherever it is drawn. Legends
sit outside the axes (right of the last panel, or below the forest plot), so they never cover the
data however many builds there are, and list only what the plot draws.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import paths, stats
from ..base.manifest import BASELINE
from .analysis import Analysis

# tab10 without its grey (C7), which stays for annotations (ideal lines, disturbed points); each
# colour goes through the markers in turn, so 9 x 7 = 63 builds get distinct (colour, marker) pairs.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
           "#17becf")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
GREY = "#7f7f7f"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def build_styles(labels: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A (colour, marker) per build, in the order given (duplicates once), baseline always first.

    The first 9 builds differ in colour (all circles), the next 9 reuse the colours with squares, and
    so on: pairs are distinct for up to ``len(COLOURS) * len(MARKERS)`` (63) builds, then repeat."""
    order = list(dict.fromkeys(labels))
    if BASELINE in order:
        order.remove(BASELINE)
        order.insert(0, BASELINE)
    n = len(COLOURS)
    return {label: (COLOURS[i % n], MARKERS[(i // n) % len(MARKERS)]) for i, label in enumerate(order)}


def _save_png(fig: Any, path: Path) -> None:
    with paths.atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


LINESTYLE = {"threads": "-", "processes": "--"}
IDEAL = ("ideal linear (physical cores)", ":")


def _legend(fig: Any, variants: list[str], styles: dict[str, tuple[str, str]],
            lines: list[tuple[str, Any]]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=styles[v][0], marker=styles[v][1], markersize=5, linewidth=2)
               for v in variants]
    labels = list(variants)
    handles += [Line2D([], [], color=GREY, linestyle=ls) for _, ls in lines]
    labels += [name for name, _ in lines]
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)


def _modes(drawn: set[str]) -> list[tuple[str, str]]:
    """Legend entries of the modes drawn: 'processes' only when a process-mode row was plotted."""
    return [(mode, LINESTYLE[mode]) for mode in LINESTYLE if mode in drawn]


def _workers_axis(ax: Any, workers: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(workers, [str(w) for w in workers])
    ax.minorticks_off()
    ax.set_xlabel("workers")


def plot_group(a: Analysis, machine: str, numpy: str, workload: str, out_dir: Path) -> list[Path]:
    """Two PNGs: throughput vs workers per variant; throughput ratio to baseline per worker count.

    The throughput axis starts at 0. Ideal-linear lines (each variant's one-worker throughput times
    the workers, up to the physical cores) are drawn only when they reach beyond 2 (more than 2
    workers measured on more than 2 physical cores), and clipped at twice the highest measurement so
    they never squash the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in a.throughput_rows if (r.key.run, r.key.numpy, r.key.workload) ==
            (machine, numpy, workload)]
    sizes = sorted({r.key.size for r in rows})
    variants = a.pool.variants([r.key for r in rows])
    styles = build_styles(variants)
    physical = a.pool.machine(machine).physical
    workers = sorted({r.key.workers for r in rows})
    ideal = min(workers[-1], physical) > 2  # on 2 cores an ideal line only doubles t1: no news
    stem = f"{slug(machine)}-numpy{numpy}-{slug(workload)}"
    written = []
    drawn: set[str] = set()
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        top, ideal_top = 0.0, 0.0
        for v in variants:
            colour, marker = styles[v]
            for mode in LINESTYLE:
                pts = sorted((r.key.workers, r.mflops) for r in rows if r.mflops is not None
                             and (r.key.variant, r.key.size, r.key.mode) == (v, size, mode))
                if not pts:
                    continue
                drawn.add(mode)
                xs = [x for x, _ in pts]
                med = [ci.estimate for _, ci in pts]
                top = max(top, *(ci.high for _, ci in pts))
                ax.errorbar(xs, med, yerr=[[ci.estimate - ci.low for _, ci in pts],
                                           [ci.high - ci.estimate for _, ci in pts]],
                            color=colour, linestyle=LINESTYLE[mode], marker=marker, markersize=5, capsize=2)
                if ideal and mode == "threads" and xs[0] == 1:  # linear up to the physical cores, flat beyond
                    line = [med[0] * min(x, physical) for x in xs]
                    ideal_top = max(ideal_top, *line)
                    ax.plot(xs, line, color=colour, linestyle=IDEAL[1], linewidth=1)
        if top > 0:
            ax.set_ylim(0, max(top * 1.08, min(ideal_top, 2 * top) * 1.04))
        if physical < workers[-1]:
            ax.axvline(physical, color=GREY, linewidth=0.6)
            ax.annotate("physical cores", (physical, 0.02), xycoords=("data", "axes fraction"),
                        fontsize=7, color=GREY, rotation=90, ha="right", va="bottom")
        _workers_axis(ax, workers)
        ax.set_title(f"n = {size}", fontsize=9)
        ax.set_ylabel(f"MFLOPS (median, {stats.LEVEL:.0%} CI)")
    _legend(fig, variants, styles, _modes(drawn) + ([IDEAL] if ideal else []))
    fig.suptitle(f"{workload}: throughput vs workers (NumPy {numpy})", fontsize=10)
    fig.tight_layout()
    _save_png(fig, out_dir / f"{stem}-throughput.png")
    written.append(out_dir / f"{stem}-throughput.png")
    plt.close(fig)

    others = [v for v in variants if v != BASELINE]
    if BASELINE in variants and others:
        drawn = set()
        fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.4), squeeze=False)
        for ax, size in zip(axes[0], sizes, strict=True):
            for v in others:
                colour, marker = styles[v]
                for mode in LINESTYLE:
                    rpts = sorted((r.key.workers, r.vs_base) for r in rows if r.vs_base is not None
                                  and (r.key.variant, r.key.size, r.key.mode) == (v, size, mode))
                    if not rpts:
                        continue
                    drawn.add(mode)
                    ratios = [a.family.ratios[i] for _, i in rpts]
                    xs = [x for x, _ in rpts]
                    ax.errorbar(xs, [r.ratio for r in ratios],
                                yerr=[[r.ratio - r.low for r in ratios], [r.high - r.ratio for r in ratios]],
                                color=colour, linestyle=LINESTYLE[mode], marker=marker, markersize=5,
                                capsize=2)
            ax.axhline(1.0, color=GREY, linewidth=0.8)
            _workers_axis(ax, workers)
            ax.set_title(f"n = {size}", fontsize=9)
            ax.set_ylabel("throughput / baseline")
        _legend(fig, others, styles, _modes(drawn))
        fig.suptitle(f"{workload}: throughput over baseline, {stats.LEVEL:.0%} CI (unadjusted, exploratory; "
                     "the verdict is the t1/tN forest plot)", fontsize=10)
        fig.tight_layout()
        _save_png(fig, out_dir / f"{stem}-vs-baseline.png")
        written.append(out_dir / f"{stem}-vs-baseline.png")
        plt.close(fig)
    return written


@dataclass(frozen=True)
class ForestPoint:
    """One build's t1/tN on one workload: the median over processes and its CI (``low``/``high`` None
    when there are too few processes for an interval), drawn as one row of :func:`forest`."""

    label: str
    numpy: str
    estimate: float
    low: float | None
    high: float | None
    n: int
    reference: bool = False
    upstream: bool = False
    disturbed: bool = False
    verdict: str = ""


UPSTREAM_SHADE = "#ececec"


def _row_name(p: ForestPoint) -> str:
    name = p.label if not p.numpy or p.numpy in p.label else f"{p.label} @ {p.numpy}"
    return name + (" (upstream)" if p.upstream else "") + (" (reference)" if p.reference else "")


def _row_text(p: ForestPoint) -> str:
    ci = f"[{p.low:.2f}, {p.high:.2f}]" if p.low is not None and p.high is not None else "(no CI)"
    return f"{p.estimate:.2f} {ci}  n={p.n}" + (f"  {p.verdict}" if p.verdict else "")


def forest(points: Sequence[ForestPoint], *, title: str, workers: int, out: Path) -> Path:
    """One panel, one row per build (the reference first, then the others in the order given): t1/tN
    median with its CI as a horizontal bar, a line at 1.0 (linear scaling) and a dashed one at the
    reference's median; upstream builds on a shaded row, disturbed runs hollow and grey; each row's
    numbers and verdict at its right. Written to ``out`` (PNG, atomically); returns ``out``."""
    if not points:
        raise ValueError("forest() needs at least one point")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import offset_copy

    rows = [p for p in points if p.reference] + [p for p in points if not p.reference]
    labels = [p.label for p in rows]
    keys = labels if len(set(labels)) == len(labels) else [f"{p.label}@{p.numpy}" for p in rows]
    styles = build_styles(keys)
    # a fixed-size panel; the row names, numbers and legend around it widen the saved image instead
    fig = plt.figure(figsize=(5.0, 0.36 * len(rows) + 0.5))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    for y, (p, key) in enumerate(zip(rows, keys, strict=True)):
        colour, marker = styles[key]
        edge = GREY if p.disturbed else colour
        face = "none" if p.disturbed else colour
        if p.upstream:
            ax.axhspan(y - 0.5, y + 0.5, color=UPSTREAM_SHADE, zorder=0, linewidth=0)
        if p.low is not None and p.high is not None:
            ax.errorbar([p.estimate], [y], xerr=[[p.estimate - p.low], [p.high - p.estimate]], fmt=marker,
                        color=edge, mfc=face, mec=edge, markersize=7, capsize=3, elinewidth=1.6, zorder=3)
        else:
            ax.plot([p.estimate], [y], marker=marker, color=edge, mfc=face, mec=edge, markersize=7,
                    linestyle="none", zorder=3)
            ax.annotate("n too small", (p.estimate, y), xytext=(8, 0), textcoords="offset points",
                        va="center", fontsize=7, color=GREY)
        ax.annotate(_row_text(p), (1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    family="monospace", color=GREY if p.disturbed else "black")
    ax.axvline(1.0, color="black", linewidth=1.0, zorder=2)
    handles: list[Any] = [Line2D([], [], color="black", marker="o", linestyle="-", markersize=5),
                          Line2D([], [], color="black", linewidth=1.0)]
    names = [f"median, {stats.LEVEL:.0%} CI", "1.0 = linear scaling"]
    ref = next((p for p in rows if p.reference), None)
    if ref is not None:
        ax.axvline(ref.estimate, color="#444444", linestyle="--", linewidth=0.9, zorder=1)
        handles.append(Line2D([], [], color="#444444", linestyle="--", linewidth=0.9))
        names.append(f"reference: {_row_name(ref).removesuffix(' (reference)')}")
    if any(p.upstream for p in rows):
        handles.append(Patch(facecolor=UPSTREAM_SHADE, edgecolor=GREY, linewidth=0.5))
        names.append("upstream NumPy build")
    if any(p.disturbed for p in rows):
        handles.append(Line2D([], [], color=GREY, marker="o", mfc="none", linestyle="none", markersize=6))
        names.append("disturbed run (hollow, grey)")
    values = [v for p in rows for v in (p.estimate, p.low, p.high) if v is not None]
    pad = 0.03 * (max(values) - min(values) or 1.0)
    ax.set_xlim(min(0.4, min(values) - pad), max(1.05, max(values) + pad))
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
    ax.set_yticks(range(len(rows)), [_row_name(p) for p in rows], fontsize=8)
    for tick, p in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_fontweight("bold" if p.reference else "normal")
        tick.set_color(GREY if p.disturbed else "black")
    ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
    ax.set_xlabel(f"t1/t{workers} (1.0 = linear scaling)", fontsize=9)
    ax.set_title(title, fontsize=10)
    below = offset_copy(ax.transAxes, fig=fig, y=-0.5, units="inches")  # under the x label
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
              ncol=min(3, len(names)), fontsize=8, frameon=False)
    _save_png(fig, out)
    plt.close(fig)
    return out
