"""Serve a FunctionApp's HTTP triggers at their routes, with the host's route precedence."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

from shared.devhost.event_grid import WEBHOOK_PATH, EventGridWebhook
from shared.devhost.functions import Function
from shared.log_safety import loggable

logger = logging.getLogger(__name__)

MAX_BODY = 100 * 1024 * 1024
"""The Functions host refuses request bodies above 100 MB unless FUNCTIONS_REQUEST_BODY_SIZE_LIMIT says
otherwise (bytes); so do we, and we stop reading a body the moment it passes the limit."""
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
_CHUNK_LINE_MAX = 1024

# Segment ranks as ASP.NET routing orders them: literals win over parameters, catch-alls come last.
_LITERAL, _CONSTRAINED, _PARAMETER, _CATCH_ALL = range(4)


@dataclass(frozen=True)
class Route:
    function: Function
    methods: frozenset[str]
    pattern: re.Pattern[str]
    precedence: tuple[int, ...]

    @classmethod
    def of(cls, function: Function) -> Route:
        template = function.trigger.get("route") or function.name
        methods = function.trigger.get("methods") or ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        regex, ranks = _compile(template.strip("/"))
        return cls(function, frozenset(str(getattr(m, "value", m)).upper() for m in methods), regex, ranks)

    @property
    def template(self) -> str:
        return self.function.trigger.get("route") or self.function.name


def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    parts: list[str] = []
    ranks: list[int] = []
    for segment in template.split("/") if template else []:
        match = re.fullmatch(r"\{(\*?)(\w+)(?::[^}?]+)?(\?)?\}", segment)
        if match is None:
            parts.append(re.escape(segment))
            ranks.append(_LITERAL)
        elif match.group(1):
            parts.append(f"(?P<{match.group(2)}>.*)")
            ranks.append(_CATCH_ALL)
        else:
            optional = "?" if match.group(3) else ""
            parts.append(f"(?P<{match.group(2)}>[^/]+){optional}")
            ranks.append(_CONSTRAINED if ":" in segment else _PARAMETER)
    return re.compile("/".join(parts) + "/?", re.IGNORECASE), tuple(ranks)


class Router:
    def __init__(self, functions: list[Function]) -> None:
        self.routes = sorted((Route.of(f) for f in functions), key=lambda r: (r.precedence, -len(r.precedence)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found and method in route.methods:
                return route, {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
        return None


class HttpHost:
    """A threading HTTP server on 127.0.0.1 that turns requests into func.HttpRequest calls."""

    def __init__(
        self,
        functions: list[Function],
        *,
        route_prefix: str,
        port: int,
        event_grid: EventGridWebhook | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        """`event_grid`: the Event Grid triggers, served at the host's webhook (`/runtime/webhooks/eventgrid`);
        `max_body`: the host's request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)."""
        self.router = Router(functions)
        self.event_grid = event_grid or EventGridWebhook([])
        self.max_body = max_body
        self.prefix = "/" + route_prefix.strip("/") if route_prefix else ""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="devhost-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return self.router.match(method, path[len(self.prefix) :].strip("/"))
        return None

    def loggable(self, method: str, target: str) -> str:
        """The route template a request matched (`/api/join/{token}`): paths, like queries, may carry tokens."""
        path = urlsplit(target).path
        if path.lower() == WEBHOOK_PATH:
            return WEBHOOK_PATH
        matched = self._match(method, path)
        return f"{self.prefix}/{matched[0].template}" if matched else "(no route)"

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> func.HttpResponse:
        url = urlsplit(target)
        if method == "POST" and url.path.lower() == WEBHOOK_PATH:
            return self.event_grid.handle(dict(parse_qsl(url.query)), headers, body)
        matched = self._match(method, url.path)
        if matched is None:
            return func.HttpResponse(status_code=404)
        route, route_params = matched
        request = func.HttpRequest(
            method,
            f"{self.base_url}{target}",
            headers=headers,
            params=dict(parse_qsl(url.query, keep_blank_values=True)),
            route_params=route_params,
            body=body,
        )
        try:
            return route.function.call(request)
        except Exception:
            # The real host answers 500 with an empty body; so do we, with the trace in our log.
            logger.exception("Function %s raised", route.function.name)
            return func.HttpResponse(status_code=500)


def _handler_for(host: HttpHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line and headers go out in one write, the body in another: with Nagle on, the body
        # waited for the client's delayed ACK, about 40 ms per POST (Kestrel in Azure sets TCP_NODELAY too).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            try:
                body = self._read_body()
            except _BodyRefused as refusal:
                self.close_connection = True  # the rest of the body is never read
                self.send_error(refusal.status)
                return
            response = host.handle(self.command, self.path, dict(self.headers.items()), body)
            payload = response.get_body() or b""
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "content-type"):
                    self.send_header(name, value)
            if response.mimetype:
                charset = f"; charset={response.charset}" if response.charset else ""
                self.send_header("Content-Type", response.headers.get("Content-Type", f"{response.mimetype}{charset}"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _read_body(self) -> bytes:
            """The body, by Content-Length or chunked (RFC 9112 sections 6.3 and 7.1); raises _BodyRefused
            once it passes the host's limit, before reading further."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            raw = (self.headers.get("Content-Length") or "0").strip()
            if not (raw.isascii() and raw.isdigit()):
                raise _BodyRefused(400)
            if int(raw) > host.max_body:
                raise _BodyRefused(413)
            return self.rfile.read(int(raw)) if int(raw) else b""

        def _read_chunked(self) -> bytes:
            chunks: list[bytes] = []
            received = 0
            while True:
                size_field = self.rfile.readline(_CHUNK_LINE_MAX).split(b";", 1)[0].strip()
                try:
                    size = int(size_field, 16)
                except ValueError:
                    raise _BodyRefused(400) from None
                if size == 0:
                    while self.rfile.readline(_CHUNK_LINE_MAX) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields, ignored
                    return b"".join(chunks)
                received += size
                if received > host.max_body:
                    raise _BodyRefused(413)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_CHUNK_LINE_MAX)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, QUERY, ...) is routed too, so no route matches and the answer is
            # the host's 404, not http.server's 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            status = args[1] if len(args) > 1 else ""
            logger.info("%s %s -> %s", loggable(self.command), host.loggable(self.command, self.path), status)

    return Handler


class _BodyRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
