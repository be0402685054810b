from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockswap.base.errors import ConfigError
from lockswap.bench import schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"


def test_current_golden_file_loads_unchanged():
    raw = json.loads((FIXTURES / "results-v4.json").read_text())
    doc = schema.load(FIXTURES / "results-v4.json")
    assert doc == raw and doc["schema_version"] == schema.VERSION == 4
    assert json.loads(schema.dumps(doc)) == raw  # writes what it reads
    assert doc["failures"][0]["kind"] == "timeout" and doc["complete"] is True
    assert doc["machine"]["loadavg_at_end"] == 1.42 and doc["plan"]["upstream"] is None
    assert all("load" in m and "foreign_cpu" in m for m in doc["measurements"])


def test_v3_golden_file_is_migrated_with_null_disturbance_fields():
    raw = json.loads((FIXTURES / "results-v3.json").read_text())
    doc = schema.load(FIXTURES / "results-v3.json")
    assert doc["schema_version"] == 4 and "seed" not in doc["plan"] and doc["plan"]["upstream"] is None
    assert doc["machine"]["loadavg_at_end"] is None
    assert [m["seconds"] for m in doc["measurements"]] == [m["seconds"] for m in raw["measurements"]]
    assert all(m["load"] is None and m["foreign_cpu"] is None for m in doc["measurements"])


def test_v2_golden_file_is_migrated_with_explicit_fields():
    raw = json.loads((FIXTURES / "results-v2.json").read_text())
    doc = schema.load(FIXTURES / "results-v2.json")
    assert doc["schema_version"] == 4 and doc["failures"] == [] and doc["complete"] is True
    assert doc["variants"]["rwlock"]["label"] == "rwlock"
    assert doc["variants"]["rwlock"]["numpy_version"] == "2.1.3"
    assert len(doc["measurements"]) == len(raw["measurements"])
    for m in doc["measurements"]:
        assert m["target"] == m["variant"] and m["numpy_version"] == "2.1.3"


def test_v2_label_with_another_numpy_gets_explicit_variant_and_version():
    raw = json.loads((FIXTURES / "results-v2.json").read_text())
    raw["variants"]["baseline@2.2.6"] = {**raw["variants"]["baseline"], "variant": "baseline",
                                         "numpy_version": "2.2.6"}
    raw["variants"]["baseline@2.2.6"]["worker"] = {**raw["variants"]["baseline"]["worker"],
                                                   "numpy_version": "2.2.6"}
    raw["measurements"].append({**raw["measurements"][0], "variant": "baseline@2.2.6"})
    doc = schema.upgrade(raw)
    t = doc["variants"]["baseline@2.2.6"]
    assert (t["label"], t["variant"], t["numpy_version"]) == ("baseline@2.2.6", "baseline", "2.2.6")
    m = doc["measurements"][-1]
    assert (m["target"], m["variant"], m["numpy_version"]) == ("baseline@2.2.6", "baseline", "2.2.6")


def test_real_v2_results_migrate(tmp_path):
    data = Path(__file__).parents[2] / "docs" / "data" / "2026-11-25" / "bench-tight-A.json"
    doc = schema.load(data)
    labels = {(m["target"], m["variant"], m["numpy_version"]) for m in doc["measurements"]}
    assert ("baseline@2.5.5", "baseline", "2.5.5") in labels and ("rwlock", "rwlock", "2.1.3") in labels


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("failures"), "missing failures"),
    (lambda d: d.update(complete="yes"), "'complete' must be"),
    (lambda d: d["measurements"][0].pop("target"), "lacks one of target"),
    (lambda d: d["variants"]["rwlock"].pop("numpy_version"), "target 'rwlock' lacks"),
    (lambda d: d["failures"][0].update(kind="oops"), "kind 'oops'"),
    (lambda d: d["failures"][0].pop("stderr_tail"), "failure 0 lacks"),
])
def test_v4_validation(change, message):
    doc = json.loads((FIXTURES / "results-v4.json").read_text())
    change(doc)
    with pytest.raises(ConfigError, match=message):
        schema.upgrade(doc)


def test_v1_golden_file_is_migrated():
    doc = schema.load(FIXTURES / "results-v1.json")
    assert doc["schema_version"] == schema.VERSION and doc["kind"] == schema.KIND
    assert doc["machine"]["hostname"] == "oldbox" and doc["lockswap"]["commit"] == "fedcba98"
    assert set(doc["variants"]) == {"baseline", "rwlock"}
    m = next(m for m in doc["measurements"]
             if (m["variant"], m["mode"], m["workers"], m["repeat"]) == ("rwlock", "threads", 4, 2))
    assert m["size"] == 1000 and m["workload"] == "add"
    assert m["flops"] / m["seconds"] / 1e6 == pytest.approx(482.0)  # v1 stored MFLOPS; kept exactly
    assert doc["plan"]["repeats"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not valid JSON"),
     ('{"kind": "something-else", "schema_version": 1}', "is not a lockswap benchmark result"),
     ("[1, 2]", "not a JSON object"),
     ('{"kind": "lockswap-bench", "schema_version": 99}', "schema version 99"),
     ('{"kind": "lockswap-bench", "schema_version": 4, "measurements": []}', "missing"),
     ('{"kind": "lockswap-bench", "schema_version": 3, "measurements": []}', "malformed schema version 3"),
     ('{"kind": "lockswap-bench", "schema_version": 2, "measurements": []}', "malformed schema version 2"),
     ('{"format": "lockswap-bench-v1", "results": [{"variant": "x"}]}', "malformed schema version 1")],
)
def test_bad_files_get_one_clear_message(tmp_path, content, message):
    f = tmp_path / "r.json"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        schema.load(f)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        schema.load(tmp_path / "missing.json")


def test_measurement_without_time_is_rejected():
    doc = json.loads((FIXTURES / "results-v2.json").read_text())
    doc["measurements"][0]["seconds"] = 0
    with pytest.raises(ConfigError, match="positive 'seconds'"):
        schema.upgrade(doc)
