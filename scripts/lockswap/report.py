"""``lockswap report``: markdown and PNG plots from benchmark results JSON (and nothing else).

Several files (machines, CI jobs, runs) merge: measurements are grouped by machine + NumPy version +
variant, and repeats of the same cell from several runs on one machine are pooled.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import log, paths, scaling
from .bench import schema, stats
from .commands import Command
from .errors import ConfigError
from .manifest import BASELINE
from .reportdata import Data, Key

ALPHA = stats.ALPHA
Ratio = stats.Ratio


def machine_label(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    cores = m.get("usable_cores") or m.get("logical_cores")
    return f"{m.get('hostname')} ({m.get('cpu_model')}, {cores} cores)"


def _variant_of(doc: dict[str, Any], label: str) -> str:
    """The variant name of a run's label (``baseline@2.2.6`` -> ``baseline``)."""
    return str(doc["variants"].get(label, {}).get("variant") or label.partition("@")[0])


def _numpy_of(doc: dict[str, Any], variant: str) -> str:
    v = doc["variants"].get(variant, {})
    return str(v.get("worker", {}).get("numpy_version") or v.get("numpy_version") or
               doc["plan"].get("numpy") or "?")


def _workload_names(defs: dict[str, dict[str, Any]], seen: dict[str, dict[str, Any]],
                    where: Path) -> dict[str, str]:
    """Names under which ``defs`` are reported; adds them to ``seen``.

    Measurements of one workload name with different source text (an older lockswap's kernel) are
    never pooled: the later definition is reported as ``name#<hash of its source>``.
    """
    names = {}
    for name, d in defs.items():
        same = {k: d.get(k) for k in ("setup", "kernel")}
        if name in seen and {k: seen[name].get(k) for k in ("setup", "kernel")} != same:
            names[name] = f"{name}#{paths.content_key(same['setup'], same['kernel'])[:6]}"
            log.warn(f"{where.name}: workload {name!r} has other source text than in an earlier file; "
                     f"reported separately as {names[name]!r}")
        else:
            names[name] = name
        seen.setdefault(names[name], d)
    return names


def load(files: list[Path]) -> Data:
    if not files:
        raise ConfigError("no results files given", "pass results/bench-*.json (from `lockswap bench`)")
    samples: dict[Key, list[float]] = defaultdict(list)
    calls: dict[Key, list[float]] = defaultdict(list)
    runs: dict[Key, dict[tuple[int, int], tuple[float, int]]] = defaultdict(dict)
    machines: dict[str, list[tuple[Path, dict[str, Any]]]] = defaultdict(list)
    workloads: dict[str, dict[str, Any]] = {}
    for index, f in enumerate(files):
        doc = schema.load(f)
        label = machine_label(doc)
        machines[label].append((f, doc))
        names = _workload_names(doc["workloads"], workloads, f)
        for m in doc["measurements"]:
            key = Key(label, _numpy_of(doc, m["variant"]), _variant_of(doc, m["variant"]),
                      names.get(m["workload"], m["workload"]), int(m["size"]), m["mode"], int(m["workers"]))
            samples[key].append(m["flops"] / m["seconds"] / 1e6)
            if m.get("iterations"):
                runs[key][index, int(m["repeat"])] = (float(m["seconds"]), int(m["iterations"]))
            if m.get("calls"):
                calls[key].append(m["calls"] / m["seconds"])
    return Data(dict(samples), dict(calls), dict(runs), dict(machines), workloads, files)


def variants_in(keys: list[Key]) -> list[str]:
    names = sorted({k.variant for k in keys})
    return [BASELINE, *[n for n in names if n != BASELINE]] if BASELINE in names else names


def ratio_to_baseline(data: Data, key: Key) -> Ratio | None:
    base = data.samples.get(Key(key.machine, key.numpy, BASELINE, key.workload, key.size, key.mode,
                                key.workers))
    mine = data.samples.get(key)
    if not base or not mine or key.variant == BASELINE:
        return None
    return stats.compare(mine, base)


def speedup(data: Data, key: Key) -> float | None:
    one = data.samples.get(Key(key.machine, key.numpy, key.variant, key.workload, key.size, key.mode, 1))
    mine = data.samples.get(key)
    if not one or not mine:
        return None
    # throughput = N * work / tN, so t1 * N / tN = throughput_N / throughput_1
    return stats.median(mine) / stats.median(one)


def _fmt(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def _save_png(fig: Any, path: Path) -> None:
    with paths.atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def plot_group(data: Data, machine: str, numpy: str, workload: str, out_dir: Path) -> list[Path]:
    """Two PNGs: throughput vs workers per variant; throughput ratio to baseline per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in data.samples if (k.machine, k.numpy, k.workload) == (machine, numpy, workload)]
    sizes = sorted({k.size for k in keys})
    variants = variants_in(keys)
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    style = {"threads": "-", "processes": "--"}
    stem = f"{_slug(machine)}-numpy{numpy}-{workload}"
    written = []
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        for v in variants:
            for mode in ("threads", "processes"):
                pts = sorted((k.workers, data.samples[k]) for k in keys
                             if (k.variant, k.size, k.mode) == (v, size, mode))
                if not pts:
                    continue
                xs = [p[0] for p in pts]
                med = [stats.median(p[1]) for p in pts]
                lo = [m - stats.quantile(p[1], 0.25) for m, p in zip(med, pts, strict=True)]
                hi = [stats.quantile(p[1], 0.75) - m for m, p in zip(med, pts, strict=True)]
                ax.errorbar(xs, med, yerr=[lo, hi], color=colors[v], linestyle=style[mode], marker="o",
                            markersize=3, capsize=2, label=f"{v} {mode}")
                if mode == "threads" and xs[0] == 1:
                    ax.plot(xs, [med[0] * x for x in xs], color=colors[v], linestyle=":", linewidth=1,
                            label=f"{v} ideal linear")
        ax.set_xscale("log", base=2)
        ax.set_title(f"n = {size}", fontsize=9)
        ax.set_xlabel("workers")
        ax.set_ylabel("MFLOPS (median, IQR bars)")
    axes[0][0].legend(fontsize=7)
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
                    rpts = sorted((k.workers, r) for k in keys
                                 if (k.variant, k.size, k.mode) == (v, size, mode)
                                 and (r := ratio_to_baseline(data, k)) is not None)
                    if not rpts:
                        continue
                    ax.plot([p[0] for p in rpts], [p[1].ratio for p in rpts], color=colors[v],
                            linestyle=style[mode], marker="o", markersize=3, label=f"{v} {mode}")
                    sig = [p for p in rpts if p[1].significant]
                    ax.scatter([p[0] for p in sig], [p[1].ratio for p in sig], color=colors[v], s=40,
                               facecolors="none")
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_xscale("log", base=2)
            ax.set_title(f"n = {size}", fontsize=9)
            ax.set_xlabel("workers")
            ax.set_ylabel("throughput / baseline")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{workload}: speedup over baseline (circled: p < {ALPHA})", fontsize=10)
        fig.tight_layout()
        _save_png(fig, out_dir / f"{stem}-vs-baseline.png")
        written.append(out_dir / f"{stem}-vs-baseline.png")
        plt.close(fig)
    return written


def environment_table(data: Data) -> list[str]:
    lines = ["| machine | file | date (UTC) | OS | governor | variant | NumPy (wheel) | Python | GIL | "
             "patch sha256 | lockswap |", "|" + "---|" * 11]
    for machine, docs in data.machines.items():
        for f, doc in docs:
            for name, v in doc["variants"].items():
                w = v.get("worker", {})
                commit = (doc["lockswap"].get("commit") or "?")[:10]
                lines.append(
                    f"| {machine} | {f.name} | {doc['created']} | {doc['machine'].get('os')} | "
                    f"{doc['machine'].get('governor') or 'n/a'} | {name} | "
                    f"{w.get('numpy_dist_version') or v.get('version') or '?'} | {w.get('python', '?')} | "
                    f"{'enabled' if w.get('gil_enabled') else 'disabled'} | "
                    f"{(v.get('patch_sha256') or '-')[:12]} | {commit}"
                    f"{' (dirty)' if doc['lockswap'].get('dirty') else ''} |")
    return lines


def workload_table(data: Data, machine: str, numpy: str, workload: str) -> list[str]:
    keys = [k for k in data.samples if (k.machine, k.numpy, k.workload) == (machine, numpy, workload)]
    variants = variants_in(keys)
    head = ["n", "mode", "workers"]
    for v in variants:
        head += [f"{v} MFLOPS median [IQR]", f"{v} speedup"]
        if v != BASELINE and BASELINE in variants:
            head += [f"{v} / baseline", "p"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size, mode, workers in sorted({(k.size, k.mode, k.workers) for k in keys},
                                      key=lambda t: (t[0], -ord(t[1][0]), t[2])):
        row = [str(size), mode, str(workers)]
        for v in variants:
            key = Key(machine, numpy, v, workload, size, mode, workers)
            if key not in data.samples:
                row += ["-", "-"] + (["-", "-"] if v != BASELINE and BASELINE in variants else [])
                continue
            s = stats.summarize(data.samples[key])
            sp = speedup(data, key)
            row += [f"{_fmt(s.median)} [{_fmt(s.q1)}-{_fmt(s.q3)}]", f"{sp:.2f}" if sp else "-"]
            if v != BASELINE and BASELINE in variants:
                r = ratio_to_baseline(data, key)
                row += [f"**{r.ratio:.2f}**" if r and r.significant else (f"{r.ratio:.2f}" if r else "-"),
                        f"{r.p:.3f}" if r else "-"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render(data: Data, out_dir: Path, reference: tuple[str, str] | None = None) -> tuple[Path, list[Path]]:
    md = ["# lockswap thread-scaling report", "",
          f"From {len(data.files)} results file(s): " + ", ".join(f"`{f.name}`" for f in data.files), "",
          "Throughput = FLOPs of all workers / wall time (MFLOPS); each worker does the same fixed work, "
          "so speedup = t1 * N / tN = throughput(N) / throughput(1). Median and interquartile range over "
          "repeats (each repeat a fresh process, variants interleaved round-robin). "
          f"`variant / baseline` is the ratio of median throughputs; **bold** when a two-sided "
          f"Mann-Whitney U test of the repeats gives p < {ALPHA}.", "", "## Environment", "",
          *environment_table(data), "", *scaling.section(data, reference)]
    pngs: list[Path] = []
    groups = sorted({(k.machine, k.numpy) for k in data.samples})
    for machine, numpy in groups:
        md += [f"## {machine}, NumPy {numpy}", ""]
        ns = [len(v) for k, v in data.samples.items() if (k.machine, k.numpy) == (machine, numpy)]
        if ns and stats.min_p(min(ns), min(ns)) >= ALPHA:
            md += [f"> Only {min(ns)} repeats per cell: the smallest attainable p is "
                   f"{stats.min_p(min(ns), min(ns)):.2f}, so no difference can be significant at {ALPHA}. "
                   "Use more --repeats.", ""]
        names = {k.workload for k in data.samples if (k.machine, k.numpy) == (machine, numpy)}
        for workload in sorted(names):
            info = data.workloads.get(workload, {})
            md += [f"### {workload}", "", str(info.get("description", "")),
                   f"FLOPs per call: `{info.get('flops', '?')}`.", ""]
            md += [*workload_table(data, machine, numpy, workload), ""]
            for png in plot_group(data, machine, numpy, workload, out_dir):
                pngs.append(png)
                md += [f"![{png.stem}]({png.name})", ""]
    report = out_dir / "report.md"
    paths.atomic_write_text(report, "\n".join(md) + "\n")
    return report, pngs


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, help="results JSON files (several machines/runs merge)")
    p.add_argument("--reference", metavar="VARIANT@NUMPY",
                   help="also compare every build's t1/tN and ns/call with this one, e.g. baseline@2.2.6")
    p.add_argument("--output-dir", type=Path,
                   help="where report.md and the PNGs go (default: results/report)")


def cmd_report(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("the report needs matplotlib",
                          "pip install -e '.[report]' (or use nox -s report)") from None
    reference = scaling.parse_reference(args.reference)
    data = load(list(args.files))
    out_dir = args.output_dir or paths.results_dir() / "report"
    with log.step(f"report from {len(data.files)} file(s) into {out_dir}"):
        report, pngs = render(data, out_dir, reference)
    log.info(f"{report} and {len(pngs)} plots")
    log.job_summary(report.read_text(encoding="utf-8").split("## Environment")[0])
    print(report)
    return 0


COMMANDS = (Command("report", "markdown report and PNG plots from benchmark results JSON", _add_args,
                    cmd_report),)
