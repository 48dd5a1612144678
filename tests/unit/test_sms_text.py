"""GSM-7 / UCS-2 segment counting at its boundaries (the texts themselves: test_sms_templates.py)."""

from __future__ import annotations

import pytest

from shared.domain.sms_text import count_segments, join_url


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€", "GSM-7", 154, 1),
        ("a" * 158 + "[]", "GSM-7", 162, 2),
        ("a" * 152 + "{" + "a" * 10, "GSM-7", 164, 2),  # the escape pair moves whole to part two
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 306, 3),  # ... so 306 septets need three parts here
        ("é" * 160, "GSM-7", 160, 1),  # é is in the basic table
        ("í" * 70, "UCS-2", 70, 1),  # í is not
        ("í" * 71, "UCS-2", 71, 2),
        ("a" * 133 + "í", "UCS-2", 134, 2),
        ("a" * 134 + "í", "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # beyond the BMP: two units each
        ("a" * 70 + "😀", "UCS-2", 72, 2),
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # the surrogate pair is not split across parts
    ],
)
def test_segment_counts(text: str, encoding: str, units: int, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_the_join_link_carries_the_token_in_the_fragment() -> None:
    assert join_url("https://connector.example.org/", "us-abc") == "https://connector.example.org/api/join#us-abc"
