from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockswap.bench import schema
from lockswap.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bench"


def test_current_golden_file_loads_unchanged():
    raw = json.loads((FIXTURES / "results-v2.json").read_text())
    doc = schema.load(FIXTURES / "results-v2.json")
    assert doc == raw and doc["schema_version"] == schema.VERSION
    assert json.loads(schema.dumps(doc)) == raw  # writes what it reads


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
     ('{"kind": "lockswap-bench", "schema_version": 2, "measurements": []}', "missing"),
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
