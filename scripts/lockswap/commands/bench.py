"""``lockswap bench``: build (or reuse) each variant's wheel, give it a venv, run the scaling suite.

Three plans: the default (what a newcomer waits for: the dispatch-bound workloads, threads at every
worker count up to the cores, 24 fresh processes per build), ``--quick`` (a smoke run) and ``--full``
(every workload and size, oversubscribed worker counts, processes as the reference). The run itself,
its journal and ``--resume`` are in ``execute.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base import manifest
from ..base.errors import ConfigError
from ..bench import environment, execute, runner, workloads
from ..build import pipeline
from ..report import render as report
from . import options

NAME = "bench"
HELP = "thread-scaling benchmark of variants: writes results/bench-*.json, then its report and verdict"

# The default plan: the dispatch-bound kernels (the tight loop of NumPy issue 27786 at n = 1, the
# issue's own kernel, scalars), threads only, no oversubscription, many fresh processes: on 2 cores
# and 7 builds about 10 minutes, and 24 processes per build for every comparison the report makes.
DEFAULT_WORKLOADS = ("add", "issue27786", "scalar")
DEFAULT_SIZES = (1, 100)
DEFAULT_MODES = ("threads",)
DEFAULT_REPEATS = 24
DEFAULT_TARGET_SECONDS = 0.2
FULL_SIZES = (1, 10, 100, 1000, 10000)
FULL_REPEATS = 10
QUICK_SIZES = (10, 1000)
PLAN_OPTIONS = ("workloads", "sizes", "workers", "modes", "repeats", "target_seconds", "quick", "full",
                "timeout", "upstream")


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_numpy_arg(p)
    options.add_port_arg(p)
    p.add_argument("--variants", help="comma-separated; VARIANT@NUMPY measures another NumPy version in the "
                   "same run, e.g. baseline,rwlock,baseline@2.2.6 (default: every variant of --numpy)")
    p.add_argument("--workloads", help=f"comma-separated from {', '.join(workloads.REGISTRY)} (default: "
                   f"{','.join(DEFAULT_WORKLOADS)}; --quick: all but npadd and the NumPy PR 32513 forms "
                   "sin,addalloc,addop; --full: all)")
    p.add_argument("--sizes", help=f"array sizes in elements (default: {','.join(map(str, DEFAULT_SIZES))}; "
                   f"--full: {','.join(map(str, FULL_SIZES))})")
    p.add_argument("--workers", help="worker counts (default: powers of two up to the cores, and the cores; "
                   "--full: 1..cores, 2x and 4x cores)")
    p.add_argument("--modes", help="threads,processes (default: threads; --quick/--full: both, processes "
                   "being the reference)")
    p.add_argument("--repeats", type=int, help=f"fresh-process repeats per variant (default "
                   f"{DEFAULT_REPEATS}, --full {FULL_REPEATS}, --quick 4)")
    p.add_argument("--target-seconds", type=float,
                   help=f"work per worker per measurement, in seconds of one worker (default "
                        f"{DEFAULT_TARGET_SECONDS}, quick 0.02)")
    p.add_argument("--upstream", metavar="VERSION|none",
                   help="a NumPy release measured unpatched in the same run as the bar every build is also "
                        "compared with (default, when neither --variants nor --quick is given: the newest "
                        "release of the "
                        f"manifest, {manifest.default().newest}; 'none' leaves it out)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="few sizes, workers and repeats: about a minute")
    size.add_argument("--full", action="store_true", help="the long plan: every workload, size and mode, "
                      "oversubscribed worker counts (an hour or more)")
    p.add_argument("--timeout", type=float, help="seconds a worker may go without finishing a cell before "
                   "it is killed and the cell recorded as failed (default: derived from the calibration)")
    p.add_argument("--settle", type=float, default=environment.SETTLE_SECONDS, metavar="SECONDS",
                   help="wait up to this long for the 1-minute load to fall to half the usable CPUs "
                        f"before measuring (default {environment.SETTLE_SECONDS:.0f}; 0: start at once)")
    p.add_argument("--allow-gil", action="store_true", help="measure even if the GIL is enabled")
    p.add_argument("--use-python", action="append", default=[], metavar="VARIANT=PYTHON",
                   help="measure an existing environment's Python for VARIANT instead of building "
                        "(development aid; no wheel facts are recorded)")
    p.add_argument("--output", help="results file (default: results/bench-<date>-<host>-<numpy>.json)")
    p.add_argument("--resume", metavar="FILE", help="finish the interrupted run of FILE "
                   "(results/bench-*.json) with its plan and wheels")
    p.add_argument("--no-report", action="store_true", help="do not render the report and the verdict table "
                   "at the end")


def make_plan(args: argparse.Namespace) -> runner.Plan:
    cores = environment.usable_cores()
    quick, full = bool(args.quick), bool(getattr(args, "full", False))
    default_modes = DEFAULT_MODES if not (quick or full) else runner.MODES
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip()) if args.modes else default_modes
    bad = [m for m in modes if m not in runner.MODES]
    if bad or not modes:
        raise ConfigError(f"unknown mode {', '.join(bad) or '(none)'}", f"use {','.join(runner.MODES)}")
    repeats = args.repeats if args.repeats is not None else (4 if quick else FULL_REPEATS if full
                                                             else DEFAULT_REPEATS)
    if repeats < 1:
        raise ConfigError("--repeats must be at least 1", f"use {DEFAULT_REPEATS} (the default) or more")
    if args.workers:
        workers = options.ints(args.workers, "workers")
    elif quick:
        workers = (1, cores, 2 * cores)
    else:
        workers = runner.default_workers(cores) if full else runner.scaling_workers(cores)
    sizes = QUICK_SIZES if quick else FULL_SIZES if full else DEFAULT_SIZES
    timeout = getattr(args, "timeout", None)
    if timeout is not None and timeout <= 0:
        raise ConfigError("--timeout must be positive", "e.g. --timeout 120 (seconds)")
    names = args.workloads or (None if full else ",".join(workloads.QUICK if quick else DEFAULT_WORKLOADS))
    upstream = upstream_label(args, pipeline.numpy_spec(args.numpy))
    return runner.Plan(
        workloads=workloads.select(names),
        sizes=options.ints(args.sizes, "sizes") if args.sizes else sizes,
        workers=tuple(sorted(set(workers))), modes=modes, repeats=repeats,
        target_seconds=args.target_seconds or (0.02 if quick else DEFAULT_TARGET_SECONDS), quick=quick,
        full=full, timeout=timeout, upstream=upstream,
    )


def upstream_label(args: argparse.Namespace, spec: str) -> str | None:
    """``baseline@<newest>``: the release every build is also compared with (see ``--upstream``)."""
    m = manifest.default()
    if args.upstream == "none":
        return None
    # the default answer has the bar; --quick (a smoke run) and an explicit --variants only when asked
    version = args.upstream or (m.newest if args.variants is None and not args.quick else None)
    if version is None or version == spec:
        return None
    if version not in m.numpy:
        raise ConfigError(f"--upstream {version}: NumPy {version} is not in the manifest",
                          f"use one of {', '.join(m.numpy)}, or none")
    return f"{manifest.BASELINE}@{version}"


def _variants_text(args: argparse.Namespace, upstream: str | None) -> str | None:
    """``--variants`` (default: every variant of --numpy) plus the upstream build, if any."""
    if upstream is None:
        return args.variants
    m = manifest.default()
    spec = pipeline.numpy_spec(args.numpy)
    items = args.variants or ",".join(pipeline.default_variants(m, spec))
    return items if upstream in items.split(",") else f"{items},{upstream}"


def _variants(args: argparse.Namespace, spec: str) -> list[pipeline.Target]:
    """The ``--variants`` items: ``VARIANT`` (of ``--numpy``) or ``VARIANT@NUMPY`` (another NumPy)."""
    text = _variants_text(args, upstream_label(args, spec))
    return pipeline.parse_targets(manifest.default(), text, spec, other_numpy=True)


def _targets(args: argparse.Namespace, req: pipeline.Request) -> list[runner.Target]:
    given: dict[str, Path] = {}
    for item in args.use_python:
        name, sep, py = item.partition("=")
        if not sep:
            raise ConfigError(f"--use-python {item!r}: expected VARIANT=PYTHON",
                              "e.g. baseline=venv/bin/python")
        if not Path(py).exists():
            raise ConfigError(f"--use-python {item!r}: {py} does not exist", "give the path of a python")
        given[name] = Path(py).absolute()  # the worker runs in another folder; keep a venv's symlink
    targets = []
    for c in req.targets:
        if c.label in given:
            targets.append(runner.Target(c.label, given[c.label], {"source": "existing environment",
                                                                   "variant": c.variant}, c.variant))
            continue
        built = pipeline.build_target(req, c)
        interp, wheel = built.interpreter, built.wheel
        python = runner.bench_python(interp, wheel, label=c.label)
        info = runner.wheel_info(interp, wheel, c.variant)
        targets.append(runner.Target(c.label, python, info, c.variant, wheel.numpy_version))
    return targets


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> bool:
    return any(getattr(args, n, None) not in (None, False) for n in names)


def run(args: argparse.Namespace) -> int:
    if args.resume:
        finished = execute.resume_run(
            Path(args.resume), given_plan=make_plan(args) if _given(args, PLAN_OPTIONS) else None,
            given_labels=[c.label for c in _variants(args, pipeline.numpy_spec(args.numpy))]
            if _given(args, ("variants", "numpy", "upstream")) else None,
            allow_gil=args.allow_gil)
    else:
        plan = make_plan(args)
        req = options.from_args(args, variants_text=_variants_text(args, plan.upstream), other_numpy=True)
        finished = execute.new_run(plan, req.numpy, [c.label for c in req.targets],
                                   lambda: _targets(args, req),
                                   output=Path(args.output) if args.output else None,
                                   allow_gil=args.allow_gil, settle=args.settle)
    if not args.no_report:
        report.answer(finished.path)
    return finished.exit_code
