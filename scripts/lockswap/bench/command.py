"""``lockswap bench``: build (or reuse) each variant's wheel, give it a venv, run the scaling suite."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import cli, log, manifest, paths, venvs
from ..errors import ConfigError
from . import environment, runner, schema, workloads

DEFAULT_SIZES = (10, 100, 1000, 10000)
QUICK_SIZES = (10, 1000)
BENCH_REQUIREMENTS = ("threadpoolctl",)


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--{what} must be comma-separated integers, got {text!r}", "e.g. 1,2,4") from None
    if not values or min(values) < 1:
        raise ConfigError(f"--{what} must list positive integers, got {text!r}", "e.g. 1,2,4")
    return values


def add_args(p: argparse.ArgumentParser) -> None:
    cli.add_python_args(p)
    cli.add_numpy_arg(p)
    p.add_argument("--variants", help="comma-separated; VARIANT@NUMPY measures another NumPy version in the "
                   "same run, e.g. baseline,rwlock,baseline@2.2.6 (default: every variant of --numpy)")
    p.add_argument("--workloads", help=f"comma-separated from {', '.join(workloads.REGISTRY)} (default: all)")
    p.add_argument("--sizes", help="array sizes in elements (default: 10,100,1000,10000)")
    p.add_argument("--workers", help="worker counts (default: 1..cores, 2x and 4x cores)")
    p.add_argument("--modes", default="threads,processes", help="threads,processes (processes = reference)")
    p.add_argument("--repeats", type=int, help="fresh-process repeats per variant (default 5, quick 4)")
    p.add_argument("--target-seconds", type=float,
                   help="work per worker per measurement, in seconds of one worker (default 0.2, quick 0.02)")
    p.add_argument("--quick", action="store_true", help="few sizes, workers and repeats: about a minute")
    p.add_argument("--allow-gil", action="store_true", help="measure even if the GIL is enabled")
    p.add_argument("--use-python", action="append", default=[], metavar="VARIANT=PYTHON",
                   help="measure an existing environment's Python for VARIANT instead of building "
                        "(development aid; no wheel facts are recorded)")
    p.add_argument("--output", help="results file (default: results/bench-<date>-<host>-<numpy>.json)")


def make_plan(args: argparse.Namespace) -> runner.Plan:
    cores = environment.usable_cores()
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    bad = [m for m in modes if m not in runner.MODES]
    if bad or not modes:
        raise ConfigError(f"unknown mode {', '.join(bad) or '(none)'}", f"use {','.join(runner.MODES)}")
    quick = bool(args.quick)
    repeats = args.repeats if args.repeats is not None else (4 if quick else 5)
    if repeats < 1:
        raise ConfigError("--repeats must be at least 1", "use 5 (the default) or more")
    if args.workers:
        workers = _ints(args.workers, "workers")
    else:
        workers = (1, cores, 2 * cores) if quick else runner.default_workers(cores)
    return runner.Plan(
        workloads=workloads.select(args.workloads),
        sizes=_ints(args.sizes, "sizes") if args.sizes else (QUICK_SIZES if quick else DEFAULT_SIZES),
        workers=tuple(sorted(set(workers))), modes=modes, repeats=repeats,
        target_seconds=args.target_seconds or (0.02 if quick else 0.2), quick=quick,
    )


@dataclass(frozen=True)
class Choice:
    """One ``--variants`` item: ``VARIANT`` (of ``--numpy``) or ``VARIANT@NUMPY`` (another NumPy)."""

    label: str  # unique in the run: the variant name, with ``@numpy`` when it is not ``--numpy``'s
    variant: str
    numpy: str


def _variants(args: argparse.Namespace, spec: str) -> list[Choice]:
    m = manifest.default()
    if not args.variants:
        names = m.variants_for(spec) if spec in m.numpy else [manifest.BASELINE]
        return [Choice(n, n, spec) for n in names]
    choices: dict[str, Choice] = {}
    for item in (v.strip() for v in args.variants.split(",")):
        if not item:
            continue
        name, _, version = item.partition("@")
        m.variant(name)  # unknown variant: one clear message
        if version and version not in m.numpy and not version.startswith(("git:", "path:")):
            raise ConfigError(f"--variants {item!r}: NumPy {version} is not in the manifest",
                              f"use one of {', '.join(m.numpy)} after the @")
        version = version or spec
        if version in m.numpy:
            m.patch_for(name, version)  # no patch for that NumPy: say so before building anything
        label = name if version == spec else f"{name}@{version}"
        choices.setdefault(label, Choice(label, name, version))
    return list(choices.values())


def _targets(args: argparse.Namespace, choices: list[Choice]) -> list[runner.Target]:
    given: dict[str, Path] = {}
    for item in args.use_python:
        name, sep, py = item.partition("=")
        if not sep:
            raise ConfigError(f"--use-python {item!r}: expected VARIANT=PYTHON",
                              "e.g. baseline=venv/bin/python")
        given[name] = Path(py)
    targets = []
    for c in choices:
        if c.label in given:
            targets.append(runner.Target(c.label, given[c.label], {"source": "existing environment",
                                                                   "variant": c.variant}))
            continue
        interp, wheel = cli.build_variant(args, c.variant, c.numpy)
        key = paths.content_key(wheel.key, interp.key, BENCH_REQUIREMENTS)
        venv = paths.cache_dir("venvs") / f"bench-{key}"
        with log.step(f"bench venv for {c.label}"):
            python = venvs.ensure(interp, venv, [wheel.path, *BENCH_REQUIREMENTS])
        info: dict[str, Any] = {k: v for k, v in wheel.to_json().items() if k != "path"}
        info.update(wheel=wheel.path.name, interpreter=interp.to_json(), variant=c.variant)
        targets.append(runner.Target(c.label, python, info))
    return targets


def results_path(doc: dict[str, Any]) -> Path:
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", str(doc["machine"]["hostname"]))[:40]
    numpy_versions = sorted({str(v.get("worker", {}).get("numpy_version")) for v in doc["variants"].values()})
    stamp = doc["created"].replace(":", "").replace("-", "")
    return paths.results_dir() / f"bench-{stamp}-{host}-numpy{'+'.join(numpy_versions)}.json"


@cli.command("bench", "thread-scaling benchmark of variants: writes results/bench-*.json", add_args)
def cmd_bench(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    spec = cli.numpy_spec(args)
    choices = _variants(args, spec)
    names = [c.label for c in choices]
    targets = _targets(args, choices)
    created = environment.utc_now()
    got = runner.run(plan, targets, allow_gil=args.allow_gil)
    doc: dict[str, Any] = {
        "kind": schema.KIND, "schema_version": schema.VERSION, "created": created,
        "lockswap": environment.lockswap_commit(), "machine": environment.machine(),
        "plan": {**plan.to_json(), "numpy": spec, "iterations": got["iterations"]},
        "workloads": {w.name: w.to_json() for w in plan.workloads},
        "variants": {t.variant: {**t.info, "worker": got["worker_env"].get(t.variant, {})} for t in targets},
        "measurements": got["measurements"],
    }
    out = Path(args.output) if args.output else results_path(doc)
    paths.atomic_write_text(out, schema.dumps(doc))
    log.info(f"results: {out}  ({len(doc['measurements'])} measurements)")
    log.job_summary(f"Benchmark results: `{out.name}` ({', '.join(names)})")
    print(out)
    return 0
