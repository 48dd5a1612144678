"""`EpicEhrWriteBack`: the EHR write-back to Epic over FHIR, with our backend OAuth client.

Per endpoint: SMART discovery of its FHIR base URL gives the token endpoint; a client-credentials grant
with our `private_key_jwt` assertion (scope `system/Communication.write`) gives an access token, cached
until a minute before it expires; each fact is a conditional create of a `Communication`
(`shared/domain/ehr_communication.py`). Failures raise UpstreamError: the `ehr-writeback` queue retries.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from shared.adapters.smart import SmartClient
from shared.domain.config import Endpoint
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_communication import conditional_query, device_test_communication, event_communication
from shared.domain.ehr_events import EhrEvent

logger = logging.getLogger(__name__)

WRITE_SCOPE = "system/Communication.write"
TOKEN_MARGIN_SECONDS = 60


class EndpointDirectory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


class EpicEhrWriteBack:
    def __init__(self, directory: EndpointDirectory, smart: SmartClient) -> None:
        self._directory = directory
        self._smart = smart
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, str]] = {}  # token endpoint -> (valid until, token)

    def write_event(self, event: EhrEvent) -> None:
        """Raises NotFoundError (endpoint gone), UpstreamError."""
        self._create(event.endpoint_id, event_communication(event))
        logger.info("EHR event %s written to Epic for endpoint %s", event.event_id, event.endpoint_id)

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None:
        """Raises NotFoundError (endpoint gone), UpstreamError."""
        self._create(endpoint_id, device_test_communication(result_id, result, datetime.now(UTC)))
        logger.info("Device test %s written to Epic for endpoint %s", result_id, endpoint_id)

    def _create(self, endpoint_id: str, resource: dict) -> None:
        base = self._directory.get_endpoint(endpoint_id).fhir_base_url
        token = self._token(self._smart.discover(base).token_endpoint)
        self._smart.create(base, resource, token, if_none_exist=conditional_query(resource))

    def _token(self, token_endpoint: str) -> str:
        with self._lock:
            cached = self._tokens.get(token_endpoint)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        token, lifetime = self._smart.backend_token(token_endpoint, WRITE_SCOPE)
        with self._lock:
            self._tokens[token_endpoint] = (time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, 0), token)
        return token
