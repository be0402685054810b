"""The final CI job's glue around ``nox -s report``: ``nox -s ci-merge -- collect|publish ...``.

``collect`` takes the downloaded ``results-<job id>`` artifacts of every matrix job and writes
their JSON files into one flat folder, named ``<job id>--<file>`` so that jobs never overwrite
each other; each JSON object gains a ``"ci"`` entry naming its job (variant, numpy, python, os) so
the report can tell a Windows run from a Linux one. Jobs that delivered nothing are listed in the
job summary. ``publish`` appends the markdown the report wrote to the job summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ci import entry
from ci.matrix import Cell
from lockswap import log, paths
from lockswap.errors import ConfigError

ARTIFACT_PREFIX = "results-"


def load_matrix(text: str) -> dict[str, Cell]:
    try:
        include = json.loads(text)["include"]
        return {str(c["id"]): Cell.from_json(c) for c in include}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a matrix from ci/matrix.py ({exc})", "pass the matrix job's output") from exc


def collect(cells: dict[str, Cell], artifacts: Path, out: Path) -> dict[str, list[Path]]:
    """Copy every JSON of every job's artifact into ``out``; return the files per job id."""
    found: dict[str, list[Path]] = {job: [] for job in cells}
    for folder in sorted(artifacts.glob(f"{ARTIFACT_PREFIX}*")):
        job = folder.name[len(ARTIFACT_PREFIX):]
        cell = cells.get(job)
        if cell is None:
            log.warn(f"{folder.name} belongs to no job of this matrix; left out")
            continue
        tag = {"job": job, "variant": cell.variant, "numpy": cell.numpy, "python": cell.python,
               "os": cell.os}
        for src in sorted(folder.rglob("*.json")):
            try:
                data = json.loads(src.read_text(encoding="utf-8"))
            except ValueError:
                log.warn(f"{src} is not JSON; left out")
                continue
            if isinstance(data, dict):
                data.setdefault("ci", tag)
            dest = out / f"{job}--{'--'.join(src.relative_to(folder).parts)}"
            paths.atomic_write_text(dest, json.dumps(data, indent=2) + "\n")
            found[job].append(dest)
    return found


def status_table(cells: dict[str, Cell], found: dict[str, list[Path]]) -> str:
    rows = [f"| {c.variant} | {c.numpy} | {c.python} | {c.os} | "
            f"{len(found[job])} | {'yes' if found[job] else '**missing**'} |" for job, c in cells.items()]
    missing = sum(1 for files in found.values() if not files)
    head = (f"## lockswap CI: {len(cells) - missing} of {len(cells)} jobs delivered results\n\n"
            "| variant | NumPy | Python | OS | JSON files | results |\n|---|---|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"


def publish(report_dir: Path) -> int:
    """Append the report's markdown to the job summary; plots go up as the report artifact."""
    docs = sorted(report_dir.rglob("*.md"))
    if not docs:
        raise ConfigError(f"no markdown report in {report_dir}", "run `nox -s report` first")
    for doc in docs:
        log.job_summary(doc.read_text(encoding="utf-8"))
        log.info(f"published {doc}")
    plots = sorted(p.name for p in report_dir.rglob("*.png"))
    if plots:
        log.job_summary(f"Plots ({', '.join(plots)}) are in this run's `report` artifact.")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s ci-merge --", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="flatten every job's results JSON into one folder")
    c.add_argument("--matrix", required=True, help="the matrix JSON (the matrix job's output)")
    c.add_argument("--artifacts", type=Path, required=True, help="folder with results-<job> folders")
    c.add_argument("--out", type=Path, required=True, help="folder for the merged JSON files")
    pub = sub.add_parser("publish", help="append the report's markdown to the job summary")
    pub.add_argument("report_dir", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "publish":
        return publish(args.report_dir)
    cells = load_matrix(args.matrix)
    found = collect(cells, args.artifacts, args.out)
    text = status_table(cells, found)
    log.info(text)
    log.job_summary(text)
    total = sum(len(f) for f in found.values())
    if not total:
        raise ConfigError(f"no results JSON under {args.artifacts}",
                          "every job failed before writing results; see their logs")
    log.info(f"{total} JSON files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(entry("ci-merge", main))
