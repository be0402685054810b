"""``bench --resume FILE``: finish an interrupted run with the same plan, the same wheels, the same lockswap.

Everything is checked before anything runs, and every difference is named in one message; a refused
resume writes nothing. The journal is a file like any other: every path it names must be the one this
run would use itself (``check_paths``), or the resume is refused before anything is deleted or run.
The targets are not rebuilt: each wheel must still be in the cache with the sha256 the run recorded
(a venv that was deleted is made again from that wheel).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..base import jsonfile, log, paths
from ..base.errors import ConfigError, LockswapError
from ..build import wheel as build
from ..interpreter import find as interpreter
from ..interpreter import venvs
from . import environment, journal, runner, workloads


def files(path: Path) -> tuple[Path, Path]:
    """``(results, journal)`` of ``--resume PATH`` (either of the two may be given)."""
    results = path.with_suffix(".json") if path.suffix == journal.SUFFIX else path
    jpath = journal.path_for(results)
    if not jpath.exists():
        try:
            doc = jsonfile.read(results)
        except jsonfile.BadJson:
            doc = None
        complete = doc.get("complete") if isinstance(doc, dict) else None
        if complete is True:
            raise ConfigError(f"{results} is complete: nothing to resume",
                              "start a new run with nox -s bench, or report it with nox -s report")
        raise ConfigError(f"cannot resume {path}: no journal {jpath.name} beside it",
                          "--resume takes the results file of an interrupted run (results/bench-*.json)")
    return results, jpath


def plan_of(start: dict[str, Any]) -> runner.Plan:
    p = start["plan"]
    return runner.Plan(
        workloads=tuple(workloads.get(w) for w in p["workloads"]), sizes=tuple(p["sizes"]),
        workers=tuple(p["workers"]), modes=tuple(p["modes"]), repeats=int(p["repeats"]),
        target_seconds=float(p["target_seconds"]), quick=bool(p.get("quick")), full=bool(p.get("full")),
        timeout=p.get("timeout"), upstream=p.get("upstream"))


def differences(start: dict[str, Any], *, given_plan: runner.Plan | None, given_labels: list[str] | None,
                worker_sha256: str, lockswap: dict[str, Any], machine: dict[str, Any]) -> list[str]:
    """What differs between the interrupted run and what would run now (empty: it may resume)."""
    diffs = []
    was, now = start["lockswap"].get("commit"), lockswap.get("commit")
    if was and now and was != now:
        diffs.append(f"lockswap version: the run was made by commit {was[:12]}, this is {now[:12]}")
    elif start.get("worker_sha256") != worker_sha256:
        diffs.append("lockswap version: the benchmark worker (bench/worker.py) changed since the run started")
    for name, old in start["workloads"].items():
        try:
            new = workloads.get(name).to_json()
        except ConfigError:
            diffs.append(f"workload {name!r} no longer exists")
            continue
        if any(old.get(k) != new[k] for k in ("setup", "kernel", "flops")):
            diffs.append(f"workload {name!r}: its source text changed since the run started")
    for key in ("hostname", "usable_cores"):
        if start["machine"].get(key) != machine.get(key):
            diffs.append(f"machine: {key} was {start['machine'].get(key)!r}, now {machine.get(key)!r}")
    if given_plan is not None:
        old_plan, new_plan = start["plan"], given_plan.to_json()
        for key, value in new_plan.items():
            if key != "order" and old_plan.get(key) != value:
                diffs.append(f"plan: {key} was {old_plan.get(key)!r}, the options given say {value!r}")
    if given_labels is not None:
        old_labels = [t["label"] for t in start["targets"]]
        if sorted(old_labels) != sorted(given_labels):
            diffs.append(f"variants: the run measures {','.join(old_labels)}, the options given say "
                         f"{','.join(given_labels)}")
    for t in start["targets"]:
        diffs += _target_differences(t)
    return diffs


_PYTHON_NAME = re.compile(r"(?i)python(\d+(\.\d+)*t?)?(\.exe)?")


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is strictly inside ``root`` once symlinks and ``..`` are resolved."""
    try:
        return path.resolve().is_relative_to(root.resolve()) and path.resolve() != root.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def _found_interpreter(info: dict[str, Any]) -> Path | None:
    """The free-threaded interpreter of the run's version this machine finds (never builds one)."""
    version, ft = str(info.get("version") or ""), bool(info.get("free_threaded"))
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        return None
    try:
        return interpreter.find(want=f"{m[1]}.{m[2]}{'t' if ft else ''}", build_if_missing=False).path
    except LockswapError:
        return None


def path_problems(t: dict[str, Any]) -> list[str]:
    """Each path of journal target ``t`` that is not what this run would use, naming its field."""
    label = t.get("label")
    python = Path(str(t.get("python") or ""))
    if not t.get("wheel_file"):  # --use-python: the user's own environment, never deleted
        return [] if _PYTHON_NAME.fullmatch(python.name) and not python.is_dir() else [
            f"{label}: python {python} is not a Python executable"]
    info: dict[str, Any] = t["info"] if isinstance(t.get("info"), dict) else {}
    key, name = str(info.get("key") or ""), str(info.get("wheel") or "")
    problems = []
    wheel = Path(str(t["wheel_file"]))
    store = paths.cache_root() / "wheels"
    if not (name.endswith(".whl") and wheel == build.store_dir(key) / name and _inside(wheel, store)):
        problems.append(f"{label}: wheel_file {wheel} is not the wheel store's file of key {key!r} "
                        f"under {store}")
    facts: dict[str, Any] = info["interpreter"] if isinstance(info.get("interpreter"), dict) else {}
    interp_path = Path(str(facts.get("path") or ""))
    if not _inside(interp_path, paths.cache_root()) and interp_path != _found_interpreter(facts):
        problems.append(f"{label}: interpreter path {interp_path} is neither in lockswap's cache "
                        f"({paths.cache_root()}) nor the free-threaded Python this machine finds")
    interp = interpreter.Interpreter(interp_path, str(facts.get("version") or ""),
                                     bool(facts.get("free_threaded")), str(facts.get("build") or ""),
                                     str(facts.get("compiler") or ""))
    venv, want = Path(str(t.get("venv") or "")), runner.venv_path(interp, key)
    if venv != want or not _inside(venv, paths.cache_root() / "venvs"):
        problems.append(f"{label}: venv {venv} is not the bench venv this run would use ({want})")
    elif python != venvs.python_of(venv):
        problems.append(f"{label}: python {python} is not its venv's python ({venvs.python_of(venv)})")
    return problems


def check_paths(results: Path, start: dict[str, Any]) -> None:
    """Refuse a journal that names a wheel, venv, python or interpreter this run would not use itself:
    a resume deletes and remakes a venv that is gone, and runs the recorded pythons."""
    problems = [p for t in start.get("targets") or [] for p in path_problems(t)]
    if problems:
        raise ConfigError(f"cannot resume {results}: {'; '.join(problems)} (nothing was deleted or run)",
                          "the journal was edited or comes from another cache: start a new run "
                          "(nox -s bench with the options you want)")


def _target_differences(t: dict[str, Any]) -> list[str]:
    label = t["label"]
    if not t.get("wheel_file"):  # --use-python: an existing environment
        return [] if Path(t["python"]).exists() else [f"{label}: its python {t['python']} no longer exists"]
    wheel = Path(t["wheel_file"])
    if not wheel.exists():
        return [f"{label}: its wheel {wheel.name} no longer exists (was {wheel})"]
    if paths.sha256_file(wheel) != t["wheel_sha256"]:
        return [f"{label}: its wheel {wheel.name} changed (sha256 differs from the run's)"]
    interp = Path(t["info"].get("interpreter", {}).get("path", ""))
    if not Path(t["python"]).exists() and not interp.exists():
        return [f"{label}: neither its venv nor its interpreter {interp} exists any more"]
    return []


def targets(start: dict[str, Any]) -> list[runner.Target]:
    """The run's targets, their venvs made again from the recorded wheels where they were deleted."""
    out = []
    for t in start["targets"]:
        python = Path(t["python"])
        if t.get("wheel_file") and not python.exists():
            interp = interpreter.inspect(t["info"]["interpreter"]["path"])
            venv = Path(t["venv"])
            with log.step(f"bench venv for {t['label']} (made again from {Path(t['wheel_file']).name})"):
                python = venvs.ensure(interp, venv, [Path(t["wheel_file"]), *runner.BENCH_REQUIREMENTS])
        out.append(runner.Target(t["label"], python, t["info"], t["variant"], t["numpy_version"]))
    return out


def refuse_if_different(results: Path, start: dict[str, Any], **current: Any) -> None:
    diffs = differences(start, worker_sha256=environment.worker_sha256(),
                        lockswap=environment.lockswap_commit(), machine=environment.machine(), **current)
    if diffs:
        raise ConfigError(f"cannot resume {results}: {'; '.join(diffs)} (nothing was changed)",
                          "start a new run (nox -s bench with the options you want); the interrupted "
                          "file keeps what it measured")
