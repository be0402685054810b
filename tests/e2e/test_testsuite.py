"""NumPy's own test suite on real builds: a green verdict, and a verdict that can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockswap import manifest

M = manifest.load()
DEFAULT = M.default_numpy
FIXTURES = Path(__file__).parents[1] / "fixtures"
PATCHED = [v for v in M.variants_for(DEFAULT) if v != "baseline"]


def summary(results: Path, variant: str) -> dict:
    (path,) = results.glob(f"test-{DEFAULT}-*-{variant}-quick.json")
    return json.loads(path.read_text())


def test_quick_suite_on_baseline_and_a_patched_variant_is_green(lockswap):
    if not PATCHED:
        pytest.skip(f"the manifest has no patched variant for NumPy {DEFAULT}")
    variant = "rwlock" if "rwlock" in PATCHED else PATCHED[0]
    got = lockswap.run("test", "--variant", variant, "--numpy", DEFAULT)
    assert f"| {variant} |" in got.stdout and "as baseline" in got.stdout
    base, var = summary(lockswap.results, "baseline"), summary(lockswap.results, variant)
    for s in (base, var):
        assert s["schema"] == 1 and not s["crashed"]
        assert s["counts"]["passed"] > 5000  # test_ufunc + test_umath + test_multithreading + ...
        assert s["interpreter"]["free_threaded"] is True
    assert set(var["failing"]) <= set(base["failing"])
    assert var["wheel"]["patch_sha256"] and not base["wheel"]["patch_sha256"]
    junit = lockswap.results / f"test-{DEFAULT}-{var['python']}-{variant}-quick.xml"
    assert junit.read_text().startswith("<?xml")


def test_a_broken_patch_is_reported_as_new_failures(lockswap, tmp_path):
    lockswap.manifest_with(
        tmp_path,
        '[variants.broken]\ndescription = "test fixture: np.sign is wrong"\n'
        f'patches = {{ "{DEFAULT}" = "{FIXTURES / "broken" / f"broken-{DEFAULT}.patch"}" }}\n',
    )
    got = lockswap.run("test", "--variant", "broken", "--numpy", DEFAULT, check=False)
    assert got.returncode == 1, got.stdout
    assert "new failures" in got.stdout
    broken = summary(lockswap.results, "broken")
    assert any("Sign" in t or "sign" in t for t in broken["failing"])
    assert set(broken["failing"]) - set(summary(lockswap.results, "baseline")["failing"])
