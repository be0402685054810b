"""``lockswap crosscheck``: compile every patch's C/C++ sources for Windows and macOS (zig cc)."""

from __future__ import annotations

import argparse

from ..base import errors, manifest
from ..base.errors import ConfigError
from ..build import crosscheck
from ..build.pipeline import Request
from ..patch import apply as patching
from ..source import fetch as source
from . import options

NAME = "crosscheck"
HELP = "compile the sources each patch touches for the Windows and macOS targets (zig cc), baseline first"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variants", default="", help="comma-separated variants (default: every patched one)")
    p.add_argument("--numpy", default="", help="comma-separated manifest NumPy versions (default: all)")
    p.add_argument("--targets", default=",".join(crosscheck.DEFAULT_TARGETS),
                   help=f"comma-separated targets of {', '.join(crosscheck.TARGETS)} "
                        f"(default: {','.join(crosscheck.DEFAULT_TARGETS)})")
    options.add_python_args(p)


def _names(text: str, known: list[str], what: str, hint: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown {what}: {', '.join(unknown)}", f"{hint}: {', '.join(known)}")
    return names or known


def run(args: argparse.Namespace) -> int:
    m = manifest.default()
    patched_variants = [n for n, v in m.variants.items() if v.patches]
    variants = _names(args.variants, patched_variants, "variant",
                      "crosscheck checks the manifest's patches of")
    versions = _names(args.numpy, list(m.numpy), "NumPy version", "use versions of patches/manifest.toml")
    targets = [crosscheck.TARGETS[n] for n in _names(args.targets, list(crosscheck.TARGETS), "target", "use")]
    todo = [(v, n, m.variants[v].patches[n])
            for n in versions for v in variants if n in m.variants[v].patches]
    if not todo:
        raise ConfigError(f"no patch of {', '.join(variants)} for NumPy {', '.join(versions)}",
                          "see patches/manifest.toml for which versions each variant has a patch for")
    zig_cmd = crosscheck.zig()  # before anything is fetched or set up
    req = Request("", (), options.python_options(args))
    rows: list[crosscheck.Row] = []
    for version in dict.fromkeys(n for _, n, _ in todo):
        src = source.fetch(version)
        checker = crosscheck.Checker(zig_cmd, crosscheck.host_build(src, req.interpreter), req.interpreter,
                                     args.cpython_source)
        for variant, _, patch in (t for t in todo if t[1] == version):
            tree = patching.apply(src, variant, patch, tuple(m.variants[variant].patches))
            rows += checker.check(tree, targets)
    print(table(rows))
    failed = [r for r in rows if r.status == "failed"]
    broken = [r for r in rows if r.status == "baseline"]
    print(f"{len(rows) - len(failed) - len(broken)} of {len(rows)} patch x target compile; "
          f"{len(failed)} fail; {len(broken)} not checkable (baseline does not compile for the target)")
    return errors.EXIT_VERDICT if failed else 0


def table(rows: list[crosscheck.Row]) -> str:
    status = {"ok": "ok", "failed": "FAIL", "baseline": "n/a"}
    width = max((len(r.variant) for r in rows), default=7)
    lines = [f"{'variant':<{width}}  numpy   target   result  detail"]
    lines += [f"{r.variant:<{width}}  {r.numpy:<7} {r.target:<8} {status[r.status]:<7} {r.detail}"
              for r in rows]
    return "\n".join(lines)
