"""Expand ``patches/manifest.toml`` into the GitHub Actions job matrix: ``nox -s matrix``.

One cell is one CI job: a variant x NumPy version x free-threaded Python x runner OS. Cells are
every variant (or the chosen ones) for each chosen NumPy version it has a patch for, every
``[ci] pythons`` entry that NumPy version supports, every ``[ci] os``, minus ``[ci] exclude``.
Without ``--numpy`` the versions are ``[ci] numpy`` (what a push runs). Nothing here lists a
variant, a version or a Python: the manifest does.

    python -m ci.matrix                       # table, with the command that reproduces each job
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

from ci import entry
from lockswap import manifest as manifest_mod
from lockswap.errors import ConfigError
from lockswap.manifest import Manifest

DEFAULT_SUITE = "quick"
DEFAULT_BENCH = True
MAX_JOBS = 256  # GitHub Actions' limit for one matrix
_SUITE = re.compile(r"^[a-z][a-z0-9-]*$")
_TRUE, _FALSE = {"1", "on", "true", "yes"}, {"0", "off", "false", "no"}


@dataclass(frozen=True)
class Cell:
    variant: str
    numpy: str
    python: str
    os: str
    suite: str
    bench: bool

    @property
    def id(self) -> str:
        """Unique per cell; names the job and its artifacts (``wheel-<id>``, ``results-<id>``)."""
        return f"{self.variant}-{self.numpy}-{self.python}-{self.os}"

    def ci_local_args(self) -> list[str]:
        """What the job passes to ``nox -s ci-local --``: reproduces it on any machine."""
        return ["--variant", self.variant, "--numpy", self.numpy, "--python", self.python,
                "--suite", self.suite, "--bench", self.bench_text]

    @property
    def bench_text(self) -> str:
        return "on" if self.bench else "off"

    @property
    def command(self) -> str:
        return f"nox -s ci-local -- {shlex.join(self.ci_local_args())}"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "variant": self.variant, "numpy": self.numpy, "python": self.python,
                "os": self.os, "suite": self.suite, "bench": self.bench_text, "command": self.command}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Cell:
        return cls(str(data["variant"]), str(data["numpy"]), str(data["python"]), str(data["os"]),
                   str(data["suite"]), parse_bool(str(data["bench"]), DEFAULT_BENCH))


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


def numpy_versions(m: Manifest, spec: str | None) -> list[str]:
    """Empty: ``[ci] numpy``; ``all``: every version of the manifest; else the listed ones."""
    wanted = split(spec)
    if not wanted:
        return list(m.ci.numpy)
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
    return wanted in (label, manifest_mod.os_family(label))


def excluded(m: Manifest, cell: Cell) -> bool:
    """Whether an ``[ci] exclude`` entry matches ``cell`` (all of the entry's keys must match)."""
    def matches(key: str, value: str) -> bool:
        return _os_matches(cell.os, value) if key == "os" else getattr(cell, key) == value

    return any(all(matches(k, v) for k, v in rule.items()) for rule in m.ci.exclude)


def expand(
    m: Manifest,
    *,
    numpy: str | None = None,
    variants: str | None = None,
    pythons: str | None = None,
    os: str | None = None,
    suite: str | None = None,
    bench: str | bool | None = None,
) -> list[Cell]:
    """The matrix for these filters (each empty or None means: everything the manifest allows)."""
    versions = numpy_versions(m, numpy)
    chosen = split(variants)
    names = [] if chosen in ([], ["all"]) else [m.variant(n).name for n in chosen]
    py_filter = _pick("Python", split(pythons), m.ci.pythons, m)
    os_filter = split(os)
    for wanted in os_filter:
        if not any(_os_matches(label, wanted) for label in m.ci.os):
            raise ConfigError(f"unknown OS {wanted}", f"choose from: {', '.join(m.ci.os)} (or a family)")
    suite = (suite or "").strip() or DEFAULT_SUITE
    if not _SUITE.match(suite):
        raise ConfigError(f"bad suite name {suite!r}", "e.g. quick, full, threads or parallel")
    run_bench = bench if isinstance(bench, bool) else parse_bool(bench, DEFAULT_BENCH)
    cells = [
        Cell(variant, version, python, label, suite, run_bench)
        for variant in (names or m.variants)
        for version in versions
        if version in m.versions_for(variant)
        for python in m.ci.pythons
        if python in m.numpy[version].pythons and (not py_filter or python in py_filter)
        for label in m.ci.os
        if not os_filter or any(_os_matches(label, w) for w in os_filter)
    ]
    cells = [c for c in cells if not excluded(m, c)]
    for name in names:
        if not any(c.variant == name for c in cells):
            raise ConfigError(
                f"variant {name!r} has no job for NumPy {', '.join(versions)} with these filters",
                f"it has patches for NumPy {', '.join(m.versions_for(name))}; pass one of those "
                "(or check [ci] exclude)",
            )
    if not cells:
        raise ConfigError("these filters leave no job", "run `nox -s matrix` without filters to see all")
    if len(cells) > MAX_JOBS:
        raise ConfigError(f"{len(cells)} jobs: GitHub allows {MAX_JOBS} per matrix",
                          "pick fewer NumPy versions or variants")
    return cells


def coverage_problems(m: Manifest, cells: Sequence[Cell]) -> list[str]:
    """What the manifest declares but ``cells`` leave out (or the reverse); empty when they agree."""
    problems = []
    for variant in m.variants:
        if not any(c.variant == variant for c in cells):
            problems.append(
                f"variant {variant!r} gets no CI job: it has patches for NumPy "
                f"{', '.join(m.versions_for(variant))}, a push runs [ci] numpy = {list(m.ci.numpy)}; "
                "add one of its versions there (or drop the exclusion that removes it)"
            )
    for kind, declared in (("python", m.ci.pythons), ("os", m.ci.os)):
        got = {getattr(c, kind) for c in cells}
        for value in declared:
            if value not in got:
                problems.append(f"[ci] {kind} {value!r} gets no CI job: add a NumPy version supporting "
                                "it to [ci] numpy, or remove it")
        problems += [f"{kind} {v!r} is in the matrix but not in [ci] {kind}" for v in got - set(declared)]
    problems += [f"variant {v!r} is in the matrix but not in the manifest"
                 for v in {c.variant for c in cells} - set(m.variants)]
    return problems


def to_github(cells: Sequence[Cell]) -> str:
    return json.dumps({"include": [c.to_json() for c in cells]}, separators=(",", ":"))


def table(cells: Sequence[Cell]) -> str:
    rows = [("job", "reproduce locally"), *((c.id, c.command) for c in cells)]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows) + f"\n{len(cells)} jobs"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s matrix --", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--numpy", help="NumPy version(s), comma-separated, or all (default: [ci] numpy)")
    p.add_argument("--variants", help="variants, comma-separated (default: every variant)")
    p.add_argument("--pythons", help="free-threaded Pythons, e.g. 3.13t (default: [ci] pythons)")
    p.add_argument("--os", help="runner labels or families, e.g. windows (default: [ci] os)")
    p.add_argument("--suite", help=f"NumPy test suite each job runs (default: {DEFAULT_SUITE})")
    p.add_argument("--bench", help="on/off: run the scaling benchmark in each job (default: on)")
    p.add_argument("--json", action="store_true", help="print the GitHub matrix JSON")
    p.add_argument("--github-output", type=Path, metavar="FILE",
                   help="append matrix=<json> to FILE (a step's $GITHUB_OUTPUT)")
    p.add_argument("--check", action="store_true",
                   help="fail unless every variant, Python and OS of the manifest gets a job")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    m = manifest_mod.default()
    cells = expand(m, numpy=args.numpy, variants=args.variants, pythons=args.pythons, os=args.os,
                   suite=args.suite, bench=args.bench)
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as fh:
            fh.write(f"matrix={to_github(cells)}\n")
    print(to_github(cells) if args.json else table(cells))
    problems = coverage_problems(m, cells) if args.check else []
    for problem in problems:
        print(f"coverage: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(entry("matrix", main))
