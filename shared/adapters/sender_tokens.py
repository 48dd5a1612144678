"""The sender-token replay guard: each `jti` is accepted once, for as long as any token with it can be valid.

Table `sendertokens` in the endpoint's geography account, an `ExpiringTable` (`shared/adapters/expiring.py`):
RowKey = hex SHA-256 of endpoint id and `jti` (never `exp`: a second token with the same `jti` and another
expiry is the same `jti`), PartitionKey = one of `SHARDS` shards of that digest, plus its time-index row,
both written in one transaction, so the common path costs one round trip. The endpoint is in the digest
because a `jti` is unique per issuer: one organisation cannot block another's tokens by using their ids.

Why `SHARDS` = 16: Azure Tables targets about 2,000 entities/s per partition. Each token costs 4 entity
operations (its row and index row written, later both deleted). At the ingress goal of issue 19 (about
330 messages/s per geography on the benchmark machine) times 10, 3,300 tokens/s make 13,200 entity
operations/s, about 825/s per shard: under the target with room to spare, while the timer's deletion
costs only 16 range queries per tick. Only tokens that do not bind the body (no `body_sha256`) are recorded
here (`shared/services/hl7_ingress.py` says why), so the figure is an upper bound.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from shared.adapters.expiring import ExpiringTable
from shared.adapters.storage import StorageAccount
from shared.errors import ConflictError, NotAuthorisedError

SENDER_TOKENS_TABLE = "sendertokens"
SHARDS = 16


class ReplayGuard:
    def __init__(self, account: StorageAccount) -> None:
        self._rows = ExpiringTable(account.table(SENDER_TOKENS_TABLE), SHARDS)

    def use_once(self, endpoint_id: str, jti: str, valid_until: datetime) -> None:
        """Record the `jti` until `valid_until`. Raises NotAuthorisedError when it was used already."""
        digest = hashlib.sha256(f"{endpoint_id}|{jti}".encode()).hexdigest()
        try:
            self._rows.create(digest, {}, valid_until)
        except ConflictError:
            raise NotAuthorisedError("This token was used already (its jti must be unique).") from None

    def delete_expired(self, now: datetime) -> int:
        """Delete the rows of every `jti` no token can use any more; returns how many went."""
        return self._rows.delete_due(now)
