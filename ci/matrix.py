"""Expand ``patches/manifest.toml`` into the GitHub Actions job matrix: ``nox -s matrix``.

One cell is one CI job: a variant x NumPy version x free-threaded Python x runner OS. Nothing here
lists a variant, a version or a Python: the manifest does. What a run gets depends on its event:

- ``push`` / ``pull_request`` (the default): a Linux smoke run that answers "does every patch still
  build and pass": every patched variant x each ``[ci] numpy`` version it has a patch for x the
  ``[ci] pythons`` that NumPy supports upstream, on the Linux label of ``[ci] os``; quick suite,
  ``bench --quick``; at most ``MAX_PUSH_JOBS`` jobs.
- ``schedule`` / ``workflow_dispatch``: every patched variant x every NumPy version it has a patch
  for (or those asked) x upstream-supported Pythons x every ``[ci] os``; ``--unsupported`` adds the
  Pythons lockswap builds but NumPy does not support (2.5 on 3.13t).

Baseline gets no job of its own unless asked for by name: every job builds, tests and benchmarks
baseline next to its variant. ``[ci] exclude`` removes cells; retired runner labels are refused.

    python -m ci.matrix                       # table, with the command that reproduces each job
    python -m ci.matrix --event schedule      # what the weekly run gets
    python -m ci.matrix --json                # {"include": [cell, ...]}
    python -m ci.matrix --github-output FILE  # matrix=<json> for a job's outputs
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci import entry, runners
from lockswap.base import manifest as manifest_mod
from lockswap.base.errors import ConfigError
from lockswap.base.manifest import BASELINE, Manifest

DEFAULT_SUITE = "quick"
DEFAULT_BENCH = "on"  # what ci-local runs without --bench; a push uses "quick"
BENCH_MODES = ("on", "quick", "off")  # the full plan, `bench --quick`, no benchmark
MAX_JOBS = 256  # GitHub Actions' limit for one matrix
MAX_PUSH_JOBS = 12  # the smoke run must finish in well under 30 minutes on a free plan
SMOKE_EVENTS = ("push", "pull_request")
FULL_EVENTS = ("schedule", "workflow_dispatch")
LINUX = "linux"
_SUITE = re.compile(r"^[a-z][a-z0-9-]*$")
_TRUE, _FALSE = {"1", "on", "true", "yes"}, {"0", "off", "false", "no"}
# Rough runner-minutes of one job on a 4-vCPU runner, cold ccache (a warm one saves most of the
# build): setup, two NumPy builds (baseline and the variant), the suite twice, the benchmark.
_SETUP_MIN, _BUILDS_MIN = 3, 9
_SUITE_MIN = {"quick": 2, "threads": 4, "parallel": 4, "full": 20}
_BENCH_MIN = {"on": 15, "quick": 2, "off": 0}


@dataclass(frozen=True)
class Cell:
    variant: str
    numpy: str
    python: str
    os: str
    suite: str
    bench: str  # one of BENCH_MODES
    workers: str = ""  # bench worker counts, e.g. "1,2,4" (empty: bench's default)

    @property
    def id(self) -> str:
        """Unique per cell; names the job and its artifacts (``wheel-<id>``, ``results-<id>``)."""
        return f"{self.variant}-{self.numpy}-{self.python}-{self.os}"

    def ci_local_args(self) -> list[str]:
        """What the job passes to ``nox -s ci-local --``: reproduces it on any machine."""
        args = ["--variant", self.variant, "--numpy", self.numpy, "--python", self.python,
                "--suite", self.suite, "--bench", self.bench]
        return [*args, "--workers", self.workers] if self.workers and self.bench != "off" else args

    @property
    def command(self) -> str:
        return f"nox -s ci-local -- {shlex.join(self.ci_local_args())}"

    @property
    def minutes(self) -> int:
        """Rough runner-minutes of this job (cold ccache), for the matrix's cost line."""
        return _SETUP_MIN + _BUILDS_MIN + 2 * _SUITE_MIN.get(self.suite, 5) + _BENCH_MIN[self.bench]

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "variant": self.variant, "numpy": self.numpy, "python": self.python,
                "os": self.os, "suite": self.suite, "bench": self.bench, "workers": self.workers,
                "command": self.command}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Cell:
        return cls(str(data["variant"]), str(data["numpy"]), str(data["python"]), str(data["os"]),
                   str(data["suite"]), parse_bench(str(data["bench"]), DEFAULT_BENCH),
                   str(data.get("workers", "")))


def split(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (workflow inputs are comma or space separated)."""
    return [part for part in re.split(r"[,\s]+", text or "") if part]


def parse_bool(text: str | None, default: bool) -> bool:
    value = (text or "").strip().lower()
    if not value:
        return default
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ConfigError(f"not a yes/no value: {text!r}", "write on or off (true/false also work)")


def parse_bench(text: str | None, default: str) -> str:
    """``on``, ``quick`` or ``off`` (yes/no spellings of on and off work too)."""
    value = (text or "").strip().lower()
    if value == "quick":
        return value
    return ("on" if parse_bool(value, True) else "off") if value else default


def numpy_versions(m: Manifest, spec: str | None, smoke: bool = True) -> list[str]:
    """Empty: ``[ci] numpy`` (smoke) or every version; ``all``: every version; else the listed ones."""
    wanted = split(spec)
    if not wanted:
        return list(m.ci.numpy) if smoke else list(m.numpy)
    if wanted == ["all"]:
        return list(m.numpy)
    unknown = [v for v in wanted if v not in m.numpy]
    if unknown:
        raise ConfigError(f"NumPy {', '.join(unknown)} is not in {m.path}",
                          f"choose from: {', '.join(m.numpy)} (or all)")
    return wanted


def _pick(kind: str, wanted: Iterable[str], known: Sequence[str], m: Manifest) -> list[str]:
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ConfigError(f"unknown {kind} {', '.join(unknown)}",
                          f"choose from: {', '.join(known)} (the [ci] table of {m.path})")
    return list(wanted)


def _os_matches(label: str, wanted: str) -> bool:
    return wanted in (label, manifest_mod.os_family(label), label.split("-")[0])  # ubuntu-24.04: ubuntu


def excluded(m: Manifest, cell: Cell) -> bool:
    """Whether an ``[ci] exclude`` entry matches ``cell`` (all of the entry's keys must match)."""
    def matches(key: str, value: str) -> bool:
        return _os_matches(cell.os, value) if key == "os" else getattr(cell, key) == value

    return any(all(matches(k, v) for k, v in rule.items()) for rule in m.ci.exclude)


def is_smoke(event: str | None) -> bool:
    event = (event or "").strip() or SMOKE_EVENTS[0]
    if event not in SMOKE_EVENTS + FULL_EVENTS:
        raise ConfigError(f"unknown event {event!r}", f"choose from: {', '.join(SMOKE_EVENTS + FULL_EVENTS)}")
    return event in SMOKE_EVENTS


def _cap(cells: list[Cell], limit: int) -> list[Cell]:
    """At most ``limit`` cells, keeping each variant's first one (default NumPy first)."""
    if len(cells) <= limit:
        return cells
    first = {c.variant: c for c in reversed(cells)}
    keep = set(first.values())
    keep |= set([c for c in cells if c not in keep][: max(0, limit - len(keep))])
    return [c for c in cells if c in keep]


def expand(
    m: Manifest,
    *,
    event: str | None = None,
    numpy: str | None = None,
    variants: str | None = None,
    pythons: str | None = None,
    os: str | None = None,
    suite: str | None = None,
    bench: str | bool | None = None,
    unsupported: str | bool | None = None,
) -> list[Cell]:
    """The matrix of ``event`` for these filters (each empty or None: what the event runs by default)."""
    smoke = is_smoke(event)
    for label in m.ci.os:
        runners.check(label)
    versions = numpy_versions(m, numpy, smoke)
    chosen = split(variants)
    names = [] if chosen in ([], ["all"]) else [m.variant(n).name for n in chosen]
    py_filter = _pick("Python", split(pythons), m.ci.pythons, m)
    os_filter = split(os) or ([LINUX] if smoke else [])
    for wanted in os_filter:
        if not any(_os_matches(label, wanted) for label in m.ci.os):
            raise ConfigError(f"unknown OS {wanted}", f"choose from: {', '.join(m.ci.os)} (or a family)")
    suite = (suite or "").strip() or DEFAULT_SUITE
    if not _SUITE.match(suite):
        raise ConfigError(f"bad suite name {suite!r}", "e.g. quick, full, threads or parallel")
    if isinstance(bench, bool):
        bench = "on" if bench else "off"
    run_bench = parse_bench(bench, "quick" if smoke else DEFAULT_BENCH)
    every_python = unsupported if isinstance(unsupported, bool) else parse_bool(unsupported, False)

    def pythons_of(version: str) -> list[str]:
        np = m.numpy[version]
        return [p for p in m.ci.pythons if p in np.pythons and (every_python or p in np.upstream_pythons)
                and (not py_filter or p in py_filter)]

    cells = [
        Cell(variant, version, python, label, suite, run_bench,
             runners.bench_workers(label) if run_bench != "off" else "")
        for variant in (names or [v for v in m.variants if v != BASELINE])
        for version in versions
        if version in m.versions_for(variant)
        for python in pythons_of(version)
        for label in m.ci.os
        if any(_os_matches(label, w) for w in os_filter) or not os_filter
    ]
    cells = [c for c in cells if not excluded(m, c)]
    if smoke and not names:
        order = list(m.variants)
        cells = _cap(sorted(cells, key=lambda c: (versions.index(c.numpy), order.index(c.variant))),
                     MAX_PUSH_JOBS)
    for name in names:
        if not any(c.variant == name for c in cells):
            raise ConfigError(
                f"variant {name!r} has no job for NumPy {', '.join(versions)} with these filters",
                f"it has patches for NumPy {', '.join(m.versions_for(name))}; pass one of those "
                "(or check [ci] exclude, or pass --unsupported)",
            )
    if not cells:
        raise ConfigError("these filters leave no job", "run `nox -s matrix` without filters to see all")
    if len(cells) > MAX_JOBS:
        raise ConfigError(f"{len(cells)} jobs: GitHub allows {MAX_JOBS} per matrix",
                          "pick fewer NumPy versions or variants")
    return cells


def coverage_problems(m: Manifest, cells: Sequence[Cell], *, every_os: bool = False) -> list[str]:
    """What the manifest declares but ``cells`` leave out (or the reverse); empty when they agree."""
    problems = []
    for variant in m.variants:
        if variant != BASELINE and not any(c.variant == variant for c in cells):
            problems.append(
                f"variant {variant!r} gets no CI job: it has patches for NumPy "
                f"{', '.join(m.versions_for(variant))}, a push runs [ci] numpy = {list(m.ci.numpy)}; "
                "add one of its versions there (or drop the exclusion that removes it)"
            )
    for kind, declared in (("python", m.ci.pythons), ("os", m.ci.os if every_os else ())):
        got = {getattr(c, kind) for c in cells}
        for value in declared:
            if value not in got:
                problems.append(f"[ci] {kind} {value!r} gets no CI job: add a NumPy version supporting "
                                "it to [ci] numpy, or remove it")
    for kind, declared in (("python", m.ci.pythons), ("os", m.ci.os)):
        got = {getattr(c, kind) for c in cells}
        problems += [f"{kind} {v!r} is in the matrix but not in [ci] {kind}" for v in got - set(declared)]
    problems += [f"variant {v!r} is in the matrix but not in the manifest"
                 for v in {c.variant for c in cells} - set(m.variants)]
    return problems


def to_github(cells: Sequence[Cell]) -> str:
    return json.dumps({"include": [c.to_json() for c in cells]}, separators=(",", ":"))


def table(cells: Sequence[Cell]) -> str:
    rows = [("job", "reproduce locally"), *((c.id, c.command) for c in cells)]
    width = max(len(r[0]) for r in rows)
    minutes = sum(c.minutes for c in cells)
    return ("\n".join(f"{a:<{width}}  {b}" for a, b in rows)
            + f"\n{len(cells)} jobs, about {minutes} runner-minutes (rough, cold ccache)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s matrix --", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--event", help="GitHub event: push or pull_request (the smoke run, default), "
                   "schedule or workflow_dispatch (the full matrix)")
    p.add_argument("--numpy", help="NumPy version(s), comma-separated, or all "
                   "(default: [ci] numpy on push, every version otherwise)")
    p.add_argument("--variants", help="variants, comma-separated (default: every variant)")
    p.add_argument("--pythons", help="free-threaded Pythons, e.g. 3.13t (default: [ci] pythons)")
    p.add_argument("--os", help="runner labels or families, e.g. windows (default: [ci] os)")
    p.add_argument("--suite", help=f"NumPy test suite each job runs (default: {DEFAULT_SUITE})")
    p.add_argument("--bench", help="on, quick or off: the scaling benchmark in each job "
                   "(default: quick on push, on otherwise)")
    p.add_argument("--unsupported", help="on/off: also Pythons lockswap builds but NumPy does not "
                   "support upstream, e.g. NumPy 2.5 on 3.13t (default: off)")
    p.add_argument("--json", action="store_true", help="print the GitHub matrix JSON")
    p.add_argument("--github-output", type=Path, metavar="FILE",
                   help="append matrix=<json> to FILE (a step's $GITHUB_OUTPUT)")
    p.add_argument("--check", action="store_true",
                   help="fail unless every variant and Python (and OS, off push) of the manifest gets a job")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    m = manifest_mod.default()
    cells = expand(m, event=args.event, numpy=args.numpy, variants=args.variants, pythons=args.pythons,
                   os=args.os, suite=args.suite, bench=args.bench, unsupported=args.unsupported)
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as fh:
            fh.write(f"matrix={to_github(cells)}\n")
    print(to_github(cells) if args.json else table(cells))
    problems = coverage_problems(m, cells, every_os=not is_smoke(args.event)) if args.check else []
    for problem in problems:
        print(f"coverage: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(entry("matrix", main))
