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
from ..base.manifest import BASELINE
from ..base.mdtext import escape
from . import scaling
from .analysis import Analysis, VerdictRow, analyse
from .results import Inputs, read

SUMMARY_LIMIT = 512 * 1024  # bytes; GitHub's cap per step summary is 1 MiB


def overall(a: Analysis, row: VerdictRow) -> str:
    """The verdict column: failing tests and unreliable runs first, then the scaling verdict."""
    if row.tests_ok is False:
        return "TESTS FAIL"
    if any("GIL" in w for w in row.warnings):
        return "UNRELIABLE: GIL enabled"
    if row.scaling is None:
        return "tested only" if row.tests_ok else "no data"
    return scaling.verdict(a.family, row.scaling)


def _cells(a: Analysis, row: VerdictRow, markdown: bool) -> list[str]:
    r = row.scaling
    if r is None:
        ratio = eff = "-"
        workers = "-"
    else:
        eff = scaling.interval(r.eff, 2)
        workers = f"{r.workers}" + (" (SMT)" if r.flag == "SMT" else "")
        ratio = "-" if r.variant == BASELINE else scaling.comparison(a.family, r.eff_vs_base)
        if not markdown:
            ratio = ratio.replace("**", "") + (" *" if r.eff_vs_base is not None and
                                               a.family.significant(r.eff_vs_base) else "")
    data = [row.variant, row.numpy, row.python, row.os, row.tests]  # from results files: escaped in Markdown
    return [overall(a, row), *(map(escape, data) if markdown else data), workers, eff, ratio]


HEAD = ["verdict", "variant", "NumPy", "Python", "OS", "tests", "N", "t1/tN [95% CI]",
        "t1/tN / baseline [95% CI] p (Holm)"]


def _explain(a: Analysis, markdown: bool = False) -> str:
    cells = sorted({(r.workload, r.size) for r in a.verdict_rows if r.scaling})
    what = ", ".join(f"{escape(w) if markdown else w} n={s}" for w, s in cells) or "no threaded cells"
    return (f"t1/tN of {what} (threads) at the largest N within the physical cores; ratio to the same "
            f"NumPy's baseline with bootstrap {stats.LEVEL:.0%} CI; Mann-Whitney p Holm-adjusted across "
            f"all {len(a.family)} comparisons of the report; significant when adjusted p < {stats.ALPHA}.")


def _notes(a: Analysis) -> list[str]:
    notes = []
    for machine, runs in a.pool.run_of_machine.items():
        for w in dict.fromkeys(w for run in runs for w in run.warnings()):
            notes.append(f"WARNING {machine}: {w}")
    failures = sum(len(run.failures) for run in a.inputs.runs)
    if failures:
        notes.append(f"{failures} failed cell(s): see the report's 'Failed cells' table")
    notes += [f"skipped {s.path}: {s.reason}" for s in a.inputs.skipped]
    return notes


def text_table(a: Analysis) -> str:
    rows = [HEAD, *(_cells(a, r, markdown=False) for r in a.verdict_rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", _explain(a) + " *: significant", *_notes(a)])


def markdown_table(a: Analysis, rows: list[VerdictRow] | None = None) -> list[str]:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(_cells(a, r, markdown=True)) + " |"
              for r in (a.verdict_rows if rows is None else rows)]
    return [_explain(a, markdown=True) + " **Bold**: significant.", "", *lines]


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
    headline = {(r.machine, r.workload, r.size) for r in a.verdict_rows if r.scaling}
    scale_rows = [r for r in a.scaling_rows if (r.machine, r.workload, r.size) in headline]
    verdict_rows = list(a.verdict_rows)
    notes = _notes(a)
    cut = ""
    while True:
        md = ["# lockswap summary", "", *markdown_table(a, verdict_rows), ""]
        md += [*(f"- {escape(n)}" for n in notes[:50]), ""] if notes else []
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
