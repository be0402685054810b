"""--sanitizer thread on real builds: a TSan CPython, TSan NumPy wheels, and a race verdict that can fail.

Cold, this builds CPython with --with-thread-sanitizer (about 10 minutes on 2 busy cores) and NumPy
2.1.3 with -Db_sanitize=thread (baseline cold, then the racy fixture recompiles one file); warm,
it runs two small test selections under TSan. Marked ``tsan`` as well as ``e2e`` so CI can leave
it out (the default ``nox -s tests`` deselects ``tsan``; ``nox -s tests -- -m tsan`` runs it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.base.errors import ConfigError, ToolMissing
from lockswap.interpreter import sanitizer

pytestmark = [pytest.mark.tsan]

DEFAULT = manifest.load().default_numpy
FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = "-k test_multithreading"  # NumPy's own ufunc-from-many-threads tests: enough threads to race


def _skip_unless_buildable() -> None:
    try:
        sanitizer.validate("thread")
    except (ConfigError, ToolMissing) as exc:  # the message says which combinations work
        pytest.skip(str(exc))


def test_racy_fixture_fails_against_baseline_under_tsan(lockswap, tmp_path):
    _skip_unless_buildable()
    if DEFAULT != "2.1.3":
        pytest.skip("the racy fixture patch is written for NumPy 2.1.3")
    lockswap.manifest_with(
        tmp_path,
        '[variants.racy]\ndescription = "test fixture: an unsynchronised counter in every ufunc call"\n'
        f'patches = {{ "{DEFAULT}" = "{FIXTURES / "racy" / "racy-2.1.3.patch"}" }}\n',
    )
    got = lockswap.run("test-all", "--numpy", DEFAULT, "--variants", "racy", "--sanitizer", "thread",
                       "--pytest-args", TINY, check=False, timeout=4 * 3600)
    assert got.returncode == 1, got.stdout  # the race verdict can fail
    wheels = sorted(p.name for p in lockswap.dist.glob("*.whl"))
    assert any("+lockswap.baseline.tsan-" in w for w in wheels), wheels
    assert any("+lockswap.racy.tsan-" in w for w in wheels), wheels

    def result(variant: str) -> dict:
        (path,) = lockswap.results.glob(f"test-{DEFAULT}-*-{variant}-quick-tsan.json")
        return json.loads(path.read_text())

    base, racy = result("baseline"), result("racy")
    for r in (base, racy):
        assert not r["crashed"], r["crashed"]
        assert r["counts"]["passed"] > 5
        assert r["options"]["sanitizer"] == "thread"
        assert r["tsan"]["unparsed"] == []
        assert "python-tsan" in r["interpreter"]["path"]
    fresh = [s for rid, s in ((k, v["signature"]) for k, v in racy["tsan"]["races"].items())
             if rid not in base["tsan"]["races"]]
    assert any("ufunc_generic_fastcall" in s for s in fresh), racy["tsan"]["races"].keys()
    assert "[NEW] data race:" in got.stdout and "ufunc_generic_fastcall" in got.stdout
    table = got.stdout[got.stdout.index("| variant | passed"):]
    assert "| racy |" in table and "new failures" in table
