"""Refusals the ingress makes before touching configuration or storage: the sender learns at once."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from shared.services.hl7_ingress import ingest_hl7
from tests.samples import sample


class Untouchable:
    """Configuration and storage that fail the test when anything is asked of them."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the ingress asked for {name} before refusing")


def no_account(geo: str) -> object:
    raise AssertionError(f"the ingress reached for the {geo} storage account before refusing")


@pytest.mark.parametrize(
    "endpoint_id", ["a%2Fb", "a/b", "ep\x07", "x" * 1000, "ep 1"], ids=["encoded", "slash", "bell", "long", "space"]
)
def test_an_endpoint_id_that_cannot_exist_is_refused_without_a_storage_call(endpoint_id: str) -> None:
    reply = ingest_hl7(
        endpoint_id=endpoint_id,
        body=sample("epic_v251_s12.hl7"),
        authorization="Bearer x.y.z",
        audience="https://connector.example.org/api/hl7/x",
        directory=Untouchable(),
        keys=Untouchable(),
        account_for_geo=no_account,
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert reply.status == 404
    ack = hl7.parse(reply.ack)
    assert (str(ack.segment("MSA")(1)), str(ack.segment("MSA")(2))) == ("AR", "S251S12001")
    assert str(ack.segment("ERR")(3)).startswith("204^Unknown key identifier")
