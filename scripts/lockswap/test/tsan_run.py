"""A test run under ThreadSanitizer: its options, its logs, and its verdict against baseline.

:func:`prepare` gives the run a fresh log folder beside its results (``results/<stem>.tsan/``) and a
suppressions file made of lockswap's own (``ci/tsan_suppressions.txt``) followed by CPython's (kept
inside the instrumented interpreter when it was built); every process of the run, subprocesses
included, writes its reports to ``tsan.<pid>`` there (``log_path``), never into pytest's captured
output. :func:`collect` parses them (:mod:`lockswap.tsan_report`) into the results JSON, and
:func:`new_races` is the verdict: a race baseline's run under the same sanitizer did not report
fails the variant like a new test failure; baseline's own races are listed, not hidden. A race in
NumPy's own code outside the dispatch cache that the NumPy version is known to have
(``numpy_extra/known_upstream.json``, "races") is listed as known upstream and never counts as new:
whether a baseline run hits such a race is a matter of timing.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..base import paths
from ..base.manifest import BASELINE
from ..interpreter import sanitizer
from . import tsan_report

LOG_NAME = "tsan"
KNOWN_UPSTREAM = paths.PACKAGE / "numpy_extra" / "known_upstream.json"
# halt_on_error=0: report and go on; exitcode=0: races never turn into a pytest crash (the verdict
# comes from the parsed reports); history_size=4: fewer "[failed to restore the stack]" second
# stacks, which would make signatures unstable; second_deadlock_stack=1: both stacks of a
# lock-order inversion.
OPTIONS = ("halt_on_error=0", "exitcode=0", "allocator_may_return_null=1", "history_size=4",
           "second_deadlock_stack=1")


def log_dir(results: Path, stem: str) -> Path:
    return results / f"{stem}.tsan"


def suppressions_text(interp_path: Path) -> str:
    """lockswap's suppressions, then CPython's own (from the interpreter's prefix), if it has them."""
    parts = [sanitizer.SUPPRESSIONS.read_text(encoding="utf-8")]
    for prefix in (interp_path.resolve().parents[1], interp_path.parents[1]):
        cpy = prefix / sanitizer.CPYTHON_SUPPRESSIONS
        if cpy.is_file():
            parts.append(f"\n# ---- CPython's own suppressions ({cpy}), as its TSan CI uses them ----\n"
                         + cpy.read_text(encoding="utf-8"))
            break
    return "".join(parts)


def prepare(results: Path, stem: str, interp_path: Path) -> dict[str, str]:
    """A fresh log folder for the run; the environment its processes need."""
    folder = log_dir(results, stem)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    supp = folder / "suppressions.txt"
    paths.atomic_write_text(supp, suppressions_text(interp_path))
    opts = [*OPTIONS, f"log_path={folder / LOG_NAME}", f"suppressions={supp}"]
    return {"TSAN_OPTIONS": ":".join(opts)}


def collect(results: Path, stem: str) -> dict[str, object]:
    """The parsed reports of a run, for the results JSON (``races`` keyed by signature id)."""
    folder = log_dir(results, stem)
    parsed = tsan_report.parse_files(sorted(folder.glob(f"{LOG_NAME}.*")))
    return {
        "sanitizer": sanitizer.THREAD,
        "log_dir": str(folder),
        "log_files": len(parsed.files),
        "reports": parsed.reports,
        "races": {rid: race.to_json() for rid, race in sorted(parsed.races.items())},
        "unparsed": [u.__dict__ for u in parsed.unparsed],
    }


def unparsed_message(tsan: dict[str, Any]) -> str:
    """"" when every log was understood, else why the run cannot count as clean (with the log)."""
    bad = tsan.get("unparsed") or []
    if not bad:
        return ""
    first = bad[0]
    return (f"ThreadSanitizer output could not be parsed ({first['why']}): see the raw log "
            f"{first['file']}" + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""))


@lru_cache(maxsize=1)
def _known_races() -> dict[str, list[dict[str, Any]]]:
    races: dict[str, list[dict[str, Any]]] = json.loads(KNOWN_UPSTREAM.read_text(encoding="utf-8")).get(
        "races", {})
    return races


def known_upstream(race: Mapping[str, Any], numpy_version: str) -> str:
    """``name: reason`` if ``race`` is a known race of this NumPy as released, else ""."""
    frames = {f for stack in race.get("stacks") or () for f in stack}
    for name, entries in _known_races().items():
        for e in entries:
            if fnmatch.fnmatch(numpy_version, e["numpy"]) and frames & set(e["frames"]):
                return f"{name}: {e['reason']}"
    return ""


def new_races(result_tsan: dict[str, Any], baseline_tsan: dict[str, Any], numpy_version: str) -> list[str]:
    """``race: <signature>`` for each race the variant's run reported and baseline's did not (known
    upstream races of ``numpy_version`` excepted)."""
    if not result_tsan:
        return []
    mine = {k: r for k, r in (result_tsan.get("races") or {}).items() if not known_upstream(r, numpy_version)}
    base = baseline_tsan.get("races") or {} if baseline_tsan else {}
    return [f"race: {s}" for s in tsan_report.new_races(mine, base)]


def summary_lines(rows: Sequence[tuple[Any, list[str]]]) -> list[str]:
    """Per variant: how many distinct races, and each signature (markdown list)."""
    out: list[str] = []
    for r, new in rows:
        tsan = getattr(r, "tsan", None) or {}
        if not tsan:
            continue
        races = tsan.get("races") or {}
        fresh = {n.removeprefix("race: ") for n in new}
        out.append(f"- {r.variant}: {len(races)} distinct ThreadSanitizer report(s) "
                   f"({tsan.get('reports', 0)} in all, logs {tsan.get('log_dir')})")
        for race in races.values():
            known = known_upstream(race, r.numpy_version)
            mark = ("NEW" if race["signature"] in fresh else
                    f"known upstream, {known.split(':')[0]}" if known else
                    "baseline" if r.variant == BASELINE else "also in baseline")
            where = "NumPy code" if race.get("in_numpy") else "outside NumPy"
            out.append(f"  - [{mark}] {race['signature']} (x{race['count']}, {where})")
    return ["", "ThreadSanitizer:", *out] if out else []
