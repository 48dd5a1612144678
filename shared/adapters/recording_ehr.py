"""`RecordingEhrWriteBack`: the local EHR write-back, which records each call instead of calling Epic.

Records go to table `ehrwritebacks` (PartitionKey = endpoint id, RowKey = the result or event id, fields
Kind, Payload (JSON), RecordedAt), so local runs and tests can see what would have been written:
device-test results (no patient data) in the control account, visit and SMS events (they name the
visit) in the event's geography. Upserts by id: a redelivered event is recorded once. Records go a
week after they were written (an `expiries` pointer).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.expiring import Expiries
from shared.adapters.storage import Storage, StorageAccount
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent

EHR_WRITE_BACKS_TABLE = "ehrwritebacks"
RECORDS_KEPT = timedelta(days=7)
"""A local record of what would have gone to the EHR: kept a week for a developer to look at."""


class RecordingEhrWriteBack:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None:
        """Record the call (idempotent per result id). Raises UpstreamError."""
        _record(
            self._storage.control,
            {
                "PartitionKey": endpoint_id,
                "RowKey": result_id,
                "Kind": "device_test",
                "Payload": json.dumps(result.as_dict(), separators=(",", ":")),
            },
        )

    def write_event(self, event: EhrEvent) -> None:
        """Record the call (idempotent per event id). Raises UpstreamError."""
        _record(
            self._storage.for_geo(event.geo),
            {
                "PartitionKey": event.endpoint_id,
                "RowKey": event.event_id,
                "Kind": str(event.kind),
                "Payload": json.dumps(event.to_message(), separators=(",", ":")),
            },
        )


def _record(account: StorageAccount, entity: dict[str, Any]) -> None:
    """Upsert the record, after its pointer: the timer deletes it `RECORDS_KEPT` after it was written."""
    now = datetime.now(UTC)
    Expiries(account).add(EHR_WRITE_BACKS_TABLE, entity["PartitionKey"], entity["RowKey"], now + RECORDS_KEPT)
    account.table(EHR_WRITE_BACKS_TABLE).upsert({**entity, "RecordedAt": now})
