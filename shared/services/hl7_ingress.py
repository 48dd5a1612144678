"""HL7 ingress: authenticate the sender, store the message in its organisation's geography, acknowledge.

`MSA|AA` is only ever sent after the message is durably queued, and only for a message the queue function
can apply (checked here, so a content error is the sender's to fix now, not a poison message later). Every
refusal is an ACK with `AR` (do not resend it unchanged) or `AE` (our trouble: send it again) and a plain
reason, paired with its HTTP status. A message too large for a queue message waits in the geography's blob
container and the queue carries its name.

Strangers learn nothing of an endpoint's state: the sender is authenticated before the endpoint's status
is looked at, and an environment without a usable key refuses like a wrong signature (the log says why).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.adapters.sender_tokens import ReplayGuard
from shared.adapters.storage import StorageAccount
from shared.domain.ack import build_ack
from shared.domain.config import Endpoint, EndpointStatus, SenderKeys, is_endpoint_id
from shared.domain.hl7_message import Hl7ErrorCode, Hl7MessageError, MessageHeader, read_header, unframe
from shared.domain.sender_token import bearer_token, read_token_header, replay_window_end, verify_sender_token
from shared.domain.siu import check_siu
from shared.errors import (
    ConflictError,
    ConnectorError,
    InvalidRequestError,
    NotAuthorisedError,
    NotFoundError,
    UpstreamError,
)
from shared.log_safety import loggable
from shared.queue_names import HL7_INBOUND_QUEUE

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
OVERFLOW_CONTAINER = "hl7-overflow"
NO_USABLE_KEY = "The token is not signed with a key this endpoint accepts."


class Directory(Protocol):
    """What the ingress reads of the configuration (ConfigStore, or a cache in front of it)."""

    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...

    def get_sender_keys(self, org_id: str, environment: str) -> SenderKeys: ...


class KeyResolver(Protocol):
    def public_keys(self, keys: SenderKeys, kid: str | None, now: datetime) -> list[Any]: ...


@dataclass(frozen=True)
class IngressReply:
    status: int
    ack: str


class _Refused(Exception):
    def __init__(self, status: int, reason: str, error_code: Hl7ErrorCode, ack_code: str = "AR") -> None:
        super().__init__(reason)
        self.status, self.reason, self.error_code, self.ack_code = status, reason, error_code, ack_code


def ingest_hl7(
    *,
    endpoint_id: str,
    body: bytes,
    authorization: str | None,
    audience: str,
    directory: Directory,
    keys: KeyResolver,
    account_for_geo: Any,
    now: datetime | None = None,
) -> IngressReply:
    """Check, store and acknowledge one message. Never raises: every outcome is an ACK and a status.

    `account_for_geo(geo)` gives the StorageAccount of a geography (the endpoint's, and no other).
    """
    now = now or datetime.now(UTC)
    header = read_header(body) if len(body) <= MAX_BODY_BYTES else None
    try:
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, "The message is larger than 1 MiB.", Hl7ErrorCode.APPLICATION_INTERNAL_ERROR)
        endpoint = _endpoint(directory, endpoint_id)
        account = account_for_geo(endpoint.geo)
        _authenticate(endpoint, body, authorization, audience, directory, keys, account, now)
        if endpoint.status is not EndpointStatus.APPROVED:
            raise _Refused(
                409, f"The endpoint is not approved (status {endpoint.status}).", Hl7ErrorCode.APPLICATION_RECORD_LOCKED
            )
        if header is None:
            raise _Refused(
                400, "The body is not an HL7 v2 message (no readable MSH segment).", Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR
            )
        _check_content(endpoint, body)
        _store(account, endpoint, body, header, now)
    except _Refused as refusal:
        logger.info("HL7 for endpoint %s refused (%d): %s", loggable(endpoint_id), refusal.status, refusal.reason)
        ack = build_ack(header, refusal.ack_code, now=now, reason=refusal.reason, error_code=refusal.error_code)
        return IngressReply(refusal.status, ack)
    logger.info("HL7 %s for endpoint %s queued", loggable(header.control_id), endpoint_id)
    return IngressReply(200, build_ack(header, "AA", now=now))


def _endpoint(directory: Directory, endpoint_id: str) -> Endpoint:
    if not is_endpoint_id(endpoint_id):
        raise _Refused(404, "Unknown endpoint.", Hl7ErrorCode.UNKNOWN_KEY_IDENTIFIER)
    try:
        return directory.get_endpoint(endpoint_id)
    except NotFoundError:
        raise _Refused(404, "Unknown endpoint.", Hl7ErrorCode.UNKNOWN_KEY_IDENTIFIER) from None
    except UpstreamError as error:
        raise _unavailable(error) from error


def _authenticate(
    endpoint: Endpoint,
    body: bytes,
    authorization: str | None,
    audience: str,
    directory: Directory,
    keys: KeyResolver,
    account: StorageAccount,
    now: datetime,
) -> None:
    """Signature, claims and single use of the sender's token.

    A token that binds the body (`body_sha256`, checked) is not recorded in the replay guard: replayed, it
    can only bring this very message again, which is what a sender's own resend or a queue redelivery
    brings, and the appointment's idempotency (sender + MSH-10, MSH-7 ordering, tombstones: see
    `shared.domain.appointment`) absorbs it without a second SMS. So the common path (Epic and the sender
    tool sign the body) costs one storage round trip, the enqueue, and a replay still cannot store anything
    an `AA` did not already stand for. A token that does not bind the body could carry any other body, so
    its `jti` is used once, before anything is stored.
    """
    try:
        token = bearer_token(authorization)
        header = read_token_header(token)
        sender_keys = directory.get_sender_keys(endpoint.org_id, endpoint.environment)
        public_keys = keys.public_keys(sender_keys, header.key_id, now)
        verified = verify_sender_token(
            token,
            header=header,
            keys=public_keys,
            audience=audience,
            body=body,
            require_body_hash=endpoint.require_body_hash,
        )
        if not verified.binds_body:
            ReplayGuard(account).use_once(endpoint.id, verified.jti, replay_window_end(now))
    except NotAuthorisedError as error:
        raise _Refused(401, error.message, Hl7ErrorCode.APPLICATION_INTERNAL_ERROR) from error
    except (NotFoundError, ConflictError) as error:
        # No certificate, or only an expired one: the caller cannot be authenticated, and is not told why.
        logger.info("HL7 for endpoint %s: no usable sender key (%s)", endpoint.id, error.message)
        raise _Refused(401, NO_USABLE_KEY, Hl7ErrorCode.APPLICATION_INTERNAL_ERROR) from None
    except UpstreamError as error:
        raise _unavailable(error) from error


def _check_content(endpoint: Endpoint, body: bytes) -> None:
    """Refuse now what the queue function could never apply (SCH missing, an id too long for a key, ...).

    Its cost (about 0.8 ms of a 300-byte SIU, a sixth of the ingress's own time, mostly python-hl7's parse)
    is kept whole: the check reads exactly what `parse_siu` will, so `AA` always means "can be applied".
    Parsing only the segments it reads would let the queue function meet content the ingress never read.
    """
    try:
        check_siu(body, local_tz=ZoneInfo(endpoint.time_zone))
    except Hl7MessageError as error:
        raise _Refused(400, f"The message cannot be applied: {error.message}.", error.error_code) from error


def _store(account: StorageAccount, endpoint: Endpoint, body: bytes, header: MessageHeader, now: datetime) -> None:
    """Durably queue the message in the endpoint's geography; large ones go to a blob first."""
    payload: dict[str, Any] = {"v": 1, "endpoint": endpoint.id, "received": now.isoformat()}
    text = unframe(body)
    try:
        try:
            account.queue(HL7_INBOUND_QUEUE).send({**payload, "body": text})
        except InvalidRequestError:  # above the 64 KiB queue limit
            name = f"{endpoint.id}/{uuid.uuid4().hex}"
            account.container(OVERFLOW_CONTAINER).upload(name, text.encode("utf-8"))
            account.queue(HL7_INBOUND_QUEUE).send({**payload, "blob": name})
    except ConnectorError as error:
        logger.warning("HL7 %s for endpoint %s could not be stored: %s", header.control_id, endpoint.id, error.message)
        raise _Refused(
            503,
            "The message could not be stored; send it again.",
            Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
            ack_code="AE",
        ) from error


def _unavailable(error: UpstreamError) -> _Refused:
    logger.warning("HL7 ingress could not read its configuration: %s", error.message)
    return _Refused(
        503,
        "The connector cannot check the message now; send it again.",
        Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
        ack_code="AE",
    )
