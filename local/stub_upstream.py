"""A tiny stub of the three third-party checks (sanctions, fraud, address). Stdlib only.

Any request to /<name> answers JSON after `delay_ms`; names listed in `fail` answer 503.
Change both at run time with `POST /_control?delay_ms=300&fail=fraud`. Used by the app tests
and by the local topology (`python -m local.stub_upstream --port 9100 --delay-ms 300`).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _StubServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a fan-out of 20 users x 3 calls overflows it, and
    # each dropped SYN costs the caller a 1 s retransmit, which a real third party never adds.
    request_queue_size = 1024


class StubUpstream:
    """A threaded HTTP stub on 127.0.0.1 with a configurable delay and failing names."""

    def __init__(self, port: int = 0, delay_ms: int = 0, fail: frozenset[str] = frozenset()):
        self.delay_ms = delay_ms
        self.fail = set(fail)
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                name = parts.path.strip("/") or "root"
                if name == "_control":
                    query = parse_qs(parts.query)
                    stub.delay_ms = int(query.get("delay_ms", [stub.delay_ms])[0])
                    stub.fail = {n for n in query.get("fail", [""])[0].split(",") if n}
                    self._send(200, {"delay_ms": stub.delay_ms, "fail": sorted(stub.fail)})
                    return
                stub.calls += 1
                time.sleep(stub.delay_ms / 1000)
                if name in stub.fail:
                    self._send(503, {"service": name, "error": "stub failure"})
                else:
                    self._send(200, {"service": name, "ok": True, "score": 0.1})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up (its timeout): expected in timeout tests

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests and `make up` read their own logs

        self.server = _StubServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        """The URL of the stub named `name`."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> StubUpstream:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    """Serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay-ms", type=int, default=300)
    parser.add_argument("--fail", default="", help="comma-separated names answering 503")
    args = parser.parse_args()
    stub = StubUpstream(args.port, args.delay_ms, frozenset(n for n in args.fail.split(",") if n))
    try:
        stub.server.serve_forever()
    except KeyboardInterrupt:
        stub.server.server_close()


if __name__ == "__main__":
    main()
