"""NumPy's own test suite on one variant's wheel, and the verdict against baseline.

The suite runs from an empty folder (never the source tree) in a clean venv of the free-threaded
interpreter with the wheel and the test requirements. Every test has a timeout (pytest-timeout's
thread method dumps all threads' stacks, so a deadlocked lock fails instead of hanging), and the run
stops if the GIL comes back. Results: JUnit XML plus a JSON summary in ``results/``.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..base import jsonfile, log, paths, proc
from ..base.errors import CommandError, ConfigError
from ..base.manifest import BASELINE
from ..build.wheel import Wheel
from ..interpreter import find as interpreter
from ..interpreter import sanitizer, venvs
from ..interpreter.find import Interpreter
from . import attribution, tsan_run

# 2: outcomes keyed by site-packages-relative node ids (1 could drop tests whose names collided)
# 3: the envelope every lockswap JSON has: kind, schema_version, created (were: schema, date)
# 4: "stress", each stress case's outcome (attribution against baseline: lockswap.test.attribution);
#    known-upstream xfails are baseline's only
SCHEMA = 4
KIND = "lockswap-test"
SUITES = ("quick", "full", "threads", "parallel", "stress")
# Test modules of the quick selection: ufuncs, umath, threads and the dispatch cache.
QUICK = ("test_multithreading", "test_ufunc", "test_umath", "test_hashtable", "test_custom_dtypes",
         "test_nep50_promotions")
# hypothesis releases after 6.155.7 need a Rust build on 3.13t (no pure wheel).
REQUIREMENTS = ("pytest>=8", "pytest-timeout>=2.3", "hypothesis==6.155.7")
PARALLEL_REQUIREMENTS = ("pytest-run-parallel>=0.4",)
# numpy.f2py's tests look for meson while they are collected (they skip without a Fortran compiler),
# and test_mem_policy (a threads-suite module) compiles a small extension with meson.
FULL_REQUIREMENTS = ("meson", "ninja")
PLUGIN_DIR = paths.PACKAGE / "pytest_plugin"
# lockswap's own dispatch-cache stress test, run with every suite (a path, next to --pyargs modules)
STRESS_TEST = paths.PACKAGE / "numpy_extra" / "test_lockswap_stress.py"
# the per-thread cache's own check (tls variants; skips on builds without its counters)
TLS_TEST = paths.PACKAGE / "numpy_extra" / "test_lockswap_tls.py"
# the rwlock variant's lock policy per C library (skips on builds without it)
RWLOCK_TEST = paths.PACKAGE / "numpy_extra" / "test_lockswap_rwlock.py"
OWN_TESTS = (str(STRESS_TEST), str(TLS_TEST), str(RWLOCK_TEST))
# --suite stress: the adversarial cases (numpy_extra/stress_cases.py), each in its own process
STRESS_CASES = paths.PACKAGE / "numpy_extra" / "test_lockswap_stress_cases.py"
_COUNTED = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")


@dataclass(frozen=True)
class TestOptions:
    suite: str = "quick"
    slow: bool = False
    parallel_threads: int = 4
    timeout: int = 900  # per test, seconds
    extra: tuple[str, ...] = ()  # more pytest arguments
    sanitizer: str = ""  # "thread": an instrumented build, run under ThreadSanitizer (see tsan_run)

    def to_json(self) -> dict[str, object]:
        data = {**asdict(self), "extra": list(self.extra)}
        if not self.sanitizer:  # ordinary runs keep the options (and baseline matching) they had
            del data["sanitizer"]
        return data


@dataclass
class TestResult:
    variant: str
    numpy_version: str
    suite: str
    python: str
    counts: dict[str, int]
    failing: list[str]
    duration_s: float
    crashed: str  # "" or why the run ended early (timeout, GIL re-enabled, ...)
    wheel: dict[str, str]
    interpreter: dict[str, object]
    command: list[str]
    options: dict[str, object] = field(default_factory=dict)
    tsan: dict[str, object] = field(default_factory=dict)  # parsed ThreadSanitizer reports, if any
    stress: dict[str, str] = field(default_factory=dict)  # stress case -> pytest outcome (--suite stress)
    created: str = field(default_factory=log.utc_now)
    kind: str = KIND
    schema_version: int = SCHEMA
    machine: str = field(default_factory=platform.node)

    @classmethod
    def load_current(cls, path: Path) -> TestResult | None:
        """The result in ``path``, or None when it is missing or from an older lockswap (rerun it)."""
        try:
            data = jsonfile.read(path)  # bounded: a huge or deeply nested file is no result
        except jsonfile.BadJson:
            return None
        if not isinstance(data, dict) or data.get("kind") != KIND or data.get("schema_version") != SCHEMA:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})  # not "ci"


def result_stem(numpy_version: str, python: str, variant: str, suite: str, sanitizer_name: str = "") -> str:
    tail = f"-{sanitizer.LABEL[sanitizer_name]}" if sanitizer_name else ""
    return f"test-{numpy_version}-{python}-{variant}-{suite}{tail}"


def _numpy_dir(python: Path) -> Path:
    got = proc.run([python, "-c", "import numpy, os; print(os.path.dirname(numpy.__file__))"],
                   echo=False, cwd=Path(tempfile.gettempdir()))
    return Path(got.stdout.strip().splitlines()[-1])


def threaded_modules(numpy_dir: Path) -> list[str]:
    """Every installed NumPy test module that starts threads (f2py's need a compiler toolchain: left out)."""
    markers = ("import threading", "from threading", "concurrent.futures", "ThreadPoolExecutor")
    found = []
    for f in sorted(numpy_dir.rglob("test_*.py")):
        if "f2py" in f.relative_to(numpy_dir).parts:
            continue
        if any(m in f.read_text(encoding="utf-8", errors="replace") for m in markers):
            found.append(".".join(("numpy", *f.relative_to(numpy_dir).with_suffix("").parts)))
    return found


def selection(suite: str, numpy_dir: Path) -> list[str]:
    """Test targets of a suite (``--pyargs`` modules this NumPy has, plus lockswap's own tests)."""
    if suite == "full":
        return ["numpy", *OWN_TESTS]
    if suite == "stress":
        return [*OWN_TESTS, str(STRESS_CASES)]
    if suite == "threads":
        return [*threaded_modules(numpy_dir), *OWN_TESTS]
    have = {f.stem for f in (numpy_dir / "_core" / "tests").glob("test_*.py")}
    return [*(f"numpy._core.tests.{m}" for m in QUICK if m in have), *OWN_TESTS]


def _pytest_args(opts: TestOptions, targets: list[str], junit: Path, rootdir: Path) -> list[str]:
    # rootdir = site-packages: node ids read numpy/_core/tests/test_x.py::test_y, the same in every
    # venv (without it pytest drops the file part of installed tests and distinct tests collide)
    args = ["-p", "lockswap_pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--tb=short",
            f"--rootdir={rootdir}",
            f"--timeout={per_test(opts)}", "--timeout-method=thread",
            "-o", f"faulthandler_timeout={max(per_test(opts) - 30, 30)}",
            f"--junitxml={junit}", "--pyargs", *targets]
    if opts.suite == "full" and not opts.slow:
        args += ["-m", "not slow"]
    if opts.suite == "parallel":
        args += [f"--parallel-threads={opts.parallel_threads}"]
    return [*args, *opts.extra]


def per_test(opts: TestOptions) -> int:
    """pytest-timeout's limit per test: ``--timeout``, times the sanitizer's slowdown allowance."""
    return opts.timeout * sanitizer.timeout_factor(opts.sanitizer)


def run(interp: Interpreter, wheel: Wheel, opts: TestOptions) -> TestResult:
    """Run ``opts.suite`` on ``wheel``; write and return its result."""
    if opts.suite not in SUITES:
        raise ConfigError(f"unknown suite {opts.suite!r}", f"choose one of {', '.join(SUITES)}")
    extra = {"parallel": PARALLEL_REQUIREMENTS, "full": FULL_REQUIREMENTS,
             "threads": FULL_REQUIREMENTS}.get(opts.suite, ())
    reqs = [*REQUIREMENTS, *extra]
    venv = paths.cache_dir("venvs") / f"test-{paths.content_key(wheel.key, reqs)}"
    logf = paths.cache_dir("logs") / f"test-venv-{wheel.key}.log"
    with log.step(f"test environment for {wheel.path.name}"):
        python = venvs.ensure(interp, venv, [wheel.path, *reqs], log_file=logf,
                              installer=interpreter.installer_for(interp, opts.sanitizer))
    numpy_dir = _numpy_dir(python)
    stem = result_stem(wheel.numpy_version, interp.short, wheel.variant, opts.suite, opts.sanitizer)
    out = paths.results_dir()
    out.mkdir(parents=True, exist_ok=True)
    junit, outcomes_file = out / f"{stem}.xml", out / f".{stem}.outcomes.json"
    outcomes_file.unlink(missing_ok=True)
    cmd = [str(python), "-m", "pytest",
           *_pytest_args(opts, selection(opts.suite, numpy_dir), junit, numpy_dir.parent)]
    env = {"LOCKSWAP_OUTCOMES": str(outcomes_file),
           "PATH": f"{venvs.bin_dir(venv)}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_DIR), os.environ.get("PYTHONPATH")])),
           "PYTHONFAULTHANDLER": "1",
           "LOCKSWAP_VARIANT": wheel.variant}  # only baseline may xfail a known-upstream stress case
    if opts.sanitizer:  # every process of the run reports into results/<stem>.tsan/
        env.update(tsan_run.prepare(out, stem, interp.path))
        env.update(sanitizer.stress_env(opts.sanitizer))
    start = time.perf_counter()
    crashed, got = "", None
    with tempfile.TemporaryDirectory(prefix="lockswap-tests-") as cwd, \
            log.step(f"NumPy {wheel.numpy_version} [{wheel.variant}] suite {opts.suite}"):
        try:
            got = proc.run(cmd, cwd=Path(cwd), env=env, check=False, timeout=per_test(opts) * 20 + 600,
                           log_file=out / f"{stem}.log", unset=("PYTHON_GIL",))
        except CommandError as exc:  # the outer timeout: the plugin never got to write
            crashed = exc.message
    duration = time.perf_counter() - start
    data = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    outcomes_file.unlink(missing_ok=True)
    outcomes: dict[str, str] = data.get("outcomes", {})
    counts = {k: sum(1 for o in outcomes.values() if o == k) for k in _COUNTED}
    failing = sorted(t for t, o in outcomes.items() if o in ("failed", "error"))
    if data.get("gil_reenabled_by"):
        crashed = f"the GIL was re-enabled during {data['gil_reenabled_by']}"
    elif got is not None and not data:
        crashed = f"pytest ended without a summary (exit {got.returncode}): killed by a timeout or crash"
    elif got is not None and got.returncode not in (0, 1):
        crashed = f"pytest exited with {got.returncode} (usage error, interrupted or internal error)"
    tsan: dict[str, object] = {}
    if opts.sanitizer:
        tsan = tsan_run.collect(out, stem)
        crashed = crashed or tsan_run.unparsed_message(tsan)
    if crashed:
        log.warn(f"{crashed}; see {out / f'{stem}.log'}")
    result = TestResult(
        variant=wheel.variant, numpy_version=wheel.numpy_version, suite=opts.suite, python=interp.short,
        counts=counts, failing=failing, duration_s=round(duration, 1), crashed=crashed,
        wheel=wheel.to_json(), interpreter=interp.to_json(), command=cmd, options=opts.to_json(),
        tsan=tsan, stress=attribution.stress_outcomes(outcomes),
    )
    paths.atomic_write_text(out / f"{stem}.json", json.dumps(asdict(result), indent=2) + "\n")
    return result


def newly_failing(failing: Iterable[str], baseline_failing: Iterable[str],
                  inherited: Iterable[str] = ()) -> list[str]:
    """The one rule of a new failure: failing here, not in baseline's run of the same NumPy, Python,
    suite and options, and not a stress case that inherits baseline's upstream flaw (``inherited``:
    :func:`attribution.inherited_tests`; ``test``, ``test-all`` and the report all ask this)."""
    return sorted(set(failing) - set(baseline_failing) - set(inherited))


def stress_words(result: TestResult, baseline: TestResult | None) -> dict[str, str]:
    """Each stress case of ``result`` attributed against ``baseline`` (its run, else the records)."""
    return attribution.attribute(result.stress, baseline.stress if baseline else None,
                                 result.numpy_version, result.python)


def new_failures(result: TestResult, baseline: TestResult) -> list[str]:
    """Failing tests baseline passes, then (under a sanitizer) ``race: ...`` for each new race."""
    inherited = attribution.inherited_tests(result.failing, stress_words(result, baseline))
    new = newly_failing(result.failing, baseline.failing, inherited)
    return new + tsan_run.new_races(result.tsan, baseline.tsan, result.numpy_version)


def _verdict(r: TestResult, new: list[str], baseline: TestResult | None) -> str:
    if r.crashed:
        return f"CRASHED: {r.crashed}"
    words = (attribution.baseline_summary(r.stress) if r.variant == BASELINE
             else attribution.summary(stress_words(r, baseline)))
    return "; ".join(filter(None, ["new failures" if new else "as baseline", words]))


def table(rows: list[tuple[TestResult, list[str]]], baseline: TestResult | None = None) -> str:
    """The console verdict: variant, passed, failed, new failures (markdown, so CI can reuse it), then
    the stress cases' words per variant. ``baseline``: baseline's result when it is not a row."""
    baseline = baseline or next((r for r, _ in rows if r.variant == BASELINE), None)
    lines = ["| variant | passed | failed | skipped | xfailed | new failures | verdict |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r, new in rows:
        lines.append(
            f"| {r.variant}{_ported(r)} | {r.counts['passed'] + r.counts['xpassed']} | "
            f"{r.counts['failed'] + r.counts['error']} | {r.counts['skipped']} | {r.counts['xfailed']} | "
            f"{len(new)} | {_verdict(r, new, baseline)} |"
        )
    detail = [f"- {r.variant}: {t}" for r, new in rows for t in new[:20]]
    known = known_upstream_notes(rows, baseline)
    cases = attribution.case_table(stress_columns([r for r, _ in rows], baseline), markdown=False)
    return "\n".join([*lines, *(["", "New failures:", *detail] if detail else []),
                      *(["", "Stress cases (against baseline's run, else its records in "
                         "numpy_extra/known_upstream.json):", "", *cases] if cases else []),
                      *(["", "Known upstream behaviour (baseline, from numpy_extra/known_upstream.json):",
                         *known] if known else []), *tsan_run.summary_lines(rows)])


def stress_columns(results: list[TestResult], baseline: TestResult | None,
                   ) -> list[tuple[str, dict[str, str]]]:
    """The stress-case table's columns: baseline's own outcomes, then each variant's words."""
    return [(r.variant, attribution.baseline_words(r.stress) if r.variant == BASELINE
             else stress_words(r, baseline)) for r in results if r.stress]


def _ported(r: TestResult) -> str:
    """`` (ported from 2.4.6)`` for a wheel built from a ported patch."""
    base = r.wheel.get("ported_from")
    return f" (ported from {base})" if base else ""


def known_upstream_notes(rows: list[tuple[TestResult, list[str]]], baseline: TestResult | None = None,
                         ) -> list[str]:
    """For stress-suite rows: the recorded baseline flaws of the cases baseline xfailed or a variant
    inherits or fixes."""
    named: set[tuple[str, str, str]] = set()
    for r, _ in rows:
        if r.suite != "stress":
            continue
        if r.variant == BASELINE:
            cases = {c for c, o in r.stress.items() if o == "xfailed"} or (
                set(attribution.recorded(r.numpy_version, r.python)) if r.counts.get("xfailed") else set())
        else:
            upstream = (attribution.INHERITS, attribution.FIXES)
            cases = {c for c, w in stress_words(r, baseline).items() if w in upstream}
        named |= {(r.numpy_version, r.python, c) for c in cases}
    return [f"- {case} (NumPy {v}): {reason}" for v, py, case in sorted(named)
            if (reason := attribution.recorded(v, py).get(case))]
