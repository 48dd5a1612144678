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

After the purge the row goes, and the link's entry in `endedlinks` (PartitionKey `ended_link_key(token)`, RowKey
"", EndpointId) says for ENDED_LINK_LIFETIME that the visit is over, naming only the endpoint (whom to contact);
an `expiries` pointer, written first, deletes it then.

Tokens are `<geo>-<random>` (`new_token`), so a lookup is one point read in one geography's account.
A token naming no served geography still costs the same read (in the first served geography), so
neither the answer nor the work tells whether a token, or its geography, exists.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.adapters.expiring import Expiries
from shared.adapters.storage import Storage
from shared.domain.join_tokens import ENDED_LINK_LIFETIME, JoinTarget, ended_link_key, token_geo, token_hash
from shared.errors import NotFoundError

JOIN_TOKENS_TABLE = "jointokens"
ENDED_LINKS_TABLE = "endedlinks"


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

    def retire(self, token: str, endpoint_id: str, now: datetime) -> None:
        """The purge: the token opens nothing any more, and for ENDED_LINK_LIFETIME says its visit is over
        (idempotent; the pointer that deletes the entry is written before it)."""
        account = self._storage.for_geo(token_geo(token))
        key = ended_link_key(token)
        Expiries(account).add(ENDED_LINKS_TABLE, key, "", now + ENDED_LINK_LIFETIME)
        account.table(ENDED_LINKS_TABLE).upsert({"PartitionKey": key, "RowKey": "", "EndpointId": endpoint_id})
        account.table(JOIN_TOKENS_TABLE).delete(token_hash(token), "")

    def find_ended(self, token: str) -> str | None:
        """The endpoint of the purged visit `token` opened, while its link still says so; else None.
        Raises UpstreamError."""
        geo = token_geo(token)
        served = geo in self._storage.geos
        table = self._storage.for_geo(geo if served else self._storage.geos[0]).table(ENDED_LINKS_TABLE)
        try:
            entity = table.get(ended_link_key(token), "").entity
        except NotFoundError:
            return None
        return entity["EndpointId"] if served else None


def _utc(value: datetime) -> datetime:
    """Tables returns aware datetimes (its own tz class); normalise to UTC."""
    return value.astimezone(UTC)
