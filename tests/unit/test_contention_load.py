"""The contention finder records the load at the start of its measurement and at its end, and says so."""

from __future__ import annotations

from pathlib import Path

from lockswap import cli
from lockswap.commands import contention as command
from lockswap.contention import render, runner


def test_load_is_read_before_discovery_and_after_the_last_process(tmp_path, monkeypatch):
    """Schema 2 read the load when the file was written (the end) and called it the load at start."""
    clock = {"load": 0.4}  # the 1-minute load "now"; discovery and measurement raise it
    monkeypatch.setattr(command.environment, "loadavg", lambda: clock["load"])
    real_machine = command.environment.machine
    monkeypatch.setattr(command.environment, "machine", lambda: {
        **real_machine(), "usable_cores": 2, "loadavg_at_start": [clock["load"], 0, 0]})
    monkeypatch.setattr(command, "target_python", lambda args, variant: (Path("py"), {"source": "test"}))
    monkeypatch.setattr(command, "perf_c2c", lambda: "not checked")

    def discover(python, kernel, **kw):
        clock["load"] = 1.2
        return {"candidates": [], "examined": 10, "iterations": 100, "samples": 5}, {"numpy_version": "2.5.5"}

    def measure(python, kernel, arms, **kw):
        clock["load"] = 1.7
        return [{"arm": "none", "repeat": r, "t1": 1.0, "tn": 1.25, "ratio": 0.8} for r in range(3)], []

    monkeypatch.setattr(runner, "discover", discover)
    monkeypatch.setattr(runner, "measure", measure)
    out = tmp_path / "c.json"
    assert cli.main(["contention", "--workload", "sin", "--repeats", "3", "--output", str(out)]) == 0
    doc = render.load(out)
    assert doc["schema_version"] == render.VERSION == 4
    assert doc["machine"]["loadavg_at_start"][0] == 0.4 and doc["machine"]["loadavg_at_end"] == 1.7
    assert "1-minute load 0.40 at the start of the measurement, 1.70 at its end." in render.markdown(doc)


def test_the_load_line_flags_a_busy_start_and_reads_older_files_for_what_they_are():
    doc = {"schema_version": 3, "machine": {"usable_cores": 2, "loadavg_at_start": [1.3, 1.0, 1.0],
                                            "loadavg_at_end": 1.5}}
    assert "a busy start, so the timed arms are exploratory" in render.load_line(doc)
    quiet = {**doc, "machine": {**doc["machine"], "loadavg_at_start": [0.9, 1.0, 1.0]}}
    assert "busy" not in render.load_line(quiet) and "0.90 at the start" in render.load_line(quiet)
    old = {**doc, "schema_version": 2}
    assert render.load_line(old).startswith("1-minute load when the file was written: 1.30 (schema 2")
    assert render.load_line({"schema_version": 3}) == "load: not recorded."
