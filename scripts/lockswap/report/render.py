"""``lockswap report``: markdown, a compact summary and PNG plots from bench results and test verdicts.

Several files (machines, CI jobs, runs) merge: measurements are grouped by machine + NumPy version +
variant, and repeats of the same cell from several runs on one machine are pooled. Test verdicts
(``test-*.json``) are shown next to the scaling numbers of the same build; files of any other kind,
and corrupt ones, are listed as skipped and the rest still renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..base import log, paths, stats
from ..base.errors import ConfigError
from ..base.manifest import BASELINE
from . import plots, scaling, verdict
from .analysis import Analysis, ThroughputRow, analyse
from .results import BenchRun


def _fmt(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def environment_table(runs: Sequence[BenchRun]) -> list[str]:
    lines = ["| machine | file | date (UTC) | OS | CPUs (physical) | load at start | target | variant | "
             "NumPy (wheel) | Python | GIL | patch sha256 | lockswap |", "|" + "---|" * 13]
    for run in runs:
        m = run.machine
        load = f"{m.loadavg_at_start[0]:.2f}" if m.loadavg_at_start else "n/a"
        for t in run.targets.values():
            lines.append(
                f"| {run.machine_label} | {run.path.name} | {run.created} | {run.os} | "
                f"{m.usable} ({m.physical}) | "
                f"{load} | {t.label} | {t.variant} | {t.version} | {t.python} | "
                f"{'**ENABLED**' if t.gil_enabled else 'disabled'} | {t.patch_sha256[:12] or '-'}"
                f"{f' (ported from {t.ported_from})' if t.ported_from else ''} | "
                f"{run.commit[:10]}{' (dirty)' if run.dirty else ''} |")
    return lines


def warnings_section(a: Analysis) -> list[str]:
    lines = [f"> **WARNING** ({run.machine_label}, `{run.path.name}`): {w}"
             for run in a.inputs.runs for w in run.warnings()]
    lines += [f"> skipped `{s.path}`: {s.reason}" for s in a.inputs.skipped]
    return [*lines, ""] if lines else []


def failures_table(runs: Sequence[BenchRun]) -> list[str]:
    rows = [(run, f) for run in runs for f in run.failures]
    if not rows:
        return []
    lines = ["## Failed cells", "", "Cells whose worker raised, crashed or timed out; every other cell of "
             "the run was measured.", "",
             "| machine | target | workload | n | mode | workers | repeat | kind | seconds | error | "
             "stderr (last line) |",
             "|" + "---|" * 11]
    for run, f in rows:
        tail = (f.stderr_tail.strip().splitlines() or [""])[-1][:120].replace("|", "\\|")
        error = f.error.strip().replace("\n", " ")[:160].replace("|", "\\|")
        secs = f"{f.seconds:.1f}" if isinstance(f.seconds, (int, float)) else "-"
        lines.append(f"| {run.machine_label} | {f.target} | {f.workload} | {f.size} | {f.mode} | "
                     f"{f.workers} | "
                     f"{f.repeat} | {f.kind} | {secs} | {error} | `{tail}` |")
    return [*lines, ""]


def workload_table(a: Analysis, rows: list[ThroughputRow]) -> list[str]:
    """Long format: one row per (n, mode, workers, variant), verdict first."""
    head = ["verdict", "n", "mode", "workers", "variant", "MFLOPS median [95% CI]", "speedup [95% CI]",
            "/ baseline [95% CI] p (Holm)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        k = r.key
        if r.flag == "oversubscribed":
            v = "oversubscribed"
        elif k.variant == BASELINE:
            v = "baseline"
        elif r.vs_base is None:
            v = "no baseline"
        elif a.family.significant(r.vs_base):
            v = "faster" if a.family.ratios[r.vs_base].ratio > 1 else "slower"
        else:
            v = "no significant difference"
        sp = f"{r.speedup.estimate:.2f} [{r.speedup.low:.2f}, {r.speedup.high:.2f}]" if r.speedup else "-"
        workers = f"{k.workers}" + (" (SMT)" if r.flag == "SMT" else "")
        lines.append(f"| {v} | {k.size} | {k.mode} | {workers} | {k.variant} | {_fmt(r.mflops.estimate)} "
                     f"[{_fmt(r.mflops.low)}, {_fmt(r.mflops.high)}] | {sp} | "
                     f"{scaling.comparison(a.family, r.vs_base)} |")
    return lines


def render(a: Analysis, out_dir: Path) -> tuple[Path, Path, list[Path]]:
    """report.md, summary.md and the PNGs, all written atomically into ``out_dir``."""
    files = [*(r.path for r in a.inputs.runs), *(t.path for t in a.inputs.tests)]
    md = ["# lockswap thread-scaling report", "",
          f"From {len(a.inputs.runs)} bench results file(s) and {len(a.inputs.tests)} test verdict(s)"
          + (f"; {len(a.inputs.skipped)} file(s) skipped" if a.inputs.skipped else "") + ".", "",
          *warnings_section(a),
          "Throughput = FLOPs of all workers / wall time (MFLOPS); each worker does the same fixed work, "
          "so speedup = t1 * N / tN = throughput(N) / throughput(1). Each repeat is a fresh process "
          "(variants interleaved round-robin); cells give the median and its bootstrap "
          f"{stats.LEVEL:.0%} confidence interval over processes. Ratios to baseline are ratios of medians "
          "with bootstrap CIs; their two-sided Mann-Whitney U p-values are **Holm-adjusted across all "
          f"{len(a.family)} comparisons of this report**, and **bold** when adjusted p < {stats.ALPHA}.", "",
          "## Verdict", "", *verdict.markdown_table(a), ""]
    if a.inputs.runs:
        md += ["## Environment", "", *environment_table(a.inputs.runs), ""]
    md += [*scaling.section(a.pool, a.family, a.scaling_rows, a.reference), *failures_table(a.inputs.runs)]
    pngs: list[Path] = []
    for machine, numpy in sorted({(r.key.machine, r.key.numpy) for r in a.throughput_rows}):
        md += [f"## {machine}, NumPy {numpy}", ""]
        ns = [len(v) for k, v in a.pool.samples.items() if (k.machine, k.numpy) == (machine, numpy)]
        if ns and stats.min_p(min(ns), min(ns)) >= stats.ALPHA:
            md += [f"> Only {min(ns)} repeats per cell: the smallest attainable p is "
                   f"{stats.min_p(min(ns), min(ns)):.2f}, so no difference can be significant at "
                   f"{stats.ALPHA}. Use more --repeats.", ""]
        elif ns and stats.min_p(min(ns), min(ns)) * len(a.family) >= stats.ALPHA:
            md += [f"> Only {min(ns)} repeats per cell: the smallest attainable p is "
                   f"{stats.min_p(min(ns), min(ns)):.4f}, too large to survive Holm's correction across "
                   f"{len(a.family)} comparisons unless most others are clearly significant. "
                   "Use more --repeats.", ""]
        for workload in sorted({r.key.workload for r in a.throughput_rows
                                if (r.key.machine, r.key.numpy) == (machine, numpy)}):
            info = a.pool.workloads.get(workload, {})
            rows = [r for r in a.throughput_rows if (r.key.machine, r.key.numpy, r.key.workload) ==
                    (machine, numpy, workload)]
            md += [f"### {workload}", "", str(info.get("description", "")),
                   f"FLOPs per call: `{info.get('flops', '?')}`.", "", *workload_table(a, rows), ""]
            for png in plots.plot_group(a, machine, numpy, workload, out_dir):
                pngs.append(png)
                md += [f"![{png.stem}]({png.name})", ""]
    md += ["## Inputs", "", *(f"- `{f.name}`" for f in files), ""]
    report = out_dir / "report.md"
    paths.atomic_write_text(report, "\n".join(md) + "\n")
    summary = out_dir / "summary.md"
    paths.atomic_write_text(summary, verdict.summary_markdown(a, report.name))
    return report, summary, pngs


def write_report(files: Sequence[Path], out_dir: Path, reference: tuple[str, str] | None = None) -> Path:
    """Render ``report.md``, ``summary.md`` and the PNGs of ``files`` into ``out_dir``; the report's path.

    Foreign or corrupt files are skipped (one line each); ``ConfigError`` when nothing is left."""
    _need_matplotlib()
    return _write(analyse(verdict.load(files), reference), out_dir)


def _write(a: Analysis, out_dir: Path) -> Path:
    with log.step(f"report from {len(a.inputs.runs) + len(a.inputs.tests)} file(s) into {out_dir}"):
        report, _, pngs = render(a, out_dir)
    log.info(f"{report}, {report.parent / 'summary.md'} and {len(pngs)} plots")
    return report


def answer_dir(results: Path) -> Path:
    """Where the answer of a bench run goes: ``results/bench-X-report/`` beside ``results/bench-X.json``."""
    return results.with_name(results.stem + "-report")


def answer(results: Path) -> Analysis:
    """The end of ``lockswap bench``: ONE analysis of the run (its results plus the test verdicts in
    the same folder), rendered three ways: ``report.md`` and ``summary.md`` beside the results (path
    printed) and the verdict table on the terminal. Without matplotlib the files are skipped, with a
    warning; the table is printed all the same."""
    a = analyse(verdict.load([results], tests_dir=results.parent), tested_only=False)
    try:
        _need_matplotlib()
    except ConfigError as exc:
        log.warn(f"no report files: {exc.message} ({exc.hint})")
    else:
        log.info(f"report: {_write(a, answer_dir(results))}")
    print(verdict.text_table(a))
    return a


def _need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("the report needs matplotlib",
                          "pip install -e '.[report]' (or use nox -s report)") from None
