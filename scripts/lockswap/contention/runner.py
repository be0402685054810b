"""Host side of the contention finder: run the probe in the variant's venv, schedule counterfactuals.

Every probe run is its own process (the unit of replication, as in the bench). Arms ("none" =
unmodified, one per candidate, "all" = every candidate at once and, with three or more
candidates, "all but X" for each, and "layout": nothing immortal, an idle thread started between
consecutive workers) take turns in an order shuffled per repeat. A process that
crashes or times out is recorded for its arm only; an arm that crashes twice is dropped; a
candidate the probe refuses to make immortal is reported and dropped, and the other arms go on.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base import log, proc, stats
from ..base.errors import CommandError, ConfigError, LockswapError
from ..bench import process as bench_process
from . import analysis

PROBE = Path(__file__).with_name("probe.py")
REFUSED_EXIT = 3  # probe.REFUSED_EXIT (the probe is a standalone script: not imported here)
MAX_CRASHES = 2


@dataclass(frozen=True)
class Kernel:
    name: str
    setup: str
    kernel: str
    size: int
    source: str  # "workload" or the kernel file's path


@dataclass(frozen=True)
class Outcome:
    """What one probe process said: its JSON events, exit code and the tail of its other output."""

    events: list[dict[str, Any]]
    returncode: int | None  # None: timed out
    tail: str

    def first(self, event: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == event), None)


def run_probe(python: Path, spec: dict[str, Any], timeout: float) -> Outcome:
    """Run the probe with ``spec``; never raises for the probe's own failure (the caller records it)."""
    with tempfile.TemporaryDirectory(prefix="lockswap-contention-") as tmp:
        path = Path(tmp) / "spec.json"
        path.write_text(json.dumps({**spec, "worker": str(bench_process.WORKER)}), encoding="utf-8")
        try:
            done = proc.run([python, PROBE, path], check=False, echo=False, timeout=timeout,
                            env=bench_process.worker_env(), cwd=Path(tmp),
                            unset=("PYTHONPATH", "PYTHONHOME"))
        except CommandError as exc:  # timeout
            return Outcome([], None, str(exc))
    events, other = [], []
    for line in done.stdout.splitlines():
        if line.startswith('{"event"'):
            try:
                events.append(json.loads(line))
                continue
            except ValueError:
                pass
        other.append(line)
    return Outcome(events, done.returncode, "\n".join(other[-30:]))


def discover(python: Path, kernel: Kernel, *, target_seconds: float, sample_seconds: float,
             timeout: float, sweep: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Candidates (the probe's ``candidates`` event) and the worker environment."""
    spec = {"mode": "discover", "setup": kernel.setup, "kernel": kernel.kernel, "size": kernel.size,
            "target_seconds": target_seconds, "sample_seconds": sample_seconds, "sweep": sweep}
    out = run_probe(python, spec, timeout)
    error = out.first("error")
    if error is not None:
        raise ConfigError(f"contention discovery: {error['message']}",
                          "use the variant's free-threaded venv (drop --use-python, or give a 3.13t one)")
    found, env = out.first("candidates"), out.first("env")
    if out.returncode != 0 or found is None or env is None:
        status = "timed out" if out.returncode is None else f"exit {out.returncode}"
        raise CommandError(f"contention discovery failed ({status}) for kernel {kernel.name!r}",
                           "check that the kernel runs in the bench (nox -s bench -- --workloads ...)",
                           output_tail=out.tail)
    env.pop("event", None)
    return found, env


@dataclass
class Arm:
    name: str
    locators: list[str]
    info: dict[str, Any]
    crashes: int = 0
    refused: str | None = None
    immortalized: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    spacers: int = 0  # idle threads started between consecutive workers (the layout arm)


def layout_arm() -> Arm:
    """The counterfactual that is not an object: the same kernel with the workers' per-thread interpreter
    state kept apart (one idle thread started between consecutive workers). On CPython 3.13t each
    thread's QSBR slot sits 64 bytes after the previous thread's, in an array that need not be
    cache-line aligned; neighbouring slots of two running threads cost the upper one up to a fifth of
    its speed on an Intel Xeon VM (docs/measurements.md). A NumPy patch cannot move them."""
    return Arm(analysis.LAYOUT, [], {"label": "threads' interpreter state apart (idle thread between "
                                              "workers)", "type": "thread layout", "repr": ""}, spacers=1)


def make_arms(candidates: Sequence[dict[str, Any]], limit: int, layout: bool = True
              ) -> tuple[list[Arm], list[dict[str, Any]]]:
    """One arm per immortalisable candidate (at most ``limit``, most-written first), plus none and all,
    and (``layout``) the thread-layout arm.

    Returns the arms and the candidates left out, each with the reason.
    """
    arms = [Arm(analysis.NONE, [], {"label": "unmodified", "type": "", "repr": ""})]
    left_out: list[dict[str, Any]] = []
    chosen: list[dict[str, Any]] = []
    for c in candidates:
        if c.get("immortal_refused"):
            left_out.append({**c, "why": f"cannot be made immortal: {c['immortal_refused']}"})
        elif len(chosen) >= limit:
            left_out.append({**c, "why": f"beyond --max-candidates {limit}"})
        else:
            chosen.append(c)
    for i, c in enumerate(chosen, 1):
        info = {"label": c["locator"], "type": c["type"], "repr": c["repr"]}
        arms.append(Arm(f"c{i}", [c["locator"]], info))
    if len(chosen) > 1:
        arms.append(Arm(analysis.ALL, [c["locator"] for c in chosen],
                        {"label": "everything at once", "type": "", "repr": f"{len(chosen)} objects"}))
    if len(chosen) > 2:  # with two candidates, "all but one" is the other one's own arm
        for i, c in enumerate(chosen, 1):
            arms.append(Arm(f"{analysis.ALL_BUT}c{i}", [o["locator"] for o in chosen if o is not c],
                            {"label": f"everything but {c['locator']}", "type": "",
                             "repr": f"{len(chosen) - 1} objects"}))
    if layout:
        arms.append(layout_arm())
    return arms, left_out


def measure(python: Path, kernel: Kernel, arms: list[Arm], *, iterations: int, workers: int, repeats: int,
            timeout: float, seed: int = 0, on_done: Callable[[], None] = lambda: None
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every arm ``repeats`` times, interleaved; return (runs, failures)."""
    runs: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = list(arms)
        random.Random(seed * 1000 + repeat).shuffle(order)
        counts = [1, workers] if repeat % 2 == 0 else [workers, 1]
        for arm in order:
            if arm.refused is not None or arm.crashes >= MAX_CRASHES:
                continue
            spec = {"mode": "measure", "setup": kernel.setup, "kernel": kernel.kernel, "size": kernel.size,
                    "iterations": iterations, "workers": counts, "immortalize": arm.locators,
                    "skip_refused": analysis.is_set_arm(arm.name), "spacers": arm.spacers}
            out = run_probe(python, spec, timeout)
            on_done()
            refused = out.first("refused")
            if out.returncode == REFUSED_EXIT and refused is not None:
                arm.refused = f"{refused['locator']}: {refused['reason']}"
                log.warn(f"contention: {arm.info['label']} cannot be made immortal: {refused['reason']}")
                continue
            cells = {e["workers"]: e["seconds"] for e in out.events if e.get("event") == "cell"}
            each = next((e.get("per_worker") for e in out.events
                         if e.get("event") == "cell" and e["workers"] == workers), None)
            if out.returncode != 0 or set(cells) != {1, workers}:
                arm.crashes += 1
                kind = "timeout" if out.returncode is None else "crash"
                failures.append({"arm": arm.name, "label": arm.info["label"], "repeat": repeat, "kind": kind,
                                 "returncode": out.returncode, "stderr_tail": out.tail})
                log.warn(f"contention: {arm.info['label']} repeat {repeat + 1}: {kind} "
                         f"(exit {out.returncode}); other arms go on")
                continue
            done = out.first("immortalized") or {}
            if not arm.immortalized:
                arm.immortalized, arm.skipped = done.get("objects", []), done.get("skipped", [])
            t1, tn = cells[1], cells[workers]
            runs.append({"arm": arm.name, "repeat": repeat, "t1": t1, "tN": tn, "ratio": t1 / tn,
                         "t1_ns": t1 / iterations * 1e9, "order": counts,
                         "spread": stats.spread(each) if each else None})
    return runs, failures


def check_python(python: Path) -> None:
    if not Path(python).exists():
        raise LockswapError(f"no interpreter at {python}", "pass an existing venv's python to --use-python")
