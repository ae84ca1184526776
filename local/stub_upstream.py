"""A tiny stub of the three third-party checks (sanctions, fraud, address). Stdlib only.

Any request to /<name> answers JSON after `delay_ms`; names listed in `fail` answer 503; names
listed in `drip` send their headers at once, then one body byte every `drip_ms` for a long time
(an upstream that keeps every per-read timeout happy and never finishes). Each call's name, start
and end (time.monotonic) are kept in `calls_log`.
Change delay and failures at run time with `POST /_control?delay_ms=300&fail=fraud`; its answer
also gives `peak`, the most calls served at once since the last `reset=1` (how tests tell a
concurrent fan-out from a sequential one without timing it). Used by
the app tests and by the local topology
(`python -m local.stub_upstream --port 9100 --delay-ms 300`).
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

    def __init__(self, port: int = 0, delay_ms: int = 0, fail: frozenset[str] = frozenset(),
                 drip: frozenset[str] = frozenset(), drip_ms: int = 200):
        self.delay_ms = delay_ms
        self.fail = set(fail)
        self.drip = set(drip)
        self.drip_ms = drip_ms
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self._count = threading.Lock()
        self.calls_log: list[tuple[str, float, float]] = []
        self.peers: set[tuple[str, int]] = set()
        """Client (address, port) pairs seen: one per TCP connection, so reuse shows."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a shared client reuses its connections
            # Buffered: headers and body leave in one segment when the handler returns. Written
            # apart (the default), the body waits behind Nagle for the caller's delayed ACK:
            # 40 ms added to every call, which no real third party adds.
            wbufsize = 64 * 1024

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
                    if query.get("reset"):
                        stub.reset_peak()
                    self._send(200, {"delay_ms": stub.delay_ms, "fail": sorted(stub.fail),
                                     "peak": stub.peak})
                    return
                with stub._count:
                    stub.calls += 1
                    stub.in_flight += 1
                    stub.peak = max(stub.peak, stub.in_flight)
                started = time.monotonic()
                try:
                    if name in stub.drip:
                        self._drip()
                        return
                    time.sleep(stub.delay_ms / 1000)
                finally:
                    with stub._count:
                        stub.in_flight -= 1
                if name in stub.fail:
                    self._send(503, {"service": name, "error": "stub failure"})
                else:
                    self._send(200, {"service": name, "ok": True, "score": 0.1})
                stub.calls_log.append((name, started, time.monotonic()))
                stub.peers.add(self.client_address)

            def _drip(self, length: int = 300) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    self.wfile.flush()
                    for _ in range(length):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(stub.drip_ms / 1000)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller's deadline cut it off: the point of dripping

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

    def reset_peak(self) -> None:
        """Start counting the most concurrent calls afresh."""
        with self._count:
            self.peak = self.in_flight

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
