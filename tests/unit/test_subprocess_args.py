"""User text that reaches a subprocess is checked first: Python minor versions and apt suites become
package names and sources.list lines, build requirements become pip arguments; downloads time out."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lockswap.base.errors import ConfigError
from lockswap.build import wheel
from lockswap.interpreter import cpython


@pytest.mark.parametrize("minor", ["3.13; rm -rf x", "-3.13", "3.13=1", "python3.13", "3.13 ", "3"])
def test_a_bad_python_minor_is_one_config_error(minor):
    with pytest.raises(ConfigError, match="bad Python version") as err:
        cpython.resolve_source(None, minor)
    assert "3.13t" in err.value.hint


def test_good_minors_pass():
    assert cpython.check_minor("3.13") == "3.13" and cpython.check_minor(None) is None


def test_apt_suites_from_the_environment_are_checked(monkeypatch, cache):
    monkeypatch.setattr(cpython, "_os_release", lambda: {"ID": "debian", "VERSION_CODENAME": "bookworm"})
    monkeypatch.setattr(cpython, "system_mirror", lambda codename: "http://mirror.invalid/debian")
    monkeypatch.setattr(cpython.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("LOCKSWAP_APT_SUITES", "sid\ndeb-src\thttp://evil/ x")
    with pytest.raises(ConfigError, match="bad suite name"):
        cpython._apt("3.13")
    assert not (cache / "apt" / "sources.list").exists()


@pytest.mark.parametrize("req", ["--index-url=http://evil/simple", "-r/etc/passwd", "meson-python>=", 3])
def test_build_requirements_of_a_tree_must_be_requirements(tmp_path, req):
    value = f'"{req}"' if isinstance(req, str) else str(req)
    (tmp_path / "pyproject.toml").write_text(f"[build-system]\nrequires = [{value}]\n")
    with pytest.raises(ConfigError, match="is not a requirement"):
        wheel.build_requirements(tmp_path)


def test_good_build_requirements_pass(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["meson-python>=0.15", "Cython>=3"]\n')
    assert wheel.build_requirements(tmp_path)[:2] == ["meson-python>=0.15", "Cython>=3"]


def test_a_cpython_download_past_its_deadline_stops(tmp_path):
    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None: ...

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(200):  # 500 bytes per 50 ms: ten seconds in all
                try:
                    self.wfile.write(b"x" * 500)
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    dest = tmp_path / "Python-3.13.9.tar.xz"
    start = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match="longer than"):
            cpython.download(f"http://127.0.0.1:{server.server_address[1]}/x", dest, deadline=0.3)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - start < 5
    assert not dest.exists() and not list(Path(tmp_path).iterdir())
