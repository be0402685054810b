#!/usr/bin/env python3
"""A manifest that puts an older revision's patches next to the current ones, for a before/after bench.

    python3 tools/before_after.py REF OUT_DIR [VARIANT ...] [--repo DIR]

For every patched VARIANT (default: every variant of the manifest) and NumPy version whose patch differs
between git REF and the working tree, writes REF's patch as variant ``<variant>before`` into OUT_DIR,
and OUT_DIR/manifest.toml = the current manifest (absolute patch paths) plus those variants. Then:

    LOCKSWAP_MANIFEST=OUT_DIR/manifest.toml nox -s bench -- --numpy 2.1.3 \\
        --variants baseline,rwlock,rwlockbefore,... --workloads add,scalar

measures before and after in one interleaved run. Prints the variants it added, per NumPy version.

    python3 tools/before_after.py table results/bench-*.json

prints the after/before table of such runs: for every ``<variant>before`` measured next to
``<variant>``, per workload and size, single-thread ns/call and t1/tN after / before (ratio of
medians over processes, bootstrap 95% CI, Mann-Whitney p Holm-adjusted across the table).

    python3 tools/before_after.py instructions results/bench-*.json [--workloads add,scalar]

counts, with valgrind's cachegrind, the instructions one call of each single-thread workload executes
on every build of those runs, against its ``<variant>before`` (when the runs have one) and its NumPy's
``baseline`` (the runs' own venvs, the bench worker's own loop): (instructions of N2 iterations - of N1) /
(N2 - N1) / calls per iteration, with PYTHONHASHSEED=0. The count repeats to within a few hundred
instructions per process, so it resolves a per-call change far below what wall time resolves on a
noisy VM; it is not time (an atomic read-modify-write, a cache miss and an add each count as one
instruction).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def after_before_table(files: list[Path]) -> str:
    """Markdown: each variant after vs before (its ``<variant>before`` of the same NumPy), per cell."""
    sys.path.insert(0, str(REPO / "scripts"))
    from dataclasses import replace

    from lockswap.base import stats
    from lockswap.report import cells, results, scaling

    p = cells.pool(results.read(files).runs)
    family = stats.Family()
    rows = []
    for key in sorted(p.processes, key=lambda k: (k.run, k.numpy, k.variant, k.workload, k.size,
                                                  k.mode, k.workers)):
        before = replace(key, variant=f"{key.variant}before")
        if key.workers == 1 or before not in p.processes:
            continue
        ns = (scaling.ns_per_call(p, key), scaling.ns_per_call(p, before))
        eff = (scaling.efficiencies(p, key), scaling.efficiencies(p, before))
        i_ns = family.compare(*ns, key=(key, "ns"), group=key.run, headline=True)
        i_eff = family.compare(*eff, key=(key, "eff"), group=key.run, headline=True)
        rows.append((key, ns, i_ns, eff, i_eff))
    family.adjust()

    def cell(values: tuple[list[float], list[float]], index: int, digits: int) -> str:
        r = family.ratios[index]
        mark = "**" if family.significant(index) else ""
        return (f"{stats.median(values[1]):.{digits}f} -> {stats.median(values[0]):.{digits}f} | "
                f"{mark}{r.ratio:.3f} [{r.low:.3f}, {r.high:.3f}]{mark} "
                f"{stats.format_p(family.p_adjusted(index))}")

    machines = sorted({key.run for key, *_ in rows})
    where = (lambda key: f"{key.run} | ") if len(machines) > 1 else (lambda key: "")
    out = [f"| {'machine | ' if len(machines) > 1 else ''}NumPy | variant | workload | N | processes | "
           "1 thread ns/call before -> after | after / before [CI] p (Holm) | t1/tN before -> after | "
           "after / before [CI] p (Holm) |",
           "|---" * (9 + (len(machines) > 1)) + "|"]
    for key, ns, i_ns, eff, i_eff in rows:
        out.append(f"| {where(key)}{key.numpy} | {key.variant} | {key.workload} n={key.size} {key.mode} | "
                   f"{key.workers} | {len(eff[0])}/{len(eff[1])} | {cell(ns, i_ns, 0)} | "
                   f"{cell(eff, i_eff, 3)} |")
    return "\n".join(out) + (f"\n\nHolm across the {len(family.ratios)} comparisons of this table, each run "
                             "its own family (CIs Bonferroni-adjusted to it); bold: adjusted p < 0.05.\n")


_IR = re.compile(r"^==\d+== I\s+refs:\s+([\d,]+)", re.M)
N1, N2 = 2_000, 12_000

# Runs in the build's venv: the bench worker's compiled loop, ``iterations`` times, no timing.
_PROGRAM = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec); spec.loader.exec_module(w)
run = w.build_run(sys.argv[2], sys.argv[3])
run(int(sys.argv[4]), 0, int(sys.argv[5]), 100, lambda: None)
"""


def instructions(valgrind_out: str) -> int:
    """The ``I refs`` total of cachegrind's summary."""
    m = _IR.search(valgrind_out)
    if m is None:
        raise ValueError("no 'I refs' line in valgrind's output: is valgrind installed (apt: valgrind)?")
    return int(m.group(1).replace(",", ""))


def per_call(total1: int, total2: int, calls_per_iteration: int) -> float:
    return (total2 - total1) / (N2 - N1) / calls_per_iteration


def instructions_input_problem(files: list[Path], workloads: list[str]) -> str:
    """One sentence on what to fix before anything runs, or "" when the input is usable."""
    import shutil

    sys.path.insert(0, str(REPO / "scripts"))
    from lockswap.bench import workloads as registry

    unknown = [w for w in workloads if w not in registry.REGISTRY]
    if not workloads or unknown:
        return (f"unknown workload(s) {', '.join(unknown) or '(none given)'}: use --workloads with names "
                f"from {', '.join(registry.REGISTRY)}")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        return f"no such results file: {', '.join(missing)} (give the bench run's results/bench-*.json)"
    if shutil.which("valgrind") is None:
        return "valgrind is not installed: install it (Debian/Ubuntu: apt-get install valgrind), then rerun"
    return ""


def instructions_table(files: list[Path], workloads: list[str]) -> str:
    """Markdown: instructions per call of every build of the runs in ``files``: each ``<v>`` against its
    ``<v>before`` (when the runs have one) and against the same NumPy's ``baseline``."""
    import json
    import os

    sys.path.insert(0, str(REPO / "scripts"))
    from lockswap.bench import workloads as registry

    worker = REPO / "scripts" / "lockswap" / "bench" / "worker.py"
    builds: dict[tuple[str, str], Path] = {}  # (numpy, variant) -> the venv's python
    for f in files:
        for v in json.loads(Path(f).read_text())["variants"].values():
            site = Path(v["worker"]["numpy_file"]).parents[1]  # .../lib/python3.Xt/site-packages
            builds[(v["numpy_version"], v["variant"])] = site.parents[2] / "bin" / "python"
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def count(python: Path, name: str) -> float:
        w = registry.REGISTRY[name]
        n = w.fixed_size or 1
        totals = []
        for iterations in (N1, N2):
            out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                                  "--cachegrind-out-file=/dev/null", str(python), "-c", _PROGRAM,
                                  str(worker), w.setup, w.kernel, str(n), str(iterations)],
                                 capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"{python} under valgrind failed: {out.stderr.strip()[-400:]}")
            totals.append(instructions(out.stderr))
        return per_call(totals[0], totals[1], w.calls_per_iteration)

    out = ["| NumPy | variant | workload | instructions per call, before -> after | after / before | "
           "after / baseline |", "|---|---|---|---|---|---|"]
    counted: dict[tuple[str, str, str], float] = {}

    def once(numpy: str, variant: str, name: str) -> float:
        if (numpy, variant, name) not in counted:
            counted[(numpy, variant, name)] = count(builds[(numpy, variant)], name)
        return counted[(numpy, variant, name)]

    for numpy, variant in sorted(builds):
        if variant == "baseline" or (variant.endswith("before") and (numpy, variant[:-6]) in builds):
            continue
        for name in workloads:
            a = once(numpy, variant, name)
            if (numpy, f"{variant}before") in builds:
                b = once(numpy, f"{variant}before", name)
                change = f"{b:,.0f} -> {a:,.0f} | {a / b:.4f}"
            else:
                change = f"{a:,.0f} | -"
            vs = f"{a / once(numpy, 'baseline', name):.4f}" if (numpy, "baseline") in builds else "-"
            out.append(f"| {numpy} | {variant} | {name} | {change} | {vs} |")
    return "\n".join(out) + (f"\n\ncachegrind, single thread, ({N2:,} - {N1:,}) iterations of the bench "
                             "worker's loop, PYTHONHASHSEED=0; instructions, not time.\n")


def main(argv: list[str]) -> int:
    argv = list(argv)
    if len(argv) > 2 and argv[1] == "table":
        print(after_before_table([Path(f) for f in argv[2:]]), end="")
        return 0
    if len(argv) > 2 and argv[1] == "instructions":
        names = ["add", "scalar"]
        if "--workloads" in argv:
            at = argv.index("--workloads")
            names = argv[at + 1].split(",") if at + 1 < len(argv) else []
            del argv[at:at + 2]
        problem = instructions_input_problem([Path(f) for f in argv[2:]], names)
        if problem:
            print(f"before_after.py instructions: {problem}", file=sys.stderr)
            return 2
        print(instructions_table([Path(f) for f in argv[2:]], names), end="")
        return 0
    repo = REPO  # --repo: another checkout of lockswap (the tests use a scratch repository)
    if "--repo" in argv:
        at = argv.index("--repo")
        repo = Path(argv[at + 1]).resolve()
        del argv[at:at + 2]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ref, out = argv[1], Path(argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = (repo / "patches" / "manifest.toml").read_text()
    variants = tomllib.loads(manifest)["variants"]
    wanted = argv[3:] or list(variants)  # default: every variant whose patch changed since REF
    extra: list[str] = []
    added: dict[str, list[str]] = {}
    for name in wanted:
        patches = {}
        for version, rel in variants[name].get("patches", {}).items():
            old = subprocess.run(["git", "-C", str(repo), "show", f"{ref}:patches/{rel}"],
                                 capture_output=True, text=True, check=False)
            if old.returncode != 0 or old.stdout == (repo / "patches" / rel).read_text():
                continue
            path = out / f"{name}before-{version}.patch"
            path.write_text(re.sub(r"(?m)^Variant: .*$", f"Variant: {name}before", old.stdout, count=1))
            patches[version] = str(path)
            added.setdefault(version, []).append(f"{name},{name}before")
        if patches:
            table = ", ".join(f'"{v}" = "{p}"' for v, p in patches.items())
            extra.append(f'[variants.{name}before]\ndescription = "{name} as of {ref}"\n'
                         f'origin = "lockswap"\npatches = {{ {table} }}\n')
    text = re.sub(r'"(\d[^"]*/[^"]+\.patch)"', lambda m: f'"{repo / "patches" / m.group(1)}"', manifest)
    (out / "manifest.toml").write_text(text.replace("\n[ci]", "\n" + "\n".join(extra) + "\n[ci]", 1))
    for version, pairs in sorted(added.items()):
        print(f"NumPy {version}: --variants baseline,{','.join(pairs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
