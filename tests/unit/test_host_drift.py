"""tools/host_drift.py reads bench results and separates a host that drifts from noise in each process."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SCRIPT = REPO / "tools" / "host_drift.py"


def _tool():
    spec = importlib.util.spec_from_file_location("host_drift", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(tmp_path: Path, factor, name: str) -> Path:
    """A schema-4 run: baseline and rwlock (10 % slower), 16 rounds, 1 thread, ``factor(round)`` common
    to both builds of a round, and a small seeded noise per process."""
    doc = json.loads((REPO / "tests" / "fixtures" / "bench" / "results-v4.json").read_text())
    template = doc["measurements"][0]
    rng = random.Random(7)
    doc["measurements"], doc["failures"] = [], []
    for r in range(16):
        for variant, ns in (("baseline", 100.0), ("rwlock", 110.0)):
            m = copy.deepcopy(template)
            m.update(variant=variant, target=variant, repeat=r, workers=1, iterations=1000,
                     seconds=ns * factor(r) * (1 + rng.uniform(-0.01, 0.01)) * 1000 / 1e9)
            doc["measurements"].append(m)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def _rows(out: str) -> dict[str, list[str]]:
    return {cols[1]: cols for cols in (line.split(" | ") for line in out.splitlines())
            if len(cols) > 5 and cols[0] == "| 2.1.3"}


def test_a_drifting_host_shows_as_autocorrelation_and_pairing_by_round_removes_it(tmp_path):
    path = _run(tmp_path, lambda r: 1.3 if r < 8 else 0.8, "drift")  # a slow phase, then a fast one
    out = subprocess.run([sys.executable, str(SCRIPT), str(path), "--reference", "baseline"],
                         capture_output=True, text=True, check=True).stdout
    lag = float(out.split("speed index: **")[1].split("**")[0])
    lo, hi = (float(x) for x in out.split("(random orders: ")[1].split(")")[0].split(" to "))
    assert lag > hi > lo
    rows = _rows(out)
    raw, within = (float(rows["rwlock"][c].rstrip("%")) for c in (5, 6))
    assert raw > 15 and within < 3
    unpaired, paired = rows["rwlock"][7], rows["rwlock"][8]
    low, high = (float(x) for x in paired.split("[")[1].rstrip("] |").split(", "))
    assert 1.08 < low <= 1.10 <= high < 1.12  # the 10 % the builds differ by, to within the noise
    u_low, u_high = (float(x) for x in unpaired.split("[")[1].rstrip("]").split(", "))
    assert u_high - u_low > 3 * (high - low)


def test_a_steady_host_shows_no_autocorrelation(tmp_path):
    path = _run(tmp_path, lambda r: 1.0, "steady")
    run = _tool()
    sys.path.insert(0, str(REPO / "scripts"))
    from lockswap.report import results

    out = run.analyse(results.read([path]).runs[0])
    lag = float(out.split("speed index: **")[1].split("**")[0])
    lo, hi = (float(x) for x in out.split("(random orders: ")[1].split(")")[0].split(" to "))
    assert lo <= lag <= hi
    raw = float(_rows(out)["baseline"][5].rstrip("%"))
    assert raw < 2


@pytest.mark.parametrize("args, message", [
    (["missing.json"], "no such file: missing.json"),
    (["--reference"], "--reference needs a variant name"),
])
def test_bad_input_is_one_message_and_exit_2(tmp_path, args, message):
    got = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path)
    assert got.returncode == 2 and message in got.stderr and not got.stdout


def test_an_unknown_reference_is_refused(tmp_path):
    path = _run(tmp_path, lambda r: 1.0, "steady")
    got = subprocess.run([sys.executable, str(SCRIPT), str(path), "--reference", "tls"],
                         capture_output=True, text=True)
    assert got.returncode == 2 and "no variant 'tls' measured" in got.stderr


def test_a_reference_with_no_round_in_common_gets_no_paired_interval(tmp_path):
    """An incomplete run: the builds never shared a round, so pairing by round has nothing to pair."""
    path = _run(tmp_path, lambda r: 1.0, "apart")
    doc = json.loads(path.read_text())
    doc["measurements"] = [m for m in doc["measurements"]
                           if (m["variant"] == "baseline") == (m["repeat"] < 8)]
    path.write_text(json.dumps(doc))
    out = subprocess.run([sys.executable, str(SCRIPT), str(path), "--reference", "baseline"],
                         capture_output=True, text=True, check=True).stdout
    row = _rows(out)["rwlock"]
    assert row[7].startswith("1.10") and row[8].strip() == "- |"
