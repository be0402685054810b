"""Every JSON lockswap writes starts with the same envelope: kind, schema_version, created."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from lockswap.base import proc
from lockswap.commands import bench_build as buildbench
from lockswap.interpreter import find as interpreter

CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def test_bench_build_json_has_the_envelope(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKSWAP_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LOCKSWAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(interpreter, "find", lambda *a, **k: SimpleNamespace(path=Path("/ft/python3.13t")))
    builds: list[list[str]] = []
    clock = iter(range(0, 100, 5))
    monkeypatch.setattr(buildbench.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(proc, "run", lambda cmd, **kw: builds.append([str(c) for c in cmd]))
    args = SimpleNamespace(numpy="2.1.3", first="baseline", second="rwlock")
    assert buildbench.run(args) == 0
    assert [b[b.index("--variant") + 1] for b in builds] == ["baseline", "rwlock", "baseline"]
    (out,) = (tmp_path / "results").glob("*.json")
    data = json.loads(out.read_text())
    assert data["kind"] == "lockswap-bench-build" and data["schema_version"] == 2
    assert CREATED.fullmatch(data["created"]) and "date" not in data and "schema" not in data
    assert set(data["seconds"]) == {"cold", "second_variant", "unchanged"}
