"""Whether the control storage and each geography's storage answer, for `GET /api/health`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from shared import __version__
from shared.errors import ConnectorError

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"


class Pingable(Protocol):
    label: str

    def ping(self) -> None: ...


@dataclass(frozen=True)
class HealthReport:
    version: str
    control: str
    geos: dict[str, str]

    @property
    def healthy(self) -> bool:
        return self.control == OK and all(state == OK for state in self.geos.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "status": OK if self.healthy else UNAVAILABLE,
            "version": self.version,
            "storage": {"control": self.control, "geos": self.geos},
        }


def check_health(control: Pingable, geos: dict[str, Pingable]) -> HealthReport:
    """Ping every account at once, so one slow account does not add to the others' time."""
    accounts = {"control": control, **{f"geo:{geo}": account for geo, account in geos.items()}}
    with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
        states = dict(zip(accounts, pool.map(_state, accounts.values()), strict=True))
    return HealthReport(
        version=__version__,
        control=states["control"],
        geos={geo: states[f"geo:{geo}"] for geo in geos},
    )


def _state(account: Pingable) -> str:
    try:
        account.ping()
    except ConnectorError as exc:
        logger.warning("Health check: storage %s did not answer: %s", account.label, exc.message)
        return UNAVAILABLE
    return OK
