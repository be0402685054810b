"""The final CI job's glue around ``nox -s report``: ``nox -s ci-merge -- collect|publish ...``.

``collect`` takes the downloaded ``results-<job id>`` artifacts of every matrix job and writes
their JSON files into one flat folder, named ``<job id>--<file>`` so that jobs never overwrite
each other; each JSON object gets a ``"ci"`` entry naming its job (job, variant, numpy, python,
os) so the report can group by OS: taken from the artifact's job (the matrix cell), never from the
file, which may declare its own. A file over ``jsonfile.MAX_BYTES`` is left out, one line naming
it. When a run has one artifact, download-artifact extracts it without its folder; the job is then
named by the ``ci-job.txt`` that ``ci-local`` wrote into it (it must be a job of the matrix).
Jobs that delivered nothing are listed in the job summary.

``publish`` puts the report's compact ``summary.md`` (verdicts and the headline scaling table) on
the run's summary page and points at the ``report`` artifact for the full report and plots.
GitHub drops a step's whole summary when it exceeds 1 MiB, so a summary over the cap is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ci import entry
from ci.job import JOB_MARKER
from ci.matrix import Cell
from lockswap.base import jsonfile, log, paths
from lockswap.base.errors import ConfigError
from lockswap.base.mdtext import escape as esc

ARTIFACT_PREFIX = "results-"
REPORT_ARTIFACT = "report"
SUMMARY_CAP = 1024 * 1024  # bytes GitHub accepts in one step's summary
SUMMARY_FILES = ("summary.md", "report.md")  # the compact summary; the full report as a fallback


def load_matrix(text: str) -> dict[str, Cell]:
    try:
        include = json.loads(text)["include"]
        return {str(c["id"]): Cell.from_json(c) for c in include}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a matrix from ci/matrix.py ({exc})", "pass the matrix job's output") from exc


def _artifact_folders(cells: dict[str, Cell], artifacts: Path) -> list[tuple[str, Path]]:
    """(job id, folder) of every downloaded artifact, including one extracted without its folder."""
    found = []
    for folder in sorted(artifacts.glob(f"{ARTIFACT_PREFIX}*")):
        if folder.is_dir():
            found.append((folder.name[len(ARTIFACT_PREFIX):], folder))
    loose = [p for p in artifacts.iterdir() if not p.name.startswith(ARTIFACT_PREFIX)] \
        if artifacts.is_dir() else []
    if loose:
        marker = artifacts / JOB_MARKER
        if marker.is_file():
            found.append((marker.read_text(encoding="utf-8").strip(), artifacts))
        elif len(cells) == 1:
            found.append((next(iter(cells)), artifacts))
        else:
            log.warn(f"{artifacts} holds files outside any {ARTIFACT_PREFIX}<job> folder and no "
                     f"{JOB_MARKER} naming their job; left out")
    return found


def collect(cells: dict[str, Cell], artifacts: Path, out: Path,
            skipped: list[str] | None = None) -> dict[str, list[Path]]:
    """Copy every JSON of every job's artifact into ``out``; return the files per job id.

    The ``ci`` tag comes from the artifact's job (its ``results-<job id>`` name, the matrix cell),
    replacing any ``ci`` entry the file declares itself. A file that is not JSON, or nests too deep,
    is copied as it is (the report skips it, naming it); one over ``jsonfile.MAX_BYTES`` is left out,
    one line in ``skipped`` (and the log) naming it."""
    found: dict[str, list[Path]] = {job: [] for job in cells}
    for job, folder in _artifact_folders(cells, artifacts):
        cell = cells.get(job)
        if cell is None:
            log.warn(f"{folder.name} ({job}) belongs to no job of this matrix; left out")
            continue
        tag = {"job": job, "variant": cell.variant, "numpy": cell.numpy, "python": cell.python,
               "os": cell.os}
        for src in sorted(folder.rglob("*.json")):
            rel = src.relative_to(folder)
            if folder == artifacts and rel.parts[0].startswith(ARTIFACT_PREFIX):
                continue  # another job's folder beside a loose artifact
            if not src.is_file():
                continue
            size = src.stat().st_size
            if size > jsonfile.MAX_BYTES:
                line = f"{src}: {size} bytes, over the {jsonfile.MAX_BYTES} a results file may have"
                log.warn(f"left out {line}")
                if skipped is not None:
                    skipped.append(line)
                continue
            try:
                data = jsonfile.read(src)
            except jsonfile.BadJson as exc:
                log.warn(f"{src}: {exc.reason}; copied as it is (the report will skip it)")
                data = None
            if isinstance(data, dict):
                data["ci"] = dict(tag)  # from the artifact's name, never from the file
            dest = out / f"{job}--{'--'.join(rel.parts)}"
            if data is None:
                out.mkdir(parents=True, exist_ok=True)
                paths.atomic_copy(src, dest)
            else:
                paths.atomic_write_text(dest, json.dumps(data, indent=2) + "\n")
            found[job].append(dest)
    return found


def status_table(cells: dict[str, Cell], found: dict[str, list[Path]]) -> str:
    rows = [f"| {esc(c.variant)} | {esc(c.numpy)} | {esc(c.python)} | {esc(c.os)} | "
            f"{len(found[job])} | {'yes' if found[job] else '**missing**'} |" for job, c in cells.items()]
    missing = sum(1 for files in found.values() if not files)
    head = (f"## lockswap CI: {len(cells) - missing} of {len(cells)} jobs delivered results\n\n"
            "| variant | NumPy | Python | OS | JSON files | results |\n|---|---|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"


def publish(report_dir: Path) -> int:
    """Put the report's compact summary on the run's page; the rest is the ``report`` artifact."""
    docs = [doc for name in SUMMARY_FILES for doc in sorted(report_dir.rglob(name))]
    if not docs:
        raise ConfigError(f"no {' or '.join(SUMMARY_FILES)} in {report_dir}", "run `nox -s report` first")
    doc = docs[0]
    files = sorted(str(p.relative_to(report_dir)) for p in report_dir.rglob("*") if p.is_file())
    pointer = (f"The full report and its plots ({len(files)} files: {', '.join(map(esc, files[:8]))}"
               f"{', ...' if len(files) > 8 else ''}) are in this run's `{REPORT_ARTIFACT}` artifact.")
    text = doc.read_text(encoding="utf-8")
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    used = Path(target).stat().st_size if target and Path(target).is_file() else 0
    size = len(text.encode("utf-8")) + len(pointer.encode("utf-8")) + 4
    if used + size > SUMMARY_CAP:
        log.job_summary(f"**{doc.name} ({size} bytes) is over GitHub's 1 MiB summary cap; not shown.** "
                        + pointer)
        raise ConfigError(f"{doc} is {size} bytes: with this step's summary ({used} bytes) that exceeds "
                          f"GitHub's cap of {SUMMARY_CAP} bytes, which would drop the whole summary",
                          f"read it in the {REPORT_ARTIFACT} artifact; the report's summary.md should "
                          "hold only the verdict and headline scaling tables")
    log.job_summary(text)
    log.job_summary(pointer)
    log.info(f"published {doc} ({size} bytes) to the job summary")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s ci-merge --", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="flatten every job's results JSON into one folder")
    c.add_argument("--matrix", required=True, help="the matrix JSON (the matrix job's output)")
    c.add_argument("--artifacts", type=Path, required=True, help="folder with results-<job> folders")
    c.add_argument("--out", type=Path, required=True, help="folder for the merged JSON files")
    pub = sub.add_parser("publish", help="put the report's compact summary.md on the run's summary page")
    pub.add_argument("report_dir", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "publish":
        return publish(args.report_dir)
    cells = load_matrix(args.matrix)
    skipped: list[str] = []
    found = collect(cells, args.artifacts, args.out, skipped)
    text = status_table(cells, found) + "".join(f"\n- left out {esc(line)}" for line in skipped)
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
