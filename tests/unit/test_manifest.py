from __future__ import annotations

from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.base.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "2.1.3").mkdir(exist_ok=True)
    (tmp_path / "2.1.3" / "x.patch").write_text("Description: x\n")
    path = tmp_path / "manifest.toml"
    path.write_text(text)
    return path


GOOD = """
schema = 1
default_numpy = "2.1.3"
[numpy."2.1.3"]
lock = "cs"
pythons = ["3.13t"]
[numpy."2.5.5"]
pythons = ["3.13t", "3.14t"]
[variants.baseline]
description = "as released"
[variants.x]
description = "x lock"
patches = { "2.1.3" = "2.1.3/x.patch" }
[ci]
pythons = ["3.13t"]
os = ["ubuntu-24.04"]
"""


def test_the_shipped_manifest_loads_and_has_a_baseline():
    m = manifest.load()
    assert m.default_numpy in m.numpy
    assert "baseline" in m.variants
    for variant in m.variants.values():
        for version, patch in variant.patches.items():
            assert version in m.numpy and patch.is_file()


def test_versions_and_patches(tmp_path):
    m = manifest.load(write(tmp_path, GOOD))
    assert m.versions_for("baseline") == ["2.1.3", "2.5.5"]
    assert m.versions_for("x") == ["2.1.3"]
    assert m.patch_for("baseline", "2.5.5") is None
    assert m.patch_for("x", "2.1.3") == (tmp_path / "2.1.3" / "x.patch").resolve()
    assert m.variants_for("2.5.5") == ["baseline"]


def test_unknown_variant_names_the_known_ones(tmp_path):
    m = manifest.load(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as err:
        m.variant("rwlok")
    assert "rwlok" in err.value.message and "baseline, x" in err.value.hint


def test_variant_without_patch_for_version_lists_supported_versions(tmp_path):
    m = manifest.load(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as err:
        m.patch_for("x", "2.5.5")
    assert "2.5.5" in err.value.message and "supports NumPy 2.1.3" in err.value.hint


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('[variants.x]', '[variants.X-1]', "lowercase"),
        ('"2.1.3/x.patch"', '"2.1.3/missing.patch"', "missing patch"),
        ('default_numpy = "2.1.3"', 'default_numpy = "1.0"', "default_numpy"),
        ('pythons = ["3.13t"]\n[numpy."2.5.5"]', 'pythons = ["3.13"]\n[numpy."2.5.5"]', "bad Python"),
        ("schema = 1", "schema = 2", "schema"),
        ('lock = "cs"', 'sdist_sha256 = "../../x"', "sdist_sha256 must be 64 lowercase hex"),
        ('lock = "cs"', f'sdist_sha256 = "{"A" * 64}"', "sdist_sha256 must be 64 lowercase hex"),
        ('lock = "cs"', "sdist_sha256 = 1", "sdist_sha256 must be 64 lowercase hex"),
    ],
)
def test_bad_manifests_are_refused(tmp_path, old, new, complaint):
    assert old in GOOD
    with pytest.raises(ConfigError, match=complaint):
        manifest.load(write(tmp_path, GOOD.replace(old, new)))


def test_ci_numpy_defaults_to_the_default_version(tmp_path):
    m = manifest.load(write(tmp_path, GOOD))
    assert m.ci.numpy == ("2.1.3",)
    assert m.ci.exclude == ()


def test_ci_table_with_numpy_and_exclusions(tmp_path):
    text = GOOD.replace(
        'os = ["ubuntu-24.04"]',
        'os = ["ubuntu-24.04", "windows-2022"]\nnumpy = ["2.1.3", "2.5.5"]\n'
        'exclude = [{ variant = "x", os = "windows" }, { numpy = "2.5.5", python = "3.13t" }]',
    )
    m = manifest.load(write(tmp_path, text))
    assert m.ci.numpy == ("2.1.3", "2.5.5")
    assert m.ci.exclude == ({"variant": "x", "os": "windows"}, {"numpy": "2.5.5", "python": "3.13t"})


@pytest.mark.parametrize(
    ("ci_lines", "complaint"),
    [
        ('numpy = ["9.9.9"]', "must list versions under"),
        ('exclude = [{ variant = "y" }]', "variant 'y' matches nothing"),
        ('exclude = [{ os = "macos" }]', "os 'macos' matches nothing"),
        ('exclude = [{ python = "3.14t" }]', "python '3.14t' matches nothing"),
        ('exclude = [{ arch = "arm64" }]', "must be a table of variant, numpy, python, os"),
        ("exclude = [{}]", "must be a table"),
    ],
)
def test_bad_ci_tables_are_refused(tmp_path, ci_lines, complaint):
    with pytest.raises(ConfigError, match=complaint):
        manifest.load(write(tmp_path, GOOD + ci_lines + "\n"))


def test_os_family():
    assert manifest.os_family("windows-2022") == "windows"
    assert manifest.os_family("ubuntu-24.04") == "linux"
    assert manifest.os_family("Linux-6.1.0-28-amd64-x86_64-with-glibc2.36") == "linux"
    assert manifest.os_family("macOS-14.5-arm64-arm-64bit") == "macos"
    assert manifest.os_family("Windows-10-10.0.20348-SP0") == "windows"
    assert manifest.os_family("macos-latest") == "macos"


def test_upstream_pythons_default_to_the_buildable_ones_and_are_checked(tmp_path):
    """What NumPy supports upstream is recorded next to what lockswap builds."""
    m = manifest.load(write(tmp_path, GOOD))
    assert m.numpy["2.5.5"].upstream_pythons == m.numpy["2.5.5"].pythons == ("3.13t", "3.14t")
    text = GOOD.replace('pythons = ["3.13t", "3.14t"]\n',
                        'pythons = ["3.13t", "3.14t"]\nupstream_pythons = ["3.14t"]\n')
    assert manifest.load(write(tmp_path, text)).numpy["2.5.5"].upstream_pythons == ("3.14t",)
    for bad in ("[]", '["3.14"]', "3.14"):
        with pytest.raises(ConfigError, match="upstream_pythons"):
            manifest.load(write(tmp_path, text.replace('upstream_pythons = ["3.14t"]',
                                                       f"upstream_pythons = {bad}")))


def test_before_after_manifest_is_read_back_with_the_old_patch(tmp_path):
    """tools/before_after.py writes a manifest; lockswap's loader must take it as is."""
    import shutil
    import subprocess
    import sys

    repo = tmp_path / "repo"
    shutil.copytree(Path(manifest.paths.PATCHES), repo / "patches")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "before"], check=True)
    rel = manifest.load().patch_for("rwlock", "2.1.3").relative_to(manifest.paths.PATCHES)
    changed = repo / "patches" / rel
    old = changed.read_text()
    changed.write_text(old.replace("\n", "\n# a change after REF\n", 1))
    script = Path(manifest.paths.PATCHES).parent / "tools" / "before_after.py"
    out = subprocess.run([sys.executable, str(script), "HEAD", str(tmp_path / "out"), "rwlock", "tls",
                          "--repo", str(repo)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "NumPy 2.1.3: --variants baseline,rwlock,rwlockbefore"  # tls is unchanged
    got = manifest.load(tmp_path / "out" / "manifest.toml")
    assert "rwlockbefore" in got.variants_for("2.1.3") and "rwlockbefore" not in got.variants_for("2.5.5")
    before = got.patch_for("rwlockbefore", "2.1.3")
    assert before is not None and before.read_text().startswith(old.split("Variant:")[0])
    assert "Variant: rwlockbefore" in before.read_text() and "# a change after REF" not in before.read_text()
    assert got.patch_for("rwlock", "2.1.3") == changed  # the current patch, by absolute path
    assert got.variants_for("2.1.3")[:len(manifest.load().variants_for("2.1.3"))] == \
        manifest.load().variants_for("2.1.3")


def test_before_after_table_pairs_each_variant_with_its_before_run(tmp_path):
    """``before_after.py table`` reads bench results (schema 3) and compares <v> with <v>before."""
    import json
    import subprocess
    import sys

    repo = Path(manifest.paths.PATCHES).parent
    doc = json.loads((repo / "tests" / "fixtures" / "bench" / "results-v3.json").read_text())
    doc["variants"]["rwlockbefore"] = {**doc["variants"].pop("baseline"), "variant": "rwlockbefore",
                                       "label": "rwlockbefore"}
    for m in doc["measurements"]:
        if m["variant"] == "baseline":
            m["variant"] = m["target"] = "rwlockbefore"
    path = tmp_path / "bench-ba.json"
    path.write_text(json.dumps(doc))
    script = repo / "tools" / "before_after.py"
    out = subprocess.run([sys.executable, str(script), "table", str(path)], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split(" | ")[2:4] for line in out.splitlines() if line.startswith("| 2.1.3 | rwlock | ")]
    assert sorted(rows) == sorted([f"{w} n=100 {mode}", n] for w in ("add", "issue27786")
                                  for mode in ("threads", "processes") for n in ("2", "4"))
    assert "Holm across the 16 comparisons" in out


def test_sdist_pins_are_read_and_the_shipped_manifest_pins_every_version(tmp_path):
    m = manifest.load(write(tmp_path, GOOD.replace('lock = "cs"', f'sdist_sha256 = "{"a" * 64}"')))
    assert m.numpy["2.1.3"].sdist_sha256 == "a" * 64 and m.numpy["2.5.5"].sdist_sha256 == ""
    shipped = manifest.load()
    assert {v: bool(n.sdist_sha256) for v, n in shipped.numpy.items()} == dict.fromkeys(shipped.numpy, True)


def test_before_after_instructions_reads_cachegrind_and_divides_per_call():
    """``before_after.py instructions``: the ``I refs`` total; per call = difference / iterations / calls."""
    import importlib.util

    import pytest

    path = Path(manifest.paths.PATCHES).parent / "tools" / "before_after.py"
    spec = importlib.util.spec_from_file_location("before_after", path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    stderr = ("==12448== Cachegrind, a high-precision tracing profiler\n==12448== \n"
              "==12448== I   refs:      509,451,814\n")
    assert tool.instructions(stderr) == 509_451_814
    with pytest.raises(ValueError, match="valgrind"):
        tool.instructions("python3.13t: can't open file")
    base = 500_000_000
    assert tool.per_call(base, base + 4_152 * (tool.N2 - tool.N1), 1) == 4_152
    assert tool.per_call(base, base + 4 * 8_000 * (tool.N2 - tool.N1), 4) == 8_000


def test_before_after_instructions_refuses_bad_input_before_running_anything(tmp_path, capsys):
    """An unknown workload or a missing results file: one message, exit 2, no valgrind run."""
    import importlib.util

    path = Path(manifest.paths.PATCHES).parent / "tools" / "before_after.py"
    spec = importlib.util.spec_from_file_location("before_after", path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    results = tmp_path / "bench.json"
    results.write_text("{}")
    assert tool.main(["x", "instructions", str(results), "--workloads", "add,nosuch"]) == 2
    assert "unknown workload(s) nosuch" in capsys.readouterr().err
    assert tool.main(["x", "instructions", str(tmp_path / "missing.json")]) == 2
    assert "no such results file" in capsys.readouterr().err
