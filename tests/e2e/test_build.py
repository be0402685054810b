"""The build pipeline on real NumPy: interpreter, sdist, meson-python wheel, checks, cache, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lockswap.base import manifest

DEFAULT = manifest.load().default_numpy


def test_baseline_wheel_builds_imports_without_gil_and_rebuilds_from_cache(lockswap, tmp_path):
    lockswap.run("build", "--variant", "baseline", "--numpy", DEFAULT)
    (wheel,) = lockswap.dist.glob("*.whl")
    assert wheel.name.startswith(f"numpy-{DEFAULT}+lockswap.baseline-cp31")
    assert "t-" in wheel.name.split("-")[3] + "-"  # ABI tag cp31Xt

    # Independently of lockswap's own check: a fresh venv, import, GIL still disabled.
    printed = lockswap.run("python").stdout.splitlines()  # progress and the path, interleaved
    python = next(line for line in printed if line.startswith("/") and Path(line).is_file())
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel],
                   check=True)
    probe = ("import sys, json, numpy as np; x = np.arange(10.0); "
             "print(json.dumps({'gil': sys._is_gil_enabled(), 'v': np.__version__, 'sum': float(x.sum())}))")
    out = subprocess.run([venv / "bin" / "python", "-c", probe], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    got = json.loads(out.stdout)
    assert got == {"gil": False, "v": DEFAULT, "sum": 45.0}

    again = lockswap.run("build", "--variant", "baseline", "--numpy", DEFAULT)
    assert "compile NumPy" not in again.stdout  # an unchanged variant is a cache hit
    assert [p.name for p in lockswap.dist.glob("*.whl")] == [wheel.name]


def test_bad_input_gets_one_clear_message_and_leaves_nothing(lockswap):
    cases = {  # exit codes: 2 bad input, 3 a fetch or build failed (README "Exit codes")
        ("--numpy", "2.1.99"): ("has no sdist on the package index", 2),
        ("--numpy", "1.26.4"): ("no free-threaded support", 2),
        ("--numpy", "git:file:///nonexistent/numpy.git@main"): ("git", 3),
        ("--numpy", DEFAULT, "--python", sys.executable): ("built with the GIL", 2),
    }
    for args, (message, code) in cases.items():
        got = lockswap.run("build", "--variant", "baseline", *args, check=False)
        assert got.returncode == code, got.stdout
        assert message in got.stdout and "Traceback" not in got.stdout
        assert "-> " in got.stdout  # the hint: what to do next
    got = lockswap.run("build", "--variant", "nosuchlock", check=False)
    assert got.returncode == 2 and "unknown variant 'nosuchlock'" in got.stdout
    assert not lockswap.dist.exists() or not any(lockswap.dist.iterdir())
