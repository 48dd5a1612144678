"""A Microsoft Graph stand-in: online meetings, change-notification subscriptions to their call events, and
the rich notifications Graph sends for them, encrypted with the subscriber's certificate.

Shapes, from microsoftgraph/microsoft-graph-docs-contrib:

* Meetings (api-reference/v1.0/api/onlinemeeting-createorget.md, onlinemeeting-update.md,
  resources/onlinemeeting.md): `POST /v1.0/users/{id}/onlineMeetings/createOrGet`, idempotent on
  `externalId` (201 when created, 200 after), and `PATCH .../onlineMeetings/{id}`; a new meeting has
  `allowedPresenters` `everyone` and `isEntryExitAnnounced` true (the createOrGet response example) and
  `lobbyBypassSettings.scope` `organizer`.
* Subscriptions (api-reference/beta/api/subscription-post-subscriptions.md, subscription-update.md,
  subscription-reauthorize.md, subscription-delete.md, resources/subscription.md): `POST /beta/subscriptions`
  first validates `notificationUrl` and `lifecycleNotificationUrl` (concepts/change-notifications-delivery-
  webhooks.md: a POST with `?validationToken=` that must be echoed as text/plain within 10 s, else 400);
  `meetingCallEvents` allows one subscription per app per meeting (resources/subscription.md; the docs give
  no status for a second one: 403 is what issue 13 reports) and at most three days;
  `includeResourceData` needs `encryptionCertificate` and `encryptionCertificateId` (400 otherwise).
  `PATCH /beta/subscriptions/{id}` renews (and reauthorizes; it may also change the encryption
  certificate: "Rotating keys" in concepts/change-notifications-with-resource-data.md),
  `POST .../{id}/reauthorize` answers 204, `DELETE` 204; an unknown id 404.
* Notifications (concepts/changenotifications-for-onlinemeeting.md, "Rich notifications";
  concepts/change-notifications-with-resource-data.md): items with `resourceData` holding only id and type
  and `encryptedContent` (`data` AES-CBC/PKCS7 with the key's first 16 bytes as IV, `dataSignature`
  HMAC-SHA256 of the ciphertext, `dataKey` RSA-OAEP-SHA1 with the certificate's public key,
  `encryptionCertificateId`, `encryptionCertificateThumbprint`), plus `validationTokens`: one JWT per
  app and tenant, `iss` `https://sts.windows.net/{tid}/`, `aud` the app id, `appid`
  0bf30f3b-4a52-48df-9a82-234910c4a086, signed with a key published at `/common/discovery/keys` as the
  Microsoft identity platform publishes its own. Decrypted: `eventType` `callStarted` / `callEnded` /
  `rosterUpdated` with `participants@delta` (`info.identity`, `isInLobby`, `removedState`).
* Lifecycle notifications (concepts/change-notifications-lifecycle-events.md): `subscriptionRemoved` (the
  subscription is gone), `reauthorizationRequired` (deliveries pause until reauthorized or renewed; what
  happens meanwhile is lost), `missed`; they carry no resource data, and none of the doc's examples a
  validation token.

Answers can be scripted per call with `script` (Responses served first, in order) to play throttling,
server errors and missing access policies; `subscribe_script` does the same for subscription creation
only. With `entra`, the same HTTPS server plays Entra ID too, so the SDKs need one CA file. `deliver` is
how the stand-in reaches the subscriber's webhook: a function of (url, query, body) returning (status,
body); without it subscriptions are not validated and nothing is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from localworld.entra_client_credentials import EntraClientCredentials
from localworld.server import Request, Response, StandIn

GRAPH_NOTIFICATION_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"
MAX_SUBSCRIPTION_LIFETIME = timedelta(days=3)
KEYS_PATH = "/common/discovery/keys"
CERTIFICATE_FIELDS = ("encryptionCertificate", "encryptionCertificateId")

Deliver = Callable[[str, dict[str, str], bytes], tuple[int, bytes]]


class GraphStandIn:
    def __init__(self, entra: EntraClientCredentials, deliver: Deliver | None = None, *, port: int = 0) -> None:
        self.entra = entra
        self.deliver = deliver
        self.meetings: dict[str, dict] = {}  # externalId -> meeting
        self.subscriptions: dict[str, dict] = {}  # id -> subscription as created
        self.paused: set[str] = set()  # subscriptions waiting for reauthorization: deliveries are lost
        self.deleted: list[str] = []
        self.script: list[Response] = []
        self.subscribe_script: list[Response] = []  # served first to POST /beta/subscriptions only
        self.requests: list[Request] = []  # Graph's only, not Entra's
        self._lock = threading.Lock()
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        self.server = StandIn(self.handle, tls=True, port=port)

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == KEYS_PATH:
            return Response.json({"keys": [self._public_jwk()]})
        if self.entra.handles(request):
            return self.entra.handle(request)
        self.requests.append(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.entra.issued:
            return _error(401, "InvalidAuthenticationToken")
        with self._lock:
            if self.script:
                return self.script.pop(0)
            parts = request.path.strip("/").split("/")  # v1.0 users {id} onlineMeetings ...
        if parts[:2] == ["beta", "subscriptions"]:
            return self._subscriptions(request, parts[2:])
        with self._lock:
            return self._meetings(request, parts)

    def _meetings(self, request: Request, parts: list[str]) -> Response:
        if len(parts) == 5 and parts[4] == "createOrGet" and request.method == "POST":
            body = json.loads(request.body)
            meeting = self.meetings.get(body["externalId"])
            if meeting is not None:
                return Response.json(meeting)
            meeting = {
                "id": f"MSo{uuid.uuid4().hex}",
                "externalId": body["externalId"],
                "subject": body.get("subject"),
                "startDateTime": body.get("startDateTime"),
                "endDateTime": body.get("endDateTime"),
                "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{uuid.uuid4().hex}%40thread.v2/0",
                "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                "allowedPresenters": "everyone",
                "isEntryExitAnnounced": True,
            }
            self.meetings[body["externalId"]] = meeting
            return Response.json(meeting, status=201)
        if len(parts) == 5 and request.method == "PATCH":
            meeting = next((m for m in self.meetings.values() if m["id"] == parts[4]), None)
            if meeting is None:
                return _error(404, "NotFound")
            changes = {k: v for k, v in json.loads(request.body).items() if not k.startswith("@odata")}
            meeting.update(changes)
            return Response.json(meeting)
        return _error(404, "UnknownRoute")

    def _subscriptions(self, request: Request, rest: list[str]) -> Response:
        if not rest and request.method == "POST":
            with self._lock:
                scripted = self.subscribe_script.pop(0) if self.subscribe_script else None
            return scripted or self._subscribe(json.loads(request.body))
        with self._lock:
            subscription = self.subscriptions.get(rest[0]) if rest else None
        if subscription is None:
            return _error(404, "ResourceNotFound")
        if len(rest) == 1 and request.method == "PATCH":
            changes = json.loads(request.body)
            if _parse_time(changes["expirationDateTime"]) > datetime.now(UTC) + MAX_SUBSCRIPTION_LIFETIME:
                return _error(400, "ExtensionError")
            with self._lock:
                subscription.update(
                    {k: v for k, v in changes.items() if k in ("expirationDateTime", *CERTIFICATE_FIELDS)}
                )
                self.paused.discard(rest[0])  # renewing also reauthorizes
            return Response.json(_public(subscription))
        if rest[1:] == ["reauthorize"] and request.method == "POST":
            with self._lock:
                self.paused.discard(rest[0])
            return Response(204)
        if len(rest) == 1 and request.method == "DELETE":
            with self._lock:
                del self.subscriptions[rest[0]]
                self.deleted.append(rest[0])
            return Response(204)
        return _error(404, "UnknownRoute")

    def _subscribe(self, body: dict) -> Response:
        resource = str(body.get("resource", ""))
        if not (
            resource.startswith("communications/onlineMeetings(joinWebUrl='")
            and resource.endswith("')/meetingCallEvents")
        ):
            return _error(400, "InvalidRequest")
        if body.get("includeResourceData") and not (
            body.get("encryptionCertificate") and body.get("encryptionCertificateId")
        ):
            return _error(400, "InvalidRequest")
        if _parse_time(body["expirationDateTime"]) > datetime.now(UTC) + MAX_SUBSCRIPTION_LIFETIME:
            return _error(400, "ExtensionError")
        with self._lock:
            if any(s["resource"] == resource for s in self.subscriptions.values()):
                return _error(403, "Forbidden")  # one subscription per app per online meeting
        # Both URLs are validated, twice when they are the same (change-notifications-with-resource-data.md).
        for url in (body["notificationUrl"], *filter(None, [body.get("lifecycleNotificationUrl")])):
            if not self._validates(url):
                return _error(400, "ValidationError")
        subscription = {**body, "id": str(uuid.uuid4()), "applicationId": self.entra.client_id}
        with self._lock:
            self.subscriptions[subscription["id"]] = subscription
        return Response.json(_public(subscription), status=201)

    def _validates(self, url: str) -> bool:
        """Graph's validation request: the token must come back as text/plain, 200."""
        if self.deliver is None:
            return True
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        status, answer = self.deliver(url, {"validationToken": token}, b"")
        return status == 200 and answer.decode("utf-8", errors="replace") == token

    # What Graph sends --------------------------------------------------------------------------------

    def rich_delivery(self, subscription_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        """The body Graph posts for one call event of the subscription's meeting."""
        subscription = self.subscriptions[subscription_id]
        notification_id = str(uuid.uuid4())
        odata_id = subscription["resource"]
        item = {
            "subscriptionId": subscription_id,
            "clientState": subscription.get("clientState"),
            "changeType": "updated",
            "tenantId": self.entra.tenant,
            "resource": odata_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "resourceData": {"@odata.id": odata_id, "@odata.type": "#microsoft.graph.callevent", "id": notification_id},
            "organizationId": self.entra.tenant,
            "encryptedContent": self._encrypt(
                subscription,
                {"@odata.type": "#microsoft.graph.callevent", "@odata.id": odata_id, "id": notification_id, **resource},
            ),
        }
        return {"value": [item], "validationTokens": [self.validation_token()]}

    def lifecycle_delivery(self, subscription_id: str, event: str) -> dict[str, Any]:
        subscription = self.subscriptions[subscription_id]
        item = {
            "subscriptionId": subscription_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "tenantId": self.entra.tenant,
            "clientState": subscription.get("clientState"),
            "lifecycleEvent": event,
        }
        return {"value": [item]}

    def notify(self, subscription_id: str, resource: dict[str, Any]) -> int | None:
        """Deliver one call event; None when Graph would not (removed, or waiting for reauthorization)."""
        if subscription_id not in self.subscriptions or subscription_id in self.paused:
            return None
        return self.send(self.subscriptions[subscription_id], self.rich_delivery(subscription_id, resource))

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """Send a lifecycle notification; `subscriptionRemoved` removes it first, `reauthorizationRequired`
        pauses its deliveries."""
        subscription = self.subscriptions[subscription_id]
        body = self.lifecycle_delivery(subscription_id, event)
        with self._lock:
            if event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]
            elif event == "reauthorizationRequired":
                self.paused.add(subscription_id)
        return self.send(subscription, body)

    def send(self, subscription: dict, body: dict[str, Any]) -> int:
        if self.deliver is None:
            raise RuntimeError("This Graph stand-in has no webhook to deliver to.")
        url = subscription.get("lifecycleNotificationUrl") if "lifecycleEvent" in body["value"][0] else None
        status, _ = self.deliver(url or subscription["notificationUrl"], {}, json.dumps(body).encode())
        return status

    def validation_token(self, *, app_id: str | None = None, publisher: str = GRAPH_NOTIFICATION_PUBLISHER) -> str:
        now = int(time.time())
        tenant = self.entra.tenant
        claims = {
            "aud": app_id or self.entra.client_id,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + 8 * 3600,
            "appid": publisher,
            "appidacr": "2",
            "idp": f"https://sts.windows.net/{tenant}/",
            "tid": tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        return jwt.encode(claims, self._signing_key, algorithm="RS256", headers={"kid": self._kid})

    def _encrypt(self, subscription: dict, resource: dict[str, Any]) -> dict[str, str]:
        certificate = x509.load_der_x509_certificate(base64.b64decode(subscription["encryptionCertificate"]))
        key = os.urandom(32)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(json.dumps(resource).encode()) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        data = encryptor.update(plain) + encryptor.finalize()
        oaep = asymmetric.OAEP(mgf=asymmetric.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - Graph's OAEP
        return {
            "data": base64.b64encode(data).decode(),
            "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
            "dataKey": base64.b64encode(certificate.public_key().encrypt(key, oaep)).decode(),
            "encryptionCertificateId": subscription["encryptionCertificateId"],
            "encryptionCertificateThumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        }

    def _public_jwk(self) -> dict[str, str]:
        numbers = self._signing_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self._kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes(3, "big")),
        }

    # Playing a call -------------------------------------------------------------------------------------

    def subscription_of(self, join_url: str) -> str:
        """The id of the one subscription to the meeting's call events. Raises KeyError."""
        encoded = quote(join_url, safe="")
        for subscription_id, subscription in self.subscriptions.items():
            if subscription["resource"] == f"communications/onlineMeetings(joinWebUrl='{encoded}')/meetingCallEvents":
                return subscription_id
        raise KeyError("No subscription to that meeting's call events.")

    def call(self, join_url: str) -> MeetingCall:
        return MeetingCall(self, join_url)


@dataclass(frozen=True)
class Participant:
    """Someone in a call: a Microsoft 365 user (staff) or an anonymous guest (the patient's browser)."""

    id: str
    identity: dict[str, Any]

    @classmethod
    def user(cls, object_id: str, tenant_id: str, display_name: str = "Dr Example") -> Participant:
        return cls(str(uuid.uuid4()), {"user": {"id": object_id, "displayName": display_name, "tenantId": tenant_id}})

    @classmethod
    def guest(cls, display_name: str = "Patient Example") -> Participant:
        return cls(str(uuid.uuid4()), {"guest": {"id": str(uuid.uuid4()), "displayName": display_name}})


class MeetingCall:
    """Plays one meeting's call through the stand-in's notifications; each step returns the webhook's status
    (None when Graph would not deliver)."""

    def __init__(self, graph: GraphStandIn, join_url: str) -> None:
        self._graph = graph
        self._join_url = join_url

    def start(self, at: datetime) -> int | None:
        return self._send({"eventType": "callStarted", "eventDateTime": _time(at)})

    def end(self, at: datetime) -> int | None:
        return self._send({"eventType": "callEnded", "eventDateTime": _time(at)})

    def lobby(self, participant: Participant, at: datetime) -> int | None:
        return self._roster(at, _entry(participant, in_lobby=True))

    def join(self, participant: Participant, at: datetime) -> int | None:
        """Joins the call: straight in, or admitted from the lobby."""
        return self._roster(at, _entry(participant, in_lobby=False))

    admit = join

    def leave(self, participant: Participant, at: datetime) -> int | None:
        entry = {
            **_entry(participant, in_lobby=False),
            "removedState": {"reason": "Participant has left the meeting call."},
        }
        return self._roster(at, entry)

    def _roster(self, at: datetime, *entries: dict[str, Any]) -> int | None:
        return self._send(
            {"eventType": "rosterUpdated", "eventDateTime": _time(at), "participants@delta": list(entries)}
        )

    def _send(self, resource: dict[str, Any]) -> int | None:
        try:
            subscription_id = self._graph.subscription_of(self._join_url)
        except KeyError:
            return None
        return self._graph.notify(subscription_id, resource)


def post_to_webhook(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """A `deliver` over HTTP(S), for a stand-in in front of a running app (`make run`); Graph waits 10 s."""
    import requests

    content_type = "text/plain" if query else "application/json"
    response = requests.post(url, params=query, data=body, headers={"Content-Type": content_type}, timeout=10)
    return response.status_code, response.content


def _entry(participant: Participant, *, in_lobby: bool) -> dict[str, Any]:
    return {"info": {"identity": participant.identity}, "isInLobby": in_lobby, "id": participant.id}


def _public(subscription: dict) -> dict:
    """A subscription as Graph returns it: never the certificate sent."""
    return {k: v for k, v in subscription.items() if k != "encryptionCertificate"}


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": {"code": code, "message": code}}, status=status, headers=headers)


def graph_error(status: int, code: str, retry_after: int | None = None) -> Response:
    """A Graph error answer, optionally with Retry-After."""
    return _error(status, code, {"Retry-After": str(retry_after)} if retry_after is not None else None)
