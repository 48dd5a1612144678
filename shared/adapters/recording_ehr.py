"""`RecordingEhrWriteBack`: the local EHR write-back, which records each call instead of calling Epic.

Records go to table `ehrwritebacks` (PartitionKey = endpoint id, RowKey = the result or event id, fields
Kind, Payload (JSON), RecordedAt), so local runs and tests can see what would have been written:
device-test results (no patient data) in the control account, visit and SMS events (they name the
visit) in the event's geography. Upserts by id: a redelivered event is recorded once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.adapters.storage import Storage
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent

EHR_WRITE_BACKS_TABLE = "ehrwritebacks"


class RecordingEhrWriteBack:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None:
        """Record the call (idempotent per result id). Raises UpstreamError."""
        self._storage.control.table(EHR_WRITE_BACKS_TABLE).upsert(
            {
                "PartitionKey": endpoint_id,
                "RowKey": result_id,
                "Kind": "device_test",
                "Payload": json.dumps(result.as_dict(), separators=(",", ":")),
                "RecordedAt": datetime.now(UTC),
            }
        )

    def write_event(self, event: EhrEvent) -> None:
        """Record the call (idempotent per event id). Raises UpstreamError."""
        self._storage.for_geo(event.geo).table(EHR_WRITE_BACKS_TABLE).upsert(
            {
                "PartitionKey": event.endpoint_id,
                "RowKey": event.event_id,
                "Kind": str(event.kind),
                "Payload": json.dumps(event.to_message(), separators=(",", ":")),
                "RecordedAt": datetime.now(UTC),
            }
        )
