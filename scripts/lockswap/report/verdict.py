"""The short answer: per target, the test verdict, t1/tN and its ratio to baseline.

``verdict_table`` is what ``lockswap bench`` prints on the terminal at its end; ``summary_markdown``
is the compact ``summary.md`` the report writes beside ``report.md`` (and CI puts on the step summary,
which GitHub drops entirely above 1 MiB).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..base import stats
from ..base.errors import ConfigError
from . import scaling
from .analysis import Analysis, VerdictRow, analyse
from .results import Inputs, read

SUMMARY_LIMIT = 512 * 1024  # bytes; GitHub's cap per step summary is 1 MiB


def overall(a: Analysis, row: VerdictRow) -> str:
    """The verdict column: failing tests and unreliable runs first, then the scaling verdict (which
    says ``(disturbed)`` itself when its cell was)."""
    if row.tests_ok is False:
        return "TESTS FAIL"
    if row.gil_enabled:
        return "UNRELIABLE: GIL enabled"
    if row.scaling is None:
        return "tested only" if row.tests_ok else "no data"
    return scaling.verdict(a.family, row.scaling)


def _ratio(a: Analysis, index: int | None, markdown: bool) -> str:
    text = scaling.comparison(a.family, index)
    if markdown:
        return text
    return text.replace("**", "") + (" *" if index is not None and a.family.significant(index) else "")


def _has_upstream(a: Analysis) -> bool:
    return any(r.scaling is not None and r.scaling.eff_vs_up is not None for r in a.verdict_rows)


def head(a: Analysis) -> list[str]:
    up = a.upstream_version() or "?"
    cols = ["verdict", "variant", "NumPy", "Python", "OS", "tests", "N", "t1/tN [CI]", "t1/tN / baseline",
            "ns/iteration / baseline"]
    return cols + ([f"t1/tN / upstream {up}", f"ns/iteration / upstream {up}"] if _has_upstream(a) else [])


def _cells(a: Analysis, row: VerdictRow, markdown: bool) -> list[str]:
    r = row.scaling
    up = _has_upstream(a)
    if r is None:
        cells = [overall(a, row), row.variant, row.numpy, row.python, row.os, row.tests, "-", "-", "-", "-"]
        return cells + (["-", "-"] if up else [])
    workers = f"{r.workers}" + (" (SMT)" if r.flag == "SMT" else "")
    cells = [overall(a, row), row.variant, row.numpy, row.python, row.os, row.tests, workers,
             scaling.interval(r.eff, 2), _ratio(a, r.eff_vs_base, markdown),
             _ratio(a, r.ns_vs_base, markdown)]
    return cells + ([_ratio(a, r.eff_vs_up, markdown), _ratio(a, r.ns_vs_up, markdown)] if up else [])


def _explain(a: Analysis) -> str:
    cells = sorted({(r.workload, r.size) for r in a.verdict_rows if r.scaling})
    what = ", ".join(f"{w} n={s}" + (f" ({per} ufunc calls per kernel iteration)" if (
        per := a.pool.workloads.get(w, {}).get("calls_per_iteration", 1)) != 1 else "")
        for w, s in cells) or "no threaded cells"
    sizes = sorted({a.family.size(g) for g in a.pool.groups if a.family.size(g)})
    tests = (f"Mann-Whitney p Holm-adjusted within the run's fixed family of {'/'.join(map(str, sizes))} "
             f"headline comparisons, CIs Bonferroni-adjusted to it; significant when adjusted p < "
             f"{stats.ALPHA}" if sizes else "no headline comparison (no baseline measured in the run)")
    pooled = " Runs pooled (--pool-runs): exploratory, nothing is significant." if a.pool.pooled else ""
    return (f"t1/tN of {what} (threads) at the largest N within the physical cores, and 1-thread ns per "
            f"kernel iteration; ratios to the same run's baseline (and upstream build) of medians over "
            f"processes; {tests}. '(disturbed)': a cell measured on a busy machine (see the notes).{pooled}")


def _notes(a: Analysis) -> list[str]:
    notes = []
    for group, runs in a.pool.groups.items():
        for w in dict.fromkeys(w for run in runs for w in run.warnings()):
            notes.append(f"WARNING {group}: {w}")
        m = runs[0].machine
        start = f"{m.loadavg_at_start[0]:.2f}" if m.loadavg_at_start else "n/a"
        end = f"{m.loadavg_at_end:.2f}" if m.loadavg_at_end is not None else "n/a"
        notes.append(f"{group}: 1-minute load {start} at start, {end} at end ({m.usable} usable CPUs)")
    for r in a.verdict_rows:
        if r.scaling is not None and r.scaling.disturbed:
            notes.append(f"disturbed: {r.variant}@{r.numpy} {r.workload} n={r.size} N={r.scaling.workers} "
                         f"({r.group}): {r.scaling.disturbed}")
    failures = sum(len(run.failures) for run in a.inputs.runs)
    if failures:
        notes.append(f"{failures} failed cell(s): see the report's 'Failed cells' table")
    notes += [f"skipped {s.path}: {s.reason}" for s in a.inputs.skipped]
    return notes


def text_table(a: Analysis) -> str:
    rows = [head(a), *(_cells(a, r, markdown=False) for r in a.verdict_rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", _explain(a) + " *: significant", *_notes(a)])


def markdown_table(a: Analysis, rows: list[VerdictRow] | None = None) -> list[str]:
    lines = ["| " + " | ".join(head(a)) + " |", "|" + "---|" * len(head(a))]
    lines += ["| " + " | ".join(_cells(a, r, markdown=True)) + " |"
              for r in (a.verdict_rows if rows is None else rows)]
    return [_explain(a) + " **Bold**: significant.", "", *lines]


def load(files: Sequence[Path], tests_dir: Path | None = None) -> Inputs:
    names = list(files)
    if tests_dir is not None and tests_dir.is_dir():
        known = {f.resolve() for f in names}
        names += [f for f in sorted(tests_dir.glob("test-*.json")) if f.resolve() not in known]
    inputs = read(names)
    if not inputs.runs and not inputs.tests:
        raise ConfigError(f"nothing to report: none of {len(names)} file(s) is a lockswap bench or test "
                          "result",
                          "pass results/bench-*.json and results/test-*.json files")
    return inputs


def verdict_table(files: Sequence[Path], *, tests_dir: Path | None = None) -> str:
    """The terminal verdict table of benchmark results ``files`` (plain text, no trailing newline).

    One row per target (variant + NumPy version) and machine: the test verdict where a test JSON of
    that build (same variant, NumPy and Python) is among ``files`` or in ``tests_dir`` (e.g. the
    results folder; ``test-*.json`` there are read), t1/tN at the largest worker count that is not
    oversubscribed (at most the physical cores in the affinity mask), and the ratio of t1/tN to the
    same NumPy's baseline with its bootstrap 95% CI and Holm-adjusted significance. Runs marked
    unreliable (GIL enabled, oversubscribed, loaded machine) say so in the row or below the table.

    Files of another kind and corrupt files are skipped (named in a line below the table). Raises
    ``ConfigError`` only when nothing renderable is left.
    """
    inputs = load(files, tests_dir)
    return text_table(analyse(inputs, tested_only=not inputs.runs))


def summary_markdown(a: Analysis, report_name: str = "report.md") -> str:
    """The compact summary: verdict table, headline scaling table, notes; under SUMMARY_LIMIT bytes
    (tables are cut, saying so, if a very large merge would exceed it)."""
    headline = {(r.group, r.workload, r.size) for r in a.verdict_rows if r.scaling}
    scale_rows = [r for r in a.scaling_rows if (r.group, r.workload, r.size) in headline]
    verdict_rows = list(a.verdict_rows)
    notes = _notes(a)
    cut = ""
    while True:
        md = ["# lockswap summary", "", *markdown_table(a, verdict_rows), ""]
        md += [*(f"- {n}" for n in notes[:50]), ""] if notes else []
        if scale_rows:
            md += ["## Headline thread scaling", "", *scaling.header(a.family), "",
                   *scaling.table(a.pool, a.family, scale_rows, a.reference), ""]
        md += [cut, f"Full report, every table and the plots: `{report_name}` (the `report` artifact in CI)."]
        text = "\n".join(md) + "\n"
        if len(text.encode()) <= SUMMARY_LIMIT or not (scale_rows or len(verdict_rows) > 1):
            return text
        if scale_rows:
            scale_rows = scale_rows[:len(scale_rows) // 2]
        else:
            verdict_rows = verdict_rows[:len(verdict_rows) // 2]
        cut = (f"(tables cut to fit the step summary: {len(verdict_rows)} of {len(a.verdict_rows)} verdict "
               "rows, "
               f"{len(scale_rows)} headline scaling rows; everything is in `{report_name}`)")
        cut += "\n"
