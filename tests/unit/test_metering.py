"""Which account and table or queue a storage URL addresses, in Azure and in an emulator."""

from __future__ import annotations

import pytest

from shared.adapters.metering import _account_and_resource


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://acct.table.core.windows.net/appointments(PartitionKey='e',RowKey='k')",
            ("acct", "appointments"),
        ),
        ("https://acct.queue.core.windows.net/hl7-inbound/messages?timeout=20", ("acct", "hl7-inbound")),
        ("https://acct.table.core.windows.net/Tables", ("acct", "Tables")),
        ("http://127.0.0.1:10002/geoeu/smsjobs(PartitionKey='e',RowKey='j')", ("geoeu", "smsjobs")),
        ("http://localhost:10001/geoeu/sms-outbound/messages/id?popreceipt=x", ("geoeu", "sms-outbound")),
        ("http://127.0.0.1:10001/control", ("control", "")),
    ],
)
def test_account_and_resource(url: str, expected: tuple[str, str]) -> None:
    assert _account_and_resource(url) == expected
