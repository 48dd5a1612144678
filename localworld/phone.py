"""A phone for a local run: a page listing the SMS each patient number received, newest first, links clickable.

It reads what the connector's SMS provider wrote: the outbox file (`SMS_PROVIDER=outbox`, JSON Lines of
shared/adapters/outbox_sms.py) or the requests the ACS stand-in accepted (`SMS_PROVIDER=acs`, the
`smsRecipients[].to` and `message` of ACS's send request). Numbers are shown masked, as the outbox
stores them. Part of the local world only: it is never served by the connector.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from localworld.acs_sms import AcsSmsStandIn
from localworld.pages import page
from localworld.server import Request, Response, StandIn
from shared.domain.phone import mask_phone

_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Sms:
    to: str  # masked
    sender: str
    text: str


class PhoneStandIn(StandIn):
    def __init__(self, *, outbox: Path | None = None, acs: AcsSmsStandIn | None = None, port: int = 0) -> None:
        super().__init__(self._serve, port=port)
        self.outbox, self.acs = outbox, acs

    def messages(self) -> list[Sms]:
        """Every SMS sent so far, in the order sent."""
        found: list[Sms] = []
        if self.outbox and self.outbox.exists():
            for line in self.outbox.read_text(encoding="utf-8").splitlines():
                try:
                    sms = json.loads(line)
                    found.append(Sms(str(sms["to"]), str(sms["from"]), str(sms["text"])))
                except (ValueError, KeyError, TypeError):
                    continue  # a line being written, or not ours: the next look shows it
        if self.acs:
            for body in self.acs.bodies():
                for recipient in body.get("smsRecipients", []):
                    found.append(Sms(mask_phone(recipient["to"]), body.get("from", ""), body.get("message", "")))
        return found

    def _serve(self, request: Request) -> Response:
        if request.method != "GET" or request.path != "/":
            return page("Not found", "<p>The phone has one page: /</p>", status=404, who="a patient's phone")
        by_number: dict[str, list[Sms]] = {}
        for sms in reversed(self.messages()):
            by_number.setdefault(sms.to, []).append(sms)
        sections = "".join(
            f"<h2>{escape(number)}</h2><ul>{''.join(_item(sms) for sms in items)}</ul>"
            for number, items in by_number.items()
        )
        body = sections or '<p class="note">No SMS yet. Schedule a visit on the local Epic page.</p>'
        return page("Messages", body + '<p class="note">Reload to see new messages.</p>', who="a patient's phone")


def _item(sms: Sms) -> str:
    return f'<li class="sms"><span class="note">from {escape(sms.sender)}</span><br>{_linked(sms.text)}</li>'


def _linked(text: str) -> str:
    """The SMS text, escaped, with each URL a link."""
    parts, last = [], 0
    for match in _LINK.finditer(text):
        parts += [escape(text[last : match.start()]), f'<a href="{escape(match.group())}">{escape(match.group())}</a>']
        last = match.end()
    return "".join([*parts, escape(text[last:])])
