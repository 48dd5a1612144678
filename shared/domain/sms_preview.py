"""The texts an endpoint's patients would get, for the portal's SMS set-up: the real templates
(`shared.domain.sms_text`) around an example visit, with their encoding and segment count."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.domain.join_tokens import TOKEN_RANDOM_BYTES
from shared.domain.sms_text import SmsKind, join_url, render_sms

EXAMPLE_TOKEN = "us-" + "x" * math.ceil(TOKEN_RANDOM_BYTES * 4 / 3)
"""As long as a real join token (geography prefix + URL-safe Base64 of its random bytes)."""
EXAMPLE_HOUR = time(10, 30)


@dataclass(frozen=True)
class SmsPreview:
    kind: str
    text: str
    encoding: str
    segments: int


def sms_previews(organisation: str, time_zone: str, public_base_url: str, now: datetime) -> list[SmsPreview]:
    """Each kind of SMS for an example visit tomorrow at 10:30 in the endpoint's time zone."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), EXAMPLE_HOUR, tzinfo=zone)
    link = join_url(public_base_url, EXAMPLE_TOKEN)
    previews = []
    for kind in SmsKind:
        sms = render_sms(kind, organisation=organisation, start=start, local_tz=zone, link=link)
        previews.append(SmsPreview(str(kind), sms.text, sms.count.encoding, sms.count.segments))
    return previews
