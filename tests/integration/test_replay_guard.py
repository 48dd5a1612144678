"""The sender-token replay guard on Azurite: one use per `jti` whatever its `exp`, one round trip, shards
spread evenly, and rows deleted once no token can use them (reading only what is due)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter

import jwt
import pytest

from shared.adapters.metering import StorageMeter
from shared.adapters.sender_tokens import SENDER_TOKENS_TABLE, SHARDS, ReplayGuard
from shared.adapters.storage import StorageAccount
from shared.errors import NotAuthorisedError
from shared.settings import StorageConnection
from tests.hl7_support import Sender, seed_sender, siu
from tests.integration.test_hl7_ingress import _private_key, post, refusal

T = dt.datetime(2030, 3, 4, 10, 59, 59, tzinfo=dt.UTC)


def rows(account: StorageAccount) -> list[dict]:
    return [row.entity for row in account.table(SENDER_TOKENS_TABLE).query("PartitionKey ne ''", {})]


def test_the_same_jti_with_expiries_either_side_of_an_hour_is_accepted_once(spare_account: StorageAccount) -> None:
    guard = ReplayGuard(spare_account)
    guard.use_once("ep1", "jti-1", T)
    with pytest.raises(NotAuthorisedError, match="used already"):
        guard.use_once("ep1", "jti-1", T + dt.timedelta(seconds=2))  # 11:00:01, the next hour
    guard.use_once("ep2", "jti-1", T)  # another endpoint's issuer may pick the same id


def test_two_tokens_with_one_jti_and_different_expiries_pass_the_ingress_once(config_env) -> None:
    """Tokens that do not bind the body: only those are recorded (a body-bound one brings only its body)."""
    sender: Sender = seed_sender("EU")
    body = siu(control_id="jti-twice")
    now, jti = int(time.time()), str(uuid.uuid4())
    key = _private_key(sender)
    for expires, status in ((now + 60, 200), (now + 280, 401)):
        claims = {"aud": sender.audience, "iat": now, "exp": expires, "jti": jti}
        response = post(sender, body, {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"})
        if status == 200:
            assert response.status_code == 200
        else:
            refusal(response, 401, "used already")


def test_a_use_is_one_round_trip_and_uses_spread_over_every_shard(spare_account: StorageAccount) -> None:
    meter = StorageMeter()
    metered = StorageAccount(
        StorageConnection(setting="SPARE", connection_string=spare_account.connection.connection_string), meter=meter
    )
    guard = ReplayGuard(metered)
    guard.use_once("ep", "warm-up", T)  # creates the table once per process
    meter.reset()
    for number in range(400):
        guard.use_once("ep", f"jti-{number}", T)
    assert meter.transactions == 400
    per_shard = Counter(row["PartitionKey"] for row in rows(spare_account) if not row["RowKey"].startswith("t|"))
    assert len(per_shard) == SHARDS
    assert max(per_shard.values()) < 2 * 401 / SHARDS  # no shard takes twice its share


def test_rows_go_once_no_token_can_use_them_and_the_timer_reads_only_those(spare_account: StorageAccount) -> None:
    guard = ReplayGuard(spare_account)
    for number in range(30):
        guard.use_once("ep", f"old-{number}", T)
    for number in range(200):
        guard.use_once("ep", f"new-{number}", T + dt.timedelta(hours=1))
    meter = StorageMeter()
    metered = ReplayGuard(
        StorageAccount(
            StorageConnection(setting="SPARE", connection_string=spare_account.connection.connection_string),
            meter=meter,
        )
    )
    assert metered.delete_expired(T - dt.timedelta(seconds=1)) == 0
    meter.reset()
    assert metered.delete_expired(T) == 30
    assert meter.entities_read == 30  # index rows of what was due, nothing else
    assert metered.delete_expired(T) == 0
    assert len(rows(spare_account)) == 2 * 200
    with pytest.raises(NotAuthorisedError):
        guard.use_once("ep", "new-7", T + dt.timedelta(hours=2))
    guard.use_once("ep", "old-7", T + dt.timedelta(hours=2))  # its row went: a token this old is expired anyway
