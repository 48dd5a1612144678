"""The HTML the local world's person-facing pages share: one plain layout, escaped text, hidden form fields.

These pages are the local world's, not the product's: a sign-in page, Epic's schedule and MyChart, a phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from localworld.server import Response

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}"
    "button,.button{margin:.15rem;padding:.35rem .7rem;border:1px solid #556;border-radius:4px;background:#eef;"
    "color:#111;text-decoration:none;font-size:.95rem;cursor:pointer}.note{color:#555}.error{color:#a00}"
    ".banner{background:#ffd;padding:.3rem .6rem;border:1px solid #dd9}"
)


def page(title: str, body: str, *, status: int = 200, who: str) -> Response:
    """A page titled `title` (escaped) around `body` (HTML already escaped by the caller); `who` names the
    system it plays, shown in a banner so nobody takes it for the real one."""
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<p class="banner">Local world: this page plays {escape(who)} for a local run. Not part of the product.</p>'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(status, document, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


def hidden_fields(values: Mapping[str, str]) -> str:
    """`<input type=hidden>` for each value: a form that carries a request's parameters on."""
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in values.items())
