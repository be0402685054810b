"""A build whose wheel is cached makes no network request: it works with the package index unreachable.

Every Python process of the run (lockswap, the interpreter probe, anything it starts) loads a
``sitecustomize`` whose audit hook logs each internet socket connect and name lookup.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lockswap.base import manifest

DEFAULT = manifest.load().default_numpy
UNREACHABLE = "http://127.0.0.1:9/simple"
GUARD = """
import os, socket, sys

def _lockswap_net_audit(event, args):
    if event == "socket.getaddrinfo" or (
            event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6)):
        with open(os.environ["LOCKSWAP_NETLOG"], "a") as fh:
            fh.write(f"{os.getpid()} {sys.argv[:3]} {event} {args[1:]}\\n")

sys.addaudithook(_lockswap_net_audit)
"""


def _guarded(lockswap, tmp_path: Path) -> Path:
    site = tmp_path / "netguard"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GUARD)
    netlog = tmp_path / "net.log"
    lockswap.env.update(PIP_INDEX_URL=UNREACHABLE, LOCKSWAP_NETLOG=str(netlog),
                        PYTHONPATH=f"{site}:{lockswap.env['PYTHONPATH']}")
    return netlog


def test_a_cached_wheel_builds_with_the_index_unreachable_and_no_network_request(lockswap, tmp_path):
    lockswap.run("build", "--variant", "baseline", "--numpy", DEFAULT)  # cached (built if it was not)
    netlog = _guarded(lockswap, tmp_path)

    # The guard can fail: a connect to the unreachable index is logged.
    probe = subprocess.run([sys.executable, "-c", "import socket\ntry:\n socket.create_connection"
                            "(('127.0.0.1', 9), timeout=2)\nexcept OSError:\n pass"], env=lockswap.env)
    assert probe.returncode == 0 and "socket.connect" in netlog.read_text()
    netlog.unlink()

    again = lockswap.run("build", "--variant", "baseline", "--numpy", DEFAULT)
    assert "compile NumPy" not in again.stdout and "download" not in again.stdout
    (wheel,) = lockswap.dist.glob("*.whl")
    assert wheel.name.startswith(f"numpy-{DEFAULT}+lockswap.baseline-cp31")
    assert not netlog.exists(), f"network requests during a cached build:\n{netlog.read_text()}"

    # ... and it sees lockswap's own index requests: a version never fetched asks the index.
    unknown = lockswap.run("fetch", "--numpy", "2.1.99", check=False)
    assert unknown.returncode == 3 and "cannot read the numpy project page" in unknown.stdout
    assert "'127.0.0.1', 9" in netlog.read_text()
