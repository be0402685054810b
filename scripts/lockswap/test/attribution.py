"""Which stress-case failures are NumPy's own and which are a variant's: one rule, four words.

Each stress case (``--suite stress``, ``numpy_extra/stress_cases.py``) of a variant's run gets one
word, from its own outcome and baseline's outcome of the same case:

- ``passes``: passes, and so does baseline;
- ``fixes upstream flaw``: passes where baseline fails;
- ``inherits upstream flaw``: fails as baseline does (not a new failure, always named);
- ``new failure``: fails where baseline passes.

Baseline's outcome comes from baseline's stress result of the same NumPy, Python and options when
there is one, else from the baseline records of ``numpy_extra/known_upstream.json``; a variant's
failure of a recorded case is inherited even when that baseline run passed (a recorded flaw can be
intermittent), so "fixes" needs a failing baseline and "new failure" an unrecorded case. Inside
the venv only the baseline build turns a recorded case into xfail; a variant reports every
failure, and this rule says whose it is. ``suite.newly_failing`` leaves out the inherited ones, so
the test verdict, the test-all table and the report agree.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from ..base.mdtext import escape as esc
from .tsan_run import KNOWN_UPSTREAM

PASSES = "passes"
FIXES = "fixes upstream flaw"
INHERITS = "inherits upstream flaw"
NEW = "new failure"
WORDS = (PASSES, FIXES, INHERITS, NEW)
# pytest outcomes of a case that count as failing (xfailed: baseline's recorded upstream flaw)
FAILED = ("failed", "error", "xfailed")
_NODE = re.compile(r"test_lockswap_stress_cases\.py::test_stress_case\[(?P<case>[^\]]+)\]$")


def case_of(nodeid: str) -> str | None:
    """The stress case a node id names, or None for any other test."""
    m = _NODE.search(nodeid)
    return m["case"] if m else None


def stress_outcomes(outcomes: Mapping[str, str]) -> dict[str, str]:
    """The stress cases of a run's per-test outcomes (node id -> pytest outcome): case -> outcome."""
    return {case: o for nodeid, o in sorted(outcomes.items()) if (case := case_of(nodeid))}


@lru_cache(maxsize=1)
def _records() -> dict[str, list[dict[str, str]]]:
    cases: dict[str, list[dict[str, str]]] = json.loads(KNOWN_UPSTREAM.read_text(encoding="utf-8"))["cases"]
    return cases


def recorded(numpy_version: str, python: str) -> dict[str, str]:
    """Stress cases that baseline NumPy ``numpy_version`` fails on ``python`` (``3.13t``), with reasons."""
    py = python.rstrip("t")
    return {case: e["reason"] for case, entries in sorted(_records().items()) for e in entries
            if fnmatch.fnmatch(numpy_version, e["numpy"]) and fnmatch.fnmatch(py, e.get("python", "*"))}


def baseline_fails(case: str, baseline: Mapping[str, str] | None, numpy_version: str, python: str) -> bool:
    """Baseline's outcome of ``case``: its own run's when it ran the case, else the records'."""
    if baseline is not None and baseline.get(case, "skipped") != "skipped":
        return baseline[case] in FAILED
    return case in recorded(numpy_version, python)


def baseline_can_fail(case: str, baseline: Mapping[str, str] | None, numpy_version: str,
                      python: str) -> bool:
    """Whether a failure of ``case`` is baseline's: its own run failed it, or the records say it
    fails. A recorded flaw can be intermittent (a fork or an import racing a thread), so a baseline
    run that passed by chance does not make a variant's failure of that case new."""
    return baseline_fails(case, baseline, numpy_version, python) or case in recorded(numpy_version, python)


def attribute(cases: Mapping[str, str], baseline: Mapping[str, str] | None, numpy_version: str,
              python: str) -> dict[str, str]:
    """The word of each case a variant ran (skipped cases have none)."""
    words = {}
    for case, outcome in sorted(cases.items()):
        if outcome == "skipped":
            continue
        if outcome in FAILED:
            words[case] = INHERITS if baseline_can_fail(case, baseline, numpy_version, python) else NEW
        else:
            words[case] = FIXES if baseline_fails(case, baseline, numpy_version, python) else PASSES
    return words


def inherited_tests(failing: Iterable[str], words: Mapping[str, str]) -> list[str]:
    """The failing node ids whose case inherits baseline's flaw (never new failures)."""
    return sorted(t for t in failing if words.get(case_of(t) or "") == INHERITS)


def summary(words: Mapping[str, str]) -> str:
    """``new failure: a; inherits upstream flaw: b, c; fixes upstream flaw: d`` ("" when all pass)."""
    parts = []
    for word in (NEW, INHERITS, FIXES):
        cases = [c for c, w in sorted(words.items()) if w == word]
        if cases:
            parts.append(f"{word}: {', '.join(cases)}")
    return "; ".join(parts)


UPSTREAM = "upstream flaw"  # baseline's own failure of a case (NumPy as released)


def baseline_words(cases: Mapping[str, str]) -> dict[str, str]:
    """Baseline's own column: ``passes`` or ``upstream flaw`` per case it ran."""
    return {c: UPSTREAM if o in FAILED else PASSES for c, o in sorted(cases.items()) if o != "skipped"}


def baseline_summary(cases: Mapping[str, str]) -> str:
    """Baseline's own verdict: ``upstream flaw: a, b`` for the cases it fails ("" when none)."""
    failing = [c for c, w in baseline_words(cases).items() if w == UPSTREAM]
    return f"{UPSTREAM}: {', '.join(failing)}" if failing else ""


def case_table(columns: Sequence[tuple[str, Mapping[str, str]]], markdown: bool = True) -> list[str]:
    """One row per stress case, one column of words per build (``label``; baseline's from
    :func:`baseline_words`). ``markdown``: names from results files made inert (the report); else
    as they are (the terminal's table). A new failure is bold."""
    def text(value: str) -> str:
        return esc(value) if markdown else value

    cases = sorted({c for _, words in columns for c in words})
    if not cases:
        return []
    head = ["case", *(text(label) for label, _ in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in cases:
        cells = [words.get(case, "-") for _, words in columns]
        cells = [f"**{w}**" if w == NEW else text(w) for w in cells]
        lines.append(f"| {text(case)} | " + " | ".join(cells) + " |")
    return lines
