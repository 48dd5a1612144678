"""HL7 v2 ingress (`POST /api/hl7/{endpointId}`) and the per-geography `hl7-inbound` queue functions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import SettingsError
from shared.geos import KNOWN_GEOS, geo_storage_setting
from shared.lazy import lazy_import
from shared.queue_names import HL7_INBOUND_QUEUE
from shared.triggers.http import HttpBlueprint
from shared.triggers.queue_work import run_queue_message

ack = lazy_import("shared.domain.ack")
hl7_message = lazy_import("shared.domain.hl7_message")
hl7_ingress = lazy_import("shared.services.hl7_ingress")
scheduling = lazy_import("shared.services.scheduling")

logger = logging.getLogger(__name__)

HL7_MEDIA_TYPE = "application/hl7-v2"

bp = HttpBlueprint()


@bp.route(route="hl7/{endpointId}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def receive_hl7_message(req: func.HttpRequest) -> func.HttpResponse:
    endpoint_id = req.route_params["endpointId"]
    body = req.get_body() or b""
    try:
        reply = hl7_ingress.ingest_hl7(
            endpoint_id=endpoint_id,
            body=body,
            authorization=req.headers.get("Authorization"),
            audience=f"{bootstrap.get_settings().public_base_url}/api/hl7/{endpoint_id}",
            directory=bootstrap.get_directory(),
            keys=bootstrap.get_sender_key_resolver(),
            account_for_geo=bootstrap.get_storage().for_geo,
        )
    except SettingsError as error:
        logger.error("HL7 ingress is misconfigured: %s", error.message)
        refusal = ack.build_ack(
            hl7_message.read_header(body),
            "AE",
            now=datetime.now(UTC),
            reason="The connector is misconfigured; try again later.",
            error_code=hl7_message.Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
        )
        reply = hl7_ingress.IngressReply(503, refusal)
    return func.HttpResponse(reply.ack, status_code=reply.status, mimetype=HL7_MEDIA_TYPE, charset="utf-8")


def _register_hl7_queue_function(geo: str) -> None:
    """One queue function per geography: each drains its own account's queue, so data stays put."""

    @bp.function_name(f"process_hl7_message_{geo.lower()}")
    @bp.queue_trigger(arg_name="msg", queue_name=HL7_INBOUND_QUEUE, connection=geo_storage_setting(geo))
    def process_queued_hl7_message(msg: func.QueueMessage) -> None:
        account = bootstrap.get_storage().for_geo(geo)
        run_queue_message(
            msg,
            queue_name=HL7_INBOUND_QUEUE,
            account=account,
            work=lambda payload: scheduling.process_hl7_message(
                payload,
                geo=geo,
                account=account,
                directory=bootstrap.get_directory(),
                join_tokens=bootstrap.get_join_tokens(),
                policy=bootstrap.get_notice_policy(),
                now=datetime.now(UTC),
            ),
        )


for _geo in KNOWN_GEOS:
    _register_hl7_queue_function(_geo)
