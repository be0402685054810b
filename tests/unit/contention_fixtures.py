"""Shared fixtures of the contention tests: synthetic per-process runs and a results document."""

from __future__ import annotations

import random

from lockswap.contention import analysis, render


def runs(means: dict[str, float], n: int = 12, sd: float = 0.01) -> list[dict]:
    rng = random.Random(7)
    return [{"arm": arm, "ratio": m + rng.gauss(0, sd), "t1_ns": 500.0} for arm, m in means.items()
            for _ in range(n)]


ARMS = {
    "none": {"label": "unmodified"},
    "c1": {"label": "np._core._multiarray_umath._extobj_contextvar.get()", "type": "PyCapsule",
           "repr": "<c>"},
    "c2": {"label": "add", "type": "ufunc", "repr": "<ufunc 'add'>"},
    "c3": {"label": "np.ndarray", "type": "type", "repr": "<class>"},
    "all": {"label": "everything at once"},
}


def doc() -> dict:
    arms = {**ARMS, "c1": {**ARMS["c1"], "locators": ["cap"]}, "c2": {**ARMS["c2"], "locators": ["add"]},
            "all": {**ARMS["all"], "locators": ["cap", "add"]}}
    rows = analysis.rank(runs({"none": 0.87, "c1": 0.91, "c2": 0.94, "all": 0.99}), arms)
    return {
        "kind": render.KIND, "schema_version": render.VERSION, "created": "2026-11-30T03:00:00Z",
        "target": {"label": "lockfree", "numpy_version": "2.1.3"},
        "workload": {"name": "add", "size": 1},
        "plan": {"workers": 2, "repeats": 12, "iterations": 1000},
        "discovery": {"examined": 700, "already_immortal": 90, "samples": 4000, "candidates": [
            {"locator": "add", "type": "ufunc", "type_module": "numpy", "repr": "<ufunc 'add'>", "busy": 1600,
             "changes": 12, "samples": 4000, "via": ["kernel name `add`"]}]},
        "ranking": [r.to_json() for r in rows], "failures": [], "refused": [],
        "perf_c2c": "not usable on this machine",
    }
