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


def main(argv: list[str]) -> int:
    argv = list(argv)
    if len(argv) > 2 and argv[1] == "table":
        print(after_before_table([Path(f) for f in argv[2:]]), end="")
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
