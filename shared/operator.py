"""Operator commands: `python -m shared.operator poison list|replay`, against Azurite or Azure.

Storage is reached as the app reaches it, from the same settings (environment variables, else
local.settings.json's Values): connection strings locally, Entra ID in Azure (`<SETTING>__queueServiceUri`
and a signed-in `az login` or managed identity, through DefaultAzureCredential). Listings show ids,
endpoint, reason and age, never a message body, phone number or name.

    python -m shared.operator poison list [--geo EU]
    python -m shared.operator poison replay --geo EU --queue hl7-inbound <message id>
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import ConnectorError
from shared.local_settings import load_local_settings
from shared.queue_names import EHR_WRITEBACK_QUEUE, HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE

if TYPE_CHECKING:
    from shared.services.poison import PoisonMessage

GEO_QUEUES = (HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE, EHR_WRITEBACK_QUEUE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.operator", description=__doc__.split("\n")[0])
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    commands = parser.add_subparsers(dest="area", required=True)
    poison = commands.add_parser("poison", help="poison queue messages").add_subparsers(dest="action", required=True)
    listing = poison.add_parser("list", help="list poison messages by geography, queue, endpoint, reason and age")
    listing.add_argument("--geo", help="one served geography (default: all)")
    replay = poison.add_parser("replay", help="put one poison message back on its queue, after a fix")
    replay.add_argument("--geo", required=True)
    replay.add_argument("--queue", required=True, choices=GEO_QUEUES)
    replay.add_argument("message_id")
    args = parser.parse_args(argv)

    load_local_settings(args.settings)
    from shared.adapters.storage import Storage
    from shared.services import poison as poison_service
    from shared.settings import load_settings

    try:
        storage = Storage(load_settings(os.environ))
        geos = [args.geo.upper()] if args.geo else list(storage.geos)
        if args.action == "list":
            print(HEADER)
            now = datetime.now(UTC)
            for geo in geos:
                for queue in GEO_QUEUES:
                    for item in poison_service.list_poison(storage.for_geo(geo), queue, now):
                        print(f"{geo:<5} {_row(item)}")
            return 0
        poison_service.replay_poison(storage.for_geo(geos[0]), args.queue, args.message_id)
        print(f"Replayed {args.message_id} onto {args.queue} in {geos[0]}.")
        return 0
    except ConnectorError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1


HEADER = f"{'geo':<5} {'queue':<14} {'message id':<38} {'endpoint':<24} {'age h':>7} {'expires UTC':<17}  reason"


def _row(item: PoisonMessage) -> str:
    expires = f"{item.expires:%Y-%m-%d %H:%M}" if item.expires else "-"
    reason = f"{item.reason} [scrubbed]" if item.scrubbed else item.reason
    hours = item.age.total_seconds() / 3600
    return f"{item.queue:<14} {item.message_id:<38} {item.endpoint:<24} {hours:>7.1f} {expires:<17}  {reason}"


if __name__ == "__main__":
    sys.exit(main())
