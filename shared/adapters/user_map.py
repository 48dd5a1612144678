"""EHR user -> Microsoft 365 user, the one piece of per-user data the launch keeps, in the organisation's geography.

Table `usermap` in the geography account: PartitionKey = `ehr_user_key(org id, fhirUser)` (hex SHA-256,
so the EHR user id itself is not stored), RowKey "user", fields ObjectId (Entra object id), Upn, MappedAt
(UTC). Written at the provider's first launch after their Microsoft 365 sign-in; read at every launch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.adapters.storage import Storage
from shared.errors import NotFoundError

USER_MAP_TABLE = "usermap"
ROW_KEY = "user"


@dataclass(frozen=True)
class MappedUser:
    object_id: str
    upn: str


class UserMap:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def find(self, geo: str, user_key: str) -> MappedUser | None:
        """The Microsoft 365 user of an EHR user key; None before their first sign-in. Raises UpstreamError."""
        try:
            entity = self._storage.for_geo(geo).table(USER_MAP_TABLE).get(user_key, ROW_KEY).entity
        except NotFoundError:
            return None
        return MappedUser(entity["ObjectId"], entity.get("Upn", ""))

    def upsert(self, geo: str, user_key: str, user: MappedUser, now: datetime) -> None:
        """Map (or re-map, after a later sign-in) an EHR user key. Raises UpstreamError."""
        self._storage.for_geo(geo).table(USER_MAP_TABLE).upsert(
            {"PartitionKey": user_key, "RowKey": ROW_KEY, "ObjectId": user.object_id, "Upn": user.upn, "MappedAt": now}
        )
