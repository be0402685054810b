#!/usr/bin/env python3
"""A manifest that puts an older revision's patches next to the current ones, for a before/after bench.

    python3 scripts/lockswap/numpy_extra/before_after.py REF OUT_DIR [VARIANT ...] [--repo DIR]

For every patched VARIANT (default: every variant of the manifest) and NumPy version whose patch differs
between git REF and the working tree, writes REF's patch as variant ``<variant>before`` into OUT_DIR,
and OUT_DIR/manifest.toml = the current manifest (absolute patch paths) plus those variants. Then:

    LOCKSWAP_MANIFEST=OUT_DIR/manifest.toml nox -s bench -- --numpy 2.1.3 \\
        --variants baseline,rwlock,rwlockbefore,... --workloads add,scalar

measures before and after in one interleaved run. Prints the variants it added, per NumPy version.
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

REPO = Path(__file__).resolve().parents[3]


def main(argv: list[str]) -> int:
    argv = list(argv)
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
