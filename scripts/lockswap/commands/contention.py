"""``lockswap contention``: which shared objects, if they stopped being shared-written, give scaling back.

1. build (or reuse) the variant's wheel and its bench venv;
2. discovery: one probe process finds the objects whose shared refcount a kernel call changes;
3. counterfactuals: fresh processes with one candidate (or all of them) made immortal before any
   thread starts, or with the workers' per-thread interpreter state kept apart (the layout arm),
   interleaved with unmodified ones, t1/tN per process;
4. a ranked table (printed), results/contention-*.json and a bar chart of the gains.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
from pathlib import Path
from typing import Any

from ..base import log, paths, proc
from ..base.errors import ConfigError
from ..bench import environment, workloads
from ..bench import runner as bench_runner
from ..build import pipeline
from ..contention import analysis, render, runner
from . import options

NAME = "contention"
HELP = "which shared objects limit thread scaling: candidates and their gain when made immortal"


def add_args(p: argparse.ArgumentParser) -> None:
    options.add_python_args(p)
    options.add_numpy_arg(p)
    options.add_port_arg(p)
    p.add_argument("--variant", help="variant name from patches/manifest.toml (default: baseline)")
    p.add_argument("--workload", help=f"bench workload: {', '.join(workloads.REGISTRY)} (default: add)")
    p.add_argument("--kernel", help="a Python file defining string constants `setup` and `kernel` "
                                    "(the bench workloads' shape) instead of --workload")
    p.add_argument("--size", type=int, default=1, help="elements per array (default 1: the tight loop)")
    p.add_argument("--repeats", type=int, default=12, help="fresh processes per arm (default 12)")
    p.add_argument("--target-seconds", type=float, default=0.2,
                   help="single-thread seconds per measurement (default 0.2)")
    p.add_argument("--max-candidates", type=int, default=6,
                   help="counterfactuals for at most this many candidates, most written first (default 6)")
    p.add_argument("--sample-seconds", type=float, default=1.0,
                   help="seconds of refcount sampling while a second thread runs the kernel (default 1)")
    p.add_argument("--no-sweep", action="store_true",
                   help="skip the second discovery pass over every GC-tracked object (faster, may miss some)")
    p.add_argument("--workers", type=int, help="N of t1/tN (default: usable cores)")
    p.add_argument("--no-layout", action="store_true",
                   help="skip the thread-layout arm (the kernel with an idle thread started between "
                        "workers, so their per-thread interpreter state is not adjacent)")
    p.add_argument("--use-python", metavar="PYTHON",
                   help="measure this existing environment's Python instead of building (development aid)")
    p.add_argument("--output", help="results file (default: results/contention-<date>-<host>-...json)")
    p.add_argument("--render", nargs="+", metavar="FILE",
                   help="only print and plot existing contention results (no measurement)")


def load_kernel_file(path: Path) -> runner.Kernel:
    """``setup``/``kernel`` string constants of a Python file (read, never executed here)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read kernel file {path}: {exc.strerror}", "check the path") from None
    except SyntaxError as exc:
        raise ConfigError(f"kernel file {path} is not valid Python: {exc.msg} (line {exc.lineno})",
                          "fix the file") from None
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    missing = [k for k in ("setup", "kernel") if not isinstance(found.get(k), str)]
    if missing:
        raise ConfigError(
            f"kernel file {path} has no string {' or '.join(missing)}",
            'define both at top level, e.g. setup = "a = np.ones(n); b = np.ones(n); c = np.empty(n)" and '
            'kernel = "np.add(a, b, out=c)" (setup runs once per thread with np, n, worker, iterations)')
    for key in ("setup", "kernel"):
        try:
            compile(found[key], f"<{key}>", "exec")
        except SyntaxError as exc:
            raise ConfigError(f"kernel file {path}: `{key}` does not compile: {exc.msg}",
                              "fix the code") from None
    size = found.get("size")
    return runner.Kernel(path.stem, found["setup"], found["kernel"],
                         int(size) if isinstance(size, int) else 0, str(path))


def choose_kernel(args: argparse.Namespace) -> runner.Kernel:
    if args.kernel and args.workload:
        raise ConfigError("give --workload or --kernel, not both", "e.g. --workload add")
    if args.kernel:
        k = load_kernel_file(Path(args.kernel))
        return runner.Kernel(k.name, k.setup, k.kernel, k.size or args.size, k.source)
    w = workloads.get(args.workload or "add")
    return runner.Kernel(w.name, w.setup, w.kernel, w.fixed_size or args.size, "workload")


def target_python(args: argparse.Namespace, variant: str) -> tuple[Path, dict[str, Any]]:
    """The variant's bench venv (the same one ``lockswap bench`` uses) and its wheel facts."""
    if args.use_python:
        python = Path(args.use_python).absolute()  # not resolve(): a venv's python is a symlink
        runner.check_python(python)
        return python, {"source": "existing environment", "variant": variant}
    req = options.from_args(args, [variant])
    built = pipeline.build_target(req, req.targets[0])
    interp, wheel = built.interpreter, built.wheel
    python = bench_runner.bench_python(interp, wheel, label=variant)
    return python, bench_runner.wheel_info(interp, wheel, variant)


def perf_c2c() -> str:
    """One line: does ``perf c2c record`` work here (it needs load-latency sampling)?"""
    perf = shutil.which("perf")
    if perf is None:
        return "not available (perf is not installed); object-level counterfactuals only"
    out = proc.run([perf, "c2c", "record", "-o", "/dev/null", "--", "true"], check=False, echo=False,
                   timeout=60)
    if out.returncode == 0:
        return "perf c2c record works here; not yet mapped to objects (run it by hand as a second opinion)"
    last = next((ln.strip() for ln in reversed(out.stdout.splitlines()) if ln.strip()), "")
    return (f"not usable on this machine (perf c2c record failed: {last[:120]}); "
            "object-level counterfactuals only")


def results_path(doc: dict[str, Any]) -> Path:
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", str(doc["machine"]["hostname"]))[:40]
    stamp = doc["created"].replace(":", "").replace("-", "")
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{doc['target']['label']}-{doc['workload']['name']}")
    return paths.results_dir() / f"contention-{stamp}-{host}-{name}.json"


def _render(files: list[str]) -> int:
    for f in files:
        doc = render.load(Path(f))
        print(render.markdown(doc))
        if not doc["ranking"]:
            continue
        try:
            log.info(f"chart: {render.chart(doc, Path(f).with_suffix('.png'))}")
        except ImportError:
            log.info("no chart: matplotlib is not installed (pip install -e '.[report]')")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.render:
        return _render(args.render)
    if args.repeats < 2:
        raise ConfigError("--repeats must be at least 2", "use 12 (the default) or more")
    kernel = choose_kernel(args)
    variant = args.variant or "baseline"
    workers = args.workers or max(2, environment.usable_cores())
    created = log.utc_now()
    python, info = target_python(args, variant)
    machine = environment.machine()  # its load is the load at the start of the measurement, after any build
    load = environment.loadavg() or 0.0
    if load > environment.usable_cores() - 0.5:
        log.warn(f"load average {load:.1f} on {environment.usable_cores()} usable cores: other "
                 "work competes for the cores, t1/tN will be noisy (the JSON records the load)")
    timeout = 120 + 40 * args.target_seconds * workers + 10 * args.sample_seconds
    with log.step(f"discover candidates: {kernel.name} on {variant}"):
        found, env = runner.discover(python, kernel, target_seconds=args.target_seconds,
                                     sample_seconds=args.sample_seconds, timeout=timeout,
                                     sweep=not args.no_sweep)
    if env.get("gil_enabled"):
        raise ConfigError(f"the GIL is enabled in {python}: refcounts are not shared-written there",
                          "use a free-threaded interpreter without PYTHON_GIL=1")
    candidates = found["candidates"]
    log.info(f"{len(candidates)} of {found['examined']} objects had their shared refcount written:")
    for c in candidates:
        note = f"  [cannot be made immortal: {c['immortal_refused']}]" if c["immortal_refused"] else ""
        log.info(f"  {c['busy']:>6} of {c['samples']} samples  {c['locator']}  ({c['type']}) "
                 f"{c['repr']}{note}")
    arms, left_out = runner.make_arms(candidates, args.max_candidates, layout=not args.no_layout)
    for c in left_out:
        log.info(f"  not measured: {c['locator']}: {c['why']}")
    if not any(a.locators for a in arms):
        log.info("no candidate to measure: no object that can be made immortal had its shared refcount "
                 "written by the kernel; measuring the unmodified scaling"
                 + ("" if args.no_layout else " and the thread-layout arm") + " only")
    total = len(arms) * args.repeats
    done = [0]

    def tick() -> None:
        done[0] += 1
        if done[0] % max(1, len(arms)) == 0:
            log.info(f"contention: {done[0]}/{total} processes")

    with log.step(f"counterfactuals: {len(arms) - 1} arms + unmodified, {args.repeats} processes each"):
        runs, failures = runner.measure(python, kernel, arms, iterations=int(found["iterations"]),
                                        workers=workers, repeats=args.repeats, timeout=timeout, on_done=tick)
    measured = {a.name: {**a.info, "locators": a.locators} for a in arms if a.refused is None}
    ranking = analysis.rank(runs, measured)
    unmodified = analysis.summary([r["ratio"] for r in runs if r["arm"] == analysis.NONE])
    doc: dict[str, Any] = {
        "kind": render.KIND, "schema_version": render.VERSION, "created": created,
        "lockswap": environment.lockswap_commit(),
        "machine": {**machine, "loadavg_at_end": environment.loadavg()},
        "target": {**info, "label": variant, "numpy_version": env.get("numpy_version"), "worker": env},
        "workload": {"name": kernel.name, "setup": kernel.setup, "kernel": kernel.kernel, "size": kernel.size,
                     "source": kernel.source},
        "plan": {"workers": workers, "repeats": args.repeats, "target_seconds": args.target_seconds,
                 "iterations": int(found["iterations"]), "max_candidates": args.max_candidates,
                 "sample_seconds": args.sample_seconds,
                 "order": "per repeat: arms shuffled, one fresh process each; t1 and tN alternate first"},
        "discovery": {k: found.get(k) for k in (
            "examined", "already_immortal", "immortal_at_thread_start", "immortal_at_thread_start_roots",
            "samples", "swept", "candidates", "roots", "contextvars_ambiguous")},
        "arms": {a.name: {**a.info, "locators": a.locators, "spacers": a.spacers,
                          "immortalized": a.immortalized, "skipped": a.skipped, "refused": a.refused,
                          "crashes": a.crashes} for a in arms},
        "runs": runs,
        "failures": failures,
        "refused": [{"arm": a.name, "label": a.info["label"], "reason": a.refused}
                    for a in arms if a.refused],
        "left_out": [{"locator": c["locator"], "why": c["why"]} for c in left_out],
        "ranking": [r.to_json() for r in ranking],
        "unmodified": unmodified,
        "perf_c2c": perf_c2c(),
    }
    out = Path(args.output) if args.output else results_path(doc)
    json_path, png = render.write(doc, out)
    print(render.markdown(doc))
    log.info(f"results: {json_path}")
    if png:
        log.info(f"chart: {png}")
    elif ranking:
        log.info("no chart: matplotlib is not installed (pip install -e '.[report]')")
    return 0


