"""`RecordingEhrWriteBack`: the local EHR write-back, which records each call instead of calling Epic.

Records go to the control account's table `ehrwritebacks` (PartitionKey = endpoint id, RowKey = the
result id, fields Kind, Payload (JSON), RecordedAt), so local runs and tests can see what would have
been written. A FHIR write-back replaces it once the SMART client exists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.adapters.storage import Storage
from shared.domain.device_test import DeviceTestResult

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
