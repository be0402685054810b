#!/usr/bin/env python3
"""How much of a per-call difference in time is code layout? Builds that differ only in where code lies.

    python3 tools/layout_probe.py OUT_DIR --numpy VERSION VARIANT[,VARIANT...] [--pads 16,32,48]
                                  [--manifest FILE] [--repo DIR]

For every VARIANT and pad N writes variant ``<variant>pad<N>``: the variant's patch (none for baseline)
plus a function that is never called, ``lockswap_layout_pad``, appended to
``numpy/_core/src/umath/dispatching.cpp``: N bytes of ``nop`` (``.skip N, 0x90``), kept by
``__attribute__((used, noinline))``. The instructions every call executes stay the same (cachegrind
counts them equal); only the addresses of the code linked after it move by N bytes, so the builds
sample the variant at several code layouts. With baseline among the VARIANTs it also writes
``baselinecomment`` (a patch adding one comment: the same code rebuilt, the A/A control). OUT_DIR
gets the patches and ``manifest.toml`` = FILE (default: the repository's manifest; a
``tools/before_after.py`` manifest works, so ``rwlockbefore`` can be padded too) plus those variants:

    LOCKSWAP_MANIFEST=OUT_DIR/manifest.toml nox -s bench -- --numpy 2.5.5 \\
        --variants baseline,baselinecomment,baselinepad16,...,rwlock,rwlockpad16,... --sizes 1

    python3 tools/layout_probe.py table results/bench-*.json PAIR [PAIR ...]

with PAIR = ``A:B`` (e.g. ``rwlock:rwlockbefore``, ``immortal:baseline``) prints, per workload and
size, single-thread ns per call and t1/tN of A against B: the ratio at each layout (A and B with the
same pad), and the *layout-averaged* ratio: the geometric mean over the layouts of A's medians over
that of B's, with a bootstrap 95 % interval (processes resampled within each build). A difference
between two variants that is code layout moves from layout to layout and averages out; a difference
in what the code does stays. Also the spread of B's own medians over its layouts (max / min): the
size of a per-call change that layout alone makes on this machine. Exploratory: not a verdict.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("numpy/_core/src/umath/dispatching.cpp", "numpy/_core/src/umath/dispatching.c")
PADS = (16, 32, 48)
RESAMPLES, SEED = 2000, 27786


def target(tree: Path) -> str:
    """dispatching.cpp (NumPy 2.2 and later) or dispatching.c (2.1)."""
    found = [rel for rel in TARGETS if (tree / rel).is_file()]
    if not found:
        raise SystemExit(f"layout_probe.py: {tree} has none of {', '.join(TARGETS)}")
    return found[0]


def pad_code(size: int, cpp: bool = True) -> str:
    linkage = 'extern "C" ' if cpp else ""
    return ("\n/* lockswap layout probe: never called; moves the code linked after it by "
            f"{size} bytes */\n"
            f"{linkage}__attribute__((used, noinline)) void lockswap_layout_pad(void)\n"
            f"{{\n    __asm__ volatile(\".skip {size}, 0x90\");\n}}\n")


COMMENT = "\n/* lockswap layout probe: a comment only (the A/A control) */\n"


def _touched(patch_text: str) -> list[str]:
    return sorted(set(re.findall(r"(?m)^\+\+\+ b/(\S+)", patch_text)))


def _git(*args: str | Path, cwd: Path, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(["git", *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False,
                          env={"GIT_CEILING_DIRECTORIES": str(cwd.parent), "PATH": "/usr/bin:/bin"})
    if done.returncode not in ok:
        raise SystemExit(f"layout_probe.py: git {' '.join(map(str, args))} failed: {done.stderr.strip()}")
    return done.stdout


def padded_patch(tree: Path, patch_text: str, extra: str, header: str) -> str:
    """``patch_text`` (may be empty) plus a hunk appending ``extra`` to the dispatcher's source, checked
    to apply to ``tree``."""
    rel_target = target(tree)
    files = sorted(set(_touched(patch_text)) | {rel_target})
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "a"
        for rel in files:
            if (tree / rel).is_file():
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(tree / rel, base / rel)
        if patch_text:
            (Path(tmp) / "v.patch").write_text(patch_text)
            _git("apply", "-p1", "--whitespace=nowarn", Path(tmp) / "v.patch", cwd=base)
        shutil.copytree(base, Path(tmp) / "b")
        with (Path(tmp) / "b" / rel_target).open("a") as out:
            out.write(extra)
        hunk = _git("diff", "--no-index", "--no-prefix", f"a/{rel_target}", f"b/{rel_target}",
                    cwd=Path(tmp), ok=(1,))
        text = (patch_text.rstrip("\n") + "\n" if patch_text else header) + hunk
        check = Path(tmp) / "check"
        for rel in files:
            if (tree / rel).is_file():
                (check / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(tree / rel, check / rel)
        (Path(tmp) / "p.patch").write_text(text)
        _git("apply", "--check", "-p1", "--whitespace=nowarn", Path(tmp) / "p.patch", cwd=check)
    return text


def write_probe(out: Path, tree: Path, manifest_text: str, manifest_dir: Path, numpy: str,
                variants: list[str], pads: tuple[int, ...]) -> list[str]:
    """Write the padded patches and OUT/manifest.toml; return the variant names to bench, in order."""
    declared = tomllib.loads(manifest_text)["variants"]
    extra, names = [], []
    for name in variants:
        if name not in declared:
            raise SystemExit(f"layout_probe.py: no variant {name!r} in the manifest; "
                             f"it has {', '.join(sorted(declared))}")
        rel = declared[name].get("patches", {}).get(numpy)
        if name != "baseline" and not rel:
            raise SystemExit(f"layout_probe.py: variant {name!r} has no patch for NumPy {numpy}")
        text = (manifest_dir / rel).read_text() if rel else ""
        forms = [(f"{name}pad{n}", pad_code(n, target(tree).endswith(".cpp"))) for n in pads]
        if name == "baseline":
            forms.insert(0, ("baselinecomment", COMMENT))
        names.append(name)
        for new, code in forms:
            what = code.strip().splitlines()[0].strip("/* ").replace("lockswap layout probe: ", "")
            header = (f"Description: NumPy {numpy} as released, plus code that is {what}\n"
                      "Origin: lockswap, tools/layout_probe.py\nAuthor: lockswap developers\n"
                      f"NumPy: {numpy}\nVariant: {new}\n\n")
            path = out / f"{new}-{numpy}.patch"
            patch = padded_patch(tree, text, code, header)
            path.write_text(re.sub(r"(?m)^Variant: .*$", f"Variant: {new}", patch, count=1))
            extra.append(f'[variants.{new}]\ndescription = "{name} at another code layout ({new})"\n'
                         f'origin = "lockswap"\npatches = {{ "{numpy}" = "{path}" }}\n')
            names.append(new)
    absolute = re.sub(r'"(\d[^"]*/[^"]+\.patch)"', lambda m: f'"{manifest_dir / m.group(1)}"', manifest_text)
    (out / "manifest.toml").write_text(absolute.replace("\n[ci]", "\n" + "\n".join(extra) + "\n[ci]", 1))
    return names


def _geo(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def averaged_ratio(a: list[list[float]], b: list[list[float]]) -> tuple[float, float, float]:
    """Geometric mean over layouts of median(A) / that of median(B), with a bootstrap 95 % interval."""
    sys.path.insert(0, str(REPO / "scripts"))
    from lockswap.base import stats

    def ratio(xs: list[list[float]], ys: list[list[float]]) -> float:
        return _geo([stats.median(x) for x in xs]) / _geo([stats.median(y) for y in ys])

    rng = random.Random(SEED)
    draws = sorted(ratio([[rng.choice(x) for _ in x] for x in a], [[rng.choice(y) for _ in y] for y in b])
                   for _ in range(RESAMPLES))
    return ratio(a, b), draws[int(0.025 * RESAMPLES)], draws[int(0.975 * RESAMPLES) - 1]


def probe_table(files: list[Path], pairs: list[tuple[str, str]]) -> str:
    sys.path.insert(0, str(REPO / "scripts"))
    from dataclasses import replace

    from lockswap.base import stats
    from lockswap.report import cells, results, scaling

    p = cells.pool(results.read(files).runs)
    out = ["| A / B | workload | N | layouts | A / B at each layout | layout-averaged A / B [95 % CI] | "
           "B over its layouts (max / min) |", "|---" * 7 + "|"]
    for a_name, b_name in pairs:
        keys = sorted((k for k in p.processes if k.variant == b_name),
                      key=lambda k: (k.numpy, k.workload, k.size, k.mode, k.workers))
        for key in keys:
            suffixes = sorted({k.variant[len(b_name):] for k in p.processes
                               if k.variant.startswith(b_name)
                               and re.fullmatch(r"(pad\d+)?", k.variant[len(b_name):])
                               and replace(key, variant=k.variant) in p.processes
                               and replace(key, variant=a_name + k.variant[len(b_name):]) in p.processes},
                              key=lambda s: int(s[3:] or 0))
            if not suffixes:
                continue
            metric = scaling.ns_per_call if key.workers == 1 else scaling.efficiencies
            a = [metric(p, replace(key, variant=a_name + s)) for s in suffixes]
            b = [metric(p, replace(key, variant=b_name + s)) for s in suffixes]
            if any(len(x) < 2 for x in a + b):
                continue
            each = " ".join(f"{stats.median(x) / stats.median(y):.3f}" for x, y in zip(a, b, strict=True))
            r, low, high = averaged_ratio(a, b)
            b_meds = [stats.median(y) for y in b]
            what = "ns/call" if key.workers == 1 else "t1/tN"
            out.append(f"| {a_name} / {b_name} ({key.numpy}) | "
                       f"{key.workload} n={key.size} {key.mode} {what} | "
                       f"{key.workers} | {', '.join(s or 'as built' for s in suffixes)} | {each} | "
                       f"{r:.3f} [{low:.3f}, {high:.3f}] | {max(b_meds) / min(b_meds):.3f} |")
    return "\n".join(out) + ("\n\nRatios of medians over processes; the interval resamples processes "
                             "within each build, 95 %, unadjusted (exploratory).\n")


def main(argv: list[str]) -> int:
    argv = list(argv)
    if len(argv) > 2 and argv[1] == "table":
        files = [Path(f) for f in argv[2:] if ":" not in f]
        pairs = [tuple(f.split(":", 1)) for f in argv[2:] if ":" in f]
        if not files or not pairs:
            print("layout_probe.py table: give bench JSON files and at least one A:B pair", file=sys.stderr)
            return 2
        print(probe_table(files, pairs), end="")  # type: ignore[arg-type]
        return 0

    def option(flag: str, default: str) -> str:
        if flag not in argv:
            return default
        at = argv.index(flag)
        if at + 1 >= len(argv):
            raise SystemExit(f"layout_probe.py: {flag} needs a value")
        value = argv[at + 1]
        del argv[at:at + 2]
        return value

    repo = Path(option("--repo", str(REPO))).resolve()
    manifest = Path(option("--manifest", str(repo / "patches" / "manifest.toml"))).resolve()
    numpy = option("--numpy", "")
    pads = tuple(int(n) for n in option("--pads", ",".join(map(str, PADS))).split(","))
    if len(argv) != 3 or not numpy:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(repo / "scripts"))
    from lockswap.source import fetch

    tree = fetch.fetch(numpy).tree
    names = write_probe(out, tree, manifest.read_text(), repo / "patches", numpy, argv[2].split(","), pads)
    print(f"LOCKSWAP_MANIFEST={out / 'manifest.toml'} nox -s bench -- --numpy {numpy} "
          f"--variants {','.join(names)} --sizes 1")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
