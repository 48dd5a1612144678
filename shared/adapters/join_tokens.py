"""Join-token lookup over the geography's `jointokens` table: `TableJoinTokens`.

Schema (`shared/services/scheduling.py` writes rows in exactly this shape, in the visit's geography account):

    table        jointokens
    PartitionKey hex SHA-256 of the whole token (`shared.domain.join_tokens.token_hash`); never the token
    RowKey       "" (empty)
    EndpointId   str        the FHIR endpoint id
    Geo          str        US | EU | APAC, the same as the token's prefix
    VisitId      str        the visit's id, as the launch sees it (CSN / sessionId, else the appointment id)
    Start, End   datetime   scheduled start and end, timezone-aware UTC
    Status       str        "booked" can be joined; anything else ("cancelled", "noshow", ...) cannot
    OrganizerUserId str     optional: the Teams (Entra object) id of the clinician hosting the visit

Tokens are `<geo>-<random>` (`new_token`), so a lookup is one point read in one geography's account.
A token naming no served geography still costs the same read (in the first served geography), so
neither the answer nor the work tells whether a token, or its geography, exists.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.adapters.storage import Storage
from shared.domain.join_tokens import JoinTarget, token_geo, token_hash
from shared.errors import NotFoundError

JOIN_TOKENS_TABLE = "jointokens"


class TableJoinTokens:
    """`JoinTokens` over Azure Tables, one table per geography."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def find(self, token: str) -> JoinTarget | None:
        """The visit `token` opens, or None when there is no such token. Raises UpstreamError."""
        geo = token_geo(token)
        served = geo in self._storage.geos
        table = self._storage.for_geo(geo if served else self._storage.geos[0]).table(JOIN_TOKENS_TABLE)
        try:
            entity = table.get(token_hash(token), "").entity
        except NotFoundError:
            return None
        if not served:
            return None
        return JoinTarget(
            endpoint_id=entity["EndpointId"],
            geo=entity["Geo"],
            visit_id=entity["VisitId"],
            start=_utc(entity["Start"]),
            end=_utc(entity["End"]),
            status=entity["Status"],
            organizer_user_id=entity.get("OrganizerUserId") or None,
        )

    def upsert(self, token: str, target: JoinTarget) -> None:
        """Write the row the token opens, in the token's own geography (the HL7 queue function keeps it current)."""
        entity = {
            "PartitionKey": token_hash(token),
            "RowKey": "",
            "EndpointId": target.endpoint_id,
            "Geo": target.geo,
            "VisitId": target.visit_id,
            "Start": target.start,
            "End": target.end,
            "Status": target.status,
        }
        if target.organizer_user_id:
            entity["OrganizerUserId"] = target.organizer_user_id
        self._storage.for_geo(token_geo(token)).table(JOIN_TOKENS_TABLE).upsert(entity)

    def delete(self, token: str) -> None:
        """Forget the token (idempotent): after the purge a link opens nothing."""
        self._storage.for_geo(token_geo(token)).table(JOIN_TOKENS_TABLE).delete(token_hash(token), "")


def _utc(value: datetime) -> datetime:
    """Tables returns aware datetimes (its own tz class); normalise to UTC."""
    return value.astimezone(UTC)
