"""NumPy's own test suite on real builds: a green verdict, and a verdict that can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.test import suite as testsuite

M = manifest.load()
DEFAULT = M.default_numpy
FIXTURES = Path(__file__).parents[1] / "fixtures"
PATCHED = [v for v in M.variants_for(DEFAULT) if v != "baseline"]


def summary(results: Path, variant: str) -> dict:
    (path,) = results.glob(f"test-{DEFAULT}-*-{variant}-quick.json")
    return json.loads(path.read_text())


def test_test_all_green_variant_and_broken_fixture_in_one_table(lockswap, tmp_path):
    """`test-all`: baseline first, a patched variant as baseline, the broken fixture as new failures."""
    if not PATCHED:
        pytest.skip(f"the manifest has no patched variant for NumPy {DEFAULT}")
    variant = "rwlock" if "rwlock" in PATCHED else PATCHED[0]
    lockswap.manifest_with(
        tmp_path,
        '[variants.broken]\ndescription = "test fixture: np.sign is wrong"\n'
        f'patches = {{ "{DEFAULT}" = "{FIXTURES / "broken" / f"broken-{DEFAULT}.patch"}" }}\n',
    )
    got = lockswap.run("test-all", "--numpy", DEFAULT, "--variants", f"{variant},broken", check=False)
    assert got.returncode == 1, got.stdout  # the verdict can fail
    table = got.stdout[got.stdout.index("| variant | passed"):]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:5]]
    assert rows == ["baseline", variant, "broken"]
    assert f"| {variant} |" in table and "as baseline" in table.splitlines()[3]
    assert "new failures" in table.splitlines()[4]

    base, var, broken = (summary(lockswap.results, v) for v in ("baseline", variant, "broken"))
    for s in (base, var, broken):
        assert s["schema_version"] == testsuite.SCHEMA and s["kind"] == "lockswap-test"
        assert not s["crashed"]
        assert s["counts"]["passed"] > 5000  # test_ufunc + test_umath + test_multithreading + ...
        assert s["interpreter"]["free_threaded"] is True
        assert all(t.startswith(("numpy/", "test_lockswap_stress.py::")) for t in s["failing"])
    assert set(var["failing"]) <= set(base["failing"])
    assert var["wheel"]["patch_sha256"] and not base["wheel"]["patch_sha256"]
    new = set(broken["failing"]) - set(base["failing"])
    assert new and any("sign" in t.lower() for t in new)
    junit = lockswap.results / f"test-{DEFAULT}-{var['python']}-{variant}-quick.xml"
    assert junit.read_text().startswith("<?xml") and 'classname="numpy._core.tests.' in junit.read_text()

    # `test` on its own reuses baseline's result of the same source and options
    again = lockswap.run("test", "--variant", variant, "--numpy", DEFAULT)
    assert "comparing with baseline result" in again.stdout and "as baseline" in again.stdout
