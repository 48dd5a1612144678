"""The reports' charts as inline SVG drawn on the server (no script, no chart library), each with the
table of its figures beside it for people who do not see the picture.

SMS per day stacked by delivery status, with the reasons of those not delivered; visits per day with the
median lobby wait and duration. Rows are the report services' (`shared.services.reports`): no patient data.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

WIDTH, HEIGHT, AXIS = 640, 220, 28
COLOURS = {"delivered": "#0b6a0b", "failed": "#a4262c", "sent": "#4f52b2", "not sent": "#8a5a00"}
OTHER_COLOUR = "#5b5b66"


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    """Safe SVG markup (every text in it escaped)."""
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    reasons: list[tuple[str, int]]


def sms_status(row: Mapping[str, Any]) -> str:
    """Delivered / failed as the delivery report said; else whether it left us."""
    if row.get("delivery"):
        return str(row["delivery"])
    return "sent" if row.get("status") == "sent" else "not sent"


def sms_chart(rows: Iterable[Mapping[str, Any]]) -> Chart:
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for row in rows:
        status = sms_status(row)
        per_day[str(row.get("sentAt") or "")[:10]][status] += 1
        if status not in ("delivered", "sent"):
            reasons[str(row.get("reason") or "no reason given")] += 1
    statuses = sorted({s for counts in per_day.values() for s in counts})
    days = sorted(per_day)
    svg = _stacked_bars("SMS per day by delivery status", days, statuses, per_day)
    table = [(day, *(per_day[day][s] for s in statuses)) for day in days]
    return Chart("SMS per day", svg, ("Day", *statuses), table, reasons.most_common())


def visits_chart(rows: Iterable[Mapping[str, Any]]) -> Chart:
    per_day: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        per_day[str(row.get("scheduledStart") or "")[:10]].append(row)
    days = sorted(per_day)
    counts = {day: Counter({"visits": len(per_day[day])}) for day in days}
    svg = _stacked_bars("Visits per day", days, ["visits"], counts)
    table = [
        (day, len(per_day[day]), _median(per_day[day], "lobbyWaitSeconds"), _median(per_day[day], "durationSeconds"))
        for day in days
    ]
    return Chart("Visits per day", svg, ("Day", "Visits", "Median lobby wait (s)", "Median duration (s)"), table, [])


def _median(rows: list[Mapping[str, Any]], name: str) -> float | None:
    values = [float(row[name]) for row in rows if isinstance(row.get(name), int | float)]
    return round(statistics.median(values), 1) if values else None


def _stacked_bars(title: str, days: list[str], series: list[str], counts: Mapping[str, Counter[str]]) -> str:
    top = max((sum(counts[day].values()) for day in days), default=0) or 1
    slot = (WIDTH - AXIS) / max(len(days), 1)
    bar = max(min(slot * 0.7, 48), 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + AXIS}" role="img" '
        f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
        f'<line x1="{AXIS}" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" stroke="#1b1b1f"/>',
        f'<text x="0" y="12" font-size="11">{top}</text>',
    ]
    for index, day in enumerate(days):
        x = AXIS + index * slot + (slot - bar) / 2
        y = float(HEIGHT)
        for name in series:
            value = counts[day][name]
            if not value:
                continue
            height = (HEIGHT - 16) * value / top
            y -= height
            colour = COLOURS.get(name, OTHER_COLOUR)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(day)}: {value} {escape(name)}</title></rect>"
            )
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT + 16}" font-size="11">{escape(day[5:])}</text>')
    legend_x = AXIS
    for name in series:
        colour = COLOURS.get(name, OTHER_COLOUR)
        parts.append(f'<rect x="{legend_x}" y="2" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="11" font-size="11">{escape(name)}</text>')
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)
