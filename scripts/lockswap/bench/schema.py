"""The results JSON of ``lockswap bench``: versioned, validated on read, older versions migrated.

Version history (documented in docs/bench.md):
- 1: the branch's draft layout, never released: ``env`` (machine facts) and a flat ``results``
  list of ``{variant, workload, n, threads|processes, repeat, seconds, mflops}``. Kept readable
  so the migration path is exercised by a golden file.
- 2: ``machine``, ``plan``, ``workloads`` (source text + FLOP formula), ``variants`` (wheel and
  in-worker environment) and ``measurements`` with per-cell FLOPs and calls.
- 3: explicit ``variant``/``numpy_version`` (and ``label``) on every target and ``target``/``variant``/
  ``numpy_version`` on every measurement (nobody splits ``baseline@2.2.6`` any more), ``failures``,
  ``complete``, ``plan.timeout_seconds``, ``machine.physical_cores``/``smt_siblings``, optional ``ci``.
  Migrating a version 2 file is the one place a label is split on "@".
- 4: what tells a quiet run from a disturbed one: per measurement ``load`` (1-minute load average
  when the cell began and ended) and ``foreign_cpu`` (the share of the affinity mask's CPU time that
  other processes took while the cell ran; Linux, threads mode; else null), ``machine.loadavg_at_end``
  and the settle wait before the run (``machine.settle_seconds``), and ``plan.upstream`` (the label of
  the newest NumPy release measured as the upstream bar, or null). ``plan.seed`` is gone (it was
  always 0). Migrating a version 3 file fills these with null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base.errors import ConfigError

KIND = "lockswap-bench"
VERSION = 4

TOP_KEYS = ("kind", "schema_version", "created", "lockswap", "machine", "plan", "workloads", "variants",
            "measurements", "failures", "complete")
MEASUREMENT_KEYS = ("target", "variant", "numpy_version", "workload", "size", "mode", "workers", "repeat",
                    "iterations", "calls", "flops", "seconds")
TARGET_KEYS = ("label", "variant", "numpy_version")
FAILURE_KEYS = ("target", "variant", "numpy_version", "workload", "size", "mode", "workers", "repeat", "kind",
                "error", "stderr_tail", "seconds")
FAILURE_KINDS = ("exception", "crash", "timeout")


def _from_v1(doc: dict[str, Any]) -> dict[str, Any]:
    env = doc.get("env", {})
    measurements = []
    workloads: dict[str, dict[str, Any]] = {}
    for r in doc["results"]:
        mode = "threads" if "threads" in r else "processes"
        workers = int(r[mode])
        flops = float(r["mflops"]) * 1e6 * float(r["seconds"])
        measurements.append({
            "variant": r["variant"], "workload": r["workload"], "size": int(r["n"]), "mode": mode,
            "workers": workers, "repeat": int(r["repeat"]), "iterations": None, "calls": None,
            "flops": flops, "seconds": float(r["seconds"]),
        })
        workloads.setdefault(r["workload"], {"description": r["workload"], "flops": None})
    variants = {m["variant"]: {"numpy_version": doc.get("numpy"), "patch_sha256": None}
                for m in measurements}
    return {
        "kind": KIND, "schema_version": 2, "created": doc.get("date"),
        "lockswap": {"commit": doc.get("commit")},
        "machine": {"hostname": env.get("host"), "cpu_model": env.get("cpu"),
                    "logical_cores": env.get("cores"), "os": env.get("os")},
        "plan": {"repeats": max((m["repeat"] for m in measurements), default=-1) + 1},
        "workloads": workloads, "variants": variants, "measurements": measurements,
    }


def _from_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Explicit variant and NumPy version everywhere: ``a@b`` is variant a of NumPy b, any other
    label is the variant of the entry's own NumPy version (as measured in the worker, else the wheel's,
    else the plan's)."""
    plan_numpy = doc.get("plan", {}).get("numpy")
    targets: dict[str, dict[str, Any]] = {}
    for label in {*doc["variants"], *(m["variant"] for m in doc["measurements"])}:
        entry = dict(doc["variants"].get(label) or {})
        name, at, numpy = str(label).partition("@")
        worker_numpy = (entry.get("worker") or {}).get("numpy_version")
        entry["variant"] = entry.get("variant") or name
        entry["numpy_version"] = numpy if at else (worker_numpy or entry.get("numpy_version") or plan_numpy)
        entry["label"] = label
        targets[label] = entry
    measurements = [{**m, "target": m["variant"], "variant": targets[m["variant"]]["variant"],
                     "numpy_version": targets[m["variant"]]["numpy_version"]} for m in doc["measurements"]]
    variants = {label: targets[label] for label in doc["variants"]}
    variants.update({label: t for label, t in targets.items() if label not in variants})
    return {**doc, "schema_version": 3, "variants": variants, "measurements": measurements,
            "failures": [], "complete": True}


def _from_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Nothing was recorded about disturbance or an upstream build: null everywhere."""
    plan = {k: v for k, v in doc["plan"].items() if k != "seed"}
    plan.setdefault("upstream", None)
    machine = {**doc["machine"], "loadavg_at_end": doc["machine"].get("loadavg_at_end")}
    measurements = [{**m, "load": m.get("load"), "foreign_cpu": m.get("foreign_cpu")}
                    for m in doc["measurements"]]
    return {**doc, "schema_version": 4, "plan": plan, "machine": machine, "measurements": measurements}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_v1, 2: _from_v2, 3: _from_v3}


def _version(doc: dict[str, Any]) -> int | None:
    if doc.get("kind") == KIND:
        return doc.get("schema_version") if isinstance(doc.get("schema_version"), int) else None
    if doc.get("format") == "lockswap-bench-v1":  # the v1 marker
        return 1
    return None


def upgrade(doc: Any, where: str = "results") -> dict[str, Any]:
    """Validate ``doc`` and migrate it to the current version."""
    hint = "pass results JSON written by `lockswap bench` (results/bench-*.json)"
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} is not a lockswap benchmark result (not a JSON object)", hint)
    version = _version(doc)
    if version is None:
        raise ConfigError(f"{where} is not a lockswap benchmark result (no kind/schema_version)", hint)
    if version > VERSION:
        raise ConfigError(
            f"{where} has schema version {version}; this lockswap reads up to {VERSION}",
            "update lockswap (git pull) to read it",
        )
    while version < VERSION:
        if version not in MIGRATIONS:
            raise ConfigError(f"{where}: schema version {version} is not supported", hint)
        try:
            doc = MIGRATIONS[version](doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: malformed schema version {version} file ({exc!r})", hint) from exc
        version = doc["schema_version"]
    validate(doc, where)
    return doc


def validate(doc: dict[str, Any], where: str = "results") -> None:
    missing = [k for k in TOP_KEYS if k not in doc]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}", "the file is truncated or hand-edited")
    bad = "the file is truncated or hand-edited"
    for name in ("measurements", "failures"):
        if not isinstance(doc[name], list):
            raise ConfigError(f"{where}: {name!r} must be a list", bad)
    if not isinstance(doc["complete"], bool):
        raise ConfigError(f"{where}: 'complete' must be true or false", bad)
    if not isinstance(doc["variants"], dict):
        raise ConfigError(f"{where}: 'variants' must be an object", bad)
    for label, t in doc["variants"].items():
        if not isinstance(t, dict) or any(k not in t for k in TARGET_KEYS) or t["label"] != label:
            raise ConfigError(f"{where}: target {label!r} lacks one of {', '.join(TARGET_KEYS)}", bad)
    for i, m in enumerate(doc["measurements"]):
        if not isinstance(m, dict) or any(k not in m for k in MEASUREMENT_KEYS):
            raise ConfigError(f"{where}: measurement {i} lacks one of {', '.join(MEASUREMENT_KEYS)}", bad)
        if not (isinstance(m["seconds"], (int, float)) and m["seconds"] > 0):
            raise ConfigError(f"{where}: measurement {i} has no positive 'seconds'", "rerun the bench")
    for i, f in enumerate(doc["failures"]):
        if not isinstance(f, dict) or any(k not in f for k in FAILURE_KEYS):
            raise ConfigError(f"{where}: failure {i} lacks one of {', '.join(FAILURE_KEYS)}", bad)
        if f["kind"] not in FAILURE_KINDS:
            raise ConfigError(f"{where}: failure {i} has kind {f['kind']!r}, not one of "
                              f"{', '.join(FAILURE_KINDS)}", bad)


def load(path: Path) -> dict[str, Any]:
    """Read one results file, any supported version, as the current version."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check the path") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc})", "pass results/bench-*.json files") from exc
    return upgrade(doc, str(path))


def dumps(doc: dict[str, Any]) -> str:
    validate(doc)
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"
