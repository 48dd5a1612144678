"""A small client for the configuration API that routes requests as the host does, without a socket.

Requests go through the local host's router (`HttpHost.handle`) to the real functions of
function_app.app, so route templates, methods and route parameters are the app's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import function_app
from shared.devhost.functions import read_functions
from shared.devhost.http_server import HttpHost


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class ConfigApi:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self._host = HttpHost(read_functions(function_app.app).http, route_prefix="api", port=0)

    def close(self) -> None:
        self._host.server.server_close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        if payload:
            sent.setdefault("Content-Type", "application/json")
        response = self._host.handle(method, path, sent, payload)
        out_headers = dict(response.headers.items())
        if response.mimetype:
            out_headers.setdefault("Content-Type", response.mimetype)
        return Reply(response.status_code, out_headers, response.get_body() or b"")

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)
