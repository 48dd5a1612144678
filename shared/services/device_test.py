"""Device test: check the link's context token, store the browser's result, hand it to the EHR write-back
(if the endpoint enables it).

Results go to the control account (table `devicetests`, PartitionKey = endpoint id, RowKey = UTC time
plus a random suffix; fields Result (JSON), Passed, CreatedAt): they carry no patient data, and the
context token names only the endpoint, so the control account is the one place that needs nothing
more to route them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.adapters.storage import Storage
from shared.domain.device_test import DeviceTestResult, parse_device_test_result
from shared.services.ehr_write_back import EhrWriteBack, EndpointDirectory, writes_back

logger = logging.getLogger(__name__)

DEVICE_TESTS_TABLE = "devicetests"


class ContextTokenVerifier(Protocol):
    """Verifies a context token and returns the endpoint id it was issued for; raises NotAuthorisedError."""

    def verify(self, token: str) -> str: ...


def record_device_test(
    storage: Storage,
    directory: EndpointDirectory,
    write_back: EhrWriteBack,
    verifier: ContextTokenVerifier,
    context_token: str,
    read_result: Callable[[], Any],
    now: datetime,
) -> tuple[str, DeviceTestResult]:
    """Store the result posted by the device-test page and write it back (where the endpoint enables
    write-back); returns its id and the result.

    `read_result` reads the posted JSON: called only once the token is verified. Raises NotAuthorisedError
    (bad or expired token), InvalidRequestError (malformed result; nothing stored), UpstreamError.
    """
    endpoint_id = verifier.verify(context_token)
    result = parse_device_test_result(read_result())
    result_id = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
    storage.control.table(DEVICE_TESTS_TABLE).create(
        {
            "PartitionKey": endpoint_id,
            "RowKey": result_id,
            "Result": json.dumps(result.as_dict(), separators=(",", ":")),
            "Passed": result.passed,
            "CreatedAt": now,
        }
    )
    if writes_back(directory, endpoint_id):
        write_back.write_device_test(endpoint_id, result_id, result)
    logger.info("Device test %s stored for endpoint %s (passed: %s)", result_id, endpoint_id, result.passed)
    return result_id, result
