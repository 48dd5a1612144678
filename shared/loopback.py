"""The hosts that count as this machine: where local runs may use plain http (PUBLIC_BASE_URL, LOOPBACK_HTTP).

A module of its own, importing nothing, so the settings, the domain and the adapters share one list without
the domain importing the settings module (which indexing must not load: tests/unit/test_cold_start.py).
"""

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")


def is_loopback(host: str | None) -> bool:
    """Whether a URL's host (`urlsplit(url).hostname`, already lower-case) is this machine."""
    return host in LOOPBACK_HOSTS
