"""A package index on 127.0.0.1 for tests: the Simple API's JSON project page and its files.

``serve(entries)`` runs it in a thread; each entry lists a file with the sha256 the page claims (the
true one unless a test crafts another) and its bytes. ``python tests/unit/fake_index.py DIR`` serves
the ``*.tar.gz`` files of DIR (``--digest NAME=HEX`` overrides a listed digest) until Ctrl-C, so a
reproduction can point ``PIP_INDEX_URL`` at it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Entry:
    filename: str
    body: bytes
    sha256: str = ""  # what the page lists; default: the true digest

    def listed(self) -> str:
        return self.sha256 or hashlib.sha256(self.body).hexdigest()


@dataclass
class Index:
    entries: list[Entry]
    url: str = ""  # .../simple/, for PIP_INDEX_URL
    page_requests: int = 0
    downloads: int = 0
    drip_seconds: float = 0.0  # > 0: send files one small chunk per this many seconds
    stop_serving: bool = False  # True: answer every request with 503
    log: list[str] = field(default_factory=list)


def _handler(index: Index) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            index.log.append(format % args)

        def do_GET(self) -> None:
            if index.stop_serving:
                self.send_error(503)
                return
            if self.path.rstrip("/") == "/simple/numpy":
                index.page_requests += 1
                page = {"meta": {"api-version": "1.0"}, "name": "numpy", "files": [
                    {"filename": e.filename, "url": f"/files/{e.filename}", "hashes": {"sha256": e.listed()}}
                    for e in index.entries]}
                self._send(json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
                return
            for e in index.entries:
                if self.path == f"/files/{e.filename}":
                    index.downloads += 1
                    self._send(e.body, "application/octet-stream")
                    return
            self.send_error(404)

        def _send(self, body: bytes, ctype: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not index.drip_seconds or ctype.endswith("json"):
                self.wfile.write(body)
                return
            for i in range(0, len(body), 64):
                self.wfile.write(body[i:i + 64])
                self.wfile.flush()
                time.sleep(index.drip_seconds)

    return Handler


@contextlib.contextmanager
def serve(entries: list[Entry]) -> Iterator[Index]:
    index = Index(entries)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    server.daemon_threads = True
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield index
    finally:
        index.stop_serving = True
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--digest", action="append", default=[], help="NAME=HEX: list HEX for NAME")
    args = parser.parse_args()
    digests = dict(d.split("=", 1) for d in args.digest)
    entries = [Entry(p.name, p.read_bytes(), digests.get(p.name, ""))
               for p in sorted(args.folder.glob("*.tar.gz"))]
    with serve(entries) as index:
        print(index.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
