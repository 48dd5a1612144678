"""The per-geography `ehr-writeback` queue functions: write visit events and SMS failures back to the EHR."""

from __future__ import annotations

import azure.functions as func

from shared import bootstrap
from shared.geos import KNOWN_GEOS, geo_storage_setting
from shared.lazy import lazy_import
from shared.queue_names import EHR_WRITEBACK_QUEUE
from shared.triggers.queue_work import run_queue_message

ehr_events = lazy_import("shared.domain.ehr_events")
ehr_write_back = lazy_import("shared.services.ehr_write_back")

bp = func.Blueprint()


def _register_writeback_queue_function(geo: str) -> None:
    @bp.function_name(f"write_back_ehr_event_{geo.lower()}")
    @bp.queue_trigger(arg_name="msg", queue_name=EHR_WRITEBACK_QUEUE, connection=geo_storage_setting(geo))
    def write_back_queued_ehr_event(msg: func.QueueMessage) -> None:
        run_queue_message(
            msg,
            queue_name=EHR_WRITEBACK_QUEUE,
            account=bootstrap.get_storage().for_geo(geo),
            work=lambda payload: ehr_write_back.deliver_ehr_event(
                ehr_events.EhrEvent.from_message(payload), bootstrap.get_ehr_write_back()
            ),
        )


for _geo in KNOWN_GEOS:
    _register_writeback_queue_function(_geo)
