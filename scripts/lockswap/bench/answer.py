"""The end of ``lockswap bench``: the answer, not only a file.

The report (markdown + plots) is rendered beside the results file and its path printed, then the
short verdict table of the results helper's report API goes to stdout. ``--no-report`` skips both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import log, paths


def report_dir(results: Path) -> Path:
    return results.with_name(results.stem + "-report")


def show(results: Path) -> None:
    """Render the report of ``results`` and print the verdict table."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.warn("no report: matplotlib is missing (nox -s bench installs it; or pip install -e '.[report]')")
    else:
        from .. import report

        out_dir = report_dir(results)
        with log.step(f"report into {out_dir}"):
            md, pngs = report.render(report.load([results]), out_dir)
        log.info(f"report: {md} ({len(pngs)} plots)")
    from .. import verdict  # the results helper's report API

    try:
        table = verdict.verdict_table([results], tests_dir=paths.results_dir())
    except NotImplementedError as exc:  # a partial checkout: the results are safe, say why no table
        log.warn(f"no verdict table: {exc}")
        return
    print(table)


def failures_table(failures: list[dict[str, Any]]) -> str:
    """The failed cells, one line each (the full error and stderr tail are in the results file)."""
    row = "  {:<16} {:<12} {:>6} {:<9} {:>7} {:>6}  {:<10} {}"
    lines = [f"{len(failures)} failed cell(s) (recorded under \"failures\" in the results):",
             row.format("target", "workload", "n", "mode", "workers", "repeat", "kind", "error")]
    for f in failures:
        error = (f.get("error") or "").splitlines()[0][:80] if f.get("error") else ""
        lines.append(row.format(f["target"], f["workload"], f["size"], f["mode"], f["workers"],
                                f["repeat"] + 1, f["kind"], error))
    return "\n".join(lines)
