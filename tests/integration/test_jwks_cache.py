"""JWKS fetching per URL (issue 15.5): one organisation's slow JWKS URL stalls nobody else, concurrent
callers of one URL share one fetch, unknown kids are remembered, and a fetch gives up in bounded time.

The JWKS endpoint here is deliberately slow: it holds each answer until the test lets it go. Its body is a
JWK Set as RFC 7517 section 5 defines it (`{"keys": [JWK, ...]}`), with RSA keys as section 6.3 of RFC
7518 (https://www.rfc-editor.org/rfc/rfc7517#section-5).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.jwks import UNKNOWN_KID_SECONDS, JwksCache
from shared.errors import UpstreamError


class SlowJwks:
    """A JWKS endpoint on 127.0.0.1 that answers only once `release` is set (at once when it is)."""

    def __init__(self, kids: tuple[str, ...] = ("k1",), *, held: bool = False) -> None:
        self.kids = list(kids)
        self.release = threading.Event()
        if not held:
            self.release.set()
        self.requests = 0
        self.arrived = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests += 1
                stand_in.arrived.set()
                stand_in.release.wait(timeout=30)
                body = json.dumps({"keys": [_jwk(kid) for kid in stand_in.kids]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


_PUBLIC_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


def _jwk(kid: str) -> dict:
    return {**jwt.algorithms.RSAAlgorithm.to_jwk(_PUBLIC_KEY, as_dict=True), "kid": kid, "use": "sig"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slow() -> Iterator[SlowJwks]:
    stand_in = SlowJwks(held=True)
    yield stand_in
    stand_in.close()


@pytest.fixture
def fast() -> Iterator[SlowJwks]:
    stand_in = SlowJwks()
    yield stand_in
    stand_in.close()


def test_a_slow_jwks_url_does_not_stall_another_organisations(slow: SlowJwks, fast: SlowJwks) -> None:
    cache = JwksCache(what="sender JWKS")
    waiting = threading.Thread(target=cache.keys, args=(slow.url, "k1"))
    waiting.start()
    assert slow.arrived.wait(timeout=10)  # the slow fetch is in flight and holds its URL's lock
    assert [key.key_id for key in cache.keys(fast.url, "k1")] == ["k1"]
    assert waiting.is_alive()  # answered while the slow organisation's fetch still waits
    slow.release.set()
    waiting.join(timeout=10)


def test_callers_of_one_url_share_one_fetch(slow: SlowJwks) -> None:
    cache = JwksCache(what="sender JWKS")
    results: list[list[str]] = []
    callers = [
        threading.Thread(target=lambda: results.append([k.key_id for k in cache.keys(slow.url, "k1")]))
        for _ in range(5)
    ]
    for caller in callers:
        caller.start()
    assert slow.arrived.wait(timeout=10)
    time.sleep(0.2)  # let the other callers reach the URL's lock (no timing is asserted)
    slow.release.set()
    for caller in callers:
        caller.join(timeout=10)
    assert results == [["k1"]] * 5
    assert slow.requests == 1


def test_unknown_kids_are_remembered_and_a_new_kid_is_still_fetched(fast: SlowJwks) -> None:
    clock = Clock()
    cache = JwksCache(what="sender JWKS", refresh_floor_seconds=0, clock=clock)
    assert cache.keys(fast.url, "forged") == []
    clock.now += 1
    assert cache.keys(fast.url, "forged") == []
    assert fast.requests == 1  # the negative cache answered
    fast.kids.append("rotated")
    assert [key.key_id for key in cache.keys(fast.url, "rotated")] == ["rotated"]
    assert fast.requests == 2
    clock.now += UNKNOWN_KID_SECONDS + 1
    assert cache.keys(fast.url, "forged") == []
    assert fast.requests == 3  # remembered for a while, not for ever


def test_a_fetch_gives_up_in_bounded_time_and_is_not_retried_at_once(slow: SlowJwks) -> None:
    clock = Clock()
    cache = JwksCache(what="sender JWKS", timeout=(1.0, 0.5), clock=clock)
    with pytest.raises(UpstreamError) as first:
        cache.keys(slow.url, "k1")
    assert first.value.retryable
    with pytest.raises(UpstreamError):
        cache.keys(slow.url, "k1")
    assert slow.requests == 1  # the second caller did not wait for another timeout
    clock.now += 61
    slow.release.set()
    assert [key.key_id for key in cache.keys(slow.url, "k1")] == ["k1"]
