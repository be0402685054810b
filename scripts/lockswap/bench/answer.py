"""The end of ``lockswap bench``: the answer, not only a file.

The report (markdown + plots) is rendered beside the results file and its path printed, then the
short verdict table of the results helper's report API goes to stdout. ``--no-report`` skips both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import log

SHOWN = 12  # failed cells listed on the terminal (all of them are in the results and the report)


def report_dir(results: Path) -> Path:
    return results.with_name(results.stem + "-report")


def show(results: Path) -> None:
    """Render the report of ``results`` (path printed) and print the verdict table."""
    from .. import report, verdict  # the results helper's report API (CONTRACT.md)

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.warn("no report: matplotlib is missing (nox -s bench installs it; or pip install -e '.[report]')")
    else:
        md = report.write_report([results], report_dir(results))
        log.info(f"report: {md}")
    try:
        table = verdict.verdict_table([results], tests_dir=results.parent)
    except NotImplementedError as exc:  # a partial checkout: the results are safe, say why no table
        log.warn(f"no verdict table: {exc}")
        return
    print(table)


def failures_table(failures: list[dict[str, Any]]) -> str:
    """The failed cells, one line each (the full error and stderr tail are in the results file)."""
    row = "  {:<16} {:<12} {:>6} {:<9} {:>7} {:>6}  {:<10} {}"
    lines = [f"{len(failures)} failed cell(s) (recorded under \"failures\" in the results):",
             row.format("target", "workload", "n", "mode", "workers", "repeat", "kind", "error")]
    for f in failures[:SHOWN]:
        error = (f.get("error") or "").splitlines()[0][:80] if f.get("error") else ""
        lines.append(row.format(f["target"], f["workload"], f["size"], f["mode"], f["workers"],
                                f["repeat"] + 1, f["kind"], error))
    if len(failures) > SHOWN:
        lines.append(f"  ... and {len(failures) - SHOWN} more")
    return "\n".join(lines)
