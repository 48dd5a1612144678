"""The local host stops reading a request body once it passes the host's limit (issue 15.6), as the
Functions host refuses bodies above FUNCTIONS_REQUEST_BODY_SIZE_LIMIT; chunked bodies are read too."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from shared.devhost.functions import read_functions
from shared.devhost.http_server import HttpHost
from tests.e2e import sample_app

LIMIT = 1000


@pytest.fixture
def http_host() -> Iterator[HttpHost]:
    host = HttpHost(read_functions(sample_app.app, {}).http, route_prefix="api", port=0, max_body=LIMIT)
    host.start()
    yield host
    host.stop()


def _exchange(host: HttpHost, head: str, body: bytes = b"") -> bytes:
    """Send a request head and (part of) a body, then read what the host answers without sending more."""
    with socket.create_connection(("127.0.0.1", host.server.server_address[1]), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = conn.recv(4096)
            if not part:
                break
            answer += part
        return answer


def test_a_declared_length_above_the_limit_is_refused_before_the_body_is_read(http_host: HttpHost) -> None:
    # Only the head is sent: the host must answer without waiting for 10 MB that never come.
    answer = _exchange(http_host, "POST /api/echo/w HTTP/1.1\nHost: h\nContent-Length: 10000000\n")
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_that_passes_the_limit_is_cut_off(http_host: HttpHost) -> None:
    head = "POST /api/echo/w HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nConnection: close\n"
    with socket.create_connection(("127.0.0.1", http_host.server.server_address[1]), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + b"3e8\r\n" + b"x" * 1000 + b"\r\n")
        conn.sendall(b"3e8\r\n")  # the chunk that would pass the limit: refused before its data is sent
        assert conn.recv(4096).startswith(b"HTTP/1.1 413")


def test_the_echoed_chunked_body_is_whole(http_host: HttpHost) -> None:
    head = "POST /api/echo/w HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nConnection: close\n"
    with socket.create_connection(("127.0.0.1", http_host.server.server_address[1]), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
        answer = b""
        while part := conn.recv(4096):
            answer += part
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body"] == "hello world"


def test_a_malformed_length_is_a_bad_request(http_host: HttpHost) -> None:
    assert _exchange(http_host, "POST /api/echo/w HTTP/1.1\nHost: h\nContent-Length: 1e3\n").startswith(b"HTTP/1.1 400")
