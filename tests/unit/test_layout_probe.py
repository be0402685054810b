"""tools/layout_probe.py writes builds that differ only in code layout, and reads their bench results back."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lockswap.base import manifest
from lockswap.patch.apply import read_header

REPO = Path(manifest.paths.PATCHES).parent
DISPATCH = "numpy/_core/src/umath/dispatching.cpp"

MANIFEST = """
schema = 1
default_numpy = "2.5.5"
[numpy."2.5.5"]
pythons = ["3.13t"]
[variants.baseline]
description = "as released"
[variants.x]
description = "x lock"
patches = { "2.5.5" = "2.5.5/x.patch" }
[ci]
pythons = ["3.13t"]
os = ["ubuntu-24.04"]
"""

X_PATCH = f"""Description: x lock
 a header line
Origin: lockswap
Author: lockswap developers
NumPy: 2.5.5
Variant: x

diff --git a/{DISPATCH} b/{DISPATCH}
--- a/{DISPATCH}
+++ b/{DISPATCH}
@@ -1,3 +1,4 @@
 int first(void)
+/* x was here */
 {{
     return 1;
"""


def tool():
    spec = importlib.util.spec_from_file_location("layout_probe", REPO / "tools" / "layout_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree(tmp_path: Path) -> Path:
    src = tmp_path / "numpy-2.5.5"
    (src / DISPATCH).parent.mkdir(parents=True)
    (src / DISPATCH).write_text("int first(void)\n{\n    return 1;\n}\n\n"
                                "int last(void)\n{\n    return 2;\n}\n")
    return src


def applied(src: Path, patch: Path, into: Path) -> str:
    shutil.copytree(src, into)
    subprocess.run(["git", "apply", "-p1", str(patch)], cwd=into, check=True,
                   env={"GIT_CEILING_DIRECTORIES": str(into.parent), "PATH": "/usr/bin:/bin"})
    return (into / DISPATCH).read_text()


def test_probe_builds_keep_the_variants_code_and_add_only_a_never_called_pad(tmp_path):
    src = tree(tmp_path)
    patches = tmp_path / "patches"
    (patches / "2.5.5").mkdir(parents=True)
    (patches / "2.5.5" / "x.patch").write_text(X_PATCH)
    out = tmp_path / "out"
    out.mkdir()
    names = tool().write_probe(out, src, MANIFEST, patches, "2.5.5", ["baseline", "x"], (16, 48))
    assert names == ["baseline", "baselinecomment", "baselinepad16", "baselinepad48", "x", "xpad16", "xpad48"]
    loaded = manifest.load(out / "manifest.toml")  # lockswap's own loader takes the written manifest
    padded = [n for n in names if n not in ("baseline", "x")]
    assert loaded.variants_for("2.5.5") == ["baseline", "x", *padded]
    for name in padded:  # each has the header lockswap's patch stage requires, naming its own variant
        written = loaded.patch_for(name, "2.5.5")
        assert written is not None and read_header(written)["Variant"] == name
    pad = loaded.patch_for("xpad48", "2.5.5")
    assert pad is not None and pad.read_text().startswith("Description: x lock\n a header line\n")
    text = applied(src, pad, tmp_path / "xpad48")
    assert "/* x was here */" in text and '.skip 48, 0x90' in text and "lockswap_layout_pad" in text
    assert text.startswith((src / DISPATCH).read_text().replace("int first(void)\n",
                                                                 "int first(void)\n/* x was here */\n"))
    comment = loaded.patch_for("baselinecomment", "2.5.5")
    assert comment is not None
    control = applied(src, comment, tmp_path / "comment")
    assert ".skip" not in control and control.startswith((src / DISPATCH).read_text())
    base16 = loaded.patch_for("baselinepad16", "2.5.5")
    assert base16 is not None and "x was here" not in applied(src, base16, tmp_path / "b16")


def test_a_variant_without_a_patch_for_that_numpy_is_one_clear_error(tmp_path):
    src = tree(tmp_path)
    with pytest.raises(SystemExit, match=r"variant 'x' has no patch for NumPy 2\.5\.5"):
        tool().write_probe(tmp_path, src, MANIFEST.replace('patches = { "2.5.5" = "2.5.5/x.patch" }', ""),
                           tmp_path, "2.5.5", ["x"], (16,))
    with pytest.raises(SystemExit, match="no variant 'y' in the manifest"):
        tool().write_probe(tmp_path, src, MANIFEST, tmp_path, "2.5.5", ["y"], (16,))


def test_dispatching_c_of_numpy_2_1_gets_a_c_pad():
    module = tool()
    assert 'extern "C"' in module.pad_code(16, cpp=True)
    assert 'extern "C"' not in module.pad_code(16, cpp=False)


def test_the_table_averages_over_layouts_and_shows_each_layout(tmp_path):
    """Bench results (schema 3) with rwlock and baseline at two layouts, rwlockpad16 2 % slower than rwlock
    in every process: the pad16 ratio of the time rows is 1.02 x the as-built one; scaling is unchanged."""
    doc = json.loads((REPO / "tests" / "fixtures" / "bench" / "results-v3.json").read_text())
    for name, like, factor in (("baselinepad16", "baseline", 1.0), ("rwlockpad16", "rwlock", 1.02)):
        doc["variants"][name] = {**doc["variants"][like], "variant": name, "label": name}
        doc["measurements"] += [{**m, "variant": name, "target": name, "seconds": m["seconds"] * factor}
                                for m in doc["measurements"] if m["variant"] == like]
    path = tmp_path / "bench-probe.json"
    path.write_text(json.dumps(doc))
    out = subprocess.run([sys.executable, str(REPO / "tools" / "layout_probe.py"), "table", str(path),
                          "rwlock:baseline"], capture_output=True, text=True, check=True).stdout
    rows = [line.split(" | ") for line in out.splitlines()
            if line.startswith("| rwlock / baseline (2.1.3) |")]
    assert rows and all(row[3] == "as built, pad16" for row in rows)
    for row in rows:
        as_built, pad16 = (float(v) for v in row[4].split())
        expected = 1.02 if "ns/call" in row[1] else 1.0
        assert pad16 / as_built == pytest.approx(expected, abs=0.003), row
        average = float(row[5].split()[0])
        assert average == pytest.approx((as_built * pad16) ** 0.5, abs=0.002), row
