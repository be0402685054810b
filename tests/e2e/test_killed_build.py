"""A SIGKILLed build must not write into the next build's slot (real meson-python builds of a tiny tree).

Two variants of ``tests/fixtures/tinynumpy`` share one build slot; each writes its own marker string
into the extension (through a generated header). Variant A's marker step takes 12 s, and both run a
25 s slow step. lockswap building A is SIGKILLed mid-compile: its pip, meson and ninja (their own
session) live on. B is built at once. Had B taken the slot then, A's orphaned ninja would finish its
marker, recompile and relink the extension in the shared build directory while B waits for its slow
step, and B's wheel would carry A's object. B must instead stop the orphans and wipe the build
directory: B's wheel has B's marker only, and A, rebuilt afterwards, has A's only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tinynumpy"

MESON = """project('numpy', 'c', version: '2.1.3')
py = import('python').find_installation(pure: false)
# the variant's marker (numpy/marker.txt: "<marker> <seconds>") becomes MARKER after <seconds>
marker = custom_target('marker', input: 'numpy/marker.txt', output: 'marker.h',
  command: [py, files('marker.py'), '@INPUT@', '@OUTPUT@'])
custom_target('slow', output: 'slow.txt', build_by_default: true,
  command: [py, files('slow.py'), '@OUTPUT@', get_option('sleep')])
py.extension_module('_tiny', ['numpy/_tiny.c', marker], install: true, subdir: 'numpy')
py.install_sources('numpy/__init__.py', subdir: 'numpy')
"""
MARKER_PY = """import sys, time
text, delay = open(sys.argv[1]).read().split()
time.sleep(float(delay))
open(sys.argv[2], "w").write(f'#define MARKER "{text}"\\n')
"""
SLOW_PY = """import sys, time
open(sys.argv[1] + ".started", "w").close()
time.sleep(float(sys.argv[2]))
open(sys.argv[1], "w").write("done")
"""

PATCH = """Description: tiny fixture variant {name}
Origin: lockswap
Author: lockswap developers
NumPy: 2.1.3
Variant: tiny{lower}

diff --git a/numpy/marker.txt b/numpy/marker.txt
--- a/numpy/marker.txt
+++ b/numpy/marker.txt
@@ -1 +1 @@
-pristine-marker 0
+variant-{name}-marker {delay}
"""


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tiny"
    shutil.copytree(FIXTURE, tree)
    (tree / "meson.build").write_text(MESON)
    (tree / "marker.py").write_text(MARKER_PY)
    (tree / "slow.py").write_text(SLOW_PY)
    options = tree / "meson_options.txt"
    options.write_text(options.read_text().replace("value: '120'", "value: '25'"))
    (tree / "numpy" / "marker.txt").write_text("pristine-marker 0\n")
    c = (tree / "numpy" / "_tiny.c").read_text()
    c = c.replace("#include <Python.h>", '#include <Python.h>\n#include "marker.h"\n'
                  "const char *tiny_marker(void) { return MARKER; }")
    (tree / "numpy" / "_tiny.c").write_text(c)
    return tree


def _markers(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        blob = b"".join(z.read(n) for n in z.namelist() if n.endswith(".so"))
    return {m for m in ("variant-A-marker", "variant-B-marker", "pristine-marker") if m.encode() in blob}


def _interpreter(lockswap) -> str:
    lines = lockswap.run("python").stdout.splitlines()
    return next(ln.strip() for ln in reversed(lines) if ln.strip() and Path(ln.strip()).is_file())


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="POSIX sessions and signals, /proc")
def test_a_build_after_a_sigkilled_one_stops_its_orphans_and_builds_clean(lockswap, tmp_path):
    python = _interpreter(lockswap)
    tree = _tree(tmp_path)
    for name, delay in (("A", 12), ("B", 0)):
        (tmp_path / f"{name}.patch").write_text(PATCH.format(name=name, lower=name.lower(), delay=delay))
    lockswap.manifest_with(tmp_path, "".join(
        f'[variants.tiny{n.lower()}]\ndescription = "test fixture {n}"\n'
        f'patches = {{ "2.1.3" = "{tmp_path / f"{n}.patch"}" }}\n' for n in "AB"))
    cache = tmp_path / "cache"
    lockswap.env.update(LOCKSWAP_CACHE=str(cache), LOCKSWAP_PYTHON=python)
    spec = f"path:{tree}"
    a = subprocess.Popen([sys.executable, "-m", "lockswap", "build", "--variant", "tinya", "--numpy", spec],
                         cwd=REPO, env=lockswap.env, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(a.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and a.poll() is None:
        if list((cache / "build").glob("*/build/slow.txt.started")):
            break
        time.sleep(0.2)
    assert a.poll() is None, "".join(lines)
    time.sleep(1)
    a.kill()  # SIGKILL: lockswap gets no chance to stop its build
    a.wait()
    reader.join(timeout=10)
    (owner,) = (cache / "build").glob("*/.owner.json")
    assert '"state": "building"' in owner.read_text()  # A's record: its build is still running

    b = lockswap.run("build", "--variant", "tinyb", "--numpy", spec)
    assert "a killed lockswap run" in b.stdout and "wiping the build directory" in b.stdout, b.stdout
    (wheel_b,) = lockswap.dist.glob("numpy-*tinyb*.whl")
    assert _markers(wheel_b) == {"variant-B-marker"}

    again = lockswap.run("build", "--variant", "tinya", "--numpy", spec)
    assert "a killed lockswap run" not in again.stdout
    (wheel_a,) = lockswap.dist.glob("numpy-*tinya*.whl")
    assert _markers(wheel_a) == {"variant-A-marker"}
    assert not [p for p in cache.rglob("*") if ".tmp-" in p.name]  # A's staging folder was swept
