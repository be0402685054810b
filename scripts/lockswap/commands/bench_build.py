"""``lockswap bench-build``: how much of a cold NumPy build a second variant reuses.

Builds, in a private cache (sharing only the interpreter and the downloaded sdist with the user's
cache): the first variant cold (empty ccache, no build slot), then the second variant (warm), then
the first again (unchanged: a cache hit). Writes ``results/build-reuse-*.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..base import log, paths, proc
from . import options

NAME = "bench-build"
HELP = "measure cold vs second-variant vs unchanged rebuild times"


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_numpy_arg(p)
    p.add_argument("--first", default="baseline", help="variant built cold")
    p.add_argument("--second", default="rwlock", help="variant built next, reusing the first's objects")


def run(args: argparse.Namespace) -> int:
    req = options.from_args(args, [args.first, args.second])  # both buildable before the cold build
    spec = req.numpy
    user_cache = paths.cache_root()
    python = str(req.interpreter.path)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lockswap-bench-build-") as tmp:
        env = {"LOCKSWAP_CACHE": str(Path(tmp) / "cache"), "LOCKSWAP_DIST": str(Path(tmp) / "dist"),
               "LOCKSWAP_PYTHON": python}
        sdists = user_cache / "sdist"
        if sdists.is_dir():
            shutil.copytree(sdists, Path(tmp) / "cache" / "sdist")
        for label, variant in (("cold", args.first), ("second_variant", args.second),
                               ("unchanged", args.first)):
            with log.step(f"{label}: build {variant}"):
                start = time.perf_counter()
                proc.run([sys.executable, "-m", "lockswap", "build", "--variant", variant, "--numpy", spec],
                         env=env, log_file=Path(tmp) / "build.log")
                timings[label] = round(time.perf_counter() - start, 1)
    ratio = timings["second_variant"] / timings["cold"]
    # The envelope every lockswap JSON has (kind, schema_version, created); 2: was schema/date/build-reuse.
    result = {"kind": "lockswap-bench-build", "schema_version": 2, "created": log.utc_now(), "numpy": spec,
              "first": args.first, "second": args.second, "seconds": timings,
              "second_over_cold": round(ratio, 3), "cpu_count": os.cpu_count()}
    out = paths.results_dir() / f"build-reuse-{spec}-{log.utc_now('%Y%m%d-%H%M%S')}.json"
    paths.atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"cold {timings['cold']} s, second variant {timings['second_variant']} s "
          f"({ratio:.0%} of cold), unchanged {timings['unchanged']} s -> {out}")
    return 0


