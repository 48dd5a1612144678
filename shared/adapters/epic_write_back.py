"""`EpicEhrWriteBack`: the EHR write-back to Epic, with our backend OAuth client.

Per endpoint: SMART discovery of its FHIR base URL gives the token endpoint; a client-credentials grant
with our `private_key_jwt` assertion gives an access token, cached until a minute before it expires.

* Visit connection events go to Epic's telehealth web service `SetExternalConnectionStatus` on the
  organisation's Interconnect base (`service_url`: the FHIR base without its `/api/FHIR/R4` tail), a GET with the
  parameters of `shared/domain/connection_status.py` and our `Epic-Client-ID` header. Statuses move
  forward only: table `ehrstatuses` in the event's geography (PartitionKey = endpoint id, RowKey =
  appointment key and side, fields LastAt, Status) keeps the last status set per side and its time, so
  the same event twice, an older one late, or a status Epic has already, changes nothing and calls
  Epic once.
* An undelivered SMS and a device-test result, which have no connection status, are a conditional
  create of a FHIR `Communication` (`shared/domain/ehr_communication.py`).
Failures raise UpstreamError: the `ehr-writeback` queue retries.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from shared.adapters.http_client import get_json
from shared.adapters.smart import SmartClient
from shared.adapters.storage import Storage
from shared.domain.config import Endpoint
from shared.domain.connection_status import StatusUpdate, service_url, status_updates
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_communication import (
    conditional_query,
    device_test_communication,
    undelivered_sms_communication,
)
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.errors import NotFoundError, UpstreamError

logger = logging.getLogger(__name__)

WRITE_SCOPE = "system/Communication.write"
TOKEN_MARGIN_SECONDS = 60
STATUSES_TABLE = "ehrstatuses"


class EndpointDirectory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


class EpicEhrWriteBack:
    def __init__(self, directory: EndpointDirectory, smart: SmartClient, storage: Storage) -> None:
        self._directory = directory
        self._smart = smart
        self._storage = storage
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, str]] = {}  # token endpoint -> (valid until, token)

    def write_event(self, event: EhrEvent) -> None:
        """Raises NotFoundError (endpoint gone), UpstreamError."""
        if event.kind is EhrEventKind.SMS_UNDELIVERED:
            self._create(event.endpoint_id, undelivered_sms_communication(event))
            logger.info("EHR event %s written to Epic for endpoint %s", event.event_id, event.endpoint_id)
            return
        updates = status_updates(event)
        if not updates:
            logger.info("EHR event %s (%s) has no Epic connection status; not sent", event.event_id, event.kind)
            return
        for update in updates:
            self._set_status(event, update)

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None:
        """Raises NotFoundError (endpoint gone), UpstreamError."""
        self._create(endpoint_id, device_test_communication(result_id, result, datetime.now(UTC)))
        logger.info("Device test %s written to Epic for endpoint %s", result_id, endpoint_id)

    def _set_status(self, event: EhrEvent, update: StatusUpdate) -> None:
        table = self._storage.for_geo(event.geo).table(STATUSES_TABLE)
        row_key = f"{event.appointment_key}|{update.side}"
        try:
            last = table.get(event.endpoint_id, row_key).entity
        except NotFoundError:
            last = None
        if last is not None and (last["LastAt"] >= event.occurred_at or last["Status"] == update.status):
            logger.info("EHR event %s: Epic has this side's status already, or a newer one", event.event_id)
            return
        base = self._directory.get_endpoint(event.endpoint_id).fhir_base_url
        try:
            url = service_url(base)
        except ValueError:
            raise UpstreamError(
                "The endpoint's FHIR base URL has no Epic Interconnect base.", retryable=False
            ) from None
        get_json(
            url,
            what="Epic SetExternalConnectionStatus",
            bearer=self._token(self._smart.discover(base).token_endpoint),
            params=update.parameters(),
            headers={"Epic-Client-ID": self._smart.client_id},
        )
        table.upsert(
            {
                "PartitionKey": event.endpoint_id,
                "RowKey": row_key,
                "LastAt": event.occurred_at,
                "Status": int(update.status),
            }
        )
        logger.info("EHR event %s: Epic connection status %s set (%s)", event.event_id, update.status.name, update.side)

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
