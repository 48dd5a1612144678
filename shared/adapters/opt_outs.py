"""The SMS opt-out list in a geography's `smsoptouts` table, keyed by a keyed hash, never a number in clear.

PartitionKey = our sending number, RowKey = `opt_out_key(secret, our number, patient number)`; fields
OptedOut (bool) and ChangedAt (the STOP or START text's time). It lives in the geography of the
organisation that owns the sending number, beside that organisation's appointments: an inbound STOP
names only the two numbers, and our number leads to its organisation (config store) and so to its
geography. A later START keeps the row with OptedOut false, so a STOP and a START delivered out of
order still end in the state of the newer text.
"""

from __future__ import annotations

from datetime import datetime

from shared.adapters.storage import StorageAccount
from shared.domain.sms_delivery import opt_out_key
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError

SMS_OPT_OUTS = "smsoptouts"
MAX_RACE_RETRIES = 5


class OptOutList:
    def __init__(self, account: StorageAccount, secret: bytes) -> None:
        self._table = account.table(SMS_OPT_OUTS)
        self._secret = secret

    def is_opted_out(self, our_number: str, patient_number: str) -> bool:
        """One point read. Raises UpstreamError."""
        try:
            stored = self._table.get(our_number, opt_out_key(self._secret, our_number, patient_number))
        except NotFoundError:
            return False
        return bool(stored.entity.get("OptedOut"))

    def set_opted_out(self, our_number: str, patient_number: str, opted_out: bool, at: datetime) -> bool:
        """Record a STOP (True) or START (False) texted at `at`; False when a newer text was recorded already.

        Raises UpstreamError.
        """
        key = opt_out_key(self._secret, our_number, patient_number)
        entity = {"PartitionKey": our_number, "RowKey": key, "OptedOut": opted_out, "ChangedAt": at}
        for _ in range(MAX_RACE_RETRIES):
            try:
                stored = self._table.get(our_number, key)
            except NotFoundError:
                try:
                    self._table.create(entity)
                except ConflictError:
                    continue
                return True
            if stored.entity["ChangedAt"] >= at:
                return False
            try:
                self._table.replace(entity, stored.etag)
            except PreconditionFailedError:
                continue
            return True
        raise PreconditionFailedError("The opt-out entry kept changing; try again.")
