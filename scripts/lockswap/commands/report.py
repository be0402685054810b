"""``lockswap report``: markdown, a compact summary and PNG plots from bench results, test verdicts and
contention results (several machines, runs and CI jobs merge)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base import log, paths
from ..contention import render as contention
from ..report import render, scaling

NAME = "report"
HELP = "markdown report and PNG plots from benchmark results JSON"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path,
                   help="bench results and test verdict JSON files (several machines/runs/CI jobs merge)")
    p.add_argument("--reference", metavar="VARIANT@NUMPY",
                   help="also compare every build's t1/tN and ns/call with this one, e.g. baseline@2.2.6")
    p.add_argument("--pool-runs", action="store_true",
                   help="pool the runs of each machine into one group (not interleaved with each other: "
                        "every comparison is then exploratory and nothing is called significant)")
    p.add_argument("--output-dir", type=Path,
                   help="where report.md, summary.md and the PNGs go (default: results/report)")


def run(args: argparse.Namespace) -> int:
    reference = scaling.parse_reference(args.reference)
    out_dir = args.output_dir or paths.results_dir() / "report"
    found = [f for f in args.files if contention.is_contention(f)]  # their own section at the end
    rest = [f for f in args.files if f not in found]
    if rest or not found:
        report = render.write_report(rest, out_dir, reference, pooled=args.pool_runs)
    else:
        report = out_dir / "report.md"
        out_dir.mkdir(parents=True, exist_ok=True)
        paths.atomic_write_text(report, "# lockswap report\n\n")
    if found:
        md, pngs = contention.report_section(found, out_dir)
        paths.atomic_write_text(report, report.read_text(encoding="utf-8") + "\n" + "\n".join(md) + "\n")
        log.info(f"contention: {len(found)} file(s), {len(pngs)} charts")
    print(report)  # CI: `ci-merge publish` puts summary.md (not this report) on the step summary
    return 0
