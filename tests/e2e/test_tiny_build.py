"""Real but tiny builds: ``tests/fixtures/tinynumpy`` (a stand-in "numpy" with one C extension and a
slow step, built by meson-python) given as ``--numpy path:DIR``, in a private cache.

- Ctrl-C or SIGTERM in the middle of the build leaves nothing half-written in the cache, no process
  of the build running, and says what it kept.
- A ``path:`` tree whose only changes are ``__pycache__`` and ``dist/`` is not rebuilt.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tinynumpy"


def _interpreter(lockswap) -> str:
    """The free-threaded Python of the user's cache (found or built once, like every e2e test)."""
    lines = lockswap.run("python").stdout.splitlines()
    return next(ln.strip() for ln in reversed(lines) if ln.strip() and Path(ln.strip()).is_file())


def _tiny(tmp_path: Path, sleep: str) -> Path:
    tree = tmp_path / "tiny"
    shutil.copytree(FIXTURE, tree)
    options = tree / "meson_options.txt"
    options.write_text(options.read_text().replace("value: '120'", f"value: '{sleep}'"))
    return tree


def test_a_path_tree_changed_only_in_pycache_and_dist_is_not_rebuilt(lockswap, tmp_path):
    tree = _tiny(tmp_path, "0")
    lockswap.env.update(LOCKSWAP_CACHE=str(tmp_path / "cache"), LOCKSWAP_PYTHON=_interpreter(lockswap))
    first = lockswap.run("build", "--variant", "baseline", "--numpy", f"path:{tree}")
    assert "compile NumPy" in first.stdout
    (tree / "numpy" / "__pycache__").mkdir()
    (tree / "numpy" / "__pycache__" / "__init__.cpython-313t.pyc").write_bytes(b"stale")
    (tree / "dist").mkdir()
    (tree / "dist" / "numpy-2.1.3.tar.gz").write_bytes(b"an sdist")
    again = lockswap.run("build", "--variant", "baseline", "--numpy", f"path:{tree}")
    assert "compile NumPy" not in again.stdout and "build slot" not in again.stdout  # a cache hit
    (tree / "numpy" / "extra.py").write_text("x = 1\n")
    assert "compile NumPy" in lockswap.run("build", "--variant", "baseline", "--numpy", f"path:{tree}").stdout


def _running_in(tree: Path) -> list[str]:
    """Command lines of live processes that name ``tree`` (the build's pip, meson, ninja, slow step)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(tree) in text and "pytest" not in text:
            found.append(text)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="sends POSIX signals, reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_build_leaves_only_complete_entries(lockswap, tmp_path, sig):
    python = _interpreter(lockswap)
    tree = _tiny(tmp_path, "120")
    cache = tmp_path / "cache"
    env = {**lockswap.env, "LOCKSWAP_CACHE": str(cache), "LOCKSWAP_PYTHON": python}
    p = subprocess.Popen([sys.executable, "-m", "lockswap", "build", "--variant", "baseline",
                          "--numpy", f"path:{tree}"], cwd=REPO, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         # a background job (nohup ... &) inherits SIGINT ignored: restore the default
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 900
    # wait until ninja runs the slow step (it marks its start), i.e. mid-compile, then press Ctrl-C
    while time.monotonic() < deadline and p.poll() is None:
        if list((cache / "build").glob("*/build/slow.txt.started")):
            break
        time.sleep(0.5)
    assert p.poll() is None, "".join(lines)
    time.sleep(2)
    p.send_signal(sig)  # to lockswap alone, as `kill` or a CI cancel would (not to its process group)
    # prompt: the build's process group gets SIGTERM, then SIGKILL after 10 s (the slow step sleeps 120 s)
    code = p.wait(timeout=60)
    reader.join(timeout=10)
    out = "".join(lines)
    print(out)
    assert code == 130, out
    assert "lockswap: interrupted" in out and "Nothing half-written was left" in out
    assert "venvs/build-" in out  # the complete build environment is kept, and said so
    half = [p for p in cache.rglob("*") if ".tmp-" in p.name]
    assert not half, half  # no staging directory or temporary file anywhere
    assert not (cache / "wheels").exists() or not any((cache / "wheels").iterdir())
    assert not lockswap.dist.exists() or not any(lockswap.dist.iterdir())
    gone = time.monotonic() + 15  # lockswap has returned: what it stopped may take a moment to be reaped
    while _running_in(tree) and time.monotonic() < gone:
        time.sleep(0.2)
    assert not _running_in(tree), _running_in(tree)  # pip, meson, ninja and the slow step are gone
