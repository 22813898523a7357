"""Small servers on loopback for tests that need a registry that misbehaves."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections, reads what is sent and never answers:
    a registry that hangs. Yields its ``http://127.0.0.1:PORT`` URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


@contextmanager
def recording_registry() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server that answers every request "subject not found" (HTTP 404, error
    code 40401) and records each request's headers. Yields ``(url, requests)``."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"error_code": 40401, "message": "Subject not found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def failing_proxy(target: str, fail: Callable[[str], bool]) -> Iterator[str]:
    """An HTTP proxy to the registry at ``target`` that answers HTTP 503 to every request
    whose path ``fail`` selects: a registry that is down for some calls only. Yields its
    URL (use it as the registry URL)."""
    parts = urlsplit(target)
    prefix = parts.path.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if fail(self.path):
                status, payload = 503, json.dumps({"error_code": 50301, "message": "down"})
                data, kind = payload.encode(), "application/json"
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                skip = {"host", "accept-encoding"}  # answers are relayed as plain bytes
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                connection.request(self.command, prefix + self.path, body, headers)
                response = connection.getresponse()
                status, data = response.status, response.read()
                kind = response.getheader("Content-Type") or "application/json"
                connection.close()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
