"""The run's journal: every finished cell on disk as it completes, folded into the results JSON.

``results/bench-X.jsonl`` sits beside ``results/bench-X.json``. One JSON object per line, appended,
flushed and fsync'd per record, so a crash loses at most the cell in progress:

- ``{"event": "start", ...}``: everything the results need besides the cells (created, lockswap
  commit, worker sha256, machine, plan, workloads, targets with their wheels and pythons);
- ``{"event": "calibration", "iterations", "seconds_per_call", "timeout_seconds"}``;
- ``{"event": "env", "target", "env"}``: what the target's worker reported;
- ``{"event": "measurement", ...}`` and ``{"event": "failure", ...}``: one finished cell each;
- ``{"event": "resume", "at"}``: a ``--resume`` continued the run here;
- ``{"event": "end", "loadavg"}``: the run measured its last cell (the load it ended with).

:func:`fold` turns the lines into the results document (``complete`` is true once every cell of the
plan is a measurement or a failure); a truncated last line (the process was killed mid-write) is
ignored. The journal is deleted once a complete results file is in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from ..base.errors import ConfigError
from . import runner, schema

SUFFIX = ".jsonl"


def path_for(results: Path) -> Path:
    return results.with_suffix(SUFFIX)


class Journal:
    """Append-only, one fsync'd line per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # a kill mid-write left half a line: cut it, or the next record joins it
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with path.open("r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
        self._fh: IO[str] = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, sort_keys=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: Path) -> list[dict[str, Any]]:
    """The journal's records; a truncated or corrupt last line (a kill mid-write) is dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the journal {path}: {exc.strerror or exc}",
                          "resume needs the .jsonl file written beside the results file") from exc
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:
                break
            raise ConfigError(f"{path}: line {i + 1} is not JSON", "the journal was edited; "
                              "start a new run") from None
    if not records or records[0].get("event") != "start":
        raise ConfigError(f"{path} is not a lockswap bench journal (no start record)", "start a new run")
    return records


def expected_cells(start: dict[str, Any]) -> set[runner.CellKey]:
    """Every cell of the plan recorded in a start record."""
    plan, defs = start["plan"], start["workloads"]
    out: set[runner.CellKey] = set()
    for t in start["targets"]:
        for w in plan["workloads"]:
            fixed = defs[w].get("fixed_size")
            for n in [fixed] if fixed is not None else plan["sizes"]:
                for mode in plan["modes"]:
                    for k in plan["workers"]:
                        for r in range(plan["repeats"]):
                            out.add((t["label"], w, int(n), mode, int(k), r))
    return out


def done_cells(records: list[dict[str, Any]]) -> set[runner.CellKey]:
    return {runner.key_of(r) for r in records if r.get("event") in ("measurement", "failure")}


def fold(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The results document of the journal's records (schema of ``schema.VERSION``)."""
    start = records[0]
    calibration: dict[str, Any] = next((r for r in reversed(records) if r.get("event") == "calibration"), {})
    envs = {r["target"]: r["env"] for r in records if r.get("event") == "env"}
    seen: set[runner.CellKey] = set()
    measurements: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for r in records:
        if r.get("event") not in ("measurement", "failure"):
            continue
        key = runner.key_of(r)
        if key in seen:  # never twice, whatever happened to the journal
            continue
        seen.add(key)
        body = {k: v for k, v in r.items() if k != "event"}
        (measurements if r["event"] == "measurement" else failures).append(body)
    variants: dict[str, Any] = {}
    for t in start["targets"]:
        variants[t["label"]] = {**t["info"], "label": t["label"], "variant": t["variant"],
                                "numpy_version": t["numpy_version"], "worker": envs.get(t["label"], {})}
    plan = {**start["plan"], "numpy": start["numpy"], "iterations": calibration.get("iterations", {}),
            "timeout_seconds": calibration.get("timeout_seconds")}
    end: dict[str, Any] = next((r for r in reversed(records) if r.get("event") == "end"), {})
    machine = {**start["machine"], "loadavg_at_end": end.get("loadavg")}
    return {
        "kind": schema.KIND, "schema_version": schema.VERSION, "created": start["created"],
        "lockswap": start["lockswap"], "machine": machine, "plan": plan,
        "workloads": start["workloads"], "variants": variants, "measurements": measurements,
        "failures": failures, "complete": expected_cells(start) <= seen,
    }
