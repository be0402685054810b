"""venvs.ensure with an installer: pip of another interpreter fills the venv (``--prefix``), as lockswap
does for instrumented (TSan) interpreters, and the scripts it writes run the venv's python."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lockswap.interpreter import find as interpreter
from lockswap.interpreter import venvs


def _wheel(tmp_path: Path) -> Path:
    """A tiny pure-Python wheel with a console script (no index, no build backend needed)."""
    name = "tinypkg-1.0-py3-none-any.whl"
    files = {
        "tinypkg/__init__.py": "def main():\n    import sys\n    print('tiny from', sys.prefix)\n",
        "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                       "Tag: py3-none-any\n",
        "tinypkg-1.0.dist-info/entry_points.txt": "[console_scripts]\ntiny = tinypkg:main\n",
    }
    record = "".join(f"{f},,\n" for f in files) + "tinypkg-1.0.dist-info/RECORD,,\n"
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for f, text in files.items():
            z.writestr(f, text)
        z.writestr("tinypkg-1.0.dist-info/RECORD", record)
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout and shebangs")
def test_an_installer_fills_the_venv_and_its_scripts_run_the_venv_python(tmp_path):
    host = interpreter.inspect(sys.executable)
    venv = tmp_path / "venv"
    python = venvs.ensure(host, venv, [_wheel(tmp_path)], pip_args=["--no-index", "--no-deps"],
                          installer=host)
    assert (venv / ".lockswap-complete").exists()
    assert not (venvs.bin_dir(venv) / "pip").exists()  # made --without-pip: the installer ran pip
    got = subprocess.run([python, "-c", "import tinypkg, sys; print(tinypkg.__file__, sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout
    assert str(venv) in got.split()[0] and got.split()[1] == str(venv)
    script = venvs.bin_dir(venv) / "tiny"
    assert script.read_text().splitlines()[0] == f"#!{python}"
    assert subprocess.run([script], capture_output=True, text=True, check=True).stdout.strip() == \
        f"tiny from {venv}"
