"""End-to-end fixtures: real NumPy, real meson builds, a real free-threaded CPython.

Heavy artefacts go to the user's lockswap cache (LOCKSWAP_CACHE or ~/.cache/lockswap), so reruns
are warm; dist/ and results/ are private to each test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Lockswap:
    dist: Path
    results: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """Run ``python -m lockswap ARGS`` the way a nox session does; echo its output."""
        proc = subprocess.run(
            [sys.executable, "-m", "lockswap", *args], cwd=REPO, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False,
        )
        print(proc.stdout)
        if check and proc.returncode != 0:
            pytest.fail(f"lockswap {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}")
        return proc

    def manifest_with(self, tmp_path: Path, extra: str) -> None:
        """Use a manifest = the shipped one + ``extra`` TOML (e.g. a fixture variant)."""
        text = (REPO / "patches" / "manifest.toml").read_text()
        text = re.sub(r'"(\d[^"]*/[^"]+\.patch)"', lambda m: f'"{REPO / "patches" / m.group(1)}"', text)
        path = tmp_path / "manifest.toml"
        path.write_text(text.replace("\n[ci]", f"\n{extra}\n[ci]", 1))
        self.env["LOCKSWAP_MANIFEST"] = str(path)


@pytest.fixture
def lockswap(tmp_path: Path) -> Lockswap:
    env = {k: v for k, v in os.environ.items() if k not in ("LOCKSWAP_DIST", "LOCKSWAP_RESULTS",
                                                             "LOCKSWAP_MANIFEST", "PYTHON_GIL")}
    env.update(LOCKSWAP_DIST=str(tmp_path / "dist"), LOCKSWAP_RESULTS=str(tmp_path / "results"),
               PYTHONPATH=str(REPO / "scripts"))
    return Lockswap(tmp_path / "dist", tmp_path / "results", env)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
