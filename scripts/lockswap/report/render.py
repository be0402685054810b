"""The report of one analysis: ``report.md``, ``summary.md``, PNG plots and the terminal verdict.

Several files (machines, CI jobs, runs) are shown side by side, each run with its own comparisons
(runs are never pooled, unless ``--pool-runs`` asks, and then only as exploratory numbers). Test
verdicts (``test-*.json``) are shown next to the scaling numbers of the same build; files of any other
kind, and corrupt ones, are listed as skipped and the rest still renders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..base import log, paths, stats
from ..base.errors import ConfigError
from ..base.manifest import BASELINE
from ..base.mdtext import escape as esc
from ..test import attribution
from . import plots, prtable, scaling, verdict
from .analysis import Analysis, ThroughputRow, analyse
from .cells import Key
from .results import BenchRun


def _fmt(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def environment_table(runs: Sequence[BenchRun]) -> list[str]:
    lines = ["| machine | file | date (UTC) | OS | CPUs (physical) | load at start / end | target | "
             "variant | NumPy (wheel) | Python | GIL | patch sha256 | lockswap |", "|" + "---|" * 13]
    for run in runs:
        m = run.machine
        load = f"{m.loadavg_at_start[0]:.2f}" if m.loadavg_at_start else "n/a"
        load += f" / {m.loadavg_at_end:.2f}" if m.loadavg_at_end is not None else " / n/a"
        for t in run.targets.values():
            up = " (upstream)" if t.label == run.upstream else ""
            lines.append(
                f"| {esc(run.machine_label)} | {esc(run.path.name)} | {esc(run.created)} | {esc(run.os)} | "
                f"{m.usable} ({m.physical}) | "
                f"{load} | {esc(t.label)}{up} | {esc(t.variant)} | {esc(t.version)} | {esc(t.python)} | "
                f"{'**ENABLED**' if t.gil_enabled else 'disabled'} | {esc(t.patch_sha256[:12] or '-')}"
                f"{f' (ported from {esc(t.ported_from)})' if t.ported_from else ''} | "
                f"{esc(run.commit[:10])}{' (dirty)' if run.dirty else ''} |")
    return lines


def warnings_section(a: Analysis) -> list[str]:
    lines = [f"> **WARNING** ({esc(run.machine_label)}, {esc(run.path.name)}): {esc(w)}"
             for run in a.inputs.runs for w in run.warnings()]
    lines += [f"> skipped {esc(s.path)}: {esc(s.reason)}" for s in a.inputs.skipped]
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
        tail = esc((f.stderr_tail.strip().splitlines() or [""])[-1][:120])
        error = esc(f.error.strip()[:160])
        secs = f"{f.seconds:.1f}" if isinstance(f.seconds, (int, float)) else "-"
        lines.append(f"| {esc(run.machine_label)} | {esc(f.target)} | {esc(f.workload)} | {esc(f.size)} | "
                     f"{esc(f.mode)} | {esc(f.workers)} | "
                     f"{esc(f.repeat)} | {esc(f.kind)} | {secs} | {error} | {tail} |")
    return [*lines, ""]


def stress_section(a: Analysis) -> list[str]:
    """Each stress case of each build in one word, per NumPy, Python, suite and OS (the words of the
    verdict table's tests column, from the same analysis)."""
    if not a.stress:
        return []
    lines = ["## Stress cases", "",
             "Each case of `--suite stress` per build: baseline's own outcome (`passes` or `upstream flaw`), "
             "and for each variant `passes`, `fixes upstream flaw` (passes where baseline fails), `inherits "
             "upstream flaw` (fails as baseline does: not a new failure) or `new failure` (fails where "
             "baseline passes). Baseline's outcome is its own run's when one is among the files, else its "
             "records in `numpy_extra/known_upstream.json`.", ""]
    for g in a.stress:
        where = f"NumPy {esc(g.numpy)}, Python {esc(g.python)}, suite {esc(g.suite)}, OS {esc(g.os)}"
        lines += [f"### {where}", "",
                  *attribution.case_table(g.columns), ""]
    return lines


def workload_table(a: Analysis, rows: list[ThroughputRow]) -> list[str]:
    """Long format: one row per (n, mode, workers, variant), verdict first; every comparison here is
    unadjusted and exploratory (the run's Holm family is in the verdict and scaling tables)."""
    head = ["verdict", "n", "mode", "workers", "variant", "MFLOPS median [CI]", "speedup N*t1/tN [CI]",
            "/ baseline [95% CI] p (unadjusted)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        k = r.key
        if r.flag == "oversubscribed":
            v = "oversubscribed"
        elif k.variant == BASELINE:
            v = "baseline"
        elif k.workers == 1:
            v = "1 thread: see ns/iteration"
        elif r.vs_base is None:
            v = "no baseline"
        else:
            v = "exploratory"
        sp = scaling.interval(r.speedup, 2) if r.speedup else "-"
        mflops = "n too small" if r.mflops is None else (
            f"{_fmt(r.mflops.estimate)} [{_fmt(r.mflops.low)}, {_fmt(r.mflops.high)}]")
        workers = f"{k.workers}" + (" (SMT)" if r.flag == "SMT" else "")
        lines.append(f"| {v} | {k.size} | {esc(k.mode)} | {workers} | {esc(k.variant)} | {mflops} | {sp} | "
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
          "so speedup = N * t1 / tN, paired per process. Each repeat is a fresh process "
          "(variants interleaved round-robin); cells give the median and its bootstrap "
          f"{stats.LEVEL:.0%} confidence interval over processes. Comparisons never leave their run: "
          "each run's headline comparisons (the verdict table) form its own fixed Holm family; every "
          "other comparison is unadjusted and exploratory.", "",
          "## Verdict", "", *verdict.markdown_table(a), "", *disturbance_notes(a)]
    if a.inputs.runs:
        md += ["## Environment", "", *environment_table(a.inputs.runs), ""]
    md += [*scaling.section(a.pool, a.family, a.scaling_rows, a.reference), *prtable.section(a),
           *stress_section(a), *failures_table(a.inputs.runs)]
    pngs: list[Path] = []
    for group in sorted({r.key.run for r in a.throughput_rows}):
        for png in forest_plots(a, group, out_dir):
            pngs.append(png)
            md += [f"![{esc(png.stem)}]({png.name})", ""]  # slugged names
    for machine, numpy in sorted({(r.key.run, r.key.numpy) for r in a.throughput_rows}):
        md += [f"## {esc(machine)}, NumPy {esc(numpy)}", ""]
        ns = [len(v) for k, v in a.pool.samples.items() if (k.run, k.numpy) == (machine, numpy)]
        m = a.family.size(machine)
        if ns and stats.min_p(min(ns), min(ns)) >= stats.ALPHA:
            md += [f"> Only {min(ns)} repeats per cell: the smallest attainable p is "
                   f"{stats.min_p(min(ns), min(ns)):.2f}, so no difference can be significant at "
                   f"{stats.ALPHA}. Use more --repeats.", ""]
        elif ns and m and stats.min_p(min(ns), min(ns)) * m >= stats.ALPHA:
            md += [f"> Only {min(ns)} repeats per cell: the smallest attainable p is "
                   f"{stats.min_p(min(ns), min(ns)):.4f}, too large to survive Holm's correction across "
                   f"the run's {m} headline comparisons unless most others are clearly significant. "
                   "Use more --repeats.", ""]
        for workload in sorted({r.key.workload for r in a.throughput_rows
                                if (r.key.run, r.key.numpy) == (machine, numpy)}):
            info = a.pool.workloads.get(workload, {})
            rows = [r for r in a.throughput_rows if (r.key.run, r.key.numpy, r.key.workload) ==
                    (machine, numpy, workload)]
            per = info.get("calls_per_iteration")
            calls = f" One kernel iteration makes {esc(per)} ufunc calls." if per and per != 1 else ""
            md += [f"### {esc(workload)}", "", esc(info.get("description", "")),
                   f"FLOPs per call: {esc(info.get('flops', '?'))}.{calls}", "", *workload_table(a, rows), ""]
            for png in plots.plot_group(a, machine, numpy, workload, out_dir):
                pngs.append(png)
                md += [f"![{esc(png.stem)}]({png.name})", ""]  # plots.plot_group: [A-Za-z0-9.-] only
    md += ["## Inputs", "", *(f"- {esc(f.name)}" for f in files), ""]
    report = out_dir / "report.md"
    paths.atomic_write_text(report, "\n".join(md) + "\n")
    summary = out_dir / "summary.md"
    paths.atomic_write_text(summary, verdict.summary_markdown(a, report.name))
    return report, summary, pngs


def disturbance_notes(a: Analysis) -> list[str]:
    """Why a verdict says "(disturbed)": each disturbed headline cell with its reasons."""
    lines = [f"- **disturbed**: {esc(r.variant)}@{esc(r.numpy)} {esc(r.workload)} n={r.size}, "
             f"N={r.scaling.workers} ({esc(r.group)}): {esc(r.scaling.disturbed)}"
             for r in a.verdict_rows if r.scaling and r.scaling.disturbed]
    return [*lines, ""] if lines else []


def forest_plots(a: Analysis, group: str, out_dir: Path) -> list[Path]:
    """The headline picture of a run: t1/tN per build at the verdict N (the run's baseline as the
    reference line, its upstream build in the same panel), one PNG per workload and size."""
    head = a.heads.get(group)
    if head is None:
        return []
    out = []
    up = a.pool.upstream(group)
    for workload, size in sorted({(r.workload, r.size) for r in a.scaling_rows if r.group == group}):
        rows = [r for r in a.scaling_rows if (r.group, r.workload, r.size, r.workers) ==
                (group, workload, size, head.workers)]
        if not rows:
            continue
        main = Counter(r.numpy for r in rows).most_common(1)[0][0]  # the run's own NumPy
        points = [plots.ForestPoint(
            r.variant if r.numpy == main else f"{r.variant}@{r.numpy}", r.numpy,
            r.eff.estimate if r.eff else stats.median(scaling.efficiencies(a.pool, _key(r))),
            r.eff.low if r.eff else None, r.eff.high if r.eff else None, r.processes,
            reference=(r.variant, r.numpy) == (BASELINE, main), upstream=(r.numpy, r.variant) == up,
            disturbed=bool(r.disturbed), verdict=scaling.verdict(a.family, r)) for r in rows]
        stem = f"{plots.slug(group)}-{plots.slug(workload)}-n{size}-forest"
        out.append(plots.forest(points, title=f"{workload}, n = {size} ({group})", workers=head.workers,
                                out=out_dir / f"{stem}.png"))
    return out


def _key(r: scaling.Row) -> Key:
    return Key(r.group, r.numpy, r.variant, r.workload, r.size, "threads", r.workers)


def write_report(files: Sequence[Path], out_dir: Path, reference: tuple[str, str] | None = None,
                 pooled: bool = False) -> Path:
    """Render ``report.md``, ``summary.md`` and the PNGs of ``files`` into ``out_dir``; the report's path.

    Foreign or corrupt files are skipped (one line each); ``ConfigError`` when nothing is left."""
    _need_matplotlib()
    return _write(analyse(verdict.load(files), reference, pooled=pooled), out_dir)


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
