"""A small HTTP(S) server on 127.0.0.1 whose answers come from a function, recording every request.

Stand-ins for Epic, Entra ID, Graph and ACS build on it so the real SDKs and our real HTTP code run
end to end. With `tls=True` it serves HTTPS with a self-signed certificate for 127.0.0.1; give
`ca_file` to the client (`connection_verify=` for azure-core, `verify=` for requests/httpx).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from localworld.tls import self_signed_certificate


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    target: str  # path and query, as sent


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, document: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        import json

        return cls(status, json.dumps(document), {"Content-Type": "application/json", **(headers or {})})


Handler = Callable[[Request], Response]


class StandIn:
    """Serve `handler` until stopped; `requests` holds what was received, in order."""

    def __init__(self, handler: Handler, *, tls: bool = False, cert_dir: Path | None = None, port: int = 0) -> None:
        """`port` 0 takes a free port (tests); `make run` gives stable ones."""
        self.handler = handler
        self.requests: list[Request] = []
        self.busy_seconds = 0.0
        """Time spent answering (handler and writing the answer), for benchmarks that subtract it."""
        self._busy_lock = threading.Lock()
        self.ca_file: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._request_handler())
        self._server.daemon_threads = True
        if tls:
            import ssl
            import tempfile

            directory = cert_dir or Path(tempfile.mkdtemp(prefix="standin-tls-"))
            cert_file, key_file = self_signed_certificate(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.ca_file = str(cert_file)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                url = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=url.path,
                    query=dict(parse_qsl(url.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    target=self.path,
                )
                stand_in.requests.append(request)
                response = stand_in.handler(request)
                body = response.body.encode() if isinstance(response.body, str) else response.body
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with stand_in._busy_lock:
                    stand_in.busy_seconds += time.perf_counter() - started

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                return None

        return _Handler
