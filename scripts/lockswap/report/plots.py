"""PNG plots of one machine, NumPy version and workload (matplotlib Agg; the report env only).

Legends sit outside the axes (right of the last panel): one colour per variant, one line style per
mode, so the legend never covers the curves however many variants there are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..base import paths, stats
from ..base.manifest import BASELINE
from .analysis import Analysis


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def _save_png(fig: Any, path: Path) -> None:
    with paths.atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _legend(fig: Any, variants: list[str], colors: dict[str, str], styles: list[tuple[str, Any]]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[v], linewidth=2) for v in variants]
    labels = list(variants)
    handles += [Line2D([], [], color="grey", linestyle=ls) for _, ls in styles]
    labels += [name for name, _ in styles]
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)


def _workers_axis(ax: Any, workers: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(workers, [str(w) for w in workers])
    ax.minorticks_off()
    ax.set_xlabel("workers")


def plot_group(a: Analysis, machine: str, numpy: str, workload: str, out_dir: Path) -> list[Path]:
    """Two PNGs: throughput vs workers per variant; throughput ratio to baseline per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in a.throughput_rows if (r.key.run, r.key.numpy, r.key.workload) ==
            (machine, numpy, workload)]
    sizes = sorted({r.key.size for r in rows})
    variants = a.pool.variants([r.key for r in rows])
    colors = {v: f"C{i % 10}" for i, v in enumerate(variants)}
    style = {"threads": "-", "processes": "--"}
    physical = a.pool.machine(machine).physical
    workers = sorted({r.key.workers for r in rows})
    stem = f"{slug(machine)}-numpy{numpy}-{slug(workload)}"
    written = []
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        for v in variants:
            for mode in ("threads", "processes"):
                pts = sorted((r.key.workers, r.mflops) for r in rows if r.mflops is not None
                             and (r.key.variant, r.key.size, r.key.mode) == (v, size, mode))
                if not pts:
                    continue
                xs = [x for x, _ in pts]
                med = [ci.estimate for _, ci in pts]
                ax.errorbar(xs, med, yerr=[[ci.estimate - ci.low for _, ci in pts],
                                           [ci.high - ci.estimate for _, ci in pts]],
                            color=colors[v], linestyle=style[mode], marker="o", markersize=3, capsize=2)
                if mode == "threads" and xs[0] == 1:  # linear up to the physical cores, flat beyond
                    ax.plot(xs, [med[0] * min(x, physical) for x in xs], color=colors[v], linestyle=":",
                            linewidth=1)
        if physical < workers[-1]:
            ax.axvline(physical, color="grey", linewidth=0.6)
            ax.annotate("physical cores", (physical, 0.02), xycoords=("data", "axes fraction"),
                        fontsize=7, color="grey", rotation=90, ha="right", va="bottom")
        _workers_axis(ax, workers)
        ax.set_title(f"n = {size}", fontsize=9)
        ax.set_ylabel(f"MFLOPS (median, {stats.LEVEL:.0%} CI)")
    _legend(fig, variants, colors,
            [("threads", "-"), ("processes", "--"), ("ideal linear (physical cores)", ":")])
    fig.suptitle(f"{workload}: throughput vs workers (NumPy {numpy})", fontsize=10)
    fig.tight_layout()
    _save_png(fig, out_dir / f"{stem}-throughput.png")
    written.append(out_dir / f"{stem}-throughput.png")
    plt.close(fig)

    others = [v for v in variants if v != BASELINE]
    if BASELINE in variants and others:
        fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.4), squeeze=False)
        for ax, size in zip(axes[0], sizes, strict=True):
            for v in others:
                for mode in ("threads", "processes"):
                    rpts = sorted((r.key.workers, r.vs_base) for r in rows if r.vs_base is not None
                                  and (r.key.variant, r.key.size, r.key.mode) == (v, size, mode))
                    if not rpts:
                        continue
                    ratios = [a.family.ratios[i] for _, i in rpts]
                    xs = [x for x, _ in rpts]
                    ax.errorbar(xs, [r.ratio for r in ratios],
                                yerr=[[r.ratio - r.low for r in ratios], [r.high - r.ratio for r in ratios]],
                                color=colors[v], linestyle=style[mode], marker="o", markersize=3, capsize=2)
                    sig = [(x, r.ratio) for (x, i), r in zip(rpts, ratios, strict=True)
                           if a.family.significant(i)]
                    ax.scatter([p[0] for p in sig], [p[1] for p in sig], color=colors[v], s=60,
                               facecolors="none")
            ax.axhline(1.0, color="grey", linewidth=0.8)
            _workers_axis(ax, workers)
            ax.set_title(f"n = {size}", fontsize=9)
            ax.set_ylabel("throughput / baseline")
        _legend(fig, others, colors, [("threads", "-"), ("processes", "--")])
        fig.suptitle(f"{workload}: throughput over baseline, {stats.LEVEL:.0%} CI "
                     f"(circled: Holm-adjusted p < {stats.ALPHA})", fontsize=10)
        fig.tight_layout()
        _save_png(fig, out_dir / f"{stem}-vs-baseline.png")
        written.append(out_dir / f"{stem}-vs-baseline.png")
        plt.close(fig)
    return written
