"""The portal's pure pieces: the reports' server-side charts."""

from __future__ import annotations

from shared.domain.report_charts import sms_chart, visits_chart


def test_the_sms_chart_stacks_days_by_status_and_names_why_some_were_not_delivered() -> None:
    rows = [
        {"sentAt": "2026-03-01T10:00:00+00:00", "status": "sent", "delivery": "delivered", "reason": None},
        {"sentAt": "2026-03-01T11:00:00+00:00", "status": "sent", "delivery": "failed", "reason": "Unreachable"},
        {"sentAt": "2026-03-02T09:00:00+00:00", "status": "sent", "delivery": None, "reason": None},
        {"sentAt": "2026-03-02T09:30:00+00:00", "status": "opted_out", "delivery": None, "reason": "<script>"},
    ]

    chart = sms_chart(rows)

    assert chart.columns == ("Day", "delivered", "failed", "not sent", "sent")
    assert chart.rows == [("2026-03-01", 1, 1, 0, 0), ("2026-03-02", 0, 0, 1, 1)]
    assert dict(chart.reasons) == {"Unreachable": 1, "<script>": 1}
    assert chart.svg.count("<rect") == 4 + 4  # one bar part per non-zero count, one legend square per status
    assert "<script>" not in chart.svg


def test_the_visits_chart_gives_each_day_its_median_lobby_wait_and_duration() -> None:
    rows = [
        {"scheduledStart": "2026-03-01T10:00:00+00:00", "lobbyWaitSeconds": 60, "durationSeconds": 600},
        {"scheduledStart": "2026-03-01T11:00:00+00:00", "lobbyWaitSeconds": 180, "durationSeconds": 1200},
        {"scheduledStart": "2026-03-01T12:00:00+00:00", "lobbyWaitSeconds": None, "durationSeconds": 900},
        {"scheduledStart": "2026-03-03T12:00:00+00:00", "lobbyWaitSeconds": None, "durationSeconds": None},
    ]

    chart = visits_chart(rows)

    assert chart.rows == [("2026-03-01", 3, 120.0, 900.0), ("2026-03-03", 1, None, None)]
    assert 'role="img"' in chart.svg


def test_charts_of_no_rows_are_empty_not_broken() -> None:
    assert sms_chart([]).rows == []
    assert visits_chart([]).svg.endswith("</svg>")
